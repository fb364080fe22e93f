//! Where tasks are defined. Each module reads one kind of file, as the platform that defined it
//! reads it, and is a [`TaskSource`] in [`ALL`]: it says where its file is looked for, whether
//! the host's extracted copy counts, and which tasks the file defines for a phase. [`tasks`] puts
//! them in the documented order:
//!
//! | phase      | sources, in order                                                                 |
//! |------------|-----------------------------------------------------------------------------------|
//! | predeploy  | Boxfile build hooks, app.json `scripts.dokku.predeploy`, `pre-deploy.sh`          |
//! | release    | Procfile `release`, Boxfile `before_deploy`                                       |
//! | postdeploy | app.json `scripts.dokku.postdeploy`, `scripts.postdeploy`, Procfile `postdeploy`, Boxfile `before_deploy_all`, `after_deploy`, `after_deploy_all`, `post-deploy.sh` |
//!
//! A task carries everything its source decides: phase, command, how and where it runs, how
//! often, its default time limit and failure policy. The runner applies the admin's settings on
//! top and knows no source by name: it walks [`ALL`].

pub mod app_json;
pub mod boxfile;
pub mod flux_orbit;
pub mod procfile;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::app_config::AppConfig;
use crate::dokku::DokkuFile;
use crate::input_error::InputError;
use crate::phase::Phase;
use crate::settings::{FailurePolicy, Settings};

/// One kind of task definition file, as its platform reads it.
pub trait TaskSource: Sync {
    /// Which source this is: it names the source in messages, the history and the cache.
    fn source(&self) -> Source;

    /// The paths to look for the file at, relative to the app's root in the image; the first
    /// found wins.
    fn search_paths(&self, options: &SourceOptions) -> Vec<String>;

    /// The file of a Dokku core plugin whose host-extracted copy stands for the one in the
    /// image, when it counts under `options`; `None` for a file only the image holds.
    fn host_copy(&self, _options: &SourceOptions) -> Option<DokkuFile> {
        None
    }

    /// The tasks `file` defines for `phase`. Called for every phase, so a broken file fails
    /// whichever trigger reads it first.
    ///
    /// # Errors
    ///
    /// An [`InputError`] naming the file, and where it is known the line, when the file is not
    /// what its platform accepts.
    fn tasks(
        &self,
        file: &DefinitionFile,
        phase: Phase,
        options: &SourceOptions,
    ) -> Result<Vec<Task>, InputError>;

    /// Whether a stock Dokku's core app-json plugin runs `task` (one of this source's) itself.
    fn run_by_stock_dokku(&self, task: &Task) -> bool {
        let _ = task;
        false
    }
}

/// Every task source, in the order discovery looks for them ([`Source::ALL`]'s order).
pub const ALL: &[&dyn TaskSource] = &[
    &app_json::AppJsonSource,
    &procfile::ProcfileSource,
    &boxfile::BoxfileSource,
    &flux_orbit::PRE_DEPLOY,
    &flux_orbit::POST_DEPLOY,
];

/// The source whose host copy Dokku's `file` is, whatever the app's settings say of where it
/// is read from.
pub fn of_dokku_file(file: DokkuFile) -> Option<Source> {
    ALL.iter()
        .find(|source| source.host_copy(&SourceOptions::default()) == Some(file))
        .map(|source| source.source())
}

/// The task source that `source` identifies.
fn of(source: Source) -> Option<&'static dyn TaskSource> {
    ALL.iter().copied().find(|each| each.source() == source)
}

/// The path an admin's setting names for a file (`./` ignored), else the file's own name.
fn named_or_default(setting: Option<&str>, name: &str) -> Vec<String> {
    let path = setting.map_or(name, |path| path.trim_start_matches("./"));
    vec![path.to_string()]
}

/// The file a task was defined in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// app.json `scripts` (Dokku, Heroku).
    AppJson,
    /// A Procfile process type (Heroku, Dokku, Scalingo).
    Procfile,
    /// A Pagoda Box Boxfile.
    Boxfile,
    /// Flux-Orbit's `pre-deploy.sh`.
    PreDeployScript,
    /// Flux-Orbit's `post-deploy.sh`.
    PostDeployScript,
}

