//! One phase of a deploy, top to bottom: host context, discover tasks, plan each container, run
//! it, commit (predeploy), record and report how it ended. The lock, the in-flight record and
//! the committed images belong to the phase's [`PhaseRun`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::app::{App, ImageTag};
use crate::app_config::{self, AppConfig};
use crate::bounded_read;
use crate::container::{BeforeStart, Ending};
use crate::discover::{self, ImageLookup, Search};
use crate::docker::{self, Docker, Image};
use crate::docker_options;
use crate::dokku;
use crate::history::{self, HistoryEntry, Outcome};
use crate::host::Host;
use crate::interrupt;
use crate::lock::{self, LockWait};
use crate::phase::Phase;
use crate::phase_run::PhaseRun;
use crate::plan::{self, PlanInput};
use crate::plugn;
use crate::settings::{CoreTasks, FailurePolicy, Settings};
use crate::sources::{self, Frequency, Source, SourceOptions, Target, Task};

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
    /// The image the tasks run on where the host deploys another than `dokku/APP:TAG` (a
    /// registry's, for Dokku's `post-deploy`); never committed into.
    pub image: Option<String>,
    /// Whether the image may have left this host (`post-deploy`: a scheduler that runs the app
    /// elsewhere, as Dokku's k3s one does, may remove the local copy). Without it, only the
    /// host's copies are read, as Dokku's app-json reads its app.json before the image: no task
    /// there, and the phase has nothing to run; a task there needs the image.
    pub image_may_be_gone: bool,
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

/// Runs one phase for one app: host context, discover tasks, take the app's lock, plan (which
/// chooses the engine's path for the run), begin the run (leftovers of killed runs removed),
/// run each task (commit, record, report), move the tag. Whatever way it leaves before the
/// tag move, the [`PhaseRun`] removes what it committed.
pub fn run_phase(host: &Host, request: &PhaseRequest) -> Result<PhaseEnd> {
    let phase = request.phase;
    if !request.dokku_checked_first {
        host.output.heading(&format!("Checking for {phase} task"));
    }
    let context = PhaseContext::read(host, request)?;
    let found = context.due_tasks(&mut context.lookup(), Announce::Yes)?;
    if found.is_empty() {
        return Ok(nothing_to_run(&context, !request.dokku_checked_first));
    }
    if let Some(end) = context.skip_or_announce(&found)? {
        return Ok(end);
    }
    let lock = match lock::acquire(host, &request.app, &host.output)? {
        Ok(lock) => lock,
        Err(LockWait::Interrupted(signal)) => return Ok(interrupted(host, phase, signal, false)),
    };
    let Some(plan) = PhasePlan::under_lock(&context)? else {
        return Ok(nothing_to_run(&context, true));
    };
    let mut run = PhaseRun::begin(host, &request.app, lock, &plan.docker)?;
    for (index, task) in plan.tasks.iter().enumerate() {
        if let Step::Stop(end) = run_task(&context, &plan, &mut run, index, task)? {
            return Ok(end);
        }
    }
    let committed = run.move_tag(&context.reference, &plan.image.id)?;
    if committed {
        let reference = &context.reference;
        host.output
            .detail(&format!("Committed the {phase} result into {reference}"));
    }
    Ok(match interrupt::received() {
        Some(signal) => interrupted(host, phase, signal, committed),
        None => PhaseEnd::Done,
    })
}

/// The tasks a trigger of `phase` would run now for `dokku/APP:TAG`, each as `SOURCE KEY` (the
/// key left out where it is the source's name), with why it would not run where that is so: for
/// `deploy-tasks:report`.
pub fn describe_tasks(host: &Host, app: &App, tag: &ImageTag, phase: Phase) -> Result<Vec<String>> {
    let request = PhaseRequest {
        app: app.clone(),
        tag: tag.clone(),
        phase,
        first_deploy_tasks: FirstDeployTasks::Included,
        commit: false,
        obey_skip: true,
        dokku_checked_first: false,
        image: None,
        image_may_be_gone: false,
    };
    let search = TaskSearch::read(host, app)?;
    let tasks = search.due(
        host,
        &request,
        &mut ImageLookup::new(&host.docker, reference_of(&request)),
    )?;
    Ok(tasks
        .iter()
        .map(|task| {
            let mut text = task.source.name().to_string();
            if task.key != task.source.name() {
                text = format!("{text} {}", task.key);
            }
            if search.defer && task.run_by_stock_dokku() {
                text.push_str(" (left to Dokku)");
            } else if let Some(why) = &task.skip {
                text.push_str(&format!(" (skipped: {why})"));
            }
            text
        })
        .collect())
}

