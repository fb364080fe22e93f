//! The engine through its API over the local socket ([`crate::engine`]): a deploy's hot path
//! starts no CLI process. Used only where the CLI would talk to the same engine; `exec` in a
//! running container goes through that CLI, whose behaviour is the same.

use std::io::Write;
use std::net::Shutdown;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use super::{
    clearing_dockerfile, commit_changes, commit_named, split_reference, BeginClear, Cli,
    CommitConfig, ContainerEngine, ContainerSpec, Docker, FinishClear, Image, InspectedImage,
    Mount, RunningContainer,
};
use crate::bounded_read::{self, Found};
use crate::container::{self, BeforeStart, Ending, LineSplitter};
use crate::engine::{demultiplex, query_value, Engine, Response};
use crate::output::Stream;

/// A local Docker engine through its API, with the CLI that talks to it.
#[derive(Debug, Clone)]
pub struct EngineApi {
    engine: Engine,
    cli: Cli,
}

impl EngineApi {
    pub fn new(engine: Engine, cli: Cli) -> EngineApi {
        EngineApi { engine, cli }
    }

    /// The create request's body for `spec`.
    fn create_body(spec: &ContainerSpec) -> serde_json::Value {
        let labels: serde_json::Map<String, serde_json::Value> = spec
            .labels
            .iter()
            .map(|(key, value)| (key.clone(), value.clone().into()))
            .collect();
        let mounts: Vec<serde_json::Value> = spec
            .mounts
            .iter()
            .map(|mount| match mount {
                Mount::HostFile { source, target } => serde_json::json!({
                    "Type": "bind",
                    "Source": source.display().to_string(),
                    "Target": target,
                    "ReadOnly": true
                }),
                Mount::Volume { name, target } => serde_json::json!({
                    "Type": "volume",
                    "Source": name,
                    "Target": target
                }),
            })
            .collect();
        let mut body = serde_json::json!({
            "Image": spec.image,
            "Cmd": spec.cmd,
            "Labels": labels,
            "AttachStdin": true,
            "AttachStdout": true,
            "AttachStderr": true,
            "OpenStdin": true,
            "StdinOnce": true,
            "HostConfig": {"Mounts": mounts}
        });
        if let Some(entrypoint) = &spec.entrypoint {
            body["Entrypoint"] = entrypoint.clone().into();
        }
        body
    }
}

impl EngineApi {
    /// Begins the build that writes neither ENTRYPOINT nor CMD into the image about to be
    /// committed as `from`, as a new image named `into` ([`super::clearing_dockerfile`]). The
    /// build's context, one file written in memory, is sent but for its end: the engine starts
    /// unpacking it (a process of its own, some 60 ms) while the commit runs, and reads the
    /// Dockerfile's `FROM` only once the end comes. What it returns checks that `from` names the
    /// committed image, sends the end and gives the built image's ID; dropped, it closes the
    /// connection and the engine builds nothing.
    fn begin_clear(
        &self,
        from: &str,
        config: &CommitConfig,
        into: &str,
    ) -> Result<FinishClear<'_>> {
        let context = clearing_context(from, config.entrypoint.as_deref(), &config.on_build)?;
        let held = self.engine.post_archive_held(
            &format!("/build?q=1&forcerm=1&t={}", query_value(into)),
            &context,
            TAR_END,
        )?;
        let from = from.to_string();
        Ok(Box::new(move |committed: &str| {
            // The run's own name, given under the app's lock; checked all the same, since the
            // build reads it only from now on. An inspection says what the name holds on every
            // image store (an image's `Parent` is the graph driver's only).
            let named = self.named_id(&from)?;
            if named.as_deref() != Some(committed) {
                bail!(
                    "{from} names {} instead of the committed {committed}: something else tagged it meanwhile",
                    named.as_deref().unwrap_or("no image")
                );
            }
            let answer = held.finish()?;
            if answer.status != 200 {
                bail!("the engine refused the build: {}", answer.message());
            }
            built_image(&answer.body)
        }))
    }

    /// The ID of the image `reference` names, if any: an inspection that must finish, as it
    /// belongs to a commit.
    fn named_id(&self, reference: &str) -> Result<Option<String>> {
        let answer = self.engine.request_to_the_end(
            "GET",
            &format!("/images/{}/json", query_value(reference)),
            None,
        )?;
        match answer.status {
            200 => id_of(&answer)
                .map(Some)
                .ok_or_else(|| anyhow!("the engine's inspection of {reference} has no ID")),
            404 => Ok(None),
            _ => bail!("inspecting {reference}: {}", answer.message()),
        }
    }
}

