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
    let mut files: Vec<EnvFile> = Vec::new();
    for path in dokku::config_files(host, app).into_iter().flatten() {
        files.push(read_env_file(&path)?);
    }
    Ok(AppConfig {
        warnings: files
            .iter()
            .flat_map(|file| file.warnings.clone())
            .collect(),
        vars: env_file::merge(&files),
    })
}

/// The largest config file read: far more than any app's config.
const MAX_ENV_FILE: usize = 16 * 1024 * 1024;

fn read_env_file(path: &Path) -> Result<EnvFile> {
    let origin = path.display().to_string();
    // Bounded, never through a link, never blocked by a FIFO ([`bounded_read::host_file`]).
    let bytes = bounded_read::host_file(path, MAX_ENV_FILE)
        .with_context(|| format!("reading the app config {origin}"))?
        .with_context(|| format!("the app config {origin} is gone: deploy again"))?;
    if bytes.len() > MAX_ENV_FILE {
        anyhow::bail!(
            "the app config {origin} is over {} MiB: keep large values out of the config",
            MAX_ENV_FILE / (1024 * 1024)
        );
    }
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
