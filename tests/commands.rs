//! Scenarios: an operator runs `dokku deploy-tasks:*`, which Dokku turns into calls of the
//! installed `subcommands/NAME` (with `deploy-tasks:NAME` as the first argument) and `commands`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::*;

/// The command Dokku runs for `dokku deploy-tasks:NAME ARGS` (`subcommands/NAME`), or for a
/// command no subcommand answers (`commands`), with the host's environment.
fn entry_point(host: &TestHost, path: &str, args: &[&str]) -> Command {
    let mut command = Command::new(plugin_path().join("deploy-tasks").join(path));
    command
        .args(args)
        .env_remove("DOKKU_TRACE")
        .env_remove("DOKKU_QUIET_OUTPUT")
        .env_remove("DOKKU_GLOBAL_RUN_ARGS")
        .env("DOKKU_ROOT", host.dokku_root())
        .env("DOKKU_LIB_ROOT", host.lib_root())
        .env("DOCKER_BIN", docker_bin())
        .env("PLUGIN_AVAILABLE_PATH", host.dir.path().join("plugins"))
        .env(
            "PLUGIN_CORE_AVAILABLE_PATH",
            host.dir.path().join("core-plugins"),
        )
        .stdin(std::process::Stdio::null());
    command
}

/// `dokku deploy-tasks:NAME ARGS`.
fn dokku(host: &TestHost, name: &str, args: &[&str]) -> Run {
    let full = format!("deploy-tasks:{name}");
    let mut all = vec![full.as_str()];
    all.extend_from_slice(args);
    Run::from(
        entry_point(host, &format!("subcommands/{name}"), &all)
            .output()
            .expect("running the subcommand"),
    )
}

/// `commands ARGS`, as Dokku calls every plugin's for `dokku help` and unknown commands.
fn commands(host: &TestHost, args: &[&str]) -> Run {
    Run::from(
        entry_point(host, "commands", args)
            .output()
            .expect("running commands"),
    )
}

fn app_setting(host: &TestHost, key: &str) -> PathBuf {
    host.lib_root()
        .join("config/deploy-tasks")
        .join(&host.app)
        .join(key)
}

fn global_setting(host: &TestHost, key: &str) -> PathBuf {
    host.lib_root()
        .join("config/deploy-tasks/--global")
        .join(key)
}

/// The report's rows as (label, value), and the column each value starts at.
fn report_rows(stdout: &str) -> Vec<(String, String, usize)> {
    stdout
        .lines()
        .skip(1)
        .map(|line| {
            let row = line
                .strip_prefix("       ")
                .unwrap_or_else(|| panic!("row not indented 7 spaces: {line:?}"));
            let colon = row.find(':').expect("a label ends with a colon");
            let rest = &row[colon + 1..];
            let value = rest.trim_start();
            let column = 7 + colon + 1 + (rest.len() - value.len());
            (row[..=colon].to_string(), value.to_string(), column)
        })
        .collect()
}

fn value_of<'a>(rows: &'a [(String, String, usize)], label: &str) -> &'a str {
    &rows
        .iter()
        .find(|(name, _, _)| name == label)
        .unwrap_or_else(|| panic!("no row {label:?} in {rows:?}"))
        .1
}

