//! End to end, as users trigger a deploy: `git push` to the app's bare repository on the
//! stand-in host (`tests/host/git-receive`), whose pre-receive hook runs the host's deploy flow
//! (`tests/host/deploy`), so that what the pusher sees is git's `remote: ` relay of it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::*;

/// The app's bare repository on the host, made as Dokku makes it, with the deploying hook.
fn receiving_repository(host: &TestHost) -> PathBuf {
    let output = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host/git-receive"))
        .args(["init", &host.app])
        .env("PLUGIN_ENABLED_PATH", plugin_path())
        .env("DOKKU_ROOT", host.dokku_root())
        .env("DOKKU_LIB_ROOT", host.lib_root())
        .env("DOCKER_BIN", docker_bin())
        .stdin(Stdio::null())
        .output()
        .expect("running tests/host/git-receive init");
    let run = Run::from(output);
    run.expect_code(0);
    PathBuf::from(run.stdout.trim_end())
}

/// A developer's working copy of the app, with git isolated from the machine's configuration.
struct WorkingCopy {
    dir: tempfile::TempDir,
}

impl WorkingCopy {
    fn new() -> WorkingCopy {
        let copy = WorkingCopy {
            dir: tempfile::tempdir().expect("temporary directory"),
        };
        copy.git(&["init", "--quiet"]).expect_code(0);
        copy
    }

    fn git(&self, args: &[&str]) -> Run {
        Run::from(
            Command::new("git")
                .args(args)
                .current_dir(self.dir.path())
                .env_remove("GIT_DIR")
                .env_remove("GIT_WORK_TREE")
                .env_remove("GIT_INDEX_FILE")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_AUTHOR_NAME", "Deploy Tasks Test")
                .env("GIT_AUTHOR_EMAIL", "test@deploy-tasks.invalid")
                .env("GIT_COMMITTER_NAME", "Deploy Tasks Test")
                .env("GIT_COMMITTER_EMAIL", "test@deploy-tasks.invalid")
                .stdin(Stdio::null())
                .output()
                .expect("running git"),
        )
    }

    fn write(&self, relative: &str, content: &str) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Commits everything; returns the commit's ID.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]).expect_code(0);
        self.git(&["commit", "--quiet", "--message", message])
            .expect_code(0);
        self.git(&["rev-parse", "HEAD"]).stdout.trim().to_string()
    }

    /// `git push REMOTE HEAD:master`, over the local filesystem.
    fn push(&self, remote: &Path) -> Run {
        self.git(&["push", remote.to_str().unwrap(), "HEAD:refs/heads/master"])
    }
}

/// What the web process serves at `path`, asked from inside its own container (the containers
/// have loopback only).
fn served(container: &str, path: &str) -> Output {
    docker_output(&[
        "exec",
        container,
        "wget",
        "-qO-",
        &format!("http://127.0.0.1:5000{path}"),
    ])
}

fn body(output: &Output) -> Option<String> {
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string()
    })
}

/// Panics unless every text appears in `stderr`, in this order.
fn in_order(run: &Run, texts: &[&str]) {
    let mut from = 0;
    for text in texts {
        match run.stderr[from..].find(text) {
            Some(at) => from += at + text.len(),
            None => panic!("{text:?} missing, or out of order; {run:#?}"),
        }
    }
}

