//! The host's entry points: one function per trigger, named after it. Each parses the host's
//! arguments, runs its phase (or its part of the takeover), reports a failure in one line, and
//! returns the exit status.
//!
//! A Dokku of 0.34 or later fires `pre-release-builder` (predeploy), `post-release-builder`
//! (the release, then Heroku's one-time `scripts.postdeploy`, before the new containers are
//! scheduled) and `post-deploy` (postdeploy); `install.sh` installs these there. Other hosts fire
//! the design's `pre-deploy`, `post-release` and `post-deploy`. `post-extract`,
//! `core-post-deploy`, `install` and `uninstall` keep the takeover ([`crate::takeover`]) in step
//! with Dokku's own files; the `apps:rename`, `apps:clone` and `apps:destroy` triggers move the
//! plugin's records with the app.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::app::{App, ImageTag};
use crate::bounded_read;
use crate::deploy::{run_phase, FirstDeployTasks, PhaseEnd, PhaseRequest};
use crate::dokku;
use crate::exit_codes::ExitCode;
use crate::host::{installed_plugin_root, Host};
use crate::input_error::InputError;
use crate::interrupt;
use crate::output::Output;
use crate::phase::Phase;
use crate::plugn;
use crate::settings::{CoreTasks, Settings};
use crate::takeover;

/// The triggers [`run`] answers, by the name the host calls them.
pub const NAMES: [&str; 13] = [
    "pre-deploy",
    "post-release",
    "post-deploy",
    "pre-release-builder",
    "post-release-builder",
    "post-extract",
    "core-post-deploy",
    "install",
    "uninstall",
    "post-app-rename-setup",
    "post-app-clone-setup",
    "post-delete",
    "report",
];

/// Runs the trigger `name` with the host's arguments; `None` when no trigger has that name.
pub fn run(name: &str, args: &[String]) -> Option<ExitCode> {
    Some(match name {
        "pre-deploy" => pre_deploy(args),
        "post-release" => post_release(args),
        "post-deploy" => post_deploy(args),
        "pre-release-builder" => pre_release_builder(args),
        "post-release-builder" => post_release_builder(args),
        "post-extract" => post_extract(args),
        "core-post-deploy" => core_post_deploy(args),
        "install" => install(),
        "uninstall" => uninstall(args),
        "post-app-rename-setup" => post_app_rename_setup(args),
        "post-app-clone-setup" => post_app_clone_setup(args),
        "post-delete" => post_delete(args),
        "report" => report(args),
        _ => return None,
    })
}

/// `pre-deploy APP [IMAGE_TAG]`: runs the predeploy tasks and commits the result into
/// `dokku/APP:IMAGE_TAG`.
pub fn pre_deploy(args: &[String]) -> ExitCode {
    let Some((host, app)) = start("pre-deploy APP [IMAGE_TAG]", args, 0) else {
        return ExitCode::Failure;
    };
    phases(
        &host,
        &app,
        args.get(1).map(String::as_str),
        &[(Phase::Predeploy, FirstDeployTasks::Excluded)],
    )
}

/// `post-release APP [IMAGE_TAG]`: runs the release tasks in throwaway containers.
pub fn post_release(args: &[String]) -> ExitCode {
    let Some((host, app)) = start("post-release APP [IMAGE_TAG]", args, 0) else {
        return ExitCode::Failure;
    };
    phases(
        &host,
        &app,
        args.get(1).map(String::as_str),
        &[(Phase::Release, FirstDeployTasks::Excluded)],
    )
}

/// `post-deploy APP PORT IP [IMAGE_TAG]` (Dokku 0.38 passes PORT and IP empty): runs the
/// postdeploy tasks; on a host that does not fire `post-release-builder`, also Heroku's one-time
/// `scripts.postdeploy` on the app's first deploy.
pub fn post_deploy(args: &[String]) -> ExitCode {
    let Some((host, app)) = start("post-deploy APP PORT IP [IMAGE_TAG]", args, 0) else {
        return ExitCode::Failure;
    };
    let first_deploy = if dokku::fires_release_builder(&host) {
        FirstDeployTasks::Excluded
    } else {
        FirstDeployTasks::Included
    };
    phases_on(
        &host,
        &app,
        args.get(3).map(String::as_str),
        &[(Phase::Postdeploy, first_deploy)],
        RunsOn::DeployedImage,
    )
}