#[test]
fn given_an_app_when_a_setting_is_set_then_it_is_written_without_a_newline_and_unset_removes_it() {
    let host = TestHost::new("cmd-set");

    dokku(&host, "set", &[&host.app, "timeout", "30"])
        .expect_code(0)
        .stdout_has("=====> Setting timeout to 30");
    assert_eq!(
        std::fs::read_to_string(app_setting(&host, "timeout")).unwrap(),
        "30"
    );

    dokku(&host, "set", &["--global", "release-on-failure", "warn"])
        .expect_code(0)
        .stdout_has("=====> Setting release-on-failure to warn");
    assert_eq!(
        std::fs::read_to_string(global_setting(&host, "release-on-failure")).unwrap(),
        "warn"
    );

    dokku(&host, "set", &[&host.app, "skip", "predeploy, postdeploy"])
        .expect_code(0)
        .stdout_has("=====> Setting skip to predeploy,postdeploy");
    dokku(
        &host,
        "set",
        &[&host.app, "appjson-path", "deploy/app.json"],
    )
    .expect_code(0);
    dokku(&host, "set", &[&host.app, "shell", "/bin/ash"]).expect_code(0);
    dokku(&host, "set", &[&host.app, "core-tasks", "defer"]).expect_code(0);

    dokku(&host, "set", &[&host.app, "timeout"])
        .expect_code(0)
        .stdout_has("=====> Unsetting timeout");
    assert!(!app_setting(&host, "timeout").exists());
    dokku(&host, "set", &[&host.app, "skip", ""])
        .expect_code(0)
        .stdout_has("=====> Unsetting skip");
    assert!(!app_setting(&host, "skip").exists());
    // Unsetting what is not set is no error.
    dokku(&host, "set", &[&host.app, "skip"]).expect_code(0);
}

#[test]
fn given_an_argument_that_is_not_utf8_then_a_command_and_a_trigger_refuse_it_in_one_line() {
    use std::os::unix::ffi::OsStrExt;
    let host = TestHost::new("cmd-not-utf8");
    let value = std::ffi::OsStr::from_bytes(b"/bin/\xff");
    let mut set = entry_point(
        &host,
        "subcommands/set",
        &["deploy-tasks:set", &host.app, "shell"],
    );
    let run = Run::from(set.arg(value).output().expect("running the subcommand"));
    run.expect_code(1)
        .one_line_error()
        .stderr_has("argument 4 (\"/bin/\\xFF\") is not valid UTF-8");
    assert!(!app_setting(&host, "shell").exists());
    let mut trigger = host.trigger_command("post-deploy", &[]);
    let run = Run::from(trigger.arg(value).output().expect("running the trigger"));
    run.expect_code(1)
        .one_line_error()
        .stderr_has("argument 1 (\"/bin/\\xFF\") is not valid UTF-8");
}

#[test]
fn given_a_bad_key_or_value_when_set_then_one_line_names_the_key_and_nothing_is_written() {
    let host = TestHost::new("cmd-set-bad");
    for (key, value, allowed) in [
        ("timeout", "soon", "whole number of seconds"),
        ("predeploy-timeout", "-5", "whole number of seconds"),
        ("release-on-failure", "ignore", "`fail` or `warn`"),
        (
            "skip",
            "build",
            "`predeploy`, `release`, `postdeploy`, or `all`",
        ),
        ("appjson-path", "/etc/app.json", "relative"),
        ("procfile-path", "../Procfile", "without `..`"),
        ("shell", "bash", "absolute path"),
        ("core-tasks", "both", "`defer` or `replace`"),
        ("timeouts", "30", "use one of timeout, predeploy-timeout"),
    ] {
        dokku(&host, "set", &[&host.app, key, value])
            .expect_code(1)
            .one_line_error()
            .stderr_has(&format!("`{key}`"))
            .stderr_has(allowed);
    }
    dokku(&host, "set", &["--global", "timeout", "1.5"])
        .expect_code(1)
        .one_line_error();
    // 0 is no limit for a task, and refused for the engine, however it is written.
    for zero in ["0", "00"] {
        dokku(&host, "set", &["--global", "engine-timeout", zero])
            .expect_code(1)
            .one_line_error()
            .stderr_has("engine-timeout cannot be 0");
    }
    assert!(
        !host.lib_root().join("config/deploy-tasks").exists(),
        "a refused setting wrote something"
    );

    dokku(&host, "set", &[&host.app, "timeout", "30"]).expect_code(0);
    dokku(&host, "set", &[&host.app, "timeout", "thirty"])
        .expect_code(1)
        .one_line_error();
    assert_eq!(
        std::fs::read_to_string(app_setting(&host, "timeout")).unwrap(),
        "30",
        "a refused value replaced the one set"
    );

    dokku(&host, "set", &["Bad_App", "timeout", "30"])
        .expect_code(1)
        .one_line_error()
        .stderr_has("not a valid Dokku app name");
    // Dokku's own status for an app that does not exist, in every command.
    dokku(&host, "set", &["no-such-app-anywhere", "timeout", "30"])
        .expect_code(20)
        .one_line_error()
        .stderr_has("does not exist");
    for (command, args) in [
        ("report", vec!["no-such-app-anywhere"]),
        ("history", vec!["no-such-app-anywhere"]),
        ("run", vec!["no-such-app-anywhere", "release"]),
    ] {
        dokku(&host, command, &args)
            .expect_code(20)
            .one_line_error()
            .stderr_has("does not exist");
    }
    dokku(&host, "set", &[&host.app])
        .expect_code(1)
        .one_line_error()
        .stderr_has("usage: dokku deploy-tasks:set");
}

