//! Planning a task container: its spec for the engine, and the config the helper receives.
//!
//! The helper, not the image, is the container's first process. How it hands over depends on the
//! image, as in Dokku:
//! - Cloud Native Buildpacks images (label `io.buildpacks.stack.id`): through
//!   `/cnb/lifecycle/launcher`, which sets up the buildpacks' environment;
//! - herokuish images (`USER=` the app's `DOKKU_APP_USER`, else `USER=herokuishuser`): `HOME=/app`, in
//!   `/app`, after sourcing `/app/.profile.d/*`;
//! - images whose ENTRYPOINT is tini and `--` alone: tini runs the shell form, so it still reaps
//!   and forwards;
//! - images with another ENTRYPOINT: the command's words are the entrypoint's arguments;
//! - other images: the command runs through the shell.
//!
//! The shell form runs with `set -e` and, where the shell has it, `set -o pipefail`, as Dokku's
//! constructScript (plugins/app-json/functions.go) runs it; Dokku also skips that script for an
//! image with a non-tini ENTRYPOINT, whose words get neither, here as there.
//!
//! The helper's arguments say only how to run; what to run (the command, which may hold the
//! app's secrets once a Procfile command is expanded) travels on its stdin with the config, so
//! that it is in neither the container's config nor a process's arguments.

use std::path::Path;
use std::time::Duration;

use crate::app::{App, ImageTag};
use crate::app_config::AppConfig;
use crate::command_words;
use crate::docker::{ContainerSpec, Image, Mount};
use crate::input_error::InputError;
use crate::phase::Phase;
use crate::sources::{Command, Source, Task};

/// Where the helper is mounted in every task container. Mount points under `/dev` (a tmpfs)
/// leave nothing in a committed layer.
pub const HELPER_IN_CONTAINER: &str = "/dev/deploy-tasks-helper";

/// The executables whose `[TINI, "--"]` ENTRYPOINT gets the shell form, as in Dokku.
const TINI: [&str; 4] = ["/tini", "/bin/tini", "/usr/bin/tini", "/usr/local/bin/tini"];

/// The label Cloud Native Buildpacks put on the images they build.
const CNB_LABEL: &str = "io.buildpacks.stack.id";
const CNB_LAUNCHER: &str = "/cnb/lifecycle/launcher";

/// What the plan is made from.
pub struct PlanInput<'a> {
    pub app: &'a App,
    pub tag: &'a ImageTag,
    pub task: &'a Task,
    /// The image the task runs in (for predeploy, the previous task's result).
    pub image: &'a Image,
    /// The image ID to run (for a first task, `image.id`).
    pub run_image: &'a str,
    /// The helper binary on the host.
    pub helper: &'a Path,
    /// The `shell` setting, or `None` to let the helper pick.
    pub shell: Option<&'a str>,
    /// The app's docker options, already filtered for the phase.
    pub docker_options: &'a [String],
    /// On a Dokku host, whose app-json mounts its build cache into a herokuish image's task
    /// containers.
    pub dokku_host: bool,
    /// `DOKKU_TRACE`, where set: Dokku's app-json gives it to every task.
    pub trace: Option<&'a str>,
    /// How long the task may run.
    pub timeout: Option<Duration>,
    pub config: &'a AppConfig,
    pub run_id: &'a str,
    /// The task's 1-based position in its phase, for Scalingo's `CONTAINER` (`predeploy-1`).
    pub ordinal: usize,
}

/// How the helper hands over to the task.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Launch {
    /// Through a shell, after `wrap` (tini or the CNB launcher), maybe with herokuish's profile.
    Shell {
        wrap: Vec<String>,
        heroku_profile: bool,
    },
    /// The image's ENTRYPOINT with the command's words as its arguments.
    Entrypoint(Vec<String>),
}