/// `pre-release-builder BUILDER APP IMAGE`: Dokku's predeploy point, after the build, before
/// the release image is labelled.
pub fn pre_release_builder(args: &[String]) -> ExitCode {
    let Some((host, app, tag)) = builder_start("pre-release-builder BUILDER APP IMAGE", args)
    else {
        return ExitCode::Failure;
    };
    phases(
        &host,
        &app,
        Some(&tag),
        &[(Phase::Predeploy, FirstDeployTasks::Excluded)],
    )
}

/// `post-release-builder BUILDER APP IMAGE`: Dokku's release point, before the new containers
/// are scheduled (a failure keeps the old ones serving): the release tasks, then, on the app's
/// first deploy, Heroku's `scripts.postdeploy`, where Dokku's app-json runs it.
pub fn post_release_builder(args: &[String]) -> ExitCode {
    let Some((host, app, tag)) = builder_start("post-release-builder BUILDER APP IMAGE", args)
    else {
        return ExitCode::Failure;
    };
    phases(
        &host,
        &app,
        Some(&tag),
        &[
            (Phase::Release, FirstDeployTasks::Excluded),
            (Phase::Postdeploy, FirstDeployTasks::Only),
        ],
    )
}

/// `post-extract APP WORK_DIR REV`: under `core-tasks replace`, takes the tasks out of the
/// copies Dokku's `core-post-extract` just made for this deploy.
pub fn post_extract(args: &[String]) -> ExitCode {
    let Some((host, app)) = start("post-extract APP WORK_DIR REV", args, 0) else {
        return ExitCode::Failure;
    };
    match replaces(&host, &app) {
        Ok(true) => {}
        Ok(false) => return ExitCode::Success,
        Err(error) => return fail(&host.output, &format!("{error:#}")),
    }
    match takeover::take_over_deploy(&host, &app) {
        Ok(taken) => {
            announce(&host, &taken);
            ExitCode::Success
        }
        Err(error) => fail(&host.output, &format!("{error:#}")),
    }
}

/// `core-post-deploy APP ...`: the deploy's kept originals move into place with Dokku's copies.
pub fn core_post_deploy(args: &[String]) -> ExitCode {
    let Some((host, app)) = start("core-post-deploy APP", args, 0) else {
        return ExitCode::Failure;
    };
    match takeover::settle_deploy(&host, &app) {
        Ok(()) => ExitCode::Success,
        Err(error) => fail(&host.output, &format!("{error:#}")),
    }
}

/// `install` (after `dokku plugin:install` and `plugin:update`, and on every Dokku upgrade):
/// every app Dokku keeps files for is taken over, or handed back, as its `core-tasks` says.
pub fn install() -> ExitCode {
    let host = Host::from_env(&installed_plugin_root());
    if let Err(error) = interrupt::install() {
        return fail(&host.output, &format!("{error:#}"));
    }
    for app in dokku::apps_with_files(&host) {
        if let Err(error) = align(&host, &app) {
            return fail(&host.output, &format!("{}: {error:#}", app.name()));
        }
    }
    ExitCode::Success
}

/// `uninstall PLUGIN` (`dokku plugin:uninstall`, fired for every plugin): when this plugin goes
/// (whatever name it was installed under), Dokku gets every app's tasks back.
pub fn uninstall(args: &[String]) -> ExitCode {
    let host = Host::from_env(&installed_plugin_root());
    if let Err(error) = interrupt::install() {
        return fail(&host.output, &format!("{error:#}"));
    }
    // Dokku names the plugin by its directory (`plugin:install URL --name NAME`): the trigger
    // fires for every plugin with the name of the one going.
    let installed_as = installed_plugin_root()
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    if args.first() != installed_as.as_ref() {
        return ExitCode::Success;
    }
    for app in dokku::apps_with_files(&host) {
        match takeover::hand_back(&host, &app) {
            Ok(true) => host.output.detail(&format!(
                "Gave {}'s deployment tasks back to Dokku's app-json plugin",
                app.name()
            )),
            Ok(false) => {}
            Err(error) => return fail(&host.output, &format!("{}: {error:#}", app.name())),
        }
    }
    ExitCode::Success
}

