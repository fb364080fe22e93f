//! dokku-deploy-tasks: runs an app's deployment tasks (app.json `scripts.dokku.predeploy`, the
//! Procfile `release` command, app.json `scripts.dokku.postdeploy` and `scripts.postdeploy`) for a
//! Dokku-like host, in containers of the app's image, on a real Docker engine.
//!
//! The data flow of one phase is [`deploy::run_phase`]: host context ([`host`]), discover tasks
//! ([`discover`], [`sources`]), plan the container ([`plan`]), run it ([`container`]), commit
//! ([`commit`]), record ([`history`]), report ([`output`]); the lock, the in-flight record and
//! the committed images are held by a [`phase_run::PhaseRun`].

pub mod app;
pub mod app_config;
pub mod arguments;
pub mod bounded_read;
pub mod child;
pub mod command_words;
pub mod commit;
pub mod container;
pub mod deploy;
pub mod discover;
pub mod docker;
pub mod docker_options;
pub mod dokku;
pub mod engine;
pub mod env_file;
pub mod exit_codes;
pub mod history;
pub mod host;
pub mod in_flight;
pub mod input_error;
pub mod interrupt;
pub mod lock;
pub mod operator_commands;
pub mod output;
pub mod ownership;
pub mod phase;
pub mod phase_run;
pub mod plan;
pub mod plugn;
pub mod settings;
pub mod sources;
pub mod takeover;
pub mod triggers;