/// `dokku/APP:TAG`, or the image the host deploys instead ([`PhaseRequest::image`]).
fn reference_of(request: &PhaseRequest) -> String {
    request
        .image
        .clone()
        .unwrap_or_else(|| format!("{}:{}", request.app.image_repository(), request.tag.name()))
}

/// What the search for a phase's tasks reads first: the plugin's settings, the app's config, and
/// how the sources read with them.
struct TaskSearch {
    settings: Settings,
    config: AppConfig,
    sources: SourceOptions,
    search: Search,
    /// `core-tasks` is `defer`: the tasks a stock Dokku runs are left to it.
    defer: bool,
    /// The sources whose host file Dokku wrote anew behind the plugin's back and read in this
    /// very trigger, before the plugin: their tasks that Dokku runs have just run
    /// ([`discover::take_over_rewritten`]).
    run_by_dokku_now: Vec<Source>,
}

impl TaskSearch {
    fn read(host: &Host, app: &App) -> Result<TaskSearch> {
        let settings = Settings::of(host, app);
        let config = app_config::load(host, app)?;
        let sources = SourceOptions::read(&settings, &config)?;
        let search = Search::new(&sources);
        let defer = settings.core_tasks(host)? == CoreTasks::Defer;
        Ok(TaskSearch {
            settings,
            config,
            sources,
            search,
            defer,
            run_by_dokku_now: Vec::new(),
        })
    }

    /// Whether Dokku's app-json runs `task` rather than the plugin: with `core-tasks` at
    /// `defer`, or where it just ran it from a file it rewrote.
    fn left_to_dokku(&self, task: &Task) -> bool {
        task.run_by_stock_dokku() && (self.defer || self.run_by_dokku_now.contains(&task.source))
    }

    /// The tasks of the requested phase that are due: first-deploy-only ones only when asked
    /// for and not yet run.
    fn due(
        &self,
        host: &Host,
        request: &PhaseRequest,
        lookup: &mut ImageLookup,
    ) -> Result<Vec<Task>> {
        let app = &request.app;
        let copies = discover::host_copies(host, app, &self.search)?;
        // A broken file the host extracted fails the trigger before the image is even read.
        let from_copies = sources::tasks(&copies, request.phase, &self.sources)?;
        let mut tasks = if request.image_may_be_gone && lookup.find()?.is_none() {
            // A task there reports the missing image when the plan asks for it; without one,
            // the phase says that the image was not read ([`PhaseContext::due_tasks`]).
            from_copies
        } else {
            let definitions = discover::definitions(host, app, lookup, &self.search, copies)?;
            sources::tasks(&definitions, request.phase, &self.sources)?
        };
        let first_deploy_due = request.first_deploy_tasks != FirstDeployTasks::Excluded
            && !first_deploy_task_ran(host, app);
        let every_deploy = request.first_deploy_tasks != FirstDeployTasks::Only;
        tasks.retain(|task| match task.frequency {
            Frequency::EveryDeploy => every_deploy,
            Frequency::FirstDeployOnly => first_deploy_due,
        });
        Ok(tasks)
    }
}

/// One phase run's context: the host, the request, and what was read for it before any task.
struct PhaseContext<'a> {
    host: &'a Host,
    request: &'a PhaseRequest,
    /// `dokku/APP:TAG`.
    reference: String,
    tasks: TaskSearch,
    /// The `PHASE-on-failure` setting, which wins over a source's default.
    on_failure: Option<FailurePolicy>,
}

/// Whether a search for tasks says which it leaves to Dokku (once per phase).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Announce {
    Yes,
    No,
}