impl Source {
    /// Every source, in the order discovery looks for them.
    pub const ALL: [Source; 5] = [
        Source::AppJson,
        Source::Procfile,
        Source::Boxfile,
        Source::PreDeployScript,
        Source::PostDeployScript,
    ];

    /// The file's name in a source tree, which is also the name users know the source by, as
    /// shown in `Executing ... task from SOURCE` and stored in the history.
    pub fn name(self) -> &'static str {
        match self {
            Source::AppJson => "app.json",
            Source::Procfile => "Procfile",
            Source::Boxfile => "Boxfile",
            Source::PreDeployScript => "pre-deploy.sh",
            Source::PostDeployScript => "post-deploy.sh",
        }
    }

    /// The name's source, for the discovery cache.
    pub fn from_name(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|source| source.name() == name)
    }

    /// The sources of a phase's tasks, in the order they run.
    pub fn order(phase: Phase) -> &'static [Source] {
        match phase {
            Phase::Predeploy => &[Source::Boxfile, Source::AppJson, Source::PreDeployScript],
            Phase::Release => &[Source::Procfile, Source::Boxfile],
            Phase::Postdeploy => &[
                Source::AppJson,
                Source::Procfile,
                Source::Boxfile,
                Source::PostDeployScript,
            ],
        }
    }
}

/// How often a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    /// On every deploy.
    EveryDeploy,
    /// Only on the app's first deploy (Heroku's app.json `scripts.postdeploy`).
    FirstDeployOnly,
}

/// What the task's command is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A shell command line (`./manage.py migrate`).
    Shell(String),
    /// A Procfile command line, its variables expanded from the app's config before it runs, as
    /// Dokku expands them (see [`procfile::expand`]); it then runs as [`Command::Shell`] would.
    Expanded {
        /// The command as written.
        command: String,
        /// The Procfile process type (`release`), for `$PS`.
        process_type: String,
    },
    /// A script file in the image, run with the shell from its own directory; it needs no
    /// execute bit.
    Script {
        /// The script's absolute path in the image.
        path: String,
    },
}

impl Command {
    /// The command line the shell runs, its variables expanded from `variable` where its source
    /// says so; `None` for a script.
    pub fn shell_line<'a>(&'a self, variable: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        match self {
            Command::Shell(command) => Some(command.clone()),
            Command::Expanded {
                command,
                process_type,
            } => Some(procfile::expand(command, process_type, variable)),
            Command::Script { .. } => None,
        }
    }
}

/// Where a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A new container of the image, removed afterwards (committed first in predeploy).
    NewContainer,
    /// `docker exec` in each running container of the deployed image that has this process
    /// type.
    RunningContainers {
        /// The Dokku process type (`web`, `worker`).
        process_type: String,
    },
}

/// What a source says about a task's limits when the admin set nothing for the phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defaults {
    /// The source's time limit; `None` leaves it to the `timeout` setting, else 20 minutes.
    pub timeout: Option<Duration>,
    /// What a failure does; `None` means it fails the deploy.
    pub on_failure: Option<FailurePolicy>,
    /// A timeout counts as success, with a warning (Pagoda Box's deploy hooks).
    pub ignore_timeout: bool,
}

/// One command to run in one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The phase it runs in.
    pub phase: Phase,
    /// Where it was defined.
    pub source: Source,
    /// The key that defines it in its source (`scripts.dokku.predeploy`, `release`,
    /// `web1.after_deploy`).
    pub key: String,
    /// The command as users see it in logs and the history.
    pub command: String,
    /// What to execute.
    pub run: Command,
    /// Where it runs.
    pub target: Target,
    /// Every deploy, or only the first.
    pub frequency: Frequency,
    /// The source's time limit and failure policy.
    pub defaults: Defaults,
    /// Why the task is not run this time, when its source says so (`SKIP_HOOKS=true`).
    pub skip: Option<String>,
}

