//! `deploy-tasks:report [APP] [FLAG] [--format json]`: the settings of one app or every app, and
//! the tasks each phase would run with their sources, in the layout of Dokku's `:report`
//! commands.

use serde_json::{Map, Value};

use super::{existing_app, fail, info2, print, usage_error, verbose};
use crate::app::{App, ImageTag};
use crate::deploy::describe_tasks;
use crate::exit_codes::ExitCode;
use crate::host::Host;
use crate::input_error::InputError;
use crate::interrupt;
use crate::phase::Phase;
use crate::settings::{Settings, KEYS};

const USAGE: &str = "deploy-tasks:report [<app>|--global] [<flag>] [--format json]";

/// The prefix of every report flag; a JSON key is the flag without it.
const FLAG_PREFIX: &str = "--deploy-tasks-";

/// What was asked for.
#[derive(Debug, Default)]
struct Request {
    app: Option<String>,
    /// `--global`: the global settings alone, as Dokku 0.38's reports scope it.
    global: bool,
    flag: Option<String>,
    json: bool,
}

/// One report row: its flag and its value, or why the value cannot be given.
type Row = (String, Result<String, String>);

/// `deploy-tasks:report [APP|--global] [FLAG] [--format json]`: for each key, the app's value,
/// the global value and the computed one (app, else global, else the default), and the tasks
/// each phase would run. With a flag (`--deploy-tasks-KEY`, `--deploy-tasks-global-KEY`,
/// `--deploy-tasks-computed-KEY`, `--deploy-tasks-PHASE-tasks`) only that value, and a value
/// that cannot be given is an error; without an app, every app under `DOKKU_ROOT`, sorted; with
/// `--global`, the global and computed values of the global settings alone.
pub fn report(host: &Host, args: &[String]) -> ExitCode {
    // Reading an image's definitions makes a container: a stop signal must let it be removed.
    if let Err(error) = interrupt::install() {
        return fail(host, format!("{error:#}"));
    }
    let request = match parse(args) {
        Ok(request) => request,
        Err(problem) => return usage_error(host, &problem, USAGE),
    };
    if request.json && request.flag.is_some() {
        return usage_error(host, "--format json cannot be combined with a flag", USAGE);
    }
    if request.global {
        return show(host, &request, "--global", global_rows(host));
    }
    let apps = match &request.app {
        Some(name) => match existing_app(host, name) {
            Ok(app) => vec![app],
            Err(code) => return code,
        },
        None => match every_app(host) {
            // As Dokku's reports: a warning, and done (`common.NoAppsExist`).
            Ok(apps) if apps.is_empty() => {
                host.output
                    .warn("You haven't deployed any applications yet");
                return ExitCode::Success;
            }
            Ok(apps) => apps,
            Err(error) => return fail(host, error),
        },
    };
    for app in &apps {
        if let Some(signal) = interrupt::received() {
            return ExitCode::Signal(signal);
        }
        let end = show(host, &request, app.name(), rows(host, app));
        if end != ExitCode::Success {
            return end;
        }
    }
    ExitCode::Success
}

/// Prints one report (of `name`: an app, or `--global`) as asked: JSON, one flag's value, or
/// Dokku's layout.
fn show(host: &Host, request: &Request, name: &str, rows: Vec<Row>) -> ExitCode {
    let shown = |value: Result<String, String>| value.unwrap_or_else(|why| format!("error: {why}"));
    if request.json {
        let object: Map<String, Value> = rows
            .into_iter()
            .map(|(flag, value)| {
                let key = flag[FLAG_PREFIX.len()..].to_string();
                (key, Value::String(shown(value)))
            })
            .collect();
        print(&Value::Object(object).to_string());
    } else if let Some(flag) = &request.flag {
        let flags: Vec<String> = rows.iter().map(|(flag, _)| flag.clone()).collect();
        match rows.into_iter().find(|(name, _)| name == flag) {
            Some((_, Ok(value))) => print(&value),
            Some((_, Err(why))) => return fail(host, format!("{name}'s {flag}: {why}")),
            None => return fail(host, unknown_flag(flag, &flags)),
        }
    } else {
        let rows: Vec<(String, String)> = rows
            .into_iter()
            .map(|(flag, value)| (flag, shown(value)))
            .collect();
        info2(&format!("{name} deploy-tasks information"));
        for line in layout(&rows) {
            verbose(&line);
        }
    }
    match interrupt::received() {
        Some(signal) => ExitCode::Signal(signal),
        None => ExitCode::Success,
    }
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut request = Request::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let format = if arg == "--format" {
            Some(args.next().map(String::as_str).unwrap_or(""))
        } else {
            arg.strip_prefix("--format=")
        };
        if let Some(format) = format {
            request.json = match format {
                "json" => true,
                "stdout" => false,
                _ => {
                    return Err(format!(
                        "`{format}` is not a report format (json or stdout)"
                    ))
                }
            };
        } else if arg == "--global" {
            request.global = true;
        } else if arg.starts_with("--") {
            if request.flag.replace(arg.clone()).is_some() {
                return Err("deploy-tasks:report takes one flag".to_string());
            }
        } else if request.app.replace(arg.clone()).is_some() {
            return Err("deploy-tasks:report takes one app".to_string());
        }
    }
    if request.global && request.app.is_some() {
        return Err("deploy-tasks:report takes an app or --global, not both".to_string());
    }
    Ok(request)
}

