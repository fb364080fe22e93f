//! Running one task container: `docker run` with the app's config on stdin, its output streamed
//! live, waited on with a time limit, stopped on a signal or a dropped connection, and removed on
//! every path.

use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::docker::Docker;
use crate::interrupt;
use crate::output::{self, Stream, INDENT};

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

/// Runs `docker run ARGS` for the container `name`, writing `stdin` to it and streaming its
/// output. The caller's guard removes the container afterwards.
pub fn run(
    docker: &Docker,
    name: &str,
    args: &[String],
    stdin: Vec<u8>,
    timeout: Option<Duration>,
) -> Result<Ending> {
    let mut child = docker
        .command(args)
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
    let writer = child.stdin.take().map(|mut pipe| {
        thread::spawn(move || {
            // A container that exits before reading its config closes the pipe; the exit status
            // says what happened, not this write.
            let _ = pipe.write_all(&stdin);
        })
    });
    let stdout = child
        .stdout
        .take()
        .map(|pipe| thread::spawn(move || stream_lines(pipe, Stream::Stdout)));
    let stderr = child
        .stderr
        .take()
        .map(|pipe| thread::spawn(move || stream_lines(pipe, Stream::Stderr)));

    // A thread waits for `docker run`, so its exit is seen at once; the loop wakes every POLL
    // only to look at signals, the output streams and the clock.
    let (exited, exit) = mpsc::channel();
    thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    let started = Instant::now();
    let mut stopping: Option<Ending> = None;
    let status = loop {
        match exit.recv_timeout(POLL) {
            Ok(status) => break status.context("waiting for docker run")?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                anyhow::bail!("lost track of docker run for {name}")
            }
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
    for thread in [writer, stdout, stderr].into_iter().flatten() {
        let _ = thread.join();
    }
    Ok(stopping.unwrap_or_else(|| Ending::Exited(status.code().unwrap_or(128))))
}

fn stream_lines(pipe: impl Read, stream: Stream) {
    let mut line = Vec::with_capacity(INDENT.len() + MAX_LINE + 1);
    pump(pipe, |content| write_indented(stream, &mut line, content));
}

/// `docker stop`: SIGTERM to the helper, which passes it to the task; SIGKILL after `grace`.
/// The wait loop sees `docker run` return once the container is down.
fn stop(docker: &Docker, name: &str, grace: Duration) {
    let grace = grace.as_secs().to_string();
    if let Err(error) = docker.run(["stop", "--time", &grace, name]) {
        if !crate::docker::is_missing(&error) {
            output::write_line(
                Stream::Stderr,
                &format!(" !     could not stop {name}: {error:#}\n"),
            );
        }
    }
}

/// Splits a task's output into lines, calling `emit` with each (without its newline) as soon as
/// it is complete; a line longer than [`MAX_LINE`] goes in pieces. It reads to the end whatever
/// `emit` does, so the task never blocks on a full pipe after the reader went away.
fn pump(mut pipe: impl Read, mut emit: impl FnMut(&[u8])) {
    // One byte more than a line may hold, so that a newline right after MAX_LINE bytes ends
    // that line instead of an empty one after it.
    let mut buffer = vec![0u8; MAX_LINE + 1];
    let mut filled = 0;
    loop {
        let read = match pipe.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        filled += read;
        let mut start = 0;
        while let Some(newline) = buffer[start..filled].iter().position(|byte| *byte == b'\n') {
            emit(&buffer[start..start + newline]);
            start += newline + 1;
        }
        if start == 0 && filled == buffer.len() {
            emit(&buffer[..MAX_LINE]);
            start = MAX_LINE;
        }
        buffer.copy_within(start..filled, 0);
        filled -= start;
    }
    if filled > 0 {
        emit(&buffer[..filled]);
    }
}

/// Writes one line of a task's output, indented as Dokku indents it.
fn write_indented(stream: Stream, line: &mut Vec<u8>, content: &[u8]) {
    line.clear();
    line.extend_from_slice(INDENT.as_bytes());
    line.extend_from_slice(content);
    line.push(b'\n');
    output::write_bytes(stream, line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        pump(input, |line| lines.push(line.to_vec()));
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
