//! Planning a task container: the `docker run` arguments and the config the helper receives.
//!
//! The helper, not the image, is the container's first process. How it hands over depends on the
//! image, as in Dokku:
//! - Cloud Native Buildpacks images (label `io.buildpacks.stack.id`): through
//!   `/cnb/lifecycle/launcher`, which sets up the buildpacks' environment;
//! - herokuish images (`USER=herokuishuser`, or the app's `DOKKU_APP_USER`): `HOME=/app`, in
//!   `/app`, after sourcing `/app/.profile.d/*`;
//! - images with a tini ENTRYPOINT: tini runs the shell form, so it still reaps and forwards;
//! - images with another ENTRYPOINT: the command's words are the entrypoint's arguments;
//! - other images: the command runs through the shell, with `set -e`.

use std::path::Path;

use crate::app::{App, ImageTag};
use crate::app_config::AppConfig;
use crate::docker::Image;
use crate::input_error::InputError;
use crate::phase::Phase;
use crate::sources::{Command, Task};

/// Where the helper is mounted in every task container. Mount points under `/dev` (a tmpfs)
/// leave nothing in a committed layer.
pub const HELPER_IN_CONTAINER: &str = "/dev/deploy-tasks-helper";

/// The executables that get the shell form even though they are an ENTRYPOINT, as in Dokku.
const TINI: [&str; 4] = ["/tini", "/bin/tini", "/usr/bin/tini", "/usr/local/bin/tini"];

/// The label Cloud Native Buildpacks put on the images they build.
const CNB_LABEL: &str = "io.buildpacks.stack.id";
const CNB_LAUNCHER: &str = "/cnb/lifecycle/launcher";

/// A planned task container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `APP.PHASE.RUNID`.
    pub name: String,
    /// The arguments after `docker`.
    pub args: Vec<String>,
    /// What the helper reads on stdin: `KEY=VALUE` entries, each ended by NUL.
    pub stdin: Vec<u8>,
    /// True when Docker removes the container itself once it exits (`--rm`).
    pub removed_on_exit: bool,
    /// The same container as an Engine API create request, when the engine can be asked
    /// directly: only without docker options, which only the CLI knows how to read. Docker
    /// does not remove it on exit; the run removes it.
    pub create: Option<serde_json::Value>,
}

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
/// split into words (unbalanced quotes).
pub fn task_container(input: &PlanInput) -> Result<Plan, InputError> {
    let phase = input.task.phase;
    let name = format!("{}.{}.{}", input.app.name(), phase.name(), input.run_id);
    let mut args: Vec<String> = vec![
        "run".into(),
        "--interactive".into(),
        "--name".into(),
        name.clone(),
    ];
    // Predeploy containers get no label but the app's: labels are committed into the image and
    // inherited by every container started from it.
    args.extend([
        "--label".into(),
        format!("com.dokku.app-name={}", input.app.name()),
    ]);
    let removed_on_exit = phase != Phase::Predeploy;
    if removed_on_exit {
        args.extend([
            "--label".into(),
            format!("dokku_phase_script={}", phase.name()),
        ]);
        args.push("--rm".into());
    }
    args.extend([
        "--mount".into(),
        format!(
            "type=bind,source={},target={HELPER_IN_CONTAINER},readonly",
            input.helper.display()
        ),
    ]);
    args.extend(input.docker_options.iter().cloned());

    let helper_args = helper_arguments(input)?;
    let (entrypoint, cmd) = if input.image.entrypoint.is_some() {
        (
            Some(vec![HELPER_IN_CONTAINER.to_string()]),
            helper_args.clone(),
        )
    } else {
        let mut cmd = vec![HELPER_IN_CONTAINER.to_string()];
        cmd.extend(helper_args.iter().cloned());
        (None, cmd)
    };
    let create = input.docker_options.is_empty().then(|| {
        let mut labels = serde_json::Map::new();
        for pair in args.windows(2).filter(|pair| pair[0] == "--label") {
            if let Some((key, value)) = pair[1].split_once('=') {
                labels.insert(key.to_string(), value.into());
            }
        }
        let mut config = serde_json::json!({
            "Image": input.run_image,
            "Cmd": cmd,
            "Labels": labels,
            "AttachStdin": true,
            "AttachStdout": true,
            "AttachStderr": true,
            "OpenStdin": true,
            "StdinOnce": true,
            "HostConfig": {
                "Mounts": [{
                    "Type": "bind",
                    "Source": input.helper.display().to_string(),
                    "Target": HELPER_IN_CONTAINER,
                    "ReadOnly": true
                }]
            }
        });
        if let Some(entrypoint) = &entrypoint {
            config["Entrypoint"] = entrypoint.clone().into();
        }
        config
    });
    if input.image.entrypoint.is_some() {
        // Only an image that has an ENTRYPOINT gets one here: `docker commit` can never clear
        // an ENTRYPOINT the container was created with.
        args.extend([
            "--entrypoint".into(),
            HELPER_IN_CONTAINER.into(),
            input.run_image.to_string(),
        ]);
    } else {
        args.extend([input.run_image.to_string(), HELPER_IN_CONTAINER.into()]);
    }
    args.extend(helper_args);

    Ok(Plan {
        name,
        args,
        stdin: environment(input),
        removed_on_exit,
        create,
    })
}

