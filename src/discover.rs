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
use crate::container::{run_id, ContainerGuard};
use crate::docker::{Docker, Image};
use crate::dokku;
use crate::engine::Engine;
use crate::host::Host;
use crate::in_flight::InFlight;
use crate::ownership::Ownership;
use crate::settings::Settings;
use crate::sources::{flux_orbit, DefinitionFile, Definitions, Source};
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

    /// The image, inspected once.
    pub fn get(&mut self) -> Result<&Image> {
        if self.image.is_none() {
            let image = self.docker.image(&self.reference)?.with_context(|| {
                format!(
                    "there is no image {}: build the app first, or pass the tag it was built with",
                    self.reference
                )
            })?;
            self.image = Some(image);
        }
        // The branch above filled it.
        Ok(self.image.as_ref().expect("image was just inspected"))
    }
}

/// Where to look for each source's file, as the app's settings and config say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// For each source, the paths to try relative to the app's root in the image, first found
    /// wins.
    paths: Vec<(Source, Vec<String>)>,
    /// The sources whose host-extracted copy counts: app.json and the Procfile, unless the
    /// admin named another path for them (the host extracts the file at its own path).
    host_copies: Vec<Source>,
}

impl Search {
    /// The search for an app: `appjson-path` and `procfile-path` replace the default names;
    /// Flux-Orbit's scripts are looked for in `PROJECT_PATH` first.
    pub fn new(settings: &Settings, flux_orbit: &flux_orbit::Options) -> Search {
        let mut paths = Vec::new();
        let mut host_copies = Vec::new();
        for source in Source::ALL {
            let named = match source {
                Source::AppJson => settings.get("appjson-path"),
                Source::Procfile => settings.get("procfile-path"),
                _ => None,
            };
            let candidates = match (source, named) {
                (_, Some(path)) => vec![path.trim_start_matches("./").to_string()],
                (Source::PreDeployScript | Source::PostDeployScript, None) => {
                    flux_orbit::candidates(source, flux_orbit)
                }
                (Source::AppJson | Source::Procfile, None) => {
                    host_copies.push(source);
                    vec![source.name().to_string()]
                }
                (_, None) => vec![source.name().to_string()],
            };
            paths.push((source, candidates));
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

/// The host's extracted copies of app.json and the Procfile, where the search lets them count:
/// the running deploy's own copies while they exist (Dokku's `NAME.$DOKKU_PID`, none where it
/// marked the file missing), the originals where the plugin took them over.
pub fn host_copies(host: &Host, app: &App, search: &Search) -> Result<Definitions> {
    let mut copies = Definitions::default();
    for source in &search.host_copies {
        let file = match source {
            Source::AppJson => dokku::APP_JSON,
            _ => dokku::PROCFILE,
        };
        let Some(copy) = takeover::task_definitions(host, app, file) else {
            continue;
        };
        if let Some(file) = read_host_copy(&copy)? {
            copies.insert(*source, file);
        }
    }
    Ok(copies)
}

/// The definitions of `app`: the host's copies (from [`host_copies`]), completed with what the
/// image holds.
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
    for (source, file) in in_image.iter() {
        if definitions.get(source).is_none() {
            definitions.insert(source, file.clone());
        }
    }
    Ok(definitions)
}

fn read_host_copy(path: &Path) -> Result<Option<DefinitionFile>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(DefinitionFile {
            origin: path.display().to_string(),
            path_in_image: None,
            bytes,
        })),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
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
    let label = format!("com.dokku.app-name={}", app.name());
    let mut in_flight = InFlight::open(host, app, &run_id)?;
    in_flight.note(&name)?;
    // The command is never run; it only satisfies images that have neither ENTRYPOINT nor CMD.
    // Guarded before it exists: a create cut short by a signal may still have made it.
    let _container = ContainerGuard::new(docker.clone(), name.clone());
    match docker.engine() {
        Some(engine) => {
            let create = serde_json::json!({
                "Image": image.id,
                "Cmd": ["true"],
                "Labels": {"com.dokku.app-name": app.name()},
            });
            let created = engine.request(
                "POST",
                &format!("/containers/create?name={name}"),
                Some(&create),
            )?;
            if created.status != 201 {
                bail!("creating {name}: {}", created.message());
            }
        }
        None => {
            docker.query([
                "create", "--name", &name, "--label", &label, &image.id, "true",
            ])?;
        }
    }
    let scratch = tempfile::tempdir().context("creating a temporary directory")?;
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
                let destination = scratch.path().join(source.name());
                let bytes = match docker.engine() {
                    Some(engine) => read_through_engine(engine, &name, &inside)?,
                    None if copy_out(docker, &name, &inside, &destination)? => Some(
                        std::fs::read(&destination)
                            .with_context(|| format!("reading {inside} copied from {reference}"))?,
                    ),
                    None => None,
                };
                if let Some(bytes) = bytes {
                    found.insert(
                        *source,
                        DefinitionFile {
                            origin: format!("{inside} in {reference}"),
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

/// The largest definition file worth reading: one byte over the parsers' limit, so they still
/// say the file is too large.
const READ_LIMIT: usize = 1024 * 1024 + 1;

/// A regular file from a container through the archive API, following symbolic links as
/// `docker cp -L` does; `None` when there is no such file.
fn read_through_engine(engine: &Engine, container: &str, path: &str) -> Result<Option<Vec<u8>>> {
    let mut path = path.to_string();
    for _ in 0..8 {
        let response = engine.request(
            "GET",
            &format!("/containers/{container}/archive?path={}", url_encode(&path)),
            None,
        )?;
        match response.status {
            200 => {}
            404 => return Ok(None),
            _ => bail!("reading {path} from {container}: {}", response.message()),
        }
        match first_tar_entry(&response.body) {
            Some(TarEntry::File(bytes)) => {
                return Ok(Some(bytes[..bytes.len().min(READ_LIMIT)].to_vec()))
            }
            Some(TarEntry::Link(target)) if target.starts_with('/') => path = target,
            Some(TarEntry::Link(target)) => {
                let directory = path
                    .rsplit_once('/')
                    .map(|(dir, _)| dir)
                    .unwrap_or_default();
                path = format!("{directory}/{target}");
            }
            Some(TarEntry::Other) | None => return Ok(None),
        }
    }
    bail!("{path} in {container}: too many levels of symbolic links")
}

enum TarEntry<'a> {
    File(&'a [u8]),
    Link(String),
    Other,
}

/// The first entry of a tar archive (ustar headers, as the engine writes them).
fn first_tar_entry(archive: &[u8]) -> Option<TarEntry<'_>> {
    let header = archive.get(..512)?;
    let field = |range: std::ops::Range<usize>| {
        let bytes = &header[range];
        let end = bytes
            .iter()
            .position(|byte| *byte == 0)
            .unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).trim().to_string()
    };
    let size = usize::from_str_radix(&field(124..136), 8).ok()?;
    match header[156] {
        b'0' | 0 => archive.get(512..512 + size).map(TarEntry::File),
        b'2' => Some(TarEntry::Link(field(157..257))),
        _ => Some(TarEntry::Other),
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'_' | b'-' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// `docker cp -L`; false when the image has no such file.
fn copy_out(docker: &Docker, container: &str, inside: &str, destination: &Path) -> Result<bool> {
    let source = format!("{container}:{inside}");
    match docker.query([
        "cp".as_ref(),
        "--follow-link".as_ref(),
        source.as_str().as_ref(),
        destination.as_os_str(),
    ]) {
        Ok(_) => Ok(destination.is_file()),
        Err(error) => {
            let text = error.to_string();
            // Docker 20.10 says "No such container:path", later ones "Could not find the file",
            // Podman "no such file or directory".
            let absent = [
                "No such container:path",
                "Could not find the file",
                "no such file or directory",
            ];
            if absent.iter().any(|said| text.contains(said)) {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

/// A cache entry is a directory named after the image ID and the search, holding the files
/// that were found and an `origins` index: `SOURCE<TAB>PATH IN IMAGE<TAB>ORIGIN` per line.
fn read_cache(cache: &Path, key: &str) -> Option<Definitions> {
    let entry = cache.join(key);
    let origins = std::fs::read_to_string(entry.join("origins")).ok()?;
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
                bytes: std::fs::read(entry.join(name)).ok()?,
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

    fn tar_header(name: &str, size: usize, kind: u8, link: &str) -> Vec<u8> {
        let mut header = vec![0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        let size = format!("{size:011o}");
        header[124..124 + size.len()].copy_from_slice(size.as_bytes());
        header[156] = kind;
        header[157..157 + link.len()].copy_from_slice(link.as_bytes());
        header
    }

    #[test]
    fn reads_the_first_file_or_link_of_an_archive() {
        let mut archive = tar_header("app.json", 2, b'0', "");
        archive.extend(b"{}");
        archive.extend(vec![0u8; 510]);
        assert!(matches!(
            first_tar_entry(&archive),
            Some(TarEntry::File(b"{}"))
        ));
        let link = tar_header("app.json", 0, b'2', "config/app.json");
        assert!(
            matches!(first_tar_entry(&link), Some(TarEntry::Link(target)) if target == "config/app.json")
        );
        let directory = tar_header("app.json", 0, b'5', "");
        assert!(matches!(first_tar_entry(&directory), Some(TarEntry::Other)));
        assert!(first_tar_entry(b"short").is_none());
        assert_eq!(url_encode("/app/my file.json"), "/app/my%20file.json");
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
