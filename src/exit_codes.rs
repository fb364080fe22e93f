//! The exit statuses of the triggers and commands.

/// How a trigger ends, mapped to its process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Done, or nothing to do.
    Success,
    /// A task failed, or the input was bad.
    Failure,
    /// A task ran past its time limit (the status `timeout(1)` uses).
    Timeout,
    /// Stopped by a signal: 128+N, as shells report it.
    Signal(i32),
    /// The app named does not exist: Dokku's own status for that (`AppDoesNotExist`, 20).
    NoSuchApp,
}

impl ExitCode {
    /// The process exit status.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Timeout => 124,
            ExitCode::Signal(signal) => 128 + signal,
            ExitCode::NoSuchApp => 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_shell_conventions() {
        assert_eq!(ExitCode::Success.code(), 0);
        assert_eq!(ExitCode::Failure.code(), 1);
        assert_eq!(ExitCode::Timeout.code(), 124);
        assert_eq!(ExitCode::Signal(libc::SIGINT).code(), 130);
        assert_eq!(ExitCode::Signal(libc::SIGTERM).code(), 143);
        assert_eq!(ExitCode::Signal(libc::SIGHUP).code(), 129);
        assert_eq!(ExitCode::NoSuchApp.code(), 20);
    }
}