#[test]
fn given_app_and_global_settings_when_reported_then_rows_are_dokkus_with_values_in_one_column() {
    let host = TestHost::new("cmd-report");
    dokku(&host, "set", &[&host.app, "timeout", "30"]).expect_code(0);
    dokku(&host, "set", &["--global", "timeout", "60"]).expect_code(0);
    dokku(&host, "set", &["--global", "release-on-failure", "warn"]).expect_code(0);
    dokku(&host, "set", &["--global", "postdeploy-timeout", "5"]).expect_code(0);

    let run = dokku(&host, "report", &[&host.app]);

    run.expect_code(0);
    assert_eq!(
        run.stdout.lines().next(),
        Some(format!("=====> {} deploy-tasks information", host.app).as_str())
    );
    let rows = report_rows(&run.stdout);
    assert_eq!(
        rows.len(),
        45,
        "three rows for each of 14 keys, one per phase for its tasks: {rows:?}"
    );
    let mut labels: Vec<&str> = rows.iter().map(|(label, _, _)| label.as_str()).collect();
    let in_order = labels.clone();
    labels.sort();
    assert_eq!(
        in_order, labels,
        "rows are sorted by flag, as Dokku sorts them"
    );
    let columns: Vec<usize> = rows
        .iter()
        .filter(|(_, value, _)| !value.is_empty())
        .map(|(_, _, column)| *column)
        .collect();
    assert!(
        columns.windows(2).all(|pair| pair[0] == pair[1]),
        "values are not in one column:\n{}",
        run.stdout
    );
    for (label, value) in [
        ("Deploy tasks timeout:", "30"),
        ("Deploy tasks global timeout:", "60"),
        ("Deploy tasks computed timeout:", "30"),
        ("Deploy tasks release timeout:", ""),
        ("Deploy tasks computed release timeout:", "30"),
        ("Deploy tasks global postdeploy timeout:", "5"),
        ("Deploy tasks computed postdeploy timeout:", "5"),
        ("Deploy tasks release on failure:", ""),
        ("Deploy tasks global release on failure:", "warn"),
        ("Deploy tasks computed release on failure:", "warn"),
        ("Deploy tasks computed predeploy on failure:", "fail"),
        ("Deploy tasks computed skip:", ""),
        ("Deploy tasks computed shell:", ""),
        ("Deploy tasks computed appjson path:", "app.json"),
        ("Deploy tasks computed procfile path:", "Procfile"),
        ("Deploy tasks computed core tasks:", "replace"),
    ] {
        assert_eq!(value_of(&rows, label), value, "{label}");
    }
}

#[test]
fn given_no_settings_when_reported_then_computed_values_are_the_defaults() {
    let host = TestHost::new("cmd-report-defaults");

    let rows = report_rows(&dokku(&host, "report", &[&host.app]).expect_code(0).stdout);

    assert_eq!(value_of(&rows, "Deploy tasks computed timeout:"), "1200");
    for phase in ["predeploy", "release", "postdeploy"] {
        assert_eq!(
            value_of(&rows, &format!("Deploy tasks computed {phase} timeout:")),
            "1200"
        );
        assert_eq!(
            value_of(&rows, &format!("Deploy tasks computed {phase} on failure:")),
            "fail"
        );
    }
    assert_eq!(
        value_of(&rows, "Deploy tasks computed core tasks:"),
        "replace"
    );
    assert!(rows
        .iter()
        .filter(|(label, _, _)| !label.contains("computed"))
        .all(|(_, value, _)| value.is_empty()));
}

