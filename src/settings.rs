//! The plugin's settings: Dokku properties under `$DOKKU_LIB_ROOT/config/deploy-tasks/`, one file
//! per key, an app's own value winning over the global one.

use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::app::App;
use crate::bounded_read;
use crate::dokku;
use crate::host::Host;
use crate::input_error::InputError;
use crate::output::{self, Stream};
use crate::phase::Phase;

/// The time limit of a task when no setting names one: 20 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// What a failed or timed-out task does to the deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// The trigger fails, and with it the deploy.
    Fail,
    /// The failure is a warning; the deploy goes on.
    Warn,
}

/// The settings of one app, read on demand.
#[derive(Debug, Clone)]
pub struct Settings {
    app_dir: PathBuf,
    global_dir: PathBuf,
    scheduler_app_dir: PathBuf,
    scheduler_global_dir: PathBuf,
}

impl Settings {
    /// The settings of `app` on this host.
    pub fn of(host: &Host, app: &App) -> Settings {
        let config = host.lib_root.join("config");
        Settings {
            app_dir: config.join("deploy-tasks").join(app.name()),
            global_dir: config.join("deploy-tasks").join("--global"),
            scheduler_app_dir: dokku::property_dir(host, "scheduler", app.name()),
            scheduler_global_dir: dokku::property_dir(host, "scheduler", "--global"),
        }
    }

    /// The global settings alone, no app's: what `deploy-tasks:report --global` computes (each
    /// key's global value, else its default).
    pub fn global(host: &Host) -> Settings {
        let global_dir = host
            .lib_root
            .join("config")
            .join("deploy-tasks")
            .join("--global");
        let scheduler_global_dir = dokku::property_dir(host, "scheduler", "--global");
        Settings {
            app_dir: global_dir.clone(),
            global_dir,
            scheduler_app_dir: scheduler_global_dir.clone(),
            scheduler_global_dir,
        }
    }

    /// The value in force for `key`: the app's, else the global one; `None` when neither is set.
    pub fn get(&self, key: &str) -> Option<String> {
        self.get_with_origin(key).map(|(value, _)| value)
    }

    /// The value in force for `key` and the file it was read from.
    pub fn get_with_origin(&self, key: &str) -> Option<(String, PathBuf)> {
        [self.app_dir.join(key), self.global_dir.join(key)]
            .into_iter()
            .find_map(|path| Some((read_property(&path)?, path)))
    }

    /// The time limit of a task: the `<phase>-timeout` setting, else the task source's own
    /// default (`source_default`), else the `timeout` setting, else 20 minutes; `0` means none.
    pub fn timeout(
        &self,
        phase: Phase,
        source_default: Option<Duration>,
    ) -> Result<Option<Duration>, InputError> {
        if let Some(Value::Seconds(limit)) = self.read(&format!("{}-timeout", phase.name()))? {
            return Ok(limit);
        }
        if let Some(limit) = source_default {
            return Ok(Some(limit));
        }
        match self.read("timeout")? {
            Some(Value::Seconds(limit)) => Ok(limit),
            _ => Ok(Some(DEFAULT_TIMEOUT)),
        }
    }

    /// The admin's `<phase>-on-failure` setting, if any: it overrides every source's own policy
    /// in that phase. `None` leaves it to the source (which fails by default).
    pub fn on_failure(&self, phase: Phase) -> Result<Option<FailurePolicy>, InputError> {
        match self.read(&format!("{}-on-failure", phase.name()))? {
            Some(Value::FailurePolicy(policy)) => Ok(Some(policy)),
            _ => Ok(None),
        }
    }

    /// Whether app.json `scripts.postdeploy` runs on every deploy (`heroku-postdeploy` is
    /// `every`, as on Scalingo) rather than on the first only (`once`, the default, as on Heroku
    /// and Dokku).
    pub fn heroku_postdeploy_every_deploy(&self) -> Result<bool, InputError> {
        Ok(matches!(
            self.read("heroku-postdeploy")?,
            Some(Value::HerokuPostdeploy { every: true })
        ))
    }

