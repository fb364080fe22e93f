//! One phase of a deploy, top to bottom: host context, discover tasks, plan each container, run
//! it, commit (predeploy), and report how it ended.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::app::{App, ImageTag};
use crate::app_config::{self, AppConfig};
use crate::commit;
use crate::container::{self, ContainerGuard, Ending};
use crate::discover::{self, ImageLookup, Search};
use crate::docker::Image;
use crate::docker_options;
use crate::dokku;
use crate::history::{self, HistoryEntry, Outcome};
use crate::host::Host;
use crate::in_flight::{self, InFlight};
use crate::interrupt;
use crate::lock::{self, LockWait};
use crate::phase::Phase;
use crate::plan::{self, PlanInput};
use crate::plugn;
use crate::settings::{CoreTasks, FailurePolicy, Settings};
use crate::sources::{self, flux_orbit, Frequency, SourceOptions, Target, Task};

/// What the host, or an admin, asked to run.
#[derive(Debug, Clone)]
pub struct PhaseRequest {
    pub app: App,
    pub tag: ImageTag,
    pub phase: Phase,
    /// Which of the tasks that run only on an app's first deploy (Heroku's `scripts.postdeploy`)
    /// are considered.
    pub first_deploy_tasks: FirstDeployTasks,
    /// Whether a predeploy's result is committed into the image (false for a dry run).
    pub commit: bool,
    /// Whether the `skip` setting and `DOKKU_DEPLOY_TASKS_SKIP` apply (a host's trigger: yes; an
    /// admin's explicit run: no).
    pub obey_skip: bool,
    /// Whether Dokku's app-json, which runs just before in the same trigger, has already said
    /// `Checking for PHASE task` (a Dokku that fires the builder triggers): then nothing more is
    /// said when there is no task, and the heading names the plugin when there is one.
    pub dokku_checked_first: bool,
}

/// Whether a phase run considers the tasks that run only on an app's first deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstDeployTasks {
    /// Not them (a manual run; Dokku's `post-deploy`, as they ran in `post-release-builder`).
    Excluded,
    /// Them too, when the first deploy's have not run (the design's `post-deploy` trigger).
    Included,
    /// Only them (Dokku's `post-release-builder`, after the release, as Dokku runs them).
    Only,
}

/// How a phase ended. Every variant has already been reported to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseEnd {
    /// Every task succeeded, or there was none, or a failure was only a warning by policy.
    Done,
    /// A task failed; nothing was committed.
    Failed,
    /// A task ran past its time limit; nothing was committed.
    TimedOut,
    /// A signal (or a dropped connection, as SIGHUP) stopped the phase.
    Interrupted(i32),
}

