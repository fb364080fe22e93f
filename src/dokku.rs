//! Dokku's own files and properties that this plugin reads or takes over: where its core plugins
//! keep an app's app.json and Procfile, the copies one deploy extracts, its properties, and which
//! triggers the host fires. Dokku's source is the reference: `plugins/common` (`CorePostExtract`,
//! `CorePostDeploy`, the property functions), `plugins/app-json` and `plugins/ps`.

use std::path::{Path, PathBuf};

use crate::app::App;
use crate::host::Host;
use crate::settings::read_property;

/// A definition file that a Dokku core plugin extracts from every pushed source and keeps for the
/// app: app.json (the `app-json` plugin) and the Procfile (`ps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DokkuFile {
    /// The core plugin that keeps it, and names its data directory.
    pub plugin: &'static str,
    /// The file's name there.
    pub name: &'static str,
}

/// `$DOKKU_LIB_ROOT/data/app-json/APP/app.json`.
pub const APP_JSON: DokkuFile = DokkuFile {
    plugin: "app-json",
    name: "app.json",
};

/// `$DOKKU_LIB_ROOT/data/ps/APP/Procfile`.
pub const PROCFILE: DokkuFile = DokkuFile {
    plugin: "ps",
    name: "Procfile",
};

impl DokkuFile {
    /// Both files, in the order Dokku's plugins run (`app-json` before `ps`).
    pub const ALL: [DokkuFile; 2] = [APP_JSON, PROCFILE];

    /// The copy the app's last finished deploy moved into place (`core-post-deploy`).
    pub fn persisted(self, host: &Host, app: &App) -> PathBuf {
        host.lib_root
            .join("data")
            .join(self.plugin)
            .join(app.name())
            .join(self.name)
    }

    /// The copy the running deploy extracted (`core-post-extract` writes `NAME.$DOKKU_PID`), which
    /// Dokku's plugins read instead of the persisted one while it exists.
    pub fn deploy_copy(self, host: &Host, app: &App, pid: &str) -> PathBuf {
        suffixed(&self.persisted(host, app), &format!(".{pid}"))
    }

    /// The marker `core-post-extract` leaves when the pushed source has no such file
    /// (`NAME.$DOKKU_PID.missing`): the deploy has none, whatever was persisted.
    pub fn missing_marker(self, host: &Host, app: &App, pid: &str) -> PathBuf {
        suffixed(&self.persisted(host, app), &format!(".{pid}.missing"))
    }

    /// What Dokku's plugins read for the app now, as `getProcessSpecificAppJSONPath` and
    /// `hasAppJSON` decide: the deploy's copy, none where the deploy marked the file missing, else
    /// the persisted copy.
    pub fn in_effect(self, host: &Host, app: &App) -> Option<PathBuf> {
        if let Some(pid) = &host.dokku_pid {
            if self.missing_marker(host, app, pid).exists() {
                return None;
            }
            let copy = self.deploy_copy(host, app, pid);
            if copy.exists() {
                return Some(copy);
            }
        }
        let persisted = self.persisted(host, app);
        persisted.exists().then_some(persisted)
    }
}