#[test]
fn given_an_app_in_git_when_it_is_pushed_then_the_push_deploys_it_and_a_push_that_breaks_the_predeploy_is_rejected_while_the_first_deploy_keeps_serving(
) {
    let host = TestHost::new("git-push");
    let remote = receiving_repository(&host);
    let app = host.app.clone();
    let copy = WorkingCopy::new();
    copy.write("Dockerfile", &busybox_app("COPY . /app/"));
    copy.write("public/index.html", "version one\n");
    copy.write(
        "Procfile",
        "release: echo \"releasing $(cat /app/public/index.html)\"\n\
         web: httpd -f -p 127.0.0.1:5000 -h /app/public\n",
    );
    copy.write(
        "app.json",
        r#"{"scripts": {"dokku": {
            "predeploy": "echo \"built $(cat /app/public/index.html)\" | tee /app/public/built.txt",
            "postdeploy": "echo \"warming caches for $APP\""
        }}}"#,
    );
    let first = copy.commit("first version");

    let push = copy.push(&remote);

    push.expect_code(0);
    in_order(
        &push,
        &[
            // Dokku's app-json finds none: the plugin took them over.
            "remote: -----> Checking for predeploy task",
            "remote:        No predeploy task found, skipping",
            "remote: -----> Running the predeploy task with deploy-tasks",
            "remote:        Executing predeploy task from app.json: echo \"built",
            "remote:        built version one",
            &format!("remote:        Committed the predeploy result into dokku/{app}:latest"),
            "remote: -----> Checking for release task",
            "remote:        No release task found, skipping",
            "remote: -----> Running the release task with deploy-tasks",
            "remote:        Executing release task from Procfile: echo \"releasing",
            "remote:        releasing version one",
            "remote: -----> Deploying web",
            "remote: -----> Checking for postdeploy task",
            "remote:        No postdeploy task found, skipping",
            "remote: -----> Running the postdeploy task with deploy-tasks",
            "remote:        Executing postdeploy task from app.json: echo \"warming caches",
            &format!("remote:        warming caches for {app}"),
            "[new branch]      HEAD -> master",
        ],
    );
    let web = format!("{app}.web.1");
    let container = docker(&["inspect", "--format", "{{.Id}}", &web]);
    let deployed_image = image_id(&host.image());
    assert_eq!(
        docker(&["inspect", "--format", "{{.Image}}", &web]),
        deployed_image
    );
    assert!(
        eventually(Duration::from_secs(10), || {
            body(&served(&web, "/")).as_deref() == Some("version one")
        }),
        "{web} does not serve the first version: {:?}",
        served(&web, "/")
    );
    assert_eq!(
        body(&served(&web, "/built.txt")).as_deref(),
        Some("built version one"),
        "the web container lacks the predeploy's result"
    );

    copy.write("public/index.html", "version two\n");
    copy.write(
        "app.json",
        r#"{"scripts": {"dokku": {"predeploy": "echo \"checking $(cat /app/public/index.html)\"; exit 1"}}}"#,
    );
    copy.commit("second version, whose predeploy fails");

    let push = copy.push(&remote);

    assert!(
        push.code.is_some_and(|code| code != 0),
        "the push succeeded; {push:#?}"
    );
    in_order(
        &push,
        &[
            "remote: -----> Checking for predeploy task",
            "remote:        checking version two",
            "remote:  !     predeploy task from app.json failed with exit code 1; the image was not changed",
            "remote:  !     deploy of",
            "failed (exit 1): push rejected, master not moved",
            "[remote rejected] HEAD -> master (pre-receive hook declined)",
        ],
    );
    assert!(
        !push.stderr.contains("Checking for release task"),
        "{push:#?}"
    );
    assert_eq!(docker(&["inspect", "--format", "{{.Id}}", &web]), container);
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.Running}}", &web]),
        "true"
    );
    assert_eq!(
        docker(&["inspect", "--format", "{{.Image}}", &web]),
        deployed_image
    );
    assert_eq!(body(&served(&web, "/")).as_deref(), Some("version one"));
    assert!(
        host.task_containers().is_empty(),
        "{:?}",
        host.task_containers()
    );
    let master = copy.git(&["ls-remote", remote.to_str().unwrap(), "refs/heads/master"]);
    assert_eq!(
        master.stdout.split_whitespace().next(),
        Some(first.as_str()),
        "the rejected push moved master; {master:#?}"
    );

    // The failed push's build moved the tag; the first deploy's image is now only the web
    // container's. It is this test's own (a commit), so removing it by ID is safe.
    drop(host);
    let _ = docker_output(&["rmi", &deployed_image]);
}
