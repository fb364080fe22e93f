//! Procfile: the process types of an app, of which `release` is a deployment task.
//!
//! Dokku's own Procfile reader skips lines it does not understand, so a typo silently drops a
//! process. This parser instead rejects such a file with the line at fault.
//!
//! Dokku expands a Procfile command's variables before it runs it (see [`expand`]), so its
//! tasks are [`Command::Expanded`].

use std::collections::HashMap;

use crate::dokku::{self, DokkuFile};
use crate::input_error::InputError;
use crate::phase::Phase;
use crate::settings::Settings;
use crate::sources::{
    check_command, named_or_default, Command, DefinitionFile, Source, SourceOptions, Task,
    TaskSource, MAX_BYTES,
};

/// The Procfile as a task source: looked for at `procfile-path`, else `Procfile`, where Dokku's
/// ps plugin extracts it too (its copy counts only at the default path, the one it reads). A
/// stock Dokku runs its `release` itself, not Scalingo's `postdeploy`.
pub struct ProcfileSource;

impl TaskSource for ProcfileSource {
    fn source(&self) -> Source {
        Source::Procfile
    }

    fn search_paths(&self, options: &SourceOptions) -> Vec<String> {
        named_or_default(options.procfile.path.as_deref(), Source::Procfile.name())
    }

    fn host_copy(&self, options: &SourceOptions) -> Option<DokkuFile> {
        options.procfile.path.is_none().then_some(dokku::PROCFILE)
    }

    fn tasks(
        &self,
        file: &DefinitionFile,
        phase: Phase,
        _options: &SourceOptions,
    ) -> Result<Vec<Task>, InputError> {
        Ok(parse(&file.bytes, &file.origin)?.tasks(phase))
    }

    fn run_by_stock_dokku(&self, task: &Task) -> bool {
        task.key == "release"
    }
}

/// What the plugin's settings say about the Procfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `procfile-path`: where the file is in the image, relative to the app's root, instead of
    /// `Procfile`.
    pub path: Option<String>,
}

/// Reads the Procfile's options from the plugin's settings.
pub fn options(settings: &Settings) -> Options {
    Options {
        path: settings.get("procfile-path"),
    }
}

/// The process types of a Procfile, in file order, each name appearing once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Procfile {
    entries: Vec<ProcessEntry>,
}

/// One `name: command` line of a Procfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEntry {
    /// The process type, matching `^[A-Za-z0-9_-]+$` (`web`, `worker`, `release`).
    pub name: String,
    /// The command, as written after the `:`, without surrounding whitespace; never empty.
    pub command: String,
    /// The 1-based line the entry is on.
    pub line: usize,
}

