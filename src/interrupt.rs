//! Signals that ask a trigger to stop: SIGINT (an admin's Ctrl-C), SIGTERM (a service stop),
//! SIGHUP (a terminal closing), SIGQUIT (Ctrl-\\, which would otherwise kill the trigger and leave
//! the task container running). The handler only records the signal; the run notices it, stops the
//! task container and exits 128+N. What must finish (a commit, the tag move, the removal of what
//! the run made) goes on until [`FINISHING_GRACE`] after the run noticed the signal, then gives
//! up too: the trigger ends within about two seconds whatever the engine does, and what is left
//! is the next run's to remove.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The first stop signal received, or 0.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// How many critical sections are open: while any is, nothing is cut short for a signal.
static CRITICAL: AtomicUsize = AtomicUsize::new(0);
/// When the run first noticed the stop signal.
static NOTICED: OnceLock<Instant> = OnceLock::new();

/// How long after a stop signal what must finish may still run.
pub const FINISHING_GRACE: Duration = Duration::from_millis(1900);

/// The signals a trigger stops on.
pub const STOP_SIGNALS: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

extern "C" fn record(signal: libc::c_int) {
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// Installs the handlers. A trigger started with SIGINT ignored (a background job of a script)
/// handles it all the same: it must still clean up. A handler the kernel refuses is an error:
/// a trigger that could not be stopped cleanly must not start.
pub fn install() -> anyhow::Result<()> {
    for signal in STOP_SIGNALS {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe; the
        // struct is zeroed (a valid sigaction) before the fields that matter are set, and
        // sigemptyset gets a pointer to that live struct's mask.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = record as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            anyhow::bail!(
                "cannot handle {}: {}; nothing was run",
                signal_name(signal),
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// The stop signal received so far, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => {
            NOTICED.get_or_init(Instant::now);
            Some(signal)
        }
    }
}

/// The stop signal, once [`FINISHING_GRACE`] has passed since the run noticed it: what must
/// finish gives up then, critical section or not.
pub fn grace_over() -> Option<i32> {
    let signal = received()?;
    let noticed = NOTICED.get_or_init(Instant::now);
    (noticed.elapsed() > FINISHING_GRACE).then_some(signal)
}

/// The stop signal to act on now: the one received, unless a critical section is open and
/// its grace lasts.
pub fn pending() -> Option<i32> {
    if CRITICAL.load(Ordering::SeqCst) > 0 {
        grace_over()
    } else {
        received()
    }
}

/// A section no signal may split (the commit and tag of a predeploy result): while the guard
/// lives, [`pending`] says nothing until [`FINISHING_GRACE`] is over; the signal is acted on
/// after it is dropped.
pub struct Critical(());

impl Critical {
    /// Opens a critical section.
    pub fn begin() -> Critical {
        CRITICAL.fetch_add(1, Ordering::SeqCst);
        Critical(())
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        CRITICAL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The name of a stop signal, for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        _ => "a signal",
    }
}
