//! Scenarios: how a task runs depending on the shape of the app's image (ENTRYPOINT, CMD, tini,
//! herokuish, Cloud Native Buildpacks, the shell it has, its USER and VOLUMEs) and the docker
//! options the app deploys with.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

/// Builds `dokku/APP:TAG` from an image of this app's own: identical Dockerfiles would otherwise
/// share one image ID, and another test's cleanup (`docker rmi -f ID`) would untag this one.
fn build_tagged(host: &TestHost, tag: &str, dockerfile: &str, files: &[(&str, &str)]) -> String {
    let dockerfile = format!("{dockerfile}\nLABEL deploy-tasks-test.app={}\n", host.app);
    host.build_tagged(tag, &dockerfile, files)
}

/// [`build_tagged`] as `dokku/APP:latest`.
fn build(host: &TestHost, dockerfile: &str, files: &[(&str, &str)]) -> String {
    build_tagged(host, "latest", dockerfile, files)
}

fn predeploy_json(command: &str) -> String {
    serde_json::json!({"scripts": {"dokku": {"predeploy": command}}}).to_string()
}

fn assert_no_task_container_left(host: &TestHost) {
    let left = host.task_containers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A host directory holding `hello.txt`, to bind-mount into task containers.
fn shared_host_dir(content: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), content).unwrap();
    dir
}

fn path_of(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().unwrap()
}

on_both_backends! {
    fn given_an_entrypoint_image_without_cmd_when_predeploy_commits_then_cmd_stays_null_and_a_plain_start_does_not_replay_the_task(backend) {
        let host = TestHost::on("shape-ep-nocmd", backend);
        let entrypoint =
            "#!/bin/sh\necho \"entrypoint args: [$*]\"\nif [ $# -gt 0 ]; then exec \"$@\"; fi\n";
        let before = build(
            &host,
            &busybox_app(
                "COPY entrypoint.sh /entrypoint.sh\nRUN chmod +x /entrypoint.sh\n\
                 ENTRYPOINT [\"/entrypoint.sh\"]",
            ),
            &[("entrypoint.sh", entrypoint)],
        );
        let entrypoint_before = image_config(&before, "Entrypoint");
        assert_eq!(image_config(&before, "Cmd"), "null");
        host.host_app_json(&predeploy_json("touch /app/predeploy-marker"));

        host.predeploy()
            .expect_code(0)
            .stdout_has("       entrypoint args: [touch /app/predeploy-marker]\n");

        let after = image_id(&host.image());
        assert_ne!(after, before, "the image was not committed");
        // Null as before: the Engine API's commit takes the image's config whole, the CLI's
        // gets it from a build step.
        assert_eq!(image_config(&after, "Cmd"), "null");
        assert_eq!(image_config(&after, "Entrypoint"), entrypoint_before);
        if backend == Backend::EngineApi {
            // Nothing of the task container's config: not its stdin, not its hostname.
            for field in ["OpenStdin", "AttachStdin", "StdinOnce", "Hostname"] {
                assert_eq!(image_config(&after, field), image_config(&before, field), "{field}");
            }
        }
        let plain_start = docker(&["run", "--rm", "--network=none", &after]);
        assert_eq!(plain_start, "entrypoint args: []");
        assert_no_task_container_left(&host);
    }
}