    /// Who runs the tasks Dokku's own app-json knows (`core-tasks`): the setting, else
    /// [`default_core_tasks`].
    pub fn core_tasks(&self, host: &Host) -> Result<CoreTasks, InputError> {
        match self.read("core-tasks")? {
            Some(Value::CoreTasks(mode)) => Ok(mode),
            _ => Ok(default_core_tasks(host)),
        }
    }

    /// The phases the triggers skip, and why, as `DOKKU_DEPLOY_TASKS_SKIP` (one emergency
    /// redeploy, from the trigger's environment) or else the `skip` setting says: `all` or a
    /// comma list of phases.
    pub fn skipped(&self) -> Result<Option<(Vec<Phase>, String)>, InputError> {
        let key = Key::find("skip")?;
        if let Ok(text) = std::env::var("DOKKU_DEPLOY_TASKS_SKIP") {
            if !text.trim().is_empty() {
                let origin = "DOKKU_DEPLOY_TASKS_SKIP".to_string();
                let Value::Phases(phases) = key.parse_from(text.trim(), &origin)? else {
                    return Ok(None);
                };
                return Ok(Some((phases, format!("{origin} is `{}`", text.trim()))));
            }
        }
        Ok(match self.read_with_origin("skip")? {
            Some((Value::Phases(phases), text, path)) => Some((
                phases,
                format!("the skip setting in {} is `{text}`", path.display()),
            )),
            _ => None,
        })
    }

    /// The value in force for the key `name`, parsed by its kind.
    fn read(&self, name: &str) -> Result<Option<Value>, InputError> {
        Ok(self.read_with_origin(name)?.map(|(value, _, _)| value))
    }

    /// The value in force for the key `name`, parsed by its kind (the parser `deploy-tasks:set`
    /// checks values with, so a value is accepted by both or by neither), with its text and
    /// file. A stored value the parser refuses is a one-line error naming the file.
    fn read_with_origin(&self, name: &str) -> Result<Option<(Value, String, PathBuf)>, InputError> {
        let key = Key::find(name)?;
        let Some((text, path)) = self.get_with_origin(name) else {
            return Ok(None);
        };
        let value = key.parse_from(&text, &path.display().to_string())?;
        Ok(Some((value, text, path)))
    }

    /// The shell tasks run with: this plugin's `shell` setting, else Dokku's scheduler `shell`
    /// property; `None` means the helper picks `/bin/bash` when the image has it, else `/bin/sh`.
    pub fn shell(&self) -> Option<String> {
        self.get("shell")
            .or_else(|| read_property(&self.scheduler_app_dir.join("shell")))
            .or_else(|| read_property(&self.scheduler_global_dir.join("shell")))
    }
}

/// The longest property value read; Dokku's and this plugin's are a word or a path.
const MAX_PROPERTY: usize = 64 * 1024;

/// Reads a Dokku property file: its content without one trailing newline (Dokku writes none,
/// an admin's editor may add one). A missing or empty file is unset. Read as every file of the
/// host is ([`bounded_read::host_file`]): one that is a link, a FIFO or anything but a regular
/// file, or longer than a value can be, or not UTF-8, is unset too, with a warning that says so.
pub fn read_property(path: &Path) -> Option<String> {
    let refused = |why: String| {
        output::write_line(
            Stream::Stderr,
            &format!(" !     {why}; it is read as unset\n"),
        );
        None
    };
    let bytes = match bounded_read::host_file(path, MAX_PROPERTY) {
        Ok(bytes) => bytes?,
        Err(error) => return refused(format!("{error:#}")),
    };
    if bytes.len() > MAX_PROPERTY {
        return refused(format!(
            "{} is over {MAX_PROPERTY} bytes, longer than any setting",
            path.display()
        ));
    }
    let Ok(value) = String::from_utf8(bytes) else {
        return refused(format!("{} is not UTF-8", path.display()));
    };
    let value = value.strip_suffix('\n').unwrap_or(&value);
    let value = value.strip_suffix('\r').unwrap_or(value);
    (!value.is_empty()).then(|| value.to_string())
}

