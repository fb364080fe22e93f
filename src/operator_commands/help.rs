//! `deploy-tasks:help`, and the plugin's line in `dokku help`, in Dokku's help format.

use super::{columns, print};
use crate::exit_codes::ExitCode;

/// What the plugin does, as `deploy-tasks:help` says it.
pub const DESCRIPTION: &str = "Runs app.json, Procfile and other platforms' deploy tasks.";

/// The plugin's line in `dokku help`. Dokku splits these lines at commas, so it has none but the
/// one after the name.
const SUMMARY: &str = "    deploy-tasks, Run app.json and Procfile deploy tasks";

/// Each command with its arguments, and what it does (sorted, as Dokku sorts them).
const COMMANDS: [(&str, &str); 5] = [
    ("deploy-tasks:help", "Show this help"),
    (
        "deploy-tasks:history <app> [--json] [-n <count>]",
        "Show an app's most recent task runs, newest first",
    ),
    (
        "deploy-tasks:report [<app>|--global] [<flag>] [--format json]",
        "Display the deploy-tasks settings of one app, every app or the global ones",
    ),
    (
        "deploy-tasks:run [--no-commit] <app> <phase> [<tag>]",
        "Run one phase's tasks now",
    ),
    (
        "deploy-tasks:set [--global|<app>] <key> [<value>]",
        "Set a deploy-tasks setting, or unset it without a value",
    ),
];

/// `deploy-tasks:help`: the usage, the description and every command, columned as Dokku's
/// `sort | column -c2 -t -s,` would lay them out.
pub fn full() -> ExitCode {
    print("Usage: dokku deploy-tasks[:COMMAND]");
    print("");
    print(DESCRIPTION);
    print("");
    print("Additional commands:");
    for line in full_commands() {
        print(&line);
    }
    ExitCode::Success
}

/// `help`: the plugin's line in `dokku help`, or, under `dokku help --all`, every command as
/// `    command, description` lines for Dokku to column.
pub fn summary() -> ExitCode {
    if parent_asked_for_all() {
        for (command, description) in COMMANDS {
            print(&format!("    {command}, {description}"));
        }
    } else {
        print(SUMMARY);
    }
    ExitCode::Success
}

fn full_commands() -> Vec<String> {
    let rows: Vec<Vec<String>> = COMMANDS
        .iter()
        .map(|(command, description)| vec![format!("    {command}"), format!(" {description}")])
        .collect();
    columns(&rows, 2)
}

/// Whether the process that ran `commands help` is `dokku help --all`, as Dokku's own plugins
/// tell (they look at the parent's command line).
fn parent_asked_for_all() -> bool {
    // SAFETY: getppid has no preconditions and cannot fail.
    let parent = unsafe { libc::getppid() };
    std::fs::read(format!("/proc/{parent}/cmdline"))
        .map(|cmdline| cmdline.split(|byte| *byte == 0).any(|arg| arg == b"--all"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_sorted_and_columned_like_dokkus_column_command() {
        let mut sorted = COMMANDS;
        sorted.sort();
        assert_eq!(sorted, COMMANDS);
        let lines = full_commands();
        let width = "    deploy-tasks:report [<app>|--global] [<flag>] [--format json]".len();
        assert_eq!(
            lines[0],
            format!("{:width$}   Show this help", "    deploy-tasks:help")
        );
        assert!(lines
            .iter()
            .all(|line| line[width..].starts_with("   ") && !line[width + 3..].starts_with(' ')));
        assert!(!SUMMARY["    deploy-tasks,".len()..].contains(','));
    }
}
