//! The one seam to the container engine. Everything the plugin asks of it is a method of
//! [`ContainerEngine`], which has two implementations, chosen once at start-up
//! ([`connect`]): the Engine API over the local socket ([`EngineApi`]), and the Docker CLI or a
//! compatible one such as Podman's ([`Cli`]), for remote hosts, contexts and Podman. Callers
//! never ask which one they have; they describe task containers by a typed
//! [`ContainerSpec`], not by argument lists, so that another backend (a cluster's jobs) plugs in
//! here.
//!
//! Both implementations keep the same promises: every call has the engine's time limit
//! (`engine-timeout`) and gives way to a stop signal; those that must finish (removals, commits,
//! the tag move) give way only after [`crate::interrupt::FINISHING_GRACE`]; the wait for a
//! running task lasts as long as the task, until its own time limit or a stop signal
//! ([`crate::container::supervise`]); and a failure is one line naming the call.

mod cli;
mod engine_api;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::bounded_read::Found;
use crate::container::{BeforeStart, Ending};
use crate::engine::Engine;

pub use cli::Cli;
pub use engine_api::EngineApi;

/// The engine the plugin talks to, shared by every value that must clean up through it.
pub type Docker = Arc<dyn ContainerEngine>;

/// What the plugin asks of a container engine.
pub trait ContainerEngine: std::fmt::Debug + Send + Sync {
    /// The image a reference names, or `None` when there is no such image.
    fn image(&self, reference: &str) -> Result<Option<Image>>;

    /// The `REPOSITORY:TAG` names in `repository` whose tag starts with `tag_prefix`.
    fn image_names(&self, repository: &str, tag_prefix: &str) -> Result<Vec<String>>;

    /// Creates the container `spec` describes, without starting it, and returns its ID.
    fn create(&self, spec: &ContainerSpec) -> Result<String>;

    /// Runs the task container `spec` describes: creates it, calls `before_start` with its ID,
    /// starts it with `spec.stdin` on its standard input, passes its output on line by line as
    /// it comes, and waits until it exits, its time limit passes or a stop signal arrives
    /// ([`crate::container::supervise`]). The container is left for the caller's
    /// [`crate::container::ContainerGuard`] to remove.
    fn run(&self, spec: &ContainerSpec, before_start: Option<BeforeStart>) -> Result<Ending>;

    /// The first archive entry of `path` in a created `container`, at most `limit` + 1 bytes of
    /// a file, links not followed; `None` when nothing is at `path`.
    fn read_entry(&self, container: &str, path: &str, limit: usize) -> Result<Option<Found>>;

    /// Commits the stopped `container` into a new image whose ENTRYPOINT and CMD are exactly
    /// `config`'s (`None` written as none) and which gets `config.labels`; returns the image's
    /// ID. Every image the commit creates is named by `name_next`, asked before the call that
    /// creates it starts, so that a run killed meanwhile leaves only names it recorded; the
    /// last one named is the result.
    fn commit(
        &self,
        container: &str,
        config: &CommitConfig,
        name_next: &mut dyn FnMut() -> Result<String>,
    ) -> Result<String>;

    /// Points `reference` (`REPOSITORY:TAG`) at the image `id`.
    fn tag(&self, id: &str, reference: &str) -> Result<()>;

    /// Removes a container and its anonymous volumes, stopping it first if it runs. Returns
    /// whether it existed: a container that is already gone is not an error.
    fn remove_container(&self, name: &str) -> Result<bool>;

    /// Removes the name `reference` (`REPOSITORY:TAG`, never an ID), and the image with it when
    /// nothing else holds the image: no other name, no child image (Docker's
    /// `daemon/images/image_delete.go`, `ImageDelete`). Returns whether the name existed.
    fn remove_image(&self, reference: &str) -> Result<bool>;

    /// Stops a running container: SIGTERM to its first process, SIGKILL after `grace`. A
    /// container that is gone or already stopped is not an error.
    fn stop_container(&self, name: &str, grace: Duration) -> Result<()>;

    /// The running containers carrying every one of `labels`, with the image each runs.
    fn running_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<RunningContainer>>;

