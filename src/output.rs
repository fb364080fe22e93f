//! Log lines in Dokku's words, and the task's own output passed through live.
//!
//! A write that fails (the pusher's connection dropped mid-`git push`, so stdout or stderr is a
//! closed pipe) never panics: it is remembered, and the run treats it as a hangup.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed: nobody is listening there any more.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// Set once a write to stderr failed.
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// The indentation Dokku puts before detail lines and a task's output.
pub const INDENT: &str = "       ";

/// Which of the trigger's own streams a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The trigger's log. Headings are suppressed when the host asks for quiet output; a task's
/// output, warnings and errors never are.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    quiet: bool,
}

impl Output {
    /// A log, quiet or not.
    pub fn new(quiet: bool) -> Output {
        Output { quiet }
    }

    /// `-----> text` on stdout.
    pub fn heading(&self, text: &str) {
        if !self.quiet {
            write_line(Stream::Stdout, &format!("-----> {text}\n"));
        }
    }

    /// `       text` on stdout.
    pub fn detail(&self, text: &str) {
        if !self.quiet {
            write_line(Stream::Stdout, &format!("{INDENT}{text}\n"));
        }
    }

    /// ` !     text` on stderr, never suppressed.
    pub fn warn(&self, text: &str) {
        write_line(Stream::Stderr, &format!(" !     {text}\n"));
    }

    /// ` !     text` on stderr, never suppressed: the one line that says why a trigger failed.
    pub fn error(&self, text: &str) {
        write_line(Stream::Stderr, &format!(" !     {text}\n"));
    }
}

/// Writes a whole line in one call, so that lines from two threads never interleave.
pub fn write_line(stream: Stream, line: &str) {
    write_bytes(stream, line.as_bytes());
}

/// Writes a task's output line (already holding its indentation and newline).
pub fn write_bytes(stream: Stream, bytes: &[u8]) {
    let gone = match stream {
        Stream::Stdout => &STDOUT_GONE,
        Stream::Stderr => &STDERR_GONE,
    };
    if gone.load(Ordering::Relaxed) {
        return;
    }
    let result = match stream {
        Stream::Stdout => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(bytes).and_then(|()| stdout.flush())
        }
        Stream::Stderr => io::stderr().lock().write_all(bytes),
    };
    if result.is_err() {
        gone.store(true, Ordering::Relaxed);
    }
}

/// True once a write to either stream failed because the reader went away. The other stream
/// may still be read (a log file), so it keeps getting the reason the run stopped.
pub fn peer_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed) || STDERR_GONE.load(Ordering::Relaxed)
}
