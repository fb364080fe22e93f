//! A stand-in Dokku host for the integration tests: a real Docker engine (started by
//! `tests/setup.sh`), the plugin installed with `install.sh` into a plugin path of the tests' own,
//! and one temporary `DOKKU_ROOT`/`DOKKU_LIB_ROOT` and unique app name per test.
#![allow(dead_code)]

mod interposer;
#[allow(unused_imports)]
pub use interposer::{Call, Interposer};

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The offline base images `tests/setup.sh` builds.
pub const BUSYBOX: &str = "deploy-tasks-test/busybox:latest";
pub const BASH: &str = "deploy-tasks-test/bash:latest";

/// The Docker CLI the tests and the plugin use: Debian's when present.
pub fn docker_bin() -> &'static str {
    if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    }
}

/// Runs a docker command and returns its stdout; panics with its stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new(docker_bin())
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("running docker");
    assert!(
        output.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

/// Like [`docker`], but returns the whole output whatever the status.
pub fn docker_output(args: &[&str]) -> Output {
    Command::new(docker_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running docker")
}

/// The plugin installed once per test binary with `install.sh`, as an operator would, into a
/// plugin path of the binary's own: two `cargo test` processes run at once never swap a tree the
/// other's tasks mount their helper from.
pub fn plugin_path() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let engine = docker_output(&["info", "--format", "{{.ServerVersion}}"]);
        assert!(
            engine.status.success(),
            "no Docker engine answers: run `bash tests/setup.sh` first ({})",
            String::from_utf8_lossy(&engine.stderr)
        );
        for image in [BUSYBOX, BASH] {
            assert!(
                docker_output(&["image", "inspect", image]).status.success(),
                "no base image {image}: run `bash tests/setup.sh` first"
            );
        }
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("plugins")
            .join(env!("CARGO_CRATE_NAME"));
        let status = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
            .env("PLUGIN_AVAILABLE_PATH", root.join("available"))
            .env("PLUGIN_ENABLED_PATH", root.join("enabled"))
            // Every phase trigger, for the scenarios that call them one by one; no host's apps.
            .env("DOKKU_DEPLOY_TASKS_TRIGGERS", "all")
            .env("DOKKU_LIB_ROOT", root.join("lib"))
            .status()
            .expect("running install.sh");
        assert!(status.success(), "install.sh failed");
        root.join("enabled")
    })
}

/// The plugin installed once per test binary as on a Dokku 0.38 host (the stand-in's models of
/// Dokku's core plugins tell `install.sh` so): Dokku's trigger set, for the stand-in's flows; a
/// plugin path of the binary's own too.
pub fn dokku_plugin_path() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        plugin_path();
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("dokku-plugins")
            .join(env!("CARGO_CRATE_NAME"));
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = Command::new("bash")
            .arg(manifest.join("install.sh"))
            .env("PLUGIN_AVAILABLE_PATH", root.join("available"))
            .env("PLUGIN_ENABLED_PATH", root.join("enabled"))
            .env(
                "PLUGIN_CORE_AVAILABLE_PATH",
                manifest.join("tests/host/core-plugins"),
            )
            .env_remove("DOKKU_DEPLOY_TASKS_TRIGGERS")
            .env("DOKKU_LIB_ROOT", root.join("lib"))
            .stdout(Stdio::null())
            .status()
            .expect("running install.sh");
        assert!(status.success(), "install.sh failed");
        assert!(
            root.join("available/deploy-tasks/pre-release-builder")
                .exists(),
            "install.sh did not see a Dokku 0.38 host in the stand-in"
        );
        root.join("enabled")
    })
}

/// How the plugin reaches the engine: the Engine API over the local socket (its default), or the
/// CLI for every call (`DOKKU_DEPLOY_TASKS_ENGINE_API=0`, as for Podman, remote hosts, contexts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    EngineApi,
    Cli,
}

/// Runs each scenario once per [`Backend`], as ripgrep runs each test once per backend: `fn
/// NAME(backend) { ... }` becomes a module `NAME` with the tests `engine_api` and `cli`.
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[$meta:meta])* fn $name:ident($backend:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                use super::*;

                fn scenario($backend: Backend) $body

                #[test]
                fn engine_api() {
                    scenario(Backend::EngineApi)
                }

                #[test]
                fn cli() {
                    scenario(Backend::Cli)
                }
            }
        )*
    };
}

