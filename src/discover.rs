//! Finds an app's task definitions: for app.json and the Procfile, the copies the host extracted
//! from the pushed source first; else, and for every other source, the files inside the image
//! (its WORKDIR, then `/app`).
//!
//! Reading files out of an image costs a container create, a read per candidate path and a
//! removal, so what was found is cached per image ID and search: the three triggers of one
//! deploy pay once, and a trigger whose definitions are cached costs one image inspect.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::app::App;
use crate::bounded_read::{self, Found};
use crate::container::run_id;
use crate::docker::{ContainerSpec, Docker, Image};
use crate::dokku::DokkuFile;
use crate::host::Host;
use crate::in_flight::InFlight;
use crate::ownership::Ownership;
use crate::sources::{self, DefinitionFile, Definitions, Source, SourceOptions, MAX_BYTES};
use crate::takeover;

/// How many images' definitions the cache keeps per app.
const CACHED_IMAGES: usize = 4;

/// The image a trigger works on, inspected only when something needs it.
pub struct ImageLookup<'a> {
    docker: &'a Docker,
    reference: String,
    image: Option<Image>,
}

impl<'a> ImageLookup<'a> {
    /// A lookup of `reference` (`dokku/APP:TAG`); nothing is asked of Docker yet.
    pub fn new(docker: &'a Docker, reference: String) -> ImageLookup<'a> {
        ImageLookup {
            docker,
            reference,
            image: None,
        }
    }

    /// The reference as the host named it.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The image, if it was inspected already.
    pub fn inspected(&self) -> Option<&Image> {
        self.image.as_ref()
    }

    /// The image, inspected once; an error where there is none.
    pub fn get(&mut self) -> Result<&Image> {
        let reference = self.reference.clone();
        self.find()?.with_context(|| {
            format!(
                "there is no image {reference} on this host: build the app first (or pull the image), or pass the tag it was built with"
            )
        })
    }

    /// The image, inspected once; `None` where there is none (asked again next time).
    pub fn find(&mut self) -> Result<Option<&Image>> {
        if self.image.is_none() {
            self.image = self.docker.image(&self.reference)?;
        }
        Ok(self.image.as_ref())
    }
}

/// Where to look for each source's file, as the app's settings and config say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// For each source, the paths to try relative to the app's root in the image, first found
    /// wins.
    paths: Vec<(Source, Vec<String>)>,
    /// The sources whose host-extracted copy counts, and the Dokku file that copy is.
    host_copies: Vec<(Source, DokkuFile)>,
}

impl Search {
    /// The search for an app, each source's paths and host copy as the source says under
    /// `options` ([`sources::TaskSource`]).
    pub fn new(options: &SourceOptions) -> Search {
        let mut paths = Vec::new();
        let mut host_copies = Vec::new();
        for source in sources::ALL {
            paths.push((source.source(), source.search_paths(options)));
            if let Some(file) = source.host_copy(options) {
                host_copies.push((source.source(), file));
            }
        }
        Search { paths, host_copies }
    }

