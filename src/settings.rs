//! The plugin's settings: Dokku properties under `$DOKKU_LIB_ROOT/config/deploy-tasks/`, one file
//! per key, an app's own value winning over the global one.

use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::app::App;
use crate::host::Host;
use crate::input_error::InputError;
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
            scheduler_app_dir: config.join("scheduler").join(app.name()),
            scheduler_global_dir: config.join("scheduler").join("--global"),
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

    /// The time limit of a phase's tasks: `<phase>-timeout`, else `timeout`, else 20 minutes;
    /// `0` means none.
    pub fn timeout(&self, phase: Phase) -> Result<Option<Duration>, InputError> {
        let found = self
            .get_with_origin(&format!("{}-timeout", phase.name()))
            .or_else(|| self.get_with_origin("timeout"));
        let Some((value, path)) = found else {
            return Ok(Some(DEFAULT_TIMEOUT));
        };
        match value.trim().parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(seconds) => Ok(Some(Duration::from_secs(seconds))),
            Err(_) => Err(InputError::new(
                path.display().to_string(),
                format!("`{value}` is not a whole number of seconds"),
                "set a number of seconds, or 0 for no limit",
            )),
        }
    }

    /// What a failed task does to the deploy: `<phase>-on-failure`, `fail` by default.
    pub fn on_failure(&self, phase: Phase) -> Result<FailurePolicy, InputError> {
        let Some((value, path)) = self.get_with_origin(&format!("{}-on-failure", phase.name()))
        else {
            return Ok(FailurePolicy::Fail);
        };
        match value.trim() {
            "fail" => Ok(FailurePolicy::Fail),
            "warn" => Ok(FailurePolicy::Warn),
            _ => Err(InputError::new(
                path.display().to_string(),
                format!("`{value}` is not a failure policy"),
                "set `fail` or `warn`",
            )),
        }
    }

    /// The shell tasks run with: this plugin's `shell` setting, else Dokku's scheduler `shell`
    /// property; `None` means the helper picks `/bin/bash` when the image has it, else `/bin/sh`.
    pub fn shell(&self) -> Option<String> {
        self.get("shell")
            .or_else(|| read_property(&self.scheduler_app_dir.join("shell")))
            .or_else(|| read_property(&self.scheduler_global_dir.join("shell")))
    }
}

/// Reads a Dokku property file: its content without one trailing newline (Dokku writes none,
/// an admin's editor may add one). A missing or empty file is unset.
pub fn read_property(path: &Path) -> Option<String> {
    let value = std::fs::read_to_string(path).ok()?;
    let value = value.strip_suffix('\n').unwrap_or(&value);
    let value = value.strip_suffix('\r').unwrap_or(value);
    (!value.is_empty()).then(|| value.to_string())
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
    fn phase_timeout_beats_plain_timeout_and_app_beats_global() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        assert_eq!(
            settings.timeout(Phase::Release).unwrap(),
            Some(DEFAULT_TIMEOUT)
        );
        set(dir.path(), "global", "timeout", "30");
        assert_eq!(
            settings.timeout(Phase::Release).unwrap(),
            Some(Duration::from_secs(30))
        );
        set(dir.path(), "app", "timeout", "0");
        assert_eq!(settings.timeout(Phase::Release).unwrap(), None);
        set(dir.path(), "global", "release-timeout", "5");
        assert_eq!(
            settings.timeout(Phase::Release).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(settings.timeout(Phase::Predeploy).unwrap(), None);
        set(dir.path(), "app", "predeploy-timeout", "soon");
        let error = settings.timeout(Phase::Predeploy).unwrap_err().to_string();
        assert!(
            error.contains("predeploy-timeout") && error.contains("soon"),
            "{error}"
        );
    }

    #[test]
    fn failure_policy_defaults_to_fail_and_refuses_unknown_values() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        assert_eq!(
            settings.on_failure(Phase::Postdeploy).unwrap(),
            FailurePolicy::Fail
        );
        set(dir.path(), "global", "postdeploy-on-failure", "warn\n");
        assert_eq!(
            settings.on_failure(Phase::Postdeploy).unwrap(),
            FailurePolicy::Warn
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
}
