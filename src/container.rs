//! Running one task container: `docker run` with the app's config on stdin, its output streamed
//! live, waited on with a time limit, stopped on a signal or a dropped connection, and removed on
//! every path.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::process::Stdio;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use crate::docker::Docker;
use crate::engine::{demultiplex, Engine};
use crate::interrupt;
use crate::output::{self, Stream, INDENT};
use crate::plan::Plan;

/// Lines longer than this are passed on in pieces, so memory stays bounded whatever a task prints.
const MAX_LINE: usize = 64 * 1024;
/// How long a task gets to exit after SIGTERM on a timeout, before SIGKILL.
const TIMEOUT_GRACE: Duration = Duration::from_secs(10);
/// How long a task gets to exit after SIGTERM when the trigger was interrupted.
const INTERRUPT_GRACE: Duration = Duration::from_secs(3);
/// How often the wait looks at the clock, signals and the output streams.
const POLL: Duration = Duration::from_millis(20);

/// A run ID unique on this host: the time in milliseconds and the trigger's process ID.
pub fn run_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    format!("{millis}-{}", std::process::id())
}

/// A container this run created; dropping the guard removes it with its anonymous volumes.
pub struct ContainerGuard {
    docker: Docker,
    name: String,
    armed: bool,
}

impl ContainerGuard {
    /// Guards the container `name`.
    pub fn new(docker: Docker, name: String) -> ContainerGuard {
        ContainerGuard {
            docker,
            name,
            armed: true,
        }
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Forgets the container: Docker already removed it (`--rm`).
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Err(error) = self.docker.remove_container(&self.name) {
                output::write_line(
                    Stream::Stderr,
                    &format!(
                        " !     could not remove task container {}: {error:#}\n",
                        self.name
                    ),
                );
            }
        }
    }
}

/// How a task container's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The task exited with this status (`docker run`'s own: 125 to 127 are Docker's failures).
    Exited(i32),
    /// The task ran past its time limit and was stopped.
    TimedOut(Duration),
    /// The trigger received this signal and stopped the task. A dropped connection is SIGHUP.
    Interrupted(i32),
}

/// What runs on a created task container's ID before it starts.
pub type BeforeStart<'a> = &'a dyn Fn(&str) -> Result<()>;

/// Runs the planned task container, writing its config to the helper's stdin and streaming its
/// output, until it exits, times out or a stop signal arrives. The caller's guard removes the
/// container afterwards (disarmed here when `docker run --rm` already did). The Engine API is
/// used when the plan allows it, else `docker run`.
///
/// `before_start`, when given, is called with the container's ID once it exists and before it
/// starts (Dokku's `post-container-create`, which attaches networks); on the CLI path the
/// container is then made by `docker create` and run by `docker start --attach --interactive`.
pub fn run(
    docker: &Docker,
    plan: &Plan,
    guard: &mut ContainerGuard,
    timeout: Option<Duration>,
    before_start: Option<BeforeStart>,
) -> Result<Ending> {
    match (docker.engine(), &plan.create) {
        (Some(engine), Some(create)) => {
            run_through_engine(docker, engine, plan, create, timeout, before_start)
        }
        _ => {
            let ending = run_through_cli(docker, plan, timeout, before_start)?;
            if plan.removed_on_exit && ending == Ending::Exited(0) {
                guard.disarm();
            }
            Ok(ending)
        }
    }
}

fn run_through_cli(
    docker: &Docker,
    plan: &Plan,
    timeout: Option<Duration>,
    before_start: Option<BeforeStart>,
) -> Result<Ending> {
    let name = &plan.name;
    let args = match before_start {
        None => plan.args.clone(),
        Some(before_start) => {
            let mut create = plan.args.clone();
            // `run` first, as the plan writes it: the same container, made without starting.
            create[0] = "create".into();
            let id = docker.query(&create)?;
            before_start(id.trim())?;
            ["start", "--attach", "--interactive", name.as_str()]
                .map(String::from)
                .to_vec()
        }
    };
    let mut child = docker
        .command(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "starting the task container {name} with {}",
                docker.bin().display()
            )
        })?;
    let writers = child.stdin.take().map(|mut pipe| {
        let stdin = plan.stdin.clone();
        thread::spawn(move || {
            // A container that exits before reading its config closes the pipe; the exit status
            // says what happened, not this write.
            let _ = pipe.write_all(&stdin);
        })
    });
    let [stdout, stderr] = stream_output(&mut child);
    let (exited, exit) = mpsc::channel();
    thread::spawn(move || {
        let status = child
            .wait()
            .map(|status| status.code().unwrap_or(128))
            .context("waiting for docker run");
        let _ = exited.send(status);
    });
    let ending = supervise(docker, name, exit, timeout);
    for thread in [writers, stdout, stderr].into_iter().flatten() {
        let _ = thread.join();
    }
    ending
}

