//! What every engine's run of a task container shares: the guard that removes it on every path,
//! how its run ends, the wait that stops it at its time limit, a signal or a dropped connection,
//! and the passing on of its output line by line.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

use crate::docker::{ContainerEngine, Docker};
use crate::interrupt;
use crate::output::{self, Stream, INDENT};

/// Lines longer than this are passed on in pieces, so memory stays bounded whatever a task prints.
const MAX_LINE: usize = 64 * 1024;
/// How long a task gets to exit after SIGTERM on a timeout, before SIGKILL.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(10);
/// How long a task gets to exit after SIGTERM when the trigger was interrupted: within the
/// grace of what must finish ([`crate::interrupt::FINISHING_GRACE`]), so that the stop is done
/// when the removal starts, and the trigger ends within about two seconds when the engine answers.
const INTERRUPT_GRACE: Duration = Duration::from_secs(1);
/// How long after a stop's grace the engine may take to report the container's end: short, so
/// that the removal still fits in [`interrupt::FINISHING_GRACE`].
const REPORT_SLACK: Duration = Duration::from_millis(300);
/// How often the wait looks at the clock, signals and the output streams.
pub const POLL: Duration = Duration::from_millis(20);

/// A run ID unique on this host: the time in milliseconds and the trigger's process ID.
pub fn run_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    format!("{millis}-{}", std::process::id())
}

/// A container this run created; dropping the guard removes it with its anonymous volumes.
/// Made by [`crate::in_flight::InFlight::guard`], whose record it keeps when the removal fails.
pub struct ContainerGuard {
    docker: Docker,
    name: String,
    keep_record: Arc<AtomicBool>,
}

impl ContainerGuard {
    pub(crate) fn new(
        docker: Docker,
        name: String,
        keep_record: Arc<AtomicBool>,
    ) -> ContainerGuard {
        ContainerGuard {
            docker,
            name,
            keep_record,
        }
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if let Err(error) = self.docker.remove_container(&self.name) {
            self.keep_record.store(true, Ordering::SeqCst);
            output::write_line(
                Stream::Stderr,
                &format!(
                    " !     could not remove task container {}: {error:#}; the next task run of the app removes it\n",
                    self.name
                ),
            );
        }
    }
}

/// How a task container's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The task exited with this status. A CLI that failed before the container started
    /// (`docker run`'s 125) is the engine's failure, an error, not an ending.
    Exited(i32),
    /// The task ran past its time limit and was stopped.
    TimedOut(Duration),
    /// The trigger received this signal and stopped the task. A dropped connection is SIGHUP.
    Interrupted(i32),
}

/// The signal a running task is stopped for: a stop signal, or SIGHUP for a reader that went
/// away.
pub fn stop_asked() -> Option<i32> {
    interrupt::received().or_else(|| output::peer_gone().then_some(libc::SIGHUP))
}

/// What runs on a created task container's ID before it starts.
pub type BeforeStart<'a> = &'a dyn Fn(&str) -> Result<()>;

/// Waits for the task's exit status while watching for stop signals, a reader that went away,
/// and the time limit; stops the container on any of them. A stop signal that arrives while a
/// timeout's stop runs turns it into an interrupted run, stopped again with the shorter grace:
/// the timeout's stop runs beside the wait, which goes on watching, since the engine answers it
/// only once the task is down, up to [`TIMEOUT_GRACE`] later.
///
/// Once the container was told to stop, the wait is bounded too: should the engine not report
/// the end by the stop's grace plus [`REPORT_SLACK`] from the stop's start, `abandon` cuts what the run
/// still waits on (the CLI child, the attach connection) and the ending is returned as it is,
/// once a timeout's stop call has ended too (within the engine's time limit, or a stop
/// signal's grace); the caller's guard then removes the container, or leaves it to the next
/// run. So it does when the wait itself fails.
pub fn supervise(
    docker: &dyn ContainerEngine,
    name: &str,
    exit: mpsc::Receiver<Result<i32>>,
    timeout: Option<Duration>,
    abandon: &dyn Fn(),
) -> Result<Ending> {
    supervise_with(docker, name, exit, timeout, abandon, &stop_asked)
}

