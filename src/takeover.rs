//! Taking the deployment tasks over from Dokku's own app-json plugin (`core-tasks replace`).
//!
//! Dokku's app-json runs the tasks it finds in the app.json and Procfile that its core plugins
//! extracted; no property or variable makes it skip one. So the plugin rewrites those files
//! without the tasks and keeps the originals in its own data directory
//! (`$DOKKU_LIB_ROOT/data/deploy-tasks/APP/dokku-files/`), where Dokku's extraction never deletes
//! them (`core-post-extract` removes every `app.json.*` beside its own copy). Everything else
//! Dokku reads from the files (env, formation, cron, healthchecks, process types) is unchanged.
//!
//! The originals mirror Dokku's names: `app.json` for the persisted file, `app.json.$DOKKU_PID`
//! for the running deploy's copy (`.missing` where the push has none), moved into place by
//! [`settle_deploy`] as Dokku's `core-post-deploy` moves its own. [`hand_back`] restores Dokku's
//! files and forgets the originals, for `core-tasks defer` and `plugin:uninstall`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::app::App;
use crate::bounded_read;
use crate::dokku::{self, suffixed, DokkuFile};
use crate::host::Host;
use crate::sources::{app_json, procfile, MAX_BYTES};

/// Where the originals of `app`'s Dokku files are kept.
fn originals_dir(host: &Host, app: &App) -> PathBuf {
    host.data_dir(app).join("dokku-files")
}

/// The kept original of `file` for `app`, under the name Dokku gives it, plus `suffix`.
fn original(host: &Host, app: &App, file: DokkuFile, suffix: &str) -> PathBuf {
    suffixed(&originals_dir(host, app).join(file.name), suffix)
}

/// The record of what the plugin left in the Dokku file whose original is `kept`: its bytes
/// (`NAME.left`, `NAME.PID.left`), so that a file Dokku writes anew behind the plugin's back
/// is told from the one the plugin left, byte for byte.
fn left_record(kept: &Path) -> PathBuf {
    suffixed(kept, ".left")
}

/// The turn of one takeover at a time for an app: a restart's trigger taking a rewritten file
/// over again must not read the original another has half replaced.
fn takeover_turn(host: &Host, app: &App) -> Result<fs::File> {
    let dir = host.data_dir(app);
    dir.create()?;
    crate::lock::brief(&dir, "takeover.lock")
}

/// The file the plugin reads `file`'s tasks from for `app`: the kept original where the plugin
/// took the file over, else what Dokku's own plugins read ([`DokkuFile::in_effect`]).
/// A kept original whose Dokku file was written anew since ([`since_taken`]) counts for
/// nothing: Dokku's file is read instead.
pub fn task_definitions(host: &Host, app: &App, file: DokkuFile) -> Option<PathBuf> {
    let in_effect = file.in_effect(host, app)?;
    let kept = match &host.dokku_pid {
        Some(pid) if in_effect == file.deploy_copy(host, app, pid) => {
            original(host, app, file, &format!(".{pid}"))
        }
        _ if matches!(since_taken(host, app, file), Ok(Since::Rewritten)) => {
            return Some(in_effect)
        }
        _ => original(host, app, file, ""),
    };
    Some(if is_regular_file(&kept) {
        kept
    } else {
        in_effect
    })
}

/// Dokku's persisted file against what the plugin left there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    /// As the plugin left it (or, recorded as none, still none).
    Unchanged,
    /// Written anew behind the plugin's back (a deploy while the plugin was disabled, whose
    /// extraction it did not see; an admin's edit), or removed: the kept original is stale.
    Rewritten,
    /// No record of what was left (never taken over, or by a build that kept none).
    Unknown,
}

fn since_taken(host: &Host, app: &App, file: DokkuFile) -> Result<Since> {
    let persisted = file.persisted(host, app);
    let now = if is_regular_file(&persisted) {
        Some(read_bounded(&persisted)?)
    } else {
        None
    };
    // Or about to be: between this plugin's core-post-deploy, which moved the record into
    // place, and ps's, which moves a running deploy's copy of the Procfile (or its marker of
    // none) into place.
    let in_flight = in_flight_procfile(host, app, file)?;
    let left = left_record(&original(host, app, file, ""));
    if is_regular_file(&left) {
        let left = read_bounded(&left)?;
        let same = now.as_deref() == Some(left.as_slice())
            || in_flight
                .as_ref()
                .is_some_and(|copy| copy.as_deref() == Some(left.as_slice()));
        return Ok(if same {
            Since::Unchanged
        } else {
            Since::Rewritten
        });
    }
    if original(host, app, file, ".missing").exists() {
        let none = now.is_none() || in_flight.is_some_and(|copy| copy.is_none());
        return Ok(if none {
            Since::Unchanged
        } else {
            Since::Rewritten
        });
    }
    Ok(Since::Unknown)
}