/// Plans the container for one task. Fails only when an ENTRYPOINT image's command cannot be
/// split into words (unbalanced quotes, maybe once its variables are expanded).
pub fn task_container(input: &PlanInput) -> Result<ContainerSpec, InputError> {
    let phase = input.task.phase;
    // Predeploy containers get no label but the app's: labels are committed into the image and
    // inherited by every container started from it.
    let mut labels = vec![(
        "com.dokku.app-name".to_string(),
        input.app.name().to_string(),
    )];
    if phase != Phase::Predeploy {
        labels.push((
            "dokku_phase_script".into(),
            dokku_phase_name(input.task).into(),
        ));
    }
    let variables = task_variables(input);
    let (helper_args, fields) = helper_arguments(input, &variables)?;
    // Only an image that has an ENTRYPOINT gets one here: an engine's commit can never clear an
    // ENTRYPOINT the container was created with.
    let (entrypoint, cmd) = if input.image.entrypoint.is_some() {
        (Some(vec![HELPER_IN_CONTAINER.to_string()]), helper_args)
    } else {
        let mut cmd = vec![HELPER_IN_CONTAINER.to_string()];
        cmd.extend(helper_args);
        (None, cmd)
    };
    let mut stdin = Vec::new();
    push_field(&mut stdin, &fields.len().to_string());
    for field in &fields {
        push_field(&mut stdin, field);
    }
    for (key, value) in &variables {
        push_field(&mut stdin, &format!("{key}={value}"));
    }
    Ok(ContainerSpec {
        name: format!("{}.{}.{}", input.app.name(), phase.name(), input.run_id),
        image: input.run_image.to_string(),
        entrypoint,
        cmd,
        labels,
        mounts: mounts(input),
        stdin,
        cli_options: input.docker_options.to_vec(),
        timeout: input.timeout,
    })
}

/// The helper, and on a Dokku host, for a herokuish image (not a CNB one), Dokku's build cache
/// (`cache-APP`, which builder-herokuish fills) at `/tmp/cache`, as Dokku's app-json mounts it
/// there for a task (`plugins/app-json/functions.go`). A commit leaves a volume's content out.
fn mounts(input: &PlanInput) -> Vec<Mount> {
    let mut mounts = vec![Mount::HostFile {
        source: input.helper.to_path_buf(),
        target: HELPER_IN_CONTAINER.to_string(),
    }];
    if input.dokku_host
        && !input.image.labels.contains_key(CNB_LABEL)
        && is_herokuish(input.image, input.config)
    {
        mounts.push(Mount::Volume {
            name: format!("cache-{}", input.app.name()),
            target: "/tmp/cache".into(),
        });
    }
    mounts
}

/// Appends one NUL-ended field. A NUL cannot be in an argument or an environment variable, where
/// the helper puts every field; dropping it keeps the framing intact.
fn push_field(stdin: &mut Vec<u8>, field: &str) {
    stdin.extend(field.bytes().filter(|byte| *byte != 0));
    stdin.push(0);
}

/// The helper's arguments (how to run) and the command's fields for its stdin (what to run).
fn helper_arguments(
    input: &PlanInput,
    variables: &[(String, String)],
) -> Result<(Vec<String>, Vec<String>), InputError> {
    let task = input.task;
    let mut args = Vec::new();
    if let Some(signal) = stop_signal(input.image, input.docker_options) {
        args.push(format!("--stop-signal={signal}"));
    }
    let shell_command = task.run.shell_line(|name| {
        variables
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    });
    let mut launch = launch(input.image, input.config);
    if let (Command::Script { .. }, Launch::Entrypoint(_)) = (&task.run, &launch) {
        // A script is the shell's to run, whatever the image's ENTRYPOINT does with arguments.
        launch = Launch::Shell {
            wrap: Vec::new(),
            heroku_profile: false,
        };
    }
    match launch {
        Launch::Shell {
            wrap,
            heroku_profile,
        } => {
            if let Some(shell) = input.shell {
                args.push(format!("--shell={shell}"));
            }
            if heroku_profile {
                args.push("--heroku-profile".into());
            }
            for word in wrap {
                args.extend(["--wrap".into(), word]);
            }
            match (&task.run, shell_command) {
                (Command::Script { path }, _) => {
                    args.push("--run-script".into());
                    Ok((args, vec![path.clone()]))
                }
                (_, command) => {
                    args.push("--run-shell".into());
                    Ok((args, command.into_iter().collect()))
                }
            }
        }
        Launch::Entrypoint(entrypoint) => {
            // Dokku splits the expanded command too (constructScript), so a value with spaces is
            // several words. The error names the command as written: the expanded one may hold
            // secrets.
            let command = shell_command.unwrap_or_else(|| task.command.clone());
            let expanded = matches!(task.run, Command::Expanded { .. });
            let words = command_words::split(command.trim()).map_err(|error| {
                InputError::new(
                    format!("{} in {}", task.key, task.source.name()),
                    format!(
                        "cannot split `{}` into words for the image's ENTRYPOINT{}: {error}",
                        task.command,
                        if expanded {
                            " once its config variables are expanded"
                        } else {
                            ""
                        }
                    ),
                    if expanded {
                        "balance the quotes in the command, or keep quotes out of the values it uses"
                    } else {
                        "balance the quotes in the command"
                    },
                )
            })?;
            args.push("--run-exec".into());
            let mut fields = entrypoint;
            fields.extend(words);
            Ok((args, fields))
        }
    }
}

