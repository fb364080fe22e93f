//! The record of what a run has in flight, so that a run killed with SIGKILL (which no handler
//! sees) leaves nothing behind for long: the next run with tasks for the same app removes it.
//!
//! Each run that creates containers keeps a file `in-flight/RUNID` under the app's data
//! directory, holds an exclusive lock on it for as long as it lives, and writes into it, one a
//! line, each container's name before creating the container, and each image's name before the
//! commit that creates it. A record whose lock can be taken belongs to a run that is gone,
//! however long ago or recently it started; one whose lock is held belongs to a live run (a
//! concurrent deploy) and is left alone. The no-task path never reads the records.
//!
//! A run names each image it commits in its own namespace before the commit starts
//! ([`crate::commit::intermediate_name`]), and only a run holding the app's lock commits. The
//! record's names are removed with its containers; but the engine may finish a killed run's
//! commit after the run that reaped the record looked, so the names are also found by their
//! form, in a listing of the app's images. That listing costs the engine tens of milliseconds, so
//! it is done only while a [`Sweep`] is due: from the moment a killed run is found (or a run
//! could not remove its own images) and for [`SWEEP_WINDOW`] after. Images are removed by name,
//! never by ID: removing a name removes the image only when nothing else holds it, so a run
//! killed after its tag move loses its own names and the app's image stays.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::app::App;
use crate::bounded_read;
use crate::commit;
use crate::container::ContainerGuard;
use crate::docker::Docker;
use crate::host::Host;
use crate::output::Output;
use crate::ownership::Ownership;

/// This run's record, removed when dropped, unless a container it lists could not be removed.
pub struct InFlight {
    file: File,
    path: PathBuf,
    /// Set by a [`ContainerGuard`] of this record that could not remove its container.
    keep: Arc<AtomicBool>,
}

impl InFlight {
    /// Creates and locks this run's record; the record and its directory, when created, get the
    /// host's [`crate::ownership::Ownership`].
    pub fn open(host: &Host, app: &App, run_id: &str) -> Result<InFlight> {
        let dir = records_dir(host, app);
        let ownership = host.ownership();
        ownership.create_dir_all(&dir)?;
        let path = dir.join(run_id);
        // Locked under a name the reaper passes over, then renamed into place: a record it can
        // see is always locked while its run lives.
        let staged = dir.join(format!("{STAGED_PREFIX}{run_id}"));
        let file = ownership.create_or_open(&staged, OpenOptions::new().append(true))?;
        file.lock()
            .with_context(|| format!("locking {}", staged.display()))?;
        std::fs::rename(&staged, &path)
            .with_context(|| format!("moving {} into place", staged.display()))?;
        Ok(InFlight {
            file,
            path,
            keep: Arc::default(),
        })
    }

    /// Notes a container this run is about to create, and guards it: should its removal fail
    /// (an engine that no longer answers after a stop signal), the record stays for the next
    /// run to remove it.
    pub fn guard(&mut self, docker: &Docker, name: &str) -> Result<ContainerGuard> {
        self.note(name)?;
        Ok(ContainerGuard::new(
            docker.clone(),
            name.to_string(),
            Arc::clone(&self.keep),
        ))
    }
}

impl InFlight {
    /// Notes the name of an image this run is about to commit.
    pub fn note_image(&mut self, name: &str) -> Result<()> {
        self.note(name)
    }

