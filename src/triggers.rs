//! The host's entry points: one function per trigger, named after it. Each parses the host's
//! arguments, runs its phase, reports a failure in one line, and returns the exit status.

use std::path::PathBuf;

use crate::app::{App, ImageTag};
use crate::deploy::{run_phase, PhaseEnd, PhaseRequest};
use crate::exit_codes::ExitCode;
use crate::host::Host;
use crate::interrupt;
use crate::output::Output;
use crate::phase::Phase;

/// `pre-deploy APP [IMAGE_TAG]`: runs app.json `scripts.dokku.predeploy` and commits the result
/// into `dokku/APP:IMAGE_TAG`.
pub fn pre_deploy(args: &[String]) -> ExitCode {
    let usage = "pre-deploy APP [IMAGE_TAG]";
    trigger(Phase::Predeploy, usage, args, 1, |args| args.get(1))
}

/// `post-release APP [IMAGE_TAG]`: runs the Procfile `release` command in a throwaway container.
pub fn post_release(args: &[String]) -> ExitCode {
    let usage = "post-release APP [IMAGE_TAG]";
    trigger(Phase::Release, usage, args, 1, |args| args.get(1))
}

/// `post-deploy APP PORT IP [IMAGE_TAG]`: runs app.json `scripts.dokku.postdeploy`, then, on the
/// app's first deploy only, `scripts.postdeploy`.
pub fn post_deploy(args: &[String]) -> ExitCode {
    let usage = "post-deploy APP PORT IP [IMAGE_TAG]";
    trigger(Phase::Postdeploy, usage, args, 1, |args| args.get(3))
}

fn trigger(
    phase: Phase,
    usage: &str,
    args: &[String],
    required: usize,
    tag_argument: fn(&[String]) -> Option<&String>,
) -> ExitCode {
    interrupt::install();
    let output = Output::new(false);
    if args.len() < required
        || args
            .first()
            .is_some_and(|arg| arg == "--help" || arg == "-h")
    {
        output.error(&format!("usage: {usage}"));
        return ExitCode::Failure;
    }
    let app = match App::new(&args[0]) {
        Ok(app) => app,
        Err(error) => return fail(&output, &error.to_string()),
    };
    let tag = match ImageTag::new(tag_argument(args).map(String::as_str)) {
        Ok(tag) => tag,
        Err(error) => return fail(&output, &error.to_string()),
    };
    let host = Host::from_env(&plugin_root());
    let request = PhaseRequest {
        app,
        tag,
        phase,
        first_deploy_tasks: phase == Phase::Postdeploy,
        obey_skip: true,
        commit: true,
    };
    exit_code(&host, run_phase(&host, &request))
}

/// Maps how a phase ended to the exit status; an error is reported here, in one line.
pub fn exit_code(host: &Host, result: anyhow::Result<PhaseEnd>) -> ExitCode {
    match result {
        Ok(PhaseEnd::Done) => ExitCode::Success,
        Ok(PhaseEnd::Failed) => ExitCode::Failure,
        Ok(PhaseEnd::TimedOut) => ExitCode::Timeout,
        Ok(PhaseEnd::Interrupted(signal)) => ExitCode::Signal(signal),
        Err(error) => {
            if let Some(signal) = interrupt::received() {
                host.output.error(&format!("{error:#}"));
                return ExitCode::Signal(signal);
            }
            fail(&host.output, &format!("{error:#}"))
        }
    }
}

fn fail(output: &Output, message: &str) -> ExitCode {
    output.error(message);
    ExitCode::Failure
}

/// The installed plugin's directory: where the running trigger binary lives (symlinks resolved,
/// since the host runs it through `plugins/enabled/deploy-tasks`).
fn plugin_root() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}
