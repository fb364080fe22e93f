//! Scenarios: an operator installs the plugin (with `install.sh`, or with `dokku plugin:install
//! <git url>`, which clones the repository into the plugin path and runs its `install` trigger),
//! uninstalls it, and runs it as root on a host whose deploys run as another user.

mod support;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use support::*;

/// Builds through `install.sh` take turns: the checkout's build shares the target directory with
/// the others and replaces the binaries they copy.
static BUILDS: Mutex<()> = Mutex::new(());

/// What the tree installed by `install.sh` holds, besides `plugin.toml`.
const BUILT_FILES: [&str; 13] = [
    "pre-deploy",
    "post-release",
    "post-deploy",
    "dependencies",
    "commands",
    "subcommands/default",
    "subcommands/help",
    "subcommands/history",
    "subcommands/report",
    "subcommands/run",
    "subcommands/set",
    "libexec/deploy-tasks",
    "libexec/deploy-tasks-helper",
];

/// The target directory `plugin_path()` builds in: the checkout's builds reuse it.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory")
        .to_path_buf()
}

/// `bash install.sh ARGS` of this repository, with the host's paths.
fn install_sh(args: &[&str], available: &Path, enabled: &Path, lib_root: &Path) -> Run {
    plugin_path();
    let _turn = BUILDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Run::from(
        Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
            .args(args)
            .env("PLUGIN_AVAILABLE_PATH", available)
            .env("PLUGIN_ENABLED_PATH", enabled)
            .env("DOKKU_LIB_ROOT", lib_root)
            .stdin(Stdio::null())
            .output()
            .expect("running install.sh"),
    )
}

/// The `install` trigger of a checkout, as Dokku runs it, building in the shared target
/// directory; `path` replaces `PATH` when given.
fn install_trigger(checkout: &Path, path: Option<&str>) -> Run {
    let lib_root = checkout.parent().unwrap().join("lib");
    install_trigger_on(checkout, path, &lib_root)
}

/// [`install_trigger`] on a host whose `DOKKU_LIB_ROOT` is `lib_root`.
fn install_trigger_on(checkout: &Path, path: Option<&str>, lib_root: &Path) -> Run {
    plugin_path();
    let _turn = BUILDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut command = Command::new(checkout.join("install"));
    command
        .env("CARGO_TARGET_DIR", target_dir())
        .env("DOKKU_LIB_ROOT", lib_root)
        .env_remove("PLUGIN_CORE_AVAILABLE_PATH")
        .env_remove("PLUGIN_AVAILABLE_PATH")
        .env_remove("DOKKU_DEPLOY_TASKS_TRIGGERS")
        .env_remove("DOKKU_TRACE")
        .stdin(Stdio::null());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    Run::from(command.output().expect("running the install trigger"))
}

/// A clone of this repository at `dir`, as `dokku plugin:install <git url>` makes: the files git
/// tracks or would track, with their modification times, so that the build of an unchanged
/// checkout in the shared target directory is a no-op.
fn clone_into(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(manifest)
        .output()
        .expect("running git ls-files");
    assert!(listed.status.success(), "git ls-files failed");
    for name in listed.stdout.split(|byte| *byte == 0) {
        let name = std::str::from_utf8(name).expect("file names are UTF-8");
        let from = manifest.join(name);
        if name.is_empty() || !from.is_file() {
            continue;
        }
        let to = dir.join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
        let modified = std::fs::metadata(&from).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&to)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    }
    git(dir, &["init", "--quiet"]);
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running git");
    assert!(output.status.success(), "git {args:?} failed: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every path under `dir` (symbolic links not followed), with what identifies its content:
/// kind, mode, owner, and the bytes or the link's target.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        let what = if metadata.file_type().is_symlink() {
            format!("link to {}", std::fs::read_link(&path).unwrap().display())
        } else if metadata.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
            "directory".to_string()
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let mut hasher = DefaultHasher::new();
            bytes.hash(&mut hasher);
            format!("{} bytes hashing to {:x}", bytes.len(), hasher.finish())
        };
        let relative = path.strip_prefix(dir).unwrap().to_path_buf();
        found.insert(
            relative,
            format!(
                "{what} mode {:o} owner {}:{}",
                metadata.mode(),
                metadata.uid(),
                metadata.gid()
            ),
        );
    }
    found
}

