//! Where tasks are defined: each module parses one kind of file, and [`tasks`] turns what they
//! found into the tasks of one phase, in the documented order.

pub mod app_json;
pub mod boxfile;
pub mod procfile;

use crate::input_error::InputError;
use crate::phase::Phase;

/// The file a task was defined in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// app.json `scripts`.
    AppJson,
    /// A Procfile process type.
    Procfile,
}

impl Source {
    /// The name users know the source by, as shown in `Executing ... task from SOURCE`.
    pub fn name(self) -> &'static str {
        match self {
            Source::AppJson => "app.json",
            Source::Procfile => "Procfile",
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

/// One command to run in one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The phase it runs in.
    pub phase: Phase,
    /// Where it was defined.
    pub source: Source,
    /// The key that defines it in its source (`scripts.dokku.predeploy`, `release`).
    pub key: &'static str,
    /// The command as written.
    pub command: String,
    /// Every deploy, or only the first.
    pub frequency: Frequency,
}

/// The definition files found for an app, raw, with where each came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Definitions {
    /// app.json, if the app has one.
    pub app_json: Option<DefinitionFile>,
    /// The Procfile, if the app has one.
    pub procfile: Option<DefinitionFile>,
}

/// One definition file's bytes and where they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionFile {
    /// Where it was read, for error messages (`/var/lib/dokku/data/app-json/app/app.json`).
    pub origin: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// The tasks of `phase`, in the order they run. Both files are parsed whatever the phase, so a
/// broken app.json or Procfile fails the first trigger of a deploy, before anything runs.
pub fn tasks(definitions: &Definitions, phase: Phase) -> Result<Vec<Task>, InputError> {
    let scripts = match &definitions.app_json {
        Some(file) => app_json::parse(&file.bytes, &file.origin)?,
        None => app_json::AppJsonScripts::default(),
    };
    let procfile = match &definitions.procfile {
        Some(file) => procfile::parse(&file.bytes, &file.origin)?,
        None => procfile::Procfile::default(),
    };
    let task = |source, key, command: &str, frequency| Task {
        phase,
        source,
        key,
        command: command.to_string(),
        frequency,
    };
    let mut tasks = Vec::new();
    match phase {
        Phase::Predeploy => {
            if let Some(command) = &scripts.predeploy {
                tasks.push(task(
                    Source::AppJson,
                    "scripts.dokku.predeploy",
                    command,
                    Frequency::EveryDeploy,
                ));
            }
        }
        Phase::Release => {
            if let Some(entry) = procfile.command("release") {
                tasks.push(task(
                    Source::Procfile,
                    "release",
                    &entry.command,
                    Frequency::EveryDeploy,
                ));
            }
        }
        Phase::Postdeploy => {
            if let Some(command) = &scripts.postdeploy {
                tasks.push(task(
                    Source::AppJson,
                    "scripts.dokku.postdeploy",
                    command,
                    Frequency::EveryDeploy,
                ));
            }
            if let Some(command) = &scripts.heroku_postdeploy {
                tasks.push(task(
                    Source::AppJson,
                    "scripts.postdeploy",
                    command,
                    Frequency::FirstDeployOnly,
                ));
            }
        }
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definitions(app_json: &str, procfile: &str) -> Definitions {
        Definitions {
            app_json: Some(DefinitionFile {
                origin: "app.json".into(),
                bytes: app_json.as_bytes().to_vec(),
            }),
            procfile: Some(DefinitionFile {
                origin: "Procfile".into(),
                bytes: procfile.as_bytes().to_vec(),
            }),
        }
    }

    #[test]
    fn each_phase_gets_its_tasks_in_order() {
        let found = definitions(
            r#"{"scripts": {"dokku": {"predeploy": "pre", "postdeploy": "post"}, "postdeploy": "once"}}"#,
            "web: server\nrelease: migrate\n",
        );
        let commands = |phase| -> Vec<String> {
            tasks(&found, phase)
                .unwrap()
                .into_iter()
                .map(|task| task.command)
                .collect()
        };
        assert_eq!(commands(Phase::Predeploy), ["pre"]);
        assert_eq!(commands(Phase::Release), ["migrate"]);
        assert_eq!(commands(Phase::Postdeploy), ["post", "once"]);
        let postdeploy = tasks(&found, Phase::Postdeploy).unwrap();
        assert_eq!(postdeploy[1].frequency, Frequency::FirstDeployOnly);
        assert_eq!(postdeploy[1].key, "scripts.postdeploy");
    }

    #[test]
    fn a_broken_file_fails_every_phase() {
        let found = definitions("{", "release: migrate\n");
        for phase in Phase::ALL {
            assert!(tasks(&found, phase).is_err());
        }
    }

    #[test]
    fn no_files_no_tasks() {
        for phase in Phase::ALL {
            assert!(tasks(&Definitions::default(), phase).unwrap().is_empty());
        }
    }
}
