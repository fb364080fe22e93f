//! Dokku app config ENV files (`$DOKKU_LIB_ROOT/config/APP/ENV`, `.../config/--global/ENV`, and
//! before Dokku 0.38 `$DOKKU_ROOT/APP/ENV`, `$DOKKU_ROOT/ENV`), read as Dokku reads them.
//!
//! Dokku 0.38's config plugin writes these files with the Go library godotenv v1.5.1
//! (`plugins/config/environment.go`, `Env.Write` calls `godotenv.Write`) and reads them back with
//! the same library (`loadFromFile` calls `godotenv.Read`). The values an app's containers get are
//! that reader's: `config:export` turns its map into `export KEY='…'` lines that the scheduler
//! `eval`s before `docker container create --env=KEY` (`scheduler-docker-local/internal-functions`,
//! `config/docker-args-deploy`), or into JSON that app-json's task containers get as their
//! environment (`app-json/functions.go`, `createdContainerID`). So this parser follows that
//! reader, quirks included, and not a shell.
//!
//! What `dokku config:set` writes (godotenv.go `Marshal`, `doubleQuoteEscape`, `Write`): one line
//! per variable, `KEY=5000` when Go's `strconv.Atoi` accepts the value (an optional sign and
//! decimal digits that fit in 64 bits; written in canonical form, so `+5` becomes `5` and `007`
//! becomes `7`), otherwise `KEY="…"` with `\`, `"`, `!`, `$` and `` ` `` preceded by a backslash
//! and a newline and carriage return written as `\n` and `\r`; tabs, `'`, `#`, `=`, spaces and
//! any unicode stay as they are. The lines are sorted byte-wise as whole lines (so `A1=…` comes
//! before `A=…`), joined by newlines, with one newline at the end (an empty config is `"\n"`).

use std::collections::HashMap;

use crate::input_error::InputError;

/// The variables one ENV file sets, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    /// One entry per key: at the position of the key's first assignment, holding the value of its
    /// last assignment (godotenv keeps the last one).
    pub vars: Vec<(String, String)>,
    /// Variables Dokku reads but then drops as invalid names, one message each:
    /// `ENV line 3: `1FOO` is not a valid variable name; skipped`.
    pub warnings: Vec<String>,
}

