//! The operators' commands (`dokku deploy-tasks:*`), one module per command. Dokku runs
//! `subcommands/NAME` with the whole command (`deploy-tasks:NAME`) as the first argument, and
//! `commands` with `help`, `deploy-tasks:help` or any command of any plugin; both are
//! `libexec/deploy-tasks`, which [`main`] dispatches.

pub mod help;
pub mod history;
pub mod report;
pub mod run;
pub mod set;

use crate::app::App;
use crate::exit_codes::ExitCode;
use crate::host::{installed_plugin_root, Host};
use crate::input_error::InputError;
use crate::output::{self, Stream};

/// The plugin's name, and the prefix of its commands.
pub const PLUGIN: &str = "deploy-tasks";

/// Dokku's `DOKKU_NOT_IMPLEMENTED_EXIT`: what `commands` answers for a command that is not this
/// plugin's, so that Dokku asks the next plugin.
pub const NOT_IMPLEMENTED_EXIT: i32 = 10;

/// Runs the command named by `args[0]` with the rest of `args`, and returns the process exit
/// status: [`NOT_IMPLEMENTED_EXIT`], silently, for a command that is not this plugin's.
pub fn main(args: &[String]) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        return NOT_IMPLEMENTED_EXIT;
    };
    let end = match command.as_str() {
        "help" => help::summary(),
        "deploy-tasks" | "deploy-tasks:default" | "deploy-tasks:help" => help::full(),
        "deploy-tasks:run" => run::run(&host(), rest),
        "deploy-tasks:set" => set::set(&host(), rest),
        "deploy-tasks:report" => report::report(&host(), rest),
        "deploy-tasks:history" => history::history(&host(), rest),
        _ => return NOT_IMPLEMENTED_EXIT,
    };
    end.code()
}

/// The host context, with the helper found beside this binary (`libexec/`).
fn host() -> Host {
    Host::from_env(&installed_plugin_root())
}

/// An app that exists on this host: a valid name with a directory in `DOKKU_ROOT`, as Dokku's
/// `verify_app_name` requires; else the error is reported and the status to exit with is
/// returned: Dokku's 20 for an app that does not exist, 1 for a name that cannot be one.
fn existing_app(host: &Host, name: &str) -> Result<App, ExitCode> {
    let app = App::new(name).map_err(|error| fail(host, error))?;
    if host.dokku_root.join(app.name()).is_dir() {
        return Ok(app);
    }
    fail(
        host,
        InputError::new(
            format!("app `{name}`"),
            format!(
                "does not exist (no {} directory)",
                host.dokku_root.join(app.name()).display()
            ),
            "check the name with `dokku apps:list`",
        ),
    );
    Err(ExitCode::NoSuchApp)
}

/// A usage error: what is wrong with the arguments, then the usage line.
fn usage_error(host: &Host, problem: &str, usage: &str) -> ExitCode {
    host.output
        .error(&format!("{problem}; usage: dokku {usage}"));
    ExitCode::Failure
}

/// Reports a one-line error and fails.
fn fail(host: &Host, error: impl std::fmt::Display) -> ExitCode {
    host.output.error(&error.to_string());
    ExitCode::Failure
}

/// `=====> text` on stdout, as Dokku's `LogInfo2Quiet`: suppressed by `DOKKU_QUIET_OUTPUT`.
fn info2(text: &str) {
    if !quiet() {
        output::write_line(Stream::Stdout, &format!("=====> {text}\n"));
    }
}

/// `       text` on stdout, as Dokku's `LogVerbose`: always shown.
fn verbose(text: &str) {
    output::write_line(Stream::Stdout, &format!("{}{text}\n", output::INDENT));
}

/// A line on stdout, as is.
fn print(text: &str) {
    output::write_line(Stream::Stdout, &format!("{text}\n"));
}

/// Dokku treats any non-empty `DOKKU_QUIET_OUTPUT` as set, except `0` and `false`.
fn quiet() -> bool {
    std::env::var("DOKKU_QUIET_OUTPUT")
        .is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"))
}

/// Rows of cells laid out in aligned columns, each padded to its widest cell and separated by
/// `gap` spaces; the last column is not padded.
fn columns(rows: &[Vec<String>], gap: usize) -> Vec<String> {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                if column + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let padding = widths[column] - cell.chars().count() + gap;
                    line.push_str(cell);
                    line.push_str(&" ".repeat(padding));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_pad_every_column_but_the_last() {
        let rows = vec![
            vec!["a".to_string(), "bb".to_string(), "c".to_string()],
            vec!["aaa".to_string(), "b".to_string(), "cc".to_string()],
        ];
        assert_eq!(columns(&rows, 2), ["a    bb  c", "aaa  b   cc"]);
    }

    #[test]
    fn commands_of_other_plugins_are_not_implemented_here() {
        for command in ["apps:list", "deploy-tasks:bogus", "deploy-tasksx:help"] {
            assert_eq!(main(&[command.to_string()]), NOT_IMPLEMENTED_EXIT);
        }
        assert_eq!(main(&[]), NOT_IMPLEMENTED_EXIT);
    }
}