/// The container's stop signal, what `docker stop` sends its first process (the helper), where
/// it is not SIGTERM and can be caught: a `--stop-signal` docker option, else the image's
/// `STOPSIGNAL`. The helper passes it on as SIGTERM: a stop ends the task as a SIGTERM does,
/// whatever the image's own processes want (httpd's SIGWINCH, systemd's SIGRTMIN+3).
fn stop_signal(image: &Image, docker_options: &[String]) -> Option<i32> {
    let mut from_options = None;
    let mut options = docker_options.iter();
    while let Some(option) = options.next() {
        if let Some(value) = option.strip_prefix("--stop-signal=") {
            from_options = Some(value.to_string());
        } else if option == "--stop-signal" {
            from_options = options.next().cloned();
        }
    }
    let name = from_options.or_else(|| {
        image
            .config
            .get("StopSignal")
            .and_then(serde_json::Value::as_str)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    })?;
    // Not those a handler cannot take or must not: SIGTERM itself, SIGKILL and SIGSTOP, the
    // two glibc keeps (32, 33), those a fault raises, and SIGCHLD, which every ended child sends.
    docker_signal(&name).filter(|signal| {
        ![
            libc::SIGTERM,
            libc::SIGKILL,
            libc::SIGSTOP,
            32,
            33,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGSYS,
            libc::SIGCHLD,
        ]
        .contains(signal)
    })
}

/// A signal as Docker reads one (`moby/sys/signal`, `ParseSignal`): a number, or a Linux name
/// with or without `SIG`, in any case, `RTMIN+N` and `RTMAX-N` included.
fn docker_signal(name: &str) -> Option<i32> {
    if let Ok(number) = name.parse::<i32>() {
        return (1..=64).contains(&number).then_some(number);
    }
    let upper = name.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    const NAMED: [(&str, i32); 36] = [
        ("ABRT", 6),
        ("ALRM", 14),
        ("BUS", 7),
        ("CHLD", 17),
        ("CLD", 17),
        ("CONT", 18),
        ("FPE", 8),
        ("HUP", 1),
        ("ILL", 4),
        ("INT", 2),
        ("IO", 29),
        ("IOT", 6),
        ("KILL", 9),
        ("PIPE", 13),
        ("POLL", 29),
        ("PROF", 27),
        ("PWR", 30),
        ("QUIT", 3),
        ("SEGV", 11),
        ("STKFLT", 16),
        ("STOP", 19),
        ("SYS", 31),
        ("TERM", 15),
        ("TRAP", 5),
        ("TSTP", 20),
        ("TTIN", 21),
        ("TTOU", 22),
        ("URG", 23),
        ("USR1", 10),
        ("USR2", 12),
        ("VTALRM", 26),
        ("WINCH", 28),
        ("XCPU", 24),
        ("XFSZ", 25),
        ("RTMIN", 34),
        ("RTMAX", 64),
    ];
    if let Some((_, number)) = NAMED.iter().find(|(known, _)| *known == name) {
        return Some(*number);
    }
    let offset = |rest: &str| rest.parse::<i32>().ok().filter(|n| (1..=15).contains(n));
    if let Some(n) = name.strip_prefix("RTMIN+").and_then(offset) {
        return Some(34 + n);
    }
    if let Some(n) = name.strip_prefix("RTMAX-").and_then(offset) {
        return Some(64 - n);
    }
    None
}

/// The phase as Dokku's app-json names a task's container, to its plugins' `post-container-create`
/// and in its `dokku_phase_script` label: `heroku.postdeploy` for Heroku's `scripts.postdeploy`
/// (`TriggerPostReleaseBuilder`), else the phase's own name.
pub fn dokku_phase_name(task: &Task) -> &'static str {
    if task.source == Source::AppJson && task.key == "scripts.postdeploy" {
        "heroku.postdeploy"
    } else {
        task.phase.name()
    }
}

