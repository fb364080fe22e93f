//! Scenarios: where tasks come from (the host's extracted copies, else the image's files), which
//! phase runs which of them and how often, and what each task sees in its environment.

mod support;

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

fn scripts_json(scripts: serde_json::Value) -> String {
    serde_json::json!({ "scripts": scripts }).to_string()
}

fn predeploy_json(command: &str) -> String {
    scripts_json(serde_json::json!({"dokku": {"predeploy": command}}))
}

fn postdeploy_json(command: &str) -> String {
    scripts_json(serde_json::json!({"dokku": {"postdeploy": command}}))
}

fn assert_no_task_container_left(host: &TestHost) {
    let left = host.task_containers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn assert_lacks(run: &Run, text: &str) {
    assert!(
        !run.stdout.contains(text) && !run.stderr.contains(text),
        "output has {text:?}; {run:#?}"
    );
}

/// The directory the plugin caches an image's definitions in.
/// The discovery cache's entry for an image: named after its ID and a fingerprint of the paths
/// searched.
fn cache_entry(host: &TestHost, image_id: &str) -> std::path::PathBuf {
    let cache = host
        .lib_root()
        .join("data/deploy-tasks")
        .join(&host.app)
        .join("definitions");
    let prefix = format!("{}-", image_id.trim_start_matches("sha256:"));
    std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(&prefix))
        })
        .unwrap_or_else(|| cache.join(prefix))
}

