//! What the host tells a trigger through its environment.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use crate::docker::{self, Docker};
use crate::output::Output;
use crate::ownership::Ownership;
use crate::settings::engine_timeout;

/// The host context of one trigger run, read once from the environment.
#[derive(Debug, Clone)]
pub struct Host {
    /// `DOKKU_ROOT` (default `/home/dokku`): app directories of older hosts.
    pub dokku_root: PathBuf,
    /// `DOKKU_LIB_ROOT` (default `/var/lib/dokku`): config and data of every plugin.
    pub lib_root: PathBuf,
    /// The Docker CLI named by `DOCKER_BIN` (default `docker`), tracing when `DOKKU_TRACE` is set.
    pub docker: Docker,
    /// `DOKKU_GLOBAL_RUN_ARGS`: options every app container runs with.
    pub global_run_args: Option<String>,
    /// Where log lines go; quiet when `DOKKU_QUIET_OUTPUT` is set.
    pub output: Output,
    /// The helper binary mounted into every task container.
    pub helper: PathBuf,
    /// `DOKKU_PID`, digits only: the `dokku` command whose deploy runs the trigger, which names
    /// that deploy's extracted copies of app.json and the Procfile.
    pub dokku_pid: Option<String>,
    /// `DOKKU_TRACE` where not empty, which tasks get as Dokku's app-json gives it to them.
    pub trace: Option<String>,
}

impl Host {
    /// Reads the host context from the environment. `plugin_root` is the directory holding the
    /// running trigger, where `install.sh` puts the helper under `libexec/`.
    pub fn from_env(plugin_root: &Path) -> Host {
        let dokku_root = env_path("DOKKU_ROOT", "/home/dokku");
        let lib_root = env_path("DOKKU_LIB_ROOT", "/var/lib/dokku");
        let limit = engine_timeout(&lib_root);
        let trace = is_set("DOKKU_TRACE");
        let docker_bin = std::env::var_os("DOCKER_BIN")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("docker"));
        Host {
            dokku_root,
            lib_root,
            docker: docker::connect(
                docker_bin,
                trace,
                limit,
                std::env::var("DOKKU_DEPLOY_TASKS_ENGINE_API").map_or(true, |value| value != "0"),
            ),
            global_run_args: std::env::var("DOKKU_GLOBAL_RUN_ARGS")
                .ok()
                .filter(|args| !args.trim().is_empty()),
            output: Output::new(is_set("DOKKU_QUIET_OUTPUT")),
            helper: plugin_root.join("libexec").join("deploy-tasks-helper"),
            dokku_pid: std::env::var("DOKKU_PID")
                .ok()
                .filter(|pid| !pid.is_empty() && pid.bytes().all(|byte| byte.is_ascii_digit())),
            trace: std::env::var("DOKKU_TRACE")
                .ok()
                .filter(|value| !value.is_empty()),
        }
    }

    /// `$DOKKU_LIB_ROOT/data/deploy-tasks/APP`: this plugin's records for one app.
    pub fn data_dir(&self, app: &crate::app::App) -> DataDir {
        DataDir {
            path: self
                .lib_root
                .join("data")
                .join("deploy-tasks")
                .join(app.name()),
            ownership: self.ownership(),
        }
    }

    /// How to create directories and files under `DOKKU_LIB_ROOT`, so that what a run as root
    /// creates stays usable by the `dokku` user ([`crate::ownership`]).
    pub fn ownership(&self) -> Ownership {
        Ownership::under(&self.lib_root)
    }
}

/// An app's data directory (`$DOKKU_LIB_ROOT/data/deploy-tasks/APP`), with the [`Ownership`]
/// what is created in it gets. It is used as a [`Path`] wherever one is read.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
    ownership: Ownership,
}

impl DataDir {
    /// A data directory at `path`, whose directories and files get `ownership` when created.
    pub fn new(path: PathBuf, ownership: Ownership) -> DataDir {
        DataDir { path, ownership }
    }

    /// How what is created in it is owned.
    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// Creates the directory and its missing parents, owned as [`DataDir::ownership`] says.
    pub fn create(&self) -> anyhow::Result<()> {
        self.ownership.create_dir_all(&self.path)
    }
}

impl Deref for DataDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

fn env_path(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Dokku treats any non-empty value as set, except `0` and `false`.
fn is_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"))
}

/// The installed plugin's directory, from the running binary (symlinks resolved, since Dokku
/// runs it through `plugins/enabled/NAME`): the trigger's own directory, or the parent of
/// `libexec/` for the multi-call binary there.
pub fn installed_plugin_root() -> PathBuf {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    if exe_dir.file_name().is_some_and(|name| name == "libexec") {
        exe_dir.parent().map(PathBuf::from).unwrap_or(exe_dir)
    } else {
        exe_dir
    }
}