/// `post-app-rename-setup OLD NEW`: the new app keeps the old one's settings, records and kept
/// originals (Dokku then destroys the old app, firing `post-delete OLD`).
pub fn post_app_rename_setup(args: &[String]) -> ExitCode {
    copy_app(args, "post-app-rename-setup OLD_APP NEW_APP", true)
}

/// `post-app-clone-setup OLD NEW`: the clone gets the old app's settings and kept originals, not
/// its history: it has run nothing yet. But for Heroku's one-time postdeploy: where it ran for
/// the old app, the clone (which gets its config, database URL included) does not run it,
/// as Dokku's app-json clones its own mark (`TriggerPostAppCloneSetup`, `PropertyClone`).
pub fn post_app_clone_setup(args: &[String]) -> ExitCode {
    copy_app(args, "post-app-clone-setup OLD_APP NEW_APP", false)
}

/// `post-delete APP`: the app's settings and records go with it.
pub fn post_delete(args: &[String]) -> ExitCode {
    let Some((host, app)) = start("post-delete APP", args, 0) else {
        return ExitCode::Failure;
    };
    for dir in [host.data_dir(&app).to_path_buf(), settings_dir(&host, &app)] {
        if let Err(error) = remove_dir(&dir) {
            return fail(&host.output, &format!("{error:#}"));
        }
    }
    ExitCode::Success
}

/// `report APP`: the app's deploy-tasks report, which `dokku report APP` (and `--all`) shows
/// beside every other plugin's, as `deploy-tasks:report APP` shows it.
pub fn report(args: &[String]) -> ExitCode {
    let host = Host::from_env(&installed_plugin_root());
    match args {
        [app] => crate::operator_commands::report::report(&host, std::slice::from_ref(app)),
        _ => fail(&host.output, "usage: report APP"),
    }
}

/// Takes `app` over, or hands it back, as its `core-tasks` setting says now.
pub fn align(host: &Host, app: &App) -> Result<()> {
    if replaces(host, app)? {
        let taken = takeover::take_over_app(host, app)?;
        if !taken.is_empty() {
            host.output.detail(&format!(
                "deploy-tasks took over {}'s tasks in {} from Dokku's app-json plugin",
                app.name(),
                taken.join(" and ")
            ));
        }
    } else if takeover::hand_back(host, app)? {
        host.output.detail(&format!(
            "Gave {}'s deployment tasks back to Dokku's app-json plugin",
            app.name()
        ));
    }
    Ok(())
}

/// Whether the plugin takes `app`'s tasks over from Dokku's app-json (`core-tasks replace`).
fn replaces(host: &Host, app: &App) -> Result<bool> {
    let settings = Settings::of(host, app);
    Ok(settings.core_tasks(host)? == CoreTasks::Replace)
}

/// Says who runs the tasks, where Dokku's app-json is about to say it found none.
fn announce(host: &Host, taken: &[&str]) {
    if !taken.is_empty() {
        host.output.detail(&format!(
            "deploy-tasks runs the tasks of {} (core-tasks replace): Dokku's app-json plugin will find none",
            taken.join(" and ")
        ));
    }
}

