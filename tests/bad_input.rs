//! Scenarios: the host calls a trigger with bad input (arguments, engine, app.json, Procfile,
//! settings). Each is refused with exit status 1 and one line on stderr that says what is wrong,
//! without a panic, before any container is created and with the image unchanged.

mod support;

use std::process::Command;

use support::*;

/// An app with a predeploy, a release and a postdeploy task, none of which may run.
struct App {
    host: TestHost,
    image_before: String,
}

impl App {
    fn new(name: &str) -> App {
        let host = TestHost::new(name);
        let image_before = host.build_own("");
        host.host_app_json(
            r#"{"scripts": {"dokku": {"predeploy": "echo task ran", "postdeploy": "echo task ran"}}}"#,
        );
        host.host_procfile("release: echo task ran\n");
        App { host, image_before }
    }

    /// Runs `command` (a trigger of this host) and checks that it refused the input: exit 1, one
    /// line on stderr holding every one of `said`, no task run, no container, the image as before.
    fn expect_refused(&self, mut command: Command, said: &[&str]) -> Run {
        let since = engine_time();
        let run = Run::from(command.output().expect("running the trigger"));
        run.expect_code(1).one_line_error();
        for text in said {
            run.stderr_has(text);
        }
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("backtrace"),
            "{run:#?}"
        );
        assert!(!run.stdout.contains("task ran"), "a task ran; {run:#?}");
        assert_eq!(
            self.host.containers_created_since(&since),
            Vec::<String>::new(),
            "a container was created; {run:#?}"
        );
        assert_eq!(image_id(&self.host.image()), self.image_before);
        run
    }

    fn trigger(&self, trigger: &str, args: &[&str]) -> Command {
        self.host.trigger_command(trigger, args)
    }

    fn predeploy(&self) -> Command {
        self.trigger("pre-deploy", &[&self.host.app])
    }

    fn release(&self) -> Command {
        self.trigger("post-release", &[&self.host.app])
    }

    fn postdeploy(&self) -> Command {
        self.trigger("post-deploy", &[&self.host.app, "5000", "127.0.0.1"])
    }

    fn app_json_path(&self) -> String {
        self.host
            .lib_root()
            .join(format!("data/app-json/{}/app.json", self.host.app))
            .display()
            .to_string()
    }

    fn procfile_path(&self) -> String {
        self.host
            .lib_root()
            .join(format!("data/ps/{}/Procfile", self.host.app))
            .display()
            .to_string()
    }
}

#[test]
fn given_no_arguments_then_each_trigger_prints_its_usage() {
    let app = App::new("bad-usage");
    for (trigger, usage) in [
        ("pre-deploy", "usage: pre-deploy APP"),
        ("post-release", "usage: post-release APP"),
        ("post-deploy", "usage: post-deploy APP PORT IP"),
    ] {
        app.expect_refused(app.trigger(trigger, &[]), &[usage]);
    }
}

#[test]
fn given_an_app_name_dokku_refuses_then_every_trigger_refuses_it() {
    let app = App::new("bad-app-name");
    for name in ["../etc", "App", ""] {
        for (trigger, args) in [
            ("pre-deploy", vec![name]),
            ("post-release", vec![name]),
            ("post-deploy", vec![name, "5000", "127.0.0.1"]),
        ] {
            app.expect_refused(
                app.trigger(trigger, &args),
                &[&format!("app name `{name}`"), "not a valid Dokku app name"],
            );
        }
    }
}

#[test]
fn given_a_tag_with_no_image_then_the_trigger_says_there_is_no_such_image() {
    let app = App::new("bad-tag");
    let reference = format!("dokku/{}:no-such-tag", app.host.app);
    app.expect_refused(
        app.trigger("pre-deploy", &[&app.host.app, "no-such-tag"]),
        &[&format!("there is no image {reference}")],
    );
    app.expect_refused(
        app.trigger("post-release", &[&app.host.app, "no-such-tag"]),
        &[&format!("there is no image {reference}")],
    );
}

#[test]
fn given_docker_bin_pointing_at_a_missing_path_then_the_trigger_says_there_is_no_docker_cli() {
    let app = App::new("bad-docker-bin");
    let mut command = app.predeploy();
    command.env("DOCKER_BIN", "/nonexistent/bin/docker");

    app.expect_refused(command, &["/nonexistent/bin/docker", "DOCKER_BIN"]);
}

#[test]
fn given_an_engine_that_does_not_answer_then_the_trigger_says_so() {
    let app = App::new("bad-docker-host");
    let mut command = app.predeploy();
    command.env("DOCKER_HOST", "unix:///nonexistent.sock");

    app.expect_refused(command, &["does not answer"]);
}

