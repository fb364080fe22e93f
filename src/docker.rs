//! Every call the plugin makes to the Docker CLI goes through here: one place that traces the
//! call, keeps the CLI out of the terminal's signals, and turns its failures into one line.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::thread;

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::child;
use crate::engine::Engine;
use crate::interrupt;
use crate::output::{write_line, Stream};

/// The Docker CLI (or a compatible one, such as Podman's) the host names in `DOCKER_BIN`.
#[derive(Debug, Clone)]
pub struct Docker {
    bin: PathBuf,
    trace: bool,
    engine: Option<Engine>,
    podman: bool,
    /// How long one call to the engine, or one CLI query, may take.
    limit: Duration,
}

/// What the plugin needs to know of an image, from `docker image inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The image ID (`sha256:...`).
    pub id: String,
    /// `Config.Entrypoint`; `None` when the image has none.
    pub entrypoint: Option<Vec<String>>,
    /// `Config.Cmd`; `None` when the image has none.
    pub cmd: Option<Vec<String>>,
    /// `Config.WorkingDir`; empty when unset.
    pub working_dir: String,
    /// `Config.Env`, as `KEY=VALUE` strings.
    pub env: Vec<String>,
    /// `Config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// `Config.Volumes`: paths whose writes are never committed.
    pub volumes: Vec<String>,
}

