//! Scenarios: tasks run the way Dokku 0.38's app-json plugin runs them. A Procfile command's
//! variables are expanded from the app's config before it runs (`procfile-get-command APP release
//! 5000`, answered by the ps plugin with `procfile-util show --env-file`), yet the expanded
//! command, secrets and all, reaches the task container only on the helper's stdin; and a shell
//! task runs with `set -e` and `set -o pipefail` (constructScript).

mod support;

use std::io::BufReader;
use std::time::Duration;

use support::*;

/// The app's config as `dokku config:set` writes it (values without `'`).
fn app_env(host: &TestHost, vars: &[(&str, &str)]) {
    let lines: String = vars
        .iter()
        .map(|(key, value)| format!("export {key}='{value}'\n"))
        .collect();
    host.app_env(&lines);
}

/// Every process's command line on this host (task containers' included), as raw bytes.
fn command_lines() -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

const EXPANDING_RELEASE: &str = "echo $SECRET ${OTHER} $PORT [$UNKNOWN] '$SECRET'";

#[test]
fn given_a_procfile_release_using_config_variables_when_release_runs_then_they_are_expanded_before_the_shell_runs_it_in_plain_and_herokuish_images(
) {
    for (shape, extra) in [
        ("plain", ""),
        (
            "herokuish",
            "ENV USER=herokuishuser\nRUN mkdir -p /app/.profile.d",
        ),
    ] {
        let host = TestHost::new(&format!("dokku-expand-{shape}"));
        host.build_own(extra);
        let secret = marker();
        app_env(&host, &[("SECRET", &secret), ("OTHER", "other value")]);
        host.host_app_json("{}");
        host.host_procfile(&format!("web: httpd -f\nrelease: {EXPANDING_RELEASE}\n"));

        let run = host.release();

        // The single-quoted `'$SECRET'` holds the value only if it was expanded before the shell
        // ran, and `$PORT`, in no config, is Dokku's 5000.
        run.expect_code(0)
            .stdout_has(&format!("\n       {secret} other value 5000 [] {secret}\n"));
        let history = host.history();
        assert_eq!(history.len(), 1, "{shape}: {history:?}");
        assert_eq!(history[0]["command"], EXPANDING_RELEASE, "{shape}");
    }
}

#[test]
fn given_an_entrypoint_image_when_release_runs_then_the_entrypoint_receives_the_expanded_words() {
    let host = TestHost::new("dokku-expand-entrypoint");
    let entrypoint = "#!/bin/sh\nfor word in \"$@\"; do echo \"word=<$word>\"; done\n";
    host.build(
        &busybox_app(&format!(
            "LABEL deploy-tasks-test.app={}\nCOPY entrypoint.sh /entrypoint.sh\n\
             RUN chmod +x /entrypoint.sh\nENTRYPOINT [\"/entrypoint.sh\"]",
            host.app
        )),
        &[("entrypoint.sh", entrypoint)],
    );
    app_env(&host, &[("SECRET", "two words")]);
    host.host_app_json("{}");
    host.host_procfile("release: migrate $SECRET --port=$PORT $UNKNOWN\n");

    let run = host.release();

    // As in Dokku, the expanded command is split into words: a value with a space is two.
    run.expect_code(0).stdout_has(
        "\n       word=<migrate>\n       word=<two>\n       word=<words>\n       word=<--port=5000>\n",
    );
    assert!(!run.stdout.contains("word=<$"), "{run:#?}");
}

#[test]
fn given_a_secret_expanded_into_a_procfile_release_while_it_runs_then_neither_the_container_config_nor_a_command_line_nor_the_history_holds_it(
) {
    let host = TestHost::new("dokku-expand-hidden");
    host.build_own("");
    let secret = marker();
    app_env(&host, &[("SECRET", &secret)]);
    host.host_app_json("{}");
    let command = "case '$SECRET' in s3cr3t-*) echo expanded;; esac; \
                   while [ ! -e /tmp/go-on ]; do sleep 0.1; done; echo let go";
    host.host_procfile(&format!("release: {command}\n"));

    let mut child = host.spawn("post-release", &[&host.app]);
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    // The task holds here until the test lets it go: it is running while the test looks.
    wait_for_line(&mut stdout, "       expanded", Duration::from_secs(120));
    let containers = host.task_containers();
    assert_eq!(containers.len(), 1, "{containers:?}");
    let inspected = docker(&["container", "inspect", &containers[0]]);
    let lines = command_lines();
    docker(&["exec", &containers[0], "touch", "/tmp/go-on"]);
    let run = finish(child, Some(stdout));

    run.expect_code(0).stdout_has("       let go\n");
    assert!(
        inspected.contains("--run-shell"),
        "not the task container's config: {inspected}"
    );
    assert!(
        !inspected.contains(&secret),
        "the container's config holds the secret: {inspected}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with(b"/dev/deploy-tasks-helper\0")),
        "the helper was not among the processes, so their scan proves nothing"
    );
    let holding: Vec<String> = lines
        .iter()
        .filter(|line| contains(line, &secret))
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect();
    assert!(holding.is_empty(), "on command lines: {holding:?}");
    let history = host.history();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["command"], command);
    assert!(
        !serde_json::to_string(&history).unwrap().contains(&secret),
        "the history holds the secret: {history:?}"
    );
}

#[test]
fn given_a_predeploy_pipeline_whose_first_command_fails_then_the_task_fails_and_nothing_is_committed_in_sh_and_bash(
) {
    for (shell, base) in [("sh", BUSYBOX), ("bash", BASH)] {
        let host = TestHost::new(&format!("dokku-pipefail-{shell}"));
        let before = host.build(
            &format!(
                "FROM {base}\nWORKDIR /app\nLABEL deploy-tasks-test.app={}\n",
                host.app
            ),
            &[],
        );
        host.host_app_json(
            &serde_json::json!({"scripts": {"dokku": {"predeploy": "false | tee /app/log; echo after the pipeline"}}})
                .to_string(),
        );
        host.host_procfile("");

        let run = host.predeploy();

        run.expect_code(1)
            .stderr_has("predeploy task from app.json failed with exit code 1");
        assert!(
            !run.stdout.contains("\n       after the pipeline\n"),
            "{shell}: the pipeline's failure was ignored; {run:#?}"
        );
        assert_eq!(
            image_id(&host.image()),
            before,
            "{shell}: the image changed"
        );
        let history = host.history();
        assert_eq!(history.len(), 1, "{shell}: {history:?}");
        assert_eq!(history[0]["outcome"], "failed", "{shell}");
        assert!(
            host.task_containers().is_empty(),
            "{shell}: a container was left"
        );
    }
}