/// Parses the text of an ENV file into the values godotenv v1.5.1 (Dokku 0.38's reader) gives.
///
/// `origin` names the file in errors and warnings. The rules (godotenv `parser.go`):
///
/// - `\r\n` is read as `\n` everywhere, inside quotes too. Blank lines and lines whose first
///   non-blank character is `#` are skipped.
/// - A statement is an optional `export` and blanks, a name, `=` (or `:`, YAML style), blanks and a
///   value. A name is letters, digits, `_` and `.`; any other character, a line break included,
///   makes the whole file unreadable (Dokku's `config:export` fails), so it is an error here.
///   Names that read but are not `^[A-Za-z_][A-Za-z0-9_]*$` Dokku drops (`validateKey`): warnings.
/// - `"…"` runs to the first `"` not right after a backslash, across lines; quote characters at
///   both ends of what it holds are dropped. Then `\n` and `\r` become a newline and a carriage
///   return, a backslash before any other character except `$` is dropped, and `$NAME`, `${NAME}`
///   (NAME in `[A-Z0-9_]`) become the value of an earlier variable of the file (empty if none),
///   while `\$` stands for `$`. So `"a\"b"` is `a"b`, but a value ending in `"` comes back ending
///   in `\` (`"x\""` is `x\`), and a value ending in `\` (`"x\\"`) swallows the following lines.
/// - `'…'` runs to the first `'` not right after a backslash and is taken as it is.
/// - Anything after a closing quote on its line other than blanks and a `#` comment is read as the
///   start of the next statement, so `export A='it'\''s'` is an error.
/// - Any other value runs to the end of the line (or a carriage return), drops what follows the
///   last `#` that comes after a blank, is trimmed of blanks, and has its variables expanded as
///   above; backslashes other than `\$` are kept.
///
/// # Errors
///
/// A quote that is never closed, or a name with a character godotenv rejects: one line naming the
/// file and the 1-based line. Errors never quote the file's text, which may be a secret.
pub fn parse(text: &str, origin: &str) -> Result<EnvFile, InputError> {
    let text = text.replace("\r\n", "\n");
    let mut reader = Reader {
        text: &text,
        position: 0,
        origin,
    };
    // Every variable read so far, valid name or not: what `$NAME` expands to.
    let mut read: HashMap<String, String> = HashMap::new();
    let mut env_file = EnvFile::default();
    let mut index_of_key: HashMap<String, usize> = HashMap::new();

    while reader.skip_to_statement() {
        // Lines are counted only for a warning: counting for every statement would be quadratic.
        let statement_start = reader.position;
        let name = reader.read_name()?;
        let value = reader.read_value(&read)?;
        read.insert(name.key.clone(), value.clone());

        if !name.has_separator {
            let statement_line = reader.line_at(statement_start);
            env_file.warnings.push(format!(
                "{origin} line {statement_line}: the line has no `=`, so it sets no variable; skipped"
            ));
        } else if !is_valid_name(&name.key) {
            let statement_line = reader.line_at(statement_start);
            env_file.warnings.push(format!(
                "{origin} line {statement_line}: `{}` is not a valid variable name; skipped",
                name.key
            ));
        } else if let Some(&index) = index_of_key.get(&name.key) {
            if let Some(entry) = env_file.vars.get_mut(index) {
                entry.1 = value;
            }
        } else {
            index_of_key.insert(name.key.clone(), env_file.vars.len());
            env_file.vars.push((name.key, value));
        }
    }
    Ok(env_file)
}

/// Merges ENV files in order of precedence, lowest first (global ENV, then the app's ENV).
///
/// Returns one entry per key: at the position where the key first appears across the layers,
/// holding the value from the last layer that sets it.
pub fn merge(layers: &[EnvFile]) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::new();
    let mut index_of_key: HashMap<&str, usize> = HashMap::new();
    for (key, value) in layers.iter().flat_map(|layer| layer.vars.iter()) {
        match index_of_key.get(key.as_str()) {
            Some(&index) => {
                if let Some(entry) = merged.get_mut(index) {
                    entry.1.clone_from(value);
                }
            }
            None => {
                index_of_key.insert(key, merged.len());
                merged.push((key.clone(), value.clone()));
            }
        }
    }
    merged
}

/// Whether `name` matches `^[a-zA-Z_][a-zA-Z0-9_]*$`, Dokku's `validateKey`.
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    }
}

/// godotenv's `isSpace`: the blanks it trims around names and values. Unlike a line break, they
/// never end a statement.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// Whether godotenv lets `byte` into a name. It looks at a name byte by byte, each byte taken as
/// the character of that number (so as Latin-1): letters, digits, `_` and `.` are allowed, and
/// blanks are skipped (they stay in the name, which Dokku then drops as invalid).
fn is_name_byte(byte: u8) -> bool {
    let c = char::from(byte);
    c.is_alphabetic() || c.is_numeric() || byte == b'_' || byte == b'.' || is_blank(c)
}

/// A name as godotenv reads it.
struct Name {
    key: String,
    /// False when the file ended before an `=`: godotenv then reads the text as the value of a
    /// variable with an empty name, which Dokku drops.
    has_separator: bool,
}

