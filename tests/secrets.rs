//! Scenarios: the app's config, in Dokku's ENV format, reaches every task byte for byte, and a
//! secret in it is written nowhere else: not into the committed image, not onto a command line,
//! not onto disk.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::*;

/// Values that break naive quoting, each under its own key; one holds `marker`. None ends in `"`
/// or `\`: Dokku's own reader (godotenv v1.5.1) gives those back altered, see `env_file::parse`.
fn tricky_values(marker: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "SECRET_QUOTES",
            r#"it's "double" and 'single' and '\'' and "\"" end"#.to_string(),
        ),
        (
            "SECRET_SHELL",
            "$HOME ${PATH:-none} $(id -u) `date` %s %% !! ~ *".to_string(),
        ),
        (
            "SECRET_BACKSLASHES",
            r#"C:\temp\new \\n \t \' \" \$HOME \! \ end"#.to_string(),
        ),
        (
            "SECRET_MULTILINE",
            "line one\nline two\n  indented three\n\nafter a blank line\n".to_string(),
        ),
        ("SECRET_UNICODE", "日本語 ✓ 🚀 café ß".to_string()),
        ("SECRET_SPACES", "  leading and trailing  ".to_string()),
        (
            "SECRET",
            format!("-n {marker} it's \"{marker}\" $HOME \\ {marker}\nsecond line"),
        ),
    ]
}

/// A shell command printing each variable between `<<` and `>>` on stdout.
fn print_each(vars: &[(&str, String)]) -> String {
    vars.iter()
        .map(|(key, _)| format!(r#"printf '<<%s>>\n' "${key}""#))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the trigger's stdout shows for the output of [`print_each`]: each line indented.
fn printed_by_each(vars: &[(&str, String)]) -> String {
    let mut shown = String::new();
    for (_, value) in vars {
        for line in format!("<<{value}>>").split('\n') {
            shown.push_str("       ");
            shown.push_str(line);
            shown.push('\n');
        }
    }
    shown
}

fn predeploy_json(command: &str) -> String {
    serde_json::json!({"scripts": {"dokku": {"predeploy": command}}}).to_string()
}

fn postdeploy_json(command: &str) -> String {
    serde_json::json!({"scripts": {"dokku": {"postdeploy": command}}}).to_string()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Every regular file under `dir` (symlinks not followed) modified at or after `since`.
fn files_under(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else if metadata.is_file()
                && metadata.modified().is_ok_and(|modified| modified >= since)
            {
                found.push(entry.path());
            }
        }
    }
    found
}

/// The files under `dir` modified since `since` that hold `marker`, `except` one.
fn files_holding(dir: &Path, since: SystemTime, marker: &str, except: &Path) -> Vec<PathBuf> {
    files_under(dir, since)
        .into_iter()
        .filter(|path| path != except)
        .filter(|path| {
            // Larger files are not ours: no run of the plugin writes anything that big.
            path.metadata().is_ok_and(|m| m.len() < 64 << 20)
                && std::fs::read(path).is_ok_and(|bytes| contains(&bytes, marker))
        })
        .collect()
}

/// Every process's command line, as raw NUL-separated bytes.
fn command_lines() -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            Some((entry.file_name().to_string_lossy().into_owned(), cmdline))
        })
        .collect()
}

/// Runs `trigger` for an app whose tasks print `vars` and checks that the output is `expected`.
fn assert_values_arrive(
    host: &TestHost,
    trigger: &str,
    args: &[&str],
    vars: &[(&str, String)],
    expected: &str,
) {
    host.config_set(vars);

    let run = host.trigger(trigger, args);

    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!("\n{expected}")),
        "the task did not print the values byte for byte;\nexpected:\n{expected}\n{run:#?}"
    );
}

#[test]
fn given_config_values_with_quotes_newlines_and_unicode_then_the_predeploy_task_receives_them_byte_for_byte(
) {
    let host = TestHost::new("secret-bytes-pre");
    host.build_own("");
    let vars = tricky_values(&marker());
    host.host_app_json(&predeploy_json(&print_each(&vars)));
    host.host_procfile("");

    assert_values_arrive(
        &host,
        "pre-deploy",
        &[&host.app],
        &vars,
        &printed_by_each(&vars),
    );
}

