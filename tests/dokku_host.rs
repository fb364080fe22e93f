//! Scenarios: the plugin installed on the stand-in Dokku 0.38 host (`tests/host/dokku`, beside its
//! models of Dokku's core plugins, whose app-json really runs every task it finds). Each task
//! prints `TASK <name>`; whoever runs it, a line appears, so a count of one proves it ran once.

mod support;

use support::*;

const DOCKERFILE: &str = "FROM deploy-tasks-test/bash:latest\nWORKDIR /app\nCOPY . /app/\n";

// JSONC as Dokku reads it: comments, a trailing comma, keys in another case, a repeated key.
const APP_JSON: &str = r#"{
  // tasks Dokku's app-json would run
  "Scripts": {
    "DOKKU": {"predeploy": "echo TASK stale", /* replaced below */ "POSTDEPLOY": "echo TASK postdeploy"},
    "postdeploy": "echo TASK heroku-postdeploy",
  },
  "scripts": {"dokku": {"predeploy": "echo TASK predeploy && echo built > /app/built"}},
  "formation": {"web": {"quantity": 1}},
}"#;

const PROCFILE: &str = "release: echo TASK release $GREETING on $PORT\nweb: sleep 600\n";

fn source(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

/// An app with a task of every kind, for Dokku to build from its Dockerfile.
fn every_task_source() -> tempfile::TempDir {
    source(&[
        ("Dockerfile", DOCKERFILE),
        ("app.json", APP_JSON),
        ("Procfile", PROCFILE),
    ])
}

/// `dokku git-push APP SOURCE` on `host`'s stand-in, with the plugin installed as an operator
/// would for a Dokku 0.38 host.
fn push(host: &TestHost, source: &tempfile::TempDir) -> Run {
    host.dokku(&push_args(host, source))
}

/// The stand-in's arguments for a push of `source` to `host`'s app.
fn push_args<'a>(host: &'a TestHost, source: &'a tempfile::TempDir) -> [&'a str; 3] {
    ["git-push", &host.app, source.path().to_str().unwrap()]
}

/// The task lines of a run, in order (a task's output is shown behind seven spaces).
fn tasks(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter_map(|line| line.strip_prefix("       TASK "))
        .collect()
}

/// The commands the plugin's history recorded, oldest first.
fn history_commands(host: &TestHost) -> Vec<String> {
    host.history()
        .iter()
        .map(|entry| format!("{} {}", entry["phase"], entry["outcome"]))
        .collect()
}

#[test]
fn given_an_app_with_every_task_when_dokku_deploys_it_in_every_way_then_each_task_runs_once_by_the_plugin(
) {
    let host = TestHost::new("dokku-once");
    // Every task, whoever runs it, also appends its name to one file both runners mount (through
    // Dokku's docker-args-deploy, as its storage plugin gives mounts).
    storage_plugin();
    let shared = tempfile::tempdir().unwrap();
    host.write_lib(
        &format!("test-storage/{}", host.app),
        &format!("-v {}:/mnt/shared", shared.path().display()),
    );
    let ran = || {
        let path = shared.path().join("ran");
        let lines = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        lines.lines().map(str::to_string).collect::<Vec<_>>()
    };
    let appending = |text: &str| {
        let mut text = text.to_string();
        for name in ["predeploy", "heroku-postdeploy", "postdeploy", "release"] {
            text = text.replace(
                &format!("echo TASK {name}"),
                &format!("echo {name} >> /mnt/shared/ran && echo TASK {name}"),
            );
        }
        text
    };
    let app = source(&[
        ("Dockerfile", DOCKERFILE),
        ("app.json", &appending(APP_JSON)),
        ("Procfile", &appending(PROCFILE)),
    ]);
    host.dokku(&[
        "config:set",
        "--no-restart",
        &host.app,
        "GREETING=hi!",
        "SECRET=s3cr3t$x",
    ])
    .expect_code(0);

    let push = push(&host, &app);

    push.expect_code(0);
    assert_eq!(
        tasks(&push),
        [
            "predeploy",
            "release hi! on 5000",
            "heroku-postdeploy",
            "postdeploy"
        ],
        "{push:#?}"
    );
    assert_eq!(
        ran(),
        ["predeploy", "release", "heroku-postdeploy", "postdeploy"]
    );
    assert!(!push.stderr.contains("Deprecated"), "{push:#?}");
    let web_started = push.stdout.find("-----> Deploying web").unwrap();
    assert!(push.stdout.find("TASK release").unwrap() < web_started);
    assert!(web_started < push.stdout.find("TASK postdeploy").unwrap());
    // The plugin ran each one (its history), Dokku's app-json found none.
    assert_eq!(host.history().len(), 4, "{:?}", history_commands(&host));
    assert_eq!(push.stdout.matches("No predeploy task found").count(), 1);
    let dokku_app_json = host
        .lib_root()
        .join("data/app-json")
        .join(&host.app)
        .join("app.json");
    let dokku_sees = std::fs::read_to_string(&dokku_app_json).unwrap();
    assert!(!dokku_sees.contains("TASK"), "{dokku_sees}");
    assert!(dokku_sees.contains("\"quantity\": 1"), "{dokku_sees}");
    let procfile = host
        .lib_root()
        .join("data/ps")
        .join(&host.app)
        .join("Procfile");
    assert_eq!(
        std::fs::read_to_string(procfile).unwrap(),
        "web: sleep 600\n"
    );
    // The predeploy's result is deployed; the app's secret is not in the image.
    let web = format!("{}.web.1", host.app);
    assert_eq!(docker(&["exec", &web, "cat", "/app/built"]), "built");
    assert!(!image_config(&host.image(), "Env").contains("s3cr3t"));

    for how in [
        vec!["ps:rebuild", host.app.as_str()],
        vec!["config:set", host.app.as_str(), "GREETING=again"],
    ] {
        let run = host.dokku(&how);
        run.expect_code(0);
        let expected_release = if how[0] == "config:set" {
            "release again on 5000"
        } else {
            "release hi! on 5000"
        };
        assert_eq!(
            tasks(&run),
            ["predeploy", expected_release, "postdeploy"],
            "{how:?}: {run:#?}"
        );
        assert_eq!(ran(), ["predeploy", "release", "postdeploy"], "{how:?}");
    }
    for how in [
        vec!["ps:restart", host.app.as_str()],
        vec!["deploy", host.app.as_str(), "latest"],
    ] {
        let run = host.dokku(&how);
        run.expect_code(0);
        assert_eq!(tasks(&run), ["postdeploy"], "{how:?}: {run:#?}");
        assert_eq!(ran(), ["postdeploy"], "{how:?}");
    }
}