/// One test's host: its own Dokku directories and a unique app.
pub struct TestHost {
    pub dir: tempfile::TempDir,
    pub app: String,
    /// How its triggers reach the engine.
    pub backend: Backend,
}

impl TestHost {
    /// A fresh host for an app named after the test.
    pub fn new(name: &str) -> TestHost {
        plugin_path();
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let app = format!(
            "it-{}-{}-{}",
            name.replace('_', "-"),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let host = TestHost {
            dir: tempfile::tempdir().expect("temporary directory"),
            app,
            backend: Backend::EngineApi,
        };
        std::fs::create_dir_all(host.dokku_root().join(&host.app)).unwrap();
        host
    }

    pub fn dokku_root(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn lib_root(&self) -> PathBuf {
        self.dir.path().join("lib")
    }

    /// `dokku/APP:latest`.
    pub fn image(&self) -> String {
        format!("dokku/{}:latest", self.app)
    }

    /// Builds `dokku/APP:TAG` from a Dockerfile and files (relative path, content).
    pub fn build_tagged(&self, tag: &str, dockerfile: &str, files: &[(&str, &str)]) -> String {
        let context = tempfile::tempdir().unwrap();
        std::fs::write(context.path().join("Dockerfile"), dockerfile).unwrap();
        for (path, content) in files {
            let path = context.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        let reference = format!("dokku/{}:{tag}", self.app);
        // Without the build cache: another test's `docker rmi` prunes the untagged parent images
        // a cached build would reuse, and that build then fails.
        docker(&[
            "build",
            "--no-cache",
            "--network=none",
            "-q",
            "-t",
            &reference,
            context.path().to_str().unwrap(),
        ]);
        image_id(&reference)
    }

    /// Builds `dokku/APP:latest`; returns its image ID.
    pub fn build(&self, dockerfile: &str, files: &[(&str, &str)]) -> String {
        self.build_tagged("latest", dockerfile, files)
    }

    /// Writes the host's extracted copy of app.json, as Dokku does on a deploy.
    pub fn host_app_json(&self, content: &str) {
        self.write_lib(&format!("data/app-json/{}/app.json", self.app), content);
    }

    /// Writes the host's extracted copy of the Procfile.
    pub fn host_procfile(&self, content: &str) {
        self.write_lib(&format!("data/ps/{}/Procfile", self.app), content);
    }

    /// Writes the app's config file (Dokku's ENV format).
    pub fn app_env(&self, content: &str) {
        self.write_lib(&format!("config/{}/ENV", self.app), content);
    }

    /// Sets config variables for the app as `dokku config:set` stores them (Dokku 0.38's ENV
    /// format, in `$DOKKU_LIB_ROOT/config/APP/ENV`).
    pub fn config_set(&self, vars: &[(&str, String)]) {
        config_write(
            &self.lib_root().join(format!("config/{}/ENV", self.app)),
            vars,
        );
    }

    /// Sets a plugin setting for the app, as `deploy-tasks:set` writes it.
    pub fn setting(&self, key: &str, value: &str) {
        self.write_lib(&format!("config/deploy-tasks/{}/{key}", self.app), value);
    }

    /// Writes a file under `DOKKU_LIB_ROOT`.
    pub fn write_lib(&self, relative: &str, content: &str) {
        let path = self.lib_root().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// A fresh host whose triggers reach the engine through `backend`.
    pub fn on(name: &str, backend: Backend) -> TestHost {
        let suffix = match backend {
            Backend::EngineApi => "api",
            Backend::Cli => "cli",
        };
        let mut host = TestHost::new(&format!("{name}-{suffix}"));
        host.backend = backend;
        host
    }

    /// The command that runs a trigger as the host would (`plugn trigger` runs
    /// `$PLUGIN_ENABLED_PATH/*/TRIGGER`).
    pub fn trigger_command(&self, trigger: &str, args: &[&str]) -> Command {
        self.trigger_command_in(&plugin_path().join("deploy-tasks"), trigger, args)
    }

    /// [`TestHost::trigger_command`] of the plugin tree at `plugin` (one `install.sh` built).
    pub fn trigger_command_in(&self, plugin: &Path, trigger: &str, args: &[&str]) -> Command {
        let mut command = Command::new(plugin.join(trigger));
        command
            .args(args)
            .env_remove("DOKKU_TRACE")
            .env_remove("DOKKU_QUIET_OUTPUT")
            .env_remove("DOKKU_GLOBAL_RUN_ARGS")
            .env("DOKKU_ROOT", self.dokku_root())
            .env("DOKKU_LIB_ROOT", self.lib_root())
            .env("DOCKER_BIN", docker_bin())
            .stdin(Stdio::null());
        if self.backend == Backend::Cli {
            command.env("DOKKU_DEPLOY_TASKS_ENGINE_API", "0");
        }
        command
    }

    /// Runs a trigger to completion.
    pub fn trigger(&self, trigger: &str, args: &[&str]) -> Run {
        Run::from(
            self.trigger_command(trigger, args)
                .output()
                .expect("running the trigger"),
        )
    }

    /// `pre-deploy APP`.
    pub fn predeploy(&self) -> Run {
        self.trigger("pre-deploy", &[&self.app])
    }

    /// `post-release APP`.
    pub fn release(&self) -> Run {
        self.trigger("post-release", &[&self.app])
    }

    /// `post-deploy APP 5000 127.0.0.1`.
    pub fn postdeploy(&self) -> Run {
        self.trigger("post-deploy", &[&self.app, "5000", "127.0.0.1"])
    }

    /// Starts a trigger with its output piped, for tests that act while it runs.
    pub fn spawn(&self, trigger: &str, args: &[&str]) -> Child {
        self.trigger_command(trigger, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the trigger")
    }

    /// Every container of this app, running or not, by name.
    pub fn containers(&self) -> Vec<String> {
        let filter = format!("name=^{}\\.", self.app.replace('.', "\\."));
        let names = docker(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
        names
            .lines()
            .map(str::to_string)
            .filter(|name| !name.is_empty())
            .collect()
    }

    /// The task containers of this app (named `APP.PHASE.RUNID`; not the app's own web ones).
    pub fn task_containers(&self) -> Vec<String> {
        self.containers()
            .into_iter()
            .filter(|name| !name.starts_with(&format!("{}.web.", self.app)))
            .collect()
    }

    /// Runs a command in a throwaway container of the app's image, returning its stdout.
    pub fn run_in_image(&self, command: &str) -> String {
        docker(&[
            "run",
            "--rm",
            "--network=none",
            "--entrypoint",
            "/bin/sh",
            &self.image(),
            "-c",
            command,
        ])
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        for name in self.containers() {
            let _ = docker_output(&["rm", "-f", "-v", &name]);
        }
        // By tag, never by ID: identical builds of other tests share an image ID.
        let images = docker_output(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            &format!("dokku/{}", self.app),
        ]);
        for reference in String::from_utf8_lossy(&images.stdout).lines() {
            let _ = docker_output(&["rmi", reference]);
        }
        // What the app's tags held and nothing else does any more: the images a stand-in
        // Dokku's commits left untagged, labelled with this app's unique name.
        let label = format!("label=com.dokku.app-name={}", self.app);
        let dangling = docker_output(&[
            "images",
            "--quiet",
            "--filter",
            "dangling=true",
            "--filter",
            &label,
        ]);
        for id in String::from_utf8_lossy(&dangling.stdout).lines() {
            let _ = docker_output(&["rmi", id]);
        }
        // Dokku's build cache, which its app-json (and the plugin) mount for herokuish images.
        let _ = docker_output(&["volume", "rm", &format!("cache-{}", self.app)]);
    }
}

/// A finished trigger run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with the whole output unless the trigger exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit status; {self:#?}");
        self
    }

    /// Panics unless stdout holds `text`.
    pub fn stdout_has(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}; {self:#?}"
        );
        self
    }

    /// Panics unless stderr holds `text`.
    pub fn stderr_has(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}; {self:#?}"
        );
        self
    }

    /// Panics unless stderr is exactly one line, without a panic or backtrace.
    pub fn one_line_error(&self) -> &Run {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected a one-line error; {self:#?}");
        assert!(
            lines[0].starts_with(" !     "),
            "error not in Dokku's form; {self:#?}"
        );
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        self
    }
}

/// Merges `vars` into the ENV file at `path` as Dokku 0.38 writes it, through the stand-in host's
/// `tests/host/config-write`.
pub fn config_write(path: &Path, vars: &[(&str, String)]) {
    let output =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host/config-write"))
            .arg(path)
            .args(vars.iter().map(|(key, value)| format!("{key}={value}")))
            .stdin(Stdio::null())
            .output()
            .expect("running tests/host/config-write");
    assert!(
        output.status.success(),
        "config-write failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The ID an image reference points at.
pub fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
}

/// One field of an image's config, as JSON (`Entrypoint`, `Cmd`, `Env`, ...).
pub fn image_config(reference: &str, field: &str) -> String {
    docker(&[
        "image",
        "inspect",
        "--format",
        &format!("{{{{json .Config.{field}}}}}"),
        reference,
    ])
}

/// Reads lines from a child's stdout until one contains `text`; returns the lines seen. Panics
/// when `limit` passes first, even if the child prints nothing at all (the pipe is polled, never
/// read blindly), or when the output ends.
pub fn wait_for_line<R: Read + std::os::fd::AsRawFd>(
    reader: &mut BufReader<R>,
    text: &str,
    limit: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut line = Vec::new();
    loop {
        if reader.buffer().is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pollfd = libc::pollfd {
                fd: reader.get_ref().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let ready = unsafe {
                libc::poll(
                    &mut pollfd,
                    1,
                    left.as_millis().min(i32::MAX as u128) as i32,
                )
            };
            if ready == 0 {
                panic!("never saw {text:?} within {limit:?}; saw {seen:?}");
            }
        }
        let available = reader.fill_buf().expect("reading the child's output");
        if available.is_empty() {
            panic!("the output ended without {text:?}; saw {seen:?}");
        }
        let (taken, complete) = match available.iter().position(|byte| *byte == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if complete {
            let text_line = String::from_utf8_lossy(&line).into_owned();
            line.clear();
            let found = text_line.contains(text);
            seen.push(text_line);
            if found {
                return seen;
            }
        }
    }
}

/// Waits for a child and collects the rest of its output.
pub fn finish(mut child: Child, stdout: Option<BufReader<std::process::ChildStdout>>) -> Run {
    let mut out = String::new();
    if let Some(mut reader) = stdout {
        let _ = reader.read_to_string(&mut out);
    } else if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_string(&mut out);
    }
    let mut err = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut err);
    }
    let status = child.wait().expect("waiting for the trigger");
    Run {
        code: status.code(),
        stdout: out,
        stderr: err,
    }
}

/// Polls until `check` holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

/// A Dockerfile on the busybox base with the app in /app.
pub fn busybox_app(extra: &str) -> String {
    format!("FROM {BUSYBOX}\nWORKDIR /app\n{extra}\n")
}

/// The engine's clock now, as `docker events --since/--until` read it (seconds, fractional).
pub fn engine_time() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

impl TestHost {
    /// Every container of this app (by Dokku's app label) the engine created since `since`
    /// (from [`engine_time`]), including ones already removed: proof that none was created.
    pub fn containers_created_since(&self, since: &str) -> Vec<String> {
        let label = format!("label=com.dokku.app-name={}", self.app);
        let names = docker(&[
            "events",
            "--since",
            since,
            "--until",
            &engine_time(),
            "--filter",
            "type=container",
            "--filter",
            "event=create",
            "--filter",
            &label,
            "--format",
            "{{.Actor.Attributes.name}}",
        ]);
        names
            .lines()
            .map(str::to_string)
            .filter(|name| !name.is_empty())
            .collect()
    }
}

impl TestHost {
    /// Builds `dokku/APP:latest` on busybox with an image ID no other test shares (a label names
    /// the app), so that removing it by ID when this test ends never untags another test's image.
    pub fn build_own(&self, extra: &str) -> String {
        let extra = format!("LABEL deploy-tasks-test.app={}\n{extra}", self.app);
        self.build(&busybox_app(&extra), &[])
    }
}

impl TestHost {
    /// The stand-in host's whole deploy of `source` (`tests/host/deploy`), with `web_scale` web
    /// containers, the plugin's triggers found in the enabled plugin path.
    pub fn deploy(&self, source: &Path, web_scale: u32) -> Run {
        Run::from(
            Command::new("bash")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host/deploy"))
                .arg(&self.app)
                .arg(source)
                .env("PLUGIN_ENABLED_PATH", dokku_plugin_path())
                .env_remove("PLUGIN_PATH")
                .env_remove("DOKKU_PID")
                .env("DOKKU_ROOT", self.dokku_root())
                .env("DOKKU_LIB_ROOT", self.lib_root())
                .env("DOCKER_BIN", docker_bin())
                .env("WEB_SCALE", web_scale.to_string())
                .env_remove("DOKKU_TRACE")
                .env_remove("DOKKU_QUIET_OUTPUT")
                .output()
                .expect("running the stand-in host's deploy"),
        )
    }