    /// A short fingerprint of the paths, naming the cache entry: a change of setting or of
    /// `PROJECT_PATH` looks again.
    fn fingerprint(&self) -> String {
        // FNV-1a: stable across builds, unlike the standard library's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for (source, candidates) in &self.paths {
            for byte in source
                .name()
                .bytes()
                .chain(candidates.iter().flat_map(|path| path.bytes().chain([0])))
                .chain([0xff])
            {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{hash:016x}")
    }
}

/// The host's extracted copies of the sources Dokku extracts, where the search lets them count:
/// the running deploy's own copies while they exist (Dokku's `NAME.$DOKKU_PID`, none where it
/// marked the file missing), the originals where the plugin took them over.
pub fn host_copies(host: &Host, app: &App, search: &Search) -> Result<Definitions> {
    let mut copies = Definitions::default();
    for (source, file) in &search.host_copies {
        let Some(copy) = takeover::task_definitions(host, app, *file) else {
            continue;
        };
        if let Some(file) = read_host_copy(&copy)? {
            copies.insert(*source, file);
        }
    }
    Ok(copies)
}

/// Takes over again the host files Dokku wrote anew since the plugin took them
/// ([`takeover::take_over_rewritten`]). Returns the sources whose rewritten file Dokku's app-json
/// read in this trigger, and so has just run the tasks of it that it runs, with the files'
/// names. A source read from another path in the image (the `appjson-path` setting) counts too:
/// its tasks are the same phase's, which Dokku has just run from its own copy.
pub fn take_over_rewritten(
    host: &Host,
    app: &App,
    replaces: bool,
) -> Result<Vec<(Source, &'static str)>> {
    let files = takeover::take_over_rewritten(host, app, replaces)?;
    Ok(files
        .into_iter()
        .filter_map(|file| Some((sources::of_dokku_file(file)?, file.name)))
        .collect())
}

/// The definitions of `app`: the host's copies (from [`host_copies`]), completed with what the
/// image holds, but for a source whose file Dokku marked missing in the running deploy: Dokku
/// looked for it where the push or the image has it, found none and runs no task of it, and nor
/// does the plugin, whatever else the image holds.
pub fn definitions(
    host: &Host,
    app: &App,
    image: &mut ImageLookup,
    search: &Search,
    host_copies: Definitions,
) -> Result<Definitions> {
    let mut definitions = host_copies;
    let reference = image.reference().to_string();
    let image = image.get()?;
    let cache = host.data_dir(app).join("definitions");
    let key = format!(
        "{}-{}",
        image.id.trim_start_matches("sha256:"),
        search.fingerprint()
    );
    let in_image = match read_cache(&cache, &key) {
        Some(found) => found,
        None => {
            let found = extract(host, app, image, &reference, search)
                .with_context(|| format!("reading the task definitions from {reference}"))?;
            // The cache only saves time: a failure to write it must not fail the deploy.
            let _ = write_cache(&host.ownership(), &cache, &key, &found);
            found
        }
    };
    let none_says_dokku = |source: Source| {
        search
            .host_copies
            .iter()
            .any(|(copied, file)| *copied == source && takeover::marked_missing(host, app, *file))
    };
    for (source, file) in in_image.iter() {
        if definitions.get(source).is_none() && !none_says_dokku(source) {
            definitions.insert(source, file.clone());
        }
    }
    Ok(definitions)
}

/// The host's copy at `path`, bounded as every definition file is ([`bounded_read::host_file`]).
fn read_host_copy(path: &Path) -> Result<Option<DefinitionFile>> {
    Ok(
        bounded_read::host_file(path, MAX_BYTES)?.map(|bytes| DefinitionFile {
            origin: path.display().to_string(),
            path_in_image: None,
            bytes,
        }),
    )
}

/// Copies the definition files out of a created, never started, container of the image.
fn extract(
    host: &Host,
    app: &App,
    image: &Image,
    reference: &str,
    search: &Search,
) -> Result<Definitions> {
    let docker = &host.docker;
    let run_id = run_id();
    let name = format!("{}.discover.{run_id}", app.name());
    let mut in_flight = InFlight::open(host, app, &run_id)?;
    // Guarded before it exists: a create cut short by a signal may still have made it.
    let _container = in_flight.guard(docker, &name)?;
    docker.create(&ContainerSpec {
        name: name.clone(),
        image: image.id.clone(),
        entrypoint: None,
        // Never run; it only satisfies images that have neither ENTRYPOINT nor CMD.
        cmd: vec!["true".into()],
        labels: vec![("com.dokku.app-name".into(), app.name().into())],
        mounts: Vec::new(),
        stdin: Vec::new(),
        cli_options: Vec::new(),
        timeout: None,
    })?;
    let mut directories = Vec::new();
    if !image.working_dir.is_empty() {
        directories.push(image.working_dir.trim_end_matches('/').to_string());
    }
    if !directories.iter().any(|dir| dir == "/app") {
        directories.push("/app".to_string());
    }
    let mut found = Definitions::default();
    for (source, candidates) in &search.paths {
        'search: for directory in &directories {
            for relative in candidates {
                let inside = format!("{directory}/{relative}");
                let origin = format!("{inside} in {reference}");
                let bytes = read_in_container(&inside, &origin, |path| {
                    docker.read_entry(&name, path, MAX_BYTES)
                })?;
                if let Some(bytes) = bytes {
                    found.insert(
                        *source,
                        DefinitionFile {
                            origin,
                            path_in_image: Some(inside),
                            bytes,
                        },
                    );
                    break 'search;
                }
            }
        }
    }
    Ok(found)
}

