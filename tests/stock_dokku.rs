//! Running next to a stock Dokku: `core-tasks` leaves app.json's scripts and the Procfile's
//! `release` to Dokku's own app-json plugin (`defer`) or runs them here (`replace`); the
//! `appjson-path` and `procfile-path` settings name where the files are in the image.

mod support;

use std::process::Command;

use support::*;

/// A host whose Dokku has (or not) its core app-json plugin.
fn host_with_core_plugin(name: &str, core_plugin: bool) -> TestHost {
    let host = TestHost::new(name);
    if core_plugin {
        std::fs::create_dir_all(host.dir.path().join("core-plugins/app-json")).unwrap();
    }
    host
}

fn trigger(host: &TestHost, trigger: &str, args: &[&str]) -> Run {
    let mut command: Command = host.trigger_command(trigger, args);
    command
        .env(
            "PLUGIN_CORE_AVAILABLE_PATH",
            host.dir.path().join("core-plugins"),
        )
        .env("PLUGIN_AVAILABLE_PATH", host.dir.path().join("plugins"));
    Run::from(command.output().expect("running the trigger"))
}

fn history_sources(host: &TestHost) -> Vec<String> {
    host.history()
        .iter()
        .map(|entry| {
            format!(
                "{} {}",
                entry["source"].as_str().unwrap(),
                entry["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

const APP_JSON: &str = r#"{"scripts": {"dokku": {"predeploy": "echo app-json-predeploy-ran"}}}"#;

fn build_with_pre_deploy_script(host: &TestHost) -> String {
    host.build(
        &busybox_app("COPY app.json Procfile pre-deploy.sh /app/"),
        &[
            ("app.json", APP_JSON),
            ("Procfile", "release: echo release-ran\n"),
            ("pre-deploy.sh", "echo pre-deploy-sh-ran\n"),
        ],
    )
}

#[test]
fn given_dokkus_app_json_plugin_then_its_tasks_are_left_to_it_and_other_sources_still_run() {
    let host = host_with_core_plugin("core-defer", true);
    let before = build_with_pre_deploy_script(&host);
    host.host_app_json(APP_JSON);
    host.host_procfile("release: echo release-ran\n");

    let predeploy = trigger(&host, "pre-deploy", &[&host.app]);

    predeploy
        .expect_code(0)
        .stdout_has(
            "Leaving app.json scripts.dokku.predeploy to Dokku's app-json plugin (core-tasks is defer)",
        )
        .stdout_has("pre-deploy-sh-ran");
    assert!(
        !predeploy.stdout.contains("app-json-predeploy-ran"),
        "{predeploy:#?}"
    );
    assert_ne!(
        image_id(&host.image()),
        before,
        "pre-deploy.sh was committed"
    );
    assert_eq!(history_sources(&host), ["pre-deploy.sh ok"]);

    let release = trigger(&host, "post-release", &[&host.app]);
    release
        .expect_code(0)
        .stdout_has("Leaving Procfile release to Dokku's app-json plugin")
        .stdout_has("No release task found, skipping");
    assert!(!release.stdout.contains("release-ran"), "{release:#?}");
}

#[test]
fn given_dokkus_app_json_plugin_and_core_tasks_replace_then_every_task_runs_here() {
    let host = host_with_core_plugin("core-replace", true);
    build_with_pre_deploy_script(&host);
    host.setting("core-tasks", "replace");

    let predeploy = trigger(&host, "pre-deploy", &[&host.app]);

    predeploy
        .expect_code(0)
        .stdout_has("app-json-predeploy-ran")
        .stdout_has("pre-deploy-sh-ran");
    assert!(!predeploy.stdout.contains("Leaving"), "{predeploy:#?}");
    assert_eq!(history_sources(&host), ["app.json ok", "pre-deploy.sh ok"]);
    trigger(&host, "post-release", &[&host.app])
        .expect_code(0)
        .stdout_has("release-ran");
}

#[test]
fn given_no_core_plugin_then_the_default_is_replace() {
    let host = host_with_core_plugin("core-none", false);
    build_with_pre_deploy_script(&host);

    trigger(&host, "pre-deploy", &[&host.app])
        .expect_code(0)
        .stdout_has("app-json-predeploy-ran");
}

#[test]
fn given_appjson_path_and_procfile_path_then_those_files_in_the_image_are_used_over_the_hosts_copies(
) {
    let host = TestHost::new("paths");
    host.build(
        &busybox_app("COPY deploy /app/deploy/"),
        &[
            (
                "deploy/app.json",
                r#"{"scripts": {"dokku": {"predeploy": "echo from-deploy-app-json"}}}"#,
            ),
            ("deploy/Procfile", "release: echo from-deploy-procfile\n"),
        ],
    );
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo from-host-copy"}}}"#);
    host.host_procfile("release: echo from-host-copy\n");
    host.setting("appjson-path", "deploy/app.json");
    host.setting("procfile-path", "./deploy/Procfile");

    let predeploy = host.predeploy();
    predeploy.expect_code(0).stdout_has("from-deploy-app-json");
    assert!(!predeploy.stdout.contains("from-host-copy"));
    let release = host.release();
    release.expect_code(0).stdout_has("from-deploy-procfile");
    assert!(!release.stdout.contains("from-host-copy"));

    // Without the settings, the host's copies count again.
    std::fs::remove_dir_all(host.lib_root().join("config/deploy-tasks")).unwrap();
    host.release().expect_code(0).stdout_has("from-host-copy");
}