/// Every report flag of `app` with its value, sorted by flag as Dokku sorts them.
fn rows(host: &Host, app: &App) -> Vec<Row> {
    let mut rows = setting_rows(host, &Settings::of(host, app), true);
    for phase in Phase::ALL {
        rows.push((
            format!("{FLAG_PREFIX}{phase}-tasks"),
            tasks_of(host, app, phase),
        ));
    }
    rows.sort();
    rows
}

/// The global report's flags, as Dokku 0.38's `:report --global` gives them: each key's global
/// value and its computed one (the global value, else the default), no app's.
fn global_rows(host: &Host) -> Vec<Row> {
    let mut rows = setting_rows(host, &Settings::global(host), false);
    rows.sort();
    rows
}

/// Each key's global and computed values under `settings`, and with `app_values` the app's own.
fn setting_rows(host: &Host, settings: &Settings, app_values: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for key in KEYS {
        let name = key.name();
        if app_values {
            rows.push((
                format!("{FLAG_PREFIX}{name}"),
                Ok(settings.app_value(key).unwrap_or_default()),
            ));
        }
        rows.push((
            format!("{FLAG_PREFIX}global-{name}"),
            Ok(settings.global_value(key).unwrap_or_default()),
        ));
        rows.push((
            format!("{FLAG_PREFIX}computed-{name}"),
            Ok(settings.computed(key, host)),
        ));
    }
    rows
}

/// The tasks the `phase` trigger would run for the app's `latest` image, with their sources;
/// empty when there is no image yet, and why, on one line, when they cannot be read.
fn tasks_of(host: &Host, app: &App, phase: Phase) -> Result<String, String> {
    let latest = ImageTag::new(None).map_err(|error| error.to_string())?;
    let reference = format!("{}:{}", app.image_repository(), latest.name());
    match host.docker.image(&reference) {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(String::new()),
        Err(error) => return Err(one_line(&format!("{error:#}"))),
    }
    describe_tasks(host, app, &latest, phase)
        .map(|tasks| tasks.join(", "))
        .map_err(|error| one_line(&format!("{error:#}")))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Dokku's report rows: the flag without `--`, dashes as spaces, capitalised, with a colon,
/// padded to the longest flag's width; then the value.
fn layout(rows: &[(String, String)]) -> Vec<String> {
    let width = rows.iter().map(|(flag, _)| flag.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(flag, value)| {
            let label = format!("{}:", capitalised(&flag[2..].replace('-', " ")));
            format!("{label:width$}{value}").trim_end().to_string()
        })
        .collect()
}

fn capitalised(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

fn unknown_flag(flag: &str, flags: &[String]) -> InputError {
    InputError::new(
        format!("report flag `{flag}`"),
        "not a deploy-tasks:report flag",
        format!("use one of {}", flags.join(", ")),
    )
}

/// Every app on the host: the directories under `DOKKU_ROOT` named as Dokku names apps (not
/// `tls`, which holds Dokku's global certificates), sorted.
fn every_app(host: &Host) -> Result<Vec<App>, InputError> {
    let entries = std::fs::read_dir(&host.dokku_root).map_err(|error| {
        InputError::new(
            format!("DOKKU_ROOT {}", host.dokku_root.display()),
            format!("cannot be read ({error})"),
            "set DOKKU_ROOT to Dokku's home directory",
        )
    })?;
    let mut apps: Vec<App> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            if !entry.file_type().ok()?.is_dir() {
                return None;
            }
            let name = entry.file_name().into_string().ok()?;
            if name == "tls" {
                return None;
            }
            App::new(&name).ok()
        })
        .collect();
    apps.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(apps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn labels_are_dokkus_and_values_share_one_column() {
        let rows = vec![
            ("--deploy-tasks-timeout".to_string(), "30".to_string()),
            (
                "--deploy-tasks-computed-postdeploy-on-failure".to_string(),
                "fail".to_string(),
            ),
            ("--deploy-tasks-skip".to_string(), String::new()),
        ];
        assert_eq!(
            layout(&rows),
            [
                "Deploy tasks timeout:                        30",
                "Deploy tasks computed postdeploy on failure: fail",
                "Deploy tasks skip:",
            ]
        );
    }

    #[test]
    fn parses_app_flag_and_format_in_any_order() {
        let request = parse(&strings(&["--format", "json", "app"])).unwrap();
        assert_eq!((request.app.as_deref(), request.json), (Some("app"), true));
        let request = parse(&strings(&["--deploy-tasks-timeout", "app"])).unwrap();
        assert_eq!(request.flag.as_deref(), Some("--deploy-tasks-timeout"));
        assert!(parse(&strings(&["--format", "yaml"])).is_err());
        assert!(parse(&strings(&["a", "b"])).is_err());
        let request = parse(&strings(&["--global", "--format", "json"])).unwrap();
        assert!(request.global && request.json && request.app.is_none());
        assert!(parse(&strings(&["app", "--global"])).is_err());
    }

    #[test]
    fn unknown_flag_error_lists_every_flag_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            lib_root: dir.path().to_path_buf(),
            ..Host::from_env(dir.path())
        };
        let flags: Vec<String> = global_rows(&host)
            .into_iter()
            .map(|(flag, _)| flag)
            .collect();
        let error = unknown_flag("--deploy-tasks-nope", &flags).to_string();
        assert!(!error.contains('\n'));
        for flag in [
            "--deploy-tasks-global-timeout",
            "--deploy-tasks-global-core-tasks",
            "--deploy-tasks-computed-skip",
        ] {
            assert!(error.contains(flag), "{error}");
        }
    }
}
