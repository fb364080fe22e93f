//! Log lines in Dokku's words, and the task's own output passed through live.
//!
//! A write that fails (the pusher's connection dropped mid-`git push`, so stdout or stderr is a
//! closed pipe) never panics: it is remembered, and the run treats it as a hangup.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout or stderr failed: nobody is listening any more.
static PEER_GONE: AtomicBool = AtomicBool::new(false);

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
    if PEER_GONE.load(Ordering::Relaxed) {
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
        PEER_GONE.store(true, Ordering::Relaxed);
    }
}

/// True once a write failed because the reader went away.
pub fn peer_gone() -> bool {
    PEER_GONE.load(Ordering::Relaxed)
}
