//! app.json: the `scripts.dokku.predeploy`, `scripts.dokku.postdeploy` and `scripts.postdeploy`
//! commands.
//!
//! The file is read as Dokku 0.38 reads it (`ReadAppJSON`, plugins/app-json/appjson.go): a file
//! holding only whitespace is `{}`; otherwise JSON with `//` and `/* */` comments and trailing
//! commas (tailscale/hujson, see [`jsonc`]), decoded into Dokku's `AppJSON` struct by Go's
//! encoding/json rules (see [`shape`]): keys match case-insensitively, `null` changes nothing,
//! and a value of the wrong type anywhere in the struct makes Dokku read nothing.
//!
//! Dokku logs such a failure and runs no task, so a typo quietly disables every task. This
//! parser instead rejects a file Dokku would not read, with the line and column of the problem
//! in the file as written.
//!
//! Line endings: Dokku copies app.json with `dos2unix -l` (`common.Copy`, `CopyFromImage`),
//! which turns each CRLF into two LFs and leaves a lone CR alone. CR is JSON whitespace and no
//! string may hold a raw line break, so that changes only line numbers; positions here count
//! the original file's lines. `dos2unix` also drops a leading byte order mark (so does
//! [`decode`]) and skips, as binary, a file holding a control character other than tab, LF,
//! form feed or CR: Dokku then has no app.json, or fails the deploy, so such a file is
//! rejected here.

mod jsonc;
mod shape;

use crate::dokku::{self, DokkuFile};
use crate::input_error::InputError;
use crate::phase::Phase;
use crate::settings::Settings;
use crate::sources::{
    check_command, decode, line_and_column, named_or_default, DefinitionFile, Frequency, Source,
    SourceOptions, Task, TaskSource,
};

use jsonc::{Document, Value};
use shape::{Reading, TypeError};

/// app.json as a task source: looked for at `appjson-path`, else `app.json`, where Dokku's
/// app-json plugin extracts it too (its copy counts only at the default path, the one it reads).
/// A stock Dokku runs all of its scripts itself.
pub struct AppJsonSource;

impl TaskSource for AppJsonSource {
    fn source(&self) -> Source {
        Source::AppJson
    }

    fn search_paths(&self, options: &SourceOptions) -> Vec<String> {
        named_or_default(options.app_json.path.as_deref(), Source::AppJson.name())
    }

    fn host_copy(&self, options: &SourceOptions) -> Option<DokkuFile> {
        options.app_json.path.is_none().then_some(dokku::APP_JSON)
    }

    fn tasks(
        &self,
        file: &DefinitionFile,
        phase: Phase,
        options: &SourceOptions,
    ) -> Result<Vec<Task>, InputError> {
        let scripts = parse(&file.bytes, &file.origin)?;
        Ok(scripts.tasks(phase, options.app_json.heroku_postdeploy_every))
    }

    /// Dokku's app-json runs `scripts.dokku.predeploy` and `scripts.dokku.postdeploy` on every
    /// deploy, and `scripts.postdeploy` on the first only: with `heroku-postdeploy every`, the
    /// later deploys' run is this plugin's.
    fn run_by_stock_dokku(&self, task: &Task) -> bool {
        task.key != "scripts.postdeploy" || task.frequency == Frequency::FirstDeployOnly
    }
}

/// What the plugin's settings say about app.json.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `appjson-path`: where the file is in the image, relative to the app's root, instead of
    /// `app.json`.
    pub path: Option<String>,
    /// `heroku-postdeploy` is `every`: `scripts.postdeploy` on every deploy (Scalingo) instead
    /// of the first only.
    pub heroku_postdeploy_every: bool,
}

/// Reads app.json's options from the plugin's settings.
///
/// # Errors
///
/// An [`InputError`] naming the setting when `heroku-postdeploy` holds a value it does not take.
pub fn options(settings: &Settings) -> Result<Options, InputError> {
    let heroku_postdeploy_every = settings.heroku_postdeploy_every_deploy()?;
    Ok(Options {
        path: settings.get("appjson-path"),
        heroku_postdeploy_every,
    })
}

/// The deployment commands an app.json defines. Each is `None` when the key is absent, `null`,
/// or a string holding only whitespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppJsonScripts {
    /// `scripts.dokku.predeploy`: runs before the new containers start, committed into the image.
    pub predeploy: Option<String>,
    /// `scripts.dokku.postdeploy`: runs after the new containers start.
    pub postdeploy: Option<String>,
    /// `scripts.postdeploy`: Heroku's postdeploy, which Dokku runs on the first deploy only.
    pub heroku_postdeploy: Option<String>,
}

impl AppJsonScripts {
    /// The tasks these scripts define for `phase`: `scripts.dokku.predeploy` in predeploy;
    /// `scripts.dokku.postdeploy` then `scripts.postdeploy` in postdeploy. `scripts.postdeploy`
    /// runs on the first deploy only, as on Heroku and Dokku, unless `every_deploy` (Scalingo's
    /// reading).
    pub fn tasks(&self, phase: Phase, heroku_postdeploy_every_deploy: bool) -> Vec<Task> {
        let task = |key: &str, command: &str| Task::shell(phase, Source::AppJson, key, command);
        let mut tasks = Vec::new();
        match phase {
            Phase::Predeploy => {
                tasks.extend(
                    self.predeploy
                        .as_deref()
                        .map(|command| task("scripts.dokku.predeploy", command)),
                );
            }
            Phase::Release => {}
            Phase::Postdeploy => {
                tasks.extend(
                    self.postdeploy
                        .as_deref()
                        .map(|command| task("scripts.dokku.postdeploy", command)),
                );
                if let Some(command) = &self.heroku_postdeploy {
                    let mut once = task("scripts.postdeploy", command);
                    if !heroku_postdeploy_every_deploy {
                        once.frequency = Frequency::FirstDeployOnly;
                    }
                    tasks.push(once);
                }
            }
        }
        tasks
    }
}