/// Runs one phase for one app.
pub fn run_phase(host: &Host, request: &PhaseRequest) -> Result<PhaseEnd> {
    let PhaseRequest {
        app, tag, phase, ..
    } = request;
    let output = host.output;
    let reference = format!("{}:{}", app.image_repository(), tag.name());

    if !request.dokku_checked_first {
        output.heading(&format!("Checking for {phase} task"));
    }
    let settings = Settings::of(host, app);
    // A broken setting fails the trigger before anything is read from the image.
    settings.timeout(*phase, None)?;
    let policy_setting = settings.on_failure(*phase)?;
    let config = app_config::load(host, app)?;
    let sources = source_options(&settings, &config)?;
    let search = Search::new(&settings, &sources.flux_orbit);
    let defer = settings.core_tasks(host)? == CoreTasks::Defer;
    let found = phase_tasks(
        host,
        request,
        &mut ImageLookup::new(&host.docker, reference.clone()),
        &search,
        &sources,
    )?;
    let found = leave_to_dokku(host, found, defer, true);
    if found.is_empty() {
        if !request.dokku_checked_first {
            output.detail(&format!("No {phase} task found, skipping"));
        }
        return Ok(PhaseEnd::Done);
    }
    if request.dokku_checked_first {
        output.heading(&format!(
            "Running the {phase} task with deploy-tasks (Dokku's app-json left it to this plugin)"
        ));
    }

    if request.obey_skip {
        if let Some(why) = skipped_by(&settings, *phase)? {
            output.detail(&format!("Skipping {phase} tasks ({why})"));
            for task in &found {
                let mut entry = HistoryEntry::start(*phase, task.source.name(), &task.command, "");
                entry.finish(Outcome::Skipped, None, "", Duration::ZERO);
                record(host, app, &entry);
            }
            return Ok(PhaseEnd::Done);
        }
    }
    let shell = settings.shell();
    for warning in &config.warnings {
        output.warn(warning);
    }
    let _lock = match lock::acquire(host, app, &output)? {
        Ok(lock) => lock,
        Err(LockWait::Interrupted(signal)) => return Ok(interrupted(host, *phase, signal, false)),
    };
    in_flight::remove_leftovers(host, app, &output)?;
    // What was found before the lock only decided whether to take it. A deploy that held the
    // lock may have moved the tag (run on what it names now, so its commit is built upon, never
    // lost) or run the first-deploy-only task: look again.
    let mut lookup = ImageLookup::new(&host.docker, reference.clone());
    let image = lookup.get()?.clone();
    // On a Dokku, its plugins shape the task container as they shape the deploy's.
    let dokku_plugins = dokku::fires_release_builder(host) && plugn::available();
    let options = docker_options_for(host, request, &image, dokku_plugins)?;
    for warning in &options.warnings {
        output.warn(warning);
    }
    let tasks = phase_tasks(host, request, &mut lookup, &search, &sources)?;
    let tasks = leave_to_dokku(host, tasks, defer, false);
    if tasks.is_empty() {
        output.detail(&format!("No {phase} task found, skipping"));
        return Ok(PhaseEnd::Done);
    }
    if *phase == Phase::Predeploy && request.commit && !image.volumes.is_empty() {
        output.warn(&format!(
            "{reference} declares VOLUME {}: what the predeploy task writes there is not committed",
            image.volumes.join(", ")
        ));
    }

    let run_id = container::run_id();
    let mut in_flight = InFlight::open(host, app, &run_id)?;
    // Each predeploy task runs on the previous one's result, committed untagged; the tag moves
    // once, after the last.
    let mut committed: Vec<String> = Vec::new();
    for (index, task) in tasks.iter().enumerate() {
        if let Some(why) = &task.skip {
            output.detail(&format!(
                "Skipping {phase} task from {} ({why})",
                task.source.name()
            ));
            let mut entry = HistoryEntry::start(*phase, task.source.name(), &task.command, "");
            entry.finish(Outcome::Skipped, None, "", Duration::ZERO);
            record(host, app, &entry);
            continue;
        }
        if task.frequency == Frequency::FirstDeployOnly {
            // Recorded before it runs, so it never runs twice, even if it fails.
            record_first_deploy_task(host, app)?;
        }
        let limits = Limits {
            timeout: settings.timeout(*phase, task.defaults.timeout)?,
            policy: policy_setting
                .or(task.defaults.on_failure)
                .unwrap_or(FailurePolicy::Fail),
            ignore_timeout: policy_setting.is_none() && task.defaults.ignore_timeout,
        };
        let run_image = committed.last().unwrap_or(&image.id).clone();
        let step = match &task.target {
            Target::NewContainer => {
                let plan = plan::task_container(&PlanInput {
                    app,
                    tag,
                    task,
                    image: &image,
                    run_image: &run_image,
                    helper: &host.helper,
                    shell: shell.as_deref(),
                    docker_options: &options.args,
                    config: &config,
                    run_id: &run_id,
                    ordinal: index + 1,
                })?;
                output.detail(&format!(
                    "Executing {phase} task from {}: {}",
                    task.source.name(),
                    task.command
                ));
                in_flight.note(&plan.name)?;
                let mut entry =
                    HistoryEntry::start(*phase, task.source.name(), &task.command, &run_image);
                let started = Instant::now();
                let mut guard = ContainerGuard::new(host.docker.clone(), plan.name.clone());
                let post_container_create = |id: &str| post_container_create(id, app, *phase);
                let before_start: Option<container::BeforeStart> =
                    dokku_plugins.then_some(&post_container_create);
                let ending = container::run(
                    &host.docker,
                    &plan,
                    &mut guard,
                    limits.timeout,
                    before_start,
                )?;
                let mut image_after = run_image.clone();
                if ending == Ending::Exited(0) && *phase == Phase::Predeploy && request.commit {
                    image_after = match commit::commit(&host.docker, guard.name(), app, &image) {
                        Ok(id) => id,
                        Err(error) => {
                            discard(host, &committed);
                            return Err(error);
                        }
                    };
                    committed.push(image_after.clone());
                }
                drop(guard);
                conclude(
                    host,
                    app,
                    task,
                    &limits,
                    ending,
                    &mut entry,
                    &image_after,
                    started,
                )
            }
            Target::RunningContainers { process_type } => {
                let containers = container::running_containers(
                    &host.docker,
                    app.name(),
                    process_type,
                    &image.id,
                )?;
                if containers.is_empty() {
                    output.detail(&format!(
                        "No running {process_type} container of {reference}: skipping {} from {}",
                        task.key,
                        task.source.name()
                    ));
                    let mut entry =
                        HistoryEntry::start(*phase, task.source.name(), &task.command, &image.id);
                    entry.finish(Outcome::Skipped, None, &image.id, Duration::ZERO);
                    record(host, app, &entry);
                }
                let mut step = Step::Next;
                for name in &containers {
                    output.detail(&format!(
                        "Executing {phase} task from {} in {name}: {}",
                        task.source.name(),
                        task.command
                    ));
                    let mut entry =
                        HistoryEntry::start(*phase, task.source.name(), &task.command, &image.id);
                    let started = Instant::now();
                    let ending =
                        container::exec(&host.docker, name, &task.command, limits.timeout)?;
                    step = conclude(
                        host, app, task, &limits, ending, &mut entry, &image.id, started,
                    );
                    if let Step::Stop(_) = step {
                        break;
                    }
                }
                step
            }
        };
        if let Step::Stop(end) = step {
            discard(host, &committed);
            return Ok(end);
        }
    }

    if let Some(result) = committed.last() {
        // A Ctrl-C now lets the tag move, then stops the trigger.
        let _critical = interrupt::Critical::begin();
        if let Err(error) = commit::move_tag(&host.docker, &reference, &image.id, result) {
            discard(host, &committed);
            return Err(error);
        }
        output.detail(&format!("Committed the {phase} result into {reference}"));
    }
    if let Some(signal) = interrupt::received() {
        return Ok(interrupted(host, *phase, signal, !committed.is_empty()));
    }
    Ok(PhaseEnd::Done)
}

