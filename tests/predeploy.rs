//! Scenarios: the host calls `pre-deploy APP` for an image whose app.json has a predeploy task.

mod support;

use support::*;

/// For an ENTRYPOINT image the command's words are the entrypoint's arguments, so a shell is
/// named explicitly.
const PREDEPLOY_WRITES_MARKER: &str = r#"{"scripts": {"dokku": {"predeploy": "sh -c 'echo built by $APP > /app/marker && echo predeploy done'"}}}"#;

/// The parts of an image's config a commit must leave as they were.
fn kept_config(image: &str) -> Vec<String> {
    [
        "Entrypoint",
        "Cmd",
        "WorkingDir",
        "User",
        "Env",
        "ExposedPorts",
    ]
    .iter()
    .map(|field| image_config(image, field))
    .collect()
}

#[test]
fn given_an_entrypoint_image_when_predeploy_succeeds_then_the_change_is_committed_and_the_config_is_as_before(
) {
    let host = TestHost::new("pre-commit");
    let entrypoint = "#!/bin/sh\necho \"entrypoint got: $*\" >&2\nexec \"$@\"\n";
    let before = host.build(
        &busybox_app(
            "COPY entrypoint.sh /entrypoint.sh\nRUN chmod +x /entrypoint.sh\nENV GREETING=hello PORT=5000\n\
             EXPOSE 5000\nUSER app\nENTRYPOINT [\"/entrypoint.sh\"]\nCMD [\"httpd\", \"-f\"]",
        ),
        &[("entrypoint.sh", entrypoint)],
    );
    let config_before = kept_config(&before);
    host.host_app_json(PREDEPLOY_WRITES_MARKER);

    let run = host.predeploy();

    run.expect_code(0)
        .stdout_has("-----> Checking for predeploy task")
        .stdout_has("       Executing predeploy task from app.json: sh -c 'echo built by $APP")
        .stdout_has("       predeploy done")
        .stderr_has("entrypoint got: sh -c echo built by $APP");
    let after = image_id(&host.image());
    assert_ne!(after, before, "the image was not committed");
    assert_eq!(
        host.run_in_image("cat /app/marker"),
        format!("built by {}", host.app)
    );
    let config_after = kept_config(&after);
    assert_eq!(config_after, config_before);
    let labels = image_config(&after, "Labels");
    for label in [
        "\"org.label-schema.schema-version\":\"1.0\"",
        "\"org.label-schema.vendor\":\"dokku\"",
        &format!("\"com.dokku.app-name\":\"{}\"", host.app),
        "\"com.dokku.predeploy-phase\":\"true\"",
    ] {
        assert!(labels.contains(label), "{label} missing from {labels}");
    }
    assert!(
        host.task_containers().is_empty(),
        "left behind: {:?}",
        host.task_containers()
    );
}

#[test]
fn given_a_failing_predeploy_then_the_image_is_unchanged_no_container_is_left_and_the_trigger_fails(
) {
    let host = TestHost::new("pre-fail");
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(
        r#"{"scripts": {"dokku": {"predeploy": "touch /app/half-done; echo broken >&2; exit 3"}}}"#,
    );

    let run = host.predeploy();

    run.expect_code(1).stderr_has("       broken").stderr_has(
        " !     predeploy task from app.json failed with exit code 3; the image was not changed",
    );
    assert_eq!(image_id(&host.image()), before);
    assert!(
        host.task_containers().is_empty(),
        "left behind: {:?}",
        host.task_containers()
    );
}

#[test]
fn given_no_predeploy_task_then_the_trigger_says_so_and_succeeds() {
    let host = TestHost::new("pre-none");
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(r#"{"name": "x", "scripts": {"dokku": {"postdeploy": "true"}}}"#);
    host.host_procfile("web: httpd -f\n");

    let run = host.predeploy();

    run.expect_code(0).stdout_has(
        "-----> Checking for predeploy task\n       No predeploy task found, skipping\n",
    );
    assert_eq!(image_id(&host.image()), before);
}

on_both_backends! {
    fn given_a_plugin_path_with_a_comma_and_a_quote_when_predeploy_runs_then_the_helper_is_mounted_from_it(backend) {
        let host = TestHost::on("comma-path", backend);
        host.build(&busybox_app(""), &[]);
        host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo marker > /app/marker"}}}"#);
        // An operator's plugin path: the CLI's `--mount` reads its value as comma-separated.
        let plugins = host.dir.path().join("plugins,with \"odd\" names");
        std::fs::create_dir(&plugins).unwrap();
        let installed = plugins.join("deploy-tasks");
        let copied = std::process::Command::new("cp")
            .arg("-a")
            .arg(plugin_path().join("deploy-tasks").canonicalize().unwrap())
            .arg(&installed)
            .status()
            .unwrap();
        assert!(copied.success());

        let run = Run::from(
            host.trigger_command_in(&installed, "pre-deploy", &[&host.app])
                .output()
                .unwrap(),
        );

        run.expect_code(0).stdout_has("Committed the predeploy result");
        assert_eq!(host.run_in_image("cat /app/marker"), "marker");
        assert!(host.task_containers().is_empty());
    }
}

#[test]
fn given_an_app_of_dokkus_old_name_form_with_an_underscore_then_its_predeploy_runs_and_is_committed(
) {
    // Dokku creates no new app named so, but still deploys those it has (`VerifyAppName`).
    let mut host = TestHost::new("legacy-name");
    host.app = format!("{}_old", host.app);
    std::fs::create_dir_all(host.dokku_root().join(&host.app)).unwrap();
    let before = host.build(&busybox_app("CMD [\"httpd\", \"-f\"]"), &[]);
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo $APP > /app/marker"}}}"#);

    host.predeploy().expect_code(0);

    let after = image_id(&host.image());
    assert_ne!(after, before, "the image was not committed");
    assert_eq!(host.run_in_image("cat /app/marker"), host.app);
}