fn run_through_engine(
    docker: &Docker,
    engine: &Engine,
    plan: &Plan,
    create: &serde_json::Value,
    timeout: Option<Duration>,
    before_start: Option<BeforeStart>,
) -> Result<Ending> {
    let name = &plan.name;
    let created = engine.request(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(create),
    )?;
    if created.status != 201 {
        bail!("creating the task container {name}: {}", created.message());
    }
    if let Some(before_start) = before_start {
        let id = serde_json::from_slice::<serde_json::Value>(&created.body)
            .ok()
            .and_then(|body| body["Id"].as_str().map(str::to_string))
            .unwrap_or_else(|| name.clone());
        before_start(&id)?;
    }
    let (attached, mut input) = engine.upgrade(&format!(
        "/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1"
    ))?;
    let started = engine.request("POST", &format!("/containers/{name}/start"), None)?;
    if started.status != 204 && started.status != 304 {
        bail!("starting the task container {name}: {}", started.message());
    }
    let stdin = plan.stdin.clone();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
        // End of input: the helper reads its config to the end.
        let _ = input.shutdown(Shutdown::Write);
    });
    let reader = thread::spawn(move || {
        let mut stdout = LineSplitter::new(Stream::Stdout);
        let mut stderr = LineSplitter::new(Stream::Stderr);
        let _ = demultiplex(attached, |stream, bytes| match stream {
            Stream::Stdout => stdout.push(bytes),
            Stream::Stderr => stderr.push(bytes),
        });
        stdout.finish();
        stderr.finish();
    });
    // Asked after the start, "not-running" answers at once for a task that already ended.
    let (exited, exit) = mpsc::channel();
    let waiter = engine.clone();
    let wait_path = format!("/containers/{name}/wait?condition=not-running");
    thread::spawn(move || {
        let _ = exited.send(status_code(
            waiter.request_unbounded("POST", &wait_path, None),
        ));
    });
    let ending = supervise(docker, name, exit, timeout);
    let _ = writer.join();
    let _ = reader.join();
    ending
}