/// The tasks a trigger of `phase` would run now for `dokku/APP:TAG`, each as `SOURCE KEY` (the
/// key left out where it is the source's name), with why it would not run where that is so: for
/// `deploy-tasks:report`.
pub fn describe_tasks(host: &Host, app: &App, tag: &ImageTag, phase: Phase) -> Result<Vec<String>> {
    let settings = Settings::of(host, app);
    let config = app_config::load(host, app)?;
    let sources = source_options(&settings, &config)?;
    let search = Search::new(&settings, &sources.flux_orbit);
    let defer = settings.core_tasks(host)? == CoreTasks::Defer;
    let request = PhaseRequest {
        app: app.clone(),
        tag: tag.clone(),
        phase,
        first_deploy_tasks: FirstDeployTasks::Included,
        commit: false,
        obey_skip: true,
        dokku_checked_first: false,
    };
    let reference = format!("{}:{}", app.image_repository(), tag.name());
    let mut lookup = ImageLookup::new(&host.docker, reference);
    let tasks = phase_tasks(host, &request, &mut lookup, &search, &sources)?;
    Ok(tasks
        .iter()
        .map(|task| {
            let mut text = task.source.name().to_string();
            if task.key != task.source.name() {
                text = format!("{text} {}", task.key);
            }
            if defer && task.run_by_stock_dokku() {
                text.push_str(" (left to Dokku)");
            } else if let Some(why) = &task.skip {
                text.push_str(&format!(" (skipped: {why})"));
            }
            text
        })
        .collect())
}