/// Where a setting is stored: for one app, or for every app (`--global`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `$DOKKU_LIB_ROOT/config/deploy-tasks/--global/`: every app's, unless the app has its own.
    Global,
    /// `$DOKKU_LIB_ROOT/config/deploy-tasks/APP/`: one app's.
    App(App),
}

impl Scope {
    /// `--global`, else an app name Dokku would accept.
    pub fn parse(argument: &str) -> Result<Scope, InputError> {
        if argument == "--global" {
            Ok(Scope::Global)
        } else {
            App::new(argument).map(Scope::App)
        }
    }

    /// The directory the scope's properties are files in.
    pub fn dir(&self, host: &Host) -> PathBuf {
        let name = match self {
            Scope::Global => "--global",
            Scope::App(app) => app.name(),
        };
        host.lib_root.join("config").join("deploy-tasks").join(name)
    }
}

/// What a setting may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    /// A whole number of seconds; `0` means no limit.
    Seconds,
    /// `fail` or `warn`.
    FailurePolicy,
    /// A comma-separated list of phase names, or `all`.
    Phases,
    /// A path relative to the app's source, never leaving it.
    RelativePath,
    /// An absolute path in the image.
    AbsolutePath,
    /// `defer` or `replace`.
    CoreTasks,
    HerokuPostdeploy,
}

/// Who runs the tasks Dokku's own app-json plugin knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreTasks {
    /// Dokku's app-json runs them.
    Defer,
    /// This plugin takes them over.
    Replace,
}

impl CoreTasks {
    /// The mode as it is written (`defer`, `replace`).
    pub fn name(self) -> &'static str {
        match self {
            CoreTasks::Defer => "defer",
            CoreTasks::Replace => "replace",
        }
    }
}

/// A setting's value once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Seconds; `None` for `0`, no limit.
    Seconds(Option<Duration>),
    FailurePolicy(FailurePolicy),
    /// Every phase for `all`.
    Phases(Vec<Phase>),
    Path(String),
    CoreTasks(CoreTasks),
    HerokuPostdeploy {
        every: bool,
    },
}

impl ValueKind {
    /// Parses a value of this kind, or says what is wrong with it (to follow the value in a
    /// message). The only parser of settings: `deploy-tasks:set` and every reader use it.
    fn parse(self, text: &str) -> Result<Value, &'static str> {
        if text.chars().any(char::is_control) {
            return Err("holds a control character");
        }
        match self {
            ValueKind::Seconds => {
                if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
                    return Err("is not a whole number of seconds");
                }
                match text.parse::<u64>() {
                    Ok(0) => Ok(Value::Seconds(None)),
                    Ok(seconds) => Ok(Value::Seconds(Some(Duration::from_secs(seconds)))),
                    Err(_) => Err("is not a whole number of seconds"),
                }
            }
            ValueKind::FailurePolicy => match text {
                "fail" => Ok(Value::FailurePolicy(FailurePolicy::Fail)),
                "warn" => Ok(Value::FailurePolicy(FailurePolicy::Warn)),
                _ => Err("is not a failure policy"),
            },
            ValueKind::CoreTasks => match text {
                "defer" => Ok(Value::CoreTasks(CoreTasks::Defer)),
                "replace" => Ok(Value::CoreTasks(CoreTasks::Replace)),
                _ => Err("is not a core-tasks mode"),
            },
            ValueKind::HerokuPostdeploy => match text {
                "once" => Ok(Value::HerokuPostdeploy { every: false }),
                "every" => Ok(Value::HerokuPostdeploy { every: true }),
                _ => Err("is not `once` or `every`"),
            },
            ValueKind::Phases => {
                let names: Vec<&str> = text.split(',').map(str::trim).collect();
                if names == ["all"] {
                    return Ok(Value::Phases(Phase::ALL.to_vec()));
                }
                names
                    .iter()
                    .map(|name| Phase::from_name(name).ok_or("is not a list of phases"))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Phases)
            }
            ValueKind::RelativePath => {
                if text.starts_with('/') {
                    return Err("is an absolute path");
                }
                if text.split('/').any(|component| component == "..") {
                    return Err("leaves the app's source with `..`");
                }
                if text
                    .split('/')
                    .all(|component| matches!(component, "" | "."))
                {
                    return Err("names no file");
                }
                Ok(Value::Path(text.to_string()))
            }
            ValueKind::AbsolutePath => {
                if !text.starts_with('/') || text.chars().any(char::is_whitespace) {
                    return Err("is not an absolute path");
                }
                Ok(Value::Path(text.to_string()))
            }
        }
    }
}