/// The build's context: the Dockerfile that clears the CMD of `from` (keeping `entrypoint` and
/// writing the ONBUILD triggers), alone, as a tar archive that ends in [`TAR_END`] bytes of
/// zeros.
fn clearing_context(
    from: &str,
    entrypoint: Option<&[String]>,
    on_build: &[String],
) -> Result<Vec<u8>> {
    let dockerfile = clearing_dockerfile(from, entrypoint, on_build);
    let mut context = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    context
        .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .context("writing the build's context")?;
    context.into_inner().context("writing the build's context")
}

/// The end of a tar archive: two blocks of zeros, all `tar::Builder` writes after the last
/// file. Held back, the archive seems to go on.
const TAR_END: usize = 1024;

/// The ID of the image a quiet build made, from its answer: one JSON message a line, the ID as
/// the last `stream` text, or the build's error, which comes with status 200 too.
fn built_image(answer: &[u8]) -> Result<String> {
    let mut id = None;
    for line in answer.split(|&byte| byte == b'\n') {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(error) = message["error"].as_str() {
            bail!("the engine's build failed: {}", error.trim());
        }
        if let Some(text) = message["stream"].as_str() {
            if text.trim().starts_with("sha256:") {
                id = Some(text.trim().to_string());
            }
        }
    }
    id.ok_or_else(|| anyhow!("the engine's answer to the build has no image ID"))
}

impl ContainerEngine for EngineApi {
    fn image(&self, reference: &str) -> Result<Option<Image>> {
        let response = self
            .engine
            .request("GET", &format!("/images/{reference}/json"), None)?;
        match response.status {
            200 => serde_json::from_slice::<InspectedImage>(&response.body)
                .map_err(anyhow::Error::from)
                .and_then(|inspected| Ok(Some(Image::try_from(inspected)?)))
                .with_context(|| format!("reading the engine's inspection of {reference}")),
            404 => Ok(None),
            _ => bail!("inspecting {reference}: {}", response.message()),
        }
    }

    fn image_names(&self, repository: &str, tag_prefix: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Listed {
            repo_tags: Option<Vec<String>>,
        }
        let filters = serde_json::json!({ "reference": [repository] }).to_string();
        let response = self.engine.request(
            "GET",
            &format!("/images/json?filters={}", query_value(&filters)),
            None,
        )?;
        if response.status != 200 {
            bail!("listing the images of {repository}: {}", response.message());
        }
        let listed: Vec<Listed> = serde_json::from_slice(&response.body)
            .with_context(|| format!("reading the engine's list of {repository}'s images"))?;
        let prefix = format!("{repository}:{tag_prefix}");
        Ok(listed
            .into_iter()
            .flat_map(|image| image.repo_tags.unwrap_or_default())
            // Podman's compatible API lists names with their registry (`localhost/dokku/shop`).
            .map(|name| {
                name.strip_prefix("localhost/")
                    .map(str::to_string)
                    .unwrap_or(name)
            })
            .filter(|name| name.starts_with(&prefix))
            .collect())
    }

    fn create(&self, spec: &ContainerSpec) -> Result<String> {
        let name = &spec.name;
        if !spec.cli_options.is_empty() {
            bail!("the container {name} needs docker options, which only the CLI reads: this is a bug, please report it");
        }
        let created = self.engine.request(
            "POST",
            &format!("/containers/create?name={}", query_value(name)),
            Some(&EngineApi::create_body(spec)),
        )?;
        if created.status != 201 {
            bail!("creating the container {name}: {}", created.message());
        }
        Ok(id_of(&created).unwrap_or_else(|| name.clone()))
    }

    fn run(&self, spec: &ContainerSpec, before_start: Option<BeforeStart>) -> Result<Ending> {
        let name = &spec.name;
        let id = self.create(spec)?;
        if let Some(before_start) = before_start {
            before_start(&id)?;
        }
        let (attached, mut input) = self.engine.upgrade(&format!(
            "/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1"
        ))?;
        let started = self
            .engine
            .request("POST", &format!("/containers/{name}/start"), None)?;
        if started.status != 204 && started.status != 304 {
            bail!("starting the task container {name}: {}", started.message());
        }
        let connection = input.try_clone().context("sharing the attach connection")?;
        let stdin = spec.stdin.clone();
        let writer = thread::spawn(move || {
            let _ = input.write_all(&stdin);
            // End of input: the helper reads its config to the end.
            let _ = input.shutdown(Shutdown::Write);
        });
        let reader = thread::spawn(move || {
            let mut stdout = LineSplitter::new(Stream::Stdout);
            let mut stderr = LineSplitter::new(Stream::Stderr);
            let _ = demultiplex(attached, |stream, bytes| match stream {
                Stream::Stdout => stdout.push(bytes),
                Stream::Stderr => stderr.push(bytes),
            });
            stdout.finish();
            stderr.finish();
        });
        // Asked after the start, "not-running" answers at once for a task that already ended.
        let (exited, exit) = mpsc::channel();
        let waiter = self.engine.clone();
        let wait_path = format!("/containers/{name}/wait?condition=not-running");
        thread::spawn(move || {
            let _ = exited.send(status_code(
                waiter.request_unbounded("POST", &wait_path, None),
            ));
        });
        // Closing the attach connection ends the reader and the writer.
        let abandon = || {
            let _ = connection.shutdown(Shutdown::Both);
        };
        let ending = container::supervise(self, name, exit, spec.timeout, &abandon);
        let _ = writer.join();
        let _ = reader.join();
        ending
    }