impl Procfile {
    /// The entry for process type `name` (case-sensitive), if the Procfile has one.
    pub fn command(&self, name: &str) -> Option<&ProcessEntry> {
        self.entries.iter().find(|entry| entry.name == name)
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[ProcessEntry] {
        &self.entries
    }

    /// The tasks the Procfile defines for `phase`: `release` (Heroku, Dokku) in release, and
    /// Scalingo's `postdeploy` in postdeploy. Both fail the deploy when they fail.
    pub fn tasks(&self, phase: Phase) -> Vec<Task> {
        let process_type = match phase {
            Phase::Predeploy => return Vec::new(),
            Phase::Release => "release",
            Phase::Postdeploy => "postdeploy",
        };
        self.command(process_type)
            .map(|entry| {
                let mut task = Task::shell(phase, Source::Procfile, process_type, &entry.command);
                task.run = Command::Expanded {
                    command: entry.command.clone(),
                    process_type: process_type.to_string(),
                };
                task
            })
            .into_iter()
            .collect()
    }
}

/// The port a Procfile's `$PORT` stands for when the config sets none: what Dokku's app-json
/// plugin asks for (`procfile-get-command APP release 5000`).
const DEFAULT_PORT: &str = "5000";

/// Expands the variables of a Procfile `command` as Dokku does before it runs the command, so
/// that the shell (or an ENTRYPOINT) sees their values, even inside single quotes.
///
/// Dokku's ps plugin answers `procfile-get-command` with `procfile-util show --env-file FILE
/// --default-port 5000`, FILE being the app's config (plugins/ps/functions.go:
/// getProcfileCommand); procfile-util expands with Go's `os.Expand` (commands/main.go:
/// expandEnv). The rules, which hold for every image:
/// - `$NAME` (letters, digits, `_`) and `${ANYTHING}` are replaced with `variable(NAME)`, else
///   for `PORT` with 5000 and for `PS` with `process_type`, else with nothing. A variable that is
///   set but empty stays empty: an empty `PORT` is not 5000;
/// - so are `$` followed by one of `*#$@!?-` or a digit, and `${C}` for one such `C`: `$$`, `$1`,
///   `$?` become nothing, as does `${VAR:-default}` (no variable has that name);
/// - `${}` and an unclosed `${` are dropped;
/// - a `$` followed by anything else (`$ `, `$/`, `$"`), or last, stays;
/// - backslashes and quotes mean nothing here: `\$HOME` is `\` and the value.
///
/// Where this differs from Dokku 0.38 it is on purpose:
/// - `$(` stays as written, so that command substitution still works. procfile-util swaps it
///   for a placeholder variable that it only restores with `--allow-getenv`, which Dokku does not
///   pass: on Dokku, `echo $(date)` runs as `echo date)`;
/// - values are used as the config holds them. Dokku's round trip through a dotenv file turns
///   integers into Go's form (`007` into `7`, `+5` into `5`) and mangles values that end in a
///   quote or a backslash.
pub fn expand<'a>(
    command: &str,
    process_type: &'a str,
    variable: impl Fn(&str) -> Option<&'a str>,
) -> String {
    let value = |name: &str| match variable(name) {
        Some(value) => value,
        None if name == "PORT" => DEFAULT_PORT,
        None if name == "PS" => process_type,
        None => "",
    };
    let bytes = command.as_bytes();
    let mut expanded = String::with_capacity(command.len());
    // Every slice below starts and ends next to an ASCII byte, so on a character boundary.
    let mut copied = 0;
    let mut at = 0;
    while at + 1 < bytes.len() {
        if bytes[at] != b'$' || bytes[at + 1] == b'(' {
            at += 1;
            continue;
        }
        expanded.push_str(&command[copied..at]);
        let rest = &command[at + 1..];
        let (name, length) = variable_name(rest);
        match name {
            Some(name) => expanded.push_str(value(name)),
            // Nothing that names a variable: the `$` stays.
            None if length == 0 => expanded.push('$'),
            // Bad syntax (`${}`, an unclosed `${`): dropped.
            None => {}
        }
        at += 1 + length;
        copied = at;
    }
    expanded.push_str(&command[copied..]);
    expanded
}

/// The variable named at the start of `rest` (what follows a `$`) and how many bytes name it;
/// `None` with a length for bad syntax, to drop, or with 0 when no name follows.
fn variable_name(rest: &str) -> (Option<&str>, usize) {
    let bytes = rest.as_bytes();
    let special = |byte: u8| b"*#$@!?-0123456789".contains(&byte);
    match bytes.first() {
        Some(b'{') => {
            if bytes.len() > 2 && special(bytes[1]) && bytes[2] == b'}' {
                return (Some(&rest[1..2]), 3);
            }
            match rest.find('}') {
                Some(1) => (None, 2),
                Some(close) => (Some(&rest[1..close]), close + 1),
                None => (None, 1),
            }
        }
        Some(&byte) if special(byte) => (Some(&rest[..1]), 1),
        _ => {
            let length = bytes
                .iter()
                .take_while(|byte| byte.is_ascii_alphanumeric() || **byte == b'_')
                .count();
            if length == 0 {
                (None, 0)
            } else {
                (Some(&rest[..length]), length)
            }
        }
    }
}