impl<'a> PhaseContext<'a> {
    fn read(host: &'a Host, request: &'a PhaseRequest) -> Result<PhaseContext<'a>> {
        let mut tasks = TaskSearch::read(host, &request.app)?;
        let rewritten = discover::take_over_rewritten(host, &request.app, !tasks.defer)?;
        if request.dokku_checked_first && !rewritten.is_empty() {
            let names: Vec<&str> = rewritten.iter().map(|(_, name)| *name).collect();
            host.output.warn(&format!(
                "Dokku's copy of {} for {} is not what deploy-tasks left there (a deploy while the plugin was disabled?): deploy-tasks takes it over now, and runs none of the {} tasks Dokku's app-json has just run from it; from the next trigger on, it runs them",
                names.join(" and "),
                request.app.name(),
                request.phase
            ));
            tasks.run_by_dokku_now = rewritten.into_iter().map(|(source, _)| source).collect();
        }
        // A broken setting fails the trigger before anything is read from the image.
        tasks.settings.timeout(request.phase, None)?;
        let on_failure = tasks.settings.on_failure(request.phase)?;
        Ok(PhaseContext {
            host,
            request,
            reference: reference_of(request),
            tasks,
            on_failure,
        })
    }

    fn lookup(&self) -> ImageLookup<'a> {
        ImageLookup::new(&self.host.docker, self.reference.clone())
    }

    /// The due tasks this plugin runs (with `core-tasks` at `defer`, not those a stock Dokku's
    /// own app-json runs).
    fn due_tasks(&self, lookup: &mut ImageLookup, announce: Announce) -> Result<Vec<Task>> {
        let tasks = self.tasks.due(self.host, self.request, lookup)?;
        let (dokku, ours): (Vec<Task>, Vec<Task>) = tasks
            .into_iter()
            .partition(|task| self.tasks.left_to_dokku(task));
        // The search read no image only where the host allows it to be gone.
        if announce == Announce::Yes && ours.is_empty() && lookup.inspected().is_none() {
            self.host.output.warn(&format!(
                "{} is not on this host (a scheduler that runs the app elsewhere may have removed it): the {} tasks were looked for in the host's copies of the app's files alone, not in the image's",
                lookup.reference(),
                self.request.phase
            ));
        }
        if announce == Announce::Yes && self.tasks.defer && !dokku.is_empty() {
            let keys: Vec<String> = dokku
                .iter()
                .map(|task| format!("{} {}", task.source.name(), task.key))
                .collect();
            self.host.output.detail(&format!(
                "Leaving {} to Dokku's app-json plugin (core-tasks is defer)",
                keys.join(", ")
            ));
        }
        Ok(ours)
    }

    /// Says that the phase runs, or, when it is skipped, records its tasks as skipped and says
    /// how the phase ended.
    fn skip_or_announce(&self, found: &[Task]) -> Result<Option<PhaseEnd>> {
        let (output, phase) = (self.host.output, self.request.phase);
        if self.request.dokku_checked_first {
            output.heading(&format!(
                "Running the {phase} task with deploy-tasks (Dokku's app-json left it to this plugin)"
            ));
        }
        if self.request.obey_skip {
            if let Some(why) = skipped_by(&self.tasks.settings, phase)? {
                output.detail(&format!("Skipping {phase} tasks ({why})"));
                for task in found {
                    self.record_skipped(task, "");
                }
                return Ok(Some(PhaseEnd::Done));
            }
        }
        for warning in &self.tasks.config.warnings {
            output.warn(warning);
        }
        Ok(None)
    }

    /// A task's limits once the admin's settings are laid over its source's defaults.
    fn limits(&self, task: &Task) -> Result<Limits> {
        Ok(Limits {
            timeout: self
                .tasks
                .settings
                .timeout(task.phase, task.defaults.timeout)?,
            policy: self
                .on_failure
                .or(task.defaults.on_failure)
                .unwrap_or(FailurePolicy::Fail),
            ignore_timeout: self.on_failure.is_none() && task.defaults.ignore_timeout,
        })
    }

    /// Appends a task run to the app's history. The history serves the operator; a failure to
    /// write it never fails a deploy.
    fn record(&self, entry: &HistoryEntry) {
        if let Err(error) = history::append(&self.host.data_dir(&self.request.app), entry) {
            self.host.output.warn(&format!(
                "could not record the run in the history: {error:#}"
            ));
        }
    }

    fn record_skipped(&self, task: &Task, image: &str) {
        let mut entry = HistoryEntry::start(task.phase, task.source.name(), &task.command, image);
        entry.finish(Outcome::Skipped, None, image, Duration::ZERO);
        self.record(&entry);
    }
}

/// What the phase runs, read again under the lock: a deploy that held it may have moved the tag
/// (the tasks run on what it names now, so its commit is built upon, never lost) or run the
/// first-deploy-only task.
struct PhasePlan {
    image: Image,
    tasks: Vec<Task>,
    /// The app's docker options for the phase's containers.
    docker_options: Vec<String>,
    /// The engine for the whole run ([`docker::for_run`]).
    docker: Docker,
    /// On a Dokku, its plugins shape the task containers as they shape the deploy's.
    dokku_plugins: bool,
}

