//! `deploy-tasks:set [--global|APP] KEY [VALUE]`: writes or removes one setting, as Dokku's
//! `:set` commands write properties.

use std::io::Write;
use std::os::unix::fs::{chown, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{existing_app, fail, info2, usage_error};
use crate::exit_codes::ExitCode;
use crate::host::Host;
use crate::settings::{Key, Scope};

const USAGE: &str = "deploy-tasks:set [--global|<app>] <key> [<value>]";

/// `deploy-tasks:set [--global|APP] KEY [VALUE]`: checks the key and value, then writes
/// `$DOKKU_LIB_ROOT/config/deploy-tasks/<APP|--global>/KEY` (no trailing newline); an empty or
/// missing value removes it. A bad key or value is a one-line error and nothing is written.
pub fn set(host: &Host, args: &[String]) -> ExitCode {
    let (scope, key, value) = match args {
        [scope, key] => (scope, key, ""),
        [scope, key, value] => (scope, key, value.as_str()),
        [] | [_] => {
            return usage_error(
                host,
                "deploy-tasks:set needs an app (or --global) and a key",
                USAGE,
            )
        }
        _ => {
            return usage_error(
                host,
                "deploy-tasks:set takes one value (quote one with spaces)",
                USAGE,
            )
        }
    };
    let scope = match Scope::parse(scope) {
        Ok(Scope::App(app)) => match existing_app(host, app.name()) {
            Ok(app) => Scope::App(app),
            Err(error) => return fail(host, error),
        },
        Ok(Scope::Global) => Scope::Global,
        Err(error) => return fail(host, error),
    };
    let key = match Key::find(key) {
        Ok(key) => key,
        Err(error) => return fail(host, error),
    };
    let dir = scope.dir(host);
    let result = if value.is_empty() {
        info2(&format!("Unsetting {}", key.name()));
        unset(&dir.join(key.name()))
    } else {
        let value = match key.check(value) {
            Ok(value) => value,
            Err(error) => return fail(host, error),
        };
        info2(&format!("Setting {} to {value}", key.name()));
        write_property(&dir, key.name(), &value, dokku_owner().as_ref())
    };
    match result {
        Ok(()) => ExitCode::Success,
        Err(error) => fail(
            host,
            format!("{error:#}; check the permissions of {}", dir.display()),
        ),
    }
}

fn unset(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("removing {}", path.display())),
    }
}

/// A user and group to give files to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    uid: u32,
    gid: u32,
}

/// Writes `value` into `dir/name` at once (a temporary file renamed over it), creating `dir`
/// and its missing parents. What is created is given to `owner`, so that a property written by
/// root stays usable by the `dokku` user that deploys run as.
fn write_property(dir: &Path, name: &str, value: &str, owner: Option<&Owner>) -> Result<()> {
    for created in create_dirs(dir)? {
        give(&created, owner)?;
    }
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| -> Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temporary)
            .with_context(|| format!("creating {}", temporary.display()))?;
        file.write_all(value.as_bytes())
            .with_context(|| format!("writing {}", temporary.display()))?;
        give(&temporary, owner)?;
        std::fs::rename(&temporary, &path).with_context(|| format!("writing {}", path.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Creates `dir` and whichever of its parents are missing; returns those it created, outermost
/// first.
fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|ancestor| !ancestor.as_os_str().is_empty() && !ancestor.is_dir())
        .map(Path::to_path_buf)
        .collect();
    let mut created = Vec::new();
    for path in missing.into_iter().rev() {
        match std::fs::create_dir(&path) {
            Ok(()) => created.push(path),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(error).with_context(|| format!("creating {}", path.display()))
            }
        }
    }
    Ok(created)
}

fn give(path: &Path, owner: Option<&Owner>) -> Result<()> {
    match owner {
        Some(owner) => chown(path, Some(owner.uid), Some(owner.gid))
            .with_context(|| format!("giving {} to the dokku user", path.display())),
        None => Ok(()),
    }
}

/// The `dokku` user, when running as root on a host that has one: whoever else runs this can
/// only create files of their own.
fn dokku_owner() -> Option<Owner> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    owner_in_passwd(&passwd, "dokku")
}

/// The uid and gid of `user` in `/etc/passwd` text (`name:password:uid:gid:...`).
fn owner_in_passwd(passwd: &str, user: &str) -> Option<Owner> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(Owner { uid, gid })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn finds_the_dokku_user_in_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      dokku-admin:x:1001:1001::/home/x:/bin/sh\n\
                      dokku:x:1000:998:dokku:/home/dokku:/bin/bash\n";
        assert_eq!(
            owner_in_passwd(passwd, "dokku"),
            Some(Owner {
                uid: 1000,
                gid: 998
            })
        );
        assert_eq!(owner_in_passwd("root:x:0:0::/:/bin/sh\n", "dokku"), None);
        assert_eq!(owner_in_passwd("dokku:x:bad:1::/:/bin/sh\n", "dokku"), None);
    }

    #[test]
    fn writes_the_value_without_a_newline_and_gives_what_it_created_to_the_owner() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("config").join("deploy-tasks").join("app");
        let metadata = std::fs::metadata(root.path()).unwrap();
        // Our own uid and gid: chown to them works without root and proves the call is made.
        let owner = Owner {
            uid: metadata.uid(),
            gid: metadata.gid(),
        };
        write_property(&dir, "timeout", "30", Some(&owner)).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("timeout")).unwrap(), "30");
        write_property(&dir, "timeout", "45", None).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("timeout")).unwrap(), "45");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["timeout"], "a temporary file was left behind");
        unset(&dir.join("timeout")).unwrap();
        unset(&dir.join("timeout")).unwrap();
        assert!(!dir.join("timeout").exists());
    }

    #[test]
    fn creates_only_missing_directories_outermost_first() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        assert_eq!(
            create_dirs(&dir).unwrap(),
            [root.path().join("a"), root.path().join("a").join("b")]
        );
        assert!(create_dirs(&dir).unwrap().is_empty());
    }
}
