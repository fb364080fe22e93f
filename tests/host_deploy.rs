//! Scenarios through the stand-in host (`tests/host/deploy`): a whole deploy as a host runs it,
//! the plugin's triggers found through `plugn trigger` in the enabled plugin path.

mod support;

use std::path::Path;

use support::*;

#[test]
fn given_the_demo_app_when_the_host_deploys_it_then_every_phase_runs_in_order_and_the_web_container_has_the_predeploy_result(
) {
    let host = TestHost::new("host-demo");
    host.app_env("export DATABASE_URL='postgres://demo:s3cret@db/demo'\n");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/demo");

    let run = host.deploy(&source, 1);

    run.expect_code(0);
    let order = [
        "Executing predeploy task from app.json",
        &format!("compiling assets for {}", host.app),
        "Executing release task from Procfile",
        "migrating database postgres://***@db/demo (DATABASE_URL is set)",
        "-----> Deploying web",
        "Executing postdeploy task from app.json",
        &format!("warming caches for {}", host.app),
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|text| {
            run.stdout
                .find(text)
                .unwrap_or_else(|| panic!("{text:?} missing; {run:#?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "out of order; {run:#?}"
    );
    assert!(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"));
    let web = format!("{}.web.1", host.app);
    let built = docker(&["exec", &web, "cat", "/app/assets-built"]);
    assert!(!built.is_empty());
    assert!(
        host.task_containers().is_empty(),
        "{:?}",
        host.task_containers()
    );
}

#[test]
fn given_a_deployed_app_when_a_second_deploy_breaks_the_predeploy_then_it_fails_and_the_first_keeps_serving(
) {
    let host = TestHost::new("host-broken");
    let source = tempfile::tempdir().unwrap();
    let write =
        |name: &str, content: &str| std::fs::write(source.path().join(name), content).unwrap();
    write("Dockerfile", &busybox_app("COPY . /app/"));
    write("Procfile", "web: sleep 600\n");
    write(
        "app.json",
        r#"{"scripts": {"dokku": {"predeploy": "echo v1 > /app/version"}}}"#,
    );
    host.deploy(source.path(), 1).expect_code(0);
    let web = format!("{}.web.1", host.app);
    let first = docker(&["inspect", "--format", "{{.Id}}", &web]);

    write(
        "app.json",
        r#"{"scripts": {"dokku": {"predeploy": "echo v2 > /app/version; exit 7"}}}"#,
    );
    let run = host.deploy(source.path(), 1);

    run.expect_code(1)
        .stderr_has("predeploy task from app.json failed with exit code 7");
    assert_eq!(docker(&["inspect", "--format", "{{.Id}}", &web]), first);
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.Running}}", &web]),
        "true"
    );
    assert_eq!(docker(&["exec", &web, "cat", "/app/version"]), "v1");
    assert!(
        host.task_containers().is_empty(),
        "{:?}",
        host.task_containers()
    );
}