/// The source type Dokku's app-json names a task container's image by, to its plugins'
/// `docker-args-process-deploy`: `herokuish` for a herokuish or a Cloud Native Buildpacks
/// image (its `IsImageHerokuishBased` is true for both, so `pack` is never said), else
/// `dockerfile`.
pub fn source_type(image: &Image, config: &AppConfig) -> &'static str {
    if image.labels.contains_key(CNB_LABEL) || is_herokuish(image, config) {
        "herokuish"
    } else {
        "dockerfile"
    }
}

/// As Dokku's IsImageHerokuishBased, but for CNB images: the image's ENV holds `USER=` the
/// app's own DOKKU_APP_USER (`config-get APP`, not the global one), or `herokuishuser` where
/// unset.
fn is_herokuish(image: &Image, config: &AppConfig) -> bool {
    let app_user = config
        .app_user
        .as_deref()
        .filter(|name| !name.is_empty())
        .unwrap_or("herokuishuser");
    image
        .env
        .iter()
        .any(|entry| entry.strip_prefix("USER=") == Some(app_user))
}

fn launch(image: &Image, config: &AppConfig) -> Launch {
    if image.labels.contains_key(CNB_LABEL) {
        return Launch::Shell {
            wrap: vec![CNB_LAUNCHER.into()],
            heroku_profile: false,
        };
    }
    if is_herokuish(image, config) {
        return Launch::Shell {
            wrap: Vec::new(),
            heroku_profile: true,
        };
    }
    match &image.entrypoint {
        // Exactly `[TINI, "--"]`, as Dokku matches it (`nonSkippableEntrypoints`): tini with
        // more words, or without `--`, is an ENTRYPOINT like any other.
        Some(entrypoint)
            if entrypoint.len() == 2
                && TINI.contains(&entrypoint[0].as_str())
                && entrypoint[1] == "--" =>
        {
            Launch::Shell {
                wrap: entrypoint.clone(),
                heroku_profile: false,
            }
        }
        Some(entrypoint) => Launch::Entrypoint(entrypoint.clone()),
        None => Launch::Shell {
            wrap: Vec::new(),
            heroku_profile: false,
        },
    }
}