#[test]
fn given_a_procfile_with_only_a_release_when_dokku_deploys_it_twice_then_each_deploy_runs_it_once_and_dokku_schedules_as_it_would_with_it(
) {
    let host = TestHost::new("dokku-release-only");
    let dockerfile = format!("{DOCKERFILE}CMD [\"sleep\", \"600\"]\n");
    let app = source(&[
        ("Dockerfile", &dockerfile),
        ("Procfile", "# migrations\nrelease: echo TASK release\n"),
    ]);

    for deploy in ["first", "second"] {
        let run = push(&host, &app);

        // Dokku's ps plugin lists the Procfile's processes in every deploy and fails on a
        // Procfile without any: the one taken over keeps a process type at scale 0, so Dokku
        // schedules what a stock Dokku does with this Procfile (no web: it has none).
        run.expect_code(0);
        assert_eq!(tasks(&run), ["release"], "{deploy} deploy: {run:#?}");
        run.stderr_has("Skipping web as it is missing from the current Procfile");
    }
    let procfile = host
        .lib_root()
        .join("data/ps")
        .join(&host.app)
        .join("Procfile");
    let dokkus = std::fs::read_to_string(procfile).unwrap();
    assert!(
        dokkus.starts_with("# migrations\nrelease-by-deploy-tasks: true"),
        "{dokkus}"
    );
}

#[test]
fn given_a_push_without_a_procfile_whose_image_has_one_when_dokku_deploys_then_no_release_runs_as_in_dokku(
) {
    let host = TestHost::new("dokku-image-procfile");
    // Dokku reads the Procfile from the push, which has none: it marks it missing and runs no
    // release, whatever the build put in the image.
    let dockerfile = format!(
        "{DOCKERFILE}RUN printf 'release: echo TASK image-release\\n' > /app/Procfile\nCMD [\"sleep\", \"600\"]\n"
    );
    let app = source(&[
        ("Dockerfile", &dockerfile),
        (
            "app.json",
            r#"{"scripts": {"dokku": {"predeploy": "echo TASK predeploy && cat /app/Procfile"}}}"#,
        ),
    ]);

    let run = push(&host, &app);

    run.expect_code(0);
    assert_eq!(tasks(&run), ["predeploy"], "{run:#?}");
    run.stdout_has("release: echo TASK image-release");
}