/// The copy of the Procfile a running Dokku deploy is about to move into place (`Procfile.PID`,
/// `Some(None)` for its marker of none `Procfile.PID.missing`), where the deploy's `dokku`
/// process still runs: a failed deploy's leftovers are not in flight. `None` for app.json,
/// which Dokku's app-json moves into place before this plugin's core-post-deploy runs.
fn in_flight_procfile(host: &Host, app: &App, file: DokkuFile) -> Result<Option<Option<Vec<u8>>>> {
    if file != dokku::PROCFILE {
        return Ok(None);
    }
    let persisted = file.persisted(host, app);
    let Some(dir) = persisted.parent() else {
        return Ok(None);
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(None);
    };
    let prefix = format!("{}.", file.name);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let (pid, missing) = match rest.strip_suffix(".missing") {
            Some(pid) => (pid, true),
            None => (rest, false),
        };
        let running = !pid.is_empty()
            && pid.bytes().all(|byte| byte.is_ascii_digit())
            && Path::new("/proc").join(pid).is_dir();
        if !running {
            continue;
        }
        if missing {
            return Ok(Some(None));
        }
        if is_regular_file(&entry.path()) {
            return Ok(Some(Some(read_bounded(&entry.path())?)));
        }
    }
    Ok(None)
}

/// Takes over again each of the app's files that Dokku wrote anew, or removed, since the
/// plugin took them ([`since_taken`]). Returns those whose rewritten copy is the one Dokku's
/// plugins read in this trigger (no copy of the running deploy's stands in front of it):
/// Dokku's app-json, which runs before this plugin in every trigger, has just run that phase's
/// tasks from it.
///
/// Where the plugin `replaces` Dokku's app-json on a Dokku that runs it, a file never recorded
/// that has tasks counts as rewritten too: the app was deployed while the plugin was disabled
/// (or its takeover failed), and Dokku's app-json runs them.
pub fn take_over_rewritten(host: &Host, app: &App, replaces: bool) -> Result<Vec<DokkuFile>> {
    let recorded = originals_dir(host, app)
        .symlink_metadata()
        .is_ok_and(|meta| meta.is_dir());
    let unrecorded_count = replaces && dokku::fires_release_builder(host);
    if !recorded && !unrecorded_count {
        return Ok(Vec::new());
    }
    let _turn = takeover_turn(host, app)?;
    let mut read_by_dokku = Vec::new();
    for file in DokkuFile::ALL {
        let rewritten = match since_taken(host, app, file)? {
            Since::Rewritten => true,
            Since::Unknown => unrecorded_count && has_tasks(file, &file.persisted(host, app))?,
            Since::Unchanged => false,
        };
        if !rewritten {
            continue;
        }
        let persisted = file.persisted(host, app);
        if take_over_anew(host, app, file)? == Some(true)
            && file.in_effect(host, app).as_deref() == Some(persisted.as_path())
        {
            read_by_dokku.push(file);
        }
    }
    Ok(read_by_dokku)
}

/// Whether the regular file at `path` holds tasks of `file`'s kind that Dokku's app-json runs.
fn has_tasks(file: DokkuFile, path: &Path) -> Result<bool> {
    if !is_regular_file(path) {
        return Ok(false);
    }
    let bytes = read_bounded(path)?;
    Ok(without_tasks(file, &bytes, &path.display().to_string())
        .unwrap_or(None)
        .is_some())
}

/// Takes Dokku's persisted `file` over as it is now, forgetting what was kept of it: its bytes
/// become the original, or, where Dokku has none, the record says so. Returns whether it had
/// tasks, `None` where Dokku has no such file.
fn take_over_anew(host: &Host, app: &App, file: DokkuFile) -> Result<Option<bool>> {
    let persisted = file.persisted(host, app);
    let kept = original(host, app, file, "");
    if !is_regular_file(&persisted) {
        remove_if_present(&kept)?;
        remove_if_present(&left_record(&kept))?;
        write_new(host, &original(host, app, file, ".missing"), b"")?;
        return Ok(None);
    }
    remove_if_present(&original(host, app, file, ".missing"))?;
    take_over_file(host, file, &persisted, &kept).map(Some)
}

/// Whether Dokku has no `file` for the app, the push having had none: the running deploy's
/// `core-post-extract` marker, else, where this deploy extracted none, the record the plugin's
/// `core-post-deploy` keeps of the last deploy's ([`settle_deploy`]), as Dokku's own
/// `core-post-deploy` then removes both its marker and its file. For an app a Dokku deployed
/// before the plugin came, which has no such record, the file's absence says it: Dokku reads a
/// Procfile or an app.json it has not persisted as none (`ps`'s `hasProcfile`).
pub fn marked_missing(host: &Host, app: &App, file: DokkuFile) -> bool {
    if let Some(pid) = host.dokku_pid.as_deref() {
        if file.missing_marker(host, app, pid).exists() {
            return true;
        }
        if file.deploy_copy(host, app, pid).exists() {
            return false;
        }
    }
    original(host, app, file, ".missing").exists()
        || (dokku::fires_release_builder(host)
            && dokku::deployed(host, app)
            && file.persisted(host, app).symlink_metadata().is_err())
}

/// `post-extract`: the running deploy's copies, which Dokku's `core-post-extract` just wrote,
/// are kept as they came and rewritten without their tasks. Returns the files that held tasks.
pub fn take_over_deploy(host: &Host, app: &App) -> Result<Vec<&'static str>> {
    let Some(pid) = host.dokku_pid.clone() else {
        return Ok(Vec::new());
    };
    let _turn = takeover_turn(host, app)?;
    let mut taken = Vec::new();
    for file in DokkuFile::ALL {
        let copy = file.deploy_copy(host, app, &pid);
        let missing = file.missing_marker(host, app, &pid);
        if !copy.exists() && !missing.exists() {
            continue;
        }
        forget_deploy_originals(host, app, file)?;
        let kept = original(host, app, file, &format!(".{pid}"));
        if missing.exists() {
            write_new(host, &suffixed(&kept, ".missing"), b"")?;
        } else if take_over_file(host, file, &copy, &kept)? {
            taken.push(file.name);
        }
    }
    Ok(taken)
}

