//! Committing a predeploy container into the app's image.
//!
//! The commit is untagged; the tag moves only after the last task succeeded, and only if it still
//! points at the image the tasks started from. Docker has no compare-and-swap on tags: between
//! the check and `docker tag` (milliseconds) a concurrent build could still move it. Runs of this
//! plugin for one app are serialised by the app lock, so only a build outside the plugin can hit
//! that window.

use anyhow::{bail, Context, Result};

use crate::app::App;
use crate::docker::{Docker, Image};

/// Commits the stopped container as a new untagged image and returns its ID. ENTRYPOINT and CMD
/// come back exactly as the image had them (the helper replaced them for the run); WORKDIR, USER,
/// ENV and EXPOSE were never changed. Dokku's labels mark the image as predeploy-committed.
pub fn commit(docker: &Docker, container: &str, app: &App, before: &Image) -> Result<String> {
    let args = commit_args(docker.is_podman(), container, app, before);
    let id = docker
        .run(&args)
        .with_context(|| format!("committing the predeploy container {container}"))?;
    if id.is_empty() {
        bail!("`docker commit {container}` printed no image ID");
    }
    if before.entrypoint.is_none()
        && before.cmd.as_ref().is_none_or(Vec::is_empty)
        && !docker.is_podman()
    {
        // With neither ENTRYPOINT nor CMD to write, `docker commit` takes an empty CMD for "no
        // change" and keeps the container's: the helper. Only a build step can write it empty.
        // `podman commit` clears it as asked.
        return docker
            .build_from_stdin(&format!("FROM {id}\nCMD []\n"))
            .with_context(|| format!("clearing the CMD of the image committed from {container}"));
    }
    Ok(id)
}

/// The `commit` call's arguments, in Docker's dialect or Podman's.
fn commit_args(podman: bool, container: &str, app: &App, before: &Image) -> Vec<String> {
    let mut args: Vec<String> = vec!["commit".into()];
    if let Some(entrypoint) = &before.entrypoint {
        args.extend([
            "--change".into(),
            format!("ENTRYPOINT {}", json_array(entrypoint)),
        ]);
    }
    // An image with no CMD gets `CMD []`: the CLI cannot write null, and leaving it out would
    // keep the helper's arguments as the image's CMD.
    let cmd = before.cmd.clone().unwrap_or_default();
    args.extend(["--change".into(), format!("CMD {}", json_array(&cmd))]);
    let labels = [
        "org.label-schema.schema-version=1.0".to_string(),
        "org.label-schema.vendor=dokku".to_string(),
        format!("com.dokku.app-name={}", app.name()),
        "com.dokku.predeploy-phase=true".to_string(),
    ];
    if podman {
        // Docker's image format, as `docker commit` writes: Podman's default (OCI) has no place
        // for a HEALTHCHECK, which would be lost.
        args.extend(["--format".into(), "docker".into()]);
        // Podman takes one KEY=VALUE per LABEL: the others would become the first one's value.
        for label in &labels {
            args.extend(["--change".into(), format!("LABEL {label}")]);
        }
    } else {
        args.extend(["--change".into(), format!("LABEL {}", labels.join(" "))]);
    }
    args.push(container.to_string());
    args
}

/// Points `reference` at `new_id`, unless it no longer points at `expected_id` (another deploy
/// moved it while the task ran): then the new image is removed and the run fails.
pub fn move_tag(docker: &Docker, reference: &str, expected_id: &str, new_id: &str) -> Result<()> {
    let current = docker.image(reference)?.map(|image| image.id);
    if current.as_deref() != Some(expected_id) {
        let _ = docker.run(["rmi", new_id]);
        bail!(
            "{reference} changed while the predeploy task ran (another deploy?); its result was dropped: deploy again"
        );
    }
    docker
        .run(["tag", new_id, reference])
        .with_context(|| format!("tagging the committed image as {reference}"))?;
    Ok(())
}

/// A Dockerfile JSON array (`["a","b"]`); serde_json's escapes are what Docker's parser reads.
fn json_array(words: &[String]) -> String {
    serde_json::to_string(words).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arrays_escape_quotes_and_backslashes() {
        let words = vec![
            "sh".to_string(),
            "-c".to_string(),
            r#"echo "a\b""#.to_string(),
        ];
        assert_eq!(json_array(&words), r#"["sh","-c","echo \"a\\b\""]"#);
        assert_eq!(json_array(&[]), "[]");
    }

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> Image {
        let words = |list: &[&str]| list.iter().map(|word| word.to_string()).collect();
        Image {
            id: "sha256:1".into(),
            entrypoint: entrypoint.map(words),
            cmd: cmd.map(words),
            working_dir: String::new(),
            env: Vec::new(),
            labels: Default::default(),
            volumes: Vec::new(),
        }
    }

    #[test]
    fn docker_gets_one_label_instruction_with_every_label() {
        let app = App::new("shop").unwrap();
        let before = image(Some(&["/bin/sh", "-c"]), Some(&["serve"]));
        assert_eq!(
            commit_args(false, "shop.predeploy.1", &app, &before),
            [
                "commit",
                "--change",
                r#"ENTRYPOINT ["/bin/sh","-c"]"#,
                "--change",
                r#"CMD ["serve"]"#,
                "--change",
                "LABEL org.label-schema.schema-version=1.0 org.label-schema.vendor=dokku com.dokku.app-name=shop com.dokku.predeploy-phase=true",
                "shop.predeploy.1"
            ]
        );
    }

    #[test]
    fn podman_gets_docker_format_and_one_label_per_instruction() {
        let app = App::new("shop").unwrap();
        assert_eq!(
            commit_args(true, "shop.predeploy.1", &app, &image(None, None)),
            [
                "commit",
                "--change",
                "CMD []",
                "--format",
                "docker",
                "--change",
                "LABEL org.label-schema.schema-version=1.0",
                "--change",
                "LABEL org.label-schema.vendor=dokku",
                "--change",
                "LABEL com.dokku.app-name=shop",
                "--change",
                "LABEL com.dokku.predeploy-phase=true",
                "shop.predeploy.1"
            ]
        );
    }
}
