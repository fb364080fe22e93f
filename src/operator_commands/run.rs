//! `deploy-tasks:run [--no-commit] APP PHASE [IMAGE_TAG]`: runs one phase's tasks now, as the
//! deploy would, outside a deploy.

use super::{existing_app, fail, usage_error};
use crate::app::ImageTag;
use crate::deploy::{run_phase, FirstDeployTasks, PhaseRequest};
use crate::exit_codes::ExitCode;
use crate::host::Host;
use crate::input_error::InputError;
use crate::interrupt;
use crate::phase::Phase;
use crate::triggers;

const USAGE: &str = "deploy-tasks:run [--no-commit] <app> <phase> [<tag>]";

/// `deploy-tasks:run [--no-commit] APP PHASE [IMAGE_TAG]`: runs the phase's tasks on
/// `dokku/APP:IMAGE_TAG` (`latest` by default). A predeploy result is committed unless
/// `--no-commit` is given; first-deploy-only tasks (Heroku's `scripts.postdeploy`) never run
/// here. Exits as the trigger of the phase would.
pub fn run(host: &Host, args: &[String]) -> ExitCode {
    if let Err(error) = interrupt::install() {
        return fail(host, format!("{error:#}"));
    }
    let mut no_commit = false;
    let mut positional = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--no-commit" => no_commit = true,
            flag if flag.starts_with('-') => {
                return usage_error(
                    host,
                    &format!("`{flag}` is not an option of deploy-tasks:run"),
                    USAGE,
                )
            }
            _ => positional.push(arg.as_str()),
        }
    }
    let (app, phase, tag) = match positional[..] {
        [app, phase] => (app, phase, None),
        [app, phase, tag] => (app, phase, Some(tag)),
        _ => return usage_error(host, "deploy-tasks:run needs an app and a phase", USAGE),
    };
    let app = match existing_app(host, app) {
        Ok(app) => app,
        Err(code) => return code,
    };
    let Some(phase) = Phase::from_name(phase) else {
        let names: Vec<&str> = Phase::ALL.iter().map(|phase| phase.name()).collect();
        return fail(
            host,
            InputError::new(
                format!("phase `{phase}`"),
                "not a deploy phase",
                format!("use one of {}", names.join(", ")),
            ),
        );
    };
    let tag = match ImageTag::new(tag) {
        Ok(tag) => tag,
        Err(error) => return fail(host, error),
    };
    let request = PhaseRequest {
        app,
        tag,
        phase,
        first_deploy_tasks: FirstDeployTasks::Excluded,
        obey_skip: false,
        dokku_checked_first: false,
        commit: !no_commit,
        image: None,
        image_may_be_gone: false,
    };
    triggers::exit_code(host, run_phase(host, &request))
}