/// The app's config plus the variables every task sees; the plugin's own win. A Procfile
/// command is expanded from these too: Dokku expands it from the config alone, in which the
/// plugin's own variables are not, and a task should see one value of each.
fn task_variables(input: &PlanInput) -> Vec<(String, String)> {
    let container = format!("{}-{}", input.task.phase.name(), input.ordinal);
    // Scalingo's, which Dokku sets for no container: where the app's config has one, the
    // config's value is what the app's own containers see, and what the task sees too.
    let scalingos = [
        ("APP", input.app.name()),
        ("CONTAINER", container.as_str()),
        ("CONTAINER_VERSION", input.tag.name()),
    ];
    let phase = ("DOKKU_DEPLOY_PHASE", input.task.phase.name());
    // Dokku's app-json gives it as `--env`, over the config's.
    let trace = input.trace.map(|value| ("DOKKU_TRACE", value));
    let ours = |name: &str| name == phase.0 || trace.is_some_and(|(key, _)| key == name);
    let in_config = |name: &str| input.config.vars.iter().any(|(key, _)| key == name);
    let config = input
        .config
        .vars
        .iter()
        .filter(|(key, _)| !ours(key))
        .map(|(key, value)| (key.as_str(), value.as_str()));
    config
        .chain(scalingos.into_iter().filter(|(name, _)| !in_config(name)))
        .chain(trace)
        .chain([phase])
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn image(entrypoint: Option<&[&str]>) -> Image {
        Image {
            id: "sha256:1".into(),
            entrypoint: entrypoint.map(|words| words.iter().map(|word| word.to_string()).collect()),
            cmd: None,
            working_dir: "/app".into(),
            env: vec!["PATH=/bin".into()],
            labels: BTreeMap::new(),
            volumes: Vec::new(),
            on_build: Vec::new(),
            config: serde_json::Value::Null,
        }
    }

    fn plan(
        image: &Image,
        phase: Phase,
        command: &str,
        config: &AppConfig,
    ) -> Result<ContainerSpec, InputError> {
        let app = App::new("shop").unwrap();
        let tag = ImageTag::new(Some("v2")).unwrap();
        let task = Task::shell(phase, Source::AppJson, "scripts.dokku.predeploy", command);
        task_container(&PlanInput {
            app: &app,
            tag: &tag,
            task: &task,
            image,
            run_image: &image.id,
            helper: Path::new("/plugins/deploy-tasks/libexec/deploy-tasks-helper"),
            shell: None,
            docker_options: &["--network".to_string(), "db".to_string()],
            dokku_host: false,
            trace: None,
            timeout: None,
            config,
            run_id: "7-1",
            ordinal: 1,
        })
    }

    /// The container's CMD from the first `from`.
    fn tail(plan: &ContainerSpec, from: &str) -> Vec<String> {
        let start = plan.cmd.iter().position(|arg| arg == from).unwrap();
        plan.cmd[start..].to_vec()
    }

    /// Every word of the container's config: what `docker inspect` would show of it.
    fn config_words(plan: &ContainerSpec) -> Vec<String> {
        let mut words = plan.entrypoint.clone().unwrap_or_default();
        words.extend(plan.cmd.iter().cloned());
        words.extend(plan.cli_options.iter().cloned());
        for (key, value) in &plan.labels {
            words.push(format!("{key}={value}"));
        }
        words
    }

    /// The command's fields and the config entries the helper reads on stdin.
    fn stdin(plan: &ContainerSpec) -> (Vec<String>, Vec<String>) {
        let text = String::from_utf8(plan.stdin.clone()).unwrap();
        let mut entries: Vec<String> = text.split('\0').map(str::to_string).collect();
        assert_eq!(
            entries.pop().as_deref(),
            Some(""),
            "every field ends with NUL"
        );
        let count: usize = entries.remove(0).parse().unwrap();
        let config = entries.split_off(count);
        (entries, config)
    }

    fn release_from_procfile(command: &str) -> Task {
        let mut task = Task::shell(Phase::Release, Source::Procfile, "release", command);
        task.run = Command::Expanded {
            command: command.into(),
            process_type: "release".into(),
        };
        task
    }

    fn plan_task(
        task: &Task,
        image: &Image,
        config: &AppConfig,
    ) -> Result<ContainerSpec, InputError> {
        let app = App::new("shop").unwrap();
        let tag = ImageTag::new(Some("v2")).unwrap();
        task_container(&PlanInput {
            app: &app,
            tag: &tag,
            task,
            image,
            run_image: &image.id,
            helper: Path::new("/helper"),
            shell: None,
            docker_options: &[],
            dokku_host: false,
            trace: None,
            timeout: None,
            config,
            run_id: "7-1",
            ordinal: 1,
        })
    }

    fn config(vars: &[(&str, &str)]) -> AppConfig {
        AppConfig {
            vars: vars
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            warnings: Vec::new(),
            ..AppConfig::default()
        }
    }

    #[test]
    fn a_procfile_command_is_expanded_and_goes_only_on_stdin() {
        let task = release_from_procfile(
            "echo $SECRET ${OTHER} '$PORT' [$UNKNOWN] $APP $CONTAINER_VERSION",
        );
        let config = config(&[("SECRET", "s3cr3t"), ("OTHER", "o"), ("APP", "storefront")]);
        let plan = plan_task(&task, &image(None), &config).unwrap();
        let (fields, _) = stdin(&plan);
        assert_eq!(fields, ["echo s3cr3t o '5000' [] storefront v2"]);
        assert!(
            !config_words(&plan).iter().any(|arg| arg.contains("s3cr3t")),
            "{plan:?}"
        );
        assert_eq!(
            task.command,
            "echo $SECRET ${OTHER} '$PORT' [$UNKNOWN] $APP $CONTAINER_VERSION"
        );
    }

    #[test]
    fn an_entrypoint_image_gets_the_words_of_the_expanded_command_on_stdin() {
        let task = release_from_procfile("migrate $SECRET --port=$PORT");
        let config = config(&[("SECRET", "two words")]);
        let plan = plan_task(&task, &image(Some(&["/entry"])), &config).unwrap();
        assert_eq!(plan.entrypoint, Some(vec![HELPER_IN_CONTAINER.to_string()]));
        assert_eq!(plan.cmd, ["--run-exec"]);
        let (fields, _) = stdin(&plan);
        assert_eq!(fields, ["/entry", "migrate", "two", "words", "--port=5000"]);
        assert!(!config_words(&plan).iter().any(|arg| arg.contains("words")));
    }

    #[test]
    fn a_value_that_unbalances_the_quotes_fails_naming_the_command_as_written() {
        let task = release_from_procfile("migrate $SECRET");
        let config = config(&[("SECRET", "it's s3cr3t")]);
        let error = plan_task(&task, &image(Some(&["/entry"])), &config).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`migrate $SECRET`"), "{message}");
        assert!(
            message.contains("once its config variables are expanded"),
            "{message}"
        );
        assert!(!message.contains("s3cr3t"), "{message}");
    }

    #[test]
    fn only_procfile_commands_are_expanded() {
        let task = Task::shell(
            Phase::Release,
            Source::AppJson,
            "scripts.dokku.postdeploy",
            "echo $PORT",
        );
        let plan = plan_task(&task, &image(None), &AppConfig::default()).unwrap();
        assert_eq!(stdin(&plan).0, ["echo $PORT"]);
    }

    #[test]
    fn predeploy_without_entrypoint_runs_the_helper_as_cmd_with_only_the_app_label() {
        let plan = plan(
            &image(None),
            Phase::Predeploy,
            "make assets",
            &AppConfig::default(),
        )
        .unwrap();
        assert_eq!(plan.name, "shop.predeploy.7-1");
        assert_eq!(plan.image, "sha256:1");
        assert_eq!(plan.entrypoint, None);
        assert_eq!(
            plan.labels,
            [("com.dokku.app-name".to_string(), "shop".to_string())]
        );
        assert_eq!(plan.cmd, [HELPER_IN_CONTAINER, "--run-shell"]);
        assert_eq!(stdin(&plan).0, ["make assets"]);
        assert_eq!(plan.cli_options, ["--network", "db"]);
        assert_eq!(
            plan.mounts,
            [Mount::HostFile {
                source: "/plugins/deploy-tasks/libexec/deploy-tasks-helper".into(),
                target: HELPER_IN_CONTAINER.into()
            }]
        );
    }

    #[test]
    fn release_is_labelled_with_its_phase() {
        let plan = plan(
            &image(None),
            Phase::Release,
            "migrate",
            &AppConfig::default(),
        )
        .unwrap();
        assert!(plan
            .labels
            .contains(&("dokku_phase_script".to_string(), "release".to_string())));
    }

    #[test]
    fn entrypoint_images_get_the_words_as_arguments() {
        let image = image(Some(&["/docker-entrypoint.sh"]));
        let planned = plan(
            &image,
            Phase::Predeploy,
            "rake 'db:migrate x'",
            &AppConfig::default(),
        )
        .unwrap();
        assert_eq!(
            planned.entrypoint,
            Some(vec![HELPER_IN_CONTAINER.to_string()])
        );
        assert_eq!(planned.cmd, ["--run-exec"]);
        assert_eq!(
            stdin(&planned).0,
            ["/docker-entrypoint.sh", "rake", "db:migrate x"]
        );
        assert!(plan(
            &image,
            Phase::Predeploy,
            "echo 'open",
            &AppConfig::default()
        )
        .is_err());
    }

    #[test]
    fn tini_entrypoints_get_the_shell_form() {
        for tini in TINI {
            let image = image(Some(&[tini, "--"]));
            let plan = plan(&image, Phase::Release, "echo hi", &AppConfig::default()).unwrap();
            assert_eq!(
                tail(&plan, "--wrap"),
                ["--wrap", tini, "--wrap", "--", "--run-shell"]
            );
            assert_eq!(stdin(&plan).0, ["echo hi"]);
        }
    }

    #[test]
    fn tini_with_other_words_is_an_entrypoint_like_any_other_as_in_dokku() {
        for entrypoint in [&["/tini"][..], &["/tini", "--", "/docker-entrypoint.sh"]] {
            let image = image(Some(entrypoint));
            let plan = plan(
                &image,
                Phase::Release,
                "rake db:migrate",
                &AppConfig::default(),
            )
            .unwrap();
            assert!(
                plan.cmd.contains(&"--run-exec".to_string()),
                "{:?}",
                plan.cmd
            );
            let mut expected: Vec<&str> = entrypoint.to_vec();
            expected.extend(["rake", "db:migrate"]);
            assert_eq!(stdin(&plan).0, expected);
        }
    }

    #[test]
    fn an_entrypoints_words_are_split_as_dokku_splits_them_with_no_comments() {
        let image = image(Some(&["/usr/bin/notify"]));
        let plan = plan(
            &image,
            Phase::Postdeploy,
            "  --room #deploys 'a b'  ",
            &AppConfig::default(),
        )
        .unwrap();
        assert_eq!(
            stdin(&plan).0,
            ["/usr/bin/notify", "--room", "#deploys", "a b"]
        );
    }

    #[test]
    fn herokuish_and_cnb_images_are_recognised() {
        let mut herokuish = image(None);
        herokuish.env.push("USER=herokuishuser".into());
        let plan_for =
            |image: &Image, config: &AppConfig| plan(image, Phase::Release, "x", config).unwrap();
        assert!(plan_for(&herokuish, &AppConfig::default())
            .cmd
            .contains(&"--heroku-profile".to_string()));

        let mut custom_user = image(None);
        custom_user.env.push("USER=shopper".into());
        let config = AppConfig {
            vars: vec![("DOKKU_APP_USER".into(), "shopper".into())],
            warnings: Vec::new(),
            app_user: Some("shopper".into()),
        };
        assert!(plan_for(&custom_user, &config)
            .cmd
            .contains(&"--heroku-profile".to_string()));
        assert!(!plan_for(&custom_user, &AppConfig::default())
            .cmd
            .contains(&"--heroku-profile".to_string()));
        // With DOKKU_APP_USER set, `herokuishuser` no longer counts, as in Dokku.
        assert!(!plan_for(&herokuish, &config)
            .cmd
            .contains(&"--heroku-profile".to_string()));

        let mut cnb = image(Some(&["/cnb/process/web"]));
        cnb.labels
            .insert(CNB_LABEL.into(), "io.buildpacks.stacks.jammy".into());
        assert_eq!(
            tail(&plan_for(&cnb, &AppConfig::default()), "--wrap"),
            ["--wrap", CNB_LAUNCHER, "--run-shell"]
        );
    }

    /// The plan of a release on `image`, on a Dokku host or not, with `trace` as DOKKU_TRACE.
    fn plan_on_host(
        image: &Image,
        config: &AppConfig,
        dokku_host: bool,
        trace: Option<&str>,
    ) -> ContainerSpec {
        let app = App::new("shop").unwrap();
        let tag = ImageTag::new(Some("v2")).unwrap();
        let task = Task::shell(Phase::Release, Source::AppJson, "release", "migrate");
        task_container(&PlanInput {
            app: &app,
            tag: &tag,
            task: &task,
            image,
            run_image: &image.id,
            helper: Path::new("/helper"),
            shell: None,
            docker_options: &[],
            dokku_host,
            trace,
            timeout: None,
            config,
            run_id: "7-1",
            ordinal: 1,
        })
        .unwrap()
    }

    #[test]
    fn on_a_dokku_host_a_herokuish_images_tasks_get_dokkus_build_cache_and_no_other_image_does() {
        let cache = Mount::Volume {
            name: "cache-shop".into(),
            target: "/tmp/cache".into(),
        };
        let mut herokuish = image(None);
        herokuish.env.push("USER=herokuishuser".into());
        let none = AppConfig::default();
        assert!(plan_on_host(&herokuish, &none, true, None)
            .mounts
            .contains(&cache));
        // Not where Dokku has no such cache, nor for the images its app-json gives none.
        assert!(!plan_on_host(&herokuish, &none, false, None)
            .mounts
            .contains(&cache));
        let mut cnb = herokuish.clone();
        cnb.labels
            .insert(CNB_LABEL.into(), "io.buildpacks.stacks.jammy".into());
        assert!(!plan_on_host(&cnb, &none, true, None)
            .mounts
            .contains(&cache));
        assert_eq!(
            plan_on_host(&image(None), &none, true, None).mounts.len(),
            1
        );
    }

    #[test]
    fn dokku_trace_reaches_the_task_over_the_configs_and_only_where_set() {
        let config = config(&[("DOKKU_TRACE", "from-config"), ("A", "1")]);
        let traced = stdin(&plan_on_host(&image(None), &config, true, Some("1"))).1;
        assert_eq!(
            traced
                .iter()
                .filter(|entry| entry.starts_with("DOKKU_TRACE="))
                .collect::<Vec<_>>(),
            ["DOKKU_TRACE=1"]
        );
        let untraced = stdin(&plan_on_host(&image(None), &config, true, None)).1;
        assert!(untraced.contains(&"DOKKU_TRACE=from-config".to_string()));
    }

    #[test]
    fn config_goes_on_stdin_never_on_the_command_line() {
        let config = AppConfig {
            vars: vec![
                ("SECRET".into(), "it's \"quoted\"\nand multi-line".into()),
                ("APP".into(), "storefront".into()),
                ("DOKKU_DEPLOY_PHASE".into(), "spoofed".into()),
            ],
            warnings: Vec::new(),
            ..AppConfig::default()
        };
        let plan = plan(&image(None), Phase::Predeploy, "true", &config).unwrap();
        assert!(!config_words(&plan).iter().any(|arg| arg.contains("quoted")));
        assert_eq!(
            stdin(&plan),
            (
                vec!["true".to_string()],
                vec![
                    "SECRET=it's \"quoted\"\nand multi-line".to_string(),
                    "APP=storefront".into(),
                    "CONTAINER=predeploy-1".into(),
                    "CONTAINER_VERSION=v2".into(),
                    "DOKKU_DEPLOY_PHASE=predeploy".into()
                ]
            )
        );
    }

    #[test]
    fn a_script_runs_through_the_shell_even_in_an_entrypoint_image() {
        let app = App::new("shop").unwrap();
        let tag = ImageTag::new(Some("v2")).unwrap();
        let mut task = Task::shell(
            Phase::Predeploy,
            Source::PreDeployScript,
            "pre-deploy.sh",
            "/app/pre-deploy.sh",
        );
        task.run = Command::Script {
            path: "/app/pre-deploy.sh".into(),
        };
        let image = image(Some(&["/usr/bin/server"]));
        let plan = task_container(&PlanInput {
            app: &app,
            tag: &tag,
            task: &task,
            image: &image,
            run_image: &image.id,
            helper: Path::new("/helper"),
            shell: None,
            docker_options: &[],
            dokku_host: false,
            trace: None,
            timeout: None,
            config: &AppConfig::default(),
            run_id: "7-1",
            ordinal: 2,
        })
        .unwrap();
        assert_eq!(tail(&plan, "--run-script"), ["--run-script"]);
        assert_eq!(stdin(&plan).0, ["/app/pre-deploy.sh"]);
        assert!(!config_words(&plan)
            .iter()
            .any(|arg| arg == "/usr/bin/server"));
        let (_, config) = stdin(&plan);
        assert!(
            config.contains(&"CONTAINER=predeploy-2".to_string()),
            "{config:?}"
        );
    }

    #[test]
    fn the_stop_signal_is_dockers_reading_of_the_option_else_the_images_unless_sigterm() {
        let mut shaped = image(None);
        assert_eq!(stop_signal(&shaped, &[]), None);
        shaped.config = serde_json::json!({"StopSignal": "SIGWINCH"});
        assert_eq!(stop_signal(&shaped, &[]), Some(libc::SIGWINCH));
        let options = |list: &[&str]| list.iter().map(|o| o.to_string()).collect::<Vec<_>>();
        assert_eq!(
            stop_signal(&shaped, &options(&["--stop-signal=quit"])),
            Some(libc::SIGQUIT)
        );
        assert_eq!(
            stop_signal(&shaped, &options(&["--stop-signal", "TERM"])),
            None
        );
        for (name, number) in [
            ("9", Some(9)),
            ("SIGRTMIN+3", Some(37)),
            ("rtmax-1", Some(63)),
            ("RTMIN+16", None),
            ("WINCH", Some(28)),
            ("0", None),
            ("SIGNOPE", None),
        ] {
            assert_eq!(docker_signal(name), number, "{name}");
        }
        for unhandled in ["SIGKILL", "32", "SIGSEGV", "SIGCHLD"] {
            shaped.config = serde_json::json!({"StopSignal": unhandled});
            assert_eq!(stop_signal(&shaped, &[]), None, "{unhandled}");
        }
    }

    #[test]
    fn the_source_type_is_herokuish_for_herokuish_and_cnb_images_as_dokku_says_it() {
        let config = AppConfig::default();
        let mut shaped = image(None);
        assert_eq!(source_type(&shaped, &config), "dockerfile");
        shaped.env.push("USER=herokuishuser".into());
        assert_eq!(source_type(&shaped, &config), "herokuish");
        let mut cnb = image(None);
        cnb.labels
            .insert(CNB_LABEL.into(), "io.buildpacks.stacks.jammy".into());
        assert_eq!(source_type(&cnb, &config), "herokuish");
    }
}