/// Parses the bytes of a Procfile; `origin` names the file in errors.
///
/// Lines are `name: command`, with optional whitespace around the `:`. Blank lines and lines
/// starting with `#` are skipped; CRLF line endings and a leading UTF-8 byte order mark are
/// tolerated. An empty file is an empty Procfile.
///
/// # Errors
///
/// An [`InputError`] at the 1-based line at fault when the file is over 1 MiB, is not UTF-8, has
/// a line that is not `name: command` or whose name has characters other than letters, digits,
/// `_` and `-`, has an empty command, or names a process type twice.
pub fn parse(bytes: &[u8], origin: &str) -> Result<Procfile, InputError> {
    if bytes.len() > MAX_BYTES {
        return Err(InputError::new(
            origin,
            // Readers keep no more than one byte over the limit: the true size is not known.
            format!("the Procfile is over the limit of {MAX_BYTES} bytes (1 MiB)"),
            "keep one `name: command` line per process type",
        ));
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);

    let mut procfile = Procfile::default();
    let mut line_of_name: HashMap<String, usize> = HashMap::new();
    for (index, raw_line) in bytes.split(|byte| *byte == b'\n').enumerate() {
        let line = index + 1;
        // A comment is skipped whatever its encoding, as Dokku's parser reads bytes; a process's
        // line must be UTF-8, as its command goes on as text.
        let start = raw_line.trim_ascii_start();
        if start.is_empty() || start.starts_with(b"#") || start.starts_with(b"//") {
            continue;
        }
        let trimmed = std::str::from_utf8(raw_line)
            .map_err(|_| {
                InputError::new(
                    origin,
                    "this line is not valid UTF-8",
                    "save the Procfile with UTF-8 encoding",
                )
                .at_line(line)
            })?
            .trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some((name, command)) = trimmed.split_once(':') else {
            return Err(InputError::new(
                origin,
                "this line has no `:`; Procfile lines are `name: command`",
                "write the line as `name: command`, or start it with # to make it a comment",
            )
            .at_line(line));
        };
        // Between the name and the `:`, only the whitespace of Go's `\s` (procfile-util's
        // `^([A-Za-z0-9_-]+)\s*:`); the line's own ends were trimmed as Go's `TrimSpace` does.
        let name = name.trim_end_matches(is_go_regexp_space);
        let command = without_trailing_comment(command.trim()).trim();
        if !is_valid_name(name) {
            return Err(InputError::new(
                origin,
                format!("`{name}` is not a valid process type: use only letters, digits, _ and -"),
                "rename the process type, like `release: ./migrate.sh`",
            )
            .at_line(line));
        }
        if name.len() > MAX_NAME {
            return Err(InputError::new(
                origin,
                format!("the process type `{name}` is longer than {MAX_NAME} characters"),
                "shorten the process type",
            )
            .at_line(line));
        }
        if command.starts_with('#') || command.starts_with("//") {
            return Err(InputError::new(
                origin,
                format!("the `{name}` process has a comment where its command should be"),
                format!("write the command after the colon, or start the whole line with # to comment out `{name}`"),
            )
            .at_line(line));
        }
        if command.is_empty() {
            return Err(InputError::new(
                origin,
                format!("the `{name}` process has no command"),
                format!("write the command after the colon, like `{name}: ./run.sh`, or remove the line"),
            )
            .at_line(line));
        }
        check_command(command, origin, &format!("the `{name}` process"))
            .map_err(|error| error.at_line(line))?;
        if let Some(first_line) = line_of_name.get(name) {
            return Err(InputError::new(
                origin,
                format!("the `{name}` process is defined twice, first on line {first_line}"),
                "keep one of the two lines",
            )
            .at_line(line));
        }
        line_of_name.insert(name.to_string(), line);
        procfile.entries.push(ProcessEntry {
            name: name.to_string(),
            command: command.to_string(),
            line,
        });
    }
    Ok(procfile)
}

/// The longest process type name Dokku's procfile-util accepts.
const MAX_NAME: usize = 63;

/// `command` without a trailing comment, as Dokku's procfile-util cuts one
/// (`procfile/parse.go`, `ParseProcfile`): from the last whitespace followed by `#` and at least
/// one more character, else from the last one followed by `//` and at least one more; quotes
/// are not looked at, so a ` #` inside them starts a comment too.
fn without_trailing_comment(command: &str) -> &str {
    let cut_at = |marker: &str| {
        let bytes = command.as_bytes();
        (0..bytes.len()).rev().find(|&at| {
            bytes[at].is_ascii_whitespace()
                && bytes[at + 1..].starts_with(marker.as_bytes())
                && bytes.len() > at + 1 + marker.len()
        })
    };
    match cut_at("#").or_else(|| cut_at("//")) {
        Some(at) => &command[..at],
        None => command,
    }
}