#[test]
fn given_config_values_with_quotes_newlines_and_unicode_then_the_release_task_receives_them_byte_for_byte(
) {
    let host = TestHost::new("secret-bytes-rel");
    host.build_own("");
    let vars = tricky_values(&marker());
    host.host_app_json("{}");
    host.host_procfile(&format!(
        "release: {}\n",
        print_each_without_expansion(&vars)
    ));

    assert_values_arrive(
        &host,
        "post-release",
        &[&host.app],
        &vars,
        &printed_by_each(&vars),
    );
}

#[test]
fn given_config_values_with_quotes_newlines_and_unicode_then_the_postdeploy_task_receives_them_byte_for_byte(
) {
    let host = TestHost::new("secret-bytes-post");
    host.build_own("");
    let vars = tricky_values(&marker());
    host.host_app_json(&postdeploy_json(&print_each(&vars)));
    host.host_procfile("");

    assert_values_arrive(
        &host,
        "post-deploy",
        &[&host.app, "5000", "127.0.0.1"],
        &vars,
        &printed_by_each(&vars),
    );
}

#[test]
fn given_a_secret_in_the_config_when_predeploy_commits_then_the_image_holds_no_trace_of_it() {
    let host = TestHost::new("secret-image");
    let before = host.build_own("");
    let secret = marker();
    host.config_set(&[("SECRET", secret.clone())]);
    host.host_app_json(&predeploy_json(
        r#"case "$SECRET" in s3cr3t-*) echo secret arrived;; esac; echo built > /app/built-by-predeploy"#,
    ));
    host.host_procfile("");

    let run = host.predeploy();

    run.expect_code(0).stdout_has("\n       secret arrived\n");
    let after = image_id(&host.image());
    assert_ne!(after, before, "the predeploy result was not committed");
    let inspected = docker(&["image", "inspect", &host.image()]);
    assert!(
        !inspected.contains(&secret),
        "the image config holds the secret: {inspected}"
    );
    let history = docker(&["history", "--no-trunc", &host.image()]);
    assert!(
        !history.contains(&secret),
        "the image history holds the secret: {history}"
    );
    let saved = tempfile::NamedTempFile::new().unwrap();
    docker(&[
        "save",
        "--output",
        saved.path().to_str().unwrap(),
        &host.image(),
    ]);
    let bytes = std::fs::read(saved.path()).unwrap();
    assert!(
        contains(&bytes, "app/built-by-predeploy"),
        "the saved image lacks the committed layer, so the search below proves nothing"
    );
    assert!(
        !contains(&bytes, &secret),
        "the image's layers or config hold the secret"
    );
}