impl Task {
    /// A shell command that runs on every deploy in a new container, with no defaults of its
    /// own: what most sources define.
    pub fn shell(phase: Phase, source: Source, key: impl Into<String>, command: &str) -> Task {
        Task {
            phase,
            source,
            key: key.into(),
            command: command.to_string(),
            run: Command::Shell(command.to_string()),
            target: Target::NewContainer,
            frequency: Frequency::EveryDeploy,
            defaults: Defaults::default(),
            skip: None,
        }
    }
}

impl Task {
    /// Whether a stock Dokku's core app-json plugin runs this task itself, as its source says
    /// ([`TaskSource::run_by_stock_dokku`]). With `core-tasks` at `defer`, these are left to it.
    pub fn run_by_stock_dokku(&self) -> bool {
        of(self.source).is_some_and(|source| source.run_by_stock_dokku(self))
    }
}

/// The definition files found for an app, raw, with where each came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Definitions {
    files: BTreeMap<Source, DefinitionFile>,
}

impl Definitions {
    /// The file of `source`, if the app has one.
    pub fn get(&self, source: Source) -> Option<&DefinitionFile> {
        self.files.get(&source)
    }

    /// Records the file of `source`.
    pub fn insert(&mut self, source: Source, file: DefinitionFile) {
        self.files.insert(source, file);
    }

    /// Every file found.
    pub fn iter(&self) -> impl Iterator<Item = (Source, &DefinitionFile)> {
        self.files.iter().map(|(source, file)| (*source, file))
    }
}

/// One definition file's bytes and where they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionFile {
    /// Where it was read, for error messages (`/var/lib/dokku/data/app-json/app/app.json`).
    pub origin: String,
    /// Its absolute path in the image, when it was read from the image.
    pub path_in_image: Option<String>,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// What the app's settings and config say about where sources look and how they read, each
/// source's options read by its module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceOptions {
    /// app.json's, from the plugin's settings.
    pub app_json: app_json::Options,
    /// The Procfile's, from the plugin's settings.
    pub procfile: procfile::Options,
    /// Flux-Orbit's, from the app's config.
    pub flux_orbit: flux_orbit::Options,
}

impl SourceOptions {
    /// Reads every source's options from the plugin's `settings` and the app's `config`.
    ///
    /// # Errors
    ///
    /// An [`InputError`] naming the setting or config variable that holds a value its source
    /// does not take.
    pub fn read(settings: &Settings, config: &AppConfig) -> Result<SourceOptions, InputError> {
        Ok(SourceOptions {
            app_json: app_json::options(settings)?,
            procfile: procfile::options(settings),
            flux_orbit: flux_orbit::options(|name| config.get(name))?,
        })
    }
}

/// The largest definition file a parser accepts. Real files are a few KiB; anything near this is
/// a mistake and would only slow the deploy down.
pub(crate) const MAX_BYTES: usize = 1_048_576;

/// The longest command a task may have, in bytes. The command reaches the container's shell as
/// one argument, and Linux passes no longer string to a program (`MAX_ARG_STRLEN`: 32 pages of
/// 4 KiB, counting the string's terminating NUL).
pub(crate) const MAX_COMMAND_BYTES: usize = 32 * 4096 - 1;

/// Refuses, before any container exists, a command no container could run: one holding a NUL
/// byte (a program's arguments end at the first), or one longer than [`MAX_COMMAND_BYTES`].
/// `what` names it as its source does (`scripts.dokku.predeploy`, `the release process`); the
/// caller adds its position.
pub(crate) fn check_command(command: &str, origin: &str, what: &str) -> Result<(), InputError> {
    if command.contains('\0') {
        return Err(InputError::new(
            origin,
            format!("{what} holds a NUL byte, which no program takes in a command"),
            "remove the NUL byte (or the escape that writes it)",
        ));
    }
    if command.len() > MAX_COMMAND_BYTES {
        return Err(InputError::new(
            origin,
            format!(
                "{what} is {} bytes long, over the {MAX_COMMAND_BYTES} bytes Linux passes to a \
                 program as one argument",
                command.len()
            ),
            "move the commands into a script in the image, and run the script",
        ));
    }
    Ok(())
}