/// The trigger's start: signals handled, arguments checked, the app named by argument
/// `app_index` valid. `None` when not, the usage or the error already reported.
fn start(usage: &str, args: &[String], app_index: usize) -> Option<(Host, App)> {
    let host = Host::from_env(&installed_plugin_root());
    if let Err(error) = interrupt::install() {
        host.output.error(&format!("{error:#}"));
        return None;
    }
    if args.len() <= app_index
        || args
            .first()
            .is_some_and(|arg| arg == "--help" || arg == "-h")
    {
        host.output.error(&format!("usage: {usage}"));
        return None;
    }
    match App::new(&args[app_index]) {
        Ok(app) => Some((host, app)),
        Err(error) => {
            host.output.error(&error.to_string());
            None
        }
    }
}

/// [`start`] for Dokku's builder triggers (`BUILDER APP IMAGE`), with the image's tag.
fn builder_start(usage: &str, args: &[String]) -> Option<(Host, App, String)> {
    let (host, app) = start(usage, args, 1)?;
    match image_tag(&app, args.get(2)) {
        Ok(tag) => Some((host, app, tag)),
        Err(error) => {
            host.output.error(&error.to_string());
            None
        }
    }
}

/// Runs each phase in turn, stopping at the first that does not end well.
fn phases(
    host: &Host,
    app: &App,
    tag: Option<&str>,
    phases: &[(Phase, FirstDeployTasks)],
) -> ExitCode {
    phases_on(host, app, tag, phases, RunsOn::TagsImage)
}

/// Which image a trigger's phases run on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RunsOn {
    /// `dokku/APP:TAG`: the image a builder trigger names, or the tag's.
    TagsImage,
    /// The image Dokku deploys at the tag, which its registry plugin may name otherwise
    /// ([`plugn::deploying_image`]), as Dokku's app-json runs its postdeploy there.
    DeployedImage,
}

/// [`phases`] on the image `runs_on` names.
fn phases_on(
    host: &Host,
    app: &App,
    tag: Option<&str>,
    phases: &[(Phase, FirstDeployTasks)],
    runs_on: RunsOn,
) -> ExitCode {
    let tag = match ImageTag::new(tag) {
        Ok(tag) => tag,
        Err(error) => return fail(&host.output, &error.to_string()),
    };
    // Asked of Dokku only where its registry is set up: three plugn runs cost a deploy about
    // 0.2 s, and without a registry setting their answer is `dokku/APP:TAG`.
    let deployed = runs_on == RunsOn::DeployedImage
        && dokku::fires_release_builder(host)
        && plugn::available()
        && dokku::registry_names_deploys(host, app);
    let image = if deployed {
        match plugn::deploying_image(app, &tag) {
            Ok(name) => Some(name),
            Err(error) => return fail(&host.output, &format!("{error:#}")),
        }
    } else {
        None
    };
    for &(phase, first_deploy_tasks) in phases {
        let key = format!("{phase} {first_deploy_tasks:?}");
        match ran_in_this_deploy(host, app, &key) {
            Ok(true) => {
                host.output.detail(&format!(
                    "The {phase} tasks already ran in this deploy (DOKKU_PID {}): not again",
                    host.dokku_pid.as_deref().unwrap_or_default()
                ));
                continue;
            }
            Ok(false) => {}
            Err(error) => return fail(&host.output, &format!("{error:#}")),
        }
        let request = PhaseRequest {
            app: app.clone(),
            tag: tag.clone(),
            phase,
            first_deploy_tasks,
            obey_skip: true,
            commit: true,
            dokku_checked_first: dokku::fires_release_builder(host),
            image: image.clone(),
            image_may_be_gone: runs_on == RunsOn::DeployedImage,
        };
        let code = exit_code(host, run_phase(host, &request));
        if code != ExitCode::Success {
            return code;
        }
    }
    ExitCode::Success
}