#[test]
fn given_dokku_trace_when_predeploy_commits_then_the_task_sees_it_as_with_dokkus_app_json_and_the_image_env_does_not(
) {
    let host = TestHost::new("trace-image");
    host.build_own("");
    host.host_app_json(&predeploy_json(r#"echo "trace=$DOKKU_TRACE""#));
    host.host_procfile("");

    let run = Run::from(
        host.trigger_command("pre-deploy", &[&host.app])
            .env("DOKKU_TRACE", "1")
            .output()
            .unwrap(),
    );

    run.expect_code(0).stdout_has("\n       trace=1\n");
    let env = image_config(&host.image(), "Env");
    assert!(!env.contains("DOKKU_TRACE"), "{env}");
}

#[test]
fn given_a_secret_in_the_config_while_the_task_runs_then_no_command_line_container_config_trace_or_new_file_holds_it(
) {
    let host = TestHost::new("secret-running");
    host.build_own("");
    let secret = marker();
    host.config_set(&[("SECRET", secret.clone())]);
    let env_file = host.lib_root().join(format!("config/{}/ENV", host.app));
    // The task runs until the scan below has seen it and lets it go (its gate file).
    host.host_app_json(&predeploy_json(
        r#"case "$SECRET" in s3cr3t-*) echo secret arrived;; esac; while [ ! -e /tmp/scanned ]; do sleep 0.1; done"#,
    ));
    host.host_procfile("");
    let started = SystemTime::now() - Duration::from_secs(2);
    let temp_dir = std::env::temp_dir();

    let mut child = host
        .trigger_command("pre-deploy", &[&host.app])
        .env("DOKKU_TRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the trigger");
    let mut saw_the_helper = false;
    let mut inspected_the_container = false;
    let mut on_command_lines = std::collections::BTreeSet::new();
    let mut in_container_config = Vec::new();
    let mut in_temp_files_while_running = Vec::new();
    let mut released = false;
    let give_up = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("polling the trigger").is_none() {
        for (pid, cmdline) in command_lines() {
            if cmdline.starts_with(b"/dev/deploy-tasks-helper\0") {
                saw_the_helper = true;
            }
            if contains(&cmdline, &secret) {
                on_command_lines.insert(format!("{pid}: {}", String::from_utf8_lossy(&cmdline)));
            }
        }
        if saw_the_helper && !inspected_the_container {
            for name in host.task_containers() {
                let output = docker_output(&["container", "inspect", &name]);
                if output.status.success() {
                    inspected_the_container = true;
                    if contains(&output.stdout, &secret) {
                        in_container_config.push(name);
                    }
                }
            }
            in_temp_files_while_running = files_holding(&temp_dir, started, &secret, &env_file);
        }
        // Scanned while it ran (or given up on): the task may end.
        if !released && (inspected_the_container || std::time::Instant::now() > give_up) {
            for name in host.task_containers() {
                let touched = docker_output(&["exec", &name, "touch", "/tmp/scanned"]);
                released |= touched.status.success();
            }
        }
        if std::time::Instant::now() > give_up + Duration::from_secs(30) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = finish(child, None);

    run.expect_code(0)
        .stdout_has("\n       secret arrived\n")
        .stderr_has("+ engine POST /containers/create?name=");
    assert!(
        saw_the_helper && inspected_the_container,
        "the task was never seen running, so the scan proves nothing; {run:#?}"
    );
    assert!(
        on_command_lines.is_empty(),
        "on command lines: {on_command_lines:?}"
    );
    assert!(
        in_container_config.is_empty(),
        "in the config of containers {in_container_config:?}"
    );
    assert!(
        !run.stdout.contains(&secret) && !run.stderr.contains(&secret),
        "the trigger printed the secret; {run:#?}"
    );
    assert!(
        in_temp_files_while_running.is_empty(),
        "new temporary files held the secret while the task ran: {in_temp_files_while_running:?}"
    );
    let in_temp_files = files_holding(&temp_dir, started, &secret, &env_file);
    assert!(
        in_temp_files.is_empty(),
        "new temporary files hold the secret: {in_temp_files:?}"
    );
    let on_host = files_holding(host.dir.path(), UNIX_EPOCH, &secret, &env_file);
    assert!(
        on_host.is_empty(),
        "files under the Dokku roots hold the secret: {on_host:?}"
    );
}

#[test]
fn given_a_committed_predeploy_then_the_helper_mount_left_no_file_in_the_image() {
    let host = TestHost::new("secret-helper-mount");
    let before = host.build_own("");
    host.host_app_json(&predeploy_json("echo built > /app/built-by-predeploy"));
    host.host_procfile("");

    host.predeploy().expect_code(0);

    assert_ne!(image_id(&host.image()), before);
    let listed = docker_output(&[
        "run",
        "--rm",
        &host.image(),
        "ls",
        "/app/built-by-predeploy",
    ]);
    assert!(
        listed.status.success(),
        "the committed image does not run: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let helper = docker_output(&[
        "run",
        "--rm",
        &host.image(),
        "ls",
        "/dev/deploy-tasks-helper",
    ]);
    assert!(
        !helper.status.success(),
        "the committed image has /dev/deploy-tasks-helper: {}",
        String::from_utf8_lossy(&helper.stdout)
    );
    let saved = tempfile::NamedTempFile::new().unwrap();
    docker(&[
        "save",
        "--output",
        saved.path().to_str().unwrap(),
        &host.image(),
    ]);
    let bytes = std::fs::read(saved.path()).unwrap();
    // A layer entry's name is NUL-padded; the config's history mentions the path only in text.
    assert!(
        !contains(&bytes, "deploy-tasks-helper\0"),
        "a layer of the committed image has an entry for the helper"
    );
}

#[test]
fn given_an_image_with_neither_entrypoint_nor_cmd_when_predeploy_commits_then_its_config_does_not_name_the_helper(
) {
    let host = TestHost::new("secret-helper-cmd");
    let before = host.build_own("");
    assert_eq!(image_config(&before, "Entrypoint"), "null");
    assert_eq!(image_config(&before, "Cmd"), "null");
    host.host_app_json(&predeploy_json("echo built > /app/built-by-predeploy"));
    host.host_procfile("");

    host.predeploy().expect_code(0);

    let after = image_id(&host.image());
    assert_ne!(after, before);
    let config = docker(&["image", "inspect", "--format", "{{json .Config}}", &after]);
    assert!(
        !config.contains("deploy-tasks-helper"),
        "the committed image's config still runs the helper: {config}"
    );
    assert_eq!(image_config(&after, "Entrypoint"), "null");
    assert_eq!(image_config(&after, "Cmd"), "null");
}

#[test]
fn given_the_config_in_the_legacy_location_then_the_task_receives_it() {
    let host = TestHost::new("secret-legacy");
    host.build_own("");
    let vars = vec![
        (
            "LEGACY_SECRET",
            format!("it's {} legacy\nline two", marker()),
        ),
        ("LEGACY_PLAIN", "plain".to_string()),
    ];
    config_write(&host.dokku_root().join(&host.app).join("ENV"), &vars);
    host.host_app_json("{}");
    host.host_procfile(&format!(
        "release: {}\n",
        print_each_without_expansion(&vars)
    ));

    let run = host.release();

    run.expect_code(0);
    let expected = printed_by_each(&vars);
    assert!(
        run.stdout.contains(&format!("\n{expected}")),
        "expected:\n{expected}\n{run:#?}"
    );
}

#[test]
fn given_an_unterminated_quote_in_the_config_then_the_trigger_fails_naming_the_file_and_line_before_any_task_runs(
) {
    let host = TestHost::new("secret-unterminated");
    let before = host.build_own("");
    host.app_env("export GOOD='fine'\nexport BROKEN='never closed\nexport LATER=x\n");
    let env_file = host.lib_root().join(format!("config/{}/ENV", host.app));
    host.host_app_json(&predeploy_json("echo task ran; touch /app/ran"));
    host.host_procfile("");
    let since = engine_time();

    let run = host.predeploy();

    run.expect_code(1)
        .one_line_error()
        .stderr_has(&format!("{} line 2", env_file.display()))
        .stderr_has("never closed");
    assert!(!run.stdout.contains("task ran"), "{run:#?}");
    assert_eq!(
        host.containers_created_since(&since),
        Vec::<String>::new(),
        "a container was created"
    );
    assert_eq!(image_id(&host.image()), before);
}

#[test]
fn given_a_config_line_with_an_invalid_key_then_it_is_a_warning_and_the_other_values_still_arrive()
{
    let host = TestHost::new("secret-invalid-key");
    host.build_own("");
    host.app_env(
        "export GOOD_ONE='one'\nexport 1BAD='skipped'\nexport BAD.NAME='also\nskipped'\nexport GOOD_TWO='two'\n",
    );
    let env_file = host.lib_root().join(format!("config/{}/ENV", host.app));
    host.host_app_json("{}");
    host.host_procfile(r#"release: printf '<<%s>>\n' "$GOOD_ONE" "$GOOD_TWO""#);

    let run = host.release();

    run.expect_code(0)
        .stderr_has(&format!(
            " !     {} line 2: `1BAD` is not a valid variable name; skipped\n",
            env_file.display()
        ))
        .stderr_has(&format!(
            " !     {} line 3: `BAD.NAME` is not a valid variable name; skipped\n",
            env_file.display()
        ))
        .stdout_has("\n       <<one>>\n       <<two>>\n");
}
