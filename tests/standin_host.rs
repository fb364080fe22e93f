//! The stand-in host itself (`tests/host/dokku`), with a plugin path that holds only its models of
//! Dokku's core plugins: Dokku 0.38's own behaviour, as modelled, without the plugin under test.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// A plugin path of this host's own, with only the core-plugin models (and `extra` plugins:
/// name, trigger, script).
fn core_only(host: &TestHost, extra: &[(&str, &str, &str)]) -> PathBuf {
    let enabled = host.dir.path().join("plugins/enabled");
    std::fs::create_dir_all(&enabled).unwrap();
    for (plugin, trigger, script) in extra {
        let dir = host.dir.path().join("plugins/available").join(plugin);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(trigger);
        std::fs::write(&path, script).unwrap();
        std::process::Command::new("chmod")
            .args(["0755", path.to_str().unwrap()])
            .status()
            .unwrap();
        std::os::unix::fs::symlink(&dir, enabled.join(plugin)).unwrap();
    }
    enabled
}

fn source(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

fn run(host: &TestHost, enabled: &Path, args: &[&str]) -> Run {
    Run::from(
        host.dokku_command(enabled, args)
            .env(
                "DOKKU_STANDIN_TRIGGER_LOG",
                host.dir.path().join("triggers.log"),
            )
            .output()
            .expect("running tests/host/dokku"),
    )
}

fn triggers(host: &TestHost) -> Vec<String> {
    std::fs::read_to_string(host.dir.path().join("triggers.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The lines a task printed (Dokku shows a task's output behind seven spaces).
fn task_lines(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter_map(|line| line.strip_prefix("       TASK "))
        .collect()
}

const DOCKERFILE: &str = "FROM deploy-tasks-test/bash:latest\nWORKDIR /app\nCOPY . /app/\n";

// JSONC: comments, a trailing comma, keys in another case, a repeated key (the last wins).
const APP_JSON: &str = r#"{
  // Dokku reads app.json as JSONC
  "Scripts": {
    "DOKKU": {"predeploy": "echo TASK never", /* replaced below */ "POSTDEPLOY": "echo TASK postdeploy"},
    "postdeploy": "echo TASK heroku-postdeploy",
  },
  "scripts": {"dokku": {"predeploy": "echo TASK predeploy"}},
}"#;

#[test]
fn given_an_app_with_every_task_when_pushed_twice_then_each_runs_once_in_dokkus_order_and_a_push_without_app_json_leaves_the_missing_marker(
) {
    let host = TestHost::new("standin-order");
    let enabled = core_only(&host, &[]);
    let app = source(&[
        ("Dockerfile", DOCKERFILE),
        ("app.json", APP_JSON),
        (
            "Procfile",
            "release: echo TASK release on $PORT\nweb: sleep 600\n",
        ),
    ]);

    let first = run(
        &host,
        &enabled,
        &["git-push", &host.app, app.path().to_str().unwrap()],
    );

    first.expect_code(0);
    assert_eq!(
        task_lines(&first),
        [
            "predeploy",
            "release on 5000",
            "heroku-postdeploy",
            "postdeploy"
        ],
        "{first:#?}"
    );
    let web_started = first.stdout.find("-----> Deploying web (count=1)").unwrap();
    assert!(first.stdout.find("TASK heroku-postdeploy").unwrap() < web_started);
    assert!(web_started < first.stdout.rfind("       TASK postdeploy").unwrap());
    let data = host.lib_root().join("data/app-json").join(&host.app);
    assert!(data.join("app.json").is_file());
    assert_eq!(
        std::fs::read_to_string(
            host.lib_root()
                .join("config/common")
                .join(&host.app)
                .join("deployed")
        )
        .unwrap(),
        "true"
    );
    let web = format!("{}.web.1", host.app);
    let web_id = docker(&["inspect", "--format", "{{.Id}}", &web]);

    // The next push has no app.json and a release that fails.
    std::fs::remove_file(app.path().join("app.json")).unwrap();
    std::fs::write(
        app.path().join("Procfile"),
        "release: echo TASK release; exit 3\nweb: sleep 600\n",
    )
    .unwrap();
    let second = run(
        &host,
        &enabled,
        &["git-push", &host.app, app.path().to_str().unwrap()],
    );

    second
        .expect_code(1)
        .stdout_has("No predeploy task found, skipping");
    assert_eq!(task_lines(&second), ["release"], "{second:#?}");
    let leftovers: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        leftovers
            .iter()
            .any(|name| name.starts_with("app.json.") && name.ends_with(".missing")),
        "{leftovers:?}"
    );
    assert!(
        data.join("app.json").is_file(),
        "core-post-deploy never ran: {leftovers:?}"
    );
    assert_eq!(docker(&["inspect", "--format", "{{.Id}}", &web]), web_id);
}

#[test]
fn given_a_plugin_with_a_pre_deploy_trigger_then_the_registry_shim_warns_and_fires_it_after_the_release_task(
) {
    let host = TestHost::new("standin-shim");
    let enabled = core_only(
        &host,
        &[(
            "zz-legacy",
            "pre-deploy",
            "#!/bin/sh\necho \"TASK pre-deploy $*\"\n",
        )],
    );
    let app = source(&[
        ("Dockerfile", DOCKERFILE),
        ("Procfile", "release: echo TASK release\nweb: sleep 600\n"),
    ]);

    let pushed = run(
        &host,
        &enabled,
        &["git-push", &host.app, app.path().to_str().unwrap()],
    );

    pushed.expect_code(0).stderr_has(
        " !     Deprecated: please upgrade plugin to use 'pre-release-builder' plugin trigger instead of pre-deploy",
    );
    let fired = format!("pre-deploy {} latest", host.app);
    assert!(
        pushed.stdout.contains(&format!("TASK {fired}")),
        "{pushed:#?}"
    );
    assert!(
        pushed.stdout.find("       TASK release").unwrap()
            < pushed.stdout.find(&format!("TASK {fired}")).unwrap()
    );

    // config:set restarts with a whole release; ps:restart only schedules again.
    let before = triggers(&host).len();
    run(&host, &enabled, &["config:set", &host.app, "GREETING=hi"]).expect_code(0);
    let restarted = triggers(&host)[before..].to_vec();
    assert_eq!(
        restarted[0],
        format!("post-config-update {} set GREETING", host.app)
    );
    assert!(restarted.contains(&format!(
        "release-and-deploy {} '' config-redeploy",
        host.app
    )));
    assert!(restarted.contains(&fired), "{restarted:?}");
    assert!(restarted.contains(&format!("core-post-deploy {} '' '' latest", host.app)));

    let before = triggers(&host).len();
    run(&host, &enabled, &["ps:restart", &host.app]).expect_code(0);
    let restarted = triggers(&host)[before..].to_vec();
    assert!(
        restarted.contains(&format!("deploy {} latest", host.app)),
        "{restarted:?}"
    );
    assert!(restarted.contains(&format!(
        "scheduler-deploy docker-local {} latest ''",
        host.app
    )));
    assert!(!restarted
        .iter()
        .any(|line| line.starts_with("pre-release-builder") || line.starts_with("pre-deploy")));
    assert!(restarted.contains(&format!("post-deploy {} '' '' latest", host.app)));
}

#[test]
fn given_no_plugin_with_a_pre_deploy_trigger_then_the_registry_shim_is_silent() {
    let host = TestHost::new("standin-noshim");
    let enabled = core_only(&host, &[]);
    let dockerfile = format!("{DOCKERFILE}CMD [\"sleep\", \"600\"]\n");
    let app = source(&[("Dockerfile", &dockerfile)]);

    let pushed = run(
        &host,
        &enabled,
        &["git-push", &host.app, app.path().to_str().unwrap()],
    );

    pushed
        .expect_code(0)
        .stdout_has("No release task found, skipping");
    assert!(!pushed.stderr.contains("Deprecated"), "{pushed:#?}");
    assert!(!triggers(&host)
        .iter()
        .any(|line| line.starts_with("pre-deploy ")));
}