    /// The app's task history, oldest first, one JSON object per run.
    pub fn history(&self) -> Vec<serde_json::Value> {
        let path = self
            .lib_root()
            .join("data/deploy-tasks")
            .join(&self.app)
            .join("history.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a history line is JSON"))
            .collect()
    }
}

impl TestHost {
    /// The stand-in `dokku` (`tests/host/dokku`) with this host's directories and the plugins
    /// enabled in `enabled` (the models of Dokku's core plugins are linked in beside them).
    pub fn dokku_command(&self, enabled: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("python3");
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host/dokku"))
            .args(args)
            .env_remove("DOKKU_TRACE")
            .env_remove("DOKKU_QUIET_OUTPUT")
            .env_remove("DOKKU_PID")
            .env_remove("PLUGIN_PATH")
            .env_remove("PLUGIN_AVAILABLE_PATH")
            .env("PLUGIN_ENABLED_PATH", enabled)
            .env("DOKKU_ROOT", self.dokku_root())
            .env("DOKKU_LIB_ROOT", self.lib_root())
            .env("DOCKER_BIN", docker_bin())
            .stdin(Stdio::null());
        command
    }

    /// Runs the stand-in `dokku` with the plugin under test and the core-plugin models.
    pub fn dokku(&self, args: &[&str]) -> Run {
        Run::from(
            self.dokku_command(dokku_plugin_path(), args)
                .output()
                .expect("running tests/host/dokku"),
        )
    }
}