/// A key `deploy-tasks:set` accepts, with what its value may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    name: &'static str,
    kind: ValueKind,
}

/// Every key `deploy-tasks:set` accepts.
pub const KEYS: [Key; 14] = [
    Key::new("timeout", ValueKind::Seconds),
    Key::new("predeploy-timeout", ValueKind::Seconds),
    Key::new("release-timeout", ValueKind::Seconds),
    Key::new("postdeploy-timeout", ValueKind::Seconds),
    Key::new("predeploy-on-failure", ValueKind::FailurePolicy),
    Key::new("release-on-failure", ValueKind::FailurePolicy),
    Key::new("postdeploy-on-failure", ValueKind::FailurePolicy),
    Key::new("skip", ValueKind::Phases),
    Key::new("appjson-path", ValueKind::RelativePath),
    Key::new("procfile-path", ValueKind::RelativePath),
    Key::new("shell", ValueKind::AbsolutePath),
    Key::new("core-tasks", ValueKind::CoreTasks),
    Key::new("heroku-postdeploy", ValueKind::HerokuPostdeploy),
    Key::new("engine-timeout", ValueKind::Seconds),
];

/// `engine-timeout` when unset: how long one call to the Docker engine (or one CLI query, a
/// `docker commit` of a large layer included) may take before the engine is deemed hung.
pub const DEFAULT_ENGINE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The host-wide `engine-timeout` (`deploy-tasks:set --global engine-timeout SECONDS`), read
/// before any app is known; a value that is not a whole number of seconds counts as unset.
pub fn engine_timeout(lib_root: &Path) -> Duration {
    let path = lib_root
        .join("config")
        .join(crate::operator_commands::PLUGIN)
        .join("--global")
        .join("engine-timeout");
    read_property(&path)
        .and_then(|value| value.parse::<u64>().ok())
        .filter(|seconds| *seconds > 0)
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_ENGINE_TIMEOUT)
}

impl Key {
    const fn new(name: &'static str, kind: ValueKind) -> Key {
        Key { name, kind }
    }

    /// The key named `name`, or a one-line error listing the keys there are.
    pub fn find(name: &str) -> Result<Key, InputError> {
        KEYS.into_iter()
            .find(|key| key.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = KEYS.iter().map(|key| key.name).collect();
                InputError::new(
                    format!("deploy-tasks setting `{name}`"),
                    "not a setting of this plugin",
                    format!("use one of {}", names.join(", ")),
                )
            })
    }

    /// The key's name, which is also its file name.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The value to store for `value`, or a one-line error naming the key and the values it
    /// allows. A phase list is stored trimmed (`predeploy, release` as `predeploy,release`);
    /// other values as given.
    pub fn check(self, value: &str) -> Result<String, InputError> {
        let parsed = self.kind.parse(value).map_err(|problem| {
            InputError::new(
                format!("deploy-tasks setting `{}`", self.name),
                format!("`{value}` {problem}"),
                format!("set {}", self.allowed()),
            )
        })?;
        Ok(match parsed {
            // A list is stored trimmed, as a reader of the file would write it.
            Value::Phases(_) if value.trim() == "all" => "all".to_string(),
            Value::Phases(phases) => phases
                .iter()
                .map(|phase| phase.name())
                .collect::<Vec<_>>()
                .join(","),
            _ => value.to_string(),
        })
    }

    /// Parses `text` read from `origin` (a file, a variable), or a one-line error naming it.
    fn parse_from(self, text: &str, origin: &str) -> Result<Value, InputError> {
        self.kind.parse(text).map_err(|problem| {
            InputError::new(
                origin,
                format!("`{text}` {problem}"),
                format!("set {}", self.allowed()),
            )
        })
    }

    /// The values the key allows, in words, as error messages and the help show them.
    pub fn allowed(self) -> &'static str {
        match self.kind {
            ValueKind::Seconds => "a whole number of seconds, 0 for no limit",
            ValueKind::FailurePolicy => "`fail` or `warn`",
            ValueKind::Phases => {
                "a comma-separated list of `predeploy`, `release`, `postdeploy`, or `all`"
            }
            ValueKind::RelativePath => {
                "a path relative to the app's source, without `..` (such as `deploy/app.json`)"
            }
            ValueKind::AbsolutePath => {
                "the absolute path of a shell in the image (such as `/bin/bash`)"
            }
            ValueKind::CoreTasks => "`defer` or `replace`",
            ValueKind::HerokuPostdeploy => "`once` (first deploy only) or `every` (every deploy)",
        }
    }
}