/// [`supervise`], asking `stop_asked` for the signal to stop on.
fn supervise_with(
    docker: &dyn ContainerEngine,
    name: &str,
    exit: mpsc::Receiver<Result<i32>>,
    timeout: Option<Duration>,
    abandon: &dyn Fn(),
    stop_asked: &dyn Fn() -> Option<i32>,
) -> Result<Ending> {
    let started = Instant::now();
    let mut stopping: Option<Ending> = None;
    let mut give_up_at: Option<Instant> = None;
    // The timeout's stop, if any, is joined on the way out: its call gives way at a stop
    // signal's grace like every call that must finish.
    thread::scope(|scope| {
        let code = loop {
            // Without the wait, nothing ends what the run still waits on (the attach connection,
            // the CLI child) but the task itself: cut it, and the caller's guard removes the
            // container.
            match exit.recv_timeout(POLL) {
                Ok(Ok(code)) => break code,
                Ok(Err(error)) => {
                    abandon();
                    return Err(error);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    abandon();
                    bail!("lost track of the task container {name}");
                }
            }
            match stopping {
                None | Some(Ending::TimedOut(_)) => {
                    if let Some(signal) = stop_asked() {
                        give_up_at = Some(Instant::now() + INTERRUPT_GRACE + REPORT_SLACK);
                        stop(docker, name, INTERRUPT_GRACE);
                        stopping = Some(Ending::Interrupted(signal));
                    } else if stopping.is_none() {
                        if let Some(limit) = timeout.filter(|limit| started.elapsed() >= *limit) {
                            give_up_at = Some(Instant::now() + TIMEOUT_GRACE + REPORT_SLACK);
                            scope.spawn(|| stop(docker, name, TIMEOUT_GRACE));
                            stopping = Some(Ending::TimedOut(limit));
                        }
                    }
                }
                _ => {}
            }
            if let (Some(at), Some(ending)) = (give_up_at, stopping) {
                if Instant::now() >= at {
                    abandon();
                    output::write_line(
                        Stream::Stderr,
                        &format!(" !     the engine did not report the end of {name} after its stop: no longer waiting for it\n"),
                    );
                    return Ok(ending);
                }
            }
        };
        Ok(stopping.unwrap_or(Ending::Exited(code)))
    })
}

