//! A command split into words as Dokku splits one for an image's ENTRYPOINT: its app-json plugin
//! uses go-shellquote's `Split` (`plugins/app-json/functions.go`, `constructScript`), which
//! knows quotes and backslashes and nothing else of the shell: no comments (`#deploys` is a
//! word), no expansions, no operators. Rules learnt from kballard/go-shellquote's `unquote.go`,
//! in code of this crate's own.

use std::fmt;

/// What go-shellquote refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unterminated {
    SingleQuote,
    DoubleQuote,
    Escape,
}

impl fmt::Display for Unterminated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unterminated::SingleQuote => "a single quote is never closed",
            Unterminated::DoubleQuote => "a double quote is never closed",
            Unterminated::Escape => "it ends in a backslash",
        })
    }
}

/// Word separators.
fn separates(c: char) -> bool {
    matches!(c, ' ' | '\n' | '\t')
}

/// The words of `command`: separated by spaces, tabs and newlines; `'...'` taken as it is;
/// `"..."` with `\` escaping only `$`, `` ` ``, `"`, `\` and a newline (which goes, with it);
/// elsewhere `\` escaping any character (a newline goes with it). Quotes make a word even when
/// empty (`''`).
pub fn split(command: &str) -> Result<Vec<String>, Unterminated> {
    let mut words = Vec::new();
    let mut chars = command.chars().peekable();
    loop {
        // Between words: separators, and backslash-newlines, which are no word.
        loop {
            match chars.peek() {
                Some(&c) if separates(c) => {
                    chars.next();
                }
                Some('\\') => {
                    let mut ahead = chars.clone();
                    ahead.next();
                    match ahead.next() {
                        None => return Err(Unterminated::Escape),
                        Some('\n') => {
                            chars = ahead;
                        }
                        Some(_) => break,
                    }
                }
                _ => break,
            }
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        while let Some(c) = chars.next() {
            match c {
                c if separates(c) => break,
                '\'' => loop {
                    match chars.next() {
                        None => return Err(Unterminated::SingleQuote),
                        Some('\'') => break,
                        Some(c) => word.push(c),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        None => return Err(Unterminated::DoubleQuote),
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some('\n') => {
                                chars.next();
                            }
                            Some(&escaped @ ('$' | '`' | '"' | '\\')) => {
                                chars.next();
                                word.push(escaped);
                            }
                            // Kept as it is, backslash and all.
                            _ => word.push('\\'),
                        },
                        Some(c) => word.push(c),
                    }
                },
                '\\' => match chars.next() {
                    None => return Err(Unterminated::Escape),
                    Some('\n') => {}
                    Some(escaped) => word.push(escaped),
                },
                c => word.push(c),
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &str) -> Vec<String> {
        split(command).unwrap()
    }

    #[test]
    fn a_hash_is_part_of_a_word_not_a_comment() {
        assert_eq!(
            words("bin/notify --room #deploys # done"),
            ["bin/notify", "--room", "#deploys", "#", "done"]
        );
    }

    #[test]
    fn quotes_group_and_empty_quotes_make_a_word() {
        assert_eq!(
            words(r#"  rake "db:migrate VERBOSE=1" 'a b'c '' x  "#),
            ["rake", "db:migrate VERBOSE=1", "a bc", "", "x"]
        );
        assert_eq!(words(" \t\n "), Vec::<String>::new());
    }

    #[test]
    fn backslashes_escape_outside_quotes_and_only_some_characters_inside_double_ones() {
        assert_eq!(words(r"a\ b \$HOME"), ["a b", "$HOME"]);
        assert_eq!(words(r#""\$ \` \" \\ \n \a""#), [r#"$ ` " \ \n \a"#]);
        assert_eq!(words("'\\n'"), [r"\n"]);
        // A backslash-newline joins, inside double quotes, in a word, and between words.
        assert_eq!(words("\"a\\\nb\" c\\\nd \\\n e"), ["ab", "cd", "e"]);
    }

    #[test]
    fn no_shell_syntax_but_quotes_and_backslashes() {
        assert_eq!(
            words("echo $HOME && ls | wc; a>b"),
            ["echo", "$HOME", "&&", "ls", "|", "wc;", "a>b"]
        );
    }

    #[test]
    fn unterminated_quotes_and_escapes_are_refused() {
        assert_eq!(split("echo 'open"), Err(Unterminated::SingleQuote));
        assert_eq!(split("echo \"open"), Err(Unterminated::DoubleQuote));
        assert_eq!(split("echo \"open\\\""), Err(Unterminated::DoubleQuote));
        assert_eq!(split("echo \\"), Err(Unterminated::Escape));
        assert_eq!(split("echo a\\"), Err(Unterminated::Escape));
    }
}
