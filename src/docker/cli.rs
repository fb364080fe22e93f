//! The engine through the Docker CLI, or a compatible one such as Podman's, named by
//! `DOCKER_BIN`: for remote hosts, contexts and Podman, and for the runs whose containers need
//! the app's docker options. One place traces each call, keeps the CLI out of the terminal's
//! signals, and turns its failures into one line.

use std::ffi::{OsStr, OsString};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::{
    clearing_dockerfile, commit_changes, commit_named, BeginClear, CommitConfig, ContainerEngine,
    ContainerSpec, Docker, FinishClear, Image, InspectedImage, Mount, RunningContainer,
};
use crate::bounded_read::{self, Found};
use crate::child;
use crate::container::{self, BeforeStart, Ending, TIMEOUT_GRACE};
use crate::interrupt;
use crate::output::{write_line, Stream};

/// The Docker CLI (or a compatible one, such as Podman's) the host names in `DOCKER_BIN`.
#[derive(Debug, Clone)]
pub struct Cli {
    bin: PathBuf,
    trace: bool,
    podman: bool,
    /// How long one query may take.
    limit: Duration,
}

impl Cli {
    /// The CLI at `bin`; with `trace`, every call is written to stderr first.
    pub fn new(bin: PathBuf, trace: bool, limit: Duration) -> Cli {
        // Podman's docker-compatible commands differ in details the calls adapt to.
        let (bin, podman) = match podman_behind(&bin) {
            Some(podman) => (podman, true),
            None => (bin, false),
        };
        Cli {
            bin,
            trace,
            podman,
            limit,
        }
    }

    /// The CLI's path: as the host named it, or the Podman a shim starts ([`podman_behind`]).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Whether the CLI is Podman's.
    pub fn is_podman(&self) -> bool {
        self.podman
    }