/// `core-post-deploy`: the deploy's originals, and the records of what was left in its copies,
/// become the app's, as Dokku moves its copies.
pub fn settle_deploy(host: &Host, app: &App) -> Result<()> {
    let Some(pid) = host.dokku_pid.clone() else {
        return Ok(());
    };
    let _turn = takeover_turn(host, app)?;
    for file in DokkuFile::ALL {
        let kept = original(host, app, file, &format!(".{pid}"));
        let missing = suffixed(&kept, ".missing");
        let persisted = original(host, app, file, "");
        let none = original(host, app, file, ".missing");
        if is_regular_file(&kept) {
            // The record first: cut short between the two, the next trigger reads the old
            // original once more, but never takes the new file for a rewrite and loses it.
            move_or_remove(&left_record(&kept), &left_record(&persisted))?;
            fs::rename(&kept, &persisted)
                .with_context(|| format!("moving {} into place", kept.display()))?;
            remove_if_present(&none)?;
        } else if missing.exists() {
            // Dokku now has no such file: the record says so to later triggers, which must not
            // read the image's instead ([`marked_missing`]).
            remove_if_present(&persisted)?;
            remove_if_present(&left_record(&persisted))?;
            fs::rename(&missing, &none)
                .with_context(|| format!("moving {} into place", missing.display()))?;
        }
    }
    Ok(())
}

/// Takes over the files Dokku keeps for an app deployed before (at install, or when
/// `core-tasks` becomes `replace`): each is kept, with or without tasks, and what is left of it
/// recorded. A file already taken over and unchanged stays as it is; one Dokku wrote anew, or
/// removed, is taken over as it is now. Returns the files that held tasks.
pub fn take_over_app(host: &Host, app: &App) -> Result<Vec<&'static str>> {
    let taken_over_before = originals_dir(host, app).symlink_metadata().is_ok();
    let _turn = takeover_turn(host, app)?;
    let mut taken = Vec::new();
    for file in DokkuFile::ALL {
        let persisted = file.persisted(host, app);
        let kept = original(host, app, file, "");
        match since_taken(host, app, file)? {
            Since::Unchanged => continue,
            Since::Rewritten => {
                if take_over_anew(host, app, file)? == Some(true) {
                    taken.push(file.name);
                }
                continue;
            }
            Since::Unknown => {}
        }
        if !is_regular_file(&persisted) {
            // Recorded as none where Dokku deployed the app without it (as [`marked_missing`]
            // reads it there), so that one it writes later is seen.
            if dokku::fires_release_builder(host) && dokku::deployed(host, app) {
                take_over_anew(host, app, file)?;
            }
            continue;
        }
        // Taken over by a build that recorded nothing: Dokku's file is what it left, unless it
        // has tasks again (the plugin always took them out).
        if is_regular_file(&kept) && !has_tasks(file, &persisted)? {
            write_new(host, &left_record(&kept), &read_bounded(&persisted)?)?;
            continue;
        }
        if take_over_file(host, file, &persisted, &kept)? {
            taken.push(file.name);
        }
    }
    // Dokku's app-json marks Heroku's one-time postdeploy as run before this plugin runs it (in
    // its `post-release-builder`, finding no release to wait for), so that mark is read only
    // at an app's first takeover, for what Dokku itself ran before. Once the plugin has taken
    // the app over, the mark may stand for a first deploy whose release failed here.
    if !taken_over_before && dokku::heroku_postdeploy_executed(host, app) {
        crate::deploy::record_first_deploy_task(host, app)?;
    }
    Ok(taken)
}

/// Gives Dokku its tasks back: every kept original is restored over the Dokku file it was taken
/// from, and the originals are forgotten. Returns whether anything was restored.
pub fn hand_back(host: &Host, app: &App) -> Result<bool> {
    let dir = originals_dir(host, app);
    if !dir.symlink_metadata().is_ok_and(|meta| meta.is_dir()) {
        return Ok(false);
    }
    let _turn = takeover_turn(host, app)?;
    let mut restored = false;
    for file in DokkuFile::ALL {
        let persisted = file.persisted(host, app);
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(suffix) = name.strip_prefix(file.name) else {
                continue;
            };
            let record = suffix.ends_with(".missing") || suffix.ends_with(".left");
            if record || !is_regular_file(&entry.path()) {
                continue;
            }
            let target = suffixed(&persisted, suffix);
            // Not over a file Dokku wrote anew since: that one is newer than the original.
            let record = left_record(&entry.path());
            let rewritten = is_regular_file(&record)
                && is_regular_file(&target)
                && read_bounded(&record)? != read_bounded(&target)?;
            if is_regular_file(&target) && !rewritten {
                let bytes = read_bounded(&entry.path())?;
                replace_file(&target, &bytes)?;
                restored = true;
            }
        }
    }
    fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(restored)
}

/// Moves the kept originals with an app that `apps:rename` or `apps:clone` copies: the new app's
/// Dokku files are the old one's, stripped the same way.
pub fn copy_originals(host: &Host, from: &App, to: &App) -> Result<()> {
    let source = originals_dir(host, from);
    if !source.symlink_metadata().is_ok_and(|meta| meta.is_dir()) {
        return Ok(());
    }
    let target = originals_dir(host, to);
    host.ownership().create_dir_all(&target)?;
    for entry in fs::read_dir(&source).with_context(|| format!("reading {}", source.display()))? {
        let entry = entry?;
        if is_regular_file(&entry.path()) {
            let bytes = read_bounded(&entry.path())?;
            host.ownership()
                .write(&target.join(entry.file_name()), bytes)?;
        }
    }
    Ok(())
}

