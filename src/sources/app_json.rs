//! app.json: the `scripts.dokku.predeploy`, `scripts.dokku.postdeploy` and `scripts.postdeploy`
//! commands.
//!
//! Dokku silently ignores an app.json it cannot read, so a typo quietly disables every task.
//! This parser instead rejects a file Dokku would misread, with the line and column of the problem.

use serde_json::Value;

use crate::input_error::InputError;
use crate::phase::Phase;
use crate::sources::{decode, line_and_column, Frequency, Source, Task};

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
/// An empty or whitespace-only file defines no tasks. A leading UTF-8 byte order mark is skipped.
/// Keys other than the three scripts are ignored. A command is kept as written, except that one
/// trailing line break (`\n` or `\r\n`) is removed. When a key appears twice in an object, the
/// last one counts, as in Dokku.
///
/// # Errors
///
/// An [`InputError`] with the line and column (1-based; columns count characters) when the file
/// is over 1 MiB, is not UTF-8, is not JSON (a `//` or `/* */` comment is named as such), does
/// not hold an object, or has `scripts`, `scripts.dokku` or one of the scripts of the wrong type.
pub fn parse(bytes: &[u8], origin: &str) -> Result<AppJsonScripts, InputError> {
    let text = decode(
        bytes,
        origin,
        "app.json",
        "keep app.json small: move large data out of it",
    )?;
    if text.trim().is_empty() {
        return Ok(AppJsonScripts::default());
    }

    let root: Value =
        serde_json::from_str(text).map_err(|error| syntax_error(text, origin, &error))?;
    if !root.is_object() {
        let (line, column) = value_position(text, &[]);
        return Err(InputError::new(
            origin,
            format!(
                "app.json must hold a JSON object, found {}",
                type_name(&root)
            ),
            "write app.json as an object: {\"scripts\": {\"dokku\": {\"predeploy\": \"...\"}}}",
        )
        .at(line, column));
    }

    let scripts = object_at(&root, text, origin, &["scripts"])?;
    let dokku = match scripts {
        Some(scripts) => object_at(scripts, text, origin, &["scripts", "dokku"])?,
        None => None,
    };
    Ok(AppJsonScripts {
        predeploy: script_at(dokku, text, origin, &["scripts", "dokku", "predeploy"])?,
        postdeploy: script_at(dokku, text, origin, &["scripts", "dokku", "postdeploy"])?,
        heroku_postdeploy: script_at(scripts, text, origin, &["scripts", "postdeploy"])?,
    })
}

/// The object at the last key of `path` inside `parent`, `None` when absent or `null`.
fn object_at<'a>(
    parent: &'a Value,
    text: &str,
    origin: &str,
    path: &[&str],
) -> Result<Option<&'a Value>, InputError> {
    let Some(value) = child(Some(parent), path) else {
        return Ok(None);
    };
    if value.is_object() {
        return Ok(Some(value));
    }
    let (line, column) = value_position(text, path);
    let dotted = path.join(".");
    Err(InputError::new(
        origin,
        format!("{dotted} must be an object, found {}", type_name(value)),
        format!("write {dotted} as an object of commands, like {{\"predeploy\": \"...\"}}"),
    )
    .at(line, column))
}

/// The command at the last key of `path` inside `parent`, `None` when absent, `null` or blank.
fn script_at(
    parent: Option<&Value>,
    text: &str,
    origin: &str,
    path: &[&str],
) -> Result<Option<String>, InputError> {
    match child(parent, path) {
        None => Ok(None),
        Some(Value::String(command)) if command.trim().is_empty() => Ok(None),
        Some(Value::String(command)) => {
            let command = command
                .strip_suffix("\r\n")
                .or_else(|| command.strip_suffix('\n'))
                .unwrap_or(command);
            Ok(Some(command.to_string()))
        }
        Some(value) => {
            let (line, column) = value_position(text, path);
            let dotted = path.join(".");
            Err(InputError::new(
                origin,
                format!(
                    "{dotted} must be a string (a shell command), found {}",
                    type_name(value)
                ),
                format!("write {dotted} as one string, like \"./manage.py migrate\""),
            )
            .at(line, column))
        }
    }
}

/// The value at the last key of `path` inside `parent`, treating `null` as absent.
fn child<'a>(parent: Option<&'a Value>, path: &[&str]) -> Option<&'a Value> {
    let value = parent?.get(path.last()?)?;
    (!value.is_null()).then_some(value)
}

