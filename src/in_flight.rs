//! The record of task containers in flight, so that a run killed with SIGKILL (which no handler
//! sees) leaves nothing behind for long: the next run with tasks for the same app removes them.
//!
//! Each run that creates containers keeps a file `in-flight/RUNID` under the app's data
//! directory, holds an exclusive lock on it for as long as it lives, and writes each container's
//! name into it before creating the container. A record whose lock can be taken belongs to a run
//! that is gone, however long ago or recently it started; one whose lock is held belongs to a
//! live run (a concurrent deploy) and is left alone. Reading the records costs no Docker call,
//! and the no-task path never reads them.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::app::App;
use crate::host::Host;
use crate::output::Output;

/// This run's record, removed when dropped (after every container it lists was removed).
pub struct InFlight {
    file: File,
    path: PathBuf,
}

impl InFlight {
    /// Creates and locks this run's record; the record and its directory, when created, get the
    /// host's [`crate::ownership::Ownership`].
    pub fn open(host: &Host, app: &App, run_id: &str) -> Result<InFlight> {
        let dir = records_dir(host, app);
        let ownership = host.ownership();
        ownership.create_dir_all(&dir)?;
        let path = dir.join(run_id);
        let file = ownership.create_or_open(&path, OpenOptions::new().append(true))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(InFlight { file, path })
    }

    /// Notes a container this run is about to create.
    pub fn note(&mut self, container: &str) -> Result<()> {
        writeln!(self.file, "{container}")
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes the containers listed by records whose run is gone, and the records; says so in one
/// line when it removed any.
pub fn remove_leftovers(host: &Host, app: &App, output: &Output) -> Result<()> {
    let dir = records_dir(host, app);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(owner_gone) = owner_gone(&path) else {
            continue;
        };
        let mut record = owner_gone;
        let mut names = String::new();
        // A record lists a few container names: 64 KiB is plenty, and bounds a planted one.
        let _ = (&mut record).take(64 * 1024).read_to_string(&mut names);
        for name in names.lines().filter(|name| is_task_container_of(app, name)) {
            if host.docker.remove_container(name)? {
                removed.push(name.to_string());
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    if !removed.is_empty() {
        output.warn(&format!(
            "removed task containers left by a run of {} that was killed: {}",
            app.name(),
            removed.join(", ")
        ));
    }
    Ok(())
}

fn records_dir(host: &Host, app: &App) -> PathBuf {
    host.data_dir(app).join("in-flight")
}

/// The record's lock, taken, when its owner is gone; `None` while the owner lives.
fn owner_gone(path: &Path) -> Option<File> {
    // Never through a link planted in the record's place, nor blocked by a FIFO there.
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(TryLockError::WouldBlock) | Err(TryLockError::Error(_)) => None,
    }
}

/// Only names of this app's task containers are acted on, whatever a record file holds.
fn is_task_container_of(app: &App, name: &str) -> bool {
    name.strip_prefix(app.name())
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_apps_task_containers_are_touched() {
        let app = App::new("shop").unwrap();
        assert!(is_task_container_of(&app, "shop.predeploy.1-2"));
        assert!(!is_task_container_of(&app, "shopping.predeploy.1-2"));
        assert!(!is_task_container_of(&app, "other.release.1"));
        assert!(!is_task_container_of(&app, "shop."));
    }

    #[test]
    fn a_record_held_by_a_live_run_is_not_gone_and_a_released_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let held = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        held.lock().unwrap();
        assert!(owner_gone(&path).is_none());
        drop(held);
        assert!(owner_gone(&path).is_some());
    }
}