fn owner_of(path: &Path) -> (u32, u32) {
    let metadata = std::fs::symlink_metadata(path).unwrap();
    (metadata.uid(), metadata.gid())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A directory of commands named `name` that answer as `script` (a shell script body) does.
fn stub_commands(dir: &Path, stubs: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, script) in stubs {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// A directory holding only links to the named commands of this machine: a `PATH` without cargo.
fn only_commands(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for name in names {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .expect("running sh");
        let target = String::from_utf8_lossy(&found.stdout).trim().to_string();
        assert!(!target.is_empty(), "no {name} on this machine");
        std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
    }
}

#[test]
fn given_a_clone_in_the_plugin_path_when_dokku_runs_its_install_trigger_then_the_tree_is_built_at_its_root(
) {
    let plugins = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-install");
    let checkout = plugins.join("available").join("deploy-tasks");
    clone_into(&checkout);
    let untracked_before = git(
        &checkout,
        &["status", "--porcelain", "--untracked-files=all"],
    );

    install_trigger(&checkout, None)
        .expect_code(0)
        .stdout_has("-----> Installed deploy-tasks in place");

    for file in BUILT_FILES {
        let mode = std::fs::metadata(checkout.join(file))
            .unwrap_or_else(|_| panic!("no {file} at the root of the checkout"))
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{file}");
    }
    // Generated, so ignored by git: the checkout's status is what it was.
    assert_eq!(
        git(
            &checkout,
            &["status", "--porcelain", "--untracked-files=all"]
        ),
        untracked_before
    );
    assert!(!std::fs::read_dir(&checkout).unwrap().any(|entry| entry
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".install.")));
    // The commands and a trigger run from there, as Dokku runs them.
    let help = Command::new(checkout.join("subcommands/help"))
        .arg("deploy-tasks:help")
        .output()
        .unwrap();
    assert!(help.status.success(), "{help:?}");
    assert!(String::from_utf8_lossy(&help.stdout).contains("deploy-tasks:set"));
    let dependencies = Command::new(checkout.join("dependencies"))
        .env("DOCKER_BIN", docker_bin())
        .output()
        .unwrap();
    assert!(dependencies.status.success(), "{dependencies:?}");

    // Dokku runs every plugin's install trigger again on each plugin:install and plugin:update.
    let installed = snapshot(&checkout);
    install_trigger(&checkout, None).expect_code(0);
    let again = snapshot(&checkout);
    for file in BUILT_FILES {
        let file = PathBuf::from(file);
        assert_eq!(installed[&file], again[&file], "{}", file.display());
    }

    // A build that fails changes none of the installed files.
    let stubs = plugins.join("failing-cargo");
    stub_commands(
        &stubs,
        &[(
            "cargo",
            "case \"$1\" in --version) echo 'cargo 1.95.0 (stub)' ;; \
             *) echo 'error: could not compile `deploy-tasks`' >&2; exit 101 ;; esac",
        )],
    );
    let path = format!(
        "{}:{}",
        stubs.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // And, the build installed before staying, the trigger succeeds: Dokku stops at the first
    // install trigger that fails, and the other plugins' would not run.
    install_trigger(&checkout, Some(&path))
        .expect_code(0)
        .stderr_has(" !     the build failed (above); nothing was changed; the build installed before stays, without this checkout's changes");
    assert_eq!(snapshot(&checkout), again);

    // install.sh --uninstall removes only what install.sh installed: not a checkout.
    let enabled = plugins.join("enabled");
    install_sh(
        &["--uninstall"],
        &plugins.join("available"),
        &enabled,
        &plugins.join("lib"),
    )
    .expect_code(1)
    .stderr_has("dokku plugin:uninstall deploy-tasks");
    assert_eq!(snapshot(&checkout), again);
}

#[test]
fn given_no_cargo_or_an_old_one_when_installing_then_it_says_which_rust_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("available").join("deploy-tasks");
    clone_into(&checkout);
    let rust_version = std::fs::read_to_string(checkout.join("Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = \"")?.strip_suffix('"'))
        .map(str::to_string)
        .expect("Cargo.toml names a rust-version");

    let bare = dir.path().join("bare");
    only_commands(
        &bare,
        &[
            "bash", "dirname", "readlink", "sed", "grep", "stat", "realpath", "awk", "sort", "head",
        ],
    );
    let run = Run::from(
        Command::new(checkout.join("install"))
            .env("PATH", &bare)
            .env("HOME", dir.path())
            .env_remove("CARGO_HOME")
            .output()
            .unwrap(),
    );
    run.expect_code(1).one_line_error().stderr_has(&format!(
        "cargo not found (deploy-tasks is built from source): install Rust {rust_version} or later with rustup"
    ));
    run.stderr_has("https://sh.rustup.rs")
        .stderr_has("then run `dokku plugin:install` again");

    let old = dir.path().join("old");
    stub_commands(&old, &[("cargo", "echo 'cargo 1.80.0 (stub)'")]);
    let run = Run::from(
        Command::new(checkout.join("install"))
            .env("PATH", format!("{}:{}", old.display(), bare.display()))
            .output()
            .unwrap(),
    );
    run.expect_code(1).one_line_error().stderr_has(&format!(
        "cargo 1.80.0 is older than Rust {rust_version}, which deploy-tasks needs: install Rust {rust_version} or later"
    ));
    for file in BUILT_FILES {
        assert!(!checkout.join(file).exists(), "{file} was installed");
    }
}

#[test]
fn given_other_plugins_and_data_when_uninstalled_then_only_the_installed_tree_and_link_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let available = dir.path().join("plugins").join("available");
    let enabled = dir.path().join("plugins").join("enabled");
    let lib_root = dir.path().join("lib");
    let other = available.join("other-plugin");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("plugin.toml"), "[plugin]\nversion = \"1\"\n").unwrap();
    stub_commands(&other, &[("post-deploy", "echo other")]);
    std::fs::write(available.join("operator-notes.txt"), "mine\n").unwrap();
    std::fs::create_dir_all(&enabled).unwrap();
    std::os::unix::fs::symlink(&other, enabled.join("other-plugin")).unwrap();
    std::fs::write(enabled.join("deploy-tasks.disabled"), "").unwrap();
    for (path, content) in [
        ("config/deploy-tasks/shop/timeout", "60"),
        ("config/deploy-tasks/--global/release-on-failure", "warn"),
        ("data/deploy-tasks/shop/history.jsonl", "{}\n"),
        ("data/deploy-tasks/shop/lock", ""),
        ("config/shop/ENV", "export A='1'\n"),
    ] {
        let path = lib_root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let before = (
        snapshot(&available),
        snapshot(&enabled),
        snapshot(&lib_root),
    );

    install_sh(&[], &available, &enabled, &lib_root).expect_code(0);
    assert!(available
        .join("deploy-tasks/libexec/deploy-tasks")
        .is_file());
    assert_eq!(
        std::fs::read_link(enabled.join("deploy-tasks")).unwrap(),
        available.join("deploy-tasks")
    );
    // What an install killed halfway leaves behind is the installer's too.
    std::fs::create_dir(available.join(".deploy-tasks.new.Ab12Cd")).unwrap();

    install_sh(&["--uninstall"], &available, &enabled, &lib_root)
        .expect_code(0)
        .stdout_has("-----> Uninstalled deploy-tasks")
        .stdout_has(&format!(
            "Kept its settings ({}/config/deploy-tasks) and records ({}/data/deploy-tasks)",
            lib_root.display(),
            lib_root.display()
        ));
    assert_eq!(
        (
            snapshot(&available),
            snapshot(&enabled),
            snapshot(&lib_root)
        ),
        before
    );

    // Uninstalling what is not installed is no error.
    install_sh(&["--uninstall"], &available, &enabled, &lib_root).expect_code(0);
}