/// Whether `c` is in Go's regexp class `\s`, `[\t\n\f\r ]`: narrower than Rust's
/// whitespace, which also has `\v` and Unicode's spaces.
fn is_go_regexp_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// Whether `name` matches `^[A-Za-z0-9_-]+$`, the process type names Dokku accepts.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The Procfile without its `release` line, the only task Dokku's app-json runs from it, every
/// other line kept as it is; `None` when it has no `release` process.
///
/// Where `release` is its only process, the line becomes [`RELEASE_PLACEHOLDER`] instead: Dokku
/// refuses a Procfile without processes in every deploy (`ps`'s `post-release-builder` lists
/// them with procfile-util: "no entries found in Procfile"), and a Procfile it reads as none
/// would have it schedule what a Procfile skips (web from the image's CMD, any leftover
/// process type). With one process type at scale 0, it schedules what it did with `release`.
pub fn without_release(bytes: &[u8], origin: &str) -> Result<Option<Vec<u8>>, InputError> {
    let procfile = parse(bytes, origin)?;
    let Some(release) = procfile.command("release") else {
        return Ok(None);
    };
    let alone = procfile.entries.len() == 1;
    let kept: Vec<&[u8]> = bytes
        .split_inclusive(|byte| *byte == b'\n')
        .enumerate()
        .filter_map(|(index, line)| match (index + 1 == release.line, alone) {
            (false, _) => Some(line),
            (true, true) => Some(RELEASE_PLACEHOLDER.as_bytes()),
            (true, false) => None,
        })
        .collect();
    Ok(Some(kept.concat()))
}