#[test]
fn given_dokkus_app_json_plugin_when_reported_then_core_tasks_defer_unless_set() {
    let host = TestHost::new("cmd-report-core");
    std::fs::create_dir_all(host.dir.path().join("core-plugins/app-json")).unwrap();
    let flag = "--deploy-tasks-computed-core-tasks";

    dokku(&host, "report", &[&host.app, flag])
        .expect_code(0)
        .stdout_has("defer\n");
    dokku(&host, "set", &[&host.app, "core-tasks", "replace"]).expect_code(0);
    dokku(&host, "report", &[&host.app, flag])
        .expect_code(0)
        .stdout_has("replace\n");
}

#[test]
fn given_a_flag_when_reported_then_only_that_value_is_printed_and_a_bad_flag_lists_the_good_ones() {
    let host = TestHost::new("cmd-report-flag");
    dokku(&host, "set", &[&host.app, "timeout", "30"]).expect_code(0);
    dokku(&host, "set", &["--global", "timeout", "60"]).expect_code(0);

    for (flag, value) in [
        ("--deploy-tasks-timeout", "30\n"),
        ("--deploy-tasks-global-timeout", "60\n"),
        ("--deploy-tasks-computed-timeout", "30\n"),
        ("--deploy-tasks-computed-release-timeout", "30\n"),
        ("--deploy-tasks-skip", "\n"),
    ] {
        let run = dokku(&host, "report", &[&host.app, flag]);
        run.expect_code(0);
        assert_eq!(run.stdout, value, "{flag}");
    }

    dokku(&host, "report", &[&host.app, "--deploy-tasks-bogus"])
        .expect_code(1)
        .one_line_error()
        .stderr_has("--deploy-tasks-bogus")
        .stderr_has("--deploy-tasks-computed-timeout")
        .stderr_has("--deploy-tasks-global-core-tasks");
}

#[test]
fn given_global_when_reported_then_only_the_global_and_computed_values_of_the_global_settings_show_as_in_dokku_0_38(
) {
    let host = TestHost::new("cmd-report-global");
    dokku(&host, "set", &[&host.app, "timeout", "99"]).expect_code(0);
    dokku(&host, "set", &["--global", "timeout", "60"]).expect_code(0);

    let run = dokku(&host, "report", &["--global"]);

    run.expect_code(0)
        .stdout_has("=====> --global deploy-tasks information\n");
    let rows = report_rows(&run.stdout);
    assert_eq!(value_of(&rows, "Deploy tasks global timeout:"), "60");
    assert_eq!(value_of(&rows, "Deploy tasks computed timeout:"), "60");
    assert_eq!(
        value_of(&rows, "Deploy tasks computed release timeout:"),
        "60"
    );
    assert_eq!(
        value_of(&rows, "Deploy tasks computed predeploy on failure:"),
        "fail"
    );
    assert!(
        rows.iter()
            .all(|(row, _, _)| row.starts_with("Deploy tasks global ")
                || row.starts_with("Deploy tasks computed ")),
        "{rows:?}"
    );
    assert!(!run.stdout.contains("99"), "{}", run.stdout);

    let json = dokku(&host, "report", &["--global", "--format", "json"]);
    let report: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&json.expect_code(0).stdout).expect("the report is a JSON object");
    assert_eq!(report["computed-timeout"], "60");
    assert!(!report.contains_key("timeout") && !report.contains_key("predeploy-tasks"));
    let flag = dokku(
        &host,
        "report",
        &["--deploy-tasks-computed-timeout", "--global"],
    );
    assert_eq!(flag.expect_code(0).stdout, "60\n");
    dokku(&host, "report", &[&host.app, "--global"])
        .expect_code(1)
        .one_line_error();
}