/// A task's limits once the admin's settings are laid over its source's defaults.
struct Limits {
    timeout: Option<Duration>,
    policy: FailurePolicy,
    ignore_timeout: bool,
}

/// What the phase does after a task.
enum Step {
    Next,
    Stop(PhaseEnd),
}

/// Reports and records how a task ended, and decides whether the phase goes on.
#[allow(clippy::too_many_arguments)]
fn conclude(
    host: &Host,
    app: &App,
    task: &Task,
    limits: &Limits,
    ending: Ending,
    entry: &mut HistoryEntry,
    image_after: &str,
    started: Instant,
) -> Step {
    let phase = task.phase;
    let (outcome, code, step) = match ending {
        Ending::Exited(0) => (Outcome::Ok, Some(0), Step::Next),
        Ending::Exited(code) => match failed(
            host,
            task,
            limits.policy,
            &format!("failed with exit code {code}"),
        ) {
            PhaseEnd::Done => (Outcome::Warned, Some(code), Step::Next),
            end => (Outcome::Failed, Some(code), Step::Stop(end)),
        },
        Ending::TimedOut(limit) if limits.ignore_timeout => {
            host.output.warn(&format!(
                "{phase} task from {} timed out after {}; going on as if it succeeded, as Pagoda Box does for deploy hooks (command: {})",
                task.source.name(),
                seconds(limit),
                task.command
            ));
            (Outcome::TimeoutIgnored, None, Step::Next)
        }
        Ending::TimedOut(limit) => match failed(
            host,
            task,
            limits.policy,
            &format!("timed out after {}", seconds(limit)),
        ) {
            PhaseEnd::Done => (Outcome::Warned, None, Step::Next),
            _ => (Outcome::Timeout, None, Step::Stop(PhaseEnd::TimedOut)),
        },
        Ending::Interrupted(signal) => (
            Outcome::Interrupted,
            None,
            Step::Stop(interrupted(host, phase, signal, false)),
        ),
    };
    entry.finish(outcome, code, image_after, started.elapsed());
    record(host, app, entry);
    step
}

/// With `core-tasks` at `defer`, drops the tasks a stock Dokku's own app-json plugin runs,
/// saying so once (`announce`) per phase.
fn leave_to_dokku(host: &Host, tasks: Vec<Task>, defer: bool, announce: bool) -> Vec<Task> {
    if !defer {
        return tasks;
    }
    let (dokku, ours): (Vec<Task>, Vec<Task>) =
        tasks.into_iter().partition(Task::run_by_stock_dokku);
    if announce && !dokku.is_empty() {
        let keys: Vec<String> = dokku
            .iter()
            .map(|task| format!("{} {}", task.source.name(), task.key))
            .collect();
        host.output.detail(&format!(
            "Leaving {} to Dokku's app-json plugin (core-tasks is defer)",
            keys.join(", ")
        ));
    }
    ours
}

/// How the sources read, from the plugin's settings and the app's config.
fn source_options(settings: &Settings, config: &AppConfig) -> Result<SourceOptions> {
    Ok(SourceOptions {
        heroku_postdeploy_every: settings.heroku_postdeploy_every_deploy()?,
        flux_orbit: flux_orbit::options(|name| config.get(name))?,
    })
}

/// Why the phase is skipped, if it is ([`Settings::skipped`]).
fn skipped_by(settings: &Settings, phase: Phase) -> Result<Option<String>> {
    Ok(settings
        .skipped()?
        .and_then(|(phases, why)| phases.contains(&phase).then_some(why)))
}