/// How many symbolic links a path may go through, as Linux allows (`MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// A definition file in a container, at most [`MAX_BYTES`] + 1 bytes of it, following symbolic
/// links here, as `docker cp -L` would, on every backend; `None` when nothing is at `path`. `entry` gives the first
/// archive entry of a path in the container (`None`: no such path); `origin` names the file
/// in errors. Anything but a regular file, after links, is an error, not an absent file.
fn read_in_container(
    path: &str,
    origin: &str,
    mut entry: impl FnMut(&str) -> Result<Option<Found>>,
) -> Result<Option<Vec<u8>>> {
    let mut current = path.to_string();
    for _ in 0..=MAX_LINKS {
        match entry(&current)? {
            None => return Ok(None),
            Some(Found::File(bytes)) => return Ok(Some(bytes)),
            Some(Found::Other(kind)) => {
                let through = if current == path {
                    String::new()
                } else {
                    format!(" (through a symbolic link to {current})")
                };
                bail!(
                    "{origin} is {kind}{through}, not a file: make it a regular file in the \
                     image, or remove it"
                )
            }
            Some(Found::Link(target)) => current = link_target(&current, &target),
        }
    }
    bail!("{origin}: more than {MAX_LINKS} symbolic links: point it at the file itself")
}

/// Where a link at `link` pointing to `target` leads: an absolute target as it is, a
/// relative one from the link's directory.
fn link_target(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let directory = link
        .rsplit_once('/')
        .map(|(dir, _)| dir)
        .unwrap_or_default();
    format!("{directory}/{target}")
}

/// A cache entry is a directory named after the image ID and the search, holding the files
/// that were found and an `origins` index: `SOURCE<TAB>PATH IN IMAGE<TAB>ORIGIN` per line.
fn read_cache(cache: &Path, key: &str) -> Option<Definitions> {
    let entry = cache.join(key);
    // Read as the files themselves were: bounded, and never through a link.
    let read = |name: &str| bounded_read::host_file(&entry.join(name), MAX_BYTES).ok()?;
    let origins = String::from_utf8(read("origins")?).ok()?;
    let mut found = Definitions::default();
    for line in origins.lines() {
        let mut fields = line.splitn(3, '\t');
        let (name, path_in_image, origin) = (fields.next()?, fields.next()?, fields.next()?);
        let source = Source::from_name(name)?;
        found.insert(
            source,
            DefinitionFile {
                origin: origin.to_string(),
                path_in_image: Some(path_in_image.to_string()),
                bytes: read(name)?,
            },
        );
    }
    Some(found)
}

/// Writes an entry into a fresh directory renamed into place, so a reader never sees half of
/// one, then drops the oldest entries.
fn write_cache(ownership: &Ownership, cache: &Path, key: &str, found: &Definitions) -> Result<()> {
    ownership.create_dir_all(cache)?;
    let staging = tempfile::Builder::new().prefix(".new-").tempdir_in(cache)?;
    ownership.give(staging.path())?;
    let mut origins = String::new();
    for (source, file) in found.iter() {
        ownership.write(&staging.path().join(source.name()), &file.bytes)?;
        let clean = |text: &str| text.replace(['\n', '\t'], " ");
        origins.push_str(&format!(
            "{}\t{}\t{}\n",
            source.name(),
            clean(file.path_in_image.as_deref().unwrap_or_default()),
            clean(&file.origin)
        ));
    }
    ownership.write(&staging.path().join("origins"), origins)?;
    if std::fs::rename(staging.path(), cache.join(key)).is_ok() {
        // Renamed away: nothing left for the TempDir to delete.
        std::mem::forget(staging);
    }
    prune_cache(cache)
}