    /// Runs `command` through `/bin/sh -c` in the running `container`, passing its output on,
    /// until it exits, `timeout` passes or a stop signal arrives.
    fn exec(&self, container: &str, command: &str, timeout: Option<Duration>) -> Result<Ending>;

    /// The same engine through the CLI alone: for a run whose containers need the app's docker
    /// options, which only the CLI knows how to read.
    fn through_cli(&self) -> Docker;
}

/// The engine the host names: the Engine API when `DOCKER_BIN` is Docker's CLI talking to a
/// local engine and `engine_api` allows it, else the CLI at `bin`. `trace` writes every call
/// to stderr first; `limit` bounds each call.
pub fn connect(bin: PathBuf, trace: bool, limit: Duration, engine_api: bool) -> Docker {
    let cli = Cli::new(bin, trace, limit);
    // Podman, even behind a link named `docker`, is spoken to through its CLI only.
    match (engine_api && !cli.is_podman())
        .then(|| Engine::local(cli.bin(), trace, limit))
        .flatten()
    {
        Some(engine) => Arc::new(EngineApi::new(engine, cli)),
        None => Arc::new(cli),
    }
}

/// The engine for one phase's run, chosen once before its first container: the host's, or its
/// CLI when the containers carry docker options ([`ContainerSpec::cli_options`]).
pub fn for_run(docker: &Docker, docker_options: &[String]) -> Docker {
    if docker_options.is_empty() {
        Arc::clone(docker)
    } else {
        docker.through_cli()
    }
}

/// A task container, as any engine can make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Its name (`APP.PHASE.RUNID`).
    pub name: String,
    /// The image ID it runs.
    pub image: String,
    /// Its ENTRYPOINT; `None` keeps the image's none, and an image that has one always gets one
    /// (an engine's commit can never clear an ENTRYPOINT the container was created with).
    pub entrypoint: Option<Vec<String>>,
    /// Its CMD: the arguments of the entrypoint, or the command when there is none.
    pub cmd: Vec<String>,
    /// Its labels, in order.
    pub labels: Vec<(String, String)>,
    /// What is mounted into it.
    pub mounts: Vec<Mount>,
    /// The environment and the command, delivered on its standard input, which is closed after
    /// them: nothing of them is in the container's config or a process's arguments.
    pub stdin: Vec<u8>,
    /// The app's docker options, as `docker run` reads them; only the CLI takes them
    /// ([`for_run`]).
    pub cli_options: Vec<String>,
    /// How long the task may run.
    pub timeout: Option<Duration>,
}

/// What is mounted into a task container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A host file, bound read-only (the helper).
    HostFile { source: PathBuf, target: String },
    /// A named volume, read-write, which the engine creates where it does not exist (Dokku's
    /// build cache).
    Volume { name: String, target: String },
}

/// What a commit writes into the image's config ([`ContainerEngine::commit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// Labels added to the image's, in order.
    pub labels: Vec<(String, String)>,
    /// The image's ONBUILD triggers, which a commit from the CLI drops (the container's config
    /// has none) and a build `FROM` the commit would run.
    pub on_build: Vec<String>,
    /// The image's whole `Config` as the engine gave it ([`Image::config`]), which the Engine
    /// API's commit can take back as it is.
    pub base: serde_json::Value,
}

impl CommitConfig {
    /// Whether the image gets neither ENTRYPOINT nor CMD: Docker's commit cannot write that
    /// (an empty CMD there means "keep the container's"), so its backends write it after.
    fn clears_both(&self) -> bool {
        self.entrypoint.is_none() && self.cmd.as_ref().is_none_or(Vec::is_empty)
    }

    /// The config a commit through the Engine API gives the image: the image's own, with the
    /// labels added, when the engine gave it. Docker fills what it leaves empty from the
    /// container's (`daemon/commit.go`, `merge`): nothing else of the container's reaches the
    /// image, and a null CMD beside an ENTRYPOINT stays null, which `changes` cannot write.
    fn whole(&self) -> Option<serde_json::Value> {
        let mut config = self.base.as_object()?.clone();
        let mut labels = config
            .get("Labels")
            .and_then(serde_json::Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in &self.labels {
            labels.insert(key.clone(), value.clone().into());
        }
        config.insert("Labels".into(), labels.into());
        Some(config.into())
    }
}

/// A running container of [`ContainerEngine::running_containers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningContainer {
    pub name: String,
    /// The image ID it runs.
    pub image_id: String,
}