impl Image {
    /// The value of a variable in the image's own environment.
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|entry| entry.strip_prefix(key)?.strip_prefix('='))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedImage {
    id: String,
    config: Option<InspectedConfig>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectedConfig {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    working_dir: Option<String>,
    env: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    volumes: Option<BTreeMap<String, serde_json::Value>>,
}

impl Docker {
    /// The CLI at `bin`; with `trace`, every call is written to stderr first.
    pub fn new(bin: PathBuf, trace: bool, limit: Duration) -> Docker {
        let engine = Engine::local(&bin, trace, limit);
        let podman = bin.file_name().is_some_and(|name| name == "podman");
        Docker {
            bin,
            trace,
            engine,
            podman,
            limit,
        }
    }

    /// The same CLI, never using the Engine API directly.
    pub fn cli_only(mut self) -> Docker {
        self.engine = None;
        self
    }

    /// The engine's API, when the CLI talks to a local Docker engine.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// The CLI's path as the host named it.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Whether `DOCKER_BIN` names Podman's CLI (`.../podman`), whose docker-compatible commands
    /// differ in details the plugin adapts to.
    pub fn is_podman(&self) -> bool {
        self.podman
    }

    /// A command for the CLI. It runs in a process group of its own, so that a Ctrl-C or a
    /// hangup reaches only the trigger, which then stops the task itself and never has a
    /// `docker commit` cut in half.
    pub fn command<I, S>(&self, args: I) -> Command
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

    /// Runs a call to completion and returns its stdout without the trailing newline; a failure
    /// is one line with the call and what Docker said. Never cut short by a signal: cleanup and
    /// commits go through here.
    pub fn run<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command(args);
        let output = command
            .stdin(Stdio::null())
            .output()
            .map_err(|error| self.spawn_error(error))?;
        self.stdout_of(&command, output)
    }

    /// Like [`Docker::run`] for a call that only asks or prepares (inspect, create, cp): a stop
    /// signal outside a critical section kills the CLI, so that an engine that never answers
    /// cannot hold a Ctrl-C hostage.
    pub fn query<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command(args);
        let output = self.interruptible_output(&mut command)?;
        self.stdout_of(&command, output)
    }

    /// Starts a call whose standard output is read as it comes, for an answer too large to
    /// hold (`docker cp CONTAINER:PATH -`, an archive): the caller reads what it needs, then
    /// [`CliStream::finish`]es the call or drops it, which kills the CLI.
    pub fn stream<I, S>(&self, args: I) -> Result<CliStream>
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
        })
    }

    fn stdout_of(&self, command: &Command, output: Output) -> Result<String> {
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout)
                .trim_end()
                .to_string());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(call_error(&describe(command), &stderr))
    }

    fn interruptible_output(&self, command: &mut Command) -> Result<Output> {
        match child::output(command, Some(self.limit)) {
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

    /// Builds an image named `tag` from a Dockerfile given on stdin, with no context, and
    /// returns its ID. The classic builder: metadata-only instructions then make no container,
    /// and a CLI without the buildx plugin still builds.
    pub fn build_from_stdin(&self, dockerfile: &str, tag: &str) -> Result<String> {
        let mut command = self.command(["build", "--quiet", "--tag", tag, "-"]);
        command
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|error| self.spawn_error(error))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(dockerfile.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        self.stdout_of(&command, output)
    }

    /// The image a reference names, or `None` when there is no such image.
    pub fn image(&self, reference: &str) -> Result<Option<Image>> {
        let inspected = match &self.engine {
            Some(engine) => {
                let response = engine.request("GET", &format!("/images/{reference}/json"), None)?;
                match response.status {
                    200 => serde_json::from_slice::<InspectedImage>(&response.body).with_context(
                        || format!("reading the engine's inspection of {reference}"),
                    )?,
                    404 => return Ok(None),
                    _ => bail!("inspecting {reference}: {}", response.message()),
                }
            }
            None => {
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
                inspected
                    .pop()
                    .ok_or_else(|| anyhow!("`docker image inspect {reference}` listed no image"))?
            }
        };
        let config = inspected.config.unwrap_or_default();
        Ok(Some(Image {
            id: inspected.id,
            entrypoint: config.entrypoint.filter(|words| !words.is_empty()),
            cmd: config.cmd,
            working_dir: config.working_dir.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            volumes: config.volumes.unwrap_or_default().into_keys().collect(),
        }))
    }

    /// Removes a container and its anonymous volumes, stopping it first if it runs. Returns
    /// whether it existed: a container that is already gone is not an error.
    pub fn remove_container(&self, name: &str) -> Result<bool> {
        if let Some(engine) = &self.engine {
            let response =
                engine.request("DELETE", &format!("/containers/{name}?force=1&v=1"), None)?;
            return match response.status {
                204 => Ok(true),
                404 => Ok(false),
                _ => bail!("removing {name}: {}", response.message()),
            };
        }
        match self.run(["rm", "--force", "--volumes", name]) {
            Ok(_) => Ok(true),
            Err(error) if is_missing(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Removes the name `reference` (`REPOSITORY:TAG`, never an ID), and the image with it when
    /// nothing else holds the image: no other name, no child image (Docker's
    /// `daemon/images/image_delete.go`, `ImageDelete`: a name's image is then deleted quietly, or
    /// kept). Returns whether the name existed.
    pub fn remove_image(&self, reference: &str) -> Result<bool> {
        if let Some(engine) = &self.engine {
            let response = engine.request("DELETE", &format!("/images/{reference}"), None)?;
            return match response.status {
                200 => Ok(true),
                404 => Ok(false),
                _ => bail!("removing the image {reference}: {}", response.message()),
            };
        }
        match self.run(["rmi", reference]) {
            Ok(_) => Ok(true),
            Err(error) if is_missing(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Stops a running container: SIGTERM to its first process, SIGKILL after `grace`. A
    /// container that is gone or already stopped is not an error.
    pub fn stop_container(&self, name: &str, grace: Duration) -> Result<()> {
        let seconds = grace.as_secs().to_string();
        if let Some(engine) = &self.engine {
            let response = engine.request(
                "POST",
                &format!("/containers/{name}/stop?t={seconds}"),
                None,
            )?;
            return match response.status {
                204 | 304 | 404 => Ok(()),
                _ => bail!("stopping {name}: {}", response.message()),
            };
        }
        match self.run(["stop", "--time", &seconds, name]) {
            Ok(_) => Ok(()),
            Err(error) if is_missing(&error) => Ok(()),
            Err(error) => Err(error),
        }
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
}

/// A running CLI call whose output is read as it comes ([`Docker::stream`]). A read waits
/// for output, but ends with an error at a stop signal; dropping it kills the CLI if it runs.
pub struct CliStream {
    child: Child,
    stdout: ChildStdout,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
    call: String,
}

impl CliStream {
    /// Waits for the call to end after its output was read; a failure is one line with the
    /// call and what the CLI said.
    pub fn finish(mut self) -> Result<()> {
        let status = self
            .child
            .wait()
            .with_context(|| format!("waiting for `{}`", self.call))?;
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

impl Read for CliStream {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let mut ready = libc::pollfd {
            fd: self.stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            if let Some(signal) = interrupt::pending() {
                return Err(std::io::Error::other(format!(
                    "stopped by {} while waiting for `{}`",
                    interrupt::signal_name(signal),
                    self.call
                )));
            }
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
pub fn is_missing(error: &anyhow::Error) -> bool {
    let text = error.to_string();
    text.contains("No such container")
        || text.contains("no such container")
        || text.contains("No such image")
        || text.contains("image not known")
}

/// Podman's spelling of the calls the plugin makes:
/// - `cp --follow-link`: Podman's `cp` has no such flag, and always follows links.
/// - `run`: Podman adds `container=podman` and `TERM=xterm` to every container's environment,
///   and the host's proxy variables, and `podman commit` writes them into the image's ENV. Unset
///   here, a task sees the environment Docker would give it and a committed image keeps its ENV.
fn podman_args(mut args: Vec<OsString>) -> Vec<OsString> {
    match args.first().and_then(|verb| verb.to_str()) {
        Some("cp") if args.get(1).is_some_and(|flag| flag == "--follow-link") => {
            args.remove(1);
            args
        }
        Some("run") => {
            let adapted = [
                "--unsetenv=container",
                "--unsetenv=TERM",
                "--http-proxy=false",
            ];
            args.splice(1..1, adapted.map(OsString::from));
            args
        }
        _ => args,
    }
}

fn describe(command: &Command) -> String {
    let words: Vec<String> = command
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    format!("docker {}", masked(&words).join(" "))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_masks_environment_values() {
        let words: Vec<String> = [
            "run",
            "-e",
            "SECRET=hunter2",
            "--env=TOKEN=abc",
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
                "-e",
                "PLAIN",
                "image"
            ]
        );
    }

    #[test]
    fn podman_gets_its_own_spelling_of_cp_and_run() {
        let words = |list: &[&str]| -> Vec<OsString> { list.iter().map(OsString::from).collect() };
        assert_eq!(
            podman_args(words(&["cp", "--follow-link", "c:/app/app.json", "/tmp/x"])),
            words(&["cp", "c:/app/app.json", "/tmp/x"])
        );
        assert_eq!(
            podman_args(words(&["run", "--interactive", "image"])),
            words(&[
                "run",
                "--unsetenv=container",
                "--unsetenv=TERM",
                "--http-proxy=false",
                "--interactive",
                "image"
            ])
        );
        assert_eq!(
            podman_args(words(&["commit", "--change", "CMD []", "c"])),
            words(&["commit", "--change", "CMD []", "c"])
        );
    }

    #[test]
    fn env_value_reads_the_image_environment() {
        let image = Image {
            id: "sha256:1".into(),
            entrypoint: None,
            cmd: None,
            working_dir: String::new(),
            env: vec!["PATH=/bin".into(), "USER=herokuishuser".into()],
            labels: BTreeMap::new(),
            volumes: Vec::new(),
        };
        assert_eq!(image.env_value("USER"), Some("herokuishuser"));
        assert_eq!(image.env_value("USE"), None);
    }
}