impl PhasePlan {
    /// The plan, or `None` (said) when no task is due any more.
    fn under_lock(context: &PhaseContext) -> Result<Option<PhasePlan>> {
        let (host, request) = (context.host, context.request);
        let mut lookup = context.lookup();
        let image = lookup.get()?.clone();
        let dokku_plugins = dokku::fires_release_builder(host) && plugn::available();
        let options =
            docker_options_for(host, request, &image, &context.tasks.config, dokku_plugins)?;
        for warning in &options.warnings {
            host.output.warn(warning);
        }
        let tasks = context.due_tasks(&mut lookup, Announce::No)?;
        if tasks.is_empty() {
            return Ok(None);
        }
        if request.phase == Phase::Predeploy && request.commit && !image.volumes.is_empty() {
            host.output.warn(&format!(
                "{} declares VOLUME {}: what the predeploy task writes there is not committed",
                context.reference,
                image.volumes.join(", ")
            ));
        }
        Ok(Some(PhasePlan {
            image,
            tasks,
            docker: docker::for_run(&host.docker, &options.args),
            docker_options: options.args,
            dokku_plugins,
        }))
    }
}

/// Says that no task of the phase is due, when `say`.
fn nothing_to_run(context: &PhaseContext, say: bool) -> PhaseEnd {
    if say {
        let phase = context.request.phase;
        context
            .host
            .output
            .detail(&format!("No {phase} task found, skipping"));
    }
    PhaseEnd::Done
}

/// Runs the `index`-th task of the phase where its source says, and decides whether the phase
/// goes on.
fn run_task(
    context: &PhaseContext,
    plan: &PhasePlan,
    run: &mut PhaseRun,
    index: usize,
    task: &Task,
) -> Result<Step> {
    // A signal that came during the previous task's commit, which finished first.
    if let Some(signal) = interrupt::received() {
        return Ok(Step::Stop(interrupted(
            context.host,
            task.phase,
            signal,
            false,
        )));
    }
    if let Some(why) = &task.skip {
        context.host.output.detail(&format!(
            "Skipping {} task from {} ({why})",
            task.phase,
            task.source.name()
        ));
        context.record_skipped(task, "");
        return Ok(Step::Next);
    }
    if task.frequency == Frequency::FirstDeployOnly {
        // Recorded before it runs, so it never runs twice, even if it fails.
        record_first_deploy_task(context.host, &context.request.app)?;
    }
    let limits = context.limits(task)?;
    match &task.target {
        Target::NewContainer => run_in_new_container(context, plan, run, index, task, &limits),
        Target::RunningContainers { process_type } => {
            run_in_running_containers(context, plan, task, process_type, &limits)
        }
    }
}

/// Runs a task in a container of its own, on the previous predeploy task's result, and commits
/// a predeploy's result when it succeeded.
fn run_in_new_container(
    context: &PhaseContext,
    plan: &PhasePlan,
    run: &mut PhaseRun,
    index: usize,
    task: &Task,
    limits: &Limits,
) -> Result<Step> {
    let (host, request) = (context.host, context.request);
    let run_image = run.run_image(&plan.image).to_string();
    let shell = context.tasks.settings.shell();
    let task_container = plan::task_container(&PlanInput {
        app: &request.app,
        tag: &request.tag,
        task,
        image: &plan.image,
        run_image: &run_image,
        helper: &host.helper,
        shell: shell.as_deref(),
        docker_options: &plan.docker_options,
        dokku_host: plan.dokku_plugins,
        trace: host.trace.as_deref(),
        timeout: limits.timeout,
        config: &context.tasks.config,
        run_id: run.id(),
        ordinal: index + 1,
    })?;
    host.output.detail(&format!(
        "Executing {} task from {}: {}",
        task.phase,
        task.source.name(),
        task.command
    ));
    let guard = run.guard_container(&task_container.name)?;
    let mut entry = HistoryEntry::start(task.phase, task.source.name(), &task.command, &run_image);
    let started = Instant::now();
    let post_container_create =
        |id: &str| post_container_create(id, &request.app, plan::dokku_phase_name(task));
    let before_start: Option<BeforeStart> = plan.dokku_plugins.then_some(&post_container_create);
    let ending = plan.docker.run(&task_container, before_start)?;
    let committing =
        ending == Ending::Exited(0) && task.phase == Phase::Predeploy && request.commit;
    let image_after = if committing {
        run.commit(guard.name(), &plan.image)?
    } else {
        run_image
    };
    drop(guard);
    Ok(conclude(
        context,
        task,
        limits,
        ending,
        &mut entry,
        &image_after,
        started,
    ))
}

