//! Flux-Orbit's hook scripts: `pre-deploy.sh` and `post-deploy.sh` at the app's root.
//!
//! Flux-Orbit runs them with bash (here: bash where the image has it, else sh, or the `shell`
//! setting), without needing their execute bit. `pre-deploy.sh` failing fails the deploy;
//! `post-deploy.sh` failing is only a warning. The app's config tunes them: `SKIP_HOOKS=true`
//! skips both, `HOOK_TIMEOUT` is their time limit in seconds (300 by default), and
//! `PROJECT_PATH` names the subfolder looked in before the root.

use std::time::Duration;

use crate::input_error::InputError;
use crate::phase::Phase;
use crate::settings::FailurePolicy;
use crate::sources::{Command, Defaults, DefinitionFile, Source, SourceOptions, Task, TaskSource};

/// One of Flux-Orbit's hook scripts as a task source: the phase it runs in and what its failure
/// does.
pub struct HookScript {
    source: Source,
    phase: Phase,
    /// `None`: a failure fails the deploy.
    on_failure: Option<FailurePolicy>,
}

/// `pre-deploy.sh`: runs in predeploy, committed; a failure fails the deploy.
pub const PRE_DEPLOY: HookScript = HookScript {
    source: Source::PreDeployScript,
    phase: Phase::Predeploy,
    on_failure: None,
};

/// `post-deploy.sh`: runs in postdeploy; a failure is a warning.
pub const POST_DEPLOY: HookScript = HookScript {
    source: Source::PostDeployScript,
    phase: Phase::Postdeploy,
    on_failure: Some(FailurePolicy::Warn),
};

impl HookScript {
    /// The relative paths to look for the script at, the project folder first.
    pub fn candidates(&self, options: &Options) -> Vec<String> {
        let name = self.source.name();
        let mut paths = Vec::new();
        if let Some(folder) = &options.project_path {
            paths.push(format!("{folder}/{name}"));
        }
        paths.push(name.to_string());
        paths
    }

    /// The task `file` (the script, found in the image) defines for `phase`: none when the
    /// script is for another phase, or was not read from the image (it is run there).
    pub fn script_tasks(
        &self,
        file: &DefinitionFile,
        phase: Phase,
        options: &Options,
    ) -> Vec<Task> {
        let Some(path) = file.path_in_image.clone() else {
            return Vec::new();
        };
        if phase != self.phase {
            return Vec::new();
        }
        let mut task = Task::shell(phase, self.source, self.source.name(), &path);
        task.run = Command::Script { path };
        task.defaults = Defaults {
            timeout: Some(options.hook_timeout),
            on_failure: self.on_failure,
            ignore_timeout: false,
        };
        if options.skip_hooks {
            task.skip = Some("SKIP_HOOKS is true in the app's config".to_string());
        }
        vec![task]
    }
}

impl TaskSource for HookScript {
    fn source(&self) -> Source {
        self.source
    }

    fn search_paths(&self, options: &SourceOptions) -> Vec<String> {
        self.candidates(&options.flux_orbit)
    }

    fn tasks(
        &self,
        file: &DefinitionFile,
        phase: Phase,
        options: &SourceOptions,
    ) -> Result<Vec<Task>, InputError> {
        Ok(self.script_tasks(file, phase, &options.flux_orbit))
    }
}

/// Flux-Orbit's hook time limit when `HOOK_TIMEOUT` is not set.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// What the app's config says about the hook scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `SKIP_HOOKS=true`: neither script runs.
    pub skip_hooks: bool,
    /// `HOOK_TIMEOUT`: the scripts' default time limit.
    pub hook_timeout: Duration,
    /// `PROJECT_PATH`: the folder, relative to the app's root, looked in first.
    pub project_path: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            skip_hooks: false,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            project_path: None,
        }
    }
}

