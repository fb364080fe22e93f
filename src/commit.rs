//! Committing a predeploy container into the app's image.
//!
//! Each commit creates an image under a name of the run's own (`dokku/APP:deploy-tasks-RUNID-N`,
//! [`intermediate_name`]), never untagged: the name is chosen before the call that creates the
//! image starts, so an image whose commit outlived a killed trigger (the CLI runs in a process
//! group of its own, and the engine finishes a commit whose client is gone) is still found by a
//! later run ([`leftover_images`]). Docker creates the image and gives it the name in one request
//! (`daemon/commit.go`, `CreateImageFromContainer`). Dokku's app-json commits straight into the
//! app's tag (`plugins/app-json/functions.go`, `executeScript`); here the tag moves only after the
//! last task succeeded, and only if it still points at the image the tasks started from. Docker
//! has no compare-and-swap on tags: between the check and `docker tag` (milliseconds) a concurrent
//! build could still move it. Runs of this plugin for one app are serialised by the app lock, so
//! only a build outside the plugin can hit that window.

use anyhow::{bail, Context, Result};

use crate::app::App;
use crate::docker::{CommitConfig, Docker, Image};

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

/// Whether `reference` is a name [`intermediate_name`] gives for `app`: the only image names the
/// removal of killed runs' leftovers touches ([`leftover_images`]).
pub fn is_intermediate_name_of(app: &App, reference: &str) -> bool {
    reference
        .strip_prefix(&app.image_repository())
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|tag| tag.strip_prefix(INTERMEDIATE_PREFIX))
        .is_some_and(|rest| {
            // `MILLIS-PID-N`, as `run_id` and `intermediate_name` write it: an admin's tag such
            // as `deploy-tasks-2024-06-01` is none of the plugin's.
            let fields: Vec<&str> = rest.split('-').collect();
            let digits =
                |field: &str| !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit());
            fields.len() == 3 && fields.iter().all(|field| digits(field)) && fields[0].len() >= 13
        })
}

/// The names of images that runs of `app` committed and did not remove, newest first: a child
/// before its parent, so that each removal removes its image.
pub fn leftover_images(docker: &Docker, app: &App) -> Result<Vec<String>> {
    let mut names: Vec<String> = docker
        .image_names(&app.image_repository(), INTERMEDIATE_PREFIX)?
        .into_iter()
        .filter(|name| is_intermediate_name_of(app, name))
        .collect();
    names.sort_by_key(|name| std::cmp::Reverse(age_order(name)));
    Ok(names)
}

/// The numbers of `...:deploy-tasks-MILLIS-PID-N`, which order a run's images by the run's
/// start, then by commit.
fn age_order(name: &str) -> Vec<u128> {
    name.rsplit_once(INTERMEDIATE_PREFIX)
        .map(|(_, numbers)| {
            numbers
                .split('-')
                .map(|number| number.parse().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
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
    let config = CommitConfig {
        entrypoint: before.entrypoint.clone(),
        cmd: before.cmd.clone(),
        labels: dokku_labels(app),
        on_build: before.on_build.clone(),
        base: before.config.clone(),
    };
    docker
        .commit(container, &config, name_next)
        .with_context(|| format!("committing the predeploy container {container}"))
}

/// The labels Dokku's app-json gives a predeploy commit (`plugins/app-json/functions.go`,
/// `executeScript`).
fn dokku_labels(app: &App) -> Vec<(String, String)> {
    [
        ("org.label-schema.schema-version", "1.0"),
        ("org.label-schema.vendor", "dokku"),
        ("com.dokku.app-name", app.name()),
        ("com.dokku.predeploy-phase", "true"),
    ]
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .to_vec()
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
    docker
        .tag(new_id, reference)
        .with_context(|| format!("tagging the committed image as {reference}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_ordered_newest_run_first_and_within_a_run_newest_commit_first() {
        let mut names = vec![
            "dokku/shop:deploy-tasks-900-7-1",
            "dokku/shop:deploy-tasks-1000-5-2",
            "dokku/shop:deploy-tasks-1000-5-10",
            "dokku/shop:deploy-tasks-1000-5-1",
        ];
        names.sort_by_key(|name| std::cmp::Reverse(age_order(name)));
        assert_eq!(
            names,
            [
                "dokku/shop:deploy-tasks-1000-5-10",
                "dokku/shop:deploy-tasks-1000-5-2",
                "dokku/shop:deploy-tasks-1000-5-1",
                "dokku/shop:deploy-tasks-900-7-1",
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
            "dokku/shop:deploy-tasks-2024-06-01",
            "dokku/shop:deploy-tasks-1",
            "dokku/shop:deploy-tasks---",
            "dokku/shop:deploy-tasks-1700000000000-42",
            "dokku/shop:deploy-tasks-1700000000000-42-1-1",
        ] {
            assert!(!is_intermediate_name_of(&app, other), "{other}");
        }
    }
}
