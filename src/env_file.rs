//! Dokku app config ENV files (`/home/dokku/APP/ENV`, `/home/dokku/ENV`).
//!
//! Dokku writes every variable as `export KEY='value'`, escaping a `'` inside the value as `'\''`,
//! and keeps newlines inside the quotes. People also edit these files by hand, so the parser
//! accepts the shapes a shell or a dotenv file would: `KEY=value`, `export KEY=value` and
//! `KEY="value"`, with quoted and unquoted parts concatenating as in a shell.

use std::collections::HashMap;

use crate::input_error::InputError;

/// The variables one ENV file sets, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    /// One entry per key: at the position of the key's first assignment, holding the value of its
    /// last assignment (a later line overrides an earlier one, as when a shell sources the file).
    pub vars: Vec<(String, String)>,
    /// Lines Dokku would skip (an invalid variable name, a line without `=`), one message each:
    /// `ENV line 3: `1FOO` is not a valid variable name; skipped`.
    pub warnings: Vec<String>,
}

/// Parses the text of an ENV file.
///
/// `origin` names the file in errors and warnings. Blank lines and `#` comment lines are skipped;
/// CRLF line endings and a leading UTF-8 byte order mark are tolerated. A value's text is
/// recovered byte for byte from Dokku's quoting, including quotes, `$`, backslashes, newlines
/// (a `\r\n` inside quotes stays `\r\n`) and any unicode.
///
/// Unquoted text runs to the end of the line: `KEY=a b` sets `a b`. Unquoted whitespace around
/// the value is trimmed, a `\` makes the next character literal (a `\` before a line break joins
/// the lines, as in a shell), and a `#` after unquoted whitespace starts a comment. Inside `"…"`,
/// `\"`, `\\`, `\$` and `` \` `` stand for the character, `\n` for a newline; other backslashes
/// are kept.
///
/// # Errors
///
/// A quote that is never closed, reported at the 1-based line where it opened.
pub fn parse(text: &str, origin: &str) -> Result<EnvFile, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut scanner = Scanner {
        chars: text.chars().collect(),
        position: 0,
        line: 1,
    };
    let mut env_file = EnvFile::default();
    let mut index_of_key: HashMap<String, usize> = HashMap::new();

    loop {
        scanner.skip_blanks();
        let Some(first) = scanner.peek() else { break };
        match first {
            '\n' => {
                scanner.advance();
                continue;
            }
            '#' => {
                scanner.skip_rest_of_line();
                continue;
            }
            _ => {}
        }

        let statement_line = scanner.line;
        scanner.skip_export_keyword();
        let Some(key) = scanner.read_key() else {
            env_file.warnings.push(format!(
                "{origin} line {statement_line}: the line has no `=`, so it sets no variable; skipped"
            ));
            scanner.skip_rest_of_line();
            continue;
        };
        let value = scanner.read_value(origin)?;

        if !is_valid_name(&key) {
            env_file.warnings.push(format!(
                "{origin} line {statement_line}: `{key}` is not a valid variable name; skipped"
            ));
            continue;
        }
        match index_of_key.get(&key) {
            Some(&index) => {
                if let Some(entry) = env_file.vars.get_mut(index) {
                    entry.1 = value;
                }
            }
            None => {
                index_of_key.insert(key.clone(), env_file.vars.len());
                env_file.vars.push((key, value));
            }
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

/// Whether `name` matches `^[A-Za-z_][A-Za-z0-9_]*$`, the names a shell can export.
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    }
}

/// A cursor over the file's characters that counts lines as it passes newlines.
struct Scanner {
    chars: Vec<char>,
    position: usize,
    line: usize,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn advance(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips spaces, tabs and carriage returns, but not newlines, which end statements. Returns
    /// whether it skipped any.
    fn skip_blanks(&mut self) -> bool {
        let start = self.position;
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.advance();
        }
        self.position > start
    }

    /// Skips to the end of the line, leaving the newline to the caller.
    fn skip_rest_of_line(&mut self) {
        while matches!(self.peek(), Some(c) if c != '\n') {
            self.advance();
        }
    }

    /// Skips a leading `export ` (Dokku's form), but not a key named `export` (`export=1`).
    fn skip_export_keyword(&mut self) {
        let keyword = ['e', 'x', 'p', 'o', 'r', 't'];
        let matches_keyword = keyword
            .iter()
            .enumerate()
            .all(|(offset, &c)| self.peek_at(offset) == Some(c));
        if matches_keyword && matches!(self.peek_at(keyword.len()), Some(' ' | '\t')) {
            self.position += keyword.len();
            self.skip_blanks();
        }
    }