/// What the plugin needs to know of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The image ID (`sha256:...`).
    pub id: String,
    /// `Config.Entrypoint`; `None` when the image has none.
    pub entrypoint: Option<Vec<String>>,
    /// `Config.Cmd`; `None` when the image has none.
    pub cmd: Option<Vec<String>>,
    /// `Config.WorkingDir`; empty when unset.
    pub working_dir: String,
    /// `Config.Env`, as `KEY=VALUE` strings.
    pub env: Vec<String>,
    /// `Config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// `Config.Volumes`: paths whose writes are never committed.
    pub volumes: Vec<String>,
    /// `Config.OnBuild`: the triggers a build `FROM` the image runs.
    pub on_build: Vec<String>,
    /// `Config` whole, as the engine gave it (`null` when it gave none).
    pub config: serde_json::Value,
}

impl Image {
    /// The value of a variable in the image's own environment.
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|entry| entry.strip_prefix(key)?.strip_prefix('='))
    }
}

/// An image as both the Engine API and `docker image inspect` describe it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct InspectedImage {
    id: String,
    #[serde(default)]
    config: serde_json::Value,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectedConfig {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    working_dir: Option<String>,
    env: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    on_build: Option<Vec<String>>,
}

impl TryFrom<InspectedImage> for Image {
    type Error = serde_json::Error;

    fn try_from(inspected: InspectedImage) -> Result<Image, serde_json::Error> {
        let parsed = if inspected.config.is_null() {
            InspectedConfig::default()
        } else {
            InspectedConfig::deserialize(&inspected.config)?
        };
        Ok(Image {
            id: inspected.id,
            entrypoint: parsed.entrypoint.filter(|words| !words.is_empty()),
            cmd: parsed.cmd,
            working_dir: parsed.working_dir.unwrap_or_default(),
            env: parsed.env.unwrap_or_default(),
            labels: parsed.labels.unwrap_or_default(),
            volumes: parsed.volumes.unwrap_or_default().into_keys().collect(),
            on_build: parsed.on_build.unwrap_or_default(),
            config: inspected.config,
        })
    }
}

/// The Dockerfile that writes the committed image `image` (its ID, or the name its commit gives
/// it) back with `entrypoint` (none: null) and a null CMD, as the image had them, and its ONBUILD
/// triggers: the image it builds `FROM` has none, so that none runs there (each is written back
/// as the instruction it was).
///
/// A commit cannot always: it fills an empty CMD, and a null ENTRYPOINT, from the container's
/// config (`daemon/commit.go`, `merge`), and its `changes` cannot write a null CMD; with neither
/// in the image, no config it is given helps. The classic builder can: it reads `ENTRYPOINT []` as
/// no ENTRYPOINT and drops a CMD the same Dockerfile did not set
/// (`builder/dockerfile/dispatchers.go`, `dispatchEntrypoint`), and its result has
/// the commit as parent, with every layer, label and setting of it. One thing it adds: an image
/// without PATH gets Docker's default PATH in its ENV (`evaluator.go`, `setDefaultPath`), the one
/// Docker gives its containers anyway. It creates, commits and removes a container for the step
/// (`internals.go`, `commit`), so the build is asked to remove it even when the step fails.
/// BuildKit, three times faster, is not used: its cache keeps the image's layers after the image
/// is removed, until someone prunes the build cache, its image has no parent, and Debian's CLI
/// has no buildx to drive it. The step's commit is a second layer registration after the task's
/// (a process the engine starts for each): what an image without ENTRYPOINT and CMD costs more.
fn clearing_dockerfile(image: &str, entrypoint: Option<&[String]>, on_build: &[String]) -> String {
    let mut dockerfile = format!(
        "FROM {image}\nENTRYPOINT {}\n",
        json_array(entrypoint.unwrap_or_default())
    );
    for trigger in on_build {
        dockerfile.push_str(&format!("ONBUILD {trigger}\n"));
    }
    dockerfile
}

/// Starts writing neither ENTRYPOINT nor CMD into the image a commit is about to create under
/// the first name given, as a new image under the second; what it returns ends that work once
/// the commit made the image (its ID), and gives the result's ID.
type BeginClear<'a> = &'a dyn Fn(&str, &str) -> Result<FinishClear<'a>>;