fn helper_arguments(input: &PlanInput) -> Result<Vec<String>, InputError> {
    let task = input.task;
    let mut args = Vec::new();
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
            match &task.run {
                Command::Shell(command) => args.extend(["--run-shell".into(), command.clone()]),
                Command::Script { path } => args.extend(["--run-script".into(), path.clone()]),
            }
        }
        Launch::Entrypoint(entrypoint) => {
            let words = shell_words::split(&task.command).map_err(|error| {
                InputError::new(
                    format!("{} in {}", task.key, task.source.name()),
                    format!(
                        "cannot split `{}` into words for the image's ENTRYPOINT: {error}",
                        task.command
                    ),
                    "balance the quotes in the command",
                )
            })?;
            args.push("--run-exec".into());
            args.extend(entrypoint);
            args.extend(words);
        }
    }
    Ok(args)
}

fn launch(image: &Image, config: &AppConfig) -> Launch {
    if image.labels.contains_key(CNB_LABEL) {
        return Launch::Shell {
            wrap: vec![CNB_LAUNCHER.into()],
            heroku_profile: false,
        };
    }
    let user = image.env_value("USER");
    let herokuish = user == Some("herokuishuser")
        || (user.is_some() && user == config.get("DOKKU_APP_USER").filter(|name| !name.is_empty()));
    if herokuish {
        return Launch::Shell {
            wrap: Vec::new(),
            heroku_profile: true,
        };
    }
    match &image.entrypoint {
        Some(entrypoint) if TINI.contains(&entrypoint[0].as_str()) => {
            let mut wrap = entrypoint.clone();
            if !wrap.iter().any(|word| word == "--") {
                wrap.push("--".into());
            }
            Launch::Shell {
                wrap,
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

/// The app's config plus the variables every task sees; the plugin's own win.
fn environment(input: &PlanInput) -> Vec<u8> {
    let container = format!("{}-{}", input.task.phase.name(), input.ordinal);
    let own = [
        ("APP", input.app.name()),
        ("CONTAINER", container.as_str()),
        ("CONTAINER_VERSION", input.tag.name()),
        ("DOKKU_DEPLOY_PHASE", input.task.phase.name()),
    ];
    let mut stdin = Vec::new();
    let config = input
        .config
        .vars
        .iter()
        .filter(|(key, _)| !own.iter().any(|(name, _)| name == key))
        .map(|(key, value)| (key.as_str(), value.as_str()));
    for (key, value) in config.chain(own) {
        stdin.extend_from_slice(key.as_bytes());
        stdin.push(b'=');
        // A NUL cannot be in an environment variable; dropping it keeps the framing intact.
        stdin.extend(value.bytes().filter(|byte| *byte != 0));
        stdin.push(0);
    }
    stdin
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Source;
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
        }
    }

    fn plan(
        image: &Image,
        phase: Phase,
        command: &str,
        config: &AppConfig,
    ) -> Result<Plan, InputError> {
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
            config,
            run_id: "7-1",
            ordinal: 1,
        })
    }

    fn tail(plan: &Plan, from: &str) -> Vec<String> {
        let start = plan.args.iter().position(|arg| arg == from).unwrap();
        plan.args[start..].to_vec()
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
        assert!(!plan.removed_on_exit);
        assert!(!plan.args.contains(&"--rm".to_string()));
        assert!(!plan.args.contains(&"--entrypoint".to_string()));
        let labels: Vec<&String> = plan
            .args
            .windows(2)
            .filter(|w| w[0] == "--label")
            .map(|w| &w[1])
            .collect();
        assert_eq!(labels, ["com.dokku.app-name=shop"]);
        assert_eq!(
            tail(&plan, "sha256:1"),
            [
                "sha256:1",
                HELPER_IN_CONTAINER,
                "--run-shell",
                "make assets"
            ]
        );
        assert!(plan.args.windows(2).any(|w| w == ["--network", "db"]));
        assert!(plan.create.is_none(), "docker options need the CLI");
    }

    #[test]
    fn without_docker_options_the_engine_request_matches_the_cli_arguments() {
        let app = App::new("shop").unwrap();
        let tag = ImageTag::new(None).unwrap();
        let image = image(Some(&["/entry"]));
        let task = Task::shell(Phase::Release, Source::Procfile, "release", "migrate now");
        let plan = task_container(&PlanInput {
            app: &app,
            tag: &tag,
            task: &task,
            image: &image,
            run_image: &image.id,
            helper: Path::new("/helper"),
            shell: None,
            docker_options: &[],
            config: &AppConfig::default(),
            run_id: "1",
            ordinal: 1,
        })
        .unwrap();
        let create = plan.create.unwrap();
        assert_eq!(create["Image"], "sha256:1");
        assert_eq!(
            create["Entrypoint"],
            serde_json::json!([HELPER_IN_CONTAINER])
        );
        assert_eq!(
            create["Cmd"],
            serde_json::json!(["--run-exec", "/entry", "migrate", "now"])
        );
        assert_eq!(create["Labels"]["dokku_phase_script"], "release");
        assert_eq!(create["Labels"]["com.dokku.app-name"], "shop");
        assert_eq!(create["HostConfig"]["Mounts"][0]["Source"], "/helper");
    }

    #[test]
    fn release_is_removed_on_exit_and_labelled_with_its_phase() {
        let plan = plan(
            &image(None),
            Phase::Release,
            "migrate",
            &AppConfig::default(),
        )
        .unwrap();
        assert!(plan.removed_on_exit);
        assert!(plan.args.contains(&"--rm".to_string()));
        assert!(plan
            .args
            .windows(2)
            .any(|w| w == ["--label", "dokku_phase_script=release"]));
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
            tail(&planned, "--entrypoint"),
            [
                "--entrypoint",
                HELPER_IN_CONTAINER,
                "sha256:1",
                "--run-exec",
                "/docker-entrypoint.sh",
                "rake",
                "db:migrate x"
            ]
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
        let image = image(Some(&["/tini"]));
        let plan = plan(&image, Phase::Release, "echo hi", &AppConfig::default()).unwrap();
        assert_eq!(
            tail(&plan, "--wrap"),
            ["--wrap", "/tini", "--wrap", "--", "--run-shell", "echo hi"]
        );
    }

    #[test]
    fn herokuish_and_cnb_images_are_recognised() {
        let mut herokuish = image(None);
        herokuish.env.push("USER=herokuishuser".into());
        let plan_for =
            |image: &Image, config: &AppConfig| plan(image, Phase::Release, "x", config).unwrap();
        assert!(plan_for(&herokuish, &AppConfig::default())
            .args
            .contains(&"--heroku-profile".to_string()));

        let mut custom_user = image(None);
        custom_user.env.push("USER=shopper".into());
        let config = AppConfig {
            vars: vec![("DOKKU_APP_USER".into(), "shopper".into())],
            warnings: Vec::new(),
        };
        assert!(plan_for(&custom_user, &config)
            .args
            .contains(&"--heroku-profile".to_string()));
        assert!(!plan_for(&custom_user, &AppConfig::default())
            .args
            .contains(&"--heroku-profile".to_string()));

        let mut cnb = image(Some(&["/cnb/process/web"]));
        cnb.labels
            .insert(CNB_LABEL.into(), "io.buildpacks.stacks.jammy".into());
        assert_eq!(
            tail(&plan_for(&cnb, &AppConfig::default()), "--wrap"),
            ["--wrap", CNB_LAUNCHER, "--run-shell", "x"]
        );
    }

    #[test]
    fn config_goes_on_stdin_never_on_the_command_line() {
        let config = AppConfig {
            vars: vec![
                ("SECRET".into(), "it's \"quoted\"\nand multi-line".into()),
                ("APP".into(), "spoofed".into()),
            ],
            warnings: Vec::new(),
        };
        let plan = plan(&image(None), Phase::Predeploy, "true", &config).unwrap();
        assert!(!plan.args.iter().any(|arg| arg.contains("quoted")));
        let entries: Vec<&[u8]> = plan
            .stdin
            .split(|byte| *byte == 0)
            .filter(|e| !e.is_empty())
            .collect();
        assert_eq!(
            entries,
            [
                &b"SECRET=it's \"quoted\"\nand multi-line"[..],
                b"APP=shop",
                b"CONTAINER=predeploy-1",
                b"CONTAINER_VERSION=v2",
                b"DOKKU_DEPLOY_PHASE=predeploy"
            ]
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
            config: &AppConfig::default(),
            run_id: "7-1",
            ordinal: 2,
        })
        .unwrap();
        assert_eq!(
            tail(&plan, "--run-script"),
            ["--run-script", "/app/pre-deploy.sh"]
        );
        assert!(!plan.args.iter().any(|arg| arg == "/usr/bin/server"));
        let stdin = String::from_utf8(plan.stdin).unwrap();
        assert!(stdin.contains("CONTAINER=predeploy-2\0"), "{stdin:?}");
    }
}
