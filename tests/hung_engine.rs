//! Scenarios: a Docker engine that accepts connections and never answers (a socket of the test's
//! own, on this machine). Every trigger must still stop: at a stop signal, with 128+N, and
//! without one, at `engine-timeout`, with a one-line error; on the Engine API path and the CLI's.

mod support;

use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Stdio;
use std::sync::mpsc;

use support::*;

/// A listening socket that accepts every connection and never answers; each accepted
/// connection is announced on the channel (the gate: the trigger is now waiting on it).
fn hung_engine(dir: &std::path::Path) -> (std::path::PathBuf, mpsc::Receiver<()>) {
    let socket = dir.join("docker.sock");
    let listener = UnixListener::bind(&socket).expect("binding the hung engine's socket");
    let (accepted, gate) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held: Vec<UnixStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            if accepted.send(()).is_err() {
                return;
            }
        }
    });
    (socket, gate)
}

fn start(host: &TestHost, socket: &std::path::Path, engine_api: bool) -> std::process::Child {
    host.build_own("");
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo never"}}}"#);
    let mut command = host.trigger_command("pre-deploy", &[&host.app]);
    command
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !engine_api {
        command.env("DOKKU_DEPLOY_TASKS_ENGINE_API", "0");
    }
    command.spawn().expect("starting the trigger")
}

fn signal_scenario(name: &str, signal: i32, engine_api: bool) {
    let host = TestHost::new(name);
    let (socket, gate) = hung_engine(host.dir.path());
    let child = start(&host, &socket, engine_api);
    gate.recv_timeout(BOUND)
        .expect("the trigger never reached the engine");

    send(&child, signal);

    let run = finish_within(child);
    run.expect_code(128 + signal).one_line_error();
    assert!(run.stderr.contains("stopped by"), "{run:#?}");
}

#[test]
fn given_a_hung_engine_when_sigint_arrives_then_the_trigger_stops_with_130() {
    signal_scenario("hung-sigint", libc::SIGINT, true);
}

#[test]
fn given_a_hung_engine_when_sigterm_arrives_then_the_trigger_stops_with_143() {
    signal_scenario("hung-sigterm", libc::SIGTERM, true);
}

#[test]
fn given_a_hung_engine_when_sighup_arrives_then_the_trigger_stops_with_129() {
    signal_scenario("hung-sighup", libc::SIGHUP, true);
}

#[test]
fn given_a_hung_engine_when_sigquit_arrives_then_the_trigger_stops_with_131() {
    signal_scenario("hung-sigquit", libc::SIGQUIT, true);
}

#[test]
fn given_a_hung_engine_behind_the_cli_when_sigterm_arrives_then_the_trigger_stops_with_143() {
    signal_scenario("hung-cli-sigterm", libc::SIGTERM, false);
}

#[test]
fn given_a_hung_engine_and_no_signal_then_the_trigger_gives_up_at_engine_timeout_on_either_path() {
    for engine_api in [true, false] {
        let host = TestHost::new("hung-timeout");
        host.write_lib("config/deploy-tasks/--global/engine-timeout", "1");
        let (socket, gate) = hung_engine(host.dir.path());

        let child = start(&host, &socket, engine_api);
        gate.recv_timeout(BOUND)
            .expect("the trigger never reached the engine");

        let run = finish_within(child);
        run.expect_code(1).one_line_error();
        assert!(run.stderr.contains("within 1s"), "{run:#?}");
        assert!(run.stderr.contains("engine-timeout"), "{run:#?}");
    }
}