/// Appends a task run to the app's history. The history serves the operator; a failure to write
/// it never fails a deploy.
fn record(host: &Host, app: &App, entry: &HistoryEntry) {
    if let Err(error) = history::append(&host.data_dir(app), entry) {
        host.output.warn(&format!(
            "could not record the run in the history: {error:#}"
        ));
    }
}

/// The tasks of the requested phase that are due: first-deploy-only ones only when asked for and
/// not yet run.
fn phase_tasks(
    host: &Host,
    request: &PhaseRequest,
    lookup: &mut ImageLookup,
    search: &Search,
    options: &SourceOptions,
) -> Result<Vec<Task>> {
    let app = &request.app;
    let copies = discover::host_copies(host, app, search)?;
    // A broken file the host extracted fails the trigger before the image is even read.
    sources::tasks(&copies, request.phase, options)?;
    let definitions = discover::definitions(host, app, lookup, search, copies)?;
    let mut tasks = sources::tasks(&definitions, request.phase, options)?;
    let first_deploy_due = request.first_deploy_tasks != FirstDeployTasks::Excluded
        && !first_deploy_task_ran(host, app);
    let every_deploy = request.first_deploy_tasks != FirstDeployTasks::Only;
    tasks.retain(|task| match task.frequency {
        Frequency::EveryDeploy => every_deploy,
        Frequency::FirstDeployOnly => first_deploy_due,
    });
    Ok(tasks)
}

/// This plugin's record that the first-deploy-only task ran.
fn first_deploy_record(host: &Host, app: &App) -> PathBuf {
    host.data_dir(app).join("heroku-postdeploy")
}

/// Heroku's `scripts.postdeploy` runs once per app: not when this plugin's record says it ran, nor
/// once Dokku marked the app deployed. (Dokku's app-json marks its own property before this
/// plugin runs the task, so that property counts only through the takeover, which records it.)
fn first_deploy_task_ran(host: &Host, app: &App) -> bool {
    first_deploy_record(host, app).exists() || dokku::deployed(host, app)
}

/// Records that the first-deploy-only task ran (or is about to, so that it never runs twice).
pub fn record_first_deploy_task(host: &Host, app: &App) -> Result<()> {
    let record = first_deploy_record(host, app);
    host.data_dir(app).create()?;
    host.ownership()
        .write(&record, "executed")
        .with_context(|| format!("recording {}", record.display()))
}

/// The app's docker options for a phase task, filtered as Dokku filters them: on a Dokku, what
/// its plugins give a deploy's containers ([`dokku_plugins_options`]); elsewhere the app's
/// docker-options file (new location, else the pre-0.38 one); then `DOKKU_GLOBAL_RUN_ARGS`.
fn docker_options_for(
    host: &Host,
    request: &PhaseRequest,
    image: &Image,
    dokku_plugins: bool,
) -> Result<docker_options::Filtered> {
    let (app, phase) = (&request.app, request.phase);
    let mut filtered = docker_options::Filtered::default();
    if dokku_plugins {
        let (options, warnings) = dokku_plugins_options(app, &request.tag, image);
        filtered = docker_options::filter(&options, phase);
        filtered.warnings.extend(warnings);
    } else {
        let candidates = [
            host.lib_root
                .join("config")
                .join("docker-options")
                .join(app.name())
                .join("_default_.deploy"),
            host.dokku_root
                .join(app.name())
                .join("DOCKER_OPTIONS_DEPLOY"),
        ];
        if let Some(path) = candidates.iter().find(|path| path.is_file()) {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let options = docker_options::parse_lines(&text, &path.display().to_string())?;
            filtered = docker_options::filter(&options, phase);
        }
    }
    if let Some(args) = &host.global_run_args {
        let options = docker_options::parse_args(args, "DOKKU_GLOBAL_RUN_ARGS")?;
        let dokku = docker_options::filter_dokku_run_args(&options, phase);
        filtered.args.extend(dokku.args);
        filtered.warnings.extend(dokku.warnings);
    }
    Ok(filtered)
}