/// Whether the phase run `key` already ran in the running Dokku deploy (one `DOKKU_PID`),
/// recording it when not: a host that fires two triggers for one phase (Dokku's registry plugin
/// fires `pre-deploy` after `pre-release-builder` where both are installed) runs it once.
/// Outside a Dokku deploy (no `DOKKU_PID`), every run counts.
fn ran_in_this_deploy(host: &Host, app: &App, key: &str) -> Result<bool> {
    let Some(pid) = &host.dokku_pid else {
        return Ok(false);
    };
    let deploy = deploy_identity(pid);
    let record = host.data_dir(app).join("this-deploy");
    // The record is the plugin's own: bounded, never through a link. Unreadable, it is none.
    let text = bounded_read::host_file(&record, 64 * 1024)
        .ok()
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.first() != Some(&deploy.as_str()) {
        lines = vec![deploy.as_str()];
    }
    if lines[1..].contains(&key) {
        return Ok(true);
    }
    lines.push(key);
    host.data_dir(app).create()?;
    let _ = std::fs::remove_file(&record);
    host.ownership().write(&record, lines.join("\n") + "\n")?;
    Ok(false)
}

/// The running Dokku deploy, told apart from an earlier one that had the same `DOKKU_PID` (PIDs
/// come round again, and the boot's `ps:restore` may get the same one each boot): the PID and
/// that process's start time, when it runs here.
fn deploy_identity(pid: &str) -> String {
    match process_start_time(pid) {
        Some(started) => format!("{pid} started {started}"),
        None => pid.to_string(),
    }
}

/// A process's start time, in clock ticks since boot (`/proc/PID/stat`, field 22).
fn process_start_time(pid: &str) -> Option<String> {
    if pid.is_empty() || !pid.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let stat = bounded_read::host_file(Path::new(&format!("/proc/{pid}/stat")), 4096).ok()??;
    let stat = String::from_utf8_lossy(&stat);
    // The command's name, in parentheses, may hold anything: fields count after its end.
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(19).map(str::to_string)
}

/// The tag of the image Dokku names (`dokku/APP:TAG`); another repository is refused, as the
/// plugin runs and commits into the app's own.
fn image_tag(app: &App, image: Option<&String>) -> Result<String, InputError> {
    let image = image.map(String::as_str).unwrap_or_default();
    let (repository, tag) = match image.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (image, "latest"),
    };
    if repository != app.image_repository() {
        return Err(InputError::new(
            format!("image `{image}`"),
            format!("is not in the app's repository {}", app.image_repository()),
            "let Dokku's builder name the image (dokku/APP:TAG)",
        ));
    }
    Ok(tag.to_string())
}

/// Maps how a phase ended to the exit status; an error is reported here, in one line.
pub fn exit_code(host: &Host, result: anyhow::Result<PhaseEnd>) -> ExitCode {
    match result {
        Ok(PhaseEnd::Done) => ExitCode::Success,
        Ok(PhaseEnd::Failed) => ExitCode::Failure,
        Ok(PhaseEnd::TimedOut) => ExitCode::Timeout,
        Ok(PhaseEnd::Interrupted(signal)) => ExitCode::Signal(signal),
        Err(error) => {
            if let Some(signal) = interrupt::received() {
                host.output.error(&format!("{error:#}"));
                return ExitCode::Signal(signal);
            }
            fail(&host.output, &format!("{error:#}"))
        }
    }
}

fn copy_app(args: &[String], usage: &str, with_records: bool) -> ExitCode {
    let Some((host, old)) = start(usage, args, 0) else {
        return ExitCode::Failure;
    };
    let new = match args.get(1).map(|name| App::new(name)) {
        Some(Ok(new)) => new,
        Some(Err(error)) => return fail(&host.output, &error.to_string()),
        None => return fail(&host.output, &format!("usage: {usage}")),
    };
    let result = (|| -> Result<()> {
        copy_dir(
            &host,
            &settings_dir(&host, &old),
            &settings_dir(&host, &new),
        )?;
        if with_records {
            copy_dir(&host, &host.data_dir(&old), &host.data_dir(&new))
        } else {
            takeover::copy_originals(&host, &old, &new)?;
            let ran = crate::deploy::first_deploy_record(&host, &old);
            if let Some(bytes) = bounded_read::host_file(&ran, RECORD_LIMIT)? {
                host.data_dir(&new).create()?;
                host.ownership()
                    .write(&crate::deploy::first_deploy_record(&host, &new), bytes)?;
            }
            Ok(())
        }
    })();
    match result {
        Ok(()) => ExitCode::Success,
        Err(error) => fail(&host.output, &format!("{error:#}")),
    }
}