/// A shell command printing each variable between `<<` and `>>`, read from the task's environment
/// at run time (awk's `ENVIRON`), so that no `$VAR` is left for Dokku's expansion of Procfile
/// commands to replace before the shell runs.
pub fn print_each_without_expansion(vars: &[(&str, String)]) -> String {
    vars.iter()
        .map(|(key, _)| format!(r#"awk 'BEGIN {{ printf "<<%s>>\n", ENVIRON["{key}"] }}'"#))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sends `signal` to a running trigger.
pub fn send(child: &Child, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    let sent = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(sent, 0, "could not signal the trigger");
}

/// How long a test waits for anything before it fails: generous, as a loaded machine is slow,
/// and only reached when something hangs.
pub const BOUND: Duration = Duration::from_secs(10);

impl TestHost {
    /// Every image committed for this app (Dokku's app label, which only a commit gives the
    /// tests' images), intermediate ones too, by ID.
    pub fn committed_images(&self) -> Vec<String> {
        let label = format!("label=com.dokku.app-name={}", self.app);
        let ids = docker(&["images", "-a", "-q", "--no-trunc", "--filter", &label]);
        let mut ids: Vec<String> = ids.lines().map(str::to_string).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// Waits for a child that was told to end, at most [`BOUND`], and collects its output; kills it
/// and panics with what it said if it does not end.
pub fn finish_within(mut child: Child) -> Run {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let ended = eventually(BOUND, || child.try_wait().ok().flatten().is_some());
    if !ended {
        let _ = child.kill();
    }
    let status = child.wait().expect("waiting for the trigger");
    let run = Run {
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    assert!(ended, "the trigger did not end within {BOUND:?}; {run:#?}");
    run
}

/// A value that no image, file or command line holds by chance, different in every scenario.
pub fn marker() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!(
        "s3cr3t-{nanos:x}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}