#[test]
fn given_a_push_without_app_json_or_procfile_whose_image_has_both_when_dokku_deploys_then_no_task_runs_in_any_trigger(
) {
    let host = TestHost::new("dokku-image-files");
    let dockerfile = format!(
        "{DOCKERFILE}RUN printf '%s' '{}' > /app/app.json && printf 'release: echo TASK image-release\\nweb: sleep 600\\n' > /app/Procfile\nCMD [\"sleep\", \"600\"]\n",
        r#"{"scripts": {"dokku": {"predeploy": "echo TASK image-predeploy", "postdeploy": "echo TASK image-postdeploy"}}}"#
    );
    let app = source(&[("Dockerfile", &dockerfile)]);

    let run = push(&host, &app);

    // Dokku marks both missing: its app-json runs nothing, in post-deploy too, after its
    // core-post-deploy removed the markers.
    run.expect_code(0);
    assert!(tasks(&run).is_empty(), "{run:#?}");
}

#[test]
fn given_a_deployed_app_when_a_push_removes_a_task_or_breaks_the_release_then_the_plugin_follows_and_the_old_container_serves(
) {
    let host = TestHost::new("dokku-change");
    let first = every_task_source();
    push(&host, &first).expect_code(0);
    let web = format!("{}.web.1", host.app);
    let serving = docker(&["inspect", "--format", "{{.Id}}", &web]);

    // The push removes app.json and breaks the release.
    let second = source(&[
        ("Dockerfile", DOCKERFILE),
        (
            "Procfile",
            "release: echo TASK broken-release; exit 3\nweb: sleep 600\n",
        ),
    ]);
    let broken = push(&host, &second);

    assert_ne!(broken.code, Some(0), "{broken:#?}");
    assert_eq!(tasks(&broken), ["broken-release"], "{broken:#?}");
    assert_eq!(docker(&["inspect", "--format", "{{.Id}}", &web]), serving);

    // A push without app.json and a good release: no app.json task runs any more.
    let third = source(&[("Dockerfile", DOCKERFILE), ("Procfile", PROCFILE)]);
    let fixed = push(&host, &third);
    fixed.expect_code(0);
    assert_eq!(tasks(&fixed), ["release on 5000"], "{fixed:#?}");
}

/// Pushes the app of every task source to `host` and returns the path of Dokku's app.json,
/// which the plugin has taken the tasks out of.
fn pushed_and_taken_over(host: &TestHost) -> std::path::PathBuf {
    push(host, &every_task_source()).expect_code(0);
    let dokku_app_json = host
        .lib_root()
        .join("data/app-json")
        .join(&host.app)
        .join("app.json");
    assert!(!std::fs::read_to_string(&dokku_app_json)
        .unwrap()
        .contains("TASK"));
    dokku_app_json
}

/// `dokku deploy-tasks:set ARGS` on `host`, as Dokku runs the subcommand.
fn set(host: &TestHost, args: &[&str]) -> Run {
    Run::from(
        std::process::Command::new(dokku_plugin_path().join("deploy-tasks/subcommands/set"))
            .arg("deploy-tasks:set")
            .args(args)
            .env("DOKKU_LIB_ROOT", host.lib_root())
            .env("DOKKU_ROOT", host.dokku_root())
            .output()
            .unwrap(),
    )
}

#[test]
fn given_an_app_dokku_deployed_before_the_plugin_when_it_is_installed_deferred_and_uninstalled_then_the_tasks_change_hands_each_time(
) {
    let host = TestHost::new("dokku-handover");
    let deploy_tasks = dokku_plugin_path().join("deploy-tasks");

    // The plugin's install trigger takes over every app Dokku has files for.
    let dokku_app_json = pushed_and_taken_over(&host);

    // defer: Dokku's app-json gets the tasks back at once and runs them; the plugin runs none.
    set(&host, &[&host.app, "core-tasks", "defer"]).expect_code(0);
    assert!(std::fs::read_to_string(&dokku_app_json)
        .unwrap()
        .contains("TASK postdeploy"));
    let before = host.history().len();
    let rebuild = host.dokku(&["ps:rebuild", &host.app]);
    rebuild.expect_code(0);
    assert_eq!(
        tasks(&rebuild),
        ["predeploy", "release on 5000", "postdeploy"],
        "{rebuild:#?}"
    );
    assert_eq!(host.history().len(), before);

    // replace again, then plugin:uninstall hands them back.
    set(&host, &[&host.app, "core-tasks"]).expect_code(0);
    let uninstall = std::process::Command::new(deploy_tasks.join("uninstall"))
        .arg("deploy-tasks")
        .env("DOKKU_LIB_ROOT", host.lib_root())
        .output()
        .unwrap();
    assert!(uninstall.status.success(), "{uninstall:?}");
    assert!(std::fs::read_to_string(&dokku_app_json)
        .unwrap()
        .contains("TASK postdeploy"));
}