#[test]
fn given_an_app_json_syntax_error_then_the_message_has_its_line_and_column() {
    let app = App::new("bad-json-syntax");
    app.host.host_app_json(
        "{\n  \"scripts\": {\n    \"dokku\": {\"predeploy\": \"echo task ran\"}\n    \"postdeploy\": \"echo task ran\"\n  }\n}\n",
    );

    app.expect_refused(
        app.predeploy(),
        &[
            &format!("{} line 4, column 5", app.app_json_path()),
            "not valid JSON",
        ],
    );
}

#[test]
fn given_an_app_json_with_an_unclosed_block_comment_then_the_message_names_its_line() {
    let app = App::new("bad-json-comment");
    app.host.host_app_json(
        "{\n  /* run the migrations\n  \"scripts\": {\"dokku\": {\"predeploy\": \"echo task ran\"}}\n}\n",
    );

    app.expect_refused(
        app.predeploy(),
        &[
            &format!("{} line 2, column 3", app.app_json_path()),
            "/* comment is never closed",
        ],
    );
}

#[test]
fn given_a_wrong_type_outside_the_scripts_then_the_message_names_the_key() {
    let app = App::new("bad-json-formation");
    app.host.host_app_json(
        "{\n  // Dokku reads nothing from this file, so neither do we\n  \"formation\": {\"web\": {\"quantity\": \"2\"}},\n  \"scripts\": {\"dokku\": {\"predeploy\": \"echo task ran\"}}\n}\n",
    );

    app.expect_refused(
        app.predeploy(),
        &[
            &format!("{} line 3, column 37", app.app_json_path()),
            "formation.web.quantity must be a whole number",
        ],
    );
}