/// What Dokku's plugins give a deploy's containers, asked as its app-json asks for a task
/// container: `docker-args-deploy APP TAG`, then `docker-args-process-deploy APP SOURCE_TYPE
/// TAG`. The config plugin's bare `--env=KEY` options are left out: the plugin gives the task
/// the app's config itself, on the helper's stdin. A trigger that fails is left out with a
/// warning (Dokku's app-json ignores it silently).
fn dokku_plugins_options(
    app: &App,
    tag: &ImageTag,
    image: &Image,
) -> (Vec<docker_options::DockerOption>, Vec<String>) {
    let source_type = image
        .labels
        .get("com.dokku.builder-type")
        .map(String::as_str)
        .filter(|kind| matches!(*kind, "herokuish" | "pack"))
        .unwrap_or("dockerfile");
    let asks: [(&str, Vec<&str>); 2] = [
        ("docker-args-deploy", vec![app.name(), tag.name()]),
        (
            "docker-args-process-deploy",
            vec![app.name(), source_type, tag.name()],
        ),
    ];
    let mut options = Vec::new();
    let mut warnings = Vec::new();
    for (trigger, args) in asks {
        let parsed = plugn::trigger_output(trigger, &args).and_then(|text| {
            docker_options::parse_args(&text, &format!("the {trigger} trigger's output"))
                .map_err(anyhow::Error::from)
        });
        match parsed {
            Ok(parsed) => options.extend(docker_options::without_config_keys(parsed)),
            Err(error) => warnings.push(format!(
                "{error:#}; the task runs without the options of Dokku's {trigger} trigger"
            )),
        }
    }
    (options, warnings)
}

/// Dokku's `post-container-create app CONTAINER_ID APP PHASE`, which its app-json fires for a
/// task container before starting it (the network plugin attaches networks then). What the
/// plugins print is shown; a failure stops the task before it starts.
fn post_container_create(id: &str, app: &App, phase: Phase) -> Result<()> {
    let said = plugn::trigger_output(
        "post-container-create",
        &["app", id, app.name(), phase.name()],
    )?;
    if !said.is_empty() {
        crate::output::write_bytes(crate::output::Stream::Stdout, said.as_bytes());
    }
    Ok(())
}

fn failed(host: &Host, task: &Task, policy: FailurePolicy, what: &str) -> PhaseEnd {
    let phase = task.phase;
    let unchanged = if phase == Phase::Predeploy {
        "; the image was not changed"
    } else {
        ""
    };
    let message = format!(
        "{phase} task from {} {what}{unchanged} (command: {})",
        task.source.name(),
        task.command
    );
    match policy {
        FailurePolicy::Fail => {
            host.output.error(&message);
            PhaseEnd::Failed
        }
        FailurePolicy::Warn => {
            host.output.warn(&format!(
                "{message}; going on, as {phase}-on-failure is `warn`"
            ));
            PhaseEnd::Done
        }
    }
}

fn interrupted(host: &Host, phase: Phase, signal: i32, committed: bool) -> PhaseEnd {
    let why = if signal == libc::SIGHUP && crate::output::peer_gone() {
        "the connection closed".to_string()
    } else {
        format!("received {}", interrupt::signal_name(signal))
    };
    let what = if committed {
        "the commit completed first"
    } else if phase == Phase::Predeploy {
        "the task was stopped and the image was not changed"
    } else {
        "the task was stopped"
    };
    host.output
        .error(&format!("{phase} interrupted ({why}): {what}"));
    PhaseEnd::Interrupted(signal)
}

/// Removes images committed by a run that did not finish, newest first (each is the parent of
/// the next).
fn discard(host: &Host, committed: &[String]) {
    for id in committed.iter().rev() {
        let _ = host.docker.run(["rmi", id]);
    }
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}
