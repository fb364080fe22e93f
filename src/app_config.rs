//! The app's config (Dokku's `config:set` variables), as every task sees it.

use std::path::Path;

use anyhow::{Context, Result};

use crate::app::App;
use crate::bounded_read;
use crate::dokku;
use crate::env_file::{self, EnvFile};
use crate::host::Host;
use crate::input_error::InputError;

/// The merged config of one app: global variables, overridden by the app's own.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// Variables in a stable order, one entry per key.
    pub vars: Vec<(String, String)>,
    /// Lines skipped as Dokku skips them (invalid keys), to show the admin.
    pub warnings: Vec<String>,
    /// The app's own `DOKKU_APP_USER`, trimmed: its config file's, not the global one's, as
    /// Dokku's `config-get APP KEY` reads it (`loadAppOrGlobalEnv`) to tell herokuish images.
    pub app_user: Option<String>,
}

impl AppConfig {
    /// The value of one variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// Reads `$DOKKU_LIB_ROOT/config/--global/ENV` then `$DOKKU_LIB_ROOT/config/APP/ENV` (app wins);
/// each falls back to where hosts older than Dokku 0.38 keep it (`$DOKKU_ROOT/ENV`,
/// `$DOKKU_ROOT/APP/ENV`) when absent.
pub fn load(host: &Host, app: &App) -> Result<AppConfig> {
    let [global, own] = dokku::config_files(host, app);
    let global = global.map(|path| read_env_file(&path)).transpose()?;
    let own = own.map(|path| read_env_file(&path)).transpose()?;
    let app_user = own.as_ref().and_then(|file| {
        file.vars
            .iter()
            .find(|(key, _)| key == "DOKKU_APP_USER")
            .map(|(_, value)| value.trim().to_string())
    });
    let files: Vec<EnvFile> = [global, own].into_iter().flatten().collect();
    Ok(AppConfig {
        warnings: files
            .iter()
            .flat_map(|file| file.warnings.clone())
            .collect(),
        vars: env_file::merge(&files),
        app_user,
    })
}

/// The largest config file read: far more than any app's config.
const MAX_ENV_FILE: usize = 16 * 1024 * 1024;

fn read_env_file(path: &Path) -> Result<EnvFile> {
    let origin = path.display().to_string();
    // Bounded, never through a link, never blocked by a FIFO ([`bounded_read::host_file`]).
    let bytes = bounded_read::required_host_file(
        path,
        MAX_ENV_FILE,
        "keep large values out of the app's config",
    )
    .with_context(|| format!("reading the app config {origin}"))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|byte| **byte == b'\n').count() + 1;
        InputError::new(
            origin.clone(),
            "not valid UTF-8",
            "set the value again with `dokku config:set`",
        )
        .at_line(line)
    })?;
    Ok(env_file::parse(&text, &origin)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_user_is_the_apps_own_not_the_global_one() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            lib_root: dir.path().to_path_buf(),
            dokku_root: dir.path().join("home"),
            ..Host::from_env(dir.path())
        };
        let app = App::new("shop").unwrap();
        let write = |scope: &str, text: &str| {
            let path = dir.path().join("config").join(scope);
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join("ENV"), text).unwrap();
        };
        write("--global", "DOKKU_APP_USER=\"web\"\nSHARED=\"g\"\n");
        let config = load(&host, &app).unwrap();
        assert_eq!(config.get("DOKKU_APP_USER"), Some("web"));
        assert_eq!(config.app_user, None);

        write("shop", "DOKKU_APP_USER=\" shopper \"\n");
        let config = load(&host, &app).unwrap();
        assert_eq!(config.app_user.as_deref(), Some("shopper"));
        assert_eq!(config.get("SHARED"), Some("g"));
    }
}