    /// Reads the key up to the `=` and consumes the `=`. Returns `None`, consuming nothing, when
    /// the line has no `=`.
    fn read_key(&mut self) -> Option<String> {
        let rest_of_line = self.chars.get(self.position..)?;
        let length = rest_of_line
            .iter()
            .take_while(|&&c| c != '\n')
            .position(|&c| c == '=')?;
        let key: String = rest_of_line.iter().take(length).collect();
        self.position += length + 1;
        Some(key.trim().to_string())
    }

    /// Reads a value after the `=` up to the end of its statement (the end of the line, or a
    /// comment), consuming everything but the final newline.
    fn read_value(&mut self, origin: &str) -> Result<String, InputError> {
        // As in a shell, `#` starts a comment only at the start of a word: `A=#x` sets `#x`.
        let mut after_unquoted_blank = self.skip_blanks();
        let mut value = String::new();
        // Unquoted whitespace at the end of the value is trimmed, quoted whitespace is not, so
        // count how much of the value's tail is unquoted whitespace.
        let mut trailing_unquoted_blanks = 0;
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            if c == '#' && after_unquoted_blank {
                self.skip_rest_of_line();
                break;
            }
            after_unquoted_blank = matches!(c, ' ' | '\t' | '\r');
            match c {
                '\'' => {
                    self.read_single_quoted(&mut value, origin)?;
                    trailing_unquoted_blanks = 0;
                }
                '"' => {
                    self.read_double_quoted(&mut value, origin)?;
                    trailing_unquoted_blanks = 0;
                }
                '\\' => {
                    self.advance();
                    match self.peek() {
                        Some('\n') => {
                            self.advance();
                        }
                        Some('\r') if self.peek_at(1) == Some('\n') => {
                            self.advance();
                            self.advance();
                        }
                        Some(escaped) => {
                            self.advance();
                            value.push(escaped);
                            trailing_unquoted_blanks = 0;
                        }
                        // A backslash at the very end of the file escapes nothing: keep it.
                        None => {
                            value.push('\\');
                            trailing_unquoted_blanks = 0;
                        }
                    }
                }
                ' ' | '\t' | '\r' => {
                    self.advance();
                    value.push(c);
                    trailing_unquoted_blanks += 1;
                }
                _ => {
                    self.advance();
                    value.push(c);
                    trailing_unquoted_blanks = 0;
                }
            }
        }
        for _ in 0..trailing_unquoted_blanks {
            value.pop();
        }
        Ok(value)
    }

    /// Reads `'…'` verbatim, newlines included; the scanner is on the opening quote.
    fn read_single_quoted(&mut self, value: &mut String, origin: &str) -> Result<(), InputError> {
        let opening_line = self.line;
        self.advance();
        loop {
            match self.advance() {
                Some('\'') => return Ok(()),
                Some(c) => value.push(c),
                None => return Err(unterminated_quote(origin, opening_line, '\'')),
            }
        }
    }

    /// Reads `"…"` with its backslash escapes; the scanner is on the opening quote.
    fn read_double_quoted(&mut self, value: &mut String, origin: &str) -> Result<(), InputError> {
        let opening_line = self.line;
        self.advance();
        loop {
            match self.advance() {
                Some('"') => return Ok(()),
                Some('\\') => match self.advance() {
                    Some(escaped @ ('"' | '\\' | '$' | '`')) => value.push(escaped),
                    Some('n') => value.push('\n'),
                    // As in a shell, a backslash before a line break joins the lines.
                    Some('\n') => {}
                    Some('\r') if self.peek() == Some('\n') => {
                        self.advance();
                    }
                    Some(other) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => return Err(unterminated_quote(origin, opening_line, '"')),
                },
                Some(c) => value.push(c),
                None => return Err(unterminated_quote(origin, opening_line, '"')),
            }
        }
    }
}

