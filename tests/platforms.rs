//! Apps written for other platforms, deployed through the stand-in host (`tests/host/deploy`)
//! unchanged: Scalingo's Procfile `postdeploy`, Flux-Orbit's hook scripts, and the order of
//! several predeploy tasks, each committed on the previous one's result.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/apps")
        .join(name)
}

/// Asserts that each text appears in `haystack`, in this order.
fn assert_in_order(run: &Run, haystack: &str, texts: &[&str]) {
    let mut from = 0;
    for text in texts {
        match haystack[from..].find(text) {
            Some(at) => from += at + text.len(),
            None => panic!("{text:?} missing or out of order; {run:#?}"),
        }
    }
}

fn assert_no_task_container_left(host: &TestHost) {
    assert!(
        host.task_containers().is_empty(),
        "{:?}",
        host.task_containers()
    );
}

/// A copy of an example app, to break or change for one test.
fn copy_of(name: &str) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(example(name).join("."))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(status.success());
    copy
}

#[test]
fn given_a_scalingo_app_when_deployed_then_procfile_postdeploy_runs_after_app_json_with_scalingos_variables(
) {
    let host = TestHost::new("scalingo");

    let run = host.deploy(&example("scalingo"), 1);

    run.expect_code(0);
    assert_in_order(
        &run,
        &run.stdout,
        &[
            "scalingo release in release-1",
            // Heroku's scripts.postdeploy runs where Dokku runs it: after the release, before
            // the new containers start.
            "app.json first-deploy postdeploy in postdeploy-1",
            "-----> Deploying web",
            "Executing postdeploy task from app.json: echo \"app.json dokku postdeploy",
            "app.json dokku postdeploy in postdeploy-1",
            "Executing postdeploy task from Procfile",
            &format!(
                "scalingo postdeploy in postdeploy-2 for {} at latest",
                host.app
            ),
        ],
    );
    let sources: Vec<String> = host
        .history()
        .iter()
        .map(|entry| format!("{} {}", entry["phase"], entry["source"]))
        .collect();
    assert_eq!(
        sources,
        [
            r#""release" "Procfile""#,
            r#""postdeploy" "app.json""#,
            r#""postdeploy" "app.json""#,
            r#""postdeploy" "Procfile""#
        ]
    );

    let again = host.deploy(&example("scalingo"), 1);
    again
        .expect_code(0)
        .stdout_has("scalingo postdeploy in postdeploy-2");
    assert!(
        !again.stdout.contains("first-deploy postdeploy"),
        "scripts.postdeploy runs once by default; {again:#?}"
    );

    host.setting("heroku-postdeploy", "every");
    host.deploy(&example("scalingo"), 1)
        .expect_code(0)
        .stdout_has("app.json first-deploy postdeploy in postdeploy-2");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_scalingo_app_whose_procfile_postdeploy_fails_then_the_deploy_fails() {
    let host = TestHost::new("scalingo-fail");
    let source = copy_of("scalingo");
    std::fs::write(
        source.path().join("Procfile"),
        "web: httpd -f -p 127.0.0.1:5000 -h /app\npostdeploy: echo notifying; exit 3\n",
    )
    .unwrap();

    let run = host.deploy(source.path(), 1);

    run.expect_code(1)
        .stdout_has("notifying")
        .stderr_has("postdeploy task from Procfile failed with exit code 3");
    assert_eq!(host.history().last().unwrap()["outcome"], "failed");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_flux_orbit_app_when_deployed_then_pre_deploy_sh_runs_after_app_json_with_bash_and_is_committed(
) {
    let host = TestHost::new("flux");

    let run = host.deploy(&example("flux-orbit"), 1);

    run.expect_code(0);
    assert_in_order(
        &run,
        &run.stdout,
        &[
            "Executing predeploy task from app.json",
            "Executing predeploy task from pre-deploy.sh: /app/pre-deploy.sh",
            "pre-deploy.sh in /app with bash",
            "Committed the predeploy result",
            "Executing postdeploy task from post-deploy.sh: /app/post-deploy.sh",
            "post-deploy.sh in /app",
        ],
    );
    let web = format!("{}.web.1", host.app);
    assert_eq!(
        docker(&["exec", &web, "cat", "/app/predeploy-order"]),
        "app.json\npre-deploy.sh"
    );
    // Each predeploy task ran on the previous one's result; only the last result is tagged.
    let entries = host.history();
    assert_eq!(entries[0]["source"], "app.json");
    assert_eq!(entries[1]["source"], "pre-deploy.sh");
    assert_eq!(entries[1]["image_before"], entries[0]["image_after"]);
    // Dokku's builder then labels it (`FROM` the committed image): the tag's image is built on it.
    let built_on = docker(&["history", "-q", "--no-trunc", &host.image()]);
    let committed = entries[1]["image_after"].as_str().unwrap();
    assert!(built_on.lines().any(|id| id == committed), "{built_on}");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_failing_pre_deploy_sh_then_the_deploy_fails_and_no_intermediate_image_is_left() {
    let host = TestHost::new("flux-fail");
    host.app_env("export PRE_DEPLOY_EXIT=5\n");

    let run = host.deploy(&example("flux-orbit"), 1);

    run.expect_code(1)
        .stderr_has("predeploy task from pre-deploy.sh failed with exit code 5");
    let entries = host.history();
    let app_json_result = entries[0]["image_after"].as_str().unwrap().to_string();
    let built = entries[0]["image_before"].as_str().unwrap();
    assert_ne!(app_json_result, built, "app.json's task was committed");
    assert!(
        !docker_output(&["image", "inspect", &app_json_result])
            .status
            .success(),
        "the intermediate image {app_json_result} is left"
    );
    assert_eq!(image_id(&host.image()), built, "the tag moved");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_failing_post_deploy_sh_then_it_is_a_warning_and_the_deploy_succeeds() {
    let host = TestHost::new("flux-warn");
    host.app_env("export POST_DEPLOY_EXIT=4\n");

    let run = host.deploy(&example("flux-orbit"), 1);

    run.expect_code(0)
        .stderr_has("postdeploy task from post-deploy.sh failed with exit code 4");
    assert_eq!(host.history().last().unwrap()["outcome"], "warned");

    // An explicit setting overrides the source's own policy.
    host.setting("postdeploy-on-failure", "fail");
    host.deploy(&example("flux-orbit"), 1).expect_code(1);
    assert_no_task_container_left(&host);
}

#[test]
fn given_project_path_then_the_project_folders_script_runs_instead_of_the_roots() {
    let host = TestHost::new("flux-project");
    host.app_env("export PROJECT_PATH=api\n");

    let run = host.deploy(&example("flux-orbit"), 1);

    run.expect_code(0)
        .stdout_has("api/pre-deploy.sh in /app/api");
    let web = format!("{}.web.1", host.app);
    assert_eq!(
        docker(&["exec", &web, "cat", "/app/predeploy-order"]),
        "app.json\napi/pre-deploy.sh"
    );
    // post-deploy.sh is not in api/: the root's runs.
    run.stdout_has("post-deploy.sh in /app\n");
}

#[test]
fn given_skip_hooks_then_neither_script_runs_and_the_history_says_skipped() {
    let host = TestHost::new("flux-skip");
    host.app_env("export SKIP_HOOKS=true\n");

    let run = host.deploy(&example("flux-orbit"), 1);

    run.expect_code(0)
        .stdout_has("Skipping predeploy task from pre-deploy.sh (SKIP_HOOKS is true");
    assert!(!run.stdout.contains("pre-deploy.sh in"), "{run:#?}");
    assert!(!run.stdout.contains("post-deploy.sh in"), "{run:#?}");
    let skipped: Vec<String> = host
        .history()
        .iter()
        .filter(|entry| entry["outcome"] == "skipped")
        .map(|entry| entry["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(skipped, ["pre-deploy.sh", "post-deploy.sh"]);
}

#[test]
fn given_hook_timeout_then_a_hung_pre_deploy_sh_times_out_and_the_image_is_unchanged() {
    let host = TestHost::new("flux-timeout");
    host.app_env("export HOOK_TIMEOUT=1\nexport PRE_DEPLOY_SLEEP=120\n");

    let run = host.deploy(&example("flux-orbit"), 1);

    // 124, as timeout(1) says it.
    run.expect_code(124)
        .stderr_has("predeploy task from pre-deploy.sh timed out after 1s");
    let entries = host.history();
    assert_eq!(entries.last().unwrap()["outcome"], "timeout");
    assert_eq!(
        image_id(&host.image()),
        entries[0]["image_before"].as_str().unwrap()
    );
    assert_no_task_container_left(&host);
}

/// The running container's record of the `_all` hooks that ran in it.
fn hooks_ran_in(container: &str) -> String {
    let out = docker_output(&["exec", container, "cat", "/tmp/hooks-ran"]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn given_a_pagoda_app_on_two_web_containers_then_hooks_run_in_order_and_the_all_hooks_once_in_each_new_container_only(
) {
    let host = TestHost::new("pagoda");
    host.deploy(&example("pagoda"), 2).expect_code(0);
    // A container of the first deploy's image that is still running during the next deploy.
    let old = format!("{}.web.old", host.app);
    docker(&[
        "run",
        "-d",
        "--network=none",
        "--name",
        &old,
        "--label",
        &format!("com.dokku.app-name={}", host.app),
        "--label",
        "com.dokku.process-type=web",
        &host.image(),
        "sleep",
        "600",
    ]);

    let run = host.deploy(&example("pagoda"), 2);

    run.expect_code(0);
    let (web1, web2) = (format!("{}.web.1", host.app), format!("{}.web.2", host.app));
    assert_in_order(
        &run,
        &run.stdout,
        &[
            "Executing predeploy task from Boxfile: echo build.before_exec",
            "Executing predeploy task from Boxfile: echo build.after_exec",
            "Committed the predeploy result",
            "Executing release task from Procfile",
            "Procfile release",
            "web1.before_deploy in release-2",
            "-----> Deploying web",
            &format!(
                "web1.before_deploy_all in {}",
                docker(&["inspect", "--format", "{{.Config.Hostname}}", &web1])
            ),
            &format!(
                "web1.before_deploy_all in {}",
                docker(&["inspect", "--format", "{{.Config.Hostname}}", &web2])
            ),
            "web1.after_deploy in postdeploy-",
            &format!("Executing postdeploy task from Boxfile in {web1}: echo after_deploy_all"),
            &format!("Executing postdeploy task from Boxfile in {web2}: echo after_deploy_all"),
            "No running worker container of",
        ],
    );
    assert_eq!(
        docker(&["exec", &web1, "cat", "/app/build-order"]),
        "build.before_exec\nbuild.exec\nbuild.exec again\nbuild.after_exec"
    );
    for container in [&web1, &web2] {
        assert_eq!(
            hooks_ran_in(container),
            "before_deploy_all\nafter_deploy_all",
            "in {container}"
        );
    }
    assert_eq!(
        hooks_ran_in(&old),
        "",
        "an _all hook ran in the old container"
    );
    let worker = host
        .history()
        .into_iter()
        .rev()
        .find(|entry| entry["command"].as_str().unwrap().contains("worker1"))
        .unwrap();
    assert_eq!(worker["outcome"], "skipped");
    assert_no_task_container_left(&host);
}

/// `deploy-tasks:report APP FLAG`, through Dokku's subcommand entry point.
fn report(host: &TestHost, flag: &str) -> Run {
    Run::from(
        Command::new(plugin_path().join("deploy-tasks/subcommands/report"))
            .args(["deploy-tasks:report", &host.app, flag])
            .env("DOKKU_ROOT", host.dokku_root())
            .env("DOKKU_LIB_ROOT", host.lib_root())
            .env("DOCKER_BIN", docker_bin())
            .env_remove("DOKKU_QUIET_OUTPUT")
            .output()
            .expect("running the report"),
    )
}

#[test]
fn given_apps_from_every_platform_then_the_report_lists_each_phases_tasks_with_their_sources() {
    let host = TestHost::new("report-sources");
    host.deploy(&example("pagoda"), 1).expect_code(0);
    report(&host, "--deploy-tasks-predeploy-tasks")
        .expect_code(0)
        .stdout_has("Boxfile build.before_exec, Boxfile build.exec, Boxfile build.exec, Boxfile build.after_exec\n");
    report(&host, "--deploy-tasks-release-tasks")
        .expect_code(0)
        .stdout_has("Procfile release, Boxfile web1.before_deploy\n");
    report(&host, "--deploy-tasks-postdeploy-tasks")
        .expect_code(0)
        .stdout_has("Boxfile web1.before_deploy_all, Boxfile web1.after_deploy, Boxfile web1.after_deploy_all, Boxfile worker1.after_deploy_all\n");

    let flux = TestHost::new("report-flux");
    flux.app_env("export SKIP_HOOKS=true\n");
    flux.deploy(&example("flux-orbit"), 1).expect_code(0);
    report(&flux, "--deploy-tasks-predeploy-tasks")
        .expect_code(0)
        .stdout_has("app.json scripts.dokku.predeploy, pre-deploy.sh (skipped: SKIP_HOOKS is true in the app's config)\n");
}

/// A copy of the Pagoda example with its Boxfile replaced.
fn pagoda_with(boxfile: &str) -> tempfile::TempDir {
    let source = copy_of("pagoda");
    std::fs::write(source.path().join("Boxfile"), boxfile).unwrap();
    source
}

#[test]
fn given_a_pagoda_deploy_hook_past_its_timeout_then_the_deploy_goes_on_with_timeout_ignored() {
    let host = TestHost::new("pagoda-timeout");
    let source = pagoda_with(
        "web1:\n  after_deploy:\n    - \"echo after_deploy started; sleep 120\"\n  after_deploy_all:\n    - \"echo all started; sleep 120\"\n  deploy_hook_timeout: 1\n",
    );

    let run = host.deploy(source.path(), 1);

    run.expect_code(0)
        .stdout_has("after_deploy started")
        .stdout_has("all started")
        .stderr_has("postdeploy task from Boxfile timed out after 1s; going on as if it succeeded");
    let outcomes: Vec<String> = host
        .history()
        .iter()
        .filter(|entry| entry["source"] == "Boxfile")
        .map(|entry| entry["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["timeout-ignored", "timeout-ignored"]);
    // The exec'd hook was ended inside the container by its `timeout` command.
    let web1 = format!("{}.web.1", host.app);
    assert!(
        eventually(std::time::Duration::from_secs(30), || {
            !docker(&["exec", &web1, "ps", "-o", "args"]).contains("sleep 120")
        }),
        "the hook still runs in {web1}"
    );
    assert_no_task_container_left(&host);

    // An explicit policy for the phase overrides Pagoda's.
    host.setting("postdeploy-on-failure", "fail");
    host.deploy(source.path(), 1)
        .expect_code(124)
        .stderr_has("postdeploy task from Boxfile timed out after 1s");
}

#[test]
fn given_a_failing_or_hung_pagoda_build_hook_then_the_deploy_fails_and_the_image_is_unchanged() {
    for (name, boxfile, code, said) in [
        (
            "pagoda-build-fail",
            "build:\n  exec:\n    - \"echo one > /app/one\"\n    - \"exit 3\"\n",
            1,
            "predeploy task from Boxfile failed with exit code 3",
        ),
        (
            "pagoda-build-hung",
            "build:\n  exec:\n    - \"sleep 120\"\n  build_hook_timeout: 1\n",
            124,
            "predeploy task from Boxfile timed out after 1s",
        ),
    ] {
        let host = TestHost::new(name);
        let run = host.deploy(pagoda_with(boxfile).path(), 1);

        run.expect_code(code).stderr_has(said);
        let entries = host.history();
        let built = entries[0]["image_before"].as_str().unwrap();
        assert_eq!(image_id(&host.image()), built, "the tag moved");
        for entry in &entries {
            let after = entry["image_after"].as_str().unwrap();
            if after != built {
                assert!(
                    !docker_output(&["image", "inspect", after]).status.success(),
                    "the intermediate image {after} is left"
                );
            }
        }
        assert_no_task_container_left(&host);
    }
}

#[test]
fn given_a_boxfile_with_a_hook_that_is_not_a_list_then_the_deploy_fails_naming_the_line() {
    let host = TestHost::new("pagoda-bad");
    let source = pagoda_with("web1:\n  name: site\n  before_deploy: \"php artisan migrate\"\n");

    let run = host.deploy(source.path(), 1);

    run.expect_code(1);
    // The trigger's one line, then the stand-in host's own.
    let error = run.stderr.lines().next().unwrap_or_default();
    for text in [" !     ", "/Boxfile in dokku/", "line 3", "list"] {
        assert!(error.contains(text), "{text:?} not in {error:?}; {run:#?}");
    }
    assert!(host.history().is_empty(), "a task ran");
}