#[test]
fn given_tasks_that_cannot_be_read_when_their_flag_is_reported_then_it_fails_in_one_line_and_the_whole_report_shows_why(
) {
    let host = TestHost::new("cmd-report-broken");
    host.build_own("");
    host.host_app_json("{\"scripts\": {\"dokku\": {\"predeploy\": 7}}}");

    let flag = dokku(
        &host,
        "report",
        &[&host.app, "--deploy-tasks-predeploy-tasks"],
    );

    flag.expect_code(1).one_line_error().stderr_has("app.json");
    assert_eq!(flag.stdout, "");
    let whole = dokku(&host, "report", &[&host.app]);
    whole
        .expect_code(0)
        .stdout_has("Deploy tasks predeploy tasks:");
    let rows = report_rows(&whole.stdout);
    let predeploy = value_of(&rows, "Deploy tasks predeploy tasks:");
    assert!(predeploy.starts_with("error: "), "{predeploy}");
}

#[test]
fn given_dokkus_report_of_an_app_then_the_plugins_report_trigger_prints_the_apps_report() {
    let host = TestHost::new("cmd-report-trigger");
    dokku(&host, "set", &[&host.app, "timeout", "30"]).expect_code(0);

    // `dokku report APP` fires `report APP` in every plugin after the host's vitals.
    let run = host.trigger("report", &[&host.app]);

    run.expect_code(0)
        .stdout_has(&format!("=====> {} deploy-tasks information\n", host.app));
    let rows = report_rows(&run.stdout);
    assert_eq!(value_of(&rows, "Deploy tasks timeout:"), "30");
    host.trigger("report", &["no-such-app-anywhere"])
        .expect_code(20)
        .one_line_error();
}

#[test]
fn given_format_json_when_reported_then_one_object_keyed_by_flag_names_without_the_prefix() {
    let host = TestHost::new("cmd-report-json");
    dokku(&host, "set", &[&host.app, "timeout", "30"]).expect_code(0);
    dokku(&host, "set", &["--global", "timeout", "60"]).expect_code(0);

    let run = dokku(&host, "report", &[&host.app, "--format", "json"]);

    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    let report: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.stdout).expect("the report is a JSON object");
    assert_eq!(report.len(), 45);
    for (key, value) in [
        ("timeout", "30"),
        ("global-timeout", "60"),
        ("computed-timeout", "30"),
        ("computed-predeploy-timeout", "30"),
        ("skip", ""),
        ("computed-core-tasks", "replace"),
    ] {
        assert_eq!(report[key], value, "{key}");
    }
}

#[test]
fn given_several_apps_when_reported_without_an_app_then_every_app_is_reported_in_order() {
    let host = TestHost::new("cmd-report-all");
    let root = host.dokku_root();
    for other in ["zz-last", "0-first"] {
        std::fs::create_dir_all(root.join(other)).unwrap();
    }
    // Not apps: Dokku's certificates, hidden directories, files.
    std::fs::create_dir_all(root.join("tls")).unwrap();
    std::fs::create_dir_all(root.join(".ssh")).unwrap();
    std::fs::write(root.join("ENV"), "").unwrap();

    let run = dokku(&host, "report", &[]);

    run.expect_code(0);
    let headings: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("=====> "))
        .collect();
    assert_eq!(
        headings,
        [
            "=====> 0-first deploy-tasks information".to_string(),
            format!("=====> {} deploy-tasks information", host.app),
            "=====> zz-last deploy-tasks information".to_string(),
        ]
    );
}

#[test]
fn given_no_app_when_reported_without_an_app_then_it_warns_as_dokkus_reports_and_succeeds() {
    let host = TestHost::new("cmd-report-none");
    std::fs::remove_dir_all(host.dokku_root().join(&host.app)).unwrap();

    let run = dokku(&host, "report", &[]);

    run.expect_code(0)
        .one_line_error()
        .stderr_has("You haven't deployed any applications yet");
}