    /// Read as it streams from the archive API.
    fn read_entry(&self, container: &str, path: &str, limit: usize) -> Result<Option<Found>> {
        let (status, body) = self.engine.stream(
            "GET",
            &format!("/containers/{container}/archive?path={}", query_value(path)),
        )?;
        match status {
            200 => bounded_read::first_entry(body, limit)
                .with_context(|| format!("reading {path} from {container}")),
            // Not the file's absence when the container itself is gone.
            404 => {
                let message = body.message(status);
                if message.contains("No such container") {
                    bail!("reading {path} from {container}: {message}");
                }
                Ok(None)
            }
            _ => bail!("reading {path} from {container}: {}", body.message(status)),
        }
    }

    /// `POST /commit`, naming the new image in the same request, as `docker commit CONTAINER
    /// INTO` does. The image's own config goes back as the commit's, with the labels added
    /// ([`CommitConfig`]); only when the engine gave none do `changes` write it, as on the CLI.
    fn commit(
        &self,
        container: &str,
        config: &CommitConfig,
        name_next: &mut dyn FnMut() -> Result<String>,
    ) -> Result<String> {
        let whole = config.whole();
        // The whole config keeps a null CMD beside an ENTRYPOINT; with neither, the commit
        // still fills them from the container's. (An image the engine gave no config for has
        // neither.)
        let needs_clearing = config.clears_both();
        // The build `FROM` the commit would run the image's ONBUILD triggers: it writes them.
        let whole = whole.map(|mut whole| {
            if needs_clearing {
                whole["OnBuild"] = serde_json::Value::Null;
            }
            whole
        });
        let commit = |into: String| {
            let (repository, tag) = split_reference(&into);
            let mut query = format!(
                "/commit?container={}&repo={}&tag={}",
                query_value(container),
                query_value(repository),
                query_value(tag)
            );
            if whole.is_none() {
                for change in commit_changes(config, false) {
                    query.push_str(&format!("&changes={}", query_value(&change)));
                }
            }
            let answer = self
                .engine
                .request_to_the_end("POST", &query, whole.as_ref())?;
            if answer.status != 201 {
                bail!("the engine refused the commit: {}", answer.message());
            }
            id_of(&answer)
                .ok_or_else(|| anyhow!("the engine's answer to the commit has no image ID"))
        };
        let begin = |from: &str, into: &str| self.begin_clear(from, config, into);
        let clear: Option<BeginClear> = needs_clearing.then_some(&begin);
        commit_named(container, name_next, commit, clear)
    }

    fn tag(&self, id: &str, reference: &str) -> Result<()> {
        let (repository, tag) = split_reference(reference);
        let answer = self.engine.request_to_the_end(
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

    fn remove_container(&self, name: &str) -> Result<bool> {
        let response = self.engine.request_to_the_end(
            "DELETE",
            &format!("/containers/{name}?force=1&v=1"),
            None,
        )?;
        match response.status {
            204 => Ok(true),
            404 => Ok(false),
            _ => bail!("removing {name}: {}", response.message()),
        }
    }

    fn remove_image(&self, reference: &str) -> Result<bool> {
        let response =
            self.engine
                .request_to_the_end("DELETE", &format!("/images/{reference}"), None)?;
        match response.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => bail!("removing the image {reference}: {}", response.message()),
        }
    }

    fn stop_container(&self, name: &str, grace: Duration) -> Result<()> {
        let response = self.engine.request_to_the_end(
            "POST",
            &format!("/containers/{name}/stop?t={}", grace.as_secs_f64().ceil()),
            None,
        )?;
        match response.status {
            204 | 304 | 404 => Ok(()),
            _ => bail!("stopping {name}: {}", response.message()),
        }
    }

    fn running_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<RunningContainer>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Listed {
            names: Vec<String>,
            #[serde(rename = "ImageID")]
            image_id: String,
        }
        let labels: Vec<String> = labels
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let filters = serde_json::json!({ "label": labels }).to_string();
        let response = self.engine.request(
            "GET",
            &format!("/containers/json?filters={}", query_value(&filters)),
            None,
        )?;
        if response.status != 200 {
            bail!("listing the running containers: {}", response.message());
        }
        let listed: Vec<Listed> = serde_json::from_slice(&response.body)
            .context("reading the engine's list of running containers")?;
        Ok(listed
            .into_iter()
            .filter_map(|listed| {
                let name = listed.names.first()?.trim_start_matches('/').to_string();
                Some(RunningContainer {
                    name,
                    image_id: listed.image_id,
                })
            })
            .collect())
    }