fn prune_cache(cache: &Path) -> Result<()> {
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(cache)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    entries.sort();
    let excess = entries.len().saturating_sub(CACHED_IMAGES);
    for (_, path) in entries.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_asks_every_source_and_names_the_cache_as_before() {
        let search = Search::new(&SourceOptions::default());
        assert_eq!(
            search.host_copies,
            [
                (Source::AppJson, crate::dokku::APP_JSON),
                (Source::Procfile, crate::dokku::PROCFILE)
            ]
        );
        let searched: Vec<Source> = search.paths.iter().map(|(source, _)| *source).collect();
        assert_eq!(searched, Source::ALL);
        // The key the definitions cache had before the sources owned their paths, so an
        // upgrade finds what the last deploy cached.
        assert_eq!(search.fingerprint(), "edae55f49e3f11ca");
        let mut moved = SourceOptions::default();
        moved.flux_orbit.project_path = Some("api".into());
        assert_ne!(Search::new(&moved).fingerprint(), search.fingerprint());
    }

    #[test]
    fn cache_round_trips_found_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut found = Definitions::default();
        found.insert(
            Source::AppJson,
            DefinitionFile {
                origin: "/app/app.json in dokku/a:latest".into(),
                path_in_image: Some("/app/app.json".into()),
                bytes: b"{\"scripts\":{}}".to_vec(),
            },
        );
        found.insert(
            Source::PreDeployScript,
            DefinitionFile {
                origin: "/app/api/pre-deploy.sh in dokku/a:latest".into(),
                path_in_image: Some("/app/api/pre-deploy.sh".into()),
                bytes: b"echo hi\n".to_vec(),
            },
        );
        write_cache(
            &Ownership::with_owner(dir.path(), None),
            dir.path(),
            "abc-1",
            &found,
        )
        .unwrap();
        assert_eq!(read_cache(dir.path(), "abc-1"), Some(found));
        assert_eq!(read_cache(dir.path(), "other-1"), None);
    }

    #[test]
    fn links_are_followed_from_their_directory_and_a_directory_is_an_error() {
        let tree = |path: &str| -> Result<Option<Found>> {
            Ok(match path {
                "/app/app.json" => Some(Found::Link("config/app.json".into())),
                "/app/config/app.json" => Some(Found::Link("/srv/app.json".into())),
                "/srv/app.json" => Some(Found::File(b"{}".to_vec())),
                "/app/Procfile" => Some(Found::Link("/".into())),
                "/" => Some(Found::Other("a directory")),
                "/app/loop" => Some(Found::Link("loop".into())),
                _ => None,
            })
        };
        assert_eq!(
            read_in_container("/app/app.json", "app.json", tree).unwrap(),
            Some(b"{}".to_vec())
        );
        assert_eq!(read_in_container("/app/none", "none", tree).unwrap(), None);
        let error = read_in_container("/app/Procfile", "/app/Procfile in i", tree)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "/app/Procfile in i is a directory (through a symbolic link to /), not a file: \
             make it a regular file in the image, or remove it"
        );
        let error = read_in_container("/app/loop", "loop", tree).unwrap_err();
        assert!(error.to_string().contains("symbolic links"), "{error}");
    }

    #[test]
    fn cache_keeps_only_the_newest_images() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..CACHED_IMAGES + 3 {
            write_cache(
                &Ownership::with_owner(dir.path(), None),
                dir.path(),
                &format!("{n}-1"),
                &Definitions::default(),
            )
            .unwrap();
        }
        let left = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(left, CACHED_IMAGES);
    }
}