#[test]
fn given_no_docker_cli_when_the_dependencies_trigger_runs_then_it_says_what_to_install() {
    let dependencies = plugin_path().join("deploy-tasks").join("dependencies");
    let missing = Run::from(
        Command::new(&dependencies)
            .env("DOCKER_BIN", "/nonexistent/docker")
            .env_remove("DOKKU_TRACE")
            .output()
            .unwrap(),
    );
    missing.expect_code(1).one_line_error().stderr_has(
        "no Docker CLI at '/nonexistent/docker': install Docker (apt-get install docker.io",
    );
    let present = Run::from(
        Command::new(&dependencies)
            .env("DOCKER_BIN", docker_bin())
            .env_remove("DOKKU_TRACE")
            .output()
            .unwrap(),
    );
    present.expect_code(0);
    assert_eq!(present.stderr, "");
}

/// The unprivileged user the lib root belongs to in the ownership scenarios; no such user needs
/// to exist.
const LIB_ROOT_OWNER: (u32, u32) = (12345, 12345);

/// Who the plugin gives what it creates to, as it decides (src/ownership.rs): the `dokku` user of
/// /etc/passwd where there is one (a Dokku host), else the lib root's owner.
fn deploy_user() -> (u32, u32) {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.first() == Some(&"dokku") && fields.len() > 3)
                    .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                    .flatten()
            })
        })
        .unwrap_or(LIB_ROOT_OWNER)
}