/// How the user would name the JSON type of `value` in a sentence.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The error for text that is not JSON, naming a comment when there is one, since JSON-with-
/// comments is the usual cause and Dokku would silently ignore the whole file.
fn syntax_error(text: &str, origin: &str, error: &serde_json::Error) -> InputError {
    // No line of valid JSON can start with `//` or `/*` (strings cannot hold raw line breaks), so
    // such a line is always a comment, wherever serde_json stopped.
    // A comment after a value (`"a": 1 // why`) is where serde_json stopped.
    let comment_where_parsing_stopped =
        text.lines()
            .nth(error.line().saturating_sub(1))
            .and_then(|line| {
                let stop = error.column().saturating_sub(1).min(line.len());
                let start = line.floor_char_boundary(stop.saturating_sub(1));
                let at = line[start..]
                    .find("//")
                    .or_else(|| line[start..].find("/*"))?;
                (at <= 2).then(|| (error.line() - 1, line, start + at))
            });
    let own_line_comments = text.lines().enumerate().filter_map(|(index, line)| {
        let trimmed = line.trim_start();
        (trimmed.starts_with("//") || trimmed.starts_with("/*"))
            .then(|| (index, line, line.len() - trimmed.len()))
    });
    if let Some((index, line, byte)) = own_line_comments
        .chain(comment_where_parsing_stopped)
        .next()
    {
        let kind = if line[byte..].starts_with("//") {
            "//"
        } else {
            "/* */"
        };
        let column = line[..byte].chars().count() + 1;
        return InputError::new(
            origin,
            format!(
                "app.json has a {kind} comment, which JSON does not allow \
                 (Dokku silently ignores the whole file then)"
            ),
            "remove the comment",
        )
        .at(index + 1, column);
    }

    // serde_json's message ends with its own " at line L column C"; keep only the message, since
    // InputError renders the position.
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    let fix = if error.is_eof() {
        "complete the JSON: a closing bracket, brace or quote is missing"
    } else {
        "fix the JSON syntax"
    };
    let column = character_column(text, error.line(), error.column());
    InputError::new(
        origin,
        format!("app.json is not valid JSON: {message}"),
        fix,
    )
    .at(error.line(), column)
}

/// Converts serde_json's column, which counts bytes, into one that counts characters, so that a
/// line with non-ASCII text before the error points at the right character.
fn character_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(line_text) = line
        .checked_sub(1)
        .and_then(|index| text.split('\n').nth(index))
    else {
        return byte_column;
    };
    let bytes = line_text.as_bytes();
    let counted = bytes.get(..byte_column).unwrap_or(bytes);
    counted
        .iter()
        .filter(|&&byte| byte & 0xC0 != 0x80)
        .count()
        .max(1)
}

/// The 1-based line and column where the value at `path` starts in `text`, which must be valid
/// JSON. Follows the last occurrence of a duplicated key, as serde_json does; falls back to the
/// start of the file if the path cannot be found.
fn value_position(text: &str, path: &[&str]) -> (usize, usize) {
    let mut locator = Locator {
        bytes: text.as_bytes(),
        position: 0,
    };
    locator.skip_whitespace();
    let offset = locator.find(path).unwrap_or(0);
    line_and_column(text.as_bytes(), offset)
}

/// A scanner over text already known to be valid JSON, used only to find where a value starts.
/// It never panics: on anything unexpected it gives up with `None`.
struct Locator<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Locator<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    /// From the start of a value, the byte offset where the value at `path` starts.
    fn find(&mut self, path: &[&str]) -> Option<usize> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self.position);
        };
        if self.peek()? != b'{' {
            return None;
        }
        self.position += 1;
        let mut last_match = None;
        loop {
            self.skip_whitespace();
            match self.peek()? {
                b'}' => break,
                b',' => {
                    self.position += 1;
                    continue;
                }
                _ => {}
            }
            let key_start = self.position;
            self.skip_string()?;
            let raw_key = std::str::from_utf8(self.bytes.get(key_start..self.position)?).ok()?;
            let key: String = serde_json::from_str(raw_key).ok()?;
            self.skip_whitespace();
            if self.peek()? != b':' {
                return None;
            }
            self.position += 1;
            self.skip_whitespace();
            if key == *first {
                last_match = Some(self.position);
            }
            self.skip_value()?;
        }
        self.position = last_match?;
        self.find(rest)
    }

    /// Skips a string, from its opening quote to just after its closing quote.
    fn skip_string(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.position += 1;
        loop {
            match self.peek()? {
                b'"' => {
                    self.position += 1;
                    return Some(());
                }
                b'\\' => self.position += 2,
                _ => self.position += 1,
            }
        }
    }

    /// Skips any value, from its first byte to just after its last.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                self.position += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.position += 1;
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.position += 1;
                }
                Some(())
            }
        }
    }
}