/// Keeps `dokku_path` as `kept`, records what is left of it, and rewrites it without its tasks
/// where it has any. A file that Dokku's own parser would refuse is left alone for Dokku to
/// report. Returns whether it had tasks.
///
/// The record is written before Dokku's file: a run cut short between them leaves a record
/// that Dokku's file does not match yet, which the next trigger takes for a rewrite and so
/// takes over again, from a file that still has its tasks.
fn take_over_file(host: &Host, file: DokkuFile, dokku_path: &Path, kept: &Path) -> Result<bool> {
    if !is_regular_file(dokku_path) {
        return Ok(false);
    }
    let bytes = read_bounded(dokku_path)?;
    let origin = dokku_path.display().to_string();
    let stripped = without_tasks(file, &bytes, &origin).unwrap_or(None);
    write_new(host, kept, &bytes)?;
    write_new(
        host,
        &left_record(kept),
        stripped.as_deref().unwrap_or(&bytes),
    )?;
    match stripped {
        Some(stripped) => {
            replace_file(dokku_path, &stripped)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// `bytes` of `file` without the tasks Dokku's app-json would run from it; `None` when it has
/// none.
fn without_tasks(file: DokkuFile, bytes: &[u8], origin: &str) -> Result<Option<Vec<u8>>> {
    if file == dokku::APP_JSON {
        Ok(app_json::without_tasks(bytes, origin)?)
    } else {
        Ok(procfile::without_release(bytes, origin)?)
    }
}

/// Removes the originals an earlier deploy of this app left for its own copies
/// (`NAME.PID`, `NAME.PID.missing`), as Dokku's extraction removes every `NAME.*` beside its
/// copy; the app's record of none (`NAME.missing`) stays until this deploy settles.
fn forget_deploy_originals(host: &Host, app: &App, file: DokkuFile) -> Result<()> {
    let dir = originals_dir(host, app);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    let prefix = format!("{}.", file.name);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // A deploy's (`NAME.PID`, `NAME.PID.missing`), not the app's record of none.
        let of_a_deploy = name
            .strip_prefix(&prefix)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        if of_a_deploy {
            remove_if_present(&entry.path())?;
        }
    }
    Ok(())
}

/// Whether `path` is a regular file itself, not a link to one.
fn is_regular_file(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|meta| meta.is_file())
}

/// A regular file's bytes, refused past the parsers' limit, read as every definition file is
/// ([`bounded_read::host_file`]).
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    bounded_read::required_host_file(path, MAX_BYTES, "shorten it, then deploy again")
}

/// Writes a file of the plugin's own, replacing any earlier one.
fn write_new(host: &Host, path: &Path, bytes: &[u8]) -> Result<()> {
    // Written beside it and renamed over it: cut short, the old one is still whole.
    let staged = suffixed(path, &format!(".new-{}", std::process::id()));
    remove_if_present(&staged)?;
    host.ownership().write(&staged, bytes)?;
    fs::rename(&staged, path).with_context(|| format!("replacing {}", path.display()))
}

/// Replaces a Dokku file at once (a new file renamed over it), keeping its mode and owner, so
/// that Dokku never reads half of one.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut staged = tempfile::Builder::new()
        .prefix(".deploy-tasks.")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    staged
        .write_all(bytes)
        .with_context(|| format!("writing {}", staged.path().display()))?;
    set_mode_and_owner(&staged, meta.mode(), meta.uid(), meta.gid())?;
    staged
        .persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Sets a staged file's mode and owner through its open descriptor, never through its name,