    fn exec(&self, container: &str, command: &str, timeout: Option<Duration>) -> Result<Ending> {
        self.cli.exec(container, command, timeout)
    }

    fn through_cli(&self) -> Docker {
        Arc::new(self.cli.clone())
    }
}

/// The `Id` an answer of the engine names (a created container, a committed image).
fn id_of(answer: &Response) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|body| body["Id"].as_str().map(str::to_string))
}

fn status_code(response: Result<Response>) -> Result<i32> {
    let response = response?;
    if response.status != 200 {
        bail!("waiting for the task container: {}", response.message());
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&response.body).context("reading the engine's wait answer")?;
    answer["StatusCode"]
        .as_i64()
        .map(|code| code as i32)
        .ok_or_else(|| anyhow!("the engine's wait answer has no status code"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_clearing_context_ends_in_the_held_zeros_and_the_dockerfile_comes_before() {
        let context =
            clearing_context("dokku/shop:deploy-tasks-1700000000000-1-1", None, &[]).unwrap();
        let (sent, held) = context.split_at(context.len() - TAR_END);
        assert!(
            held.iter().all(|&byte| byte == 0),
            "the end is not all zeros"
        );
        // What is sent holds the whole Dockerfile: a tar reader gets it and then waits.
        let mut archive = tar::Archive::new(sent);
        let mut entries = archive.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
        assert_eq!(
            text,
            "FROM dokku/shop:deploy-tasks-1700000000000-1-1\nENTRYPOINT []\n"
        );
        assert_eq!(sent.len() % 512, 0);
    }

    #[test]
    fn a_quiet_builds_answer_gives_its_image_or_its_error() {
        let built = b"{\"stream\":\"sha256:15e4\\n\"}\r\n";
        assert_eq!(built_image(built).unwrap(), "sha256:15e4");
        let failed = concat!(
            "{\"stream\":\"Step 1/2 : FROM sha256:0\"}\n",
            "{\"stream\":\"\\n\"}\n",
            "{\"errorDetail\":{\"message\":\"no such image\"},\"error\":\"no such image\"}\n"
        );
        assert_eq!(
            built_image(failed.as_bytes()).unwrap_err().to_string(),
            "the engine's build failed: no such image"
        );
        assert!(built_image(b"").is_err());
    }

    #[test]
    fn the_create_request_carries_the_spec_and_nothing_of_its_stdin() {
        let spec = ContainerSpec {
            name: "shop.release.1".into(),
            image: "sha256:1".into(),
            entrypoint: Some(vec!["/dev/deploy-tasks-helper".into()]),
            cmd: vec!["--run-exec".into()],
            labels: vec![
                ("com.dokku.app-name".into(), "shop".into()),
                ("dokku_phase_script".into(), "release".into()),
            ],
            mounts: vec![
                Mount::HostFile {
                    source: PathBuf::from("/helper"),
                    target: "/dev/deploy-tasks-helper".into(),
                },
                Mount::Volume {
                    name: "cache-shop".into(),
                    target: "/tmp/cache".into(),
                },
            ],
            stdin: b"1\0migrate\0SECRET=s3cr3t\0".to_vec(),
            cli_options: Vec::new(),
            timeout: None,
        };
        let body = EngineApi::create_body(&spec);
        assert_eq!(body["Image"], "sha256:1");
        assert_eq!(
            body["Entrypoint"],
            serde_json::json!(["/dev/deploy-tasks-helper"])
        );
        assert_eq!(body["Cmd"], serde_json::json!(["--run-exec"]));
        assert_eq!(body["Labels"]["dokku_phase_script"], "release");
        assert_eq!(body["Labels"]["com.dokku.app-name"], "shop");
        assert_eq!(body["HostConfig"]["Mounts"][0]["Source"], "/helper");
        assert_eq!(body["HostConfig"]["Mounts"][0]["ReadOnly"], true);
        assert_eq!(
            body["HostConfig"]["Mounts"][1],
            serde_json::json!({"Type": "volume", "Source": "cache-shop", "Target": "/tmp/cache"})
        );
        assert_eq!(body["OpenStdin"], true);
        assert!(!body.to_string().contains("s3cr3t"));

        let without = ContainerSpec {
            entrypoint: None,
            ..spec
        };
        assert!(EngineApi::create_body(&without).get("Entrypoint").is_none());
    }
}