/// Parses the bytes of an app.json; `origin` names the file in errors.
///
/// An empty or whitespace-only file, or one holding `null`, defines no tasks. A leading UTF-8
/// byte order mark is skipped. Keys other than the three scripts are checked for their type as
/// Dokku's struct has them, and otherwise ignored. A command is kept as written, except that one
/// trailing line break (`\n` or `\r\n`) is removed; a blank one counts as absent.
///
/// # Errors
///
/// An [`InputError`] with the line and column (1-based; columns count characters) when the file
/// is over 1 MiB, is not UTF-8, holds a control character that makes Dokku skip it, is not JSON
/// with comments, does not hold an object, or has a value Dokku's `AppJSON` cannot take (such as
/// `scripts.dokku.predeploy` not a string, or `formation.web.quantity` not an integer).
pub fn parse(bytes: &[u8], origin: &str) -> Result<AppJsonScripts, InputError> {
    let Some(read) = read(bytes, origin)? else {
        return Ok(AppJsonScripts::default());
    };
    let command = |script: Option<(String, usize)>, key: &str| {
        let Some((command, offset)) = script.filter(|(command, _)| !command.trim().is_empty())
        else {
            return Ok(None);
        };
        let trimmed = command
            .strip_suffix("\r\n")
            .or_else(|| command.strip_suffix('\n'))
            .unwrap_or(&command);
        check_command(trimmed, origin, key).map_err(|error| {
            let (line, column) = line_and_column(read.text.as_bytes(), offset);
            error.at(line, column)
        })?;
        Ok(Some(trimmed.to_string()))
    };
    Ok(AppJsonScripts {
        predeploy: command(read.reading.predeploy, "scripts.dokku.predeploy")?,
        postdeploy: command(read.reading.postdeploy, "scripts.dokku.postdeploy")?,
        heroku_postdeploy: command(read.reading.heroku_postdeploy, "scripts.postdeploy")?,
    })
}

/// The app.json with every member that names `scripts.dokku.predeploy`,
/// `scripts.dokku.postdeploy` or `scripts.postdeploy` cut out (in any case, in every occurrence of
/// a duplicated `scripts` or `dokku`), so that Dokku finds none of these tasks and reads
/// everything else exactly as before; `None` when no member names one of them.
///
/// The cut is textual: comments, formatting, key order and every other byte stay as they were.
/// A member goes with the comma after it, or, when it is last with no comma after it, with the
/// comma before it, so plain JSON stays plain JSON. A member alone on its lines takes those
/// lines with it. `scripts` and `scripts.dokku` stay, empty if nothing else is in them.
///
/// # Errors
///
/// The [`InputError`] of [`parse`] when the file is not one Dokku reads.
pub fn without_tasks(bytes: &[u8], origin: &str) -> Result<Option<Vec<u8>>, InputError> {
    let Some(read) = read(bytes, origin)? else {
        return Ok(None);
    };
    if read.reading.script_members.is_empty() {
        return Ok(None);
    }
    let cuts = member_cuts(read.text, &read.document, &read.reading.script_members);
    // The text starts after any byte order mark, which stays.
    let prefix = bytes.len() - read.text.len();
    let mut rewritten = bytes[..prefix].to_vec();
    let mut kept_from = 0;
    for (start, end) in cuts {
        rewritten.extend_from_slice(&read.text.as_bytes()[kept_from..start]);
        kept_from = end;
    }
    rewritten.extend_from_slice(&read.text.as_bytes()[kept_from..]);
    Ok(Some(rewritten))
}

/// A file Dokku reads, parsed.
struct Read<'a> {
    text: &'a str,
    document: Document,
    reading: Reading,
}

/// Reads the file as Dokku does; `None` when it defines nothing (whitespace only, or `null`).
fn read<'a>(bytes: &'a [u8], origin: &str) -> Result<Option<Read<'a>>, InputError> {
    let text = decode(
        bytes,
        origin,
        "app.json",
        "keep app.json small: move large data out of it",
    )?;
    if let Some(offset) = text
        .bytes()
        .position(|byte| byte < b' ' && !matches!(byte, b'\t' | b'\n' | b'\x0c' | b'\r'))
    {
        let (line, column) = line_and_column(text.as_bytes(), offset);
        return Err(InputError::new(
            origin,
            format!(
                "app.json holds the control character U+{:04X}, for which Dokku's dos2unix \
                 takes it for a binary file and does not read it",
                text.as_bytes()[offset]
            ),
            "remove the character (inside a string, write it as a \\u escape)",
        )
        .at(line, column));
    }
    // Go's strings.TrimSpace and str::trim agree on what whitespace is (Unicode White_Space).
    if text.trim().is_empty() {
        return Ok(None);
    }
    let document = jsonc::parse(text).map_err(|error| {
        let (line, column) = line_and_column(text.as_bytes(), error.offset);
        InputError::new(
            origin,
            format!("app.json is not valid JSON: {}", error.problem),
            error.fix,
        )
        .at(line, column)
    })?;
    let root = &document.nodes[document.root];
    match &root.value {
        Value::Object(_) => {}
        // Go decodes `null` into a struct by leaving it as it is.
        Value::Null => return Ok(None),
        other => {
            let (line, column) = line_and_column(text.as_bytes(), root.start);
            return Err(InputError::new(
                origin,
                format!(
                    "app.json must hold a JSON object, found {}",
                    other.type_name()
                ),
                "write app.json as an object: {\"scripts\": {\"dokku\": {\"predeploy\": \"...\"}}}",
            )
            .at(line, column));
        }
    }
    let reading = shape::read(&document, text).map_err(|error| type_error(text, origin, error))?;
    Ok(Some(Read {
        text,
        document,
        reading,
    }))
}