on_both_backends! {
    fn given_an_image_with_neither_entrypoint_nor_cmd_when_predeploy_commits_then_both_stay_null_and_the_rest_is_the_commits(backend) {
        let host = TestHost::on("shape-no-cmd", backend);
        let before = build(
            &host,
            &busybox_app("ENV PATH=/app/bin:/bin GREETING=hello\nEXPOSE 5000"),
            &[],
        );
        assert_eq!(image_config(&before, "Entrypoint"), "null");
        assert_eq!(image_config(&before, "Cmd"), "null");
        host.host_app_json(&predeploy_json("touch /tmp/predeploy-marker"));

        host.predeploy().expect_code(0);

        let after = image_id(&host.image());
        assert_ne!(after, before, "the image was not committed");
        assert_eq!(image_config(&after, "Entrypoint"), "null");
        assert_eq!(image_config(&after, "Cmd"), "null");
        for field in ["Env", "WorkingDir", "ExposedPorts"] {
            assert_eq!(image_config(&after, field), image_config(&before, field), "{field}");
        }
        let labels = image_config(&after, "Labels");
        assert!(labels.contains(&format!(r#""com.dokku.app-name":"{}""#, host.app)), "{labels}");
        assert!(labels.contains(r#""deploy-tasks-test.app""#), "{labels}");
        let layers = |image: &str| {
            docker(&["image", "inspect", "--format", "{{json .RootFS.Layers}}", image])
        };
        let (layers_before, layers_after) = (layers(&before), layers(&after));
        assert!(
            layers_after.starts_with(layers_before.trim_end_matches(']')),
            "{layers_after} does not extend {layers_before}"
        );
        assert_eq!(
            layers_after.matches("sha256:").count(),
            layers_before.matches("sha256:").count() + 1,
            "the commit's one layer, and none from clearing the CMD"
        );
        assert_eq!(
            host.run_in_image("ls /tmp/predeploy-marker"),
            "/tmp/predeploy-marker"
        );
        // The build that clears the CMD runs its step in a container of its own.
        let parent = docker(&["image", "inspect", "--format", "{{.Parent}}", &after]);
        let left = docker(&["ps", "-a", "-q", "--filter", &format!("ancestor={parent}")]);
        assert_eq!(left, "", "the build's container was left behind");
        assert_no_task_container_left(&host);
    }
}

#[test]
fn given_a_shell_form_cmd_when_predeploy_commits_then_cmd_is_unchanged_and_there_is_still_no_entrypoint(
) {
    let host = TestHost::new("shape-shell-cmd");
    let before = build(&host, &busybox_app("CMD echo hi"), &[]);
    assert_eq!(
        image_config(&before, "Cmd"),
        r#"["/bin/sh","-c","echo hi"]"#
    );
    host.host_app_json(&predeploy_json("touch /app/predeploy-marker"));

    host.predeploy().expect_code(0);

    let after = image_id(&host.image());
    assert_ne!(after, before, "the image was not committed");
    assert_eq!(image_config(&after, "Cmd"), r#"["/bin/sh","-c","echo hi"]"#);
    assert_eq!(image_config(&after, "Entrypoint"), "null");
    assert_eq!(docker(&["run", "--rm", "--network=none", &after]), "hi");
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_exec_cmd_without_entrypoint_when_predeploy_commits_then_entrypoint_stays_null_and_cmd_is_unchanged(
) {
    let host = TestHost::new("shape-exec-cmd");
    let before = build(&host, &busybox_app("CMD [\"httpd\", \"-f\"]"), &[]);
    assert_eq!(image_config(&before, "Entrypoint"), "null");
    host.host_app_json(&predeploy_json("touch /app/predeploy-marker"));

    host.predeploy().expect_code(0);

    let after = image_id(&host.image());
    assert_ne!(after, before, "the image was not committed");
    assert_eq!(image_config(&after, "Entrypoint"), "null");
    assert_eq!(image_config(&after, "Cmd"), r#"["httpd","-f"]"#);
    assert_eq!(
        host.run_in_image("ls /app/predeploy-marker"),
        "/app/predeploy-marker"
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_tini_entrypoint_when_predeploy_runs_then_tini_runs_the_shell_form_of_the_task() {
    let host = TestHost::new("shape-tini");
    let tini = "#!/bin/sh\necho tini >> /tmp/tini-ran\n[ \"$1\" = -- ] && shift\nexec \"$@\"\n";
    let before = build(
        &host,
        &busybox_app(
            "COPY tini /tini\nRUN chmod +x /tini\nENTRYPOINT [\"/tini\", \"--\"]\nCMD [\"httpd\", \"-f\"]",
        ),
        &[("tini", tini)],
    );
    host.host_app_json(&predeploy_json("echo a && echo b"));

    host.predeploy()
        .expect_code(0)
        .stdout_has("       a\n       b\n");

    let after = image_id(&host.image());
    assert_ne!(after, before, "the image was not committed");
    assert_eq!(host.run_in_image("cat /tmp/tini-ran"), "tini");
    assert_eq!(image_config(&after, "Entrypoint"), r#"["/tini","--"]"#);
    assert_eq!(image_config(&after, "Cmd"), r#"["httpd","-f"]"#);
    assert_no_task_container_left(&host);
}

/// An entrypoint that prints each argument it gets, one a line.
const ARGS_ENTRYPOINT: &str = "#!/bin/sh\nfor word in \"$@\"; do echo \"arg[$word]\"; done\n";

#[test]
fn given_an_entrypoint_image_when_predeploy_runs_then_its_words_are_split_as_dokku_splits_them() {
    let host = TestHost::new("shape-ep-words");
    build(
        &host,
        &busybox_app(
            "COPY entrypoint.sh /entrypoint.sh\nRUN chmod +x /entrypoint.sh\nENTRYPOINT [\"/entrypoint.sh\"]",
        ),
        &[("entrypoint.sh", ARGS_ENTRYPOINT)],
    );
    // go-shellquote, which Dokku splits with, knows no comments: `#deploys` is a word.
    host.host_app_json(&predeploy_json("--room #deploys 'a b'"));

    host.predeploy()
        .expect_code(0)
        .stdout_has("       arg[--room]\n       arg[#deploys]\n       arg[a b]\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_tini_with_an_entrypoint_script_when_predeploy_runs_then_the_script_gets_the_commands_words_as_in_dokku(
) {
    let host = TestHost::new("shape-tini-script");
    let tini = "#!/bin/sh\n[ \"$1\" = -- ] && shift\nexec \"$@\"\n";
    build(
        &host,
        &busybox_app(
            "COPY tini /tini\nCOPY entrypoint.sh /entrypoint.sh\nRUN chmod +x /tini /entrypoint.sh\n\
             ENTRYPOINT [\"/tini\", \"--\", \"/entrypoint.sh\"]",
        ),
        &[("tini", tini), ("entrypoint.sh", ARGS_ENTRYPOINT)],
    );
    host.host_app_json(&predeploy_json("rake db:migrate"));

    host.predeploy()
        .expect_code(0)
        .stdout_has("       arg[rake]\n       arg[db:migrate]\n");
    assert_no_task_container_left(&host);
}

/// Prints `FROM_PROFILE` and `HOME`, then the working directory. awk reads them: Dokku expands a
/// Procfile command's `$VAR`s from the app's config before the shell runs it, and these are not
/// in the config.
const PROFILE_PROBE: &str =
    "release: awk 'BEGIN { print ENVIRON[\"FROM_PROFILE\"], ENVIRON[\"HOME\"] }'; pwd\n";

/// Builds an image whose ENV has `USER=user`, whose `/app/.profile.d` exports
/// `FROM_PROFILE=yes`, and whose WORKDIR is `/`.
fn build_with_profile(host: &TestHost, user: &str) -> String {
    build(
        host,
        &format!(
            "FROM {BUSYBOX}\nENV USER={user}\nCOPY 00-test.sh /app/.profile.d/00-test.sh\nWORKDIR /\n"
        ),
        &[("00-test.sh", "export FROM_PROFILE=yes\n")],
    )
}

#[test]
fn given_a_herokuish_image_when_release_runs_then_the_task_runs_in_app_with_its_profile_sourced() {
    let host = TestHost::new("shape-herokuish");
    build_with_profile(&host, "herokuishuser");
    host.host_procfile(PROFILE_PROBE);

    host.release()
        .expect_code(0)
        .stdout_has("       yes /app\n       /app\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_image_whose_user_is_the_apps_dokku_app_user_when_release_runs_then_it_is_treated_as_herokuish(
) {
    let host = TestHost::new("shape-app-user");
    build_with_profile(&host, "shopper");
    host.host_procfile(PROFILE_PROBE);
    host.app_env("export DOKKU_APP_USER='shopper'\n");

    host.release()
        .expect_code(0)
        .stdout_has("       yes /app\n       /app\n");

    host.app_env("export DOKKU_APP_USER='someone-else'\n");
    let run = host.release();
    run.expect_code(0);
    assert!(
        !run.stdout.contains("yes /app"),
        "treated as herokuish although USER is not DOKKU_APP_USER; {run:#?}"
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_global_dokku_app_user_when_release_runs_then_herokuishuser_still_counts_as_dokku_reads_only_the_apps(
) {
    let host = TestHost::new("shape-global-user");
    build_with_profile(&host, "herokuishuser");
    host.host_procfile(PROFILE_PROBE);
    // Dokku's `config-get APP DOKKU_APP_USER` reads the app's config only.
    host.write_lib("config/--global/ENV", "export DOKKU_APP_USER='web'\n");

    host.release()
        .expect_code(0)
        .stdout_has("       yes /app\n       /app\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_app_in_the_apps_config_when_a_task_runs_then_it_sees_the_configs_value_and_otherwise_the_apps_name(
) {
    let host = TestHost::new("shape-app-var");
    build(&host, &busybox_app(""), &[]);
    host.host_procfile("release: echo app=$APP version=$CONTAINER_VERSION\n");

    host.release()
        .expect_code(0)
        .stdout_has(&format!("       app={} version=latest\n", host.app));

    host.app_env("export APP='storefront'\n");
    host.release()
        .expect_code(0)
        .stdout_has("       app=storefront version=latest\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_cloud_native_buildpacks_image_when_release_runs_then_the_task_runs_through_the_launcher()
{
    let host = TestHost::new("shape-cnb");
    build(
        &host,
        &format!(
            "FROM {BUSYBOX}\nLABEL io.buildpacks.stack.id=test\n\
             COPY launcher /cnb/lifecycle/launcher\nCOPY web /cnb/process/web\n\
             RUN chmod +x /cnb/lifecycle/launcher /cnb/process/web\nWORKDIR /workspace\n\
             ENTRYPOINT [\"/cnb/process/web\"]\n"
        ),
        &[
            (
                "launcher",
                "#!/bin/sh\nexport CNB_LAUNCHED=yes\nexec \"$@\"\n",
            ),
            ("web", "#!/bin/sh\necho the-web-process-ran\n"),
        ],
    );
    host.host_procfile("release: awk 'BEGIN { print \"cnb=\" ENVIRON[\"CNB_LAUNCHED\"] }'\n");

    let run = host.release();

    run.expect_code(0).stdout_has("       cnb=yes\n");
    assert!(!run.stdout.contains("the-web-process-ran"), "{run:#?}");
    assert_no_task_container_left(&host);
}

/// `bash=yes` in bash, `bash=no` in another shell; without a `$`, which Dokku would expand.
const BASH_PROBE: &str =
    "release: if command -v shopt >/dev/null; then echo bash=yes; else echo bash=no; fi\n";

#[test]
fn given_an_image_with_bash_when_release_runs_then_the_task_runs_in_bash() {
    let host = TestHost::new("shape-bash");
    build(&host, &format!("FROM {BASH}\nWORKDIR /app\n"), &[]);
    host.host_procfile(BASH_PROBE);

    host.release()
        .expect_code(0)
        .stdout_has("       bash=yes\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_busybox_image_when_release_runs_then_the_task_runs_in_sh() {
    let host = TestHost::new("shape-busybox");
    build(&host, &busybox_app(""), &[]);
    host.host_procfile(BASH_PROBE);

    host.release().expect_code(0).stdout_has("       bash=no\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_the_shell_setting_when_the_image_has_bash_then_the_set_shell_is_used() {
    let host = TestHost::new("shape-shell-setting");
    build(&host, &format!("FROM {BASH}\nWORKDIR /app\n"), &[]);
    host.host_procfile(BASH_PROBE);
    host.setting("shell", "/bin/sh");

    host.release().expect_code(0).stdout_has("       bash=no\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_dokkus_scheduler_shell_property_when_the_plugin_setting_is_unset_then_it_is_honoured_and_the_plugin_setting_wins_over_it(
) {
    let host = TestHost::new("shape-scheduler-shell");
    build(&host, &format!("FROM {BASH}\nWORKDIR /app\n"), &[]);
    host.host_procfile(BASH_PROBE);
    host.write_lib(&format!("config/scheduler/{}/shell", host.app), "/bin/sh");

    host.release().expect_code(0).stdout_has("       bash=no\n");

    host.setting("shell", "/bin/bash");
    host.release()
        .expect_code(0)
        .stdout_has("       bash=yes\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_task_whose_first_command_fails_then_the_rest_does_not_run_and_the_trigger_fails() {
    let host = TestHost::new("shape-set-e");
    build(&host, &busybox_app(""), &[]);
    host.host_procfile("release: false; echo should-not-print\n");

    let run = host.release();

    run.expect_code(1).stderr_has("failed with exit code 1");
    assert!(
        !run.stdout.contains("       should-not-print\n"),
        "the command after `false` ran; {run:#?}"
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_non_root_user_image_when_predeploy_writes_into_app_then_the_commit_keeps_the_user_and_the_task_saw_the_config(
) {
    let host = TestHost::new("shape-non-root");
    let before = build(&host, &busybox_app("USER app"), &[]);
    host.app_env("export GREETING='hello from config'\n");
    host.host_app_json(&predeploy_json(
        "echo written > /app/file && echo \"greeting=$GREETING uid=$(id -u)\"",
    ));

    host.predeploy()
        .expect_code(0)
        .stdout_has("       greeting=hello from config uid=1000\n");

    let after = image_id(&host.image());
    assert_ne!(after, before, "the image was not committed");
    assert_eq!(image_config(&after, "User"), "\"app\"");
    assert_eq!(
        host.run_in_image("cat /app/file && stat -c %u /app/file"),
        "written\n1000"
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_absolute_path_command_that_is_not_executable_then_the_trigger_says_so_and_fails() {
    let host = TestHost::new("shape-not-executable");
    let before = build(
        &host,
        &busybox_app("COPY migrate.sh /app/migrate.sh\nRUN chmod 644 /app/migrate.sh"),
        &[("migrate.sh", "#!/bin/sh\necho migrated\n")],
    );
    host.host_app_json(&predeploy_json("/app/migrate.sh"));

    let run = host.predeploy();

    run.expect_code(1)
        .stderr_has("/app/migrate.sh is not executable");
    assert!(!run.stdout.contains("migrated"), "{run:#?}");
    assert_eq!(image_id(&host.image()), before);
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_absolute_path_command_followed_directly_by_shell_operators_then_the_shell_runs_it() {
    let host = TestHost::new("shape-absolute-operators");
    build(
        &host,
        &busybox_app("COPY migrate.sh /app/migrate.sh\nRUN chmod 755 /app/migrate.sh"),
        &[("migrate.sh", "#!/bin/sh\necho migrated\n")],
    );

    host.host_procfile("release: /app/migrate.sh; echo after\n");
    host.release()
        .expect_code(0)
        .stdout_has("       migrated\n       after\n");

    host.host_procfile("release: /app/migrate.sh>/tmp/out && cat /tmp/out\n");
    host.release()
        .expect_code(0)
        .stdout_has("       migrated\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_image_declaring_a_volume_when_predeploy_runs_then_it_warns_that_writes_there_are_not_committed_and_leaves_no_volume(
) {
    let host = TestHost::new("shape-volume");
    let before = build(&host, &busybox_app("VOLUME /data"), &[]);
    let marker = format!("marker-{}", host.app);
    host.host_app_json(&predeploy_json(&format!(
        "echo volume > /data/{marker} && echo layer > /app/kept"
    )));

    host.predeploy()
        .expect_code(0)
        .stderr_has("VOLUME /data")
        .stderr_has("is not committed");

    let after = image_id(&host.image());
    assert_ne!(after, before, "the image was not committed");
    assert_eq!(host.run_in_image("cat /app/kept"), "layer");
    assert_eq!(
        host.run_in_image(&format!(
            "test -e /data/{marker} && echo present || echo absent"
        )),
        "absent"
    );
    assert_no_task_container_left(&host);
    let volumes = docker(&["volume", "ls", "-q"]);
    for volume in volumes.lines().filter(|name| !name.is_empty()) {
        let output = docker_output(&["volume", "inspect", "--format", "{{.Mountpoint}}", volume]);
        let mountpoint = String::from_utf8_lossy(&output.stdout).trim().to_string();
        assert!(
            mountpoint.is_empty() || !Path::new(&mountpoint).join(&marker).exists(),
            "the predeploy's anonymous volume {volume} was left behind"
        );
    }
}

#[test]
fn given_deploy_docker_options_when_release_runs_then_mounts_are_used_and_publish_and_restart_are_dropped(
) {
    let host = TestHost::new("shape-options-release");
    build(&host, &busybox_app(""), &[]);
    let shared = shared_host_dir("shared-content");
    host.write_lib(
        &format!("config/docker-options/{}/_default_.deploy", host.app),
        &format!(
            "-v {}:/mnt/shared\n--publish 8080:80\n--restart always\n",
            path_of(&shared)
        ),
    );
    host.host_procfile("release: cat /mnt/shared/hello.txt && echo && sleep 3\n");

    let child = host.spawn("post-release", &[&host.app]);
    let release_prefix = format!("{}.release.", host.app);
    let mut ports = String::new();
    let seen = eventually(Duration::from_secs(30), || {
        let Some(container) = host
            .task_containers()
            .into_iter()
            .find(|name| name.starts_with(&release_prefix))
        else {
            return false;
        };
        let output = docker_output(&[
            "inspect",
            "--format",
            "{{json .HostConfig.PortBindings}} {{.HostConfig.RestartPolicy.Name}}",
            &container,
        ]);
        ports = String::from_utf8_lossy(&output.stdout).trim().to_string();
        output.status.success()
    });
    let run = finish(child, None);

    assert!(
        seen,
        "the release container was never seen running; {run:#?}"
    );
    run.expect_code(0).stdout_has("       shared-content\n");
    assert!(
        !ports.contains("8080") && !ports.contains("always"),
        "published or restarted: {ports}"
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_env_and_label_docker_options_when_predeploy_runs_then_each_is_dropped_with_a_warning_and_not_committed(
) {
    let host = TestHost::new("shape-options-predeploy");
    let before = build(&host, &busybox_app(""), &[]);
    let shared = shared_host_dir("shared-content");
    host.write_lib(
        &format!("config/docker-options/{}/_default_.deploy", host.app),
        &format!(
            "-e BAKED=1\n--label x=y\n-v {}:/mnt/shared\n",
            path_of(&shared)
        ),
    );
    host.host_app_json(&predeploy_json(
        "echo baked=${BAKED:-unset} && cat /mnt/shared/hello.txt && echo",
    ));

    let run = host.predeploy();

    run.expect_code(0)
        .stdout_has("       baked=unset\n")
        .stdout_has("       shared-content\n");
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with(" !     ") && line.contains("not used for predeploy"))
        .collect();
    assert_eq!(warnings.len(), 2, "{run:#?}");
    assert!(
        warnings.iter().any(|line| line.contains("-e BAKED")),
        "{run:#?}"
    );
    assert!(
        warnings.iter().any(|line| line.contains("--label x=y")),
        "{run:#?}"
    );
    let after = image_id(&host.image());
    assert_ne!(after, before, "the image was not committed");
    let env = image_config(&after, "Env");
    assert!(!env.contains("BAKED"), "BAKED committed: {env}");
    let labels = image_config(&after, "Labels");
    assert!(!labels.contains("\"x\""), "label x committed: {labels}");
    assert_eq!(
        host.run_in_image("ls -A /mnt/shared 2>/dev/null || true"),
        ""
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_only_the_legacy_docker_options_file_when_release_runs_then_it_is_used_and_the_new_file_wins_once_present(
) {
    let host = TestHost::new("shape-options-legacy");
    build(&host, &busybox_app(""), &[]);
    let shared = shared_host_dir("legacy-content");
    std::fs::write(
        host.dokku_root()
            .join(&host.app)
            .join("DOCKER_OPTIONS_DEPLOY"),
        format!("-v {}:/mnt/legacy\n", path_of(&shared)),
    )
    .unwrap();
    host.host_procfile("release: cat /mnt/legacy/hello.txt && echo\n");

    host.release()
        .expect_code(0)
        .stdout_has("       legacy-content\n");

    host.write_lib(
        &format!("config/docker-options/{}/_default_.deploy", host.app),
        &format!("-v {}:/mnt/new\n", path_of(&shared)),
    );
    host.host_procfile(
        "release: cat /mnt/new/hello.txt && echo && test ! -e /mnt/legacy/hello.txt\n",
    );
    host.release()
        .expect_code(0)
        .stdout_has("       legacy-content\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_dokku_global_run_args_when_release_runs_then_they_are_applied_with_the_apps_options() {
    let host = TestHost::new("shape-global-args");
    build(&host, &busybox_app(""), &[]);
    let app_dir = shared_host_dir("app-content");
    let global_dir = shared_host_dir("global-content");
    host.write_lib(
        &format!("config/docker-options/{}/_default_.deploy", host.app),
        &format!("-v {}:/mnt/app\n", path_of(&app_dir)),
    );
    host.host_procfile(
        "release: cat /mnt/app/hello.txt && echo && cat /mnt/global/hello.txt && echo\n",
    );

    let output = host
        .trigger_command("post-release", &[&host.app])
        .env(
            "DOKKU_GLOBAL_RUN_ARGS",
            format!("-v {}:/mnt/global", path_of(&global_dir)),
        )
        .output()
        .expect("running the trigger");

    Run::from(output)
        .expect_code(0)
        .stdout_has("       app-content\n")
        .stdout_has("       global-content\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_dokkus_own_global_run_args_when_predeploy_runs_then_nothing_warns_and_the_labels_stay() {
    let host = TestHost::new("shape-dokku-labels");
    build(&host, &busybox_app(""), &[]);
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "touch /app/built"}}}"#);

    // What the `dokku` command itself exports to every trigger.
    let dokku_run_args = "--label=org.label-schema.schema-version=1.0 \
                          --label=org.label-schema.vendor=dokku --label=dokku";
    let output = host
        .trigger_command("pre-deploy", &[&host.app])
        .env("DOKKU_GLOBAL_RUN_ARGS", dokku_run_args)
        .output()
        .expect("running the trigger");

    let run = Run::from(output);
    run.expect_code(0);
    assert_eq!(run.stderr, "", "{run:#?}");
    let labels = image_config(&host.image(), "Labels");
    assert!(
        labels.contains(r#""org.label-schema.vendor":"dokku""#),
        "{labels}"
    );
    assert_eq!(host.run_in_image("ls /app/built"), "/app/built");
    assert_no_task_container_left(&host);
}

on_both_backends! {
    fn given_an_image_with_onbuild_triggers_when_predeploy_commits_then_they_are_kept_and_none_runs(backend) {
        // With neither ENTRYPOINT nor CMD (a build writes both back) and with a CMD (none does).
        for (shape, cmd) in [("bare", ""), ("cmd", "CMD [\"httpd\", \"-f\"]")] {
            let host = TestHost::on(&format!("shape-onbuild-{shape}"), backend);
            // A trigger that would fail where it ran, and one that would leave a mark.
            let before = build(
                &host,
                &busybox_app(&format!(
                    "ONBUILD COPY missing-from-any-context /x\nONBUILD RUN touch /onbuild-ran\n{cmd}"
                )),
                &[],
            );
            let on_build = image_config(&before, "OnBuild");
            assert!(on_build.contains("missing-from-any-context"), "{on_build}");
            host.host_app_json(&predeploy_json("touch /app/predeploy-marker"));

            host.predeploy().expect_code(0);

            let after = image_id(&host.image());
            assert_ne!(after, before, "{shape}: the image was not committed");
            assert_eq!(image_config(&after, "OnBuild"), on_build, "{shape}");
            for field in ["Entrypoint", "Cmd"] {
                assert_eq!(image_config(&after, field), image_config(&before, field), "{shape}: {field}");
            }
            let ran = docker(&["run", "--rm", "--network=none", "--entrypoint", "/bin/sh", &after, "-c", "ls /onbuild-ran 2>&1 || true"]);
            assert!(ran.contains("No such file"), "{shape}: a trigger ran: {ran}");
            assert_no_task_container_left(&host);
        }
    }
}

#[test]
fn given_a_herokuish_image_without_app_when_release_runs_then_it_runs_where_the_image_says_as_in_dokku(
) {
    // Dokku's app-json changes into /app and sets HOME there only when /app exists.
    let host = TestHost::new("shape-herokuish-no-app");
    build(
        &host,
        &format!(
            "FROM {BUSYBOX}\nRUN rm -rf /app\nENV USER=herokuishuser HOME=/root\nWORKDIR /srv\n"
        ),
        &[],
    );
    host.host_procfile(PROFILE_PROBE);

    host.release()
        .expect_code(0)
        .stdout_has("        /root\n       /srv\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_entrypoint_the_image_does_not_have_when_release_runs_then_it_fails_as_a_command_not_found(
) {
    let host = TestHost::new("shape-missing-entrypoint");
    build(
        &host,
        &format!("FROM {BUSYBOX}\nENTRYPOINT [\"no-such-entrypoint\"]\n"),
        &[],
    );
    host.host_procfile("release: migrate\n");

    host.release()
        .expect_code(1)
        .stderr_has("cannot start no-such-entrypoint")
        .stderr_has("exit code 127");
    assert_no_task_container_left(&host);
}
