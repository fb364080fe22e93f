//! One task run at a time per app: two pushes, or a push and a manual run, take turns, so no
//! successful predeploy's commit is lost to the other's.

use std::fs::{File, OpenOptions, TryLockError};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::app::App;
use crate::host::Host;
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
