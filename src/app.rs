//! The app a trigger runs for, and the image tag it deploys.

use crate::input_error::InputError;

/// An app name Dokku would accept: `^[a-z0-9][a-z0-9.-]*$`, or one of the old form, with
/// underscores too, that Dokku still deploys (`plugins/common/common.go`, `VerifyAppName`).
/// Never a path, never empty, so it is safe in file paths and container names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App(String);

impl App {
    /// Checks a name as Dokku's `VerifyAppName` does: either form.
    pub fn new(name: &str) -> Result<App, InputError> {
        let mut characters = name.chars();
        let valid_start = characters
            .next()
            .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit());
        let valid_rest = characters
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
        if valid_start && valid_rest && name.len() <= 200 {
            Ok(App(name.to_string()))
        } else {
            Err(InputError::new(
                format!("app name `{name}`"),
                "not a valid Dokku app name",
                "use lowercase letters, digits, dashes and dots, starting with a letter or digit",
            ))
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// The image repository Dokku builds the app into: `dokku/APP`.
    pub fn image_repository(&self) -> String {
        format!("dokku/{}", self.0)
    }
}

/// An image tag; a missing or empty one means `latest`, as Dokku does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTag(String);

impl ImageTag {
    /// Checks a tag as Docker does (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
    pub fn new(tag: Option<&str>) -> Result<ImageTag, InputError> {
        let tag = match tag {
            None | Some("") => return Ok(ImageTag("latest".into())),
            Some(tag) => tag,
        };
        let valid = tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if valid {
            Ok(ImageTag(tag.to_string()))
        } else {
            Err(InputError::new(
                format!("image tag `{tag}`"),
                "not a valid Docker tag",
                "use letters, digits, `_`, `.` and `-`, at most 128 characters",
            ))
        }
    }

    /// The tag.
    pub fn name(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dokku_app_names() {
        // `legacy_app`: the old form, which Dokku still deploys though it creates no new one.
        for name in [
            "app",
            "my-app",
            "a1",
            "0day",
            "web.v2",
            "legacy_app",
            "a_b.c-d",
        ] {
            assert_eq!(App::new(name).unwrap().name(), name);
        }
    }

    #[test]
    fn refuses_names_dokku_refuses_and_paths() {
        for name in [
            "", "App", "-app", ".app", "_app", "../etc", "a/b", "a b", "app\n", "A_b",
        ] {
            assert!(App::new(name).is_err(), "{name:?} should be refused");
        }
    }

    #[test]
    fn empty_or_missing_tag_means_latest() {
        assert_eq!(ImageTag::new(None).unwrap().name(), "latest");
        assert_eq!(ImageTag::new(Some("")).unwrap().name(), "latest");
        assert_eq!(ImageTag::new(Some("v1.2")).unwrap().name(), "v1.2");
        assert!(ImageTag::new(Some("a/b")).is_err());
        assert!(ImageTag::new(Some("-x")).is_err());
    }
}
