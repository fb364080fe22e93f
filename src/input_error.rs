//! The one-line error a user sees for bad input: what is wrong, where, and what to do.

use std::fmt;

/// A problem in a file or argument the user controls (app.json, Procfile, ENV, docker options,
/// command-line arguments). Rendered as one line:
/// `app.json line 4, column 20: scripts.dokku.predeploy must be a string; write the command as a string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file or thing that is wrong, as the user knows it (`app.json from dokku/app:latest`).
    pub origin: String,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// 1-based column, when the problem has one.
    pub column: Option<usize>,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl InputError {
    /// An error with no position.
    pub fn new(
        origin: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        InputError {
            origin: origin.into(),
            line: None,
            column: None,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// The same error at a 1-based line.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// The same error at a 1-based line and column.
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

impl fmt::Display for InputError {
    /// One line whatever the parts quote from the input: control characters are escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", OneLine(&self.origin))?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, " line {line}, column {column}")?,
            (Some(line), None) => write!(f, " line {line}")?,
            _ => {}
        }
        write!(f, ": {}", OneLine(&self.problem))?;
        if !self.fix.is_empty() {
            write!(f, "; {}", OneLine(&self.fix))?;
        }
        Ok(())
    }
}

/// Text with its control characters escaped (`\n`, `\u{1b}`), so that what it quotes from a
/// file can never split the error over lines or drive the terminal.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for character in self.0.chars() {
            if character.is_control() {
                write!(f, "{}", character.escape_default())?;
            } else {
                write!(f, "{character}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_problem_and_fix_on_one_line() {
        let error = InputError::new("app.json", "expected `,`", "fix the JSON").at(3, 7);
        assert_eq!(
            error.to_string(),
            "app.json line 3, column 7: expected `,`; fix the JSON"
        );
        let error = InputError::new("Procfile", "duplicate release", "").at_line(2);
        assert_eq!(error.to_string(), "Procfile line 2: duplicate release");
    }

    #[test]
    fn quoted_input_never_splits_the_line() {
        let error = InputError::new("ENV", "`a\nb\r\u{1b}[31m` is odd", "fix it");
        assert_eq!(
            error.to_string(),
            "ENV: `a\\nb\\r\\u{1b}[31m` is odd; fix it"
        );
    }
}
