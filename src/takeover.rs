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
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::app::App;
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

/// The file the plugin reads `file`'s tasks from for `app`: the kept original where the plugin
/// took the file over, else what Dokku's own plugins read ([`DokkuFile::in_effect`]).
pub fn task_definitions(host: &Host, app: &App, file: DokkuFile) -> Option<PathBuf> {
    let in_effect = file.in_effect(host, app)?;
    let kept = match dokku::dokku_pid() {
        Some(pid) if in_effect == file.deploy_copy(host, app, &pid) => {
            original(host, app, file, &format!(".{pid}"))
        }
        _ => original(host, app, file, ""),
    };
    Some(if is_regular_file(&kept) {
        kept
    } else {
        in_effect
    })
}

/// `post-extract`: the running deploy's copies, which Dokku's `core-post-extract` just wrote,
/// are kept as they came and rewritten without their tasks. Returns the files that held tasks.
pub fn take_over_deploy(host: &Host, app: &App) -> Result<Vec<&'static str>> {
    let Some(pid) = dokku::dokku_pid() else {
        return Ok(Vec::new());
    };
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

/// `core-post-deploy`: the deploy's originals become the app's, as Dokku moves its copies.
pub fn settle_deploy(host: &Host, app: &App) -> Result<()> {
    let Some(pid) = dokku::dokku_pid() else {
        return Ok(());
    };
    for file in DokkuFile::ALL {
        let kept = original(host, app, file, &format!(".{pid}"));
        let missing = suffixed(&kept, ".missing");
        let persisted = original(host, app, file, "");
        if is_regular_file(&kept) {
            fs::rename(&kept, &persisted)
                .with_context(|| format!("moving {} into place", kept.display()))?;
        } else if missing.exists() {
            remove_if_present(&persisted)?;
            remove_if_present(&missing)?;
        }
    }
    Ok(())
}

/// Takes over the files Dokku keeps for an app deployed before (at install, or when
/// `core-tasks` becomes `replace`). Returns the files that held tasks.
pub fn take_over_app(host: &Host, app: &App) -> Result<Vec<&'static str>> {
    let mut taken = Vec::new();
    for file in DokkuFile::ALL {
        let persisted = file.persisted(host, app);
        if !persisted.exists() {
            continue;
        }
        if take_over_file(host, file, &persisted, &original(host, app, file, ""))? {
            taken.push(file.name);
        }
    }
    // Dokku's app-json marks Heroku's one-time postdeploy as run before this plugin runs it, so
    // that mark is read only here, for what Dokku ran before the takeover.
    if dokku::heroku_postdeploy_executed(host, app) {
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
    let mut restored = false;
    for file in DokkuFile::ALL {
        let persisted = file.persisted(host, app);
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(suffix) = name.strip_prefix(file.name) else {
                continue;
            };
            if suffix.ends_with(".missing") || !is_regular_file(&entry.path()) {
                continue;
            }
            let target = suffixed(&persisted, suffix);
            if is_regular_file(&target) {
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

/// Keeps `dokku_path` as `kept` and rewrites it without its tasks, when it has any. A file that
/// Dokku's own parser would refuse is left alone for Dokku to report.
fn take_over_file(host: &Host, file: DokkuFile, dokku_path: &Path, kept: &Path) -> Result<bool> {
    if !is_regular_file(dokku_path) {
        return Ok(false);
    }
    let bytes = read_bounded(dokku_path)?;
    let origin = dokku_path.display().to_string();
    let stripped = match without_tasks(file, &bytes, &origin) {
        Ok(Some(stripped)) => stripped,
        Ok(None) => {
            // No task: nothing to keep, but an older original must not outlive the file.
            remove_if_present(kept)?;
            return Ok(false);
        }
        Err(_) => return Ok(false),
    };
    write_new(host, kept, &bytes)?;
    replace_file(dokku_path, &stripped)?;
    Ok(true)
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

/// Removes the originals an earlier deploy of this app left for its own copies, as Dokku's
/// extraction removes every `NAME.*` beside its copy.
fn forget_deploy_originals(host: &Host, app: &App, file: DokkuFile) -> Result<()> {
    let dir = originals_dir(host, app);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    let prefix = format!("{}.", file.name);
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            remove_if_present(&entry.path())?;
        }
    }
    Ok(())
}

/// Whether `path` is a regular file itself, not a link to one.
fn is_regular_file(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|meta| meta.is_file())
}

/// A regular file's bytes, refused past the parsers' limit.
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() > MAX_BYTES {
        anyhow::bail!(
            "{} is over {MAX_BYTES} bytes: shorten it, then deploy again",
            path.display()
        );
    }
    Ok(bytes)
}

/// Writes a file of the plugin's own, replacing any earlier one.
fn write_new(host: &Host, path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        host.ownership().create_dir_all(dir)?;
    }
    remove_if_present(path)?;
    host.ownership().write(path, bytes)
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
    fs::set_permissions(
        staged.path(),
        fs::Permissions::from_mode(meta.mode() & 0o7777),
    )?;
    // Only root may give a file away; any other user already owns what it creates.
    if is_root() {
        std::os::unix::fs::chown(staged.path(), Some(meta.uid()), Some(meta.gid()))?;
    }
    staged
        .persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}
