//! The command line, read as text: every argument the plugin takes (an app, a tag, a setting's
//! value, a command) goes on as UTF-8, so one that is not is bad input, said in one line.

use std::ffi::OsString;

/// The arguments after the first `skip` (the program's name is the first), as text; an argument
/// that is not UTF-8 is reported by its position, escaped, and the process exits with status 1.
pub fn text_or_exit(skip: usize) -> Vec<String> {
    match text(std::env::args_os().skip(skip), skip) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!(" !     {message}");
            std::process::exit(1);
        }
    }
}

/// `arguments` as text, or the message for the first that is not UTF-8; `first` is the
/// position of the first, counted from the program's name at 0.
fn text(arguments: impl Iterator<Item = OsString>, first: usize) -> Result<Vec<String>, String> {
    arguments
        .enumerate()
        .map(|(index, argument)| {
            argument.into_string().map_err(|argument| {
                format!(
                    "argument {} ({argument:?}) is not valid UTF-8: pass it as UTF-8 text",
                    first + index
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn text_arguments_pass_and_the_first_other_is_named_escaped() {
        let arguments = |list: Vec<Vec<u8>>| list.into_iter().map(OsString::from_vec);
        assert_eq!(
            text(arguments(vec![b"shop".to_vec(), "é".into()]), 1),
            Ok(vec!["shop".to_string(), "é".to_string()])
        );
        let message = text(
            arguments(vec![
                b"set".to_vec(),
                b"shell".to_vec(),
                b"/bin/\xff".to_vec(),
            ]),
            1,
        )
        .unwrap_err();
        assert_eq!(
            message,
            "argument 3 (\"/bin/\\xFF\") is not valid UTF-8: pass it as UTF-8 text"
        );
        assert!(!message.contains('\n'));
    }
}