/// The running containers of `app` with `process_type` that run exactly `image_id`, by name:
/// during a post-deploy, containers of the previous image may still be running.
pub fn running_containers(
    docker: &Docker,
    app: &str,
    process_type: &str,
    image_id: &str,
) -> Result<Vec<String>> {
    let ids = docker.query([
        "ps",
        "--no-trunc",
        "--quiet",
        "--filter",
        &format!("label=com.dokku.app-name={app}"),
        "--filter",
        &format!("label=com.dokku.process-type={process_type}"),
    ])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["container", "inspect", "--format", "{{.Image}} {{.Name}}"];
    args.extend(&ids);
    let mut names: Vec<String> = docker
        .query(args)?
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(image, _)| *image == image_id)
        .map(|(_, name)| name.trim_start_matches('/').to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// Runs `command` with `docker exec` in the running `container`, streaming its output, until it
/// exits, times out or a stop signal arrives.
///
/// The engine cannot kill an exec'd process: the time limit is enforced inside the container
/// by its `timeout` command when it has one (SIGTERM at the limit, then SIGKILL after the grace
/// period). Where it has none, the trigger stops waiting at the limit and the command may go on
/// running in the container; so does a command the trigger stops waiting for on a signal.
pub fn exec(
    docker: &Docker,
    container: &str,
    command: &str,
    timeout: Option<Duration>,
) -> Result<Ending> {
    let seconds = timeout.map_or(0, |limit| limit.as_secs().max(1));
    let grace = TIMEOUT_GRACE.as_secs();
    // Arguments, never spliced into the script: `$1` the limit (0 for none), `$2` the command.
    let bounded = format!(
        "if [ \"$1\" != 0 ] && command -v timeout >/dev/null 2>&1; then \
         exec timeout -s TERM -k {grace} \"$1\" /bin/sh -c \"$2\"; fi; exec /bin/sh -c \"$2\""
    );
    let seconds = seconds.to_string();
    let mut child = docker
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
        .with_context(|| format!("running docker exec in {container}"))?;
    let [stdout, stderr] = stream_output(&mut child);
    let started = Instant::now();
    let mut stopping: Option<Ending> = None;
    let mut give_up_at: Option<Instant> = None;
    let code = loop {
        if let Some(status) = child.try_wait().context("waiting for docker exec")? {
            break status.code().unwrap_or(128);
        }
        thread::sleep(POLL);
        let signal = interrupt::received().or_else(|| output::peer_gone().then_some(libc::SIGHUP));
        match (stopping, signal) {
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

fn status_code(response: Result<crate::engine::Response>) -> Result<i32> {
    let response = response?;
    if response.status != 200 {
        bail!("waiting for the task container: {}", response.message());
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&response.body).context("reading the engine's wait answer")?;
    answer["StatusCode"]
        .as_i64()
        .map(|code| code as i32)
        .ok_or_else(|| anyhow::anyhow!("the engine's wait answer has no status code"))
}

/// Waits for the task's exit status while watching for stop signals, a reader that went away,
/// and the time limit; stops the container on any of them.
fn supervise(
    docker: &Docker,
    name: &str,
    exit: mpsc::Receiver<Result<i32>>,
    timeout: Option<Duration>,
) -> Result<Ending> {
    let started = Instant::now();
    let mut stopping: Option<Ending> = None;
    let code = loop {
        match exit.recv_timeout(POLL) {
            Ok(code) => break code?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("lost track of the task container {name}"),
        }
        if stopping.is_none() {
            let signal =
                interrupt::received().or_else(|| output::peer_gone().then_some(libc::SIGHUP));
            if let Some(signal) = signal {
                stop(docker, name, INTERRUPT_GRACE);
                stopping = Some(Ending::Interrupted(signal));
            } else if let Some(limit) = timeout.filter(|limit| started.elapsed() >= *limit) {
                stop(docker, name, TIMEOUT_GRACE);
                stopping = Some(Ending::TimedOut(limit));
            }
        }
    };
    Ok(stopping.unwrap_or(Ending::Exited(code)))
}

/// Passes a docker CLI child's stdout and stderr on, line by line, each from its own thread.
fn stream_output(child: &mut std::process::Child) -> [Option<thread::JoinHandle<()>>; 2] {
    [
        child
            .stdout
            .take()
            .map(|pipe| thread::spawn(move || stream_lines(pipe, Stream::Stdout))),
        child
            .stderr
            .take()
            .map(|pipe| thread::spawn(move || stream_lines(pipe, Stream::Stderr))),
    ]
}

fn stream_lines(mut pipe: impl Read, stream: Stream) {
    let mut lines = LineSplitter::new(stream);
    let mut chunk = vec![0u8; 32 * 1024];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => lines.push(&chunk[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    lines.finish();
}

/// SIGTERM to the helper, which passes it to the task; SIGKILL after `grace`. The wait sees the
/// container end once it is down.
fn stop(docker: &Docker, name: &str, grace: Duration) {
    if let Err(error) = docker.stop_container(name, grace) {
        output::write_line(
            Stream::Stderr,
            &format!(" !     could not stop {name}: {error:#}\n"),
        );
    }
}

/// Cuts a task's output into lines as bytes arrive, passing each on, indented, as soon as it is
/// complete; a line longer than [`MAX_LINE`] goes in pieces. Memory stays at one line.
struct LineSplitter<F: FnMut(&[u8]) = Box<dyn FnMut(&[u8]) + Send>> {
    pending: Vec<u8>,
    emit: F,
}

impl LineSplitter {
    /// Lines written to one of the trigger's streams, indented as Dokku indents them.
    fn new(stream: Stream) -> LineSplitter {
        let mut line = Vec::with_capacity(INDENT.len() + MAX_LINE + 1);
        LineSplitter::with(Box::new(move |content: &[u8]| {
            line.clear();
            line.extend_from_slice(INDENT.as_bytes());
            line.extend_from_slice(content);
            line.push(b'\n');
            output::write_bytes(stream, &line);
        }))
    }
}

impl<F: FnMut(&[u8])> LineSplitter<F> {
    fn with(emit: F) -> LineSplitter<F> {
        LineSplitter {
            pending: Vec::with_capacity(MAX_LINE + 1),
            emit,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match bytes.iter().position(|byte| *byte == b'\n') {
                Some(newline) if self.pending.len() + newline <= MAX_LINE => {
                    self.pending.extend_from_slice(&bytes[..newline]);
                    (self.emit)(&self.pending);
                    self.pending.clear();
                    bytes = &bytes[newline + 1..];
                }
                _ => {
                    // No newline within the limit: fill the line to the limit, and pass it on
                    // only once more bytes show that it goes on past it.
                    let room = MAX_LINE - self.pending.len();
                    if room == 0 {
                        (self.emit)(&self.pending);
                        self.pending.clear();
                        continue;
                    }
                    let take = room.min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                }
            }
        }
    }

    fn finish(&mut self) {
        if !self.pending.is_empty() {
            (self.emit)(&self.pending);
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        // Fed in uneven chunks, as a pipe delivers them.
        let mut splitter = LineSplitter::with(|line: &[u8]| lines.push(line.to_vec()));
        for chunk in input.chunks(7919) {
            splitter.push(chunk);
        }
        splitter.finish();
        lines
    }

    #[test]
    fn splits_lines_and_keeps_a_last_line_without_newline() {
        assert_eq!(
            lines_of(b"one\ntwo\n\nthree"),
            [&b"one"[..], b"two", b"", b"three"]
        );
        assert!(lines_of(b"").is_empty());
    }

    #[test]
    fn passes_long_lines_in_pieces_and_every_byte_through() {
        let mut input = vec![b'x'; MAX_LINE * 2 + 10];
        input.push(b'\n');
        input.extend_from_slice(b"after\n");
        let lines = lines_of(&input);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1].len(), MAX_LINE);
        assert_eq!(lines[2].len(), 10);
        assert_eq!(lines[3], b"after");
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_one_line() {
        let mut input = vec![b'x'; MAX_LINE];
        input.push(b'\n');
        input.extend(vec![b'y'; MAX_LINE * 2]);
        input.push(b'\n');
        let lengths: Vec<usize> = lines_of(&input).iter().map(Vec::len).collect();
        assert_eq!(lengths, [MAX_LINE, MAX_LINE, MAX_LINE]);
    }
}