#[test]
fn given_a_lib_root_of_another_user_when_root_sets_and_deploys_then_what_the_plugin_creates_is_that_users(
) {
    if !is_root() {
        eprintln!("skipped: giving files to another user needs root (CI runs as root)");
        return;
    }
    let host = TestHost::new("own-lib-root");
    host.build_own("");
    // Dokku's own files: the host's copies of the definitions, the app's config.
    host.host_procfile("release: echo release ran\n");
    host.host_app_json(r#"{"scripts": {"postdeploy": "echo first deploy task ran"}}"#);
    host.app_env("export GREETING='hi'\n");
    // The deploy user walks to it, as on a Dokku host.
    std::fs::set_permissions(host.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(
        host.lib_root(),
        Some(LIB_ROOT_OWNER.0),
        Some(LIB_ROOT_OWNER.1),
    )
    .unwrap();
    let deploy_user = deploy_user();
    let before = snapshot(&host.lib_root());

    let set = |value: &str| {
        let mut command = Command::new(plugin_path().join("deploy-tasks/subcommands/set"));
        command
            .args(["deploy-tasks:set", &host.app, "timeout", value])
            .env_remove("DOKKU_QUIET_OUTPUT")
            .env("DOKKU_ROOT", host.dokku_root())
            .env("DOKKU_LIB_ROOT", host.lib_root())
            .stdin(Stdio::null());
        command
    };
    Run::from(set("60").output().unwrap()).expect_code(0);
    host.release().expect_code(0).stdout_has("release ran");
    host.postdeploy()
        .expect_code(0)
        .stdout_has("first deploy task ran");

    let after = snapshot(&host.lib_root());
    let created: Vec<&PathBuf> = after
        .keys()
        .filter(|path| !before.contains_key(*path))
        .collect();
    for expected in [
        "config/deploy-tasks",
        "config/deploy-tasks/APP",
        "config/deploy-tasks/APP/timeout",
        "data/deploy-tasks",
        "data/deploy-tasks/APP",
        "data/deploy-tasks/APP/history.jsonl",
        "data/deploy-tasks/APP/lock",
        "data/deploy-tasks/APP/definitions",
        "data/deploy-tasks/APP/heroku-postdeploy",
    ] {
        let expected = PathBuf::from(expected.replace("APP", &host.app));
        assert!(
            created.contains(&&expected),
            "{} not created: {created:?}",
            expected.display()
        );
    }
    for path in &created {
        assert_eq!(
            owner_of(&host.lib_root().join(path)),
            deploy_user,
            "{} is not the deploy user's",
            path.display()
        );
    }
    // What existed keeps its owner.
    for (path, what) in &before {
        assert_eq!(&after[path], what, "{} changed", path.display());
    }

    // And the deploy user (without root's groups: std drops them with the uid) can change what
    // root created.
    let as_deploy_user = set("90")
        .uid(deploy_user.0)
        .gid(deploy_user.1)
        .output()
        .unwrap();
    Run::from(as_deploy_user).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(
            host.lib_root()
                .join("config/deploy-tasks")
                .join(&host.app)
                .join("timeout")
        )
        .unwrap(),
        "90"
    );
}

#[test]
fn given_a_plugin_path_under_a_lib_root_of_another_user_when_root_installs_then_the_tree_is_that_users(
) {
    if !is_root() {
        eprintln!("skipped: giving files to another user needs root (CI runs as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lib_root = dir.path().join("lib");
    std::fs::create_dir(&lib_root).unwrap();
    std::os::unix::fs::chown(&lib_root, Some(LIB_ROOT_OWNER.0), Some(LIB_ROOT_OWNER.1)).unwrap();
    let plugins = lib_root.join("plugins");

    install_sh(
        &[],
        &plugins.join("available"),
        &plugins.join("enabled"),
        &lib_root,
    )
    .expect_code(0);

    let tree = snapshot(&plugins);
    assert!(tree.contains_key(Path::new(
        "available/deploy-tasks/libexec/deploy-tasks-helper"
    )));
    assert!(tree.contains_key(Path::new("enabled/deploy-tasks")));
    for path in tree.keys() {
        assert_eq!(
            owner_of(&plugins.join(path)),
            deploy_user(),
            "{} is not the deploy user's",
            path.display()
        );
    }
    assert_eq!(
        owner_of(dir.path()),
        (0, 0),
        "above the lib root is left alone"
    );
}

/// Every path under `dir` named `commands`, links followed, as `dokku help` finds them
/// (`find -L $PLUGIN_PATH/enabled -name commands`).
fn paths_named_commands(dir: &Path) -> Vec<PathBuf> {
    let found = Command::new("find")
        .args(["-L"])
        .arg(dir)
        .args(["-name", "commands"])
        .output()
        .expect("running find");
    String::from_utf8_lossy(&found.stdout)
        .lines()
        .map(PathBuf::from)
        .collect()
}

#[test]
fn given_a_dokku_0_38_host_with_a_deployed_app_when_plugin_install_runs_then_dokkus_triggers_and_only_its_entry_point_are_installed_and_the_app_is_taken_over(
) {
    let host_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-install-dokku");
    let _ = std::fs::remove_dir_all(&host_dir);
    let lib_root = host_dir.join("lib");
    // What tells a Dokku of 0.34 or later: its app-json answers pre-release-builder.
    let core_app_json = lib_root.join("core-plugins/available/app-json");
    std::fs::create_dir_all(&core_app_json).unwrap();
    std::fs::write(core_app_json.join("pre-release-builder"), "#!/bin/sh\n").unwrap();
    // An app deployed before the install, whose files Dokku's app-json would run tasks from.
    let app_json = lib_root.join("data/app-json/shop/app.json");
    let with_tasks = r#"{"formation": {"web": {"quantity": 1}},
        "scripts": {"dokku": {"predeploy": "make assets"}, "postdeploy": "make seed"}}"#;
    std::fs::create_dir_all(app_json.parent().unwrap()).unwrap();
    std::fs::write(&app_json, with_tasks).unwrap();
    let procfile = lib_root.join("data/ps/shop/Procfile");
    std::fs::create_dir_all(procfile.parent().unwrap()).unwrap();
    std::fs::write(&procfile, "web: ./serve\nrelease: ./migrate\n").unwrap();
    let checkout = host_dir.join("plugins/available/deploy-tasks");
    clone_into(&checkout);
    // An older install left the design's triggers at the root.
    std::fs::write(checkout.join("pre-deploy"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        checkout.join("pre-deploy"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();

    install_trigger_on(&checkout, None, &lib_root)
        .expect_code(0)
        .stdout_has("(dokku triggers)")
        .stdout_has("deploy-tasks took over shop's tasks in app.json and Procfile");

    for trigger in ["pre-release-builder", "post-release-builder", "post-deploy"] {
        let mode = std::fs::metadata(checkout.join(trigger))
            .unwrap_or_else(|_| panic!("no {trigger}"))
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{trigger} is not executable");
    }
    for trigger in ["pre-deploy", "post-release"] {
        assert!(
            !checkout.join(trigger).exists(),
            "{trigger} would make Dokku's registry plugin warn and run the predeploy again"
        );
    }
    assert_eq!(paths_named_commands(&checkout), [checkout.join("commands")]);
    // The build's own output, which a real install keeps in the checkout (not the tests' hosts).
    let tests_hosts = target_dir().join("tmp");
    let in_build: Vec<PathBuf> = paths_named_commands(&target_dir())
        .into_iter()
        .filter(|path| !path.starts_with(&tests_hosts))
        .collect();
    assert_eq!(in_build, Vec::<PathBuf>::new());
    let help = Command::new(checkout.join("commands"))
        .arg("help")
        .output()
        .unwrap();
    assert!(help.status.success(), "{help:?}");
    assert!(String::from_utf8_lossy(&help.stdout).contains("deploy-tasks, "));

    let stripped = std::fs::read_to_string(&app_json).unwrap();
    assert!(!stripped.contains("make assets") && !stripped.contains("make seed"));
    assert!(stripped.contains("quantity"), "{stripped}");
    assert_eq!(
        std::fs::read_to_string(&procfile).unwrap(),
        "web: ./serve\n"
    );
    let kept = lib_root.join("data/deploy-tasks/shop/dokku-files");
    assert_eq!(
        std::fs::read_to_string(kept.join("app.json")).unwrap(),
        with_tasks
    );

    // plugin:uninstall fires `uninstall deploy-tasks` for every plugin: the tasks go back.
    let uninstall = Command::new(checkout.join("uninstall"))
        .arg("deploy-tasks")
        .env("DOKKU_LIB_ROOT", &lib_root)
        .output()
        .unwrap();
    assert!(uninstall.status.success(), "{uninstall:?}");
    assert_eq!(std::fs::read_to_string(&app_json).unwrap(), with_tasks);
    assert_eq!(
        std::fs::read_to_string(&procfile).unwrap(),
        "web: ./serve\nrelease: ./migrate\n"
    );
    assert!(!kept.exists());
}

#[test]
fn given_a_plugin_installed_under_another_name_when_it_is_updated_and_uninstalled_then_it_rebuilds_and_gives_the_tasks_back(
) {
    let host_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-install-named");
    let _ = std::fs::remove_dir_all(&host_dir);
    let lib_root = host_dir.join("lib");
    let core_app_json = lib_root.join("core-plugins/available/app-json");
    std::fs::create_dir_all(&core_app_json).unwrap();
    std::fs::write(core_app_json.join("pre-release-builder"), "#!/bin/sh\n").unwrap();
    let procfile = lib_root.join("data/ps/shop/Procfile");
    std::fs::create_dir_all(procfile.parent().unwrap()).unwrap();
    std::fs::write(&procfile, "web: ./serve\nrelease: ./migrate\n").unwrap();
    // `dokku plugin:install file:///src/dokku-deploy-tasks` without --name: named after the URL.
    let checkout = host_dir.join("plugins/available/main");
    clone_into(&checkout);
    install_trigger_on(&checkout, None, &lib_root).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(&procfile).unwrap(),
        "web: ./serve\n"
    );

    // `dokku plugin:update` fires `update`, not `install`: the new sources are built too.
    let turn = BUILDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let update = Command::new(checkout.join("update"))
        .env("CARGO_TARGET_DIR", target_dir())
        .env("DOKKU_LIB_ROOT", &lib_root)
        .env_remove("DOKKU_DEPLOY_TASKS_TRIGGERS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(turn);
    assert!(update.status.success(), "{update:?}");
    assert!(String::from_utf8_lossy(&update.stdout).contains("Installed deploy-tasks in place"));

    let uninstall = |name: &str| {
        let run = Command::new(checkout.join("uninstall"))
            .arg(name)
            .env("DOKKU_LIB_ROOT", &lib_root)
            .output()
            .unwrap();
        assert!(run.status.success(), "{run:?}");
    };
    // Another plugin's uninstall changes nothing; this one's, under its own name, hands back.
    uninstall("deploy-tasks");
    assert_eq!(
        std::fs::read_to_string(&procfile).unwrap(),
        "web: ./serve\n"
    );
    uninstall("main");
    assert_eq!(
        std::fs::read_to_string(&procfile).unwrap(),
        "web: ./serve\nrelease: ./migrate\n"
    );
}