/// `PATH` with `suffix` appended to its file name.
pub fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where a Dokku plugin keeps the properties of `scope` (an app's name, or `--global`):
/// `$DOKKU_LIB_ROOT/config/PLUGIN/SCOPE`.
pub fn property_dir(host: &Host, plugin: &str, scope: &str) -> PathBuf {
    host.lib_root.join("config").join(plugin).join(scope)
}

/// The app's config files, the global one first (the app's values win): Dokku 0.38's
/// `$DOKKU_LIB_ROOT/config/--global/ENV` and `config/APP/ENV` (its config plugin's `getGlobalFile`,
/// `getAppFile`), each else where older hosts keep it (`$DOKKU_ROOT/ENV`, `$DOKKU_ROOT/APP/ENV`).
pub fn config_files(host: &Host, app: &App) -> [Option<PathBuf>; 2] {
    let first_file = |paths: [PathBuf; 2]| paths.into_iter().find(|path| path.is_file());
    [
        first_file([
            host.lib_root.join("config").join("--global").join("ENV"),
            host.dokku_root.join("ENV"),
        ]),
        first_file([
            host.lib_root.join("config").join(app.name()).join("ENV"),
            host.dokku_root.join(app.name()).join("ENV"),
        ]),
    ]
}

/// The app's docker options for deploys, one a line: the docker-options plugin's property list
/// `_default_.deploy`, else the file hosts older than 0.38 keep (`$DOKKU_ROOT/APP/DOCKER_OPTIONS_DEPLOY`).
pub fn docker_options_file(host: &Host, app: &App) -> Option<PathBuf> {
    [
        property_dir(host, "docker-options", app.name()).join("_default_.deploy"),
        host.dokku_root
            .join(app.name())
            .join("DOCKER_OPTIONS_DEPLOY"),
    ]
    .into_iter()
    .find(|path| path.is_file())
}

/// A Dokku property (`$DOKKU_LIB_ROOT/config/PLUGIN/APP/NAME`), as `common.PropertyGet` reads it.
pub fn property(host: &Host, plugin: &str, app: &App, name: &str) -> Option<String> {
    read_property(&property_dir(host, plugin, app.name()).join(name))
}

/// Whether Dokku's registry plugin may name another image than `dokku/APP:TAG` for the app's
/// deploys: a registry property that changes what its `deployed-app-repository`,
/// `deployed-app-image-repo` or `deployed-app-image-tag` answer is set, for the app or
/// globally (`server`, `image-repo`, `image-repo-template`, `push-on-release`;
/// `plugins/registry/triggers.go`).
pub fn registry_names_deploys(host: &Host, app: &App) -> bool {
    [
        "server",
        "image-repo",
        "image-repo-template",
        "push-on-release",
    ]
    .iter()
    .any(|name| {
        [app.name(), "--global"].iter().any(|scope| {
            read_property(&property_dir(host, "registry", scope).join(name))
                .is_some_and(|value| !value.trim().is_empty())
        })
    })
}

/// Whether Dokku marked the app deployed (`common` property `deployed`): its first deploy is done.
pub fn deployed(host: &Host, app: &App) -> bool {
    property(host, "common", app, "deployed").as_deref() == Some("true")
}

/// Whether app-json recorded Heroku's `scripts.postdeploy` as run (property `heroku.postdeploy`).
pub fn heroku_postdeploy_executed(host: &Host, app: &App) -> bool {
    property(host, "app-json", app, "heroku.postdeploy").as_deref() == Some("executed")
}

/// The directory of Dokku's core plugins (`PLUGIN_CORE_AVAILABLE_PATH`, by default
/// `$DOKKU_LIB_ROOT/core-plugins/available`).
pub fn core_plugins(host: &Host) -> PathBuf {
    env_dir(
        "PLUGIN_CORE_AVAILABLE_PATH",
        host.lib_root.join("core-plugins").join("available"),
    )
}

/// The directory of installed plugins (`PLUGIN_AVAILABLE_PATH`, by default
/// `$DOKKU_LIB_ROOT/plugins/available`).
pub fn available_plugins(host: &Host) -> PathBuf {
    env_dir(
        "PLUGIN_AVAILABLE_PATH",
        host.lib_root.join("plugins").join("available"),
    )
}

/// Whether Dokku's own app-json plugin is installed: then it runs the tasks it knows unless this
/// plugin takes them over.
pub fn has_app_json_plugin(host: &Host) -> bool {
    [core_plugins(host), available_plugins(host)]
        .iter()
        .any(|dir| dir.join("app-json").is_dir())
}

/// Whether the host is a Dokku that fires `pre-release-builder` and `post-release-builder`
/// (0.34 and later): its app-json plugin answers them. `install.sh` decides which trigger files
/// to install by the same test.
pub fn fires_release_builder(host: &Host) -> bool {
    [core_plugins(host), available_plugins(host)]
        .iter()
        .any(|dir| dir.join("app-json").join("pre-release-builder").exists())
}

/// The apps for which Dokku keeps an app.json or a Procfile: those whose files may hold tasks.
pub fn apps_with_files(host: &Host) -> Vec<App> {
    let mut apps: Vec<App> = Vec::new();
    for file in DokkuFile::ALL {
        let dir = host.lib_root.join("data").join(file.plugin);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            let name = entry.file_name();
            if let (true, Some(Ok(app))) = (is_dir, name.to_str().map(App::new)) {
                if !apps.contains(&app) {
                    apps.push(app);
                }
            }
        }
    }
    apps.sort_by(|a, b| a.name().cmp(b.name()));
    apps
}

fn env_dir(variable: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(variable)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .unwrap_or(default)
}