/// What takes a lone `release` line's place in Dokku's copy of a Procfile: a process type of its
/// own, at scale 0 as `release` was, whose command does nothing should anyone scale it up.
pub const RELEASE_PLACEHOLDER: &str =
    "release-by-deploy-tasks: true # release runs as this plugin's task: deploy-tasks:report\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn procfile(text: &str) -> Procfile {
        parse(text.as_bytes(), "Procfile").unwrap()
    }

    /// Each entry's name and command, in order.
    fn commands_of(parsed: &Procfile) -> Vec<(&str, &str)> {
        parsed
            .entries()
            .iter()
            .map(|entry| (entry.name.as_str(), entry.command.as_str()))
            .collect()
    }

    fn parse_error(text: &str) -> InputError {
        parse(text.as_bytes(), "Procfile").unwrap_err()
    }

    #[test]
    fn a_command_with_a_nul_byte_is_refused_at_its_line() {
        let error = parse_error("web: httpd\nrelease: echo a\0b\n");
        assert_eq!(error.line, Some(2));
        assert!(
            error
                .problem
                .contains("the `release` process holds a NUL byte"),
            "{error}"
        );
    }

    #[test]
    fn release_and_scalingo_postdeploy_are_tasks_of_their_phases() {
        let parsed = procfile("web: server\nrelease: migrate\npostdeploy: notify\n");
        assert!(parsed.tasks(Phase::Predeploy).is_empty());
        let release = parsed.tasks(Phase::Release);
        assert_eq!(release.len(), 1);
        assert_eq!(
            (release[0].key.as_str(), release[0].command.as_str()),
            ("release", "migrate")
        );
        let postdeploy = parsed.tasks(Phase::Postdeploy);
        assert_eq!(postdeploy[0].command, "notify");
        assert_eq!(postdeploy[0].source, Source::Procfile);
        assert!(procfile("web: server\n").tasks(Phase::Release).is_empty());
    }

    fn expand_with(command: &str, config: &[(&str, &str)]) -> String {
        expand(command, "release", |name| {
            config
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        })
    }

    #[test]
    fn procfile_tasks_are_expanded_with_their_process_type() {
        let parsed = procfile("release: migrate $PORT\n");
        let release = parsed.tasks(Phase::Release);
        assert_eq!(release[0].command, "migrate $PORT");
        assert_eq!(
            release[0].run,
            Command::Expanded {
                command: "migrate $PORT".into(),
                process_type: "release".into()
            }
        );
    }

    #[test]
    fn expands_config_variables_the_port_and_the_process_type() {
        let config = [("SECRET", "s3 cr3t"), ("OTHER", "o")];
        assert_eq!(
            expand_with("echo $SECRET ${OTHER} $PORT [$UNKNOWN] $PS", &config),
            "echo s3 cr3t o 5000 [] release"
        );
        assert_eq!(
            expand_with("echo $PORT $PS", &[("PORT", "8080"), ("PS", "web")]),
            "echo 8080 web"
        );
        assert_eq!(expand_with("echo [$PORT]", &[("PORT", "")]), "echo []");
        assert_eq!(
            expand_with("$SECRET-x ${SECRET}x $SECRETx", &config),
            "s3 cr3t-x s3 cr3tx "
        );
    }

    #[test]
    fn expands_inside_quotes_and_after_backslashes_as_dokku_does() {
        let config = [("SECRET", "v")];
        assert_eq!(
            expand_with(r#"echo '$SECRET' "$SECRET" \$SECRET \\$SECRET"#, &config),
            r#"echo 'v' "v" \v \\v"#
        );
    }

    #[test]
    fn special_parameters_and_operators_expand_to_nothing() {
        let config = [("VAR", "v")];
        assert_eq!(
            expand_with("a$$b $1x $? $# $@ $* $! $- $0", &config),
            "ab x       "
        );
        assert_eq!(
            expand_with("${VAR:-default} ${VAR} ${#} ${1}", &config),
            " v  "
        );
        assert_eq!(expand_with("x${}y ${unclosed", &config), "xy unclosed");
    }

    #[test]
    fn a_dollar_that_names_nothing_stays() {
        assert_eq!(
            expand_with("cost $ 5 $/ $\" $' $é $", &[]),
            "cost $ 5 $/ $\" $' $é $"
        );
        assert_eq!(
            expand_with("echo $(date) $((1 + 2)) $(echo $VAR)", &[("VAR", "v")]),
            "echo $(date) $((1 + 2)) $(echo v)"
        );
        assert_eq!(expand_with("", &[]), "");
        assert_eq!(expand_with("no variables", &[]), "no variables");
    }

    #[test]
    fn values_are_inserted_as_they_are_never_expanded_again() {
        let config = [("A", "$B '\\$(x)"), ("B", "b"), ("N", "007")];
        assert_eq!(
            expand_with("$A|$N|${é}|日本$A", &config),
            "$B '\\$(x)|007||日本$B '\\$(x)"
        );
    }

    #[test]
    fn reads_entries_in_order() {
        let parsed =
            procfile("web: gunicorn app:app --bind 0.0.0.0:$PORT\nrelease: ./manage.py migrate\n");
        assert_eq!(
            parsed.entries(),
            &[
                ProcessEntry {
                    name: "web".to_string(),
                    command: "gunicorn app:app --bind 0.0.0.0:$PORT".to_string(),
                    line: 1,
                },
                ProcessEntry {
                    name: "release".to_string(),
                    command: "./manage.py migrate".to_string(),
                    line: 2,
                },
            ]
        );
        assert_eq!(
            parsed
                .command("release")
                .map(|entry| entry.command.as_str()),
            Some("./manage.py migrate")
        );
        assert_eq!(parsed.command("worker"), None);
        assert_eq!(parsed.command("Release"), None);
    }

    #[test]
    fn allows_whitespace_around_the_colon() {
        let parsed = procfile("  release :   echo a: b  \nworker:run\n\tclock\t:\tx\t");
        let commands = commands_of(&parsed);
        assert_eq!(
            commands,
            vec![("release", "echo a: b"), ("worker", "run"), ("clock", "x")]
        );
    }

    #[test]
    fn only_gos_regexp_whitespace_may_stand_between_a_name_and_its_colon() {
        // procfile-util's `\s*` before the colon is `[\t\n\f\r ]`: a vertical tab or a
        // no-break space there makes the line invalid, and Dokku's deploy fails on it.
        for line in ["web\u{b}: run\n", "web\u{a0}: run\n", "web\u{2003}: run\n"] {
            let error = parse(line.as_bytes(), "Procfile").unwrap_err();
            assert_eq!(error.line, Some(1), "{line:?}");
        }
        let parsed = procfile("web \x0c\t: run\n");
        assert_eq!(commands_of(&parsed), vec![("web", "run")]);
    }

    #[test]
    fn comments_are_what_dokkus_procfile_util_takes_for_comments() {
        let parsed = procfile(concat!(
            "// web: old\n",
            "  // see the docs\n",
            "release: node migrate.js // db\n",
            "worker: ./notify \"deploy #42\" --all\n",
            "clock: run #\n",
            "cron: a // b #c\n",
            "other: a #b #c\n",
        ));
        let commands = commands_of(&parsed);
        assert_eq!(
            commands,
            vec![
                ("release", "node migrate.js"),
                // procfile-util does not look at quotes.
                ("worker", "./notify \"deploy"),
                // A `#` with nothing after it is no comment.
                ("clock", "run #"),
                ("cron", "a // b"),
                ("other", "a #b"),
            ]
        );
        assert_eq!(parsed.command("release").unwrap().line, 3);
    }

    #[test]
    fn a_comment_in_place_of_a_command_is_refused_as_dokku_refuses_it() {
        for text in ["web: x\nrelease: # disabled\n", "web: x\nrelease: //off\n"] {
            let error = parse_error(text);
            assert_eq!(error.line, Some(2), "{text:?}");
            assert!(
                error
                    .to_string()
                    .contains("a comment where its command should be"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_process_type_longer_than_dokku_allows_is_refused() {
        let long = "a".repeat(64);
        let error = parse_error(&format!("web: x\n{long}: run\n"));
        assert_eq!(error.line, Some(2));
        assert!(error.to_string().contains("longer than 63"), "{error}");
        assert!(procfile(&format!("{}: run\n", "a".repeat(63)))
            .command(&"a".repeat(63))
            .is_some());
    }

    #[test]
    fn accepts_names_with_digits_dashes_and_underscores() {
        let parsed = procfile("my-worker_2: run\n3: x\n");
        assert!(parsed.command("my-worker_2").is_some());
        assert!(parsed.command("3").is_some());
    }

    #[test]
    fn skips_blank_and_comment_lines_counting_them() {
        let parsed = procfile("# processes\n\n   \n  # web: old\nrelease: x\n");
        assert_eq!(parsed.entries().len(), 1);
        assert_eq!(parsed.command("release").map(|entry| entry.line), Some(5));
        assert_eq!(procfile(""), Procfile::default());
    }

    #[test]
    fn tolerates_crlf_and_bom() {
        let parsed = procfile("\u{feff}web: a\r\n\r\nrelease: b c\r\n");
        assert_eq!(
            parsed.command("web").map(|entry| entry.command.as_str()),
            Some("a")
        );
        let release = parsed.command("release").unwrap();
        assert_eq!((release.command.as_str(), release.line), ("b c", 3));
    }

    #[test]
    fn rejects_a_line_without_colon() {
        let error = parse_error("web: a\nrelease ./migrate\n");
        assert_eq!(error.line, Some(2));
        assert!(error.problem.contains("no `:`"), "{error}");
        assert!(!error.fix.is_empty());
    }

    #[test]
    fn rejects_an_invalid_process_name() {
        for text in ["my worker: x", "web.1: x", ": x", "wéb: x", "\"web\": x"] {
            let error = parse_error(text);
            assert_eq!(error.line, Some(1), "{text}");
            assert!(
                error.problem.contains("not a valid process type"),
                "{error}"
            );
        }
    }

    #[test]
    fn rejects_an_empty_command() {
        let error = parse_error("\nrelease:   \n");
        assert_eq!(error.line, Some(2));
        assert_eq!(
            error.to_string(),
            "Procfile line 2: the `release` process has no command; \
             write the command after the colon, like `release: ./run.sh`, or remove the line"
        );
    }

    #[test]
    fn rejects_a_duplicate_naming_both_lines() {
        let error = parse_error("release: a\nweb: b\nrelease: c\n");
        assert_eq!(error.line, Some(3));
        assert!(error.problem.contains("first on line 1"), "{error}");
    }

    #[test]
    fn a_comment_in_another_encoding_is_skipped_as_dokku_skips_it() {
        let parsed = parse(b"# D\xe9marrage\n  // caf\xe9\nrelease: x\n", "Procfile").unwrap();
        assert_eq!(parsed.command("release").unwrap().line, 3);
    }

    #[test]
    fn rejects_invalid_utf8_at_its_line() {
        let error = parse(b"web: a\nrelease: caf\xe9\n", "Procfile from app:latest").unwrap_err();
        assert_eq!(error.origin, "Procfile from app:latest");
        assert_eq!(error.line, Some(2));
        assert!(error.problem.contains("UTF-8"));
    }

    #[test]
    fn rejects_files_over_one_mebibyte() {
        let text = format!("web: {}", "x".repeat(MAX_BYTES));
        let error = parse(text.as_bytes(), "Procfile").unwrap_err();
        assert!(error.problem.contains("1 MiB"), "{error}");
    }
}