/// Runs a task in each running container of a process type that runs the phase's image, one
/// after the other, until one fails.
fn run_in_running_containers(
    context: &PhaseContext,
    plan: &PhasePlan,
    task: &Task,
    process_type: &str,
    limits: &Limits,
) -> Result<Step> {
    let (host, image) = (context.host, &plan.image);
    let containers = running_containers(
        &plan.docker,
        context.request.app.name(),
        process_type,
        &image.id,
    )?;
    if containers.is_empty() {
        host.output.detail(&format!(
            "No running {process_type} container of {}: skipping {} from {}",
            context.reference,
            task.key,
            task.source.name()
        ));
        context.record_skipped(task, &image.id);
    }
    for name in &containers {
        host.output.detail(&format!(
            "Executing {} task from {} in {name}: {}",
            task.phase,
            task.source.name(),
            task.command
        ));
        let mut entry =
            HistoryEntry::start(task.phase, task.source.name(), &task.command, &image.id);
        let started = Instant::now();
        let ending = plan.docker.exec(name, &task.command, limits.timeout)?;
        let step = conclude(
            context, task, limits, ending, &mut entry, &image.id, started,
        );
        if let Step::Stop(_) = step {
            return Ok(step);
        }
    }
    Ok(Step::Next)
}

/// The running containers of `app` with `process_type` that run exactly `image_id`, by name:
/// during a post-deploy, containers of the previous image may still be running.
fn running_containers(
    docker: &Docker,
    app: &str,
    process_type: &str,
    image_id: &str,
) -> Result<Vec<String>> {
    let labels = [
        ("com.dokku.app-name", app),
        ("com.dokku.process-type", process_type),
    ];
    let mut names: Vec<String> = docker
        .running_containers(&labels)?
        .into_iter()
        .filter(|container| container.image_id == image_id)
        .map(|container| container.name)
        .collect();
    names.sort();
    Ok(names)
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
fn conclude(
    context: &PhaseContext,
    task: &Task,
    limits: &Limits,
    ending: Ending,
    entry: &mut HistoryEntry,
    image_after: &str,
    started: Instant,
) -> Step {
    let host = context.host;
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
    context.record(entry);
    step
}

/// Why the phase is skipped, if it is ([`Settings::skipped`]).
fn skipped_by(settings: &Settings, phase: Phase) -> Result<Option<String>> {
    Ok(settings
        .skipped()?
        .and_then(|(phases, why)| phases.contains(&phase).then_some(why)))
}

/// This plugin's record that the first-deploy-only task ran.
pub(crate) fn first_deploy_record(host: &Host, app: &App) -> PathBuf {
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
    config: &AppConfig,
    dokku_plugins: bool,
) -> Result<docker_options::Filtered> {
    let (app, phase) = (&request.app, request.phase);
    let mut filtered = docker_options::Filtered::default();
    if dokku_plugins {
        let source_type = plan::source_type(image, config);
        let (options, warnings) = dokku_plugins_options(app, &request.tag, source_type);
        filtered = docker_options::filter_for_image(&options, phase, &image.env);
        filtered.warnings.extend(warnings);
    } else {
        if let Some(path) = dokku::docker_options_file(host, app) {
            let text = read_docker_options(&path)?;
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

/// The app's docker options file, read as every host file is ([`bounded_read::host_file`]):
/// bounded, never through a link, never blocked by a FIFO.
fn read_docker_options(path: &std::path::Path) -> Result<String> {
    let bytes =
        bounded_read::required_host_file(path, 1024 * 1024, "remove the options no deploy needs")?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))
}

/// What Dokku's plugins give a deploy's containers, asked as its app-json asks for a task
/// container: `docker-args-deploy APP TAG`, then `docker-args-process-deploy APP SOURCE_TYPE
/// TAG`. The config plugin's bare `--env=KEY` options are left out: the plugin gives the task
/// the app's config itself, on the helper's stdin. A trigger that fails is left out with a
/// warning (Dokku's app-json ignores it silently).
fn dokku_plugins_options(
    app: &App,
    tag: &ImageTag,
    source_type: &str,
) -> (Vec<docker_options::DockerOption>, Vec<String>) {
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
fn post_container_create(id: &str, app: &App, phase: &str) -> Result<()> {
    let said = plugn::trigger_output("post-container-create", &["app", id, app.name(), phase])?;
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

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}