    /// Adds a name to the record, a line.
    fn note(&mut self, name: &str) -> Result<()> {
        writeln!(self.file, "{name}").with_context(|| format!("writing {}", self.path.display()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.keep.load(Ordering::SeqCst) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// How long after a killed run was found the runs of its app look for images it named.
pub const SWEEP_WINDOW: Duration = Duration::from_secs(3600);

/// The record that the app's images named by runs should be looked for: a file under the app's
/// data directory holding, in seconds since the epoch, until when.
pub struct Sweep {
    path: PathBuf,
    ownership: Ownership,
}

impl Sweep {
    pub fn of(host: &Host, app: &App) -> Sweep {
        Sweep {
            path: host.data_dir(app).join("sweep-images-until"),
            ownership: host.ownership(),
        }
    }

    /// Whether the window is open.
    fn due(&self) -> bool {
        bounded_read::host_file(&self.path, 64)
            .ok()
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok()?.trim().parse::<u64>().ok())
            .is_some_and(|until| until > now())
    }

    /// Opens the window for [`SWEEP_WINDOW`] from now. Best effort: without it, a late image is
    /// still found by the sweep after the next killed run.
    pub fn schedule(&self) {
        let until = now() + SWEEP_WINDOW.as_secs();
        let _ = self.ownership.write(&self.path, until.to_string());
    }
}

/// The prefix of a record not yet in place ([`InFlight::open`]).
const STAGED_PREFIX: &str = ".new-";

/// Removes a staged record a run killed before it moved it into place left: empty, as nothing
/// is written before the move, and old, as the move follows the creation at once.
fn remove_stale_staged(path: &Path) {
    let stale = std::fs::symlink_metadata(path)
        .ok()
        .and_then(|meta| meta.modified().ok())
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(3600));
    if stale {
        let _ = std::fs::remove_file(path);
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// Removes what runs that are gone left: the containers their records list and the images they
/// name, then, while a [`Sweep`] is due, every image named so ([`commit::intermediate_name`]);
/// images newest first (a later commit is the child of an earlier one, and removing a parent's
/// name first would leave it untagged). Says so in one line for each kind it removed. Called
/// under the app's lock, which every run that commits holds: any image named so is then a
/// leftover, even one whose commit the engine finished after the run that asked for it was
/// killed and a later run had looked.
pub fn remove_leftovers(host: &Host, docker: &Docker, app: &App, output: &Output) -> Result<()> {
    let mut containers = Vec::new();
    let mut images = Vec::new();
    // Image names the records gave, removed or tried once already.
    let mut tried = std::collections::HashSet::new();
    // What could not be removed fails no deploy: it is said, and tried again by the next run.
    let mut failed = Vec::new();
    let sweep = Sweep::of(host, app);
    let mut killed_run_found = false;
    if let Ok(entries) = std::fs::read_dir(records_dir(host, app)) {
        for entry in entries.flatten() {
            let path = entry.path();
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGED_PREFIX)
            {
                remove_stale_staged(&path);
                continue;
            }
            let Some(mut record_file) = owner_gone(&path) else {
                continue;
            };
            if !killed_run_found {
                killed_run_found = true;
                sweep.schedule();
            }
            let mut record = String::new();
            // A record lists a few names: 64 KiB is plenty, and bounds a planted one.
            let _ = (&mut record_file)
                .take(64 * 1024)
                .read_to_string(&mut record);
            let mut all_gone = true;
            for name in record
                .lines()
                .filter(|name| is_task_container_of(app, name))
            {
                match docker.remove_container(name) {
                    Ok(true) => containers.push(name.to_string()),
                    Ok(false) => {}
                    Err(error) => {
                        all_gone = false;
                        failed.push(format!("{name} ({error:#})"));
                    }
                }
            }
            // Newest first, as a later commit is the child of an earlier one; after the
            // containers, which may hold them. One that cannot be removed keeps no record: the
            // sweep, now due, looks for it.
            for name in record
                .lines()
                .rev()
                .filter(|name| commit::is_intermediate_name_of(app, name))
            {
                tried.insert(name.to_string());
                match docker.remove_image(name) {
                    Ok(true) => images.push(name.to_string()),
                    Ok(false) => {}
                    Err(error) => failed.push(format!("{name} ({error:#})")),
                }
            }
            // Kept for the next run when something it lists is still there.
            if all_gone {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let listed = if killed_run_found || sweep.due() {
        commit::leftover_images(docker, app)
    } else {
        Ok(Vec::new())
    };
    match listed {
        Ok(names) => {
            for name in names.into_iter().filter(|name| !tried.contains(name)) {
                match docker.remove_image(&name) {
                    Ok(true) => images.push(name),
                    Ok(false) => {}
                    Err(error) => failed.push(format!("{name} ({error:#})")),
                }
            }
        }
        Err(error) => failed.push(format!("the list of its images ({error:#})")),
    }
    if !containers.is_empty() {
        output.warn(&format!(
            "removed task containers left by a run of {} that was killed: {}",
            app.name(),
            containers.join(", ")
        ));
    }
    if !images.is_empty() {
        output.warn(&format!(
            "removed images committed by a run of {} that was killed: {}",
            app.name(),
            images.join(", ")
        ));
    }
    if !failed.is_empty() {
        output.warn(&format!(
            "could not remove what a killed run of {} left: {}; the next task run tries again",
            app.name(),
            failed.join(", ")
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

    #[test]
    fn a_record_appears_in_place_only_once_locked() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            lib_root: dir.path().to_path_buf(),
            ..Host::from_env(dir.path())
        };
        let app = App::new("shop").unwrap();
        let record = InFlight::open(&host, &app, "1-2").unwrap();
        let records = records_dir(&host, &app);
        let names: Vec<String> = std::fs::read_dir(&records)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1-2"]);
        assert!(owner_gone(&records.join("1-2")).is_none());
        drop(record);
        assert!(!records.join("1-2").exists());
    }
}