    /// A command for the CLI. It runs in a process group of its own, so that a Ctrl-C or a
    /// hangup reaches only the trigger, which then stops the task itself and never has a
    /// `docker commit` cut in half.
    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args
            .into_iter()
            .map(|arg| arg.as_ref().to_os_string())
            .collect();
        let args = if self.podman { podman_args(args) } else { args };
        let mut command = Command::new(&self.bin);
        command.args(args).process_group(0);
        if self.trace {
            let words: Vec<String> = command
                .get_args()
                .map(|arg| arg.to_string_lossy().into_owned())
                .collect();
            write_line(
                Stream::Stderr,
                &format!("+ {} {}\n", self.bin.display(), masked(&words).join(" ")),
            );
        }
        command
    }

    /// Runs a call that must finish (a commit, a tag, a removal) and returns its stdout without
    /// the trailing newline; a failure is one line with the call and what Docker said. A stop
    /// signal ends it only once its grace is over ([`child::finish`]).
    fn run_call<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command(args);
        let output = self.wait_for(&mut command, child::finish)?;
        stdout_of(&command, output)
    }

    /// Like [`Cli::run_call`] for a call that only asks or prepares (inspect, create, cp): a
    /// stop signal outside a critical section kills the CLI, and so does the engine's time
    /// limit, so that an engine that never answers cannot hold a trigger hostage.
    fn query<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command(args);
        let output = self.interruptible_output(&mut command)?;
        stdout_of(&command, output)
    }

    /// Starts a call whose standard output is read as it comes, for an answer too large to
    /// hold (`docker cp CONTAINER:PATH -`, an archive): the caller reads what it needs, then
    /// [`CliStream::finish`]es the call or drops it, which kills the CLI.
    fn stream<I, S>(&self, args: I) -> Result<CliStream>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command(args);
        let call = describe(&command);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| self.spawn_error(error))?;
        let stdout = child
            .stdout
            .take()
            .context("the CLI's output was not piped")?;
        let stderr = child.stderr.take().map(|mut pipe| {
            // Kept to the first 64 KiB, all of it read so that the CLI never blocks on it.
            thread::spawn(move || {
                let mut kept = Vec::new();
                let mut chunk = [0u8; 8192];
                while let Ok(read @ 1..) = pipe.read(&mut chunk) {
                    let room = (64 * 1024usize).saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..read.min(room)]);
                }
                kept
            })
        });
        Ok(CliStream {
            child,
            stdout,
            stderr,
            call,
            started: Instant::now(),
            limit: self.limit,
        })
    }

    fn interruptible_output(&self, command: &mut Command) -> Result<Output> {
        self.wait_for(command, child::output)
    }

    fn wait_for(
        &self,
        command: &mut Command,
        wait: fn(&mut Command, Option<Duration>) -> Result<Output, child::Failure>,
    ) -> Result<Output> {
        match wait(command, Some(self.limit)) {
            Ok(output) => Ok(output),
            Err(child::Failure::Spawn(error)) => Err(self.spawn_error(error)),
            Err(child::Failure::Interrupted(signal)) => bail!(
                "stopped by {} while waiting for `{}`",
                interrupt::signal_name(signal),
                describe(command)
            ),
            Err(child::Failure::Wait(error)) => {
                Err(error).with_context(|| format!("waiting for `{}`", describe(command)))
            }
            Err(child::Failure::TimedOut(limit)) => bail!(
                "`{}` did not answer within {}s: check that the Docker engine runs (docker info), or raise engine-timeout",
                describe(command),
                limit.as_secs()
            ),
        }
    }

    /// Writes the image's ENTRYPOINT (none: null), a null CMD and its ONBUILD triggers into the
    /// committed image `id`, as a new image named `into` ([`super::clearing_dockerfile`]); its
    /// ID. The classic builder, so that
    /// a CLI without the buildx plugin still builds; the context is the Dockerfile alone.
    pub(super) fn clear_cmd(&self, id: &str, config: &CommitConfig, into: &str) -> Result<String> {
        let context = tempfile::tempdir().context("making the build's context")?;
        std::fs::write(
            context.path().join("Dockerfile"),
            clearing_dockerfile(id, config.entrypoint.as_deref(), &config.on_build),
        )
        .context("writing the build's context")?;
        let mut command = self.command([
            OsStr::new("build"),
            OsStr::new("--quiet"),
            OsStr::new("--force-rm"),
            OsStr::new("--tag"),
            OsStr::new(into),
            context.path().as_os_str(),
        ]);
        command.env("DOCKER_BUILDKIT", "0");
        let output = self.wait_for(&mut command, child::finish)?;
        stdout_of(&command, output)
    }

    /// Whether the container `name` has ever started: its start time is not the zero time
    /// Docker and Podman both write as `0001-01-01...`, and it exists. When the engine cannot
    /// say (it is gone, or a stop signal cut the inspection), the task's own ending stands.
    fn started(&self, name: &str) -> bool {
        match self.query([
            "container",
            "inspect",
            "--format",
            "{{.State.StartedAt}}",
            name,
        ]) {
            Ok(started) => {
                let started = started.trim();
                !started.is_empty() && !started.starts_with("0001-01-01")
            }
            Err(error) => !is_missing(&error),
        }
    }

    /// `docker create` or `docker run` of `spec`, as the CLI spells it.
    fn container_args(&self, verb: &str, spec: &ContainerSpec) -> Vec<String> {
        let mut args: Vec<String> = vec![
            verb.into(),
            "--interactive".into(),
            "--name".into(),
            spec.name.clone(),
        ];
        for (key, value) in &spec.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        for mount in &spec.mounts {
            let option = match mount {
                Mount::HostFile { source, target } => format!(
                    "type=bind,{},{},readonly",
                    csv_field(&format!("source={}", source.display())),
                    csv_field(&format!("target={target}"))
                ),
                Mount::Volume { name, target } => format!(
                    "type=volume,{},{}",
                    csv_field(&format!("source={name}")),
                    csv_field(&format!("target={target}"))
                ),
            };
            args.extend(["--mount".into(), option]);
        }
        args.extend(spec.cli_options.iter().cloned());
        // The CLI sets an ENTRYPOINT of one word; the others go first in the CMD, which runs
        // the same.
        let mut cmd = spec.cmd.clone();
        if let Some((first, rest)) = spec.entrypoint.as_deref().and_then(<[String]>::split_first) {
            args.extend(["--entrypoint".into(), first.clone()]);
            cmd.splice(0..0, rest.iter().cloned());
        }
        args.push(spec.image.clone());
        args.extend(cmd);
        args
    }

    fn spawn_error(&self, error: std::io::Error) -> anyhow::Error {
        if error.kind() == ErrorKind::NotFound {
            anyhow!(
                "no Docker CLI at `{}`: install Docker, or point DOCKER_BIN at its CLI",
                self.bin.display()
            )
        } else {
            anyhow!("cannot run `{}`: {error}", self.bin.display())
        }
    }

    /// A call that may name something that is not there: `Ok(false)` when Docker says so.
    fn run_unless_missing(&self, args: &[&str]) -> Result<bool> {
        match self.run_call(args) {
            Ok(_) => Ok(true),
            Err(error) if is_missing(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

impl ContainerEngine for Cli {
    fn image(&self, reference: &str) -> Result<Option<Image>> {
        let mut command = self.command(["image", "inspect", reference]);
        let output = self.interruptible_output(&mut command)?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("No such image") || stderr.contains("image not known") {
                return Ok(None);
            }
            return Err(call_error(&describe(&command), &stderr));
        }
        let mut inspected: Vec<InspectedImage> = serde_json::from_slice(&output.stdout)
            .with_context(|| format!("reading `docker image inspect {reference}`"))?;
        let inspected = inspected
            .pop()
            .ok_or_else(|| anyhow!("`docker image inspect {reference}` listed no image"))?;
        Image::try_from(inspected)
            .map(Some)
            .with_context(|| format!("reading `docker image inspect {reference}`"))
    }

    fn image_names(&self, repository: &str, tag_prefix: &str) -> Result<Vec<String>> {
        let listed = self.query(["images", "--format", "{{.Repository}}:{{.Tag}}", repository])?;
        let prefix = format!("{repository}:{tag_prefix}");
        Ok(listed
            .lines()
            // Podman lists names with their registry (`localhost/dokku/shop`).
            .map(|name| name.strip_prefix("localhost/").unwrap_or(name))
            .filter(|name| name.starts_with(&prefix))
            .map(str::to_string)
            .collect())
    }

    fn create(&self, spec: &ContainerSpec) -> Result<String> {
        Ok(self
            .query(self.container_args("create", spec))?
            .trim()
            .to_string())
    }

    fn run(&self, spec: &ContainerSpec, before_start: Option<BeforeStart>) -> Result<Ending> {
        let name = &spec.name;
        let args = match before_start {
            None => self.container_args("run", spec),
            Some(before_start) => {
                let id = self.create(spec)?;
                before_start(&id)?;
                ["start", "--attach", "--interactive", name.as_str()]
                    .map(String::from)
                    .to_vec()
            }
        };
        let mut child = self
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| self.spawn_error(error))
            .with_context(|| format!("starting the task container {name}"))?;
        let writer = child.stdin.take().map(|mut pipe| {
            let stdin = spec.stdin.clone();
            thread::spawn(move || {
                // A container that exits before reading its input closes the pipe; the exit
                // status says what happened, not this write.
                let _ = pipe.write_all(&stdin);
            })
        });
        let [stdout, stderr] = container::stream_output(&mut child);
        let (exited, exit) = mpsc::channel();
        let pid = child.id() as libc::pid_t;
        // A handle on the process itself, taken while it is still ours (unreaped): a signal
        // through it never reaches another process that got the PID once it is reaped.
        let handle = ProcessHandle::open(pid);
        let verb = args[0].clone();
        // Set once the wait returned, reaped or failed (ECHILD: someone else reaped it): the
        // PID may then be another process's.
        let waited = Arc::new(AtomicBool::new(false));
        let waiter_done = Arc::clone(&waited);
        thread::spawn(move || {
            let status = child
                .wait()
                .map(|status| status.code().unwrap_or(128))
                .with_context(|| format!("waiting for docker {verb}"));
            waiter_done.store(true, Ordering::SeqCst);
            let _ = exited.send(status);
        });
        let abandon = || {
            if waited.load(Ordering::SeqCst) {
                return;
            }
            match &handle {
                Some(handle) => handle.kill(),
                // SAFETY: kill(2) has no memory-safety preconditions. Without a pidfd (a kernel
                // before 5.3), the waiter may have reaped the child an instant before it set
                // `waited`, and the PID, if the kernel gave it out again meanwhile, be
                // another's: the window is that of two instructions.
                None => unsafe {
                    libc::kill(pid, libc::SIGKILL);
                },
            }
        };
        let ending = container::supervise(self, name, exit, spec.timeout, &abandon);
        for thread in [writer, stdout, stderr].into_iter().flatten() {
            let _ = thread.join();
        }
        match ending? {
            // The CLI's own failures (125 and others) end it as a task's failure would: only a
            // container that started ran the task.
            Ending::Exited(code) if code != 0 && !self.started(name) => bail!(
                "the engine did not start the task container {name} (`docker {}` exited with {code} before the task began; its message is above): check the app's docker options, or the engine (docker info)",
                args[0]
            ),
            ending => Ok(ending),
        }
    }

    /// Read as it streams from `docker cp CONTAINER:PATH -`; the CLI is stopped once the first
    /// entry is read.
    fn read_entry(&self, container: &str, path: &str, limit: usize) -> Result<Option<Found>> {
        let source = format!("{container}:{path}");
        // Without `--follow-link`, which Podman's `cp` does not take: a link comes back as a
        // link, and the caller follows it, as on the Engine API path.
        let mut archive = self.stream(["cp", &source, "-"])?;
        let first = bounded_read::first_entry(&mut archive, limit)
            .with_context(|| format!("reading {path} from {container}"));
        match first {
            Ok(Some(found)) => return Ok(Some(found)),
            Ok(None) => {}
            // A CLI that failed wrote no archive: what it said tells more than the archive.
            Err(error) => return archive.finish().and(Err(error)).or_else(absent),
        }
        archive.finish().map(|()| None).or_else(absent)
    }

    fn commit(
        &self,
        container: &str,
        config: &CommitConfig,
        name_next: &mut dyn FnMut() -> Result<String>,
    ) -> Result<String> {
        // `changes` write a null CMD as `[]`; `podman commit` clears it as asked.
        let needs_clearing = !self.podman && (config.cmd.is_none() || config.clears_both());
        let commit = |into: String| {
            let mut args: Vec<String> = vec!["commit".into()];
            if self.podman {
                // Docker's image format, as `docker commit` writes: Podman's default (OCI) has
                // no place for a HEALTHCHECK, which would be lost.
                args.extend(["--format".into(), "docker".into()]);
            }
            // Podman takes one KEY=VALUE per LABEL: the others would become the first one's.
            for change in commit_changes(config, self.podman) {
                args.extend(["--change".into(), change]);
            }
            // The container's config has no ONBUILD: Docker's commit writes the image's back,
            // unless a build `FROM` it follows, which would run them (it writes them itself).
            if !self.podman && !needs_clearing {
                for trigger in &config.on_build {
                    args.extend(["--change".into(), format!("ONBUILD {trigger}")]);
                }
            }
            args.extend([container.to_string(), into]);
            let id = self.run_call(&args)?;
            if id.is_empty() {
                bail!("`docker commit {container}` printed no image ID");
            }
            Ok(id)
        };
        // The build starts once the commit has ended, from the commit's ID.
        let begin = |_: &str, into: &str| {
            let into = into.to_string();
            Ok(Box::new(move |id: &str| self.clear_cmd(id, config, &into)) as FinishClear)
        };
        let clear: Option<BeginClear> = needs_clearing.then_some(&begin);
        commit_named(container, name_next, commit, clear)
    }

    fn tag(&self, id: &str, reference: &str) -> Result<()> {
        self.run_call(["tag", id, reference]).map(drop)
    }

    fn remove_container(&self, name: &str) -> Result<bool> {
        self.run_unless_missing(&["rm", "--force", "--volumes", name])
    }

    fn remove_image(&self, reference: &str) -> Result<bool> {
        self.run_unless_missing(&["rmi", reference])
    }

    fn stop_container(&self, name: &str, grace: Duration) -> Result<()> {
        // Whole seconds, rounded up: a grace under one second is not an immediate SIGKILL.
        let seconds = grace.as_secs_f64().ceil().to_string();
        self.run_unless_missing(&["stop", "--time", &seconds, name])
            .map(drop)
    }

    fn running_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<RunningContainer>> {
        let mut args = vec!["ps".to_string(), "--no-trunc".into(), "--quiet".into()];
        for (key, value) in labels {
            args.extend(["--filter".into(), format!("label={key}={value}")]);
        }
        let ids = self.query(&args)?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One at a time: a container that ends meanwhile is not an error, as it is not listed.
        let mut running = Vec::new();
        for id in ids {
            match self.query([
                "container",
                "inspect",
                "--format",
                "{{.Image}} {{.Name}}",
                id,
            ]) {
                Ok(line) => {
                    if let Some((image, name)) = line.trim().split_once(' ') {
                        running.push(RunningContainer {
                            name: name.trim_start_matches('/').to_string(),
                            image_id: image.to_string(),
                        });
                    }
                }
                Err(error) if is_missing(&error) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(running)
    }

    /// The engine cannot kill an exec'd process: the time limit is enforced inside the
    /// container by its `timeout` command when it has one (SIGTERM at the limit, then SIGKILL
    /// after the grace period). Where it has none, the trigger stops waiting at the limit and
    /// the command may go on running in the container; so does a command the trigger stops
    /// waiting for on a signal.
    fn exec(&self, container: &str, command: &str, timeout: Option<Duration>) -> Result<Ending> {
        let seconds = timeout.map_or(0, |limit| limit.as_secs().max(1));
        let grace = TIMEOUT_GRACE.as_secs();
        // Arguments, never spliced into the script: `$1` the limit (0 for none), `$2` the command.
        let bounded = format!(
            "if [ \"$1\" != 0 ] && command -v timeout >/dev/null 2>&1; then \
             exec timeout -s TERM -k {grace} \"$1\" /bin/sh -c \"$2\"; fi; exec /bin/sh -c \"$2\""
        );
        let seconds = seconds.to_string();
        let mut child = self
            .command([
                "exec",
                container,
                "/bin/sh",
                "-c",
                &bounded,
                "deploy-tasks",
                &seconds,
                command,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| self.spawn_error(error))
            .with_context(|| format!("running docker exec in {container}"))?;
        let [stdout, stderr] = container::stream_output(&mut child);
        let started = Instant::now();
        let mut stopping: Option<Ending> = None;
        let mut give_up_at: Option<Instant> = None;
        let code = loop {
            if let Some(status) = child.try_wait().context("waiting for docker exec")? {
                break status.code().unwrap_or(128);
            }
            thread::sleep(container::POLL);
            match (stopping, container::stop_asked()) {
                (None | Some(Ending::TimedOut(_)), Some(signal)) => {
                    stopping = Some(Ending::Interrupted(signal));
                    give_up_at = Some(Instant::now());
                }
                (None, None) => {
                    if let Some(limit) = timeout.filter(|limit| started.elapsed() >= *limit) {
                        stopping = Some(Ending::TimedOut(limit));
                        // The container's own `timeout` gets its grace period to end the command.
                        give_up_at = Some(Instant::now() + TIMEOUT_GRACE + Duration::from_secs(1));
                    }
                }
                _ => {}
            }
            if give_up_at.is_some_and(|at| Instant::now() >= at) {
                // Stops waiting: the client goes, the command may stay (see above).
                let _ = child.kill();
                give_up_at = None;
            }
        };
        for thread in [stdout, stderr].into_iter().flatten() {
            let _ = thread.join();
        }
        Ok(stopping.unwrap_or(Ending::Exited(code)))
    }

    fn through_cli(&self) -> Docker {
        Arc::new(self.clone())
    }
}

/// A running CLI call whose output is read as it comes ([`Cli::stream`]). A read waits
/// for output, but ends with an error at a stop signal; dropping it kills the CLI if it runs.
struct CliStream {
    child: Child,
    stdout: ChildStdout,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
    call: String,
    started: Instant,
    /// How long the whole call may take, as any query.
    limit: Duration,
}

impl CliStream {
    /// Waits for the call to end after its output was read, within its limit and until a stop
    /// signal (dropped, the value kills the CLI); a failure is one line with the call and what
    /// the CLI said.
    fn finish(mut self) -> Result<()> {
        let status = loop {
            if let Some(status) = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for `{}`", self.call))?
            {
                break status;
            }
            self.check()?;
            thread::sleep(container::POLL);
        };
        if status.success() {
            return Ok(());
        }
        let stderr = self
            .stderr
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        Err(call_error(&self.call, &String::from_utf8_lossy(&stderr)))
    }
}

impl CliStream {
    /// An error once a stop signal arrived or the call ran past its limit.
    fn check(&self) -> std::io::Result<()> {
        if let Some(signal) = interrupt::pending() {
            return Err(std::io::Error::other(format!(
                "stopped by {} while waiting for `{}`",
                interrupt::signal_name(signal),
                self.call
            )));
        }
        if self.started.elapsed() > self.limit {
            return Err(std::io::Error::other(format!(
                "`{}` did not answer within {}s: check that the Docker engine runs (docker info), or raise engine-timeout",
                self.call,
                self.limit.as_secs()
            )));
        }
        Ok(())
    }
}

impl Read for CliStream {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let mut ready = libc::pollfd {
            fd: self.stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            self.check()?;
            // SAFETY: `ready` is one valid pollfd for the duration of the call, and its fd is
            // the pipe this value owns.
            let polled = unsafe { libc::poll(&mut ready, 1, POLL_MS) };
            if polled > 0 {
                return self.stdout.read(buffer);
            }
            if polled < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() != ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}

impl Drop for CliStream {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// How long a read of a [`CliStream`] waits for output before it looks for a stop signal again.
const POLL_MS: libc::c_int = 100;

/// The one line for a failed call: the call and what the CLI said.
fn call_error(call: &str, stderr: &str) -> anyhow::Error {
    let said = stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if said.contains("Cannot connect to the Docker daemon")
        || said.contains("Is the docker daemon running")
    {
        return anyhow!(
            "the Docker engine does not answer ({said}): start it, or check DOCKER_HOST"
        );
    }
    anyhow!("`{call}` failed: {said}")
}

/// True for the error Docker (or Podman) gives about a container or image that does not exist.
fn is_missing(error: &anyhow::Error) -> bool {
    let text = error.to_string();
    text.contains("No such container")
        || text.contains("no such container")
        || text.contains("No such image")
        || text.contains("image not known")
}

/// Podman, when `bin` is Podman's CLI: the path to run. `podman` itself, by its name or behind a
/// link; or Debian's `podman-docker` shim, a `docker` script that ends in `exec /usr/bin/podman
/// "$@"` (on a Podman host Dokku's own `docker` is that shim), which is run past, as it only
/// starts Podman: it would write "Emulate Docker CLI using podman" on every call, into the
/// tasks' output and the errors. Any other script is taken for Docker's CLI.
fn podman_behind(bin: &Path) -> Option<PathBuf> {
    if bin.file_name()? == "podman" {
        return Some(bin.to_path_buf());
    }
    let file = crate::engine::find_cli(bin)?;
    if std::fs::canonicalize(&file).ok()?.file_name()? == "podman" {
        return Some(bin.to_path_buf());
    }
    // The shim is a few lines; Docker's CLI is a binary of tens of MiB, never read.
    const SCRIPT_MAX: u64 = 4096;
    if std::fs::metadata(&file).ok()?.len() > SCRIPT_MAX {
        return None;
    }
    let script = std::fs::read(&file).ok()?;
    let script = std::str::from_utf8(script.strip_prefix(b"#!")?).ok()?;
    let last = script
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())?;
    let target = Path::new(last.strip_prefix("exec ")?.strip_suffix(" \"$@\"")?.trim());
    (target.is_absolute() && target.file_name()? == "podman" && target.is_file())
        .then(|| target.to_path_buf())
}

/// Podman's spelling of the calls the plugin makes: it adds `container=podman` and `TERM=xterm`
/// to every container's environment, and the host's proxy variables, and `podman commit` writes
/// them into the image's ENV. Unset here, a task sees the environment Docker would give it and a
/// committed image keeps its ENV.
fn podman_args(mut args: Vec<OsString>) -> Vec<OsString> {
    if matches!(
        args.first().and_then(|verb| verb.to_str()),
        Some("run" | "create")
    ) {
        let adapted = [
            "--unsetenv=container",
            "--unsetenv=TERM",
            "--http-proxy=false",
        ];
        args.splice(1..1, adapted.map(OsString::from));
    }
    args
}

/// `stdout` without its trailing newline when the call succeeded, else the one-line error.
fn stdout_of(command: &Command, output: Output) -> Result<String> {
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(call_error(&describe(command), &stderr))
}

/// `Ok(None)` for the CLI's error about a path that does not exist, else the error.
fn absent(error: anyhow::Error) -> Result<Option<Found>> {
    let text = error.to_string();
    // Docker 20.10 says "No such container:path", later ones "Could not find the file",
    // Podman "no such file or directory".
    let absent = [
        "No such container:path",
        "Could not find the file",
        "no such file or directory",
    ];
    if absent.iter().any(|said| text.contains(said)) {
        Ok(None)
    } else {
        Err(error)
    }
}

fn describe(command: &Command) -> String {
    let words: Vec<String> = command
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    // The CLI by its own name (`docker`, `podman`), as the admin would type the call.
    let program = Path::new(command.get_program())
        .file_name()
        .map_or_else(|| "docker".into(), |name| name.to_string_lossy());
    format!("{program} {}", masked(&words).join(" "))
}

/// Hides values that an admin's docker options may hold as `-e KEY=VALUE`.
fn masked(words: &[String]) -> Vec<String> {
    let mut masked = Vec::with_capacity(words.len());
    let mut hide_next = false;
    for word in words {
        if hide_next {
            masked.push(mask_assignment(word));
            hide_next = false;
        } else if word == "-e" || word == "--env" {
            masked.push(word.clone());
            hide_next = true;
        } else if let Some(assignment) = word.strip_prefix("--env=") {
            masked.push(format!("--env={}", mask_assignment(assignment)));
        } else if let Some(assignment) = word.strip_prefix("-e").filter(|rest| !rest.is_empty()) {
            masked.push(format!("-e{}", mask_assignment(assignment)));
        } else {
            masked.push(word.clone());
        }
    }
    masked
}

fn mask_assignment(assignment: &str) -> String {
    match assignment.split_once('=') {
        Some((key, _)) => format!("{key}=***"),
        None => assignment.to_string(),
    }
}

/// One field of a comma-separated value, as Docker's and Podman's CLIs read `--mount` (Go's
/// `encoding/csv`): quoted, its quotes doubled, when it holds a comma, a quote or a line end.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A pidfd (`pidfd_open(2)`): a process, not a PID, to signal.
struct ProcessHandle(std::os::fd::OwnedFd);

impl ProcessHandle {
    /// The handle of `pid`, a child of this process not yet reaped; `None` where the kernel
    /// has no pidfds.
    fn open(pid: libc::pid_t) -> Option<ProcessHandle> {
        // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor or -1; no
        // memory is passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = std::os::fd::RawFd::try_from(fd)
            .ok()
            .filter(|fd| *fd >= 0)?;
        // SAFETY: the descriptor was just returned by the kernel and is owned by nothing else.
        Some(ProcessHandle(unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
        }))
    }

    /// SIGKILL to the process; nothing once it has ended, whoever has its PID now.
    fn kill(&self) {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for the handle's life; a null info pointer is allowed.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_process_handle_kills_its_process_and_after_the_reaping_nothing() {
        use std::os::unix::process::ExitStatusExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let handle = ProcessHandle::open(child.id() as libc::pid_t).expect("a kernel with pidfds");
        handle.kill();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        // Reaped: whatever process gets the PID now, the handle reaches none.
        handle.kill();
    }

    use super::*;

    #[test]
    fn trace_masks_environment_values() {
        let words: Vec<String> = [
            "run",
            "-e",
            "SECRET=hunter2",
            "--env=TOKEN=abc",
            "-eKEY=xyz",
            "-e",
            "PLAIN",
            "image",
        ]
        .iter()
        .map(|word| word.to_string())
        .collect();
        assert_eq!(
            masked(&words),
            [
                "run",
                "-e",
                "SECRET=***",
                "--env=TOKEN=***",
                "-eKEY=***",
                "-e",
                "PLAIN",
                "image"
            ]
        );
    }

    #[test]
    fn podman_gets_its_own_spelling_of_run_and_create() {
        let words = |list: &[&str]| -> Vec<OsString> { list.iter().map(OsString::from).collect() };
        for verb in ["run", "create"] {
            assert_eq!(
                podman_args(words(&[verb, "--interactive", "image"])),
                words(&[
                    verb,
                    "--unsetenv=container",
                    "--unsetenv=TERM",
                    "--http-proxy=false",
                    "--interactive",
                    "image"
                ])
            );
        }
        assert_eq!(
            podman_args(words(&["commit", "--change", "CMD []", "c"])),
            words(&["commit", "--change", "CMD []", "c"])
        );
    }

    #[test]
    fn podman_is_told_by_name_behind_a_link_and_behind_debians_shim() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("podman");
        std::fs::write(&podman, "").unwrap();
        let script = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let shim = script(
            "docker",
            &format!(
                "#!/bin/sh\n[ -e /etc/containers/nodocker ] || \\\necho \"Emulate Docker CLI using podman.\" >&2\nexec {} \"$@\"\n",
                podman.display()
            ),
        );
        let other = script(
            "docker-wrapper",
            "#!/bin/sh\nexec /usr/bin/docker.real \"$@\"\n",
        );
        let linked = dir.path().join("docker-link");
        symlink(&podman, &linked).unwrap();

        assert_eq!(
            podman_behind(Path::new("/usr/bin/podman")).as_deref(),
            Some(Path::new("/usr/bin/podman"))
        );
        assert_eq!(podman_behind(&shim), Some(podman.clone()));
        assert_eq!(podman_behind(&linked), Some(linked.clone()));
        assert_eq!(podman_behind(&other), None);
        assert_eq!(podman_behind(&dir.path().join("missing")), None);
    }

    #[test]
    fn a_mount_source_with_commas_or_quotes_is_one_quoted_field() {
        assert_eq!(csv_field("source=/var/lib/x"), "source=/var/lib/x");
        assert_eq!(csv_field("source=/a,b"), "\"source=/a,b\"");
        assert_eq!(csv_field("source=/q\"c"), "\"source=/q\"\"c\"");
    }

    #[test]
    fn the_cli_gets_a_one_word_entrypoint_and_the_rest_first_in_the_cmd() {
        let cli = Cli::new(PathBuf::from("docker"), false, Duration::from_secs(1));
        let spec = ContainerSpec {
            name: "shop.release.1".into(),
            image: "sha256:1".into(),
            entrypoint: Some(vec!["/helper".into(), "--x".into()]),
            cmd: vec!["--run-exec".into()],
            labels: vec![("com.dokku.app-name".into(), "shop".into())],
            mounts: vec![
                Mount::HostFile {
                    source: PathBuf::from("/h"),
                    target: "/dev/h".into(),
                },
                Mount::Volume {
                    name: "cache-shop".into(),
                    target: "/tmp/cache".into(),
                },
            ],
            stdin: Vec::new(),
            cli_options: vec!["--network".into(), "db".into()],
            timeout: None,
        };
        assert_eq!(
            cli.container_args("create", &spec),
            [
                "create",
                "--interactive",
                "--name",
                "shop.release.1",
                "--label",
                "com.dokku.app-name=shop",
                "--mount",
                "type=bind,source=/h,target=/dev/h,readonly",
                "--mount",
                "type=volume,source=cache-shop,target=/tmp/cache",
                "--network",
                "db",
                "--entrypoint",
                "/helper",
                "sha256:1",
                "--x",
                "--run-exec"
            ]
        );
    }
}
