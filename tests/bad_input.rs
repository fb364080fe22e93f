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