#[test]
fn given_a_release_task_when_run_by_hand_then_it_runs_and_leaves_no_container() {
    let host = TestHost::new("cmd-run-release");
    host.build_own("");
    host.host_procfile(
        "web: httpd -f\nrelease: echo release ran for $APP in $DOKKU_DEPLOY_PHASE\n",
    );

    dokku(&host, "run", &[&host.app, "release"])
        .expect_code(0)
        .stdout_has("-----> Checking for release task")
        .stdout_has("       Executing release task from Procfile: echo release ran")
        .stdout_has(&format!("release ran for {} in release", host.app));
    assert!(
        host.task_containers().is_empty(),
        "{:?}",
        host.task_containers()
    );
}

#[test]
fn given_a_predeploy_task_when_run_with_no_commit_then_the_image_is_unchanged_and_a_plain_run_commits(
) {
    let host = TestHost::new("cmd-run-predeploy");
    let before = host.build_own("");
    host.host_app_json(
        r#"{"scripts": {"dokku": {"predeploy": "echo built > /app/marker && echo predeploy done"}}}"#,
    );

    dokku(&host, "run", &["--no-commit", &host.app, "predeploy"])
        .expect_code(0)
        .stdout_has("predeploy done");
    assert_eq!(
        image_id(&host.image()),
        before,
        "--no-commit changed the image"
    );
    assert!(
        host.task_containers().is_empty(),
        "{:?}",
        host.task_containers()
    );

    dokku(&host, "run", &[&host.app, "predeploy", "latest"])
        .expect_code(0)
        .stdout_has("predeploy done")
        .stdout_has(&format!(
            "Committed the predeploy result into {}",
            host.image()
        ));
    assert_ne!(
        image_id(&host.image()),
        before,
        "a plain run did not commit"
    );
    assert_eq!(host.run_in_image("cat /app/marker"), "built");
}

#[test]
fn given_heroku_postdeploy_when_postdeploy_is_run_by_hand_then_only_the_dokku_script_runs() {
    let host = TestHost::new("cmd-run-postdeploy");
    host.build_own("");
    host.host_app_json(
        r#"{"scripts": {"dokku": {"postdeploy": "echo dokku postdeploy ran"}, "postdeploy": "echo heroku postdeploy ran"}}"#,
    );

    let run = dokku(&host, "run", &[&host.app, "postdeploy"]);

    run.expect_code(0).stdout_has("dokku postdeploy ran");
    assert!(!run.stdout.contains("heroku postdeploy ran"), "{run:#?}");
    // The manual run did not use up the app's first deploy: the host's post-deploy still runs it.
    host.postdeploy()
        .expect_code(0)
        .stdout_has("heroku postdeploy ran");
}

#[test]
fn given_a_failing_task_when_run_by_hand_then_it_exits_as_the_trigger_would() {
    let host = TestHost::new("cmd-run-fail");
    host.build_own("");
    host.host_procfile("release: echo about to fail && exit 3\n");

    dokku(&host, "run", &[&host.app, "release"])
        .expect_code(1)
        .stderr_has("release task from Procfile failed with exit code 3");
    assert!(
        host.task_containers().is_empty(),
        "{:?}",
        host.task_containers()
    );
}

#[test]
fn given_an_unknown_phase_or_bad_arguments_when_run_then_one_line_says_what_to_do() {
    let host = TestHost::new("cmd-run-bad");

    dokku(&host, "run", &[&host.app, "build"])
        .expect_code(1)
        .one_line_error()
        .stderr_has("phase `build`")
        .stderr_has("predeploy, release, postdeploy");
    dokku(&host, "run", &[&host.app])
        .expect_code(1)
        .one_line_error()
        .stderr_has("usage: dokku deploy-tasks:run [--no-commit] <app> <phase> [<tag>]");
    dokku(&host, "run", &["--commit", &host.app, "release"])
        .expect_code(1)
        .one_line_error()
        .stderr_has("`--commit`");
    dokku(&host, "run", &[&host.app, "release", "bad/tag"])
        .expect_code(1)
        .one_line_error()
        .stderr_has("not a valid Docker tag");
}

/// A history line as `history::append` stores it.
fn history_line(time: &str, phase: &str, command: &str, outcome: &str, exit: &str) -> String {
    format!(
        r#"{{"time":"{time}","phase":"{phase}","source":"Procfile","command":"{command}","image_before":"sha256:a","image_after":"sha256:a","duration_ms":1500,"exit_code":{exit},"outcome":"{outcome}"}}"#
    )
}

