//! Scenarios: an operator skips phases, by setting or for one emergency redeploy.

mod support;

use support::*;

fn history_outcomes(host: &TestHost) -> Vec<String> {
    host.history()
        .iter()
        .map(|entry| entry["outcome"].to_string())
        .collect()
}

#[test]
fn given_the_skip_setting_then_the_listed_phases_do_not_run_and_the_history_says_skipped() {
    let host = TestHost::new("skip-setting");
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(
        r#"{"scripts": {"dokku": {"predeploy": "echo pre-ran", "postdeploy": "echo post-ran"}}}"#,
    );
    host.setting("skip", "predeploy, release");

    host.predeploy()
        .expect_code(0)
        .stdout_has("       Skipping predeploy tasks (the skip setting in ");
    assert_eq!(image_id(&host.image()), before);
    let run = host.postdeploy();
    run.expect_code(0).stdout_has("       post-ran");
    assert!(!run.stdout.contains("Skipping"), "{run:#?}");
    assert_eq!(history_outcomes(&host), ["\"skipped\"", "\"ok\""]);
}

#[test]
fn given_an_emergency_redeploy_with_dokku_deploy_tasks_skip_all_then_no_task_runs() {
    let host = TestHost::new("skip-env");
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo pre-ran"}}}"#);
    host.setting("skip", "release");

    let run = Run::from(
        host.trigger_command("pre-deploy", &[&host.app])
            .env("DOKKU_DEPLOY_TASKS_SKIP", "all")
            .output()
            .unwrap(),
    );

    run.expect_code(0)
        .stdout_has("Skipping predeploy tasks (DOKKU_DEPLOY_TASKS_SKIP is `all`)");
    assert!(!run.stdout.contains("pre-ran"));
    assert_eq!(image_id(&host.image()), before);
    assert!(host.task_containers().is_empty());
}

#[test]
fn given_a_skip_value_that_names_no_phase_then_the_trigger_fails_with_one_line() {
    let host = TestHost::new("skip-bad");
    host.build(&busybox_app(""), &[]);
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo pre-ran"}}}"#);

    let run = Run::from(
        host.trigger_command("pre-deploy", &[&host.app])
            .env("DOKKU_DEPLOY_TASKS_SKIP", "migrations")
            .output()
            .unwrap(),
    );

    run.expect_code(1)
        .one_line_error()
        .stderr_has("DOKKU_DEPLOY_TASKS_SKIP: `migrations` is not a list of phases");
}
