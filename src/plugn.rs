//! Dokku's other plugins, asked through `plugn trigger` as Dokku's own plugins ask them: the
//! options other plugins give a deploy's containers (`docker-args-deploy`,
//! `docker-args-process-deploy`: storage mounts, networks, log drivers, resource limits), and
//! the image a deploy runs ([`deploying_image`]).

use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use crate::app::{App, ImageTag};
use crate::child;
use crate::interrupt;

/// How long one trigger may take: other plugins' option triggers read a few files.
const TRIGGER_LIMIT: Duration = Duration::from_secs(60);

/// `plugn`, when the host is a Dokku that has it: it runs every enabled plugin's trigger in
/// `$PLUGIN_PATH`.
pub fn available() -> bool {
    std::env::var_os("PLUGIN_PATH").is_some_and(|path| !path.is_empty())
        && std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("plugn").is_file()))
}

/// What `plugn trigger NAME ARGS...` prints, with empty stdin, as Dokku's
/// `common.CallPlugnTrigger` gives it (stderr is not shown).
pub fn trigger_output(name: &str, args: &[&str]) -> Result<String> {
    let mut command = Command::new("plugn");
    command.arg("trigger").arg(name).args(args);
    let what = format!("plugn trigger {name}");
    match child::output(&mut command, Some(TRIGGER_LIMIT)) {
        Ok(output) if output.status.success() => {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        }
        Ok(output) => {
            let said = String::from_utf8_lossy(&output.stderr);
            let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
            bail!("`{what}` failed ({}): {said}", output.status)
        }
        Err(child::Failure::Spawn(error)) => Err(anyhow!("cannot run `{what}`: {error}")),
        Err(child::Failure::Wait(error)) => Err(anyhow!("waiting for `{what}`: {error}")),
        Err(child::Failure::Interrupted(signal)) => bail!(
            "stopped by {} while waiting for `{what}`",
            interrupt::signal_name(signal)
        ),
        Err(child::Failure::TimedOut(limit)) => {
            bail!("`{what}` did not answer within {}s", limit.as_secs())
        }
    }
}

/// The image Dokku deploys for `app` at `tag`, as `common.ResolveDeployingAppImageName` names
/// it: `REGISTRY/REPO:TAG` from the `deployed-app-repository`, `deployed-app-image-repo` and
/// `deployed-app-image-tag` triggers (asked at once, as Dokku does), each else nothing,
/// `dokku/APP` and `tag`. A name that is not an image reference is refused.
pub fn deploying_image(app: &App, tag: &ImageTag) -> Result<String> {
    let ask = |trigger: &'static str| {
        let app = app.name().to_string();
        std::thread::spawn(move || {
            trigger_output(trigger, &[&app]).map(|answer| answer.trim().to_string())
        })
    };
    let answers = [
        ask("deployed-app-repository"),
        ask("deployed-app-image-repo"),
        ask("deployed-app-image-tag"),
    ]
    .map(|asked| {
        asked
            .join()
            .unwrap_or_else(|_| Err(anyhow!("asking Dokku for the deployed image failed")))
    });
    let [remote, repository, deployed_tag] = answers;
    let (remote, repository, deployed_tag) = (remote?, repository?, deployed_tag?);
    let repository = if repository.is_empty() {
        app.image_repository()
    } else {
        repository
    };
    let tag = if deployed_tag.is_empty() {
        tag.name().to_string()
    } else {
        deployed_tag
    };
    let name = format!("{remote}{repository}:{tag}");
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/:@".contains(c);
    if !name.chars().all(allowed) || name.starts_with(['/', ':', '-']) {
        bail!(
            "Dokku's registry names the deployed image `{}`, which is not an image reference: check `dokku registry:report {}`",
            name.escape_debug(),
            app.name()
        );
    }
    Ok(name)
}