#[test]
fn given_a_history_when_shown_then_newest_runs_come_first_as_a_table_or_json_lines() {
    let host = TestHost::new("cmd-history");
    let lines = [
        history_line("2026-11-22T17:00:00Z", "release", "echo one", "ok", "0"),
        history_line("2026-11-22T17:30:00Z", "predeploy", "exit 3", "failed", "3"),
        history_line(
            "2026-11-22T18:00:00Z",
            "release",
            "sleep 99",
            "timeout",
            "null",
        ),
    ];
    // A crash cut the last line short: it is skipped.
    host.write_lib(
        &format!("data/deploy-tasks/{}/history.jsonl", host.app),
        &format!("{}\n{{\"time\":\"2026", lines.join("\n")),
    );

    let run = dokku(&host, "history", &[&host.app]);

    run.expect_code(0);
    let shown: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        shown,
        [
            format!("=====> {} deploy-tasks history", host.app).as_str(),
            "       Time                  Phase      Source    Outcome  Exit  Duration  Command",
            "       2026-11-22T18:00:00Z  release    Procfile  timeout  -     1.5s      sleep 99",
            "       2026-11-22T17:30:00Z  predeploy  Procfile  failed   3     1.5s      exit 3",
            "       2026-11-22T17:00:00Z  release    Procfile  ok       0     1.5s      echo one",
        ]
    );

    let run = dokku(&host, "history", &[&host.app, "--json", "-n", "2"]);
    run.expect_code(0);
    let shown: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(shown, [lines[2].as_str(), lines[1].as_str()]);

    dokku(&host, "history", &[&host.app, "-n", "none"])
        .expect_code(1)
        .one_line_error();
}

#[test]
fn given_an_oversized_or_linked_history_file_when_history_is_shown_then_it_is_skipped_with_a_warning_and_the_rest_shows(
) {
    let host = TestHost::new("cmd-history-bad");
    let dir = host.lib_root().join("data/deploy-tasks").join(&host.app);
    let line = history_line("2026-11-22T18:00:00Z", "release", "echo new", "ok", "0");
    // More than the plugin ever writes before it rotates: written by someone else.
    let oversized = format!("{line}\n").repeat(3 * 1024 * 1024 / line.len());
    host.write_lib(
        &format!("data/deploy-tasks/{}/history.jsonl", host.app),
        &oversized,
    );
    host.write_lib(
        &format!("data/deploy-tasks/{}/history.jsonl.1", host.app),
        &format!(
            "{}\n",
            history_line("2026-11-22T17:00:00Z", "release", "echo old", "ok", "0")
        ),
    );

    let run = dokku(&host, "history", &[&host.app]);

    run.expect_code(0)
        .stderr_has("history.jsonl is over")
        .stderr_has("move it away")
        .stdout_has("echo old");
    assert!(!run.stdout.contains("echo new"), "{}", run.stdout);

    // A link planted in its place is not followed.
    let elsewhere = host.dir.path().join("elsewhere.jsonl");
    std::fs::write(&elsewhere, format!("{line}\n")).unwrap();
    std::fs::remove_file(dir.join("history.jsonl")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("history.jsonl")).unwrap();
    let run = dokku(&host, "history", &[&host.app]);
    run.expect_code(0)
        .stderr_has("not read")
        .stdout_has("echo old");
    assert!(!run.stdout.contains("echo new"), "{}", run.stdout);
}