impl Settings {
    /// The app's own value for `key`, if set.
    pub fn app_value(&self, key: Key) -> Option<String> {
        read_property(&self.app_dir.join(key.name))
    }

    /// The global value for `key`, if set.
    pub fn global_value(&self, key: Key) -> Option<String> {
        read_property(&self.global_dir.join(key.name))
    }

    /// The value in force for `key`, as `deploy-tasks:report` shows it: the app's, else the
    /// global one, else the default (`timeout`: 1200; a phase's timeout: the computed
    /// `timeout`; `*-on-failure`: `fail`; `skip`: empty; `appjson-path`: `app.json`;
    /// `procfile-path`: `Procfile`; `shell`: Dokku's scheduler property, else empty; `core-tasks`:
    /// [`default_core_tasks`]). Values are shown as stored, even ones a deploy would refuse.
    pub fn computed(&self, key: Key, host: &Host) -> String {
        if key.name == "shell" {
            return self.shell().unwrap_or_default();
        }
        if let Some(value) = self.app_value(key).or_else(|| self.global_value(key)) {
            return value;
        }
        match key.kind {
            ValueKind::Seconds if key.name == "timeout" => DEFAULT_TIMEOUT.as_secs().to_string(),
            ValueKind::Seconds if key.name == "engine-timeout" => {
                DEFAULT_ENGINE_TIMEOUT.as_secs().to_string()
            }
            ValueKind::Seconds => self.computed(Key::new("timeout", ValueKind::Seconds), host),
            ValueKind::FailurePolicy => "fail".to_string(),
            ValueKind::CoreTasks => default_core_tasks(host).name().to_string(),
            ValueKind::HerokuPostdeploy => "once".to_string(),
            ValueKind::RelativePath if key.name == "procfile-path" => "Procfile".to_string(),
            ValueKind::RelativePath => "app.json".to_string(),
            ValueKind::Phases | ValueKind::AbsolutePath => String::new(),
        }
    }
}