fn unterminated_quote(origin: &str, line: usize, quote: char) -> InputError {
    let fix = if quote == '\'' {
        "close the quote; write a ' inside a single-quoted value as '\\''"
    } else {
        "close the quote; write a \" inside a double-quoted value as \\\""
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

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    /// Quotes a value the way Dokku writes it.
    fn dokku_quote(value: &str) -> String {
        format!("'{}'", value.replace('\'', "'\\''"))
    }

    #[test]
    fn reads_dokku_export_lines() {
        let text =
            "export DATABASE_URL='postgres://u:p@db:5432/app'\nexport DOKKU_APP_TYPE='herokuish'\n";
        assert_eq!(
            vars(text),
            pairs(&[
                ("DATABASE_URL", "postgres://u:p@db:5432/app"),
                ("DOKKU_APP_TYPE", "herokuish"),
            ])
        );
    }

    #[test]
    fn reads_escaped_single_quote() {
        assert_eq!(vars("export A='it'\\''s'"), pairs(&[("A", "it's")]));
        assert_eq!(vars("A='a'\\''b'"), pairs(&[("A", "a'b")]));
        assert_eq!(vars("A=''\\'''"), pairs(&[("A", "'")]));
    }

    #[test]
    fn keeps_newlines_in_single_quotes() {
        let text = "export KEY='-----BEGIN KEY-----\nabc\n-----END KEY-----\n'\nexport NEXT='x'\n";
        assert_eq!(
            vars(text),
            pairs(&[
                ("KEY", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"),
                ("NEXT", "x"),
            ])
        );
    }

    #[test]
    fn reads_unquoted_values() {
        assert_eq!(vars("A=b"), pairs(&[("A", "b")]));
        assert_eq!(vars("export A=b"), pairs(&[("A", "b")]));
        assert_eq!(vars("A=b c  \t"), pairs(&[("A", "b c")]));
        assert_eq!(vars("A=  b"), pairs(&[("A", "b")]));
        assert_eq!(vars("A = b"), pairs(&[("A", "b")]));
        assert_eq!(vars("A="), pairs(&[("A", "")]));
        assert_eq!(vars("A=x=y"), pairs(&[("A", "x=y")]));
        assert_eq!(vars("A=a\\ \\'b\\\\"), pairs(&[("A", "a 'b\\")]));
        assert_eq!(vars("A=b\\\n  c"), pairs(&[("A", "b  c")]));
        assert_eq!(vars("A=trailing\\"), pairs(&[("A", "trailing\\")]));
        assert_eq!(vars("A=x\\ "), pairs(&[("A", "x ")]));
    }

    #[test]
    fn strips_comments_after_unquoted_whitespace() {
        assert_eq!(vars("A=b # note"), pairs(&[("A", "b")]));
        assert_eq!(vars("A='b' # note"), pairs(&[("A", "b")]));
        assert_eq!(vars("A= # note"), pairs(&[("A", "")]));
        assert_eq!(vars("A=b#c"), pairs(&[("A", "b#c")]));
        assert_eq!(vars("A='b #c'"), pairs(&[("A", "b #c")]));
        assert_eq!(vars("A=b\\ #c"), pairs(&[("A", "b #c")]));
    }

    #[test]
    fn reads_double_quoted_values() {
        assert_eq!(vars(r#"A="va\"lue""#), pairs(&[("A", "va\"lue")]));
        assert_eq!(
            vars(r#"A="\\ \$HOME \` \n \x""#),
            pairs(&[("A", "\\ $HOME ` \n \\x")])
        );
        assert_eq!(vars("A=\"one\ntwo\""), pairs(&[("A", "one\ntwo")]));
        assert_eq!(vars("A=\"one\\\ntwo\""), pairs(&[("A", "onetwo")]));
        assert_eq!(vars("A=\"it's\""), pairs(&[("A", "it's")]));
        assert_eq!(vars("A=\"  \""), pairs(&[("A", "  ")]));
    }

    #[test]
    fn concatenates_adjacent_segments() {
        assert_eq!(
            vars(r#"A=pre'mid'"dq"post"#),
            pairs(&[("A", "premiddqpost")])
        );
        assert_eq!(vars("A='a '  'b'"), pairs(&[("A", "a   b")]));
        assert_eq!(vars("A='x '   "), pairs(&[("A", "x ")]));
    }

    #[test]
    fn skips_blank_and_comment_lines() {
        let text = "\n# comment\n   # indented comment\n\t\nA=1\n\n";
        assert_eq!(vars(text), pairs(&[("A", "1")]));
        assert_eq!(vars(""), pairs(&[]));
        assert_eq!(vars("# only a comment"), pairs(&[]));
    }

    #[test]
    fn tolerates_crlf_and_bom() {
        let text = "\u{feff}export A='1'\r\nB=2\r\n# c\r\n\r\nC=\"3\"\r\n";
        assert_eq!(vars(text), pairs(&[("A", "1"), ("B", "2"), ("C", "3")]));
    }

    #[test]
    fn keeps_crlf_inside_quotes_verbatim() {
        assert_eq!(vars("A='x\r\ny'\r\n"), pairs(&[("A", "x\r\ny")]));
    }

    #[test]
    fn later_assignment_overrides_earlier_at_first_position() {
        let text = "A=1\nB=2\nA=3\n";
        assert_eq!(vars(text), pairs(&[("A", "3"), ("B", "2")]));
    }

    #[test]
    fn warns_and_skips_invalid_names() {
        let parsed = parse("1FOO=x\nGOOD=y\nFOO-BAR='multi\nline'\nB=z\n", "app ENV").unwrap();
        assert_eq!(parsed.vars, pairs(&[("GOOD", "y"), ("B", "z")]));
        assert_eq!(
            parsed.warnings,
            vec![
                "app ENV line 1: `1FOO` is not a valid variable name; skipped".to_string(),
                "app ENV line 3: `FOO-BAR` is not a valid variable name; skipped".to_string(),
            ]
        );
        let parsed = parse("=x\n", "ENV").unwrap();
        assert_eq!(
            parsed.warnings,
            vec!["ENV line 1: `` is not a valid variable name; skipped".to_string()]
        );
    }

    #[test]
    fn warns_and_skips_lines_without_equals() {
        let parsed = parse("A=1\nexport\njust words\nexport B\nC=2", "ENV").unwrap();
        assert_eq!(parsed.vars, pairs(&[("A", "1"), ("C", "2")]));
        assert_eq!(parsed.warnings.len(), 3);
        assert_eq!(
            parsed.warnings[0],
            "ENV line 2: the line has no `=`, so it sets no variable; skipped"
        );
        assert!(parsed.warnings[2].starts_with("ENV line 4:"));
    }

    #[test]
    fn a_key_named_export_is_a_key() {
        assert_eq!(vars("export=1"), pairs(&[("export", "1")]));
        assert_eq!(vars("exporter=1"), pairs(&[("exporter", "1")]));
        assert_eq!(vars("export\texport=2"), pairs(&[("export", "2")]));
    }

    #[test]
    fn reports_unterminated_single_quote_at_opening_line() {
        let error = parse("A=1\nB='never\nclosed\n", "/home/dokku/app/ENV").unwrap_err();
        assert_eq!(error.origin, "/home/dokku/app/ENV");
        assert_eq!(error.line, Some(2));
        assert!(error.to_string().contains("never closed"), "{error}");
        assert!(error.fix.contains("'\\''"), "{error}");
    }

    #[test]
    fn reports_unterminated_double_quote_at_opening_line() {
        let error = parse("A=1\n\nB=\"x\\\"\n", "ENV").unwrap_err();
        assert_eq!(error.line, Some(3));
        let error = parse("A=\"x\\", "ENV").unwrap_err();
        assert_eq!(error.line, Some(1));
    }

    #[test]
    fn reports_unterminated_quote_even_for_an_invalid_key() {
        let error = parse("1A='x", "ENV").unwrap_err();
        assert_eq!(error.line, Some(1));
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
    fn round_trips_any_value_in_dokku_quoting() {
        let values = [
            "",
            "plain",
            "it's",
            "'",
            "''\\''",
            "$HOME ${X} `date` $(id)",
            "back\\slash\\",
            "\"double\"",
            "line one\nline two\n",
            "\n",
            "  spaced  ",
            "tab\there",
            "# not a comment",
            "unicode: 日本語 ✓ 🚀",
            "crlf\r\nkept",
            "=",
            "\u{feff}bom inside",
        ];
        let mut text = String::new();
        for (index, value) in values.iter().enumerate() {
            text.push_str(&format!("export KEY_{index}={}\n", dokku_quote(value)));
        }
        let parsed = parse(&text, "ENV").unwrap();
        assert!(parsed.warnings.is_empty());
        let expected: Vec<(String, String)> = values
            .iter()
            .enumerate()
            .map(|(index, value)| (format!("KEY_{index}"), value.to_string()))
            .collect();
        assert_eq!(parsed.vars, expected);
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            "\\", "'", "\"", "=", "==", "A=\\", "A=\"\\", "export ", "export", "\u{feff}", "\r",
            "\r\n", "A=\r", "#", "A=\"\\\r", " = ' ",
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
