//! `deploy-tasks:history APP [--json] [-n N]`: an app's most recent task runs.

use super::{columns, existing_app, fail, info2, print, usage_error, verbose};
use crate::exit_codes::ExitCode;
use crate::history::{self, HistoryEntry};
use crate::host::Host;

const USAGE: &str = "deploy-tasks:history <app> [--json] [-n <count>]";

/// How many runs are shown when `-n` is not given.
const DEFAULT_COUNT: usize = 20;

/// `deploy-tasks:history APP [--json] [-n N]`: the N (default 20) most recent task runs, newest
/// first, as an aligned table (time, phase, source, outcome, exit, duration, command) or, with
/// `--json`, one JSON object per line as stored.
pub fn history(host: &Host, args: &[String]) -> ExitCode {
    let mut json = false;
    let mut count = DEFAULT_COUNT;
    let mut app = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "-n" => match args.next().map(|value| value.parse::<usize>()) {
                Some(Ok(value)) if value > 0 => count = value,
                _ => return usage_error(host, "-n needs a number of runs, 1 or more", USAGE),
            },
            flag if flag.starts_with('-') => {
                return usage_error(
                    host,
                    &format!("`{flag}` is not an option of deploy-tasks:history"),
                    USAGE,
                )
            }
            name => {
                if app.replace(name).is_some() {
                    return usage_error(host, "deploy-tasks:history takes one app", USAGE);
                }
            }
        }
    }
    let Some(name) = app else {
        return usage_error(host, "deploy-tasks:history needs an app", USAGE);
    };
    let app = match existing_app(host, name) {
        Ok(app) => app,
        Err(code) => return code,
    };
    let (entries, warnings) = history::read(&host.data_dir(&app), count);
    for warning in &warnings {
        host.output.warn(warning);
    }
    if json {
        for entry in &entries {
            match serde_json::to_string(entry) {
                Ok(line) => print(&line),
                Err(error) => return fail(host, format!("encoding the history: {error}")),
            }
        }
        return ExitCode::Success;
    }
    info2(&format!("{} deploy-tasks history", app.name()));
    if entries.is_empty() {
        verbose("No task has run yet");
        return ExitCode::Success;
    }
    for line in table(&entries) {
        verbose(&line);
    }
    ExitCode::Success
}

/// The entries as aligned rows under a header; the command last, on one line whatever it holds.
fn table(entries: &[HistoryEntry]) -> Vec<String> {
    let header = [
        "Time", "Phase", "Source", "Outcome", "Exit", "Duration", "Command",
    ];
    let mut rows = vec![header.iter().map(|cell| cell.to_string()).collect()];
    rows.extend(entries.iter().map(|entry| {
        vec![
            entry.time.clone(),
            entry.phase.clone(),
            entry.source.clone(),
            entry.outcome.name().to_string(),
            entry
                .exit_code
                .map_or_else(|| "-".to_string(), |code| code.to_string()),
            duration(entry.duration_ms),
            one_line(&entry.command),
        ]
    }));
    columns(&rows, 2)
}

/// `text` with its control characters escaped (`\n`), so a command never splits its row.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() {
                character.escape_default().to_string()
            } else {
                character.to_string()
            }
        })
        .collect()
}

/// A duration for people: `850ms`, `12.3s`, `4m05s`.
fn duration(milliseconds: u64) -> String {
    match milliseconds {
        0..=999 => format!("{milliseconds}ms"),
        1_000..=59_999 => format!("{}.{}s", milliseconds / 1000, milliseconds % 1000 / 100),
        _ => {
            let seconds = milliseconds / 1000;
            format!("{}m{:02}s", seconds / 60, seconds % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::phase::Phase;
    use std::time::Duration;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(12_345), "12.3s");
        assert_eq!(duration(245_000), "4m05s");
    }

    #[test]
    fn table_aligns_columns_and_keeps_each_run_on_one_line() {
        let mut release = HistoryEntry::start(Phase::Release, "Procfile", "echo 'a\nb'", "img");
        release.time = "2026-11-22T18:00:00Z".into();
        release.finish(Outcome::Ok, Some(0), "img", Duration::from_millis(1500));
        let mut predeploy = HistoryEntry::start(Phase::Predeploy, "app.json", "sleep 99", "img");
        predeploy.time = "2026-11-22T17:00:00Z".into();
        predeploy.finish(Outcome::Timeout, None, "img", Duration::from_secs(65));
        assert_eq!(
            table(&[release, predeploy]),
            [
                "Time                  Phase      Source    Outcome  Exit  Duration  Command",
                "2026-11-22T18:00:00Z  release    Procfile  ok       0     1.5s      echo 'a\\nb'",
                "2026-11-22T17:00:00Z  predeploy  app.json  timeout  -     1m05s     sleep 99",
            ]
        );
    }
}