/// The text of a definition file: refused over [`MAX_BYTES`] (`size_fix` says what to do) or
/// when not UTF-8 (at the line and column of the first bad byte); a leading byte order mark is
/// skipped. `file` names it in messages (`app.json`, `the Boxfile`).
pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    origin: &str,
    file: &str,
    size_fix: &str,
) -> Result<&'a str, InputError> {
    if bytes.len() > MAX_BYTES {
        return Err(InputError::new(
            origin,
            // Readers keep no more than one byte over the limit: the true size is not known.
            format!("{file} is over the limit of {MAX_BYTES} bytes (1 MiB)"),
            size_fix,
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let (line, column) = line_and_column(bytes, error.valid_up_to());
        InputError::new(
            origin,
            format!("{file} is not valid UTF-8"),
            format!("save {file} with UTF-8 encoding"),
        )
        .at(line, column)
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// 1-based line and character column of byte `offset` in `bytes`, whose bytes before `offset`
/// are valid UTF-8.
pub(crate) fn line_and_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    // Counting the bytes that do not continue a character counts characters.
    let column = before
        .get(line_start..)
        .unwrap_or_default()
        .iter()
        .filter(|&&byte| byte & 0xC0 != 0x80)
        .count()
        + 1;
    (line, column)
}

/// The tasks of `phase`, in the order they run. Every file is parsed whatever the phase, so a
/// broken file fails the first trigger of a deploy, before anything runs.
pub fn tasks(
    definitions: &Definitions,
    phase: Phase,
    options: &SourceOptions,
) -> Result<Vec<Task>, InputError> {
    let mut by_source = BTreeMap::new();
    for source in ALL {
        if let Some(file) = definitions.get(source.source()) {
            by_source.insert(source.source(), source.tasks(file, phase, options)?);
        }
    }
    Ok(Source::order(phase)
        .iter()
        .filter_map(|source| by_source.remove(source))
        .flatten()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::dokku;
    use crate::host::Host;

    fn file(content: &str) -> DefinitionFile {
        DefinitionFile {
            origin: "test".into(),
            path_in_image: Some("/app/file".into()),
            bytes: content.as_bytes().to_vec(),
        }
    }

    fn definitions(app_json: &str, procfile: &str) -> Definitions {
        let mut found = Definitions::default();
        found.insert(Source::AppJson, file(app_json));
        found.insert(Source::Procfile, file(procfile));
        found
    }

    fn commands(found: &Definitions, phase: Phase, options: &SourceOptions) -> Vec<String> {
        tasks(found, phase, options)
            .unwrap()
            .into_iter()
            .map(|task| task.command)
            .collect()
    }

    #[test]
    fn each_phase_gets_its_tasks_in_order() {
        let found = definitions(
            r#"{"scripts": {"dokku": {"predeploy": "pre", "postdeploy": "post"}, "postdeploy": "once"}}"#,
            "web: server\nrelease: migrate\npostdeploy: scalingo\n",
        );
        let options = SourceOptions::default();
        assert_eq!(commands(&found, Phase::Predeploy, &options), ["pre"]);
        assert_eq!(commands(&found, Phase::Release, &options), ["migrate"]);
        assert_eq!(
            commands(&found, Phase::Postdeploy, &options),
            ["post", "once", "scalingo"]
        );
        let postdeploy = tasks(&found, Phase::Postdeploy, &options).unwrap();
        assert_eq!(postdeploy[1].frequency, Frequency::FirstDeployOnly);
        assert_eq!(postdeploy[1].key, "scripts.postdeploy");
        assert_eq!(postdeploy[2].source, Source::Procfile);
    }

    #[test]
    fn scripts_come_after_the_app_json_tasks_of_their_phase() {
        let mut found = definitions(
            r#"{"scripts": {"dokku": {"predeploy": "pre", "postdeploy": "post"}}}"#,
            "",
        );
        found.insert(Source::PreDeployScript, file("echo pre"));
        found.insert(Source::PostDeployScript, file("echo post"));
        let options = SourceOptions::default();
        let predeploy = tasks(&found, Phase::Predeploy, &options).unwrap();
        assert_eq!(
            predeploy.iter().map(|task| task.source).collect::<Vec<_>>(),
            [Source::AppJson, Source::PreDeployScript]
        );
        let postdeploy = tasks(&found, Phase::Postdeploy, &options).unwrap();
        assert_eq!(
            postdeploy.last().map(|task| task.source),
            Some(Source::PostDeployScript)
        );
    }

    #[test]
    fn heroku_postdeploy_every_deploy_is_an_option() {
        let found = definitions(r#"{"scripts": {"postdeploy": "seed"}}"#, "");
        let options = SourceOptions {
            app_json: app_json::Options {
                heroku_postdeploy_every: true,
                ..app_json::Options::default()
            },
            ..SourceOptions::default()
        };
        let postdeploy = tasks(&found, Phase::Postdeploy, &options).unwrap();
        assert_eq!(postdeploy[0].frequency, Frequency::EveryDeploy);
    }

    #[test]
    fn a_broken_file_fails_every_phase() {
        for (app_json, procfile) in [("{", "release: migrate\n"), ("{}", "release migrate\n")] {
            let found = definitions(app_json, procfile);
            for phase in Phase::ALL {
                assert!(tasks(&found, phase, &SourceOptions::default()).is_err());
            }
        }
    }

    #[test]
    fn a_command_with_a_nul_byte_or_too_long_to_pass_is_refused() {
        assert_eq!(check_command("./migrate", "Procfile", "release"), Ok(()));
        let long = "x".repeat(MAX_COMMAND_BYTES);
        assert_eq!(check_command(&long, "Procfile", "release"), Ok(()));
        let error = check_command("echo a\0b", "Procfile", "the `release` process").unwrap_err();
        assert_eq!(
            error.at_line(2).to_string(),
            "Procfile line 2: the `release` process holds a NUL byte, which no program takes \
             in a command; remove the NUL byte (or the escape that writes it)"
        );
        let error = check_command(&format!("{long}x"), "Procfile", "release").unwrap_err();
        assert!(error.problem.contains("131072 bytes long"), "{error}");
    }

    #[test]
    fn no_files_no_tasks() {
        for phase in Phase::ALL {
            assert!(
                tasks(&Definitions::default(), phase, &SourceOptions::default())
                    .unwrap()
                    .is_empty()
            );
        }
    }

    #[test]
    fn the_registry_holds_every_source_once_in_discovery_order() {
        let registered: Vec<Source> = ALL.iter().map(|source| source.source()).collect();
        assert_eq!(registered, Source::ALL);
    }

    /// Each registered source's name, search paths and host copy under `options`.
    fn searches(options: &SourceOptions) -> Vec<(&'static str, Vec<String>, Option<DokkuFile>)> {
        ALL.iter()
            .map(|source| {
                (
                    source.source().name(),
                    source.search_paths(options),
                    source.host_copy(options),
                )
            })
            .collect()
    }

    fn strings(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|path| path.to_string()).collect()
    }

    #[test]
    fn by_default_each_file_is_looked_for_by_its_name_and_dokkus_copies_count() {
        assert_eq!(
            searches(&SourceOptions::default()),
            [
                ("app.json", strings(&["app.json"]), Some(dokku::APP_JSON)),
                ("Procfile", strings(&["Procfile"]), Some(dokku::PROCFILE)),
                ("Boxfile", strings(&["Boxfile"]), None),
                ("pre-deploy.sh", strings(&["pre-deploy.sh"]), None),
                ("post-deploy.sh", strings(&["post-deploy.sh"]), None),
            ]
        );
    }

    #[test]
    fn settings_and_config_move_the_search_and_a_named_path_leaves_dokkus_copy_out() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            lib_root: dir.path().to_path_buf(),
            ..Host::from_env(dir.path())
        };
        let app = App::new("shop").unwrap();
        let set = |scope: &str, key: &str, value: &str| {
            let settings = dir.path().join("config/deploy-tasks").join(scope);
            std::fs::create_dir_all(&settings).unwrap();
            std::fs::write(settings.join(key), value).unwrap();
        };
        set("shop", "appjson-path", "./deploy/app.json\n");
        set("--global", "procfile-path", "Procfile.web\n");
        set("shop", "heroku-postdeploy", "every\n");
        let config = AppConfig {
            vars: vec![("PROJECT_PATH".into(), "api/".into())],
            warnings: Vec::new(),
            ..AppConfig::default()
        };
        let options = SourceOptions::read(&Settings::of(&host, &app), &config).unwrap();
        assert!(options.app_json.heroku_postdeploy_every);
        assert_eq!(
            searches(&options),
            [
                ("app.json", strings(&["deploy/app.json"]), None),
                ("Procfile", strings(&["Procfile.web"]), None),
                ("Boxfile", strings(&["Boxfile"]), None),
                (
                    "pre-deploy.sh",
                    strings(&["api/pre-deploy.sh", "pre-deploy.sh"]),
                    None
                ),
                (
                    "post-deploy.sh",
                    strings(&["api/post-deploy.sh", "post-deploy.sh"]),
                    None
                ),
            ]
        );
    }

    #[test]
    fn a_value_a_source_does_not_take_fails_reading_the_options_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            lib_root: dir.path().to_path_buf(),
            ..Host::from_env(dir.path())
        };
        let settings = Settings::of(&host, &App::new("shop").unwrap());
        let config = |name: &str, value: &str| AppConfig {
            vars: vec![(name.into(), value.into())],
            warnings: Vec::new(),
            ..AppConfig::default()
        };
        let error = SourceOptions::read(&settings, &config("HOOK_TIMEOUT", "5m")).unwrap_err();
        assert!(error.to_string().starts_with("HOOK_TIMEOUT"), "{error}");
        let global = dir.path().join("config/deploy-tasks/--global");
        std::fs::create_dir_all(&global).unwrap();
        std::fs::write(global.join("heroku-postdeploy"), "twice").unwrap();
        let error = SourceOptions::read(&settings, &AppConfig::default()).unwrap_err();
        assert!(error.to_string().contains("heroku-postdeploy"), "{error}");
    }

    #[test]
    fn stock_dokku_runs_the_app_json_scripts_and_the_procfile_release_only() {
        let mut found = definitions(
            r#"{"scripts": {"dokku": {"predeploy": "pre", "postdeploy": "post"}, "postdeploy": "once"}}"#,
            "release: migrate\npostdeploy: scalingo\n",
        );
        found.insert(
            Source::Boxfile,
            file("web1:\n  after_deploy:\n    - warm\n"),
        );
        found.insert(Source::PreDeployScript, file("echo pre"));
        let run_by_dokku = |phase| -> Vec<(String, bool)> {
            tasks(&found, phase, &SourceOptions::default())
                .unwrap()
                .into_iter()
                .map(|task| (task.command.clone(), task.run_by_stock_dokku()))
                .collect()
        };
        let pair = |command: &str, dokku: bool| (command.to_string(), dokku);
        assert_eq!(
            run_by_dokku(Phase::Predeploy),
            [pair("pre", true), pair("/app/file", false)]
        );
        assert_eq!(run_by_dokku(Phase::Release), [pair("migrate", true)]);
        assert_eq!(
            run_by_dokku(Phase::Postdeploy),
            [
                pair("post", true),
                pair("once", true),
                pair("scalingo", false),
                pair("warm", false)
            ]
        );
    }

    #[test]
    fn every_source_has_a_place_in_some_phase_and_a_name_that_round_trips() {
        for source in Source::ALL {
            assert!(Phase::ALL
                .iter()
                .any(|phase| Source::order(*phase).contains(&source)));
            assert_eq!(Source::from_name(source.name()), Some(source));
        }
    }
}