/// `core-tasks` when unset: `replace` where the plugin can take the tasks over from Dokku's own
/// app-json plugin (a Dokku that fires `pre-release-builder`, 0.34 and later) or where there is
/// no app-json plugin; `defer` on an older Dokku, whose app-json then runs the tasks it knows.
pub fn default_core_tasks(host: &Host) -> CoreTasks {
    if dokku::fires_release_builder(host) || !dokku::has_app_json_plugin(host) {
        CoreTasks::Replace
    } else {
        CoreTasks::Defer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_in(dir: &Path) -> Settings {
        Settings {
            app_dir: dir.join("app"),
            global_dir: dir.join("global"),
            scheduler_app_dir: dir.join("scheduler-app"),
            scheduler_global_dir: dir.join("scheduler-global"),
        }
    }

    fn set(dir: &Path, scope: &str, key: &str, value: &str) {
        std::fs::create_dir_all(dir.join(scope)).unwrap();
        std::fs::write(dir.join(scope).join(key), value).unwrap();
    }

    #[test]
    fn set_and_the_readers_accept_and_refuse_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        let timeout = Key::find("timeout").unwrap();
        for (text, accepted) in [
            ("5", true),
            ("0", true),
            ("+5", false),
            (" 5", false),
            ("5s", false),
        ] {
            set(dir.path(), "app", "timeout", text);
            let read = settings.timeout(Phase::Release, None);
            assert_eq!(timeout.check(text).is_ok(), accepted, "{text:?} by set");
            assert_eq!(read.is_ok(), accepted, "{text:?} by the reader: {read:?}");
        }
        let skip = Key::find("skip").unwrap();
        for (text, accepted) in [
            ("release", true),
            ("all", true),
            ("release,,predeploy", false),
        ] {
            set(dir.path(), "app", "skip", text);
            assert_eq!(skip.check(text).is_ok(), accepted, "{text:?} by set");
            assert_eq!(
                settings.skipped().is_ok(),
                accepted,
                "{text:?} by the reader"
            );
        }
    }

    #[test]
    fn phase_timeout_beats_plain_timeout_and_app_beats_global() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        assert_eq!(
            settings.timeout(Phase::Release, None).unwrap(),
            Some(DEFAULT_TIMEOUT)
        );
        set(dir.path(), "global", "timeout", "30");
        assert_eq!(
            settings.timeout(Phase::Release, None).unwrap(),
            Some(Duration::from_secs(30))
        );
        set(dir.path(), "app", "timeout", "0");
        assert_eq!(settings.timeout(Phase::Release, None).unwrap(), None);
        set(dir.path(), "global", "release-timeout", "5");
        assert_eq!(
            settings.timeout(Phase::Release, None).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(settings.timeout(Phase::Predeploy, None).unwrap(), None);
        set(dir.path(), "app", "predeploy-timeout", "soon");
        let error = settings
            .timeout(Phase::Predeploy, None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("predeploy-timeout") && error.contains("soon"),
            "{error}"
        );
    }

    #[test]
    fn a_source_default_timeout_sits_between_the_phase_and_plain_settings() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        let source = Some(Duration::from_secs(300));
        assert_eq!(settings.timeout(Phase::Predeploy, source).unwrap(), source);
        set(dir.path(), "app", "timeout", "10");
        assert_eq!(settings.timeout(Phase::Predeploy, source).unwrap(), source);
        set(dir.path(), "global", "predeploy-timeout", "7");
        assert_eq!(
            settings.timeout(Phase::Predeploy, source).unwrap(),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn heroku_postdeploy_is_once_unless_set_to_every() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        assert!(!settings.heroku_postdeploy_every_deploy().unwrap());
        set(dir.path(), "global", "heroku-postdeploy", "every");
        assert!(settings.heroku_postdeploy_every_deploy().unwrap());
        set(dir.path(), "app", "heroku-postdeploy", "twice");
        assert!(settings.heroku_postdeploy_every_deploy().is_err());
    }

    #[test]
    fn failure_policy_defaults_to_fail_and_refuses_unknown_values() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        assert_eq!(settings.on_failure(Phase::Postdeploy).unwrap(), None);
        set(dir.path(), "global", "postdeploy-on-failure", "warn\n");
        assert_eq!(
            settings.on_failure(Phase::Postdeploy).unwrap(),
            Some(FailurePolicy::Warn)
        );
        set(dir.path(), "app", "postdeploy-on-failure", "ignore");
        assert!(settings.on_failure(Phase::Postdeploy).is_err());
    }

    #[test]
    fn shell_falls_back_to_dokkus_scheduler_property() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        assert_eq!(settings.shell(), None);
        set(dir.path(), "scheduler-global", "shell", "/bin/ash");
        assert_eq!(settings.shell().as_deref(), Some("/bin/ash"));
        set(dir.path(), "scheduler-app", "shell", "/bin/zsh");
        assert_eq!(settings.shell().as_deref(), Some("/bin/zsh"));
        set(dir.path(), "global", "shell", "/bin/dash");
        assert_eq!(settings.shell().as_deref(), Some("/bin/dash"));
    }

    #[test]
    fn property_tolerates_one_trailing_newline_and_treats_empty_as_unset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeout");
        std::fs::write(&path, "30\n").unwrap();
        assert_eq!(read_property(&path).as_deref(), Some("30"));
        std::fs::write(&path, "30").unwrap();
        assert_eq!(read_property(&path).as_deref(), Some("30"));
        std::fs::write(&path, "").unwrap();
        assert_eq!(read_property(&path), None);
        assert_eq!(read_property(&dir.path().join("missing")), None);
    }

    #[test]
    fn a_property_that_is_a_link_a_fifo_or_too_long_is_read_as_unset_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "root:$y$hash").unwrap();
        let link = dir.path().join("core-tasks");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        assert_eq!(read_property(&link), None);
        let fifo = dir.path().join("timeout");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo has no other precondition.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert_eq!(read_property(&fifo), None);
        let long = dir.path().join("shell");
        std::fs::write(&long, "x".repeat(MAX_PROPERTY + 1)).unwrap();
        assert_eq!(read_property(&long), None);
    }

    #[test]
    fn keys_accept_only_their_values() {
        let check = |key: &str, value: &str| Key::find(key).unwrap().check(value);
        for (key, value) in [
            ("timeout", "0"),
            ("release-timeout", "30"),
            ("predeploy-on-failure", "warn"),
            ("postdeploy-on-failure", "fail"),
            ("skip", "all"),
            ("skip", "release"),
            ("appjson-path", "deploy/app.json"),
            ("procfile-path", "./Procfile.web"),
            ("shell", "/bin/ash"),
            ("core-tasks", "defer"),
            ("core-tasks", "replace"),
        ] {
            assert_eq!(check(key, value).unwrap(), value, "{key}={value}");
        }
        assert_eq!(
            check("skip", "predeploy, postdeploy").unwrap(),
            "predeploy,postdeploy"
        );
        for (key, value) in [
            ("timeout", "-1"),
            ("timeout", "+5"),
            ("timeout", "1.5"),
            ("timeout", "soon"),
            ("timeout", "99999999999999999999999"),
            ("release-on-failure", "ignore"),
            ("skip", "build"),
            ("skip", "all,release"),
            ("skip", "release,"),
            ("appjson-path", "/etc/app.json"),
            ("appjson-path", "../app.json"),
            ("procfile-path", "a/../../Procfile"),
            ("procfile-path", "."),
            ("shell", "bash"),
            ("shell", "/bin/bash -l"),
            ("core-tasks", "both"),
            ("timeout", "3\n0"),
            ("shell", "/bin/sh\n"),
        ] {
            let error = check(key, value).unwrap_err().to_string();
            assert!(error.contains(key) && !error.contains('\n'), "{error}");
        }
        let error = Key::find("timeouts").unwrap_err().to_string();
        assert!(
            error.contains("timeouts") && error.contains("core-tasks"),
            "{error}"
        );
    }

    #[test]
    fn computed_values_fall_back_from_app_to_global_to_default() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        let host = Host::from_env(dir.path());
        let host = Host {
            lib_root: dir.path().join("lib"),
            ..host
        };
        let computed = |name: &str| settings.computed(Key::find(name).unwrap(), &host);
        assert_eq!(computed("timeout"), "1200");
        assert_eq!(computed("release-timeout"), "1200");
        assert_eq!(computed("release-on-failure"), "fail");
        assert_eq!(computed("skip"), "");
        assert_eq!(computed("shell"), "");
        assert_eq!(computed("appjson-path"), "app.json");
        assert_eq!(computed("procfile-path"), "Procfile");
        set(dir.path(), "global", "timeout", "60");
        assert_eq!(computed("release-timeout"), "60");
        set(dir.path(), "app", "timeout", "90");
        assert_eq!(computed("timeout"), "90");
        assert_eq!(computed("release-timeout"), "90");
        set(dir.path(), "global", "release-timeout", "5");
        assert_eq!(computed("release-timeout"), "5");
        let timeout = Key::find("timeout").unwrap();
        assert_eq!(settings.app_value(timeout).as_deref(), Some("90"));
        assert_eq!(settings.global_value(timeout).as_deref(), Some("60"));
    }
}