/// The one-line error for a value Dokku's struct cannot take.
fn type_error(text: &str, origin: &str, error: TypeError) -> InputError {
    let (line, column) = line_and_column(text.as_bytes(), error.offset);
    let TypeError {
        path,
        expected,
        found,
        scripts_object,
        ..
    } = error;
    let fix = if scripts_object {
        format!("write {path} as an object of commands, like {{\"predeploy\": \"...\"}}")
    } else if expected.starts_with("a string (a shell command)") {
        format!("write {path} as one string, like \"./manage.py migrate\"")
    } else {
        format!("write {path} as {expected}: Dokku reads nothing from an app.json with a value of the wrong type")
    };
    InputError::new(
        origin,
        format!("{path} must be {expected}, found {found}"),
        fix,
    )
    .at(line, column)
}

/// The byte ranges of `text` to cut to remove `members` (each an object's node and a member's
/// index in it), sorted and not overlapping.
fn member_cuts(
    text: &str,
    document: &Document,
    members: &[(jsonc::NodeId, usize)],
) -> Vec<(usize, usize)> {
    let mut cuts = Vec::new();
    for &(object, index) in members {
        let Value::Object(siblings) = &document.nodes[object].value else {
            continue;
        };
        let member = &siblings[index];
        let value_end = document.nodes[member.value].end;
        let cut = match member.comma {
            Some(comma) => (member.key_start, comma + 1),
            None => {
                // The last member: take the comma of the nearest member before it that stays,
                // since those in between go with their own commas.
                let kept_before = siblings[..index]
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(before, _)| !members.contains(&(object, *before)));
                match kept_before.and_then(|(_, kept)| kept.comma) {
                    Some(comma) => (comma, value_end),
                    None => (member.key_start, value_end),
                }
            }
        };
        cuts.push(whole_lines(text, cut));
    }
    cuts.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(cuts.len());
    for (start, end) in cuts {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Widens a cut to the whole lines it is on when nothing but spaces and tabs shares those lines
/// with it, so that no blank line is left behind. Only whitespace is added, so the cut stays
/// safe: the line break taken ends no comment, since no comment shares the lines.
fn whole_lines(text: &str, (start, end): (usize, usize)) -> (usize, usize) {
    let line_start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let before_is_blank = text[line_start..start]
        .bytes()
        .all(|byte| matches!(byte, b' ' | b'\t'));
    let rest = &text[end..];
    let line_end = rest
        .find('\n')
        .map_or(text.len(), |newline| end + newline + 1);
    let after_is_blank = text[end..line_end]
        .bytes()
        .all(|byte| matches!(byte, b' ' | b'\t' | b'\r' | b'\n'));
    if before_is_blank && after_is_blank {
        (line_start, line_end)
    } else {
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{MAX_BYTES, MAX_COMMAND_BYTES};

    fn scripts(text: &str) -> AppJsonScripts {
        parse(text.as_bytes(), "app.json").unwrap()
    }

    fn parse_error(text: &str) -> InputError {
        parse(text.as_bytes(), "app.json").unwrap_err()
    }

    fn position(error: &InputError) -> (Option<usize>, Option<usize>) {
        (error.line, error.column)
    }

    fn predeploy(command: &str) -> AppJsonScripts {
        AppJsonScripts {
            predeploy: Some(command.to_string()),
            ..AppJsonScripts::default()
        }
    }

    #[test]
    fn a_script_with_a_nul_byte_or_too_long_is_refused_where_its_string_starts() {
        let error = parse_error("{\"scripts\": {\n  \"dokku\": {\"predeploy\": \"a\\u0000b\"}}}");
        assert_eq!(position(&error), (Some(2), Some(26)));
        assert!(
            error
                .problem
                .contains("scripts.dokku.predeploy holds a NUL byte"),
            "{error}"
        );
        let long = "x".repeat(MAX_COMMAND_BYTES + 1);
        let error = parse_error(&format!("{{\"scripts\": {{\"postdeploy\": \"{long}\"}}}}"));
        assert_eq!(position(&error), (Some(1), Some(28)));
        assert!(error.problem.contains("scripts.postdeploy is"), "{error}");
    }

    #[test]
    fn dokku_runs_herokus_postdeploy_on_the_first_deploy_only_and_its_own_scripts_on_every_one() {
        let parsed = scripts(
            r#"{"scripts": {"dokku": {"predeploy": "a", "postdeploy": "b"}, "postdeploy": "c"}}"#,
        );
        let dokkus = |every: bool, phase: Phase| -> Vec<(String, bool)> {
            parsed
                .tasks(phase, every)
                .iter()
                .map(|task| (task.key.clone(), AppJsonSource.run_by_stock_dokku(task)))
                .collect()
        };
        assert_eq!(
            dokkus(false, Phase::Predeploy),
            [("scripts.dokku.predeploy".to_string(), true)]
        );
        assert_eq!(
            dokkus(false, Phase::Postdeploy),
            [
                ("scripts.dokku.postdeploy".to_string(), true),
                ("scripts.postdeploy".to_string(), true)
            ]
        );
        assert_eq!(
            dokkus(true, Phase::Postdeploy),
            [
                ("scripts.dokku.postdeploy".to_string(), true),
                ("scripts.postdeploy".to_string(), false)
            ]
        );
    }

    #[test]
    fn each_script_is_a_task_of_its_phase() {
        let parsed = scripts(
            r#"{"scripts": {"dokku": {"predeploy": "a", "postdeploy": "b"}, "postdeploy": "c"}}"#,
        );
        let keys = |phase, every| -> Vec<(String, Frequency)> {
            parsed
                .tasks(phase, every)
                .into_iter()
                .map(|task| (task.key, task.frequency))
                .collect()
        };
        assert_eq!(
            keys(Phase::Predeploy, false),
            [(
                "scripts.dokku.predeploy".to_string(),
                Frequency::EveryDeploy
            )]
        );
        assert!(keys(Phase::Release, false).is_empty());
        assert_eq!(
            keys(Phase::Postdeploy, false),
            [
                (
                    "scripts.dokku.postdeploy".to_string(),
                    Frequency::EveryDeploy
                ),
                ("scripts.postdeploy".to_string(), Frequency::FirstDeployOnly)
            ]
        );
        assert_eq!(keys(Phase::Postdeploy, true)[1].1, Frequency::EveryDeploy);
    }

    #[test]
    fn reads_all_three_scripts() {
        let text = r#"{
  "name": "example",
  "scripts": {
    "dokku": {
      "predeploy": "./manage.py migrate",
      "postdeploy": "curl -fsS https://example.com/ping"
    },
    "postdeploy": "rake db:seed"
  },
  "healthchecks": {"web": [{"type": "startup"}]}
}"#;
        assert_eq!(
            scripts(text),
            AppJsonScripts {
                predeploy: Some("./manage.py migrate".to_string()),
                postdeploy: Some("curl -fsS https://example.com/ping".to_string()),
                heroku_postdeploy: Some("rake db:seed".to_string()),
            }
        );
    }

    #[test]
    fn missing_keys_mean_no_tasks() {
        assert_eq!(scripts("{}"), AppJsonScripts::default());
        assert_eq!(scripts(r#"{"scripts": {}}"#), AppJsonScripts::default());
        assert_eq!(
            scripts(r#"{"scripts": {"dokku": {}}}"#),
            AppJsonScripts::default()
        );
        assert_eq!(
            scripts(r#"{"scripts": {"dokku": {"predeploy": "a"}}}"#),
            predeploy("a")
        );
    }

    #[test]
    fn empty_and_whitespace_files_mean_no_tasks() {
        for text in ["", " \n\t\r\n", "\u{feff}", "\u{c}\u{a0}\u{2003}\r\n"] {
            assert_eq!(scripts(text), AppJsonScripts::default(), "{text:?}");
        }
    }

    #[test]
    fn a_file_of_comments_only_is_an_error_as_in_dokku() {
        // Dokku's whitespace check comes before the comments are read.
        let error = parse_error("// nothing yet\n");
        assert!(
            error.problem.contains("ends where a value should be"),
            "{error}"
        );
        assert_eq!(position(&error), (Some(2), Some(1)));
    }

    #[test]
    fn null_counts_as_absent() {
        assert_eq!(scripts("null"), AppJsonScripts::default());
        assert_eq!(scripts(r#"{"scripts": null}"#), AppJsonScripts::default());
        assert_eq!(
            scripts(r#"{"scripts": {"dokku": null, "postdeploy": null}}"#),
            AppJsonScripts::default()
        );
        assert_eq!(
            scripts(r#"{"scripts": {"dokku": {"predeploy": null, "postdeploy": null}}}"#),
            AppJsonScripts::default()
        );
    }

    #[test]
    fn a_later_null_leaves_an_earlier_command_as_go_does() {
        let text = r#"{"scripts": {"dokku": {"predeploy": "a", "predeploy": null}}}"#;
        assert_eq!(scripts(text), predeploy("a"));
    }

    #[test]
    fn blank_scripts_count_as_absent() {
        let text = r#"{"scripts": {"dokku": {"predeploy": "", "postdeploy": "  \n "}, "postdeploy": "\t"}}"#;
        assert_eq!(scripts(text), AppJsonScripts::default());
    }

    #[test]
    fn keeps_commands_as_written_but_one_trailing_newline() {
        let text = r#"{"scripts": {"dokku": {"predeploy": "  echo hi  \n\n", "postdeploy": "a\r\n"}, "postdeploy": "set -e\nmake seed\n"}}"#;
        assert_eq!(
            scripts(text),
            AppJsonScripts {
                predeploy: Some("  echo hi  \n".to_string()),
                postdeploy: Some("a".to_string()),
                heroku_postdeploy: Some("set -e\nmake seed".to_string()),
            }
        );
    }

    #[test]
    fn tolerates_a_byte_order_mark() {
        let text = "\u{feff}{\"scripts\": {\"dokku\": {\"predeploy\": \"x\"}}}";
        assert_eq!(scripts(text), predeploy("x"));
    }

    #[test]
    fn unknown_keys_are_ignored_whatever_their_type() {
        let text = r#"{"name": 5, "addons": "x", "env": {"A": {"value": "1"}}, "formation": {"web": {"quantity": 2}},
            "scripts": {"test": ["x"], "dokku": {"other": 5, "predeploy": "p"}}}"#;
        assert_eq!(scripts(text), predeploy("p"));
    }

    #[test]
    fn reads_comments_and_trailing_commas() {
        let text = "// Dokku reads JSONC\n{\n  /* the tasks */\n  \"scripts\": {\n    \"dokku\": {\n      \"predeploy\": \"migrate\", // runs first\n    },\n  },\n}\n";
        assert_eq!(scripts(text), predeploy("migrate"));
    }

    #[test]
    fn comments_inside_strings_are_not_comments() {
        let text = r#"{"scripts": {"dokku": {"predeploy": "curl http://x // y /* z */"}}}"#;
        assert_eq!(scripts(text), predeploy("curl http://x // y /* z */"));
    }

    #[test]
    fn an_unterminated_block_comment_is_an_error_at_its_start() {
        let error = parse_error("{\n  \"scripts\": {}\n  /* old\n}\n");
        assert_eq!(position(&error), (Some(3), Some(3)));
        assert_eq!(
            error.to_string(),
            "app.json line 3, column 3: app.json is not valid JSON: a /* comment is never closed; close the comment with */"
        );
    }

    #[test]
    fn positions_after_a_block_comment_spanning_lines_are_right() {
        let text = "{\n  /* one\n     two\n  */ \"scripts\": {\"dokku\": {\"predeploy\": 1}}\n}";
        let error = parse_error(text);
        assert_eq!(position(&error), (Some(4), Some(41)));
        let text = "{ /* a\n b */ \"x\": 1 /* c\n */ \"y\" 2 }";
        let error = parse_error(text);
        assert_eq!(position(&error), (Some(3), Some(5)));
        assert!(error.problem.contains("expecting ',' or '}'"), "{error}");
    }

    #[test]
    fn keys_match_fields_case_insensitively() {
        for text in [
            r#"{"Scripts": {"Dokku": {"PreDeploy": "a"}}}"#,
            r#"{"SCRIPTS": {"DOKKU": {"PREDEPLOY": "a"}}}"#,
            r#"{"sCrIpTs": {"dokku": {"preDeploy": "a"}}}"#,
            // Go's case folding also maps the Kelvin sign to k and the long s to s.
            "{\"\u{17F}cripts\": {\"do\u{212A}ku\": {\"predeploy\": \"a\"}}}",
        ] {
            assert_eq!(scripts(text), predeploy("a"), "{text}");
        }
        // Other look-alikes are other keys.
        assert_eq!(
            scripts(r#"{"scripts": {"dokku": {"pre_deploy": "a", "predeploy ": "b"}}}"#),
            AppJsonScripts::default()
        );
    }

    #[test]
    fn the_last_occurrence_of_a_key_wins_across_case_variants() {
        let text = r#"{"Scripts": {"dokku": {"predeploy": "first"}}, "scripts": {"dokku": {"predeploy": "second"}}}"#;
        assert_eq!(scripts(text), predeploy("second"));
        let text = r#"{"scripts": {"dokku": {"predeploy": "first"}}, "Scripts": {"Dokku": {"PREDEPLOY": "second"}}}"#;
        assert_eq!(scripts(text), predeploy("second"));
        let text = r#"{"scripts": {"dokku": {"predeploy": 1, "predeploy": "second"}}}"#;
        assert!(
            parse(text.as_bytes(), "app.json").is_err(),
            "Go checks every occurrence"
        );
    }

    #[test]
    fn duplicate_objects_merge_as_go_does() {
        let text = r#"{"scripts": {"dokku": {"predeploy": "a"}, "postdeploy": "c"},
                       "SCRIPTS": {"dokku": {"postdeploy": "b"}}}"#;
        assert_eq!(
            scripts(text),
            AppJsonScripts {
                predeploy: Some("a".to_string()),
                postdeploy: Some("b".to_string()),
                heroku_postdeploy: Some("c".to_string()),
            }
        );
    }

    #[test]
    fn crlf_line_endings_read_as_lf_and_count_one_line() {
        let text =
            "{\r\n  // tasks\r\n  \"scripts\": {\"dokku\": {\"predeploy\": \"a\"}},\r\n}\r\n";
        assert_eq!(scripts(text), predeploy("a"));
        let error = parse_error("{\r\n\r\n  \"scripts\": 5\r\n}\r\n");
        assert_eq!(position(&error), (Some(3), Some(14)));
    }

    #[test]
    fn control_characters_that_make_dos2unix_skip_the_file_are_errors() {
        let error = parse_error("{} // a bell \u{7}\n");
        assert_eq!(position(&error), (Some(1), Some(14)));
        assert!(error.problem.contains("U+0007"), "{error}");
        assert!(parse_error("\u{b}").problem.contains("dos2unix"));
        // A form feed does not: it is whitespace to Dokku's emptiness check, and may sit in a
        // comment.
        assert_eq!(scripts("{} // \u{c}\n"), AppJsonScripts::default());
    }

    #[test]
    fn rejects_files_over_one_mebibyte() {
        let mut text = String::from("{\"name\": \"");
        text.push_str(&"x".repeat(MAX_BYTES));
        text.push_str("\"}");
        let error = parse(text.as_bytes(), "app.json").unwrap_err();
        assert!(error.problem.contains("1 MiB"), "{error}");
        let exactly = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_BYTES - 9));
        assert_eq!(exactly.len(), MAX_BYTES);
        assert!(parse(exactly.as_bytes(), "app.json").is_ok());
    }

    #[test]
    fn rejects_invalid_utf8_at_its_position() {
        let bytes = b"{\n  \"name\": \"caf\xc3\xa9 \xff\"\n}";
        let error = parse(bytes, "app.json from dokku/app:latest").unwrap_err();
        assert_eq!(error.origin, "app.json from dokku/app:latest");
        assert_eq!(position(&error), (Some(2), Some(17)));
        assert!(error.problem.contains("UTF-8"), "{error}");
    }

    #[test]
    fn reports_syntax_errors_with_position_and_message() {
        let error = parse_error(
            "{\n  \"scripts\": {\n    \"dokku\": {}\n    \"postdeploy\": \"x\"\n  }\n}",
        );
        assert_eq!(position(&error), (Some(4), Some(5)));
        assert_eq!(
            error.to_string(),
            "app.json line 4, column 5: app.json is not valid JSON: unexpected '\"' after an object member, expecting ',' or '}'; separate members with commas"
        );
        let error = parse_error("{\"scripts\": {");
        assert!(error.fix.contains("complete"), "{error}");
        assert_eq!(position(&error), (Some(1), Some(14)));
    }

    #[test]
    fn syntax_error_columns_count_characters() {
        let error = parse_error("{\"名前\": x}");
        assert_eq!(position(&error), (Some(1), Some(8)));
    }

    #[test]
    fn rejects_a_top_level_that_is_not_an_object() {
        let error = parse_error("\n  [1, 2]");
        assert_eq!(
            error.problem,
            "app.json must hold a JSON object, found an array"
        );
        assert_eq!(position(&error), (Some(2), Some(3)));
        assert!(parse_error("\"x\"").problem.ends_with("found a string"));
        assert!(parse_error("3").problem.ends_with("found a number"));
        assert!(parse_error("true").problem.ends_with("found a boolean"));
    }

    #[test]
    fn reports_wrong_script_types_with_path_and_position() {
        let text = "{\n  \"scripts\": {\n    \"dokku\": {\n      \"predeploy\": 42\n    }\n  }\n}";
        let error = parse_error(text);
        assert_eq!(
            error.problem,
            "scripts.dokku.predeploy must be a string (a shell command), found a number"
        );
        assert_eq!(position(&error), (Some(4), Some(20)));
        assert_eq!(
            error.fix,
            "write scripts.dokku.predeploy as one string, like \"./manage.py migrate\""
        );

        let error = parse_error(r#"{"scripts": {"dokku": {"postdeploy": ["a", "b"]}}}"#);
        assert!(error
            .problem
            .starts_with("scripts.dokku.postdeploy must be a string"));
        assert!(error.problem.ends_with("found an array"));
        assert_eq!(position(&error), (Some(1), Some(38)));

        let error = parse_error(r#"{"scripts": {"postdeploy": true}}"#);
        assert_eq!(
            error.problem,
            "scripts.postdeploy must be a string (a shell command), found a boolean"
        );
        assert_eq!(position(&error), (Some(1), Some(28)));
    }

    #[test]
    fn a_scripts_key_that_is_not_an_object_errors_like_go() {
        let error = parse_error("{\n  // tasks\n  \"Scripts\": \"npm run migrate\"\n}\n");
        assert_eq!(
            error.to_string(),
            "app.json line 3, column 14: scripts must be an object, found a string; write scripts as an object of commands, like {\"predeploy\": \"...\"}"
        );
        let error = parse_error("{\"scripts\": {\n\"dokku\": [\"predeploy\"]}}");
        assert_eq!(
            error.problem,
            "scripts.dokku must be an object, found an array"
        );
        assert_eq!(position(&error), (Some(2), Some(10)));
    }

    #[test]
    fn wrong_types_elsewhere_in_dokku_s_struct_are_errors_too() {
        let cases = [
            (
                r#"{"formation": {"web": {"quantity": "2"}}}"#,
                "formation.web.quantity must be a whole number that fits in 64 bits, found a string",
            ),
            (
                r#"{"formation": {"web": {"quantity": 1.5}}}"#,
                "formation.web.quantity must be a whole number that fits in 64 bits, found the number 1.5",
            ),
            (
                r#"{"healthchecks": {"web": [{"timeout": 3000000000}]}}"#,
                "healthchecks.web[0].timeout must be a whole number that fits in 32 bits, found the number 3000000000",
            ),
            (
                r#"{"cron": [{"command": "x", "schedule": "@daily"}, {"Maintenance": "yes"}]}"#,
                "cron[1].maintenance must be true or false, found a string",
            ),
            (
                r#"{"env": {"SECRET": 5}}"#,
                "env.SECRET must be a string or an object, found a number",
            ),
            (
                r#"{"env": {"SECRET": {"required": "no"}}}"#,
                "env.SECRET.required must be true or false, found a string",
            ),
            (
                r#"{"buildpacks": {"url": "x"}}"#,
                "buildpacks must be an array, found an object",
            ),
            (
                r#"{"formation": {"web": {"autoscaling": {"triggers": [{"metadata": {"a": 1}}]}}}}"#,
                "formation.web.autoscaling.triggers[0].metadata.a must be a string, found a number",
            ),
        ];
        for (text, problem) in cases {
            let error = parse_error(text);
            assert_eq!(error.problem, problem, "{text}");
            assert!(error.fix.contains("Dokku reads nothing"), "{error}");
        }
        let fine = r#"{"env": {"A": "x", "B": {"value": "y", "required": false}, "C": null},
            "formation": {"web": {"quantity": -0, "max_parallel": null, "service": {"exposed": true}}},
            "healthchecks": {"web": [{"port": 5000, "command": ["true"], "onFailure": {"url": "u"}}]},
            "buildpacks": [{"url": "https://x"}], "cron": []}"#;
        assert_eq!(scripts(fine), AppJsonScripts::default());
    }

    #[test]
    fn positions_follow_escaped_keys_and_unicode() {
        let text = "{\"名前\": \"é\", \"scr\\u0069pts\": {\"dokku\": {\"predeploy\": {}}}}";
        let error = parse_error(text);
        assert_eq!(
            error.problem,
            "scripts.dokku.predeploy must be a string (a shell command), found an object"
        );
        assert_eq!(position(&error), (Some(1), Some(53)));
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs: [&[u8]; 14] = [
            b"\xff",
            b"\xef\xbb\xbf\xff",
            b"{",
            b"}",
            b"/",
            b"//",
            b"/*",
            b"{\"scripts\": \"\\",
            b"[{\"scripts\": 1}]",
            b"{\"a\":\"\\\"\"}",
            b"\xc3",
            b"{\"a\": \"\\u",
            b"{\"a\": \"\\ud800\\u",
            b"{\"a\": -",
        ];
        for input in inputs {
            let _ = parse(input, "app.json");
            let _ = without_tasks(input, "app.json");
        }
    }

    // without_tasks

    fn without(text: &str) -> Option<String> {
        without_tasks(text.as_bytes(), "app.json")
            .unwrap()
            .map(|bytes| String::from_utf8(bytes).unwrap())
    }

    /// A generic view of a value: objects keep every member, in order, duplicates included.
    #[derive(Debug, PartialEq)]
    enum View {
        Literal(String),
        Text(String),
        List(Vec<View>),
        Map(Vec<(String, View)>),
    }

    fn view(text: &str) -> View {
        fn of(text: &str, document: &Document, id: jsonc::NodeId) -> View {
            let node = &document.nodes[id];
            match &node.value {
                Value::String(string) => View::Text(string.clone()),
                Value::Array(items) => {
                    View::List(items.iter().map(|item| of(text, document, *item)).collect())
                }
                Value::Object(members) => View::Map(
                    members
                        .iter()
                        .map(|m| (m.key.clone(), of(text, document, m.value)))
                        .collect(),
                ),
                _ => View::Literal(text[node.start..node.end].to_string()),
            }
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let document = jsonc::parse(text).unwrap();
        of(text, &document, document.root)
    }

    /// The test's own reading of which keys name a field: lowercase, with the long s as s.
    fn folds_to(key: &str, name: &str) -> bool {
        let folded: String = key
            .chars()
            .flat_map(char::to_lowercase)
            .map(|c| if c == '\u{17F}' { 's' } else { c })
            .collect();
        folded == name
    }

    /// `view` with the three tasks' members removed, by the test's own reading.
    fn without_task_members(view: View) -> View {
        let View::Map(members) = view else {
            return view;
        };
        let strip = |value: View, names: &[&str], inner: &dyn Fn(View) -> View| match value {
            View::Map(members) => View::Map(
                members
                    .into_iter()
                    .filter(|(key, _)| !names.iter().any(|name| folds_to(key, name)))
                    .map(|(key, value)| (key, inner(value)))
                    .collect(),
            ),
            other => other,
        };
        let dokku = |value: View| strip(value, &["predeploy", "postdeploy"], &|v| v);
        let scripts = |value: View| match value {
            View::Map(members) => View::Map(
                members
                    .into_iter()
                    .filter(|(key, _)| !folds_to(key, "postdeploy"))
                    .map(|(key, value)| {
                        let value = if folds_to(&key, "dokku") {
                            dokku(value)
                        } else {
                            value
                        };
                        (key, value)
                    })
                    .collect(),
            ),
            other => other,
        };
        View::Map(
            members
                .into_iter()
                .map(|(key, value)| {
                    let value = if folds_to(&key, "scripts") {
                        scripts(value)
                    } else {
                        value
                    };
                    (key, value)
                })
                .collect(),
        )
    }

    const FIXTURES: &[&str] = &[
        r#"{"scripts": {"dokku": {"predeploy": "a", "postdeploy": "b"}, "postdeploy": "c"}}"#,
        r#"{"name": "x", "scripts": {"dokku": {"predeploy": "a"}}, "env": {"A": "1"}}"#,
        r#"{"scripts": {"postdeploy": "c", "test": "t"}, "formation": {"web": {"quantity": 2}}}"#,
        r#"{"scripts": {"test": "t", "postdeploy": "c"}}"#,
        r#"{"scripts": {"dokku": {"other": 1, "predeploy": "a", "x": [1, {"y": null}]}}}"#,
        "{\n  \"name\": \"shop\",\n  \"scripts\": {\n    \"dokku\": {\n      \"predeploy\": \"migrate\",\n      \"postdeploy\": \"ping\"\n    },\n    \"postdeploy\": \"seed\"\n  },\n  \"healthchecks\": {\"web\": [{\"type\": \"startup\", \"path\": \"/\"}]}\n}\n",
        "// app\n{\n  /* scripts */ \"scripts\": { // here\n    \"dokku\": {\n      \"predeploy\": \"a\", // first\n      /* between */\n      \"postdeploy\": \"b\", // trailing comma next\n    },\n    \"postdeploy\": \"c\" /* last, no comma */\n  },\n  \"cron\": [{\"command\": \"x\", \"schedule\": \"@daily\",},],\n}\n",
        "{\r\n  \"scripts\": {\r\n    \"dokku\": {\"predeploy\": \"a\"},\r\n    \"postdeploy\": \"c\"\r\n  }\r\n}\r\n",
        r#"{"Scripts": {"Dokku": {"PreDeploy": "a"}}, "SCRIPTS": {"POSTDEPLOY": "c", "dokku": {"postdeploy": "b", "predeploy": null}}, "scripts": {"dokku": {"PREDEPLOY": "z"}}}"#,
        r#"{"scripts": {"dokku": {"predeploy": "a", "predeploy": "b", "Predeploy": "c"}}}"#,
        "{\"\u{17F}cripts\": {\"do\u{212A}ku\": {\"predeploy\": \"a\"}}, \"名前\": \"é // not a comment\"}",
        "\u{feff}{\"description\": \"caf\u{e9} \\u00e9 \\ud83d\\ude00\", \"scripts\": {\"dokku\": {\"postdeploy\": \"b\"}}}",
        r#"{"scripts": {"dokku": {"predeploy": "a"}}, "scripts": null}"#,
        "{\"scripts\":{\"dokku\":{\"predeploy\":\"a\",\"postdeploy\":\"b\"},\"postdeploy\":\"c\"},\"env\":{\"B\":{\"value\":\"2\"}}}",
        "{\n  \"scripts\": {\"dokku\": {\"predeploy\": \"a\"}}, \"env\": {}\n}",
        "{\"scripts\": {\"dokku\": {\n  \"predeploy\": \"a\" ,\n  \"postdeploy\": \"b\"\n  ,\n}}}",
        r#"{"scripts": {"dokku": {"predeploy": "curl http://x/*y*/ // z"}}, "a": "/* kept */"}"#,
    ];

    /// Each fixture as written, with CRLF line endings, and wrapped in comments.
    fn fixture_variants() -> Vec<String> {
        FIXTURES
            .iter()
            .flat_map(|text| {
                [
                    text.to_string(),
                    text.replace("\r\n", "\n").replace('\n', "\r\n"),
                    format!("// lead\n/* block\n*/ {text} // tail\n"),
                ]
            })
            .collect()
    }

    #[test]
    fn without_tasks_leaves_no_task_and_everything_else_as_it_was() {
        for text in &fixture_variants() {
            // A byte order mark only counts at the very start.
            let text = text.as_str();
            if text.contains('\u{feff}') && !text.starts_with('\u{feff}') {
                continue;
            }
            let before = scripts(text);
            assert_ne!(
                before,
                AppJsonScripts::default(),
                "fixture without tasks: {text}"
            );
            let after = without(text).unwrap_or_else(|| panic!("nothing removed from {text}"));
            assert_eq!(
                scripts(&after),
                AppJsonScripts::default(),
                "{text}\n=> {after}"
            );
            assert_eq!(
                view(&after),
                without_task_members(view(text)),
                "{text}\n=> {after}"
            );
            assert_eq!(without(&after), None, "{after}");
            // Plain JSON stays plain JSON.
            let plain = text.strip_prefix('\u{feff}').unwrap_or(text);
            if serde_json::from_str::<serde_json::Value>(plain).is_ok() {
                let after_plain = after.strip_prefix('\u{feff}').unwrap_or(&after);
                assert!(
                    serde_json::from_str::<serde_json::Value>(after_plain).is_ok(),
                    "{text}\n=> {after}"
                );
            }
            assert_eq!(text.starts_with('\u{feff}'), after.starts_with('\u{feff}'));
        }
    }

    #[test]
    fn without_tasks_keeps_comments_and_formatting() {
        let text = "{\n  // the app\n  \"name\": \"shop\",\n  \"scripts\": {\n    \"dokku\": {\n      \"predeploy\": \"migrate\", // first\n      \"postdeploy\": \"ping\"\n    },\n    \"test\": \"t\"\n  }\n}\n";
        assert_eq!(
            without(text).unwrap(),
            "{\n  // the app\n  \"name\": \"shop\",\n  \"scripts\": {\n    \"dokku\": {\n       // first\n    },\n    \"test\": \"t\"\n  }\n}\n"
        );
        let text = "{\n  \"name\": \"shop\",\n  \"scripts\": {\n    \"dokku\": {\"predeploy\": \"a\"},\n    \"postdeploy\": \"seed\"\n  }\n}\n";
        assert_eq!(
            without(text).unwrap(),
            "{\n  \"name\": \"shop\",\n  \"scripts\": {\n    \"dokku\": {}\n  }\n}\n"
        );
        let text =
            "{\n  \"scripts\": {\n    \"postdeploy\": \"seed\",\n    \"dokku\": {}\n  }\n}\n";
        assert_eq!(
            without(text).unwrap(),
            "{\n  \"scripts\": {\n    \"dokku\": {}\n  }\n}\n"
        );
    }

    #[test]
    fn without_tasks_is_none_when_there_is_no_task_member() {
        for text in [
            "",
            "  \n",
            "null",
            "{}",
            r#"{"scripts": {"dokku": {}, "test": "x"}, "predeploy": "top-level keys are not tasks"}"#,
            r#"{"env": {"scripts": {"postdeploy": "a map key, not the field"}}}"#,
        ] {
            assert_eq!(without(text), None, "{text}");
        }
        // A null task is still a member that names the task, so it goes too.
        assert_eq!(
            without(r#"{"scripts": {"postdeploy": null}}"#).as_deref(),
            Some(r#"{"scripts": {}}"#)
        );
    }

    #[test]
    fn without_tasks_refuses_what_dokku_cannot_read() {
        let error =
            without_tasks(br#"{"scripts": {"dokku": {"predeploy": 1}}}"#, "app.json").unwrap_err();
        assert!(error.problem.contains("must be a string"), "{error}");
        assert!(without_tasks(b"{", "app.json").is_err());
    }
}