#[test]
fn given_a_predeploy_that_is_a_number_then_the_message_names_the_key() {
    let app = App::new("bad-json-type");
    app.host
        .host_app_json(r#"{"scripts": {"dokku": {"predeploy": 5}}}"#);

    app.expect_refused(
        app.predeploy(),
        &[
            app.app_json_path().as_str(),
            "scripts.dokku.predeploy must be a string",
        ],
    );
}

#[test]
fn given_an_app_json_holding_an_array_then_the_message_says_it_must_be_an_object() {
    let app = App::new("bad-json-array");
    app.host
        .host_app_json(r#"[{"scripts": {"dokku": {"predeploy": "echo task ran"}}}]"#);

    app.expect_refused(
        app.predeploy(),
        &[app.app_json_path().as_str(), "must hold a JSON object"],
    );
}

#[test]
fn given_an_app_json_that_is_not_utf8_then_the_message_says_so() {
    let app = App::new("bad-json-utf8");
    std::fs::write(
        app.app_json_path(),
        b"{\"scripts\": {\"dokku\": {\"predeploy\": \"echo caf\xe9\"}}}",
    )
    .unwrap();

    app.expect_refused(
        app.predeploy(),
        &[
            &format!("{} line 1, column 46", app.app_json_path()),
            "not valid UTF-8",
        ],
    );
}

#[test]
fn given_an_app_json_over_one_mebibyte_then_the_message_says_it_is_too_large() {
    let app = App::new("bad-json-size");
    app.host.host_app_json(&format!(
        r#"{{"description": "{}", "scripts": {{"dokku": {{"predeploy": "echo task ran"}}}}}}"#,
        "x".repeat(1_100_000)
    ));

    app.expect_refused(app.predeploy(), &[app.app_json_path().as_str(), "1 MiB"]);
}

#[test]
fn given_a_procfile_defining_release_twice_then_the_message_names_both_lines() {
    let app = App::new("bad-procfile-twice");
    app.host
        .host_procfile("release: echo task ran\nweb: httpd -f\nrelease: echo task ran\n");

    app.expect_refused(
        app.release(),
        &[
            &format!("{} line 3", app.procfile_path()),
            "defined twice, first on line 1",
        ],
    );
}

#[test]
fn given_a_procfile_release_with_no_command_then_the_message_says_so() {
    let app = App::new("bad-procfile-empty");
    app.host.host_procfile("web: httpd -f\nrelease:\n");

    app.expect_refused(
        app.release(),
        &[&format!("{} line 2", app.procfile_path()), "has no command"],
    );
}

#[test]
fn given_a_malformed_procfile_line_then_the_message_names_the_line() {
    let app = App::new("bad-procfile-line");
    app.host
        .host_procfile("web: httpd -f\nrelease echo task ran\n");

    app.expect_refused(
        app.release(),
        &[&format!("{} line 2", app.procfile_path()), "`:`"],
    );
}

#[test]
fn given_a_procfile_line_with_a_no_break_space_before_its_colon_then_it_is_refused_as_dokku_refuses_it(
) {
    // procfile-util allows only Go's `\s` there: a space, tab, form feed, CR or LF.
    let app = App::new("bad-procfile-space");
    app.host
        .host_procfile("web \x0c\t: httpd -f\nrelease\u{a0}: echo task ran\n");

    app.expect_refused(app.release(), &[&format!("{} line 2", app.procfile_path())]);
}

#[test]
fn given_a_broken_app_json_then_the_release_and_postdeploy_triggers_fail_too() {
    let app = App::new("bad-json-every-phase");
    app.host.host_app_json("{\"scripts\": ");

    app.expect_refused(app.release(), &[app.app_json_path().as_str()]);
    app.expect_refused(app.postdeploy(), &[app.app_json_path().as_str()]);
}

#[test]
fn given_a_broken_procfile_then_the_predeploy_trigger_fails_too() {
    let app = App::new("bad-procfile-every-phase");
    app.host.host_procfile("release:\n");

    app.expect_refused(app.predeploy(), &[app.procfile_path().as_str()]);
}

#[test]
fn given_a_timeout_setting_that_is_not_a_number_then_the_message_names_the_file() {
    let app = App::new("bad-timeout");
    app.host.setting("timeout", "soon");
    let setting = app
        .host
        .lib_root()
        .join(format!("config/deploy-tasks/{}/timeout", app.host.app));

    app.expect_refused(app.release(), &[&setting.display().to_string(), "`soon`"]);
}

/// Runs `command` under `/usr/bin/time`, returning the run and the peak resident size in KiB of
/// the largest process it waited for (the trigger, or a CLI it ran).
fn run_measuring_memory(command: &Command) -> (Run, u64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(std::process::Stdio::null());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    let run = Run::from(timed.output().expect("running the trigger under time"));
    let text = std::fs::read_to_string(report.path()).unwrap();
    let peak = text
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak size in {text:?}"));
    (run, peak)
}

/// The trigger's run on the Engine API path (`1`) or the CLI path (`0`).
fn on_path(host: &TestHost, trigger: &str, engine_api: &str) -> Command {
    let mut args = vec![host.app.as_str()];
    if trigger == "post-deploy" {
        args.extend(["5000", "127.0.0.1"]);
    }
    let mut command = host.trigger_command(trigger, &args);
    command.env("DOKKU_DEPLOY_TASKS_ENGINE_API", engine_api);
    command
}

#[test]
fn given_a_200_mb_app_json_in_the_image_then_it_is_refused_in_one_line_with_little_memory() {
    let host = TestHost::new("bad-json-huge");
    host.build(
        &busybox_app("RUN dd if=/dev/zero of=/app/app.json bs=1048576 count=200 2>/dev/null"),
        &[],
    );
    for engine_api in ["1", "0"] {
        let (run, peak_kib) = run_measuring_memory(&on_path(&host, "pre-deploy", engine_api));

        run.expect_code(1)
            .one_line_error()
            .stderr_has("/app/app.json in ")
            .stderr_has("over the limit of 1048576 bytes (1 MiB)");
        // Generous: the trigger holds at most 1 MiB of the file, the Docker CLI (on its path)
        // is 24 to 40 MiB whatever it does; a whole read would be over 200 MiB.
        assert!(
            peak_kib < 64 * 1024,
            "peak resident size {peak_kib} KiB on engine-api={engine_api}; {run:#?}"
        );
        assert_eq!(host.containers(), Vec::<String>::new());
    }
}

#[test]
fn given_a_procfile_that_is_a_link_to_the_root_in_the_image_then_it_is_refused_as_a_directory() {
    let host = TestHost::new("bad-procfile-root");
    host.build(&busybox_app("RUN ln -s / /app/Procfile"), &[]);
    for engine_api in ["1", "0"] {
        let (run, peak_kib) = run_measuring_memory(&on_path(&host, "post-release", engine_api));

        run.expect_code(1)
            .one_line_error()
            .stderr_has("/app/Procfile in ")
            .stderr_has("is a directory");
        assert!(
            peak_kib < 64 * 1024,
            "peak resident size {peak_kib} KiB on engine-api={engine_api}; {run:#?}"
        );
        assert_eq!(host.containers(), Vec::<String>::new());
    }
}

#[test]
fn given_a_host_app_json_that_is_a_fifo_then_the_trigger_refuses_it_at_once() {
    let app = App::new("bad-json-fifo");
    let path = app.app_json_path();
    std::fs::remove_file(&path).unwrap();
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success());

    let mut command = app.predeploy();
    let (done, finished) = std::sync::mpsc::channel();
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = done.send(Run::from(child.wait_with_output().unwrap()));
    });
    // A generous bound on a hang, not a measure of speed: no writer ever opens the FIFO.
    let Ok(run) = finished.recv_timeout(std::time::Duration::from_secs(10)) else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("the trigger blocked on the FIFO");
    };

    run.expect_code(1)
        .one_line_error()
        .stderr_has(&format!("{path} is a FIFO, not a regular file"));
}

