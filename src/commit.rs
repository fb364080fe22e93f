//! Committing a predeploy container into the app's image.
//!
//! Each commit creates an image under a name of the run's own (`dokku/APP:deploy-tasks-RUNID-N`,
//! [`intermediate_name`]), never untagged: the name is chosen, and recorded by the caller, before
//! the call that creates the image starts, so an image whose commit outlived a killed trigger (the
//! CLI runs in a process group of its own, and the engine finishes a commit whose client is gone)
//! is still found by the next run. Docker creates the image and gives it the name in one request
//! (`daemon/commit.go`, `CreateImageFromContainer`). Dokku's app-json commits straight into the
//! app's tag (`plugins/app-json/functions.go`, `executeScript`); here the tag moves only after the
//! last task succeeded, and only if it still points at the image the tasks started from. Docker
//! has no compare-and-swap on tags: between the check and `docker tag` (milliseconds) a concurrent
//! build could still move it. Runs of this plugin for one app are serialised by the app lock, so
//! only a build outside the plugin can hit that window.

use anyhow::{anyhow, bail, Context, Result};

use crate::app::App;
use crate::docker::{Docker, Image};
use crate::engine::{query_value, Engine};

/// The tag prefix of the names a run gives the images it commits.
const INTERMEDIATE_PREFIX: &str = "deploy-tasks-";

/// The name of the `ordinal`-th image a run creates: `dokku/APP:deploy-tasks-RUNID-N`. In the
/// app's own repository, so that whatever lists or removes the app's images sees it.
pub fn intermediate_name(app: &App, run_id: &str, ordinal: usize) -> String {
    format!(
        "{}:{INTERMEDIATE_PREFIX}{run_id}-{ordinal}",
        app.image_repository()
    )
}

/// Whether `reference` is a name [`intermediate_name`] gives for `app`: the only image names a
/// record of a killed run makes the next run remove, whatever else the record holds.
pub fn is_intermediate_name_of(app: &App, reference: &str) -> bool {
    reference
        .strip_prefix(&app.image_repository())
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|tag| tag.strip_prefix(INTERMEDIATE_PREFIX))
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || byte == b'-')
        })
}

/// Commits the stopped container as a new image and returns its ID. ENTRYPOINT and CMD come back
/// exactly as the image had them (the helper replaced them for the run); WORKDIR, USER, ENV and
/// EXPOSE were never changed. Dokku's labels mark the image as predeploy-committed.
///
/// Every image the commit creates is named by `name_next`, asked before the call that creates
/// it starts; the last one named is the result.
pub fn commit(
    docker: &Docker,
    container: &str,
    app: &App,
    before: &Image,
    name_next: &mut dyn FnMut() -> Result<String>,
) -> Result<String> {
    let into = name_next()?;
    let args = commit_args(docker.is_podman(), container, app, before, &into);
    let id = match docker.engine() {
        // The same changes through the API: no CLI process to start on the deploy's path.
        Some(engine) => commit_through_engine(engine, container, &args, &into),
        None => docker.run(&args),
    }
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
        let into = name_next()?;
        return docker
            .build_from_stdin(&format!("FROM {id}\nCMD []\n"), &into)
            .with_context(|| format!("clearing the CMD of the image committed from {container}"));
    }
    Ok(id)
}

/// The `commit` call's arguments, in Docker's dialect or Podman's.
fn commit_args(
    podman: bool,
    container: &str,
    app: &App,
    before: &Image,
    into: &str,
) -> Vec<String> {
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
    args.extend([container.to_string(), into.to_string()]);
    args
}

/// Points `reference` at `new_id`, unless it no longer points at `expected_id` (another deploy
/// moved it while the task ran): then the run fails, and `new_id` is left to its owner to remove.
pub fn move_tag(docker: &Docker, reference: &str, expected_id: &str, new_id: &str) -> Result<()> {
    let current = docker.image(reference)?.map(|image| image.id);
    if current.as_deref() != Some(expected_id) {
        bail!(
            "{reference} changed while the predeploy task ran (another deploy?); its result was dropped: deploy again"
        );
    }
    tag(docker, new_id, reference)
        .with_context(|| format!("tagging the committed image as {reference}"))
}