/// The end of a clearing begun by a [`BeginClear`]: given the committed image's ID, the ID of
/// the image without ENTRYPOINT and CMD. Dropped uncalled, it abandons the clearing.
type FinishClear<'a> = Box<dyn FnOnce(&str) -> Result<String> + 'a>;

/// The commit protocol both backends share: `commit` creates the image under the first name
/// `name_next` gives; where the backend's commit cannot write the image's null CMD itself, it
/// passes a `clear` that writes it into a second image under the next name. The clearing begins
/// before the commit, so that a backend can overlap its start with the commit.
fn commit_named(
    container: &str,
    name_next: &mut dyn FnMut() -> Result<String>,
    commit: impl FnOnce(String) -> Result<String>,
    clear: Option<BeginClear>,
) -> Result<String> {
    let clearing = || format!("clearing the CMD of the image committed from {container}");
    let name = name_next()?;
    let finish = match clear {
        Some(begin) => {
            let into = name_next()?;
            Some(begin(&name, &into).with_context(clearing)?)
        }
        None => None,
    };
    let id = commit(name)?;
    match finish {
        Some(finish) => finish(&id).with_context(clearing),
        None => Ok(id),
    }
}

/// `REPOSITORY:TAG` as its two parts (a `:` in a registry's port is not the tag's).
fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (reference, "latest"),
    }
}

/// A Dockerfile JSON array (`["a","b"]`); serde_json's escapes are what Docker's parser reads.
fn json_array(words: &[String]) -> String {
    // Strings only: serde_json fails on maps with non-string keys and on failing writers, and
    // this is neither.
    serde_json::to_string(words).expect("a list of strings always serializes")
}