/// which whoever may write the directory could have pointed elsewhere meanwhile.
fn set_mode_and_owner(
    staged: &tempfile::NamedTempFile,
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<()> {
    let file = staged.as_file();
    file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
        .with_context(|| format!("setting the mode of {}", staged.path().display()))?;
    // Only root may give a file away; any other user already owns what it creates.
    if is_root() {
        std::os::unix::fs::fchown(file, Some(uid), Some(gid))
            .with_context(|| format!("giving {} away", staged.path().display()))?;
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Moves `from` to `to`, or, where there is no `from`, removes `to`.
fn move_or_remove(from: &Path, to: &Path) -> Result<()> {
    if is_regular_file(from) {
        fs::rename(from, to).with_context(|| format!("moving {} into place", from.display()))
    } else {
        remove_if_present(to)
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::Phase;

    const APP_JSON_WITH_TASKS: &str = r#"{
  "env": {"SECRET_KEY": {"generator": "secret"}},
  "formation": {"web": {"quantity": 2}},
  "scripts": {"dokku": {"predeploy": "make assets", "postdeploy": "make warm"}, "postdeploy": "make seed"}
}
"#;
    const PROCFILE_WITH_RELEASE: &str = "web: ./serve\nrelease: ./migrate\nworker: ./work\n";

    fn host_in(dir: &Path, pid: Option<&str>) -> Host {
        Host {
            lib_root: dir.to_path_buf(),
            dokku_pid: pid.map(str::to_string),
            ..Host::from_env(dir)
        }
    }

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    /// The tasks Dokku's app-json would find in its files, as this crate's parsers read them.
    fn dokku_tasks(host: &Host, app: &App) -> Vec<String> {
        let mut tasks = Vec::new();
        if let Some(path) = dokku::APP_JSON.in_effect(host, app) {
            let scripts = app_json::parse(read(&path).as_bytes(), "app.json").unwrap();
            for phase in Phase::ALL {
                tasks.extend(scripts.tasks(phase, false).into_iter().map(|t| t.command));
            }
        }
        if let Some(path) = dokku::PROCFILE.in_effect(host, app) {
            let procfile = procfile::parse(read(&path).as_bytes(), "Procfile").unwrap();
            tasks.extend(procfile.command("release").map(|e| e.command.clone()));
        }
        tasks
    }

    #[test]
    fn a_deploys_copies_lose_their_tasks_and_the_originals_follow_them_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), Some("4242"));
        let app = App::new("shop").unwrap();
        write(
            &dokku::APP_JSON.deploy_copy(&host, &app, "4242"),
            APP_JSON_WITH_TASKS,
        );
        write(
            &dokku::PROCFILE.deploy_copy(&host, &app, "4242"),
            PROCFILE_WITH_RELEASE,
        );

        let taken = take_over_deploy(&host, &app).unwrap();

        assert_eq!(taken, ["app.json", "Procfile"]);
        assert!(dokku_tasks(&host, &app).is_empty());
        let procfile = read(&dokku::PROCFILE.deploy_copy(&host, &app, "4242"));
        assert_eq!(procfile, "web: ./serve\nworker: ./work\n");
        let stripped = read(&dokku::APP_JSON.deploy_copy(&host, &app, "4242"));
        assert!(stripped.contains("SECRET_KEY") && stripped.contains("quantity"));
        let ours = task_definitions(&host, &app, dokku::APP_JSON).unwrap();
        assert_eq!(read(&ours), APP_JSON_WITH_TASKS);

        // Dokku's core-post-deploy (app-json's, then this plugin's, then ps's).
        for file in DokkuFile::ALL {
            fs::rename(
                file.deploy_copy(&host, &app, "4242"),
                file.persisted(&host, &app),
            )
            .unwrap();
        }
        settle_deploy(&host, &app).unwrap();

        let later = host_in(dir.path(), Some("5151"));
        assert!(dokku_tasks(&later, &app).is_empty());
        let ours = task_definitions(&later, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), PROCFILE_WITH_RELEASE);
        let ours = task_definitions(&later, &app, dokku::APP_JSON).unwrap();
        assert_eq!(read(&ours), APP_JSON_WITH_TASKS);
    }

    #[test]
    fn a_file_dokku_wrote_anew_behind_the_plugins_back_replaces_its_stale_original() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let persisted = dokku::APP_JSON.persisted(&host, &app);
        write(&persisted, APP_JSON_WITH_TASKS);
        take_over_app(&host, &app).unwrap();
        // Untouched since: nothing to take over again, and the kept original counts.
        assert!(take_over_rewritten(&host, &app, true).unwrap().is_empty());
        let ours = task_definitions(&host, &app, dokku::APP_JSON).unwrap();
        assert_eq!(read(&ours), APP_JSON_WITH_TASKS);

        // A deploy while the plugin was disabled: Dokku persisted a new app.json, tasks and all.
        let new = r#"{"scripts": {"dokku": {"postdeploy": "make new"}}}"#;
        write(&persisted, new);
        assert_eq!(
            task_definitions(&host, &app, dokku::APP_JSON),
            Some(persisted.clone())
        );

        assert_eq!(
            take_over_rewritten(&host, &app, true).unwrap(),
            [dokku::APP_JSON]
        );

        assert!(dokku_tasks(&host, &app).is_empty());
        let ours = task_definitions(&host, &app, dokku::APP_JSON).unwrap();
        assert_eq!(read(&ours), new);
        assert!(take_over_rewritten(&host, &app, true).unwrap().is_empty());

        // Rewritten again, now without any task: an install's takeover forgets the old ones.
        write(&persisted, r#"{"formation": {"web": {"quantity": 1}}}"#);
        assert!(take_over_app(&host, &app).unwrap().is_empty());
        let ours = task_definitions(&host, &app, dokku::APP_JSON).unwrap();
        assert_eq!(read(&ours), r#"{"formation": {"web": {"quantity": 1}}}"#);
    }

    #[test]
    fn what_was_left_is_compared_byte_for_byte_not_stripped_again_so_an_original_is_never_lost() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let persisted = dokku::PROCFILE.persisted(&host, &app);
        write(&persisted, PROCFILE_WITH_RELEASE);
        take_over_app(&host, &app).unwrap();
        // What an older build (or another way of stripping) left: not what stripping gives now.
        let left = "web: ./serve\nworker: ./work\n\n";
        write(&persisted, left);
        write(
            &left_record(&original(&host, &app, dokku::PROCFILE, "")),
            left,
        );

        assert!(take_over_rewritten(&host, &app, true).unwrap().is_empty());
        take_over_app(&host, &app).unwrap();

        let ours = task_definitions(&host, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), PROCFILE_WITH_RELEASE);
    }

    #[test]
    fn a_file_without_tasks_at_install_is_kept_so_that_tasks_dokku_writes_into_it_later_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let persisted = dokku::APP_JSON.persisted(&host, &app);
        write(&persisted, r#"{"formation": {"web": {"quantity": 1}}}"#);
        assert!(take_over_app(&host, &app).unwrap().is_empty());

        write(&persisted, APP_JSON_WITH_TASKS);

        assert_eq!(
            take_over_rewritten(&host, &app, true).unwrap(),
            [dokku::APP_JSON]
        );
        assert!(dokku_tasks(&host, &app).is_empty());
        let ours = task_definitions(&host, &app, dokku::APP_JSON).unwrap();
        assert_eq!(read(&ours), APP_JSON_WITH_TASKS);
    }

    #[test]
    fn an_original_kept_by_a_build_that_recorded_nothing_is_adopted_as_it_stands() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let persisted = dokku::PROCFILE.persisted(&host, &app);
        let kept = original(&host, &app, dokku::PROCFILE, "");
        write(&kept, PROCFILE_WITH_RELEASE);
        write(&persisted, "web: ./serve\nworker: ./work\n");

        // No record: nothing can be told, and nothing is taken over again.
        assert!(take_over_rewritten(&host, &app, true).unwrap().is_empty());
        assert!(take_over_app(&host, &app).unwrap().is_empty());

        assert_eq!(read(&kept), PROCFILE_WITH_RELEASE);
        assert_eq!(read(&left_record(&kept)), "web: ./serve\nworker: ./work\n");
        assert_eq!(
            since_taken(&host, &app, dokku::PROCFILE).unwrap(),
            Since::Unchanged
        );
    }

    #[test]
    fn a_file_dokku_removed_since_leaves_a_record_of_none_and_no_stale_original() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let persisted = dokku::APP_JSON.persisted(&host, &app);
        write(&persisted, APP_JSON_WITH_TASKS);
        take_over_app(&host, &app).unwrap();
        fs::remove_file(&persisted).unwrap();

        assert!(take_over_rewritten(&host, &app, true).unwrap().is_empty());

        assert!(!original(&host, &app, dokku::APP_JSON, "").exists());
        assert!(marked_missing(&host, &app, dokku::APP_JSON));
        assert_eq!(task_definitions(&host, &app, dokku::APP_JSON), None);
    }

    /// A host in `dir` that looks like a Dokku whose app-json fires `pre-release-builder`.
    fn dokku_in(dir: &Path) -> Host {
        write(
            &dir.join("core-plugins/available/app-json/pre-release-builder"),
            "",
        );
        host_in(dir, None)
    }

    #[test]
    fn handing_back_never_restores_an_original_over_a_file_dokku_wrote_anew() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let persisted = dokku::APP_JSON.persisted(&host, &app);
        write(&persisted, APP_JSON_WITH_TASKS);
        take_over_app(&host, &app).unwrap();
        let newer = r#"{"scripts": {"dokku": {"postdeploy": "make new"}}}"#;
        write(&persisted, newer);

        hand_back(&host, &app).unwrap();

        assert_eq!(read(&persisted), newer);
        assert!(!originals_dir(&host, &app).exists());
    }

    #[test]
    fn a_file_never_recorded_with_tasks_dokku_runs_is_taken_over_where_the_plugin_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let host = dokku_in(dir.path());
        let app = App::new("shop").unwrap();
        let persisted = dokku::APP_JSON.persisted(&host, &app);
        // Deployed while the plugin was disabled, before it ever took the app over.
        write(&persisted, APP_JSON_WITH_TASKS);

        assert!(take_over_rewritten(&host, &app, false).unwrap().is_empty());
        assert_eq!(read(&persisted), APP_JSON_WITH_TASKS);
        assert_eq!(
            take_over_rewritten(&host, &app, true).unwrap(),
            [dokku::APP_JSON]
        );
        assert!(dokku_tasks(&host, &app).is_empty());
        // Not where no Dokku runs them.
        let elsewhere = tempfile::tempdir().unwrap();
        let plain = host_in(elsewhere.path(), None);
        write(
            &dokku::APP_JSON.persisted(&plain, &app),
            APP_JSON_WITH_TASKS,
        );
        assert!(take_over_rewritten(&plain, &app, true).unwrap().is_empty());
    }

    #[test]
    fn the_procfile_dokkus_ps_is_about_to_move_into_place_is_not_taken_for_a_rewrite() {
        // The deploy's `dokku` process runs: this test's own.
        let pid = std::process::id().to_string();
        let dir = tempfile::tempdir().unwrap();
        let deploying = host_in(dir.path(), Some(&pid));
        let app = App::new("shop").unwrap();
        write(&dokku::PROCFILE.persisted(&deploying, &app), "web: ./old\n");
        write(
            &dokku::PROCFILE.deploy_copy(&deploying, &app, &pid),
            PROCFILE_WITH_RELEASE,
        );
        take_over_deploy(&deploying, &app).unwrap();
        // This plugin's core-post-deploy has run, ps's not yet.
        settle_deploy(&deploying, &app).unwrap();
        let later = host_in(dir.path(), None);

        assert!(take_over_rewritten(&later, &app, true).unwrap().is_empty());
        let ours = task_definitions(&later, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), PROCFILE_WITH_RELEASE);

        // ps's moves it; a failed deploy's leftover copy, its process gone, is no deploy in
        // flight: an edit of Dokku's file after it is seen.
        fs::rename(
            dokku::PROCFILE.deploy_copy(&deploying, &app, &pid),
            dokku::PROCFILE.persisted(&later, &app),
        )
        .unwrap();
        let stripped = read(&dokku::PROCFILE.persisted(&later, &app));
        write(
            &dokku::PROCFILE.deploy_copy(&later, &app, "999999999"),
            &stripped,
        );
        write(
            &dokku::PROCFILE.persisted(&later, &app),
            "web: ./edited\nrelease: ./new\n",
        );
        assert_eq!(
            since_taken(&later, &app, dokku::PROCFILE).unwrap(),
            Since::Rewritten
        );
    }

    #[test]
    fn a_deployed_apps_missing_file_is_recorded_as_none_only_where_dokku_reads_it_so() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new("shop").unwrap();
        let plain = host_in(dir.path(), None);
        write(
            &dokku::property_dir(&plain, "common", app.name()).join("deployed"),
            "true",
        );
        write(&dokku::PROCFILE.persisted(&plain, &app), "web: ./serve\n");
        take_over_app(&plain, &app).unwrap();
        assert!(!original(&plain, &app, dokku::APP_JSON, ".missing").exists());

        let host = dokku_in(dir.path());
        take_over_app(&host, &app).unwrap();
        assert!(original(&host, &app, dokku::APP_JSON, ".missing").exists());
    }

    #[test]
    fn a_file_dokku_wrote_where_the_plugin_recorded_none_is_taken_over_and_the_record_goes() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let none = original(&host, &app, dokku::PROCFILE, ".missing");
        write(&none, "");
        let persisted = dokku::PROCFILE.persisted(&host, &app);
        write(&persisted, PROCFILE_WITH_RELEASE);

        assert_eq!(
            take_over_rewritten(&host, &app, true).unwrap(),
            [dokku::PROCFILE]
        );

        assert!(!none.exists());
        assert!(!marked_missing(&host, &app, dokku::PROCFILE));
        assert_eq!(read(&persisted), "web: ./serve\nworker: ./work\n");
        let ours = task_definitions(&host, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), PROCFILE_WITH_RELEASE);
    }

    #[test]
    fn a_rewritten_file_behind_the_running_deploys_own_copy_was_not_read_by_dokku() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let persisted = dokku::APP_JSON.persisted(&host, &app);
        write(&persisted, APP_JSON_WITH_TASKS);
        take_over_app(&host, &app).unwrap();
        write(
            &persisted,
            r#"{"scripts": {"dokku": {"postdeploy": "make new"}}}"#,
        );
        let deploying = host_in(dir.path(), Some("4242"));
        write(&dokku::APP_JSON.deploy_copy(&deploying, &app, "4242"), "{}");

        assert!(take_over_rewritten(&deploying, &app, true)
            .unwrap()
            .is_empty());
        // Taken over all the same.
        assert!(!read(&persisted).contains("make new"));
    }

    #[test]
    fn dokkus_mark_of_herokus_postdeploy_counts_only_at_an_apps_first_takeover() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        write(&dokku::APP_JSON.persisted(&host, &app), APP_JSON_WITH_TASKS);
        let mark = dokku::property_dir(&host, "app-json", app.name()).join("heroku.postdeploy");
        let first_deploy_record = host.data_dir(&app).join("heroku-postdeploy");

        // Taken over, and then a first deploy whose release failed here: Dokku's app-json
        // marked the postdeploy as run all the same. An install or a `:set` takes over again.
        take_over_app(&host, &app).unwrap();
        write(&mark, "executed");
        take_over_app(&host, &app).unwrap();
        assert!(
            !first_deploy_record.exists(),
            "the mark of a takeover counted"
        );

        // An app Dokku itself deployed, and ran the postdeploy of, before the plugin came.
        let other = App::new("blog").unwrap();
        write(
            &dokku::APP_JSON.persisted(&host, &other),
            APP_JSON_WITH_TASKS,
        );
        let mark = dokku::property_dir(&host, "app-json", other.name()).join("heroku.postdeploy");
        write(&mark, "executed");
        take_over_app(&host, &other).unwrap();
        assert!(host.data_dir(&other).join("heroku-postdeploy").exists());
    }

    #[test]
    fn a_procfile_with_only_release_keeps_a_process_type_for_dokku_and_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), Some("4242"));
        let app = App::new("shop").unwrap();
        let copy = dokku::PROCFILE.deploy_copy(&host, &app, "4242");
        write(&copy, "# migrations\nrelease: ./migrate\n");

        assert_eq!(take_over_deploy(&host, &app).unwrap(), ["Procfile"]);

        // Dokku's copy has no release, and still a process: Dokku refuses a Procfile without.
        assert!(dokku_tasks(&host, &app).is_empty());
        let dokkus = procfile::parse(read(&copy).as_bytes(), "Procfile").unwrap();
        let names: Vec<&str> = dokkus.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["release-by-deploy-tasks"]);
        assert_eq!(dokkus.entries()[0].command, "true");
        let ours = task_definitions(&host, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), "# migrations\nrelease: ./migrate\n");

        fs::rename(&copy, dokku::PROCFILE.persisted(&host, &app)).unwrap();
        settle_deploy(&host, &app).unwrap();
        let later = host_in(dir.path(), None);
        assert!(hand_back(&later, &app).unwrap());
        assert_eq!(
            read(&dokku::PROCFILE.persisted(&later, &app)),
            "# migrations\nrelease: ./migrate\n"
        );
    }

    #[test]
    fn a_push_without_a_file_is_remembered_as_none_after_the_deploy() {
        let dir = tempfile::tempdir().unwrap();
        let first = host_in(dir.path(), Some("1"));
        let app = App::new("shop").unwrap();
        write(&dokku::APP_JSON.missing_marker(&first, &app, "1"), "");
        take_over_deploy(&first, &app).unwrap();
        assert!(marked_missing(&first, &app, dokku::APP_JSON));
        assert!(!marked_missing(&first, &app, dokku::PROCFILE));

        // Dokku's core-post-deploy removes its marker; the plugin's keeps the record.
        fs::remove_file(dokku::APP_JSON.missing_marker(&first, &app, "1")).unwrap();
        settle_deploy(&first, &app).unwrap();
        assert!(marked_missing(&first, &app, dokku::APP_JSON));
        assert!(marked_missing(
            &host_in(dir.path(), None),
            &app,
            dokku::APP_JSON
        ));

        // The next push has one: the record goes with its deploy's settle, and counts for
        // nothing while that deploy has its copy.
        let second = host_in(dir.path(), Some("2"));
        write(&dokku::APP_JSON.deploy_copy(&second, &app, "2"), "{}");
        take_over_deploy(&second, &app).unwrap();
        assert!(!marked_missing(&second, &app, dokku::APP_JSON));
        fs::rename(
            dokku::APP_JSON.deploy_copy(&second, &app, "2"),
            dokku::APP_JSON.persisted(&second, &app),
        )
        .unwrap();
        settle_deploy(&second, &app).unwrap();
        assert!(!marked_missing(
            &host_in(dir.path(), None),
            &app,
            dokku::APP_JSON
        ));
    }

    #[test]
    fn a_push_that_removes_a_file_or_its_tasks_drops_the_kept_original() {
        let dir = tempfile::tempdir().unwrap();
        let first = host_in(dir.path(), Some("1"));
        let app = App::new("shop").unwrap();
        write(
            &dokku::APP_JSON.persisted(&first, &app),
            APP_JSON_WITH_TASKS,
        );
        write(
            &dokku::PROCFILE.persisted(&first, &app),
            PROCFILE_WITH_RELEASE,
        );
        take_over_app(&first, &app).unwrap();

        let second = host_in(dir.path(), Some("2"));
        write(&dokku::APP_JSON.missing_marker(&second, &app, "2"), "");
        write(
            &dokku::PROCFILE.deploy_copy(&second, &app, "2"),
            "web: ./serve\n",
        );
        take_over_deploy(&second, &app).unwrap();
        assert_eq!(task_definitions(&second, &app, dokku::APP_JSON), None);
        let procfile = task_definitions(&second, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&procfile), "web: ./serve\n");

        fs::remove_file(dokku::APP_JSON.missing_marker(&second, &app, "2")).unwrap();
        fs::remove_file(dokku::APP_JSON.persisted(&second, &app)).unwrap();
        fs::rename(
            dokku::PROCFILE.deploy_copy(&second, &app, "2"),
            dokku::PROCFILE.persisted(&second, &app),
        )
        .unwrap();
        settle_deploy(&second, &app).unwrap();

        let after = host_in(dir.path(), None);
        assert_eq!(task_definitions(&after, &app, dokku::APP_JSON), None);
        let procfile = task_definitions(&after, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&procfile), "web: ./serve\n");
    }

    #[test]
    fn taking_over_twice_keeps_the_original_and_handing_back_restores_dokkus_files() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let app_json = dokku::APP_JSON.persisted(&host, &app);
        let procfile = dokku::PROCFILE.persisted(&host, &app);
        write(&app_json, APP_JSON_WITH_TASKS);
        write(&procfile, PROCFILE_WITH_RELEASE);
        fs::set_permissions(&app_json, fs::Permissions::from_mode(0o640)).unwrap();

        assert_eq!(
            take_over_app(&host, &app).unwrap(),
            ["app.json", "Procfile"]
        );
        assert!(take_over_app(&host, &app).unwrap().is_empty());
        assert!(dokku_tasks(&host, &app).is_empty());
        assert_eq!(fs::metadata(&app_json).unwrap().mode() & 0o777, 0o640);
        let ours = task_definitions(&host, &app, dokku::APP_JSON).unwrap();
        assert_eq!(read(&ours), APP_JSON_WITH_TASKS);

        assert!(hand_back(&host, &app).unwrap());
        assert_eq!(read(&app_json), APP_JSON_WITH_TASKS);
        assert_eq!(read(&procfile), PROCFILE_WITH_RELEASE);
        assert_eq!(
            task_definitions(&host, &app, dokku::APP_JSON),
            Some(app_json)
        );
        assert!(!hand_back(&host, &app).unwrap());
    }

    #[test]
    fn a_planted_link_is_neither_read_nor_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let elsewhere = dir.path().join("elsewhere.json");
        write(&elsewhere, APP_JSON_WITH_TASKS);
        let app_json = dokku::APP_JSON.persisted(&host, &app);
        fs::create_dir_all(app_json.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &app_json).unwrap();

        assert!(take_over_app(&host, &app).unwrap().is_empty());
        assert_eq!(read(&elsewhere), APP_JSON_WITH_TASKS);
    }

    #[test]
    fn a_clone_gets_the_kept_originals() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let (old, new) = (App::new("shop").unwrap(), App::new("shop-2").unwrap());
        write(
            &dokku::PROCFILE.persisted(&host, &old),
            PROCFILE_WITH_RELEASE,
        );
        take_over_app(&host, &old).unwrap();
        // Dokku's clone copies its own data directory.
        write(
            &dokku::PROCFILE.persisted(&host, &new),
            &read(&dokku::PROCFILE.persisted(&host, &old)),
        );

        copy_originals(&host, &old, &new).unwrap();

        let ours = task_definitions(&host, &new, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), PROCFILE_WITH_RELEASE);
    }
}
