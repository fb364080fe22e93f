//! Scenarios with `DOCKER_BIN=podman`: the triggers drive Podman's docker-compatible CLI, with the
//! configuration and store `tests/setup.sh` gives it (`CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF`
//! under `/var/lib/deploy-tasks-test/podman`: vfs storage, no network, cgroupfs). The plugin
//! speaks the Engine API to Docker only, so every call here goes through Podman's CLI.
//!
//! When `tests/setup.sh` found that Podman cannot run a container on this machine, it wrote why
//! to `unusable`; each test then says so on stderr, past the harness's capture, and passes.

mod support;

use std::io::{BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

const PODMAN_DIR: &str = "/var/lib/deploy-tasks-test/podman";

fn podman_command(args: &[&str]) -> Command {
    let mut command = Command::new("podman");
    command
        .args(args)
        .env(
            "CONTAINERS_CONF",
            Path::new(PODMAN_DIR).join("containers.conf"),
        )
        .env(
            "CONTAINERS_STORAGE_CONF",
            Path::new(PODMAN_DIR).join("storage.conf"),
        )
        .stdin(Stdio::null());
    command
}

fn podman_output(args: &[&str]) -> Output {
    podman_command(args).output().expect("running podman")
}

/// Runs a podman command and returns its stdout; panics with its stderr on failure.
fn podman(args: &[&str]) -> String {
    let output = podman_output(args);
    assert!(
        output.status.success(),
        "podman {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

/// Held by each test for as long as its app lives: the tests take turns on Podman's store, the
/// threads of one `cargo test` and two processes of this binary alike (an exclusive lock on a
/// file beside the store). Podman 4.3's vfs store is not safe for concurrent use across processes
/// in ways the plugin does not cause: a commit can get a layer that a concurrent `podman rmi` of
/// another test is deleting ("layer not known"), and `podman image inspect NAME` of an untouched
/// image can fail with "locating image with ID ...: image not known" while another test's
/// `podman rmi` rewrites the store. Both are races of the tests' housekeeping beside each other,
/// not of one deploy.
fn store_turn() -> std::fs::File {
    let path = Path::new(PODMAN_DIR).join("store-turn.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|error| panic!("opening {}: {error}", path.display()));
    // Generous: every test of this binary, one after the other, takes less.
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        match file.try_lock() {
            Ok(()) => return file,
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(error) => panic!("no turn on Podman's store ({}): {error}", path.display()),
        }
    }
}

/// An app on a host whose `DOCKER_BIN` is Podman. Dropping it removes the app's containers and
/// images from Podman's store (the host's directories go with the inner [`TestHost`]).
struct PodmanApp {
    host: TestHost,
    /// Images this app built, by ID (each is the app's own: a label names the app).
    built: Vec<String>,
    /// This test's turn on Podman's store ([`store_turn`]), released after the app's removal.
    _turn: std::fs::File,
}

impl PodmanApp {
    /// A fresh app, or `None` when Podman is unusable here (the reason is printed).
    fn new(name: &str) -> Option<PodmanApp> {
        let unusable = Path::new(PODMAN_DIR).join("unusable");
        if let Ok(reason) = std::fs::read_to_string(&unusable) {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED podman {name}: tests/setup.sh found Podman unusable here: {}",
                reason.trim()
            );
            return None;
        }
        assert!(
            Path::new(PODMAN_DIR).join("containers.conf").is_file(),
            "no Podman configuration in {PODMAN_DIR}: run `bash tests/setup.sh` first"
        );
        let image = podman_output(&["image", "inspect", BUSYBOX]);
        assert!(
            image.status.success(),
            "no base image {BUSYBOX} in the tests' Podman store: run `bash tests/setup.sh` first ({})",
            String::from_utf8_lossy(&image.stderr).trim()
        );
        Some(PodmanApp {
            host: TestHost::new(&format!("podman-{name}")),
            built: Vec::new(),
            _turn: store_turn(),
        })
    }

    fn app(&self) -> &str {
        &self.host.app
    }

    fn image(&self) -> String {
        self.host.image()
    }

    /// Builds `dokku/APP:latest` with Podman from a Dockerfile's lines after `FROM` and files;
    /// returns its image ID.
    fn build(&mut self, instructions: &str, files: &[(&str, &str)]) -> String {
        let context = tempfile::tempdir().unwrap();
        let dockerfile = format!(
            "FROM {BUSYBOX}\nLABEL deploy-tasks-test.app={}\n{instructions}\n",
            self.app()
        );
        std::fs::write(context.path().join("Dockerfile"), dockerfile).unwrap();
        for (path, content) in files {
            let path = context.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        let image = self.image();
        podman(&[
            "build",
            "--quiet",
            "--layers=false",
            "--network=none",
            // Docker's image format, as images built by Docker or pulled from a registry have.
            "--format=docker",
            "--tag",
            &image,
            context.path().to_str().unwrap(),
        ]);
        let id = podman_image_id(&image);
        self.built.push(id.clone());
        id
    }

    /// A trigger's command as the host runs it, with Podman as the CLI.
    fn trigger_command(&self, trigger: &str, args: &[&str]) -> Command {
        let mut command = self.host.trigger_command(trigger, args);
        command
            .env("DOCKER_BIN", "podman")
            .env(
                "CONTAINERS_CONF",
                Path::new(PODMAN_DIR).join("containers.conf"),
            )
            .env(
                "CONTAINERS_STORAGE_CONF",
                Path::new(PODMAN_DIR).join("storage.conf"),
            );
        command
    }

    fn trigger(&self, trigger: &str, args: &[&str]) -> Run {
        Run::from(
            self.trigger_command(trigger, args)
                .output()
                .expect("running the trigger"),
        )
    }

    /// Every container of this app in Podman's store, running or not, by name.
    fn containers(&self) -> Vec<String> {
        let filter = format!("name=^{}\\.", self.app());
        podman(&["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"])
            .lines()
            .map(str::to_string)
            .filter(|name| !name.is_empty())
            .collect()
    }

    /// Runs `command` with `sh -c` in a throwaway container of the app's image.
    fn run_in_image(&self, command: &str) -> String {
        podman(&[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            &self.image(),
            "-c",
            command,
        ])
    }
}

impl Drop for PodmanApp {
    fn drop(&mut self) {
        for name in self.containers() {
            let _ = podman_output(&["rm", "--force", "--volumes", &name]);
        }
        let _ = podman_output(&["rmi", &self.image()]);
        for id in self.built.iter().rev() {
            let _ = podman_output(&["rmi", id]);
        }
    }
}

/// The ID an image reference points at in Podman's store.
fn podman_image_id(reference: &str) -> String {
    podman(&["image", "inspect", "--format", "{{.Id}}", reference])
}

/// One field of an image's config, as JSON.
fn podman_image_config(reference: &str, field: &str) -> String {
    podman(&[
        "image",
        "inspect",
        "--format",
        &format!("{{{{json .Config.{field}}}}}"),
        reference,
    ])
}

/// An image's HEALTHCHECK, as JSON.
fn podman_image_health(reference: &str) -> String {
    podman(&[
        "image",
        "inspect",
        "--format",
        "{{json .HealthCheck}}",
        reference,
    ])
}

/// An image's ENV entries, sorted.
fn podman_image_env(reference: &str) -> Vec<String> {
    let mut env: Vec<String> = serde_json::from_str(&podman_image_config(reference, "Env"))
        .expect("ENV as a JSON array of strings");
    env.sort();
    env
}

#[test]
fn given_an_entrypoint_image_when_predeploy_succeeds_under_podman_then_it_is_committed_with_its_config_and_healthcheck_as_before(
) {
    let Some(mut app) = PodmanApp::new("predeploy") else {
        return;
    };
    // app.json is read out of the image, through a link as Dokku's apps sometimes ship it.
    let before = app.build(
        "WORKDIR /app\nENV GREETING=hello\nCOPY app.json /app/config/app.json\n\
         RUN ln -s config/app.json /app/app.json\n\
         ENTRYPOINT [\"/bin/sh\", \"-c\"]\nCMD [\"echo serving\"]\n\
         HEALTHCHECK --interval=30s CMD wget -qO- http://127.0.0.1:5000/",
        &[(
            "app.json",
            r#"{"scripts": {"dokku": {"predeploy": "'echo \"$GREETING from predeploy\" | tee /app/built.txt'"}}}"#,
        )],
    );
    let reference = app.image();
    let fields = ["Entrypoint", "Cmd", "WorkingDir", "User"];
    let config_before: Vec<String> = fields
        .iter()
        .map(|field| podman_image_config(&reference, field))
        .collect();
    let env_before = podman_image_env(&reference);
    let health_before = podman_image_health(&reference);

    let run = app.trigger("pre-deploy", &[app.app()]);

    run.expect_code(0)
        .stdout_has("       hello from predeploy\n")
        .stdout_has(&format!("Committed the predeploy result into {reference}"));
    assert_ne!(podman_image_id(&reference), before, "nothing was committed");
    let config_after: Vec<String> = fields
        .iter()
        .map(|field| podman_image_config(&reference, field))
        .collect();
    assert_eq!(config_after, config_before, "{fields:?} changed");
    // `podman commit` may reorder ENV (README, Podman); the entries are the same.
    assert_eq!(podman_image_env(&reference), env_before);
    assert_eq!(podman_image_health(&reference), health_before);
    assert!(health_before.contains("wget"), "{health_before}");
    let labels = podman_image_config(&reference, "Labels");
    for label in [
        "\"com.dokku.predeploy-phase\":\"true\"",
        "\"org.label-schema.vendor\":\"dokku\"",
        "\"org.label-schema.schema-version\":\"1.0\"",
        &format!("\"com.dokku.app-name\":\"{}\"", app.app()),
    ] {
        assert!(labels.contains(label), "no {label} in {labels}");
    }
    assert_eq!(
        app.run_in_image("cat /app/built.txt"),
        "hello from predeploy"
    );
    assert!(app.containers().is_empty(), "{:?}", app.containers());
}

#[test]
fn given_an_image_with_neither_entrypoint_nor_cmd_when_predeploy_commits_under_podman_then_it_still_has_neither(
) {
    let Some(mut app) = PodmanApp::new("bare") else {
        return;
    };
    app.build("", &[]);
    app.host
        .host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo done > /done.txt"}}}"#);
    let reference = app.image();

    app.trigger("pre-deploy", &[app.app()]).expect_code(0);

    assert_eq!(podman_image_config(&reference, "Entrypoint"), "null");
    // Podman clears CMD as asked, where Docker needs a build step and leaves `[]`.
    assert_eq!(podman_image_config(&reference, "Cmd"), "null");
    assert_eq!(app.run_in_image("cat /done.txt"), "done");
    assert!(app.containers().is_empty(), "{:?}", app.containers());
}

#[test]
fn given_a_release_task_under_podman_then_its_output_streams_live_and_it_sees_the_config_and_no_podman_variables(
) {
    let Some(mut app) = PodmanApp::new("release") else {
        return;
    };
    app.build("ENV FROM_IMAGE=kept", &[]);
    let url = "postgres://u:s3cret@db/app";
    app.host.app_env(&format!("export DATABASE_URL='{url}'\n"));
    app.host.host_app_json("{}");
    // The task goes on only once the test has seen its first line: proof that it came live. No
    // `$`: Dokku expands a Procfile command's variables from the config, and most of these are
    // not in it.
    app.host.host_procfile(
        "release: echo first; awk 'BEGIN { print \"url length \" length(ENVIRON[\"DATABASE_URL\"]) \
         \", FROM_IMAGE=\" ENVIRON[\"FROM_IMAGE\"] \
         \", TERM=\" ((\"TERM\" in ENVIRON) ? ENVIRON[\"TERM\"] : \"unset\") \
         \", container=\" ((\"container\" in ENVIRON) ? ENVIRON[\"container\"] : \"unset\") }'; \
         echo to-stderr >&2; while [ ! -e /tmp/go-on ]; do sleep 0.1; done; echo second\n",
    );
    app.host.setting("release-timeout", "300");

    let mut child = app
        .trigger_command("post-release", &[app.app()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the trigger");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    wait_for_line(&mut stdout, "       first", Duration::from_secs(120));
    assert!(
        matches!(child.try_wait(), Ok(None)),
        "the trigger exited before the task was let go on"
    );
    let container = app
        .containers()
        .into_iter()
        .find(|name| name.starts_with(&format!("{}.release.", app.app())))
        .expect("a running release container");
    // Detached, as Podman's exec is race-free only so: the touch lets the task end and the plugin
    // remove its container, and an attached `podman exec` reads its session back from the
    // container after the command exits, without holding the container's lock while it ran, so
    // it can find the container gone ("container has already been removed", "no such
    // container": libpod/container_exec.go, `exec` after `execStartAndAttach`). A detached exec
    // starts the command and records it started under that lock, which the removal waits for;
    // "second" below proves that the touch ran.
    podman(&["exec", "--detach", &container, "touch", "/tmp/go-on"]);
    let run = finish(child, Some(stdout));

    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!(
            "       url length {}, FROM_IMAGE=kept, TERM=unset, container=unset\n",
            url.len()
        )) && run.stdout.contains("       second\n"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("       to-stderr\n"), "{run:#?}");
    assert!(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"));
    assert!(app.containers().is_empty(), "{:?}", app.containers());
}

#[test]
fn given_failing_tasks_under_podman_then_each_trigger_fails_nothing_is_committed_and_no_container_is_left(
) {
    let Some(mut app) = PodmanApp::new("failing") else {
        return;
    };
    let before = app.build("", &[]);
    app.host
        .host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo half > /half.txt; exit 3"}}}"#);
    app.host.host_procfile("release: echo releasing; exit 4\n");

    let predeploy = app.trigger("pre-deploy", &[app.app()]);
    let release = app.trigger("post-release", &[app.app()]);

    predeploy.expect_code(1).stderr_has(
        "predeploy task from app.json failed with exit code 3; the image was not changed",
    );
    release
        .expect_code(1)
        .stdout_has("       releasing\n")
        .stderr_has("release task from Procfile failed with exit code 4");
    assert_eq!(podman_image_id(&app.image()), before);
    assert!(app.containers().is_empty(), "{:?}", app.containers());
}

#[test]
fn given_a_hung_postdeploy_under_podman_when_its_timeout_passes_then_it_is_stopped_and_the_trigger_exits_124(
) {
    let Some(mut app) = PodmanApp::new("timeout") else {
        return;
    };
    app.build("", &[]);
    app.host.host_app_json(
        r#"{"scripts": {"dokku": {"postdeploy": "echo waiting; sleep 600; echo never"}}}"#,
    );
    app.host.setting("postdeploy-timeout", "2");

    let run = app.trigger("post-deploy", &[app.app(), "5000", "127.0.0.1"]);

    run.expect_code(124)
        .stdout_has("       waiting\n")
        .stderr_has("postdeploy task from app.json timed out after 2s");
    assert!(!run.stdout.contains("       never\n"), "{run:#?}");
    assert!(app.containers().is_empty(), "{:?}", app.containers());
}

#[test]
fn given_debians_podman_docker_shim_as_the_hosts_docker_when_predeploy_commits_then_podman_is_driven_as_podman_and_the_shims_notice_stays_out(
) {
    let Some(mut app) = PodmanApp::new("shim") else {
        return;
    };
    app.build("ENV GREETING=hello", &[]);
    app.host.host_app_json(
        r#"{"scripts": {"dokku": {"predeploy": "echo \"$GREETING, container=${container:-unset}\" | tee /done.txt"}}}"#,
    );
    let reference = app.image();
    let env_before = podman_image_env(&reference);
    // The shape of the `docker` that Debian's podman-docker installs in place of Docker's CLI: a
    // notice on stderr on every call, then Podman. Dokku calls it by name, from PATH.
    let bin = tempfile::tempdir().unwrap();
    let podman_path = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v podman"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::write(
        bin.path().join("docker"),
        format!(
            "#!/bin/sh\n[ -e /etc/containers/nodocker ] || \\\necho \"Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\" >&2\nexec {} \"$@\"\n",
            podman_path.trim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.path().join("docker"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let run = Run::from(
        app.trigger_command("pre-deploy", &[app.app()])
            .env("DOCKER_BIN", "docker")
            .env("PATH", path)
            .output()
            .unwrap(),
    );

    run.expect_code(0)
        .stdout_has("       hello, container=unset\n")
        .stdout_has(&format!("Committed the predeploy result into {reference}"));
    assert!(
        !run.stdout.contains("Emulate Docker CLI") && !run.stderr.contains("Emulate Docker CLI"),
        "{run:#?}"
    );
    // Podman's dialect: one label a LABEL, its variables kept out of the image, CMD cleared by
    // the commit.
    let labels = podman_image_config(&reference, "Labels");
    for label in [
        "\"com.dokku.predeploy-phase\":\"true\"",
        "\"org.label-schema.vendor\":\"dokku\"",
        &format!("\"com.dokku.app-name\":\"{}\"", app.app()),
    ] {
        assert!(labels.contains(label), "no {label} in {labels}");
    }
    assert_eq!(podman_image_env(&reference), env_before);
    assert_eq!(podman_image_config(&reference, "Cmd"), "null");
    assert_eq!(app.run_in_image("cat /done.txt"), "hello, container=unset");
    assert!(app.containers().is_empty(), "{:?}", app.containers());
}