/// Reads the options from the app's config variables (`get` looks one up by name).
///
/// # Errors
///
/// An [`InputError`] naming the variable when `HOOK_TIMEOUT` is not a whole number of seconds
/// above zero, or `PROJECT_PATH` is absolute or climbs out of the app with `..`.
pub fn options<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Options, InputError> {
    let origin = |name: &str| format!("{name} in the app's config");
    let skip_hooks = get("SKIP_HOOKS")
        .map(|value| matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1"))
        .unwrap_or(false);
    let hook_timeout = match get("HOOK_TIMEOUT").map(str::trim) {
        None | Some("") => DEFAULT_HOOK_TIMEOUT,
        Some(value) => match value.parse::<u64>() {
            Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
            _ => {
                return Err(InputError::new(
                    origin("HOOK_TIMEOUT"),
                    format!("`{value}` is not a whole number of seconds above 0"),
                    "set it with `dokku config:set APP HOOK_TIMEOUT=300`, or unset it for 300",
                ))
            }
        },
    };
    let project_path = match get("PROJECT_PATH").map(|value| value.trim().trim_matches('/')) {
        None | Some("") | Some(".") => None,
        Some(value) => {
            if get("PROJECT_PATH").is_some_and(|raw| raw.trim().starts_with('/'))
                || value.split('/').any(|part| part == "..")
                || value.chars().any(char::is_control)
            {
                return Err(InputError::new(
                    origin("PROJECT_PATH"),
                    format!("`{value}` is not a folder inside the app"),
                    "set a relative path without `..`, such as `backend`",
                ));
            }
            Some(value.to_string())
        }
    };
    Ok(Options {
        skip_hooks,
        hook_timeout,
        project_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        }
    }

    fn script(path: &str) -> DefinitionFile {
        DefinitionFile {
            origin: format!("{path} in dokku/app:latest"),
            path_in_image: Some(path.to_string()),
            bytes: b"echo hi\n".to_vec(),
        }
    }

    #[test]
    fn defaults_without_config() {
        assert_eq!(options(config(&[])).unwrap(), Options::default());
    }

    #[test]
    fn reads_skip_hooks_hook_timeout_and_project_path() {
        let read = options(config(&[
            ("SKIP_HOOKS", "true"),
            ("HOOK_TIMEOUT", "42"),
            ("PROJECT_PATH", "/backend/"),
        ]));
        assert!(read.is_err(), "an absolute PROJECT_PATH is refused");
        let read = options(config(&[
            ("SKIP_HOOKS", "TRUE"),
            ("HOOK_TIMEOUT", " 42 "),
            ("PROJECT_PATH", "backend/"),
        ]))
        .unwrap();
        assert!(read.skip_hooks);
        assert_eq!(read.hook_timeout, Duration::from_secs(42));
        assert_eq!(read.project_path.as_deref(), Some("backend"));
        assert!(!options(config(&[("SKIP_HOOKS", "no")])).unwrap().skip_hooks);
    }

    #[test]
    fn bad_config_values_name_the_variable_on_one_line() {
        for (name, value) in [
            ("HOOK_TIMEOUT", "5m"),
            ("HOOK_TIMEOUT", "0"),
            ("PROJECT_PATH", "../other"),
            ("PROJECT_PATH", "a\nb"),
        ] {
            let error = options(config(&[(name, value)])).unwrap_err().to_string();
            assert!(error.starts_with(name), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn the_project_folder_is_looked_in_first() {
        let with_folder = Options {
            project_path: Some("api".into()),
            ..Options::default()
        };
        assert_eq!(
            PRE_DEPLOY.candidates(&with_folder),
            ["api/pre-deploy.sh", "pre-deploy.sh"]
        );
        assert_eq!(
            POST_DEPLOY.candidates(&Options::default()),
            ["post-deploy.sh"]
        );
    }

    #[test]
    fn pre_deploy_fails_the_deploy_and_post_deploy_warns() {
        let options = Options::default();
        let pre =
            PRE_DEPLOY.script_tasks(&script("/app/pre-deploy.sh"), Phase::Predeploy, &options);
        assert_eq!(pre.len(), 1);
        assert_eq!(
            pre[0].run,
            Command::Script {
                path: "/app/pre-deploy.sh".into()
            }
        );
        assert_eq!(pre[0].defaults.on_failure, None);
        assert_eq!(pre[0].defaults.timeout, Some(DEFAULT_HOOK_TIMEOUT));
        let post =
            POST_DEPLOY.script_tasks(&script("/app/post-deploy.sh"), Phase::Postdeploy, &options);
        assert_eq!(post[0].defaults.on_failure, Some(FailurePolicy::Warn));
        assert!(POST_DEPLOY
            .script_tasks(&script("/app/post-deploy.sh"), Phase::Predeploy, &options)
            .is_empty());
    }

    #[test]
    fn skip_hooks_keeps_the_tasks_but_marks_them_skipped() {
        let options = Options {
            skip_hooks: true,
            ..Options::default()
        };
        let pre =
            PRE_DEPLOY.script_tasks(&script("/app/pre-deploy.sh"), Phase::Predeploy, &options);
        assert!(pre[0].skip.as_deref().unwrap().contains("SKIP_HOOKS"));
    }

    #[test]
    fn a_script_not_in_the_image_is_no_task() {
        let mut host_copy = script("/app/pre-deploy.sh");
        host_copy.path_in_image = None;
        assert!(PRE_DEPLOY
            .script_tasks(&host_copy, Phase::Predeploy, &Options::default())
            .is_empty());
    }
}
