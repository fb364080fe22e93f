//! Short-lived child processes the plugin waits for (the Docker CLI's queries, `plugn trigger`):
//! run to their end with stdin closed and both outputs captured, stopped at a stop signal or
//! past a time limit, so that no wait is unbounded or deaf to Ctrl-C.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::interrupt;

/// How often a wait looks for a stop signal while the child works.
const POLL: Duration = Duration::from_millis(5);

/// Why a child gave no output.
#[derive(Debug)]
pub enum Failure {
    /// It could not be started.
    Spawn(std::io::Error),
    /// Waiting for it failed.
    Wait(std::io::Error),
    /// A stop signal arrived: the child was killed.
    Interrupted(i32),
    /// It ran past the limit: the child was killed.
    TimedOut(Duration),
}

/// Runs `command` to its end; `limit` bounds the wait, and a stop signal ends it.
pub fn output(command: &mut Command, limit: Option<Duration>) -> Result<Output, Failure> {
    output_until(command, limit, interrupt::pending)
}

/// [`output`] for a call that must finish (a commit, a tag, a removal): a stop signal ends it
/// only once its grace is over ([`interrupt::grace_over`]).
pub fn finish(command: &mut Command, limit: Option<Duration>) -> Result<Output, Failure> {
    output_until(command, limit, interrupt::grace_over)
}

fn output_until(
    command: &mut Command,
    limit: Option<Duration>,
    stop_signal: fn() -> Option<i32>,
) -> Result<Output, Failure> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Failure::Spawn)?;
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::Wait(error));
            }
        }
        let stop = match (stop_signal(), limit) {
            (Some(signal), _) => Some(Failure::Interrupted(signal)),
            (None, Some(limit)) if started.elapsed() > limit => Some(Failure::TimedOut(limit)),
            _ => None,
        };
        if let Some(failure) = stop {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failure);
        }
        thread::sleep(POLL);
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Reads a pipe to its end on a thread of its own, so that neither pipe fills and blocks the
/// child.
fn drain(pipe: Option<Box<dyn Read + Send>>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}