/// Names of the running containers that match every one of `filters` (`label=...`, `name=...`).
fn running(filters: &[String]) -> Vec<String> {
    let mut args: Vec<&str> = vec!["ps"];
    for filter in filters {
        args.extend(["--filter", filter]);
    }
    args.extend(["--format", "{{.Names}}"]);
    docker(&args)
        .lines()
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

const ENV_PROBE: &str =
    "echo app=$APP version=$CONTAINER_VERSION phase=$DOKKU_DEPLOY_PHASE shared=$SHARED own=$OWN";

#[test]
fn given_no_host_copies_when_app_json_is_in_the_image_workdir_then_it_is_used_and_cached_by_image_id(
) {
    let host = TestHost::new("src-workdir");
    let image = build(
        &host,
        &format!(
            "FROM {BUSYBOX}\nWORKDIR /srv/app\nCOPY app.json /srv/app/app.json\nCOPY decoy.json /app/app.json\n"
        ),
        &[
            ("app.json", &postdeploy_json("echo from-the-workdir")),
            ("decoy.json", &postdeploy_json("echo from-slash-app")),
        ],
    );

    let first = host.postdeploy();

    first.expect_code(0).stdout_has("       from-the-workdir\n");
    assert_lacks(&first, "from-slash-app");
    assert!(
        cache_entry(&host, &image).is_dir(),
        "no cache entry for {image}"
    );
    host.postdeploy()
        .expect_code(0)
        .stdout_has("       from-the-workdir\n");
    assert!(cache_entry(&host, &image).is_dir());
    assert_eq!(image_id(&host.image()), image);
    assert_no_task_container_left(&host);
}

#[test]
fn given_no_host_copies_and_no_app_json_in_the_workdir_then_the_one_in_app_is_used() {
    let host = TestHost::new("src-fallback");
    let before = build(
        &host,
        &format!("FROM {BUSYBOX}\nWORKDIR /srv\nCOPY app.json /app/app.json\n"),
        &[(
            "app.json",
            &predeploy_json("echo from-slash-app > /srv/marker && echo from-slash-app"),
        )],
    );

    host.predeploy()
        .expect_code(0)
        .stdout_has("       from-slash-app\n");

    assert_ne!(image_id(&host.image()), before, "not committed");
    assert_eq!(host.run_in_image("cat /srv/marker"), "from-slash-app");
    assert_no_task_container_left(&host);
}

#[test]
fn given_no_host_copies_when_the_procfile_is_in_the_image_workdir_then_release_runs_it_and_caches_it(
) {
    let host = TestHost::new("src-procfile-image");
    let image = build(
        &host,
        &format!(
            "FROM {BUSYBOX}\nWORKDIR /srv/app\nCOPY Procfile /srv/app/Procfile\nCOPY decoy /app/Procfile\n"
        ),
        &[
            ("Procfile", "web: httpd -f\nrelease: echo released-from-image\n"),
            ("decoy", "release: echo released-from-slash-app\n"),
        ],
    );

    let first = host.release();
    first
        .expect_code(0)
        .stdout_has("       released-from-image\n");
    assert_lacks(&first, "released-from-slash-app");
    assert!(
        cache_entry(&host, &image).is_dir(),
        "no cache entry for {image}"
    );
    host.release()
        .expect_code(0)
        .stdout_has("       released-from-image\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_host_copies_and_files_in_the_image_then_the_host_copies_win_file_by_file() {
    let host = TestHost::new("src-host-wins");
    build(
        &host,
        &busybox_app("COPY app.json Procfile /app/"),
        &[
            ("app.json", &predeploy_json("echo app-json-from-image")),
            ("Procfile", "release: echo procfile-from-image\n"),
        ],
    );
    host.host_app_json(&predeploy_json("echo app-json-from-host"));

    let predeploy = host.predeploy();
    predeploy
        .expect_code(0)
        .stdout_has("       app-json-from-host\n");
    assert_lacks(&predeploy, "app-json-from-image");
    // Only app.json has a host copy: the Procfile still comes from the image.
    host.release()
        .expect_code(0)
        .stdout_has("       procfile-from-image\n");

    host.host_procfile("release: echo procfile-from-host\n");
    let release = host.release();
    release
        .expect_code(0)
        .stdout_has("       procfile-from-host\n");
    assert_lacks(&release, "procfile-from-image");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_release_command_when_post_release_runs_then_it_runs_in_a_labelled_container_that_is_removed_and_not_committed(
) {
    let host = TestHost::new("src-release");
    let before = build(&host, &busybox_app(""), &[]);
    host.host_procfile(
        "web: httpd -f\nrelease: touch /app/released && echo releasing && sleep 3\n",
    );

    let child = host.spawn("post-release", &[&host.app]);
    let filters = [
        "label=dokku_phase_script=release".to_string(),
        format!("label=com.dokku.app-name={}", host.app),
        format!("name=^{}\\.release\\.", host.app),
    ];
    let seen = eventually(Duration::from_secs(30), || !running(&filters).is_empty());
    let run = finish(child, None);

    assert!(
        seen,
        "no running container had the release labels; {run:#?}"
    );
    run.expect_code(0)
        .stdout_has("       Executing release task from Procfile: touch /app/released")
        .stdout_has("       releasing\n");
    assert_eq!(image_id(&host.image()), before, "release was committed");
    assert_eq!(
        host.run_in_image("test -e /app/released && echo present || echo absent"),
        "absent"
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_predeploy_task_while_it_runs_then_its_container_has_the_app_label_but_no_phase_script_label(
) {
    let host = TestHost::new("src-predeploy-labels");
    build(&host, &busybox_app(""), &[]);
    host.host_app_json(&predeploy_json("sleep 3"));

    let child = host.spawn("pre-deploy", &[&host.app]);
    let filters = [
        format!("label=com.dokku.app-name={}", host.app),
        format!("name=^{}\\.predeploy\\.", host.app),
    ];
    let mut labels = String::new();
    let seen = eventually(Duration::from_secs(30), || {
        let Some(name) = running(&filters).pop() else {
            return false;
        };
        let output = docker_output(&["inspect", "--format", "{{json .Config.Labels}}", &name]);
        labels = String::from_utf8_lossy(&output.stdout).to_string();
        output.status.success()
    });
    let run = finish(child, None);

    assert!(
        seen,
        "the predeploy container was never seen running; {run:#?}"
    );
    assert!(
        !labels.contains("dokku_phase_script"),
        "predeploy container labelled: {labels}"
    );
    run.expect_code(0);
    let committed = image_config(&host.image(), "Labels");
    assert!(
        !committed.contains("dokku_phase_script"),
        "committed image labelled: {committed}"
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_procfile_with_a_bom_comments_blank_lines_and_crlf_then_release_runs_its_command() {
    let host = TestHost::new("src-procfile-crlf");
    build(&host, &busybox_app(""), &[]);
    host.host_procfile(
        "\u{feff}# process types\r\n\r\nweb: httpd -f\r\n   \r\n# the release task\r\nrelease: echo [released]\r\n\r\n",
    );

    host.release()
        .expect_code(0)
        .stdout_has("       [released]\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_both_postdeploy_scripts_then_dokkus_runs_every_time_and_herokus_only_on_the_first_post_deploy(
) {
    let host = TestHost::new("src-postdeploy-once");
    build(&host, &busybox_app(""), &[]);
    host.host_app_json(&scripts_json(serde_json::json!({
        "dokku": {"postdeploy": "echo dokku-postdeploy"},
        "postdeploy": "echo heroku-postdeploy"
    })));

    host.postdeploy()
        .expect_code(0)
        .stdout_has("       dokku-postdeploy\n")
        .stdout_has("       heroku-postdeploy\n");

    let second = host.postdeploy();
    second
        .expect_code(0)
        .stdout_has("       dokku-postdeploy\n");
    assert_lacks(&second, "       heroku-postdeploy");
    assert_no_task_container_left(&host);
}

#[test]
fn given_a_failing_heroku_postdeploy_then_the_first_post_deploy_fails_and_the_second_does_not_run_it_again(
) {
    let host = TestHost::new("src-postdeploy-fails");
    build(&host, &busybox_app(""), &[]);
    host.host_app_json(&scripts_json(serde_json::json!({
        "postdeploy": "echo heroku-postdeploy-ran; exit 4"
    })));

    host.postdeploy()
        .expect_code(1)
        .stdout_has("       heroku-postdeploy-ran\n")
        .stderr_has("failed with exit code 4");

    let second = host.postdeploy();
    second.expect_code(0);
    assert_lacks(&second, "heroku-postdeploy-ran");
    assert_no_task_container_left(&host);
}

#[test]
fn given_dokku_ran_the_heroku_postdeploy_before_the_plugin_was_installed_then_it_is_skipped() {
    let host = TestHost::new("src-postdeploy-executed");
    build(&host, &busybox_app(""), &[]);
    host.host_app_json(&scripts_json(serde_json::json!({
        "dokku": {"postdeploy": "echo dokku-postdeploy"},
        "postdeploy": "echo heroku-postdeploy"
    })));
    host.write_lib(
        &format!("config/app-json/{}/heroku.postdeploy", host.app),
        "executed",
    );
    host.trigger("libexec/deploy-tasks", &["--trigger", "install"])
        .expect_code(0);

    let run = host.postdeploy();

    run.expect_code(0).stdout_has("       dokku-postdeploy\n");
    assert_lacks(&run, "       heroku-postdeploy");
    assert_no_task_container_left(&host);
}

#[test]
fn given_dokku_marked_the_app_as_deployed_then_the_heroku_postdeploy_is_skipped() {
    let host = TestHost::new("src-postdeploy-deployed");
    build(&host, &busybox_app(""), &[]);
    host.host_app_json(&scripts_json(serde_json::json!({
        "postdeploy": "echo heroku-postdeploy"
    })));
    host.write_lib(&format!("config/common/{}/deployed", host.app), "true");

    let run = host.postdeploy();

    run.expect_code(0);
    assert_lacks(&run, "       heroku-postdeploy");
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_image_tag_then_every_phase_sees_the_app_the_tag_the_phase_and_the_config() {
    let host = TestHost::new("src-env");
    let before = build_tagged(&host, "v7", &busybox_app(""), &[]);
    host.write_lib(
        "config/--global/ENV",
        "export SHARED='global'\nexport OWN='global'\n",
    );
    host.app_env("export OWN='app'\n");
    host.host_app_json(&scripts_json(serde_json::json!({
        "dokku": {"predeploy": ENV_PROBE, "postdeploy": ENV_PROBE}
    })));
    host.host_procfile(&format!("release: {ENV_PROBE}\n"));
    let app = host.app.as_str();
    let expected =
        |phase: &str| format!("       app={app} version=v7 phase={phase} shared=global own=app\n");

    host.trigger("pre-deploy", &[app, "v7"])
        .expect_code(0)
        .stdout_has(&expected("predeploy"));
    host.trigger("post-release", &[app, "v7"])
        .expect_code(0)
        .stdout_has(&expected("release"));
    host.trigger("post-deploy", &[app, "5000", "127.0.0.1", "v7"])
        .expect_code(0)
        .stdout_has(&expected("postdeploy"));

    let reference = format!("dokku/{app}:v7");
    assert_ne!(image_id(&reference), before, "v7 was not committed");
    assert!(
        !docker_output(&["image", "inspect", &host.image()])
            .status
            .success(),
        "a latest tag appeared"
    );
    assert_no_task_container_left(&host);
}

#[test]
fn given_only_the_legacy_env_files_then_the_task_sees_them_and_the_new_files_win_once_present() {
    let host = TestHost::new("src-legacy-env");
    build(&host, &busybox_app(""), &[]);
    std::fs::write(
        host.dokku_root().join("ENV"),
        "export SHARED='legacy-global'\nexport OWN='legacy-global'\n",
    )
    .unwrap();
    std::fs::write(
        host.dokku_root().join(&host.app).join("ENV"),
        "export OWN='legacy-app'\n",
    )
    .unwrap();
    host.host_procfile("release: echo shared=$SHARED own=$OWN\n");

    host.release()
        .expect_code(0)
        .stdout_has("       shared=legacy-global own=legacy-app\n");

    host.write_lib("config/--global/ENV", "export SHARED='global'\n");
    host.app_env("export OWN='app'\n");
    host.release()
        .expect_code(0)
        .stdout_has("       shared=global own=app\n");
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_empty_image_tag_argument_then_latest_is_used() {
    let host = TestHost::new("src-empty-tag");
    let before = build(&host, &busybox_app(""), &[]);
    host.host_app_json(&predeploy_json(
        "echo version=$CONTAINER_VERSION && touch /app/marker",
    ));

    host.trigger("pre-deploy", &[&host.app, ""])
        .expect_code(0)
        .stdout_has("       version=latest\n");

    assert_ne!(image_id(&host.image()), before, "latest was not committed");
    assert_eq!(host.run_in_image("ls /app/marker"), "/app/marker");
    assert_no_task_container_left(&host);
}

#[test]
fn given_an_app_json_that_is_a_symlink_in_the_image_then_it_is_followed_on_both_paths() {
    for engine_api in ["1", "0"] {
        let host = TestHost::new("src-symlink");
        build(
            &host,
            &format!(
                "FROM {BUSYBOX}\nWORKDIR /app\nCOPY real.json /app/config/real.json\n\
                 RUN ln -s config/real.json /app/app.json\n"
            ),
            &[("real.json", &predeploy_json("echo through-the-link"))],
        );

        let run = Run::from(
            host.trigger_command("pre-deploy", &[&host.app])
                .env("DOKKU_DEPLOY_TASKS_ENGINE_API", engine_api)
                .output()
                .unwrap(),
        );

        run.expect_code(0).stdout_has("       through-the-link\n");
        assert_no_task_container_left(&host);
        assert!(host.containers().is_empty(), "{:?}", host.containers());
    }
}