#[test]
fn given_a_push_while_the_plugin_was_disabled_when_dokku_restarts_the_app_then_the_new_postdeploy_runs_once_and_the_old_never(
) {
    let host = TestHost::new("dokku-disabled-push");
    pushed_and_taken_over(&host);
    // Disabled: only Dokku's core plugins are enabled for this push, which Dokku's app-json
    // runs the tasks of, and whose files it persists.
    let without_plugin = host.dir.path().join("plugins/enabled");
    std::fs::create_dir_all(&without_plugin).unwrap();
    let changed = source(&[
        ("Dockerfile", DOCKERFILE),
        (
            "app.json",
            r#"{"scripts": {"dokku": {"postdeploy": "echo TASK new-postdeploy"}}}"#,
        ),
        ("Procfile", "web: sleep 600\n"),
    ]);
    let disabled = Run::from(
        host.dokku_command(&without_plugin, &push_args(&host, &changed))
            .output()
            .expect("running tests/host/dokku"),
    );
    disabled.expect_code(0);
    assert_eq!(tasks(&disabled), ["new-postdeploy"], "{disabled:#?}");
    let plugin_runs = host.history().len();

    // Enabled again: Dokku's app-json runs the new file's postdeploy before the plugin's
    // post-deploy, which runs none, neither that one again nor the stale one it kept.
    let restart = host.dokku(&["ps:restart", &host.app]);
    restart
        .expect_code(0)
        .stderr_has("is not what deploy-tasks left there");
    assert_eq!(tasks(&restart), ["new-postdeploy"], "{restart:#?}");
    assert_eq!(host.history().len(), plugin_runs);

    // Taken over again: from now on the plugin runs it, once.
    let again = host.dokku(&["ps:restart", &host.app]);
    again.expect_code(0);
    assert_eq!(tasks(&again), ["new-postdeploy"], "{again:#?}");
    assert!(
        !again.stderr.contains("not what deploy-tasks left"),
        "{again:#?}"
    );
    let history = host.history();
    let ran: Vec<&str> = history[plugin_runs..]
        .iter()
        .map(|entry| entry["command"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ran, ["echo TASK new-postdeploy"]);
}

#[test]
fn given_an_app_without_tasks_taken_over_at_install_when_a_push_while_disabled_adds_a_postdeploy_then_a_restart_runs_it_once(
) {
    let host = TestHost::new("dokku-install-no-tasks");
    let without_plugin = host.dir.path().join("plugins/enabled");
    std::fs::create_dir_all(&without_plugin).unwrap();
    let push_without_plugin = |app: &tempfile::TempDir| {
        Run::from(
            host.dokku_command(&without_plugin, &push_args(&host, app))
                .output()
                .expect("running tests/host/dokku"),
        )
    };
    let plain = source(&[
        ("Dockerfile", DOCKERFILE),
        ("app.json", r#"{"formation": {"web": {"quantity": 1}}}"#),
        ("Procfile", "web: sleep 600\n"),
    ]);
    // Deployed by Dokku before the plugin came, with no task; then the plugin is installed
    // (its install trigger takes the app over) and disabled again for a push that adds one.
    push_without_plugin(&plain).expect_code(0);
    host.dokku(&["plugin:install"]).expect_code(0);
    let with_task = source(&[
        ("Dockerfile", DOCKERFILE),
        (
            "app.json",
            r#"{"scripts": {"dokku": {"postdeploy": "echo TASK new-postdeploy"}}}"#,
        ),
        ("Procfile", "web: sleep 600\n"),
    ]);
    let disabled = push_without_plugin(&with_task);
    assert_eq!(tasks(&disabled), ["new-postdeploy"], "{disabled:#?}");

    for restart in 0..2 {
        let restarted = host.dokku(&["ps:restart", &host.app]);
        restarted.expect_code(0);
        assert_eq!(
            tasks(&restarted),
            ["new-postdeploy"],
            "restart {restart}: {restarted:#?}"
        );
    }
}

#[test]
fn given_an_image_a_scheduler_removed_from_the_host_when_post_deploy_fires_then_an_app_without_a_postdeploy_task_passes_and_one_with_it_fails_in_one_line(
) {
    let core_plugins =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host/core-plugins");
    for (app_json, code) in [
        (
            r#"{"scripts": {"dokku": {"predeploy": "echo TASK predeploy"}}}"#,
            0,
        ),
        (
            r#"{"scripts": {"dokku": {"postdeploy": "echo TASK postdeploy"}}}"#,
            1,
        ),
    ] {
        let host = TestHost::new("dokku-image-gone");
        let app = source(&[
            ("Dockerfile", DOCKERFILE),
            ("app.json", app_json),
            ("Procfile", "web: sleep 600\n"),
        ]);
        push(&host, &app).expect_code(0);
        // As Dokku's k3s scheduler may: the local copy goes, the app runs on elsewhere. Its
        // deploys fire core-post-deploy and post-deploy with APP, PORT and IP empty, TAG.
        docker(&["image", "rm", "--force", &host.image()]);

        let run = Run::from(
            host.trigger_command_in(
                &dokku_plugin_path().join("deploy-tasks"),
                "post-deploy",
                &[&host.app, "", "", "latest"],
            )
            .env("PLUGIN_CORE_AVAILABLE_PATH", &core_plugins)
            .output()
            .unwrap(),
        );

        run.expect_code(code);
        if code == 0 {
            run.stderr_has("is not on this host");
        } else {
            run.one_line_error()
                .stderr_has(&format!("there is no image {}", host.image()));
        }
        assert!(tasks(&run).is_empty(), "{run:#?}");
    }
}

#[test]
fn given_an_app_with_a_broken_setting_when_core_tasks_is_set_globally_then_every_other_app_still_changes_hands(
) {
    let host = TestHost::new("dokku-global-defer");
    let dokku_app_json = pushed_and_taken_over(&host);
    // An app sorted first, whose own core-tasks a hand wrote wrong.
    std::fs::create_dir_all(host.lib_root().join("data/app-json/aaa-broken")).unwrap();
    host.write_lib("config/deploy-tasks/aaa-broken/core-tasks", "both");

    let set = set(&host, &["--global", "core-tasks", "defer"]);

    set.expect_code(1)
        .one_line_error()
        .stderr_has("aaa-broken: ")
        .stderr_has("`both` is not a core-tasks mode");
    assert!(
        std::fs::read_to_string(&dokku_app_json)
            .unwrap()
            .contains("TASK postdeploy"),
        "{set:#?}"
    );
}

#[test]
fn given_a_herokuish_image_when_dokku_deploys_it_then_its_plugins_hear_herokuish_and_builder_herokuishs_user_raises_no_warning(
) {
    // builder-herokuish's docker-args-deploy gives `--env=USER=herokuishuser`, which the image
    // has already; the test's plugin records what docker-args-process-deploy is told.
    storage_plugin();
    test_plugin(
        "test-process-args",
        "docker-args-process-deploy",
        "#!/bin/sh\ncat\nmkdir -p \"$DOKKU_LIB_ROOT/test-process-args\"\necho \"$2\" >> \"$DOKKU_LIB_ROOT/test-process-args/$1\"\nexit 0\n",
    );
    let host = TestHost::new("dokku-herokuish");
    host.write_lib(
        &format!("test-storage/{}", host.app),
        "--env=USER=herokuishuser",
    );
    let app = source(&[
        (
            "Dockerfile",
            "FROM deploy-tasks-test/bash:latest\nENV USER=herokuishuser\nWORKDIR /app\nCOPY . /app/\n",
        ),
        ("app.json", r#"{"scripts": {"dokku": {"predeploy": "echo TASK predeploy as $USER"}}}"#),
        ("Procfile", "web: sleep 600\n"),
    ]);

    let pushed = push(&host, &app);

    pushed.expect_code(0);
    assert_eq!(
        tasks(&pushed),
        ["predeploy as herokuishuser"],
        "{pushed:#?}"
    );
    assert!(
        !pushed.stderr.contains("not used for predeploy"),
        "{pushed:#?}"
    );
    let told =
        std::fs::read_to_string(host.lib_root().join("test-process-args").join(&host.app)).unwrap();
    // The plugin's predeploy container first, as Dokku's app-json names its image (its
    // scheduler then names the web container's by the builder's label: dockerfile here).
    assert_eq!(told.lines().next(), Some("herokuish"), "{told}");
}

#[test]
fn given_a_herokuish_image_when_dokku_deploys_it_then_its_tasks_share_dokkus_build_cache_as_with_dokkus_app_json_and_the_image_keeps_none_of_it(
) {
    // Each task prints what the tasks before it left in /tmp/cache, then adds its name.
    let task = "#!/bin/sh\necho \"TASK $1 saw:$(tr '\\n' , < /tmp/cache/ran 2>/dev/null)\"\necho $1 >> /tmp/cache/ran\n";
    let app = source(&[
        (
            "Dockerfile",
            "FROM deploy-tasks-test/bash:latest\nENV USER=herokuishuser\nWORKDIR /app\nCOPY . /app/\n",
        ),
        ("task.sh", task),
        (
            "app.json",
            r#"{"scripts": {"dokku": {"predeploy": "sh /app/task.sh predeploy", "postdeploy": "sh /app/task.sh postdeploy"}}}"#,
        ),
        ("Procfile", "release: sh /app/task.sh release\nweb: sleep 600\n"),
    ]);
    for core_tasks in ["replace", "defer"] {
        let host = TestHost::new("dokku-herokuish-cache");
        // defer: Dokku's app-json runs them, for the same outcome.
        set(&host, &[&host.app, "core-tasks", core_tasks]).expect_code(0);

        let pushed = push(&host, &app);

        pushed.expect_code(0);
        assert_eq!(
            tasks(&pushed),
            [
                "predeploy saw:",
                "release saw:predeploy,",
                "postdeploy saw:predeploy,release,"
            ],
            "{core_tasks}: {pushed:#?}"
        );
        let plugin_ran = host.history().len();
        assert_eq!(plugin_ran > 0, core_tasks == "replace", "{core_tasks}");
        let volume = format!("cache-{}", host.app);
        let mountpoint = docker(&["volume", "inspect", "--format", "{{.Mountpoint}}", &volume]);
        assert_eq!(
            std::fs::read_to_string(std::path::Path::new(mountpoint.trim()).join("ran")).unwrap(),
            "predeploy\nrelease\npostdeploy\n",
            "{core_tasks}"
        );
        // A commit leaves a volume's content out.
        assert_eq!(
            host.run_in_image("ls -A /tmp/cache 2>/dev/null; echo end"),
            "end",
            "{core_tasks}"
        );
    }
}

#[test]
fn given_an_app_dokku_deployed_without_app_json_before_the_plugin_when_it_restarts_then_the_images_app_json_runs_nothing(
) {
    // The image makes an app.json of its own; the push has none, so Dokku persisted none and
    // runs no app.json task. An app deployed before the plugin has no record of the plugin's
    // saying so (here: the one this deploy left, removed).
    let host = TestHost::new("dokku-none-before");
    let app = source(&[
        (
            "Dockerfile",
            "FROM deploy-tasks-test/bash:latest\nWORKDIR /app\nCOPY . /app/\n\
             RUN echo '{\"scripts\": {\"dokku\": {\"postdeploy\": \"echo TASK image postdeploy\"}}}' > /app/app.json\n",
        ),
        ("Procfile", "web: sleep 600\n"),
    ]);
    let pushed = push(&host, &app);
    pushed.expect_code(0);
    assert_eq!(tasks(&pushed), Vec::<&str>::new(), "{pushed:#?}");
    let record = host
        .lib_root()
        .join("data/deploy-tasks")
        .join(&host.app)
        .join("dokku-files/app.json.missing");
    std::fs::remove_file(&record).expect("the deploy's record of no app.json");

    let restart = host.dokku(&["ps:restart", &host.app]);

    restart.expect_code(0);
    assert_eq!(tasks(&restart), Vec::<&str>::new(), "{restart:#?}");
}

/// A registry's image of `app`, removed when dropped (the test host removes `dokku/APP`'s).
struct RegistryImage(String);

impl Drop for RegistryImage {
    fn drop(&mut self) {
        let _ = std::process::Command::new(docker_bin())
            .args(["rmi", &self.0])
            .output();
    }
}

#[test]
fn given_a_registry_that_names_the_deployed_image_when_dokku_restarts_the_app_then_the_postdeploy_runs_in_that_image(
) {
    // Dokku's registry answers these from its properties (`image-repo`, `push-on-release`,
    // `tag-version`); the test's plugins from files of the host's own.
    for (plugin, trigger, suffix) in [
        ("test-registry-repo", "deployed-app-image-repo", "repo"),
        ("test-registry-tag", "deployed-app-image-tag", "tag"),
    ] {
        test_plugin(
            plugin,
            trigger,
            &format!("#!/bin/sh\nf=\"$DOKKU_LIB_ROOT/test-registry/$1.{suffix}\"\n[ -f \"$f\" ] && cat \"$f\"\nexit 0\n"),
        );
    }
    let host = TestHost::new("dokku-registry");
    let app = source(&[
        (
            "Dockerfile",
            "FROM deploy-tasks-test/bash:latest\nWORKDIR /app\nRUN echo built > /app/which\n",
        ),
        (
            "app.json",
            r#"{"scripts": {"dokku": {"postdeploy": "echo TASK postdeploy in $(cat /app/which)"}}}"#,
        ),
        ("Procfile", "web: sleep 600\n"),
    ]);
    let pushed = push(&host, &app);
    pushed.expect_code(0);
    assert_eq!(tasks(&pushed), ["postdeploy in built"], "{pushed:#?}");

    // The registry pushed version 7 of the app as its own repository, not as dokku/APP.
    let repository = format!("deploy-tasks-test-registry/{}", host.app);
    let registry = RegistryImage(format!("{repository}:7"));
    let context = source(&[(
        "Dockerfile",
        &format!(
            "FROM dokku/{}:latest\nRUN echo registry > /app/which\n",
            host.app
        ),
    )]);
    docker(&[
        "build",
        "-q",
        "-t",
        &registry.0,
        context.path().to_str().unwrap(),
    ]);
    host.write_lib(
        &format!("config/registry/{}/image-repo", host.app),
        &repository,
    );
    host.write_lib(&format!("test-registry/{}.repo", host.app), &repository);
    host.write_lib(&format!("test-registry/{}.tag", host.app), "7");

    let restart = host.dokku(&["ps:restart", &host.app]);

    restart.expect_code(0);
    assert_eq!(tasks(&restart), ["postdeploy in registry"], "{restart:#?}");
}

/// A plugin of the tests' own, `name`, enabled beside the plugin under test, whose `trigger` is
/// the shell script `script` (made once per test binary; each test host has its own lib root,
/// which the script reads its per-test data from).
fn test_plugin(name: &str, trigger: &str, script: &str) {
    let available = dokku_plugin_path().parent().unwrap().join("available");
    let plugin = available.join(name);
    if !plugin.exists() {
        let staging = tempfile::tempdir_in(&available).unwrap();
        let path = staging.path().join(trigger);
        std::fs::write(&path, script).unwrap();
        std::process::Command::new("chmod")
            .args([
                "755",
                path.to_str().unwrap(),
                staging.path().to_str().unwrap(),
            ])
            .status()
            .unwrap();
        // Another test may have made it meanwhile: either copy will do.
        let _ = std::fs::rename(staging.keep(), &plugin);
    }
    let _ = std::os::unix::fs::symlink(&plugin, dokku_plugin_path().join(name));
}

/// A plugin answering `docker-args-deploy` as Dokku's storage plugin does, with the options in
/// `$DOKKU_LIB_ROOT/test-storage/APP`.
fn storage_plugin() {
    // Dokku's plugins append to the options before them: a space first.
    test_plugin(
        "test-storage",
        "docker-args-deploy",
        "#!/bin/sh\ncat\nf=\"$DOKKU_LIB_ROOT/test-storage/$1\"\n[ -f \"$f\" ] && printf ' %s' \"$(cat \"$f\")\"\nexit 0\n",
    );
}

#[test]
fn given_another_plugins_storage_mount_when_dokku_deploys_then_the_tasks_see_it_and_the_config_keys_warn_about_nothing(
) {
    let host = TestHost::new("dokku-storage");
    storage_plugin();
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("seed.txt"), "from the mount\n").unwrap();
    host.write_lib(
        &format!("test-storage/{}", host.app),
        &format!("-v {}:/mnt/shared", shared.path().display()),
    );
    host.dokku(&["config:set", "--no-restart", &host.app, "SECRET=s3cr3t"])
        .expect_code(0);
    let app = source(&[
        ("Dockerfile", DOCKERFILE),
        (
            "app.json",
            r#"{"scripts": {"dokku": {"predeploy": "echo TASK predeploy $(cat /mnt/shared/seed.txt)"}}}"#,
        ),
        (
            "Procfile",
            "release: cat /mnt/shared/seed.txt\nweb: sleep 600\n",
        ),
    ]);

    let push = push(&host, &app);

    push.expect_code(0);
    assert_eq!(tasks(&push), ["predeploy from the mount"], "{push:#?}");
    assert!(push.stdout.contains("       from the mount\n"), "{push:#?}");
    assert!(!push.stderr.contains("docker option"), "{push:#?}");
}

#[test]
fn given_every_trigger_installed_when_dokkus_registry_plugin_fires_pre_deploy_too_then_the_predeploy_still_runs_once(
) {
    let host = TestHost::new("dokku-all-triggers");
    let app = every_task_source();

    // plugin_path(): installed with DOKKU_DEPLOY_TASKS_TRIGGERS=all, `pre-deploy` included.
    let push = Run::from(
        host.dokku_command(plugin_path(), &push_args(&host, &app))
            .output()
            .expect("running tests/host/dokku"),
    );

    push.expect_code(0)
        .stderr_has("Deprecated: please upgrade plugin to use 'pre-release-builder'")
        .stdout_has("The predeploy tasks already ran in this deploy");
    assert_eq!(
        tasks(&push),
        [
            "predeploy",
            "release on 5000",
            "heroku-postdeploy",
            "postdeploy"
        ],
        "{push:#?}"
    );
}

#[test]
fn given_a_plugin_answering_post_container_create_when_dokku_deploys_then_it_sees_each_task_container_before_it_starts_on_either_path(
) {
    // Like Dokku's network plugin: it acts on the created container (here: records its state).
    test_plugin(
        "test-network",
        "post-container-create",
        "#!/bin/sh\n[ \"$1\" = app ] || exit 0\nstate=$(docker inspect --format '{{.State.Status}}' \"$2\")\n\
         echo \"$1 $3 $4 $state\" >> \"$DOKKU_LIB_ROOT/post-container-create.log\"\necho attached $4\n",
    );
    for engine_api in ["1", "0"] {
        let host = TestHost::new("dokku-post-create");
        let app = every_task_source();

        let push = Run::from(
            host.dokku_command(dokku_plugin_path(), &push_args(&host, &app))
                .env("DOKKU_DEPLOY_TASKS_ENGINE_API", engine_api)
                .output()
                .expect("running tests/host/dokku"),
        );

        push.expect_code(0).stdout_has("attached release");
        assert_eq!(tasks(&push).len(), 4, "{push:#?}");
        let log = std::fs::read_to_string(host.lib_root().join("post-container-create.log"))
            .unwrap_or_default();
        let app_name = &host.app;
        let ours: Vec<&str> = log
            .lines()
            .filter(|line| line.starts_with(&format!("app {app_name} ")))
            .collect();
        assert_eq!(
            ours,
            [
                format!("app {app_name} predeploy created"),
                format!("app {app_name} release created"),
                // Heroku's scripts.postdeploy, named as Dokku's app-json names it, then the web
                // container Dokku schedules.
                format!("app {app_name} heroku.postdeploy created"),
                format!("app {app_name} deploy created"),
                format!("app {app_name} postdeploy created"),
            ],
            "engine API {engine_api}: {log}"
        );
    }
}

#[test]
fn given_a_deployed_app_when_dokku_renames_or_clones_it_then_the_new_app_keeps_its_tasks_and_the_old_records_go(
) {
    let host = TestHost::new("dokku-rename");
    let app = every_task_source();
    push(&host, &app).expect_code(0);
    let plugin = dokku_plugin_path().join("deploy-tasks");
    let trigger = |name: &str, args: &[&str]| {
        let run = std::process::Command::new(plugin.join(name))
            .args(args)
            .env("DOKKU_LIB_ROOT", host.lib_root())
            .env("DOKKU_ROOT", host.dokku_root())
            .output()
            .unwrap();
        assert!(run.status.success(), "{name}: {run:?}");
    };
    let data = |app: &str| host.lib_root().join("data/deploy-tasks").join(app);
    let (renamed, cloned) = (format!("{}-r", host.app), format!("{}-c", host.app));

    // apps:rename: post-app-rename-setup OLD NEW, then the old app is destroyed (post-delete).
    trigger("post-app-rename-setup", &[&host.app, &renamed]);
    trigger("post-delete", &[&host.app]);
    // apps:clone: post-app-clone-setup OLD NEW.
    trigger("post-app-clone-setup", &[&renamed, &cloned]);

    let kept = std::fs::read_to_string(data(&renamed).join("dokku-files/app.json")).unwrap();
    assert!(kept.contains("TASK postdeploy"), "{kept}");
    assert!(data(&renamed).join("history.jsonl").is_file());
    let cloned_kept = std::fs::read_to_string(data(&cloned).join("dokku-files/Procfile")).unwrap();
    assert!(cloned_kept.contains("release:"), "{cloned_kept}");
    assert!(
        !data(&cloned).join("history.jsonl").exists(),
        "a clone has run nothing yet"
    );
    // But Heroku's one-time postdeploy, which ran for the old app, is not run for its clone,
    // as Dokku's app-json clones its own mark of it.
    assert!(data(&renamed).join("heroku-postdeploy").is_file());
    assert!(
        data(&cloned).join("heroku-postdeploy").is_file(),
        "the clone would run the one-time postdeploy again"
    );
    assert!(
        !data(&host.app).exists(),
        "the old app's records outlived it"
    );
    for app in [&renamed, &cloned] {
        let _ = std::fs::remove_dir_all(data(app));
    }
}