/// The app.json without `scripts.dokku.predeploy`, `scripts.dokku.postdeploy` and
/// `scripts.postdeploy` (keys matched as Go matches struct fields: in any case), everything else
/// kept; `None` when it has none of them.
pub fn without_tasks(bytes: &[u8], origin: &str) -> Result<Option<Vec<u8>>, InputError> {
    parse(bytes, origin)?;
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(None);
    };
    let mut removed = false;
    let mut strip = |object: &mut serde_json::Map<String, serde_json::Value>, names: &[&str]| {
        let keys: Vec<String> = object
            .keys()
            .filter(|key| names.iter().any(|name| key.eq_ignore_ascii_case(name)))
            .cloned()
            .collect();
        for key in keys {
            object.remove(&key);
            removed = true;
        }
    };
    if let Some(root) = value.as_object_mut() {
        for (key, scripts) in root.iter_mut() {
            if !key.eq_ignore_ascii_case("scripts") {
                continue;
            }
            let Some(scripts) = scripts.as_object_mut() else {
                continue;
            };
            strip(scripts, &["postdeploy"]);
            for (key, dokku) in scripts.iter_mut() {
                if let (true, Some(dokku)) =
                    (key.eq_ignore_ascii_case("dokku"), dokku.as_object_mut())
                {
                    strip(dokku, &["predeploy", "postdeploy"]);
                }
            }
        }
    }
    if !removed {
        return Ok(None);
    }
    let mut text = serde_json::to_vec_pretty(&value).unwrap_or_default();
    text.push(b'\n');
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::MAX_BYTES;

    fn scripts(text: &str) -> AppJsonScripts {
        parse(text.as_bytes(), "app.json").unwrap()
    }

    fn parse_error(text: &str) -> InputError {
        parse(text.as_bytes(), "app.json").unwrap_err()
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
            scripts(r#"{"scripts": {"dokku": {"predeploy": "a"}}}"#).predeploy,
            Some("a".to_string())
        );
    }

    #[test]
    fn empty_and_whitespace_files_mean_no_tasks() {
        assert_eq!(scripts(""), AppJsonScripts::default());
        assert_eq!(scripts(" \n\t\r\n"), AppJsonScripts::default());
        assert_eq!(scripts("\u{feff}"), AppJsonScripts::default());
    }

    #[test]
    fn null_counts_as_absent() {
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
        assert_eq!(scripts(text).predeploy, Some("x".to_string()));
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let text = r#"{"env": {"A": {"value": 1}}, "formation": {"web": {"quantity": 2}},
            "scripts": {"test": ["x"], "dokku": {"other": 5, "predeploy": "p"}}}"#;
        assert_eq!(scripts(text).predeploy, Some("p".to_string()));
    }

    #[test]
    fn last_duplicate_key_counts() {
        let text = r#"{"scripts": {"dokku": {"predeploy": 1, "predeploy": "second"}}}"#;
        assert_eq!(scripts(text).predeploy, Some("second".to_string()));
        let text = "{\"scripts\": {\"dokku\": {\"predeploy\": \"first\", \"predeploy\": 2}}}";
        let error = parse_error(text);
        assert_eq!((error.line, error.column), (Some(1), Some(59)));
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
        assert_eq!((error.line, error.column), (Some(2), Some(17)));
        assert!(error.problem.contains("UTF-8"), "{error}");
    }

    #[test]
    fn reports_syntax_errors_with_serde_position_and_message() {
        let error = parse_error("{\n  \"scripts\": {\n    \"dokku\": 1,\n  }\n}");
        assert_eq!(error.line, Some(4));
        assert_eq!(error.column, Some(3));
        assert_eq!(
            error.to_string(),
            "app.json line 4, column 3: app.json is not valid JSON: trailing comma; fix the JSON syntax"
        );
        let error = parse_error("{\"scripts\": {");
        assert!(error.fix.contains("complete"), "{error}");
        assert_eq!(error.line, Some(1));
    }

    #[test]
    fn syntax_error_columns_count_characters() {
        let error = parse_error("{\"名前\": x}");
        assert_eq!((error.line, error.column), (Some(1), Some(8)));
    }

    #[test]
    fn names_a_line_comment() {
        let error = parse_error("{\n  // tasks\n  \"scripts\": {}\n}");
        assert_eq!((error.line, error.column), (Some(2), Some(3)));
        assert_eq!(
            error.problem,
            "app.json has a // comment, which JSON does not allow (Dokku silently ignores the whole file then)"
        );
        assert_eq!(error.fix, "remove the comment");
    }

    #[test]
    fn names_a_comment_after_a_value() {
        let error = parse_error("{\n  \"name\": \"x\" // the name\n}");
        assert_eq!(error.line, Some(2));
        assert!(
            error.problem.starts_with("app.json has a // comment"),
            "{error}"
        );
        let error = parse_error("{\"name\": \"x\" /* the name */}");
        assert!(
            error.problem.starts_with("app.json has a /* */ comment"),
            "{error}"
        );
    }

    #[test]
    fn names_a_block_comment() {
        let error = parse_error("{\n\"scripts\": {}\n/* old\n*/\n}");
        assert_eq!((error.line, error.column), (Some(3), Some(1)));
        assert!(error.problem.contains("/* */ comment"), "{error}");
    }

    #[test]
    fn a_slash_inside_a_string_is_not_a_comment() {
        let text = r#"{"scripts": {"dokku": {"predeploy": "curl http://x // y"}}}"#;
        assert_eq!(
            scripts(text).predeploy,
            Some("curl http://x // y".to_string())
        );
    }

    #[test]
    fn rejects_a_top_level_that_is_not_an_object() {
        let error = parse_error("\n  [1, 2]");
        assert_eq!(
            error.problem,
            "app.json must hold a JSON object, found an array"
        );
        assert_eq!((error.line, error.column), (Some(2), Some(3)));
        assert!(parse_error("\"x\"").problem.ends_with("found a string"));
        assert!(parse_error("null").problem.ends_with("found null"));
        assert!(parse_error("3").problem.ends_with("found a number"));
    }

    #[test]
    fn reports_wrong_script_types_with_path_and_position() {
        let text = "{\n  \"scripts\": {\n    \"dokku\": {\n      \"predeploy\": 42\n    }\n  }\n}";
        let error = parse_error(text);
        assert_eq!(
            error.problem,
            "scripts.dokku.predeploy must be a string (a shell command), found a number"
        );
        assert_eq!((error.line, error.column), (Some(4), Some(20)));

        let error = parse_error(r#"{"scripts": {"dokku": {"postdeploy": ["a", "b"]}}}"#);
        assert!(error
            .problem
            .starts_with("scripts.dokku.postdeploy must be a string"));
        assert!(error.problem.ends_with("found an array"));
        assert_eq!((error.line, error.column), (Some(1), Some(38)));

        let error = parse_error(r#"{"scripts": {"postdeploy": true}}"#);
        assert_eq!(
            error.problem,
            "scripts.postdeploy must be a string (a shell command), found a boolean"
        );
        assert_eq!((error.line, error.column), (Some(1), Some(28)));
    }

    #[test]
    fn reports_wrong_object_types_with_path_and_position() {
        let error = parse_error("{\"scripts\": \"npm run migrate\"}");
        assert_eq!(error.problem, "scripts must be an object, found a string");
        assert_eq!((error.line, error.column), (Some(1), Some(13)));

        let error = parse_error("{\"scripts\": {\n\"dokku\": [\"predeploy\"]}}");
        assert_eq!(
            error.problem,
            "scripts.dokku must be an object, found an array"
        );
        assert_eq!((error.line, error.column), (Some(2), Some(10)));
    }

    #[test]
    fn positions_follow_escaped_keys_and_unicode() {
        let text = "{\"名前\": \"é\", \"scr\\u0069pts\": {\"dokku\": {\"predeploy\": {}}}}";
        let error = parse_error(text);
        assert_eq!(
            error.problem,
            "scripts.dokku.predeploy must be a string (a shell command), found an object"
        );
        assert_eq!((error.line, error.column), (Some(1), Some(53)));
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs: [&[u8]; 10] = [
            b"\xff",
            b"\xef\xbb\xbf\xff",
            b"{",
            b"}",
            b"/",
            b"//",
            b"{\"scripts\": \"\\",
            b"[{\"scripts\": 1}]",
            b"{\"a\":\"\\\"\"}",
            b"\xc3",
        ];
        for input in inputs {
            let _ = parse(input, "app.json");
        }
    }
}