#[test]
fn given_no_run_yet_when_history_is_shown_then_it_says_so() {
    let host = TestHost::new("cmd-history-empty");
    dokku(&host, "history", &[&host.app])
        .expect_code(0)
        .stdout_has("No task has run yet");
    let run = dokku(&host, "history", &[&host.app, "--json"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "");
}

#[test]
fn given_runs_of_each_phase_when_history_is_shown_then_each_run_is_recorded_newest_first() {
    let host = TestHost::new("cmd-history-runs");
    let before = host.build_own("");
    host.host_procfile("release: echo release ran\n");
    host.host_app_json(
        r#"{"scripts": {"dokku": {"predeploy": "echo built > /app/marker", "postdeploy": "exit 4"}}}"#,
    );

    dokku(&host, "run", &[&host.app, "release"]).expect_code(0);
    dokku(&host, "run", &[&host.app, "predeploy"]).expect_code(0);
    let after = image_id(&host.image());
    dokku(&host, "run", &[&host.app, "postdeploy"]).expect_code(1);

    let run = dokku(&host, "history", &[&host.app, "--json"]);
    run.expect_code(0);
    let entries: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a history line is JSON"))
        .collect();
    assert_eq!(entries.len(), 3, "{run:#?}");
    let field = |index: usize, key: &str| entries[index][key].clone();
    assert_eq!(field(0, "phase"), "postdeploy");
    assert_eq!(field(0, "outcome"), "failed");
    assert_eq!(field(0, "exit_code"), 4);
    assert_eq!(field(1, "phase"), "predeploy");
    assert_eq!(field(1, "source"), "app.json");
    assert_eq!(field(1, "outcome"), "ok");
    assert_eq!(field(1, "image_before"), before.as_str());
    assert_eq!(field(1, "image_after"), after.as_str());
    assert_eq!(field(2, "phase"), "release");
    assert_eq!(field(2, "source"), "Procfile");
    assert_eq!(field(2, "command"), "echo release ran");
    assert_eq!(field(2, "exit_code"), 0);
    assert_eq!(field(2, "image_before"), field(2, "image_after"));
    for entry in &entries {
        let time = entry["time"].as_str().expect("time is a string");
        assert!(
            time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{time} is not RFC 3339 UTC"
        );
        assert!(entry["duration_ms"].is_u64());
    }

    dokku(&host, "history", &[&host.app])
        .expect_code(0)
        .stdout_has("postdeploy")
        .stdout_has("release ran");
}

const HELP: &str = "\
Usage: dokku deploy-tasks[:COMMAND]

Runs app.json, Procfile and other platforms' deploy tasks.

Additional commands:
    deploy-tasks:help                                               Show this help
    deploy-tasks:history <app> [--json] [-n <count>]                Show an app's most recent task runs, newest first
    deploy-tasks:report [<app>|--global] [<flag>] [--format json]   Display the deploy-tasks settings of one app, every app or the global ones
    deploy-tasks:run [--no-commit] <app> <phase> [<tag>]            Run one phase's tasks now
    deploy-tasks:set [--global|<app>] <key> [<value>]               Set a deploy-tasks setting, or unset it without a value
";

#[test]
fn given_help_is_asked_for_then_it_is_in_dokkus_format() {
    let host = TestHost::new("cmd-help");

    let run = dokku(&host, "help", &[]);
    run.expect_code(0);
    assert_eq!(run.stdout, HELP);
    let run = commands(&host, &["deploy-tasks:help"]);
    run.expect_code(0);
    assert_eq!(run.stdout, HELP);
    // `dokku deploy-tasks`: Dokku runs subcommands/default with the bare plugin name.
    let run = Run::from(
        entry_point(&host, "subcommands/default", &["deploy-tasks"])
            .output()
            .unwrap(),
    );
    run.expect_code(0);
    assert_eq!(run.stdout, HELP);

    // `dokku help` asks every plugin's `commands help` for one `name, description` line.
    let run = commands(&host, &["help"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "    deploy-tasks, Run app.json and Procfile deploy tasks\n"
    );
}

#[test]
fn given_a_command_that_is_not_this_plugins_when_commands_is_called_then_it_exits_10_silently() {
    let host = TestHost::new("cmd-unknown");
    for command in ["apps:list", "deploy-tasks:bogus", "config:set"] {
        let run = commands(&host, &[command, &host.app]);
        run.expect_code(10);
        assert_eq!(
            (run.stdout.as_str(), run.stderr.as_str()),
            ("", ""),
            "{command}"
        );
    }
}