/// The Dockerfile-style changes of a commit (`ENTRYPOINT [...]`, `CMD [...]`, `LABEL k=v ...`),
/// which both the CLI's `--change` and the Engine API's `changes` take. An image with no CMD
/// gets `CMD []`: the syntax cannot write none, and leaving it out would keep the helper's
/// arguments. `label_per_line` writes one `LABEL` per label, as Podman needs.
fn commit_changes(config: &CommitConfig, label_per_line: bool) -> Vec<String> {
    let mut changes = Vec::new();
    if let Some(entrypoint) = &config.entrypoint {
        changes.push(format!("ENTRYPOINT {}", json_array(entrypoint)));
    }
    let cmd = config.cmd.clone().unwrap_or_default();
    changes.push(format!("CMD {}", json_array(&cmd)));
    let labels: Vec<String> = config
        .labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if label_per_line {
        changes.extend(labels.iter().map(|label| format!("LABEL {label}")));
    } else if !labels.is_empty() {
        changes.push(format!("LABEL {}", labels.join(" ")));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> CommitConfig {
        let words = |list: &[&str]| list.iter().map(|word| word.to_string()).collect();
        CommitConfig {
            entrypoint: entrypoint.map(words),
            cmd: cmd.map(words),
            labels: vec![
                ("com.dokku.app-name".into(), "shop".into()),
                ("com.dokku.predeploy-phase".into(), "true".into()),
            ],
            on_build: Vec::new(),
            base: serde_json::Value::Null,
        }
    }

    #[test]
    fn docker_gets_one_label_instruction_with_every_label() {
        assert_eq!(
            commit_changes(&config(Some(&["/bin/sh", "-c"]), Some(&["serve"])), false),
            [
                r#"ENTRYPOINT ["/bin/sh","-c"]"#,
                r#"CMD ["serve"]"#,
                "LABEL com.dokku.app-name=shop com.dokku.predeploy-phase=true",
            ]
        );
    }

    #[test]
    fn podman_gets_one_label_per_instruction_and_no_cmd_is_an_empty_one() {
        let changes = config(None, None);
        assert!(changes.clears_both());
        assert_eq!(
            commit_changes(&changes, true),
            [
                "CMD []",
                "LABEL com.dokku.app-name=shop",
                "LABEL com.dokku.predeploy-phase=true",
            ]
        );
        assert!(!config(None, Some(&["serve"])).clears_both());
        assert!(!config(Some(&["/tini"]), None).clears_both());
    }

    #[test]
    fn references_split_at_the_tags_colon() {
        assert_eq!(
            split_reference("dokku/shop:deploy-tasks-1-2"),
            ("dokku/shop", "deploy-tasks-1-2")
        );
        assert_eq!(
            split_reference("registry:5000/shop"),
            ("registry:5000/shop", "latest")
        );
    }

    #[test]
    fn json_arrays_escape_quotes_and_backslashes() {
        let words = vec![
            "sh".to_string(),
            "-c".to_string(),
            r#"echo "a\b""#.to_string(),
        ];
        assert_eq!(json_array(&words), r#"["sh","-c","echo \"a\\b\""]"#);
        assert_eq!(json_array(&[]), "[]");
    }

    #[test]
    fn the_whole_config_is_the_images_own_with_the_labels_added() {
        let mut commit = config(Some(&["/entrypoint.sh"]), None);
        assert_eq!(commit.whole(), None, "no config from the engine");
        commit.base = serde_json::json!({
            "Entrypoint": ["/entrypoint.sh"],
            "Cmd": null,
            "Env": ["A=1"],
            "Labels": {"com.dokku.app-name": "old", "theirs": "kept"},
            "OpenStdin": false
        });
        assert_eq!(
            commit.whole(),
            Some(serde_json::json!({
                "Entrypoint": ["/entrypoint.sh"],
                "Cmd": null,
                "Env": ["A=1"],
                "Labels": {
                    "com.dokku.app-name": "shop",
                    "com.dokku.predeploy-phase": "true",
                    "theirs": "kept"
                },
                "OpenStdin": false
            }))
        );
    }

    #[test]
    fn env_value_reads_the_image_environment() {
        let image = Image {
            id: "sha256:1".into(),
            entrypoint: None,
            cmd: None,
            working_dir: String::new(),
            env: vec!["PATH=/bin".into(), "USER=herokuishuser".into()],
            labels: BTreeMap::new(),
            volumes: Vec::new(),
            on_build: Vec::new(),
            config: serde_json::Value::Null,
        };
        assert_eq!(image.env_value("USER"), Some("herokuishuser"));
        assert_eq!(image.env_value("USE"), None);
    }

    /// What a [`commit_named`] with a clearing did, in order.
    fn commit_with_clearing(commit_fails: bool) -> (Result<String>, Vec<String>) {
        use std::cell::RefCell;
        struct Dropped<'a>(&'a RefCell<Vec<String>>);
        impl Drop for Dropped<'_> {
            fn drop(&mut self) {
                self.0.borrow_mut().push("clearing dropped".into());
            }
        }
        let recorded = RefCell::new(Vec::new());
        let events = &recorded;
        let mut names = 0;
        let mut name_next = || {
            names += 1;
            Ok(format!("name-{names}"))
        };
        let begin = |from: &str, into: &str| -> Result<FinishClear> {
            events
                .borrow_mut()
                .push(format!("begin {from} into {into}"));
            let dropped = Dropped(events);
            Ok(Box::new(move |id: &str| {
                let _dropped = dropped;
                events.borrow_mut().push(format!("finish on {id}"));
                Ok("cleared".to_string())
            }))
        };
        let commit = |name: String| {
            events.borrow_mut().push(format!("commit as {name}"));
            if commit_fails {
                anyhow::bail!("refused");
            }
            Ok("committed".to_string())
        };
        let result = commit_named("c", &mut name_next, commit, Some(&begin));
        (result, recorded.into_inner())
    }

    #[test]
    fn a_clearing_begins_before_the_commit_and_ends_on_its_image() {
        let (result, events) = commit_with_clearing(false);
        assert_eq!(result.unwrap(), "cleared");
        assert_eq!(
            events,
            [
                "begin name-1 into name-2",
                "commit as name-1",
                "finish on committed",
                "clearing dropped"
            ]
        );
    }

    #[test]
    fn a_clearing_is_dropped_unfinished_when_its_commit_fails() {
        let (result, events) = commit_with_clearing(true);
        assert!(result.is_err());
        assert_eq!(
            events,
            [
                "begin name-1 into name-2",
                "commit as name-1",
                "clearing dropped"
            ]
        );
    }
}