/// `POST /commit` with the `--change` lines of `args` ([`commit_args`]), naming the new image
/// `into` in the same request, as `docker commit CONTAINER INTO` does; its ID.
fn commit_through_engine(
    engine: &Engine,
    container: &str,
    args: &[String],
    into: &str,
) -> Result<String> {
    let (repository, tag) = split_reference(into);
    let mut query = format!(
        "/commit?container={}&repo={}&tag={}",
        query_value(container),
        query_value(repository),
        query_value(tag)
    );
    for pair in args.windows(2).filter(|pair| pair[0] == "--change") {
        query.push_str(&format!("&changes={}", query_value(&pair[1])));
    }
    let answer = engine.request("POST", &query, None)?;
    if answer.status != 201 {
        bail!("the engine refused the commit: {}", answer.message());
    }
    serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|body| body["Id"].as_str().map(str::to_string))
        .ok_or_else(|| anyhow!("the engine's answer to the commit has no image ID"))
}

/// `docker tag ID REFERENCE`, through the API where the engine is local.
fn tag(docker: &Docker, id: &str, reference: &str) -> Result<()> {
    let Some(engine) = docker.engine() else {
        docker.run(["tag", id, reference])?;
        return Ok(());
    };
    let (repository, tag) = split_reference(reference);
    let answer = engine.request(
        "POST",
        &format!(
            "/images/{}/tag?repo={}&tag={}",
            query_value(id),
            query_value(repository),
            query_value(tag)
        ),
        None,
    )?;
    match answer.status {
        200 | 201 => Ok(()),
        _ => bail!("the engine refused the tag: {}", answer.message()),
    }
}

/// `REPOSITORY:TAG` as its two parts (a `:` in a registry's port is not the tag's).
fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (reference, "latest"),
    }
}

/// A Dockerfile JSON array (`["a","b"]`); serde_json's escapes are what Docker's parser reads.
fn json_array(words: &[String]) -> String {
    serde_json::to_string(words).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tags_colon_and_values_are_encoded() {
        assert_eq!(
            split_reference("dokku/shop:deploy-tasks-1-2"),
            ("dokku/shop", "deploy-tasks-1-2")
        );
        assert_eq!(
            split_reference("registry:5000/shop"),
            ("registry:5000/shop", "latest")
        );
    }

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
            commit_args(false, "shop.predeploy.1", &app, &before, "dokku/shop:t"),
            [
                "commit",
                "--change",
                r#"ENTRYPOINT ["/bin/sh","-c"]"#,
                "--change",
                r#"CMD ["serve"]"#,
                "--change",
                "LABEL org.label-schema.schema-version=1.0 org.label-schema.vendor=dokku com.dokku.app-name=shop com.dokku.predeploy-phase=true",
                "shop.predeploy.1",
                "dokku/shop:t"
            ]
        );
    }

    #[test]
    fn podman_gets_docker_format_and_one_label_per_instruction() {
        let app = App::new("shop").unwrap();
        assert_eq!(
            commit_args(
                true,
                "shop.predeploy.1",
                &app,
                &image(None, None),
                "dokku/shop:t"
            ),
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
                "shop.predeploy.1",
                "dokku/shop:t"
            ]
        );
    }

    #[test]
    fn a_runs_image_names_are_told_from_any_other_name() {
        let app = App::new("shop").unwrap();
        let name = intermediate_name(&app, "1700000000000-42", 2);
        assert_eq!(name, "dokku/shop:deploy-tasks-1700000000000-42-2");
        assert!(is_intermediate_name_of(&app, &name));
        for other in [
            "dokku/shop:latest",
            "dokku/shop:deploy-tasks-",
            "dokku/shopping:deploy-tasks-1-1",
            "dokku/other:deploy-tasks-1-1",
            "dokku/shop:deploy-tasks-1-1 dokku/shop:latest",
            "sha256:0123",
            "shop.predeploy.1-2",
        ] {
            assert!(!is_intermediate_name_of(&app, other), "{other}");
        }
    }
}
