//! `deploy-tasks:set [--global|APP] KEY [VALUE]`: writes or removes one setting, as Dokku's
//! `:set` commands write properties.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use super::{existing_app, fail, info2, usage_error};
use crate::dokku;
use crate::exit_codes::ExitCode;
use crate::host::Host;
use crate::ownership::Ownership;
use crate::settings::{Key, Scope};
use crate::triggers;

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
            Err(code) => return code,
        },
        Ok(Scope::Global) => Scope::Global,
        Err(error) => return fail(host, error),
    };
    let key = match Key::find(key) {
        Ok(key) => key,
        Err(error) => return fail(host, error),
    };
    if key.name() == "engine-timeout" {
        if let Scope::App(_) = scope {
            return usage_error(
                host,
                "engine-timeout is the host's, not an app's (it bounds every call to the engine)",
                "deploy-tasks:set --global engine-timeout <seconds>",
            );
        }
        if value.trim().parse::<u64>() == Ok(0) {
            return usage_error(
                host,
                "engine-timeout cannot be 0: every call to the engine has a limit",
                "deploy-tasks:set --global engine-timeout <seconds>",
            );
        }
    }
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
        write_property(&dir, key.name(), &value, &host.ownership())
    };
    if let Err(error) = result {
        return fail(
            host,
            format!("{error:#}; check the permissions of {}", dir.display()),
        );
    }
    // Dokku's app-json reads its files at its next trigger: who runs the tasks changes now.
    if key.name() == "core-tasks" {
        let apps = match &scope {
            Scope::App(app) => vec![app.clone()],
            Scope::Global => dokku::apps_with_files(host),
        };
        // Every app gets its turn: one that cannot be aligned must not leave the others as
        // they were, handed neither to Dokku nor to the plugin.
        let failures: Vec<String> = apps
            .iter()
            .filter_map(|app| {
                let error = triggers::align(host, app).err()?;
                Some(format!("{}: {error:#}", app.name()))
            })
            .collect();
        if !failures.is_empty() {
            return fail(host, failures.join("; "));
        }
    }
    ExitCode::Success
}

fn unset(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("removing {}", path.display())),
    }
}

/// Writes `value` into `dir/name` at once (a temporary file renamed over it), creating `dir`
/// and its missing parents. What is created gets `ownership`, so that a property written by
/// root stays usable by the `dokku` user that deploys run as.
fn write_property(dir: &Path, name: &str, value: &str, ownership: &Ownership) -> Result<()> {
    ownership.create_dir_all(dir)?;
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| -> Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            // As Dokku's own properties: its owner's alone.
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("creating {}", temporary.display()))?;
        ownership.give(&temporary)?;
        file.write_all(value.as_bytes())
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, &path).with_context(|| format!("writing {}", path.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership::Owner;
    use std::os::unix::fs::MetadataExt;

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
        let ownership = Ownership::with_owner(root.path(), Some(owner));
        write_property(&dir, "timeout", "30", &ownership).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("timeout")).unwrap(), "30");
        let unchanged = Ownership::with_owner(root.path(), None);
        write_property(&dir, "timeout", "45", &unchanged).unwrap();
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
}