#[test]
fn given_a_fifo_planted_as_the_apps_lock_then_the_trigger_refuses_it_at_once() {
    let app = App::new("lock-fifo");
    let dir = app
        .host
        .lib_root()
        .join("data/deploy-tasks")
        .join(&app.host.app);
    std::fs::create_dir_all(&dir).unwrap();
    let lock = dir.join("lock");
    assert!(Command::new("mkfifo")
        .arg(&lock)
        .status()
        .unwrap()
        .success());

    let mut command = app.predeploy();
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // A generous bound on a hang (finish_within), not a measure of speed: before, the open
    // of the lock waited for a reader of the FIFO, past every stop signal.
    let run = finish_within(command.spawn().unwrap());

    run.expect_code(1).one_line_error().stderr_has(&format!(
        "{} is a FIFO or a device, where the plugin keeps a file of its own: remove it",
        lock.display()
    ));
    assert!(!run.stdout.contains("task ran"), "a task ran; {run:#?}");
    assert_eq!(image_id(&app.host.image()), app.image_before);
    assert!(app.host.task_containers().is_empty());
}

#[test]
fn given_a_host_app_json_linked_to_dev_zero_then_it_is_refused_not_read() {
    let app = App::new("bad-json-zero");
    let path = app.app_json_path();
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();

    app.expect_refused(
        app.predeploy(),
        &[&format!("{path} is a symbolic link, not a regular file")],
    );
}

#[test]
fn given_an_app_json_linked_through_a_long_name_in_the_image_then_both_paths_find_it() {
    let host = TestHost::new("src-long-link");
    // Over the 100 bytes a ustar header holds: the engine writes the link's target in a PAX
    // (or GNU) record of its own.
    let directory = format!("/app/{}", "nested-directory-".repeat(8));
    host.build(
        &busybox_app(&format!(
            "COPY real.json {directory}/real.json\nRUN ln -s {directory}/real.json /app/app.json"
        )),
        &[(
            "real.json",
            r#"{"scripts": {"dokku": {"predeploy": "echo through-the-long-link"}}}"#,
        )],
    );
    for engine_api in ["1", "0"] {
        let run = Run::from(on_path(&host, "pre-deploy", engine_api).output().unwrap());

        run.expect_code(0)
            .stdout_has("       through-the-long-link\n");
        assert_eq!(host.containers(), Vec::<String>::new());
    }
}

#[test]
fn given_a_command_with_a_nul_byte_then_it_is_bad_input_before_any_container() {
    let app = App::new("bad-command-nul");
    app.host
        .host_procfile("web: httpd -f\nrelease: echo a\0b\n");
    app.expect_refused(
        app.release(),
        &[
            &format!("{} line 2", app.procfile_path()),
            "the `release` process holds a NUL byte",
        ],
    );

    app.host.host_procfile("");
    app.host
        .host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo a\u0000b"}}}"#);
    let run = app.expect_refused(
        app.predeploy(),
        &[
            &format!("{} line 1, column 37", app.app_json_path()),
            "scripts.dokku.predeploy holds a NUL byte",
        ],
    );
    assert!(!run.stderr.contains('\0'), "{run:#?}");
}

#[test]
fn given_a_link_planted_as_the_lock_or_the_history_then_neither_is_followed() {
    let app = App::new("bad-planted-link");
    let data = app
        .host
        .lib_root()
        .join(format!("data/deploy-tasks/{}", app.host.app));
    std::fs::create_dir_all(&data).unwrap();
    let target = app.host.dir.path().join("not-the-plugins");
    std::fs::write(&target, "kept\n").unwrap();

    std::os::unix::fs::symlink(&target, data.join("lock")).unwrap();
    // Refused once the tasks are known (their discovery needs no lock), before any runs.
    let run = Run::from(app.release().output().unwrap());
    run.expect_code(1)
        .one_line_error()
        .stderr_has(&format!("{}/lock is a symbolic link", data.display()));
    assert!(!run.stdout.contains("task ran"), "{run:#?}");
    assert_eq!(app.host.containers(), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept\n");

    std::fs::remove_file(data.join("lock")).unwrap();
    std::os::unix::fs::symlink(&target, data.join("history.jsonl")).unwrap();
    // The history never fails a deploy: the task runs, and the run says it was not recorded.
    app.host.host_procfile("release: echo the-task-ran-once\n");
    app.host
        .release()
        .expect_code(0)
        .stdout_has("the-task-ran-once")
        .stderr_has("history.jsonl is a symbolic link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept\n");
}
