//! One task run at a time per app: two pushes, or a push and a manual run, take turns, so no
//! successful predeploy's commit is lost to the other's.

use std::fs::{File, OpenOptions, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::app::App;
use crate::host::{DataDir, Host};
use crate::interrupt;
use crate::output::Output;

/// Held while a phase runs; the operating system releases it when the process ends, however it
/// ends, so a killed trigger never leaves it behind.
#[derive(Debug)]
pub struct AppLock {
    _file: File,
}

/// How the wait for the lock ended when it did not get it.
#[derive(Debug)]
pub enum LockWait {
    /// A stop signal arrived while waiting.
    Interrupted(i32),
}

/// Takes the app's lock, waiting (and saying so once) while another run holds it. A stop signal
/// ends the wait. The lock file and the data directory, when created, get the host's
/// [`crate::ownership::Ownership`].
pub fn acquire(
    host: &Host,
    app: &App,
    output: &Output,
) -> Result<std::result::Result<AppLock, LockWait>> {
    let dir = host.data_dir(app);
    dir.create()?;
    let path = dir.join("lock");
    let file = dir
        .ownership()
        .create_or_open(&path, OpenOptions::new().truncate(false).write(true))?;
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Ok(AppLock { _file: file })),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("locking {}", path.display()));
            }
        }
        if let Some(signal) = interrupt::received() {
            return Ok(Err(LockWait::Interrupted(signal)));
        }
        if !said {
            output.detail(&format!(
                "Waiting for another deploy task run of {} to finish",
                app.name()
            ));
            said = true;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// How long a brief lock is waited for: its holders keep it for microseconds (an append, a few
/// small files rewritten); after a stop signal, no longer than what must finish waits
/// ([`crate::interrupt::FINISHING_GRACE`]).
const BRIEF_WAIT: Duration = Duration::from_secs(5);

/// Takes the lock file `name` in `dir` for a brief critical section, waiting at most
/// [`BRIEF_WAIT`] for another holder; the lock goes with the returned file.
pub fn brief(dir: &DataDir, name: &str) -> Result<File> {
    let path = dir.join(name);
    let lock = dir
        .ownership()
        .create_or_open(&path, OpenOptions::new().write(true))?;
    let deadline = Instant::now() + BRIEF_WAIT;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(TryLockError::WouldBlock)
                if Instant::now() < deadline && interrupt::grace_over().is_none() =>
            {
                thread::sleep(Duration::from_millis(5))
            }
            Err(TryLockError::WouldBlock) if interrupt::received().is_some() => {
                bail!(
                    "a stop signal came while another run held {}",
                    path.display()
                )
            }
            Err(TryLockError::WouldBlock) => bail!(
                "another run held {} for over {}s",
                path.display(),
                BRIEF_WAIT.as_secs()
            ),
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}
