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

/// The file the plugin reads `file`'s tasks from for `app`: the kept original where the plugin
/// took the file over, else what Dokku's own plugins read ([`DokkuFile::in_effect`]).
///
/// The kept original counts even where Dokku's file is gone: a Procfile whose only process is
/// `release` is taken over by removing it ([`take_over_file`]).
pub fn task_definitions(host: &Host, app: &App, file: DokkuFile) -> Option<PathBuf> {
    let extracted_by_this_deploy = host.dokku_pid.as_deref().filter(|pid| {
        file.deploy_copy(host, app, pid).exists() || file.missing_marker(host, app, pid).exists()
    });
    let kept = match extracted_by_this_deploy {
        Some(pid) => original(host, app, file, &format!(".{pid}")),
        None => original(host, app, file, ""),
    };
    if is_regular_file(&kept) {
        return Some(kept);
    }
    file.in_effect(host, app)
}

/// Whether Dokku marked `file` missing for the running deploy, the push having none: its
/// `core-post-extract` marker, not the one the takeover leaves for a Procfile it took over as
/// none (which has its kept original beside it).
pub fn marked_missing(host: &Host, app: &App, file: DokkuFile) -> bool {
    let Some(pid) = host.dokku_pid.as_deref() else {
        return false;
    };
    file.missing_marker(host, app, pid).exists()
        && !is_regular_file(&original(host, app, file, &format!(".{pid}")))
}

/// `post-extract`: the running deploy's copies, which Dokku's `core-post-extract` just wrote,
/// are kept as they came and rewritten without their tasks. Returns the files that held tasks.
pub fn take_over_deploy(host: &Host, app: &App) -> Result<Vec<&'static str>> {
    let Some(pid) = host.dokku_pid.clone() else {
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
        } else if take_over_file(host, file, &copy, Some(&missing), &kept, true)? {
            taken.push(file.name);
        }
    }
    Ok(taken)
}

/// `core-post-deploy`: the deploy's originals become the app's, as Dokku moves its copies.
pub fn settle_deploy(host: &Host, app: &App) -> Result<()> {
    let Some(pid) = host.dokku_pid.clone() else {
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
        if take_over_file(
            host,
            file,
            &persisted,
            None,
            &original(host, app, file, ""),
            false,
        )? {
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
            let marker = suffixed(&target, ".missing");
            if is_regular_file(&target) {
                let bytes = read_bounded(&entry.path())?;
                replace_file(&target, &bytes)?;
                restored = true;
            } else if file == dokku::PROCFILE
                && target.symlink_metadata().is_err()
                && (suffix.is_empty() || marker.exists())
            {
                // Removed by the takeover (a Procfile with only `release`): had Dokku removed
                // it, the original would be gone too, or be a `.missing` one.
                let bytes = read_bounded(&entry.path())?;
                create_dokku_file(&target, &bytes)?;
                remove_if_present(&marker)?;
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

/// Keeps `dokku_path` as `kept` and rewrites it without its tasks, when it has any; a file
/// without tasks is kept too when `keep_always` (a deploy's copy, which replaces the app's
/// original). A file that Dokku's own parser would refuse is left alone for Dokku to report.
///
/// A Procfile whose only process is `release` has nothing left without it, and Dokku refuses an
/// empty Procfile in every deploy: it is removed instead, as if the push had none, which is what
/// Dokku makes of it once its `release` is not Dokku's to run. A deploy's copy is then marked
/// missing (`missing_marker`), as Dokku's extraction marks a push without one, first, so that
/// Dokku never reads an empty one.
fn take_over_file(
    host: &Host,
    file: DokkuFile,
    dokku_path: &Path,
    missing_marker: Option<&Path>,
    kept: &Path,
    keep_always: bool,
) -> Result<bool> {
    if !is_regular_file(dokku_path) {
        return Ok(false);
    }
    let bytes = read_bounded(dokku_path)?;
    let origin = dokku_path.display().to_string();
    let stripped = without_tasks(file, &bytes, &origin).unwrap_or(None);
    if stripped.is_some() || keep_always {
        write_new(host, kept, &bytes)?;
    }
    match stripped {
        Some(stripped) if file == dokku::PROCFILE && !procfile::has_entries(&stripped, &origin) => {
            if let Some(marker) = missing_marker {
                host.ownership().write(marker, b"")?;
            }
            fs::remove_file(dokku_path)
                .with_context(|| format!("removing {}", dokku_path.display()))?;
            Ok(true)
        }
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

/// A regular file's bytes, refused past the parsers' limit, read as every definition file is
/// ([`bounded_read::host_file`]).
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let bytes = bounded_read::host_file(path, MAX_BYTES)?
        .with_context(|| format!("{} is gone: deploy again", path.display()))?;
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
    set_mode_and_owner(&staged, meta.mode(), meta.uid(), meta.gid())?;
    staged
        .persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Writes a Dokku file the takeover removed back at once (a new file renamed into place), as
/// Dokku's extraction leaves its files: mode 0644, owned as their directory is.
fn create_dokku_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let meta = fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut staged = tempfile::Builder::new()
        .prefix(".deploy-tasks.")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    staged
        .write_all(bytes)
        .with_context(|| format!("writing {}", staged.path().display()))?;
    set_mode_and_owner(&staged, 0o644, meta.uid(), meta.gid())?;
    staged
        .persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
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
    fn a_procfile_with_only_release_is_taken_over_as_none_and_handed_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), Some("4242"));
        let app = App::new("shop").unwrap();
        let copy = dokku::PROCFILE.deploy_copy(&host, &app, "4242");
        let marker = dokku::PROCFILE.missing_marker(&host, &app, "4242");
        write(&copy, "# migrations\nrelease: ./migrate\n");

        assert_eq!(take_over_deploy(&host, &app).unwrap(), ["Procfile"]);

        // Dokku reads no Procfile (an empty one would fail its deploy), and none is left half.
        assert!(marker.exists() && !copy.exists());
        assert_eq!(dokku::PROCFILE.in_effect(&host, &app), None);
        let ours = task_definitions(&host, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), "# migrations\nrelease: ./migrate\n");

        // Dokku's core-post-deploy for a marked file: the marker and the persisted file go.
        fs::remove_file(&marker).unwrap();
        settle_deploy(&host, &app).unwrap();

        let later = host_in(dir.path(), None);
        assert!(dokku_tasks(&later, &app).is_empty());
        let ours = task_definitions(&later, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), "# migrations\nrelease: ./migrate\n");
        assert!(hand_back(&later, &app).unwrap());
        let persisted = dokku::PROCFILE.persisted(&later, &app);
        assert_eq!(read(&persisted), "# migrations\nrelease: ./migrate\n");
        assert_eq!(fs::metadata(&persisted).unwrap().mode() & 0o777, 0o644);
    }

    #[test]
    fn a_persisted_procfile_with_only_release_is_removed_and_comes_back_with_the_hand_back() {
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path(), None);
        let app = App::new("shop").unwrap();
        let persisted = dokku::PROCFILE.persisted(&host, &app);
        write(&persisted, "release: ./migrate\n");

        assert_eq!(take_over_app(&host, &app).unwrap(), ["Procfile"]);
        assert!(!persisted.exists());
        assert!(take_over_app(&host, &app).unwrap().is_empty());
        let ours = task_definitions(&host, &app, dokku::PROCFILE).unwrap();
        assert_eq!(read(&ours), "release: ./migrate\n");

        assert!(hand_back(&host, &app).unwrap());
        assert_eq!(read(&persisted), "release: ./migrate\n");
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