/// A cursor over the (CRLF-normalised) text, at byte offsets that are always char boundaries.
struct Reader<'a> {
    text: &'a str,
    position: usize,
    origin: &'a str,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.position..).unwrap_or("")
    }

    /// The 1-based line of the current position.
    fn line(&self) -> usize {
        self.line_at(self.position)
    }

    fn line_at(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count()
            + 1
    }

    /// Skips whitespace and `#` comment lines (godotenv's `getStatementStart`); returns whether a
    /// statement starts at the new position.
    fn skip_to_statement(&mut self) -> bool {
        loop {
            let rest = self.rest();
            let Some(start) = rest.find(|c: char| !c.is_whitespace()) else {
                self.position = self.text.len();
                return false;
            };
            self.position += start;
            if !self.rest().starts_with('#') {
                return true;
            }
            match self.rest().find('\n') {
                Some(newline) => self.position += newline,
                None => {
                    self.position = self.text.len();
                    return false;
                }
            }
        }
    }

    /// Reads `export`, the name and the `=` or `:` (godotenv's `locateKeyName`), leaving the
    /// position at the value, past the blanks after the separator.
    fn read_name(&mut self) -> Result<Name, InputError> {
        self.skip_blanks();
        if let Some(after) = self.rest().strip_prefix("export") {
            if after.starts_with(is_blank) {
                self.position += "export".len();
                self.skip_blanks();
            }
        }
        let start = self.position;
        let bytes = self.rest().as_bytes();
        let separator = bytes.iter().position(|&byte| !is_name_byte(byte));
        match separator.map(|index| (index, bytes[index])) {
            Some((index, b'=' | b':')) => {
                let key = self.rest()[..index].trim_end().to_string();
                self.position += index + 1;
                self.skip_blanks();
                Ok(Name {
                    key,
                    has_separator: true,
                })
            }
            Some((index, byte)) => Err(self.bad_name_character(start + index, byte)),
            None => Ok(Name {
                key: String::new(),
                has_separator: false,
            }),
        }
    }

    fn skip_blanks(&mut self) {
        let rest = self.rest();
        let blanks = rest.len() - rest.trim_start_matches(is_blank).len();
        self.position += blanks;
    }

    fn bad_name_character(&self, offset: usize, byte: u8) -> InputError {
        let line = self.line_at(offset);
        let bytes = self.text.as_bytes();
        let line_start = bytes[..offset]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |index| index + 1);
        // `offset` may fall inside a multi-byte character (godotenv looks at bytes): count the
        // characters that start up to and including it.
        let column = bytes[line_start..=offset]
            .iter()
            .filter(|&&b| (b & 0xc0) != 0x80)
            .count();
        let problem = if byte == b'\n' {
            "the line has no `=`, so Dokku cannot read the file".to_string()
        } else {
            "a variable name holds only letters, digits, `_` and `.`, so Dokku cannot read the file"
                .to_string()
        };
        InputError::new(
            self.origin,
            problem,
            "write the line as KEY=\"value\" or set the value again with `dokku config:set`",
        )
        .at(line, column)
    }

    /// Reads the value after the separator (godotenv's `extractVarValue`).
    fn read_value(&mut self, read: &HashMap<String, String>) -> Result<String, InputError> {
        let rest = self.rest();
        let quote = match rest.as_bytes().first() {
            Some(&quote @ (b'"' | b'\'')) => quote,
            _ => return Ok(self.read_unquoted(read)),
        };
        let bytes = rest.as_bytes();
        let close =
            (1..bytes.len()).find(|&index| bytes[index] == quote && bytes[index - 1] != b'\\');
        let Some(close) = close else {
            return Err(unterminated_quote(
                self.origin,
                self.line(),
                char::from(quote),
            ));
        };
        let quote = char::from(quote);
        let held = rest[..close]
            .trim_start_matches(quote)
            .trim_end_matches(quote);
        let value = if quote == '"' {
            expand_variables(&unescape(held), read)
        } else {
            held.to_string()
        };
        self.position += close + 1;
        Ok(value)
    }

    fn read_unquoted(&mut self, read: &HashMap<String, String>) -> String {
        let rest = self.rest();
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let line = &rest[..end];
        // The comment starts at the last `#` after a blank, not the first.
        let mut previous_is_blank = false;
        let mut cut = line.len();
        for (index, c) in line.char_indices() {
            if c == '#' && previous_is_blank {
                cut = index;
            }
            previous_is_blank = is_blank(c);
        }
        let value = expand_variables(line[..cut].trim_matches(is_blank), read);
        self.position += end;
        value
    }
}