/// Passes a docker CLI child's stdout and stderr on, line by line, each from its own thread.
pub fn stream_output(child: &mut std::process::Child) -> [Option<thread::JoinHandle<()>>; 2] {
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
fn stop(docker: &dyn ContainerEngine, name: &str, grace: Duration) {
    if let Err(error) = docker.stop_container(name, grace) {
        output::write_line(
            Stream::Stderr,
            &format!(" !     could not stop {name}: {error:#}\n"),
        );
    }
}

/// Cuts a task's output into lines as bytes arrive, passing each on, indented, as soon as it is
/// complete; a line longer than [`MAX_LINE`] goes in pieces. Memory stays at one line.
pub struct LineSplitter<F: FnMut(&[u8]) = Box<dyn FnMut(&[u8]) + Send>> {
    pending: Vec<u8>,
    emit: F,
}

impl LineSplitter {
    /// Lines written to one of the trigger's streams, indented as Dokku indents them.
    pub fn new(stream: Stream) -> LineSplitter {
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

    pub fn push(&mut self, mut bytes: &[u8]) {
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

    pub fn finish(&mut self) {
        if !self.pending.is_empty() {
            (self.emit)(&self.pending);
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounded_read::Found;
    use crate::docker::{CommitConfig, ContainerSpec, Image, RunningContainer};
    use std::sync::Mutex;

    /// An engine of which [`supervise`] uses only the stop: each stop is recorded with whether
    /// another was still running; a stop with the timeout's grace takes `timeout_stop_takes`,
    /// as Docker answers it once the task is down.
    #[derive(Debug, Default)]
    struct StoppingEngine {
        stops: Mutex<Vec<(Duration, bool)>>,
        running: AtomicBool,
        timeout_stop_takes: Duration,
    }

    impl ContainerEngine for StoppingEngine {
        fn stop_container(&self, _name: &str, grace: Duration) -> Result<()> {
            let beside = self.running.swap(true, Ordering::SeqCst);
            self.stops.lock().unwrap().push((grace, beside));
            if grace == TIMEOUT_GRACE {
                thread::sleep(self.timeout_stop_takes);
            }
            self.running.store(beside, Ordering::SeqCst);
            Ok(())
        }
        fn image(&self, _: &str) -> Result<Option<Image>> {
            unreachable!("not used by supervise")
        }
        fn image_names(&self, _: &str, _: &str) -> Result<Vec<String>> {
            unreachable!("not used by supervise")
        }
        fn create(&self, _: &ContainerSpec) -> Result<String> {
            unreachable!("not used by supervise")
        }
        fn run(&self, _: &ContainerSpec, _: Option<BeforeStart>) -> Result<Ending> {
            unreachable!("not used by supervise")
        }
        fn read_entry(&self, _: &str, _: &str, _: usize) -> Result<Option<Found>> {
            unreachable!("not used by supervise")
        }
        fn commit(
            &self,
            _: &str,
            _: &CommitConfig,
            _: &mut dyn FnMut() -> Result<String>,
        ) -> Result<String> {
            unreachable!("not used by supervise")
        }
        fn tag(&self, _: &str, _: &str) -> Result<()> {
            unreachable!("not used by supervise")
        }
        fn remove_container(&self, _: &str) -> Result<bool> {
            unreachable!("not used by supervise")
        }
        fn remove_image(&self, _: &str) -> Result<bool> {
            unreachable!("not used by supervise")
        }
        fn running_containers(&self, _: &[(&str, &str)]) -> Result<Vec<RunningContainer>> {
            unreachable!("not used by supervise")
        }
        fn exec(&self, _: &str, _: &str, _: Option<Duration>) -> Result<Ending> {
            unreachable!("not used by supervise")
        }
        fn through_cli(&self) -> Docker {
            unreachable!("not used by supervise")
        }
    }

    #[test]
    fn a_signal_during_a_timeouts_stop_stops_the_task_again_at_once_with_the_shorter_grace() {
        let engine = StoppingEngine {
            timeout_stop_takes: Duration::from_millis(1500),
            ..StoppingEngine::default()
        };
        let (exited, exit) = mpsc::channel();
        let abandoned = AtomicBool::new(false);
        let signal_at = Instant::now() + Duration::from_millis(200);
        let ending = thread::scope(|scope| {
            scope.spawn(|| {
                // The task goes down once the interrupt's stop came.
                while !engine
                    .stops
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|(grace, _)| *grace == INTERRUPT_GRACE)
                {
                    thread::sleep(Duration::from_millis(5));
                }
                let _ = exited.send(Ok(137));
            });
            supervise_with(
                &engine,
                "shop.release.1",
                exit,
                Some(Duration::ZERO),
                &|| abandoned.store(true, Ordering::SeqCst),
                &|| (Instant::now() >= signal_at).then_some(libc::SIGINT),
            )
        });
        assert_eq!(ending.unwrap(), Ending::Interrupted(libc::SIGINT));
        assert_eq!(
            *engine.stops.lock().unwrap(),
            [(TIMEOUT_GRACE, false), (INTERRUPT_GRACE, true)],
            "the interrupt's stop goes while the timeout's still runs"
        );
        assert!(!abandoned.load(Ordering::SeqCst));
    }

    #[test]
    fn a_failed_wait_cuts_what_the_run_waits_on() {
        let engine = StoppingEngine::default();
        let (exited, exit) = mpsc::channel();
        exited.send(Err(anyhow::anyhow!("the wait broke"))).unwrap();
        let abandoned = AtomicBool::new(false);
        let ending = supervise_with(
            &engine,
            "shop.release.1",
            exit,
            None,
            &|| abandoned.store(true, Ordering::SeqCst),
            &|| None,
        );
        assert_eq!(format!("{:#}", ending.unwrap_err()), "the wait broke");
        assert!(abandoned.load(Ordering::SeqCst));
        assert!(engine.stops.lock().unwrap().is_empty());
    }

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
