//! Scenarios: config values stored in Dokku 0.38's ENV format (`KEY="…"` with backslash escapes,
//! integers bare, as `dokku config:set` writes them) reach the tasks exactly as set.

mod support;

use support::*;

/// What the trigger's stdout shows for [`print_each_without_expansion`]: every line of the output indented.
fn printed_by_each(vars: &[(&str, String)]) -> String {
    vars.iter()
        .flat_map(|(_, value)| {
            format!("<<{value}>>")
                .split('\n')
                .map(|line| format!("       {line}\n"))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn given_values_set_through_config_set_when_a_release_task_prints_them_then_it_prints_each_value_exactly(
) {
    let host = TestHost::new("env-format-release");
    host.build_own("");
    let vars: Vec<(&str, String)> = vec![
        ("BANG", "wow! !! history!$".to_string()),
        ("DOLLAR", "$HOME ${PATH} $(id -u) \\$ $".to_string()),
        ("SINGLE", "it's 'quoted'".to_string()),
        ("DOUBLE", r#"say "hi" now"#.to_string()),
        ("BACKSLASH", r"C:\temp\new \n \\ end".to_string()),
        ("BACKQUOTE", "`date` and `id`".to_string()),
        ("MULTILINE", "line one\nline two\n  three".to_string()),
        ("UNICODE", "héllo 🚀 日本語".to_string()),
        ("PORT", "5000".to_string()),
        (
            "EVERYTHING",
            "it's \"x\" $Y \\ ! `z` # = \ttab\nnext line".to_string(),
        ),
    ];
    host.config_set(&vars);
    host.host_app_json("{}");
    host.host_procfile(&format!(
        "release: {}\n",
        print_each_without_expansion(&vars)
    ));

    let run = host.release();

    let stored =
        std::fs::read_to_string(host.lib_root().join(format!("config/{}/ENV", host.app))).unwrap();
    assert!(
        stored.contains("BANG=\"wow\\! \\!\\! history\\!\\$\"\n")
            && stored.contains("\nPORT=5000\n"),
        "the ENV file is not in Dokku's format, so this proves nothing:\n{stored}"
    );
    run.expect_code(0);
    let expected = printed_by_each(&vars);
    assert!(
        run.stdout.contains(&format!("\n{expected}")),
        "the release task did not print the values exactly;\nexpected:\n{expected}\n{run:#?}"
    );
}

#[test]
fn given_a_value_stored_as_dokku_cannot_read_it_back_then_the_release_fails_naming_the_line() {
    let host = TestHost::new("env-format-unreadable");
    host.build_own("");
    // Dokku 0.38 writes a value ending in a backslash as `"x\\"`, and its own reader then takes
    // that closing quote as escaped: `config:export` fails, and so does the plugin.
    host.config_set(&[
        ("A", "ends in a backslash \\".to_string()),
        ("B", "next".to_string()),
    ]);
    let env_file = host.lib_root().join(format!("config/{}/ENV", host.app));
    host.host_app_json("{}");
    host.host_procfile("release: echo task ran\n");

    let run = host.release();

    run.expect_code(1)
        .one_line_error()
        .stderr_has(&format!("{} line 2, column 8", env_file.display()));
    assert!(!run.stdout.contains("task ran"), "{run:#?}");
}