/// `$DOKKU_LIB_ROOT/config/deploy-tasks/APP`: the app's settings.
fn settings_dir(host: &Host, app: &App) -> PathBuf {
    host.lib_root
        .join("config")
        .join(crate::operator_commands::PLUGIN)
        .join(app.name())
}

/// The largest file of the plugin's records a rename or clone copies.
const RECORD_LIMIT: usize = 16 * 1024 * 1024;

/// Copies the regular files of `from` (and of its directories) into `to`; links are not followed.
fn copy_dir(host: &Host, from: &Path, to: &Path) -> Result<()> {
    if !from.symlink_metadata().is_ok_and(|meta| meta.is_dir()) {
        return Ok(());
    }
    host.ownership().create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(host, &entry.path(), &target)?;
        } else if kind.is_file() {
            // The plugin's records stay far below this (history rotates at 1 MiB).
            if let Some(bytes) = bounded_read::host_file(&entry.path(), RECORD_LIMIT)? {
                host.ownership().write(&target, bytes)?;
            }
        }
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn fail(output: &Output, message: &str) -> ExitCode {
    output.error(message);
    ExitCode::Failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_runs_once_per_dokku_deploy() {
        let dir = tempfile::tempdir().unwrap();
        let host = |pid: Option<&str>| Host {
            lib_root: dir.path().to_path_buf(),
            dokku_pid: pid.map(str::to_string),
            ..Host::from_env(dir.path())
        };
        let app = App::new("shop").unwrap();
        let (first, second) = (host(Some("10")), host(Some("11")));
        assert!(!ran_in_this_deploy(&first, &app, "predeploy Excluded").unwrap());
        assert!(!ran_in_this_deploy(&first, &app, "release Excluded").unwrap());
        assert!(ran_in_this_deploy(&first, &app, "predeploy Excluded").unwrap());
        assert!(!ran_in_this_deploy(&second, &app, "predeploy Excluded").unwrap());
        assert!(!ran_in_this_deploy(&host(None), &app, "predeploy Excluded").unwrap());
        assert!(!ran_in_this_deploy(&host(None), &app, "predeploy Excluded").unwrap());
    }

    #[test]
    fn a_later_deploy_with_the_same_pid_is_another_deploy() {
        let dir = tempfile::tempdir().unwrap();
        let pid = std::process::id().to_string();
        let host = Host {
            lib_root: dir.path().to_path_buf(),
            dokku_pid: Some(pid.clone()),
            ..Host::from_env(dir.path())
        };
        let app = App::new("shop").unwrap();
        assert!(deploy_identity(&pid).starts_with(&format!("{pid} started ")));
        // What a deploy that had this PID before, in another process, left.
        host.data_dir(&app).create().unwrap();
        std::fs::write(
            host.data_dir(&app).join("this-deploy"),
            format!("{pid} started 1\npredeploy Excluded\n"),
        )
        .unwrap();

        assert!(!ran_in_this_deploy(&host, &app, "predeploy Excluded").unwrap());
        assert!(ran_in_this_deploy(&host, &app, "predeploy Excluded").unwrap());
        assert_eq!(deploy_identity("4294967294"), "4294967294");
    }

    #[test]
    fn builder_images_give_their_tag_and_other_repositories_are_refused() {
        let app = App::new("shop").unwrap();
        let tag = |image: &str| image_tag(&app, Some(&image.to_string()));
        assert_eq!(tag("dokku/shop:latest").unwrap(), "latest");
        assert_eq!(tag("dokku/shop:v12").unwrap(), "v12");
        assert_eq!(tag("dokku/shop").unwrap(), "latest");
        assert!(tag("dokku/other:latest").is_err());
        assert!(tag("registry:5000/dokku/shop").is_err());
        assert!(image_tag(&app, None).is_err());
    }
}