/// godotenv's `expandEscapes`: first `\n` and `\r` (left to right, a `\\` passing unchanged),
/// then a backslash before any character but `$` (a newline too) is dropped.
fn unescape(held: &str) -> String {
    let mut first = String::with_capacity(held.len());
    let mut chars = held.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            first.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('n') => {
                chars.next();
                first.push('\n');
            }
            Some('r') => {
                chars.next();
                first.push('\r');
            }
            Some(next) if next != '\n' => {
                chars.next();
                first.push('\\');
                first.push(next);
            }
            _ => first.push('\\'),
        }
    }

    let mut second = String::with_capacity(first.len());
    let mut chars = first.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some(next)) if next != '$' => {
                chars.next();
                second.push(next);
            }
            _ => second.push(c),
        }
    }
    second
}

/// godotenv's `expandVariables`: `$`, optionally `(` then `{`, an optional name of `[A-Z0-9_]`,
/// an optional `}`; with a name it becomes that variable's value so far (empty when unset),
/// without one it stays; `\$…` stays without its backslash.
fn expand_variables(value: &str, read: &HashMap<String, String>) -> String {
    let bytes = value.as_bytes();
    let mut expanded = String::with_capacity(value.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes[index] == b'\\' && bytes.get(index + 1) == Some(&b'$');
        if !escaped && bytes[index] != b'$' {
            // Copy up to the next backslash or dollar after this character (both are ASCII, so
            // where they are is a char boundary).
            let after = index + value[index..].chars().next().map_or(1, char::len_utf8);
            let next = value[after..]
                .find(['\\', '$'])
                .map_or(value.len(), |offset| after + offset);
            expanded.push_str(&value[index..next]);
            index = next;
            continue;
        }
        let dollar = if escaped { index + 1 } else { index };
        let mut end = dollar + 1;
        for optional in [b'(', b'{'] {
            if bytes.get(end) == Some(&optional) {
                end += 1;
            }
        }
        let name_start = end;
        while bytes
            .get(end)
            .is_some_and(|&byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
        {
            end += 1;
        }
        let name = &value[name_start..end];
        if bytes.get(end) == Some(&b'}') {
            end += 1;
        }
        if escaped {
            expanded.push_str(&value[dollar..end]);
        } else if name.is_empty() {
            expanded.push_str(&value[index..end]);
        } else {
            expanded.push_str(read.get(name).map_or("", String::as_str));
        }
        index = end;
    }
    expanded
}

fn unterminated_quote(origin: &str, line: usize, quote: char) -> InputError {
    let fix = if quote == '\'' {
        "close the quote, or set the value again with `dokku config:set`"
    } else {
        "close the quote; write a \" inside a value as \\\", or set the value again with `dokku config:set`"
    };
    InputError::new(
        origin,
        format!("the {quote} opened here is never closed"),
        fix,
    )
    .at_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text, "ENV").unwrap().vars
    }

    fn value(text: &str) -> String {
        let parsed = vars(text);
        assert_eq!(parsed.len(), 1, "{text:?} sets {parsed:?}");
        parsed[0].1.clone()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    /// A file exactly as `dokku config:set` writes it, written out by hand from godotenv v1.5.1's
    /// `Marshal` rules: sorted lines, `\`, `"`, `!`, `$`, `` ` `` escaped, newline as `\n`, carriage
    /// return as `\r`, a tab and unicode as they are, integers bare, one newline at the end.
    const WRITTEN_BY_DOKKU: &str = concat!(
        "BACKQUOTE=\"\\`date\\`\"\n",
        "BACKSLASH=\"C:\\\\temp\\\\new\"\n",
        "BANG=\"hello\\!\"\n",
        "CR=\"one\\r\\ntwo\"\n",
        "DOLLAR=\"\\$HOME \\${PATH} \\$(id) \\$\"\n",
        "DOUBLE=\"say \\\"hi\\\" now\"\n",
        "EMPTY=\"\"\n",
        "EQUALS=\"a=b==c\"\n",
        "HASH=\"a #b\"\n",
        "LITERAL_ESCAPES=\"\\\\n \\\\r \\\\\\$X \\\\\\\" \\\\\\!\"\n",
        "MIXED=\"it's \\\"x\\\" \\$Y \\\\ \\! \\` 'q'\"\n",
        "NEGATIVE=-12\n",
        "NEWLINES=\"line one\\nline two\\n\"\n",
        "PORT=5000\n",
        "SINGLE=\"it's\"\n",
        "SPACES=\"  padded  \"\n",
        "TAB=\"a\tb\"\n",
        "UNICODE=\"héllo 🚀\"\n",
    );

    #[test]
    fn reads_what_dokku_writes_back_to_the_original_values() {
        let parsed = parse(WRITTEN_BY_DOKKU, "ENV").unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(
            parsed.vars,
            pairs(&[
                ("BACKQUOTE", "`date`"),
                ("BACKSLASH", r"C:\temp\new"),
                ("BANG", "hello!"),
                ("CR", "one\r\ntwo"),
                ("DOLLAR", "$HOME ${PATH} $(id) $"),
                ("DOUBLE", r#"say "hi" now"#),
                ("EMPTY", ""),
                ("EQUALS", "a=b==c"),
                ("HASH", "a #b"),
                ("LITERAL_ESCAPES", r#"\n \r \$X \" \!"#),
                ("MIXED", r#"it's "x" $Y \ ! ` 'q'"#),
                ("NEGATIVE", "-12"),
                ("NEWLINES", "line one\nline two\n"),
                ("PORT", "5000"),
                ("SINGLE", "it's"),
                ("SPACES", "  padded  "),
                ("TAB", "a\tb"),
                ("UNICODE", "héllo 🚀"),
            ])
        );
    }

    #[test]
    fn reads_an_empty_config_as_dokku_writes_it() {
        assert_eq!(vars("\n"), pairs(&[]));
        assert_eq!(vars(""), pairs(&[]));
    }

    /// Quotes a value by the rules of godotenv v1.5.1's `Marshal`, written for these tests.
    fn dokku_line(key: &str, value: &str) -> String {
        let is_integer = value
            .strip_prefix(['+', '-'])
            .unwrap_or(value)
            .bytes()
            .all(|b| b.is_ascii_digit())
            && value.parse::<i64>().is_ok();
        if is_integer {
            return format!("{key}={}", value.parse::<i64>().unwrap());
        }
        let mut escaped = String::new();
        for c in value.chars() {
            match c {
                '\n' => escaped.push_str("\\n"),
                '\r' => escaped.push_str("\\r"),
                '\\' | '"' | '!' | '$' | '`' => {
                    escaped.push('\\');
                    escaped.push(c);
                }
                _ => escaped.push(c),
            }
        }
        format!("{key}=\"{escaped}\"")
    }

    #[test]
    fn reads_back_any_value_that_does_not_end_in_a_quote_or_backslash() {
        let values = [
            "",
            "plain",
            "it's",
            "'",
            "''\\''",
            "$HOME ${X} `date` $(id) \\$ \\\\$",
            "back\\slash\\ x",
            "\"double\" x",
            "line one\nline two\n",
            "\n",
            "\r",
            "\\\n",
            "\\n\\r\\\\ x",
            "  spaced  ",
            "tab\there",
            "# not a comment",
            "unicode: 日本語 ✓ 🚀 héllo",
            "crlf\r\nkept",
            "=",
            "!!",
            "\u{feff}bom inside",
            "1.5",
            "0x10",
            "1e3",
            "99999999999999999999",
            " 5",
        ];
        let text: String = values
            .iter()
            .enumerate()
            .map(|(index, value)| dokku_line(&format!("KEY_{index}"), value) + "\n")
            .collect();
        let parsed = parse(&text, "ENV").unwrap();
        assert!(parsed.warnings.is_empty());
        let expected: Vec<(String, String)> = values
            .iter()
            .enumerate()
            .map(|(index, value)| (format!("KEY_{index}"), value.to_string()))
            .collect();
        assert_eq!(parsed.vars, expected, "{text}");
    }

    #[test]
    fn integers_are_written_bare_in_canonical_form() {
        assert_eq!(dokku_line("PORT", "5000"), "PORT=5000");
        assert_eq!(dokku_line("PORT", "+5000"), "PORT=5000");
        assert_eq!(dokku_line("CODE", "007"), "CODE=7");
        assert_eq!(value("PORT=5000\n"), "5000");
        assert_eq!(value("N=-0\n"), "-0");
    }

    #[test]
    fn a_value_ending_in_a_double_quote_comes_back_ending_in_a_backslash() {
        // godotenv v1.5.1 closes at the last quote, then trims every quote at the ends.
        assert_eq!(value(r#"A="say \"hi\"""#), r#"say "hi\"#);
        assert_eq!(value(r#"A="\"""#), "\\");
    }

    #[test]
    fn a_value_ending_in_a_backslash_swallows_the_next_line() {
        // The quote after `\\` is taken as escaped, so `A`'s value runs to `B`'s opening quote
        // and the rest of `B`'s line does not read as a statement: Dokku cannot read the file.
        let error = parse("A=\"x\\\\\"\nB=\"y\"\n", "ENV").unwrap_err();
        assert_eq!((error.line, error.column), (Some(2), Some(5)));
        let error = parse("A=\"x\\\\\"\n", "ENV").unwrap_err();
        assert_eq!(error.line, Some(1));
        assert!(error.to_string().contains("never closed"), "{error}");
    }

    #[test]
    fn reads_double_quoted_escapes_as_godotenv() {
        assert_eq!(value(r#"A="a\qb""#), "aqb");
        assert_eq!(value(r#"A="bar\n\ b\az""#), "bar\n baz");
        assert_eq!(value(r#"A="bar\\\n\ b\az""#), "bar\\\n baz");
        assert_eq!(value(r#"A="bar\\r\ b\az""#), "bar\\r baz");
        assert_eq!(value("A=\"one\ntwo\""), "one\ntwo");
        assert_eq!(value("A=\"one\\\ntwo\""), "one\ntwo");
        assert_eq!(value("A=\"  \""), "  ");
        assert_eq!(value("A=\"x\" # note"), "x");
    }

    #[test]
    fn reads_single_quoted_values_verbatim() {
        assert_eq!(
            vars("export DATABASE_URL='postgres://u:p@db:5432/app'\nexport DOKKU_APP_TYPE='herokuish'\n"),
            pairs(&[
                ("DATABASE_URL", "postgres://u:p@db:5432/app"),
                ("DOKKU_APP_TYPE", "herokuish"),
            ])
        );
        assert_eq!(value(r"A='\n $HOME \\ x'"), r"\n $HOME \\ x");
        // As in double quotes, a quote right after a backslash does not close.
        assert!(parse(r"A='x\'", "ENV").is_err());
        assert_eq!(value(r"A='a\'b'"), r"a\'b");
        assert_eq!(value("A='multi\nline\n'"), "multi\nline\n");
        assert_eq!(value("A='b #c' # note"), "b #c");
    }

    #[test]
    fn the_shell_form_of_an_escaped_single_quote_is_unreadable() {
        let error = parse("A=1\nexport B='it'\\''s'\n", "app ENV").unwrap_err();
        assert_eq!((error.line, error.column), (Some(2), Some(14)));
        assert!(
            error.to_string().starts_with("app ENV line 2, column 14: "),
            "{error}"
        );
        assert!(error.to_string().contains("dokku config:set"), "{error}");
    }

    #[test]
    fn reads_unquoted_values_as_godotenv() {
        assert_eq!(value("A=b"), "b");
        assert_eq!(value("export A=b"), "b");
        assert_eq!(value("A=b c  \t"), "b c");
        assert_eq!(value("A=  b"), "b");
        assert_eq!(value("A = b"), "b");
        assert_eq!(value("A="), "");
        assert_eq!(value("A=\n"), "");
        assert_eq!(value("A=x=y"), "x=y");
        assert_eq!(value(r"A=a\ \'b\\"), r"a\ \'b\\");
        assert_eq!(value(r#"A=pre'mid'"dq"post"#), r#"pre'mid'"dq"post"#);
        assert_eq!(value("A: b c"), "b c");
        assert_eq!(value("A=1:B"), "1:B");
    }

    #[test]
    fn an_unquoted_comment_starts_at_the_last_hash_after_a_blank() {
        assert_eq!(value("A=b # note"), "b");
        assert_eq!(value("A=b#c"), "b#c");
        assert_eq!(value("A=x # one # two"), "x # one");
        assert_eq!(value("A= # note"), "# note");
    }

    #[test]
    fn expands_earlier_variables_unless_escaped() {
        assert_eq!(
            vars("B=1\nA=$B ${B}x $(B) \\$B $lower $ $UNSET\n"),
            pairs(&[("B", "1"), ("A", "1 1x 1) $B $lower $ ")])
        );
        assert_eq!(
            vars("B=1\nA=\"$B \\${B}\"\nC='$B'\n"),
            pairs(&[("B", "1"), ("A", "1 ${B}"), ("C", "$B")])
        );
        assert_eq!(vars("A=$B\nB=1\n"), pairs(&[("A", ""), ("B", "1")]));
    }

    #[test]
    fn skips_blank_and_comment_lines() {
        let text = "\n# comment\n   # indented comment\n\t\nA=1\n\n# last";
        assert_eq!(vars(text), pairs(&[("A", "1")]));
        assert_eq!(vars("# only a comment"), pairs(&[]));
    }

    #[test]
    fn reads_crlf_as_lf_even_inside_quotes() {
        let text = "export A='1'\r\nB=2\r\n# c\r\n\r\nC=\"3\"\r\nD='x\r\ny'\r\n";
        assert_eq!(
            vars(text),
            pairs(&[("A", "1"), ("B", "2"), ("C", "3"), ("D", "x\ny")])
        );
    }

    #[test]
    fn a_byte_order_mark_is_unreadable() {
        let error = parse("\u{feff}A=1\n", "ENV").unwrap_err();
        assert_eq!((error.line, error.column), (Some(1), Some(1)));
    }

    #[test]
    fn later_assignment_overrides_earlier_at_first_position() {
        assert_eq!(vars("A=1\nB=2\nA=3\n"), pairs(&[("A", "3"), ("B", "2")]));
    }

    #[test]
    fn warns_and_skips_names_dokku_drops() {
        let parsed = parse(
            "1FOO=x\nGOOD=y\nFOO.BAR='multi\nline'\nB=z\n=v\n",
            "app ENV",
        )
        .unwrap();
        assert_eq!(parsed.vars, pairs(&[("GOOD", "y"), ("B", "z")]));
        assert_eq!(
            parsed.warnings,
            vec![
                "app ENV line 1: `1FOO` is not a valid variable name; skipped".to_string(),
                "app ENV line 3: `FOO.BAR` is not a valid variable name; skipped".to_string(),
                "app ENV line 6: `` is not a valid variable name; skipped".to_string(),
            ]
        );
    }

    #[test]
    fn a_name_with_another_character_is_unreadable() {
        for (text, line, column) in [
            ("A=1\nFOO-BAR=x\n", 2, 4),
            ("A B C\n", 1, 6),
            ("A=1\nexport\nB=2\n", 2, 7),
            ("export B\n", 1, 9),
            ("A='b' junk\n", 1, 11),
            ("é=1\n", 1, 1),
        ] {
            let error = parse(text, "ENV").unwrap_err();
            assert_eq!(
                (error.line, error.column),
                (Some(line), Some(column)),
                "{text:?}"
            );
            assert!(!error.to_string().contains('\n'), "{error}");
        }
        let error = parse("A B C\n", "ENV").unwrap_err();
        assert!(error.to_string().contains("has no `=`"), "{error}");
    }

    #[test]
    fn a_last_line_without_equals_is_skipped() {
        let parsed = parse("A=1\nno equals", "ENV").unwrap();
        assert_eq!(parsed.vars, pairs(&[("A", "1")]));
        assert_eq!(
            parsed.warnings,
            vec!["ENV line 2: the line has no `=`, so it sets no variable; skipped".to_string()]
        );
    }

    #[test]
    fn export_is_a_keyword_only_before_a_blank() {
        assert_eq!(vars("export=1"), pairs(&[("export", "1")]));
        assert_eq!(vars("exporter=1"), pairs(&[("exporter", "1")]));
        assert_eq!(vars("export\t  A=2"), pairs(&[("A", "2")]));
        assert_eq!(vars("  export A=3"), pairs(&[("A", "3")]));
    }

    #[test]
    fn reports_an_unterminated_quote_at_its_line() {
        let error = parse("A=1\nB='never\nclosed\n", "/home/dokku/app/ENV").unwrap_err();
        assert_eq!(error.origin, "/home/dokku/app/ENV");
        assert_eq!(error.line, Some(2));
        assert!(error.to_string().contains("never closed"), "{error}");
        let error = parse("A=1\n\nB=\"x\\\"\n", "ENV").unwrap_err();
        assert_eq!(error.line, Some(3));
        let error = parse("1A='x", "ENV").unwrap_err();
        assert_eq!(error.line, Some(1));
    }

    #[test]
    fn errors_never_quote_the_file() {
        let secret = "s3cr3t-value";
        for text in [
            format!("A='{secret}\n"),
            format!("A='x'{secret} y\n"),
            format!("A=\"x\\\\\"\nB=\"{secret}-{secret}\"\n"),
        ] {
            let error = parse(&text, "ENV").unwrap_err();
            assert!(!error.to_string().contains("s3cr3t"), "{error}");
        }
    }

    #[test]
    fn line_numbers_count_newlines_inside_values() {
        let parsed = parse("A='1\n2\n3'\n9=x\n", "ENV").unwrap();
        assert_eq!(
            parsed.warnings,
            vec!["ENV line 4: `9` is not a valid variable name; skipped".to_string()]
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            "\\",
            "'",
            "\"",
            "=",
            "==",
            "A=\\",
            "A=\"\\",
            "export ",
            "export",
            "\u{feff}",
            "\r",
            "\r\n",
            "A=\r",
            "#",
            "A=\"\\\r",
            " = ' ",
            "é",
            "A\u{a0}=1",
            "\u{85}",
            "A=$",
            "A=\\$",
            "A=\"\\",
            "A=${",
            "A=$(",
            "ü=1",
            "A=\"é\\",
            "\u{2003}A=1",
        ];
        for input in inputs {
            let _ = parse(input, "ENV");
        }
    }

    #[test]
    fn merge_lets_later_layers_win_in_stable_order() {
        let global = parse("A=global\nB=global\n", "global ENV").unwrap();
        let app = parse("C=app\nA=app\n", "app ENV").unwrap();
        assert_eq!(
            merge(&[global, app]),
            pairs(&[("A", "app"), ("B", "global"), ("C", "app")])
        );
        assert_eq!(merge(&[]), pairs(&[]));
    }

    #[test]
    fn valid_names() {
        for name in ["A", "_", "_a1", "abc_DEF_123"] {
            assert!(is_valid_name(name), "{name}");
        }
        for name in ["", "1A", "A-B", "A B", "É", "A.B"] {
            assert!(!is_valid_name(name), "{name}");
        }
    }
}
