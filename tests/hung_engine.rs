//! Scenarios: a Docker engine that accepts connections and never answers (a socket of the test's
//! own, on this machine). Every trigger must still stop: at each stop signal, with 128+N, and
//! without one, at `engine-timeout`, with a one-line error; each on the Engine API path and the
//! CLI's.

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

/// Starts `pre-deploy` of a fresh app of `host` against the hung engine at `socket`, and returns
/// once the trigger is waiting on it.
fn start_against(
    host: &TestHost,
    socket: &std::path::Path,
    gate: &mpsc::Receiver<()>,
) -> std::process::Child {
    host.build_own("");
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo never"}}}"#);
    let child = host
        .trigger_command("pre-deploy", &[&host.app])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the trigger");
    gate.recv_timeout(BOUND)
        .expect("the trigger never reached the engine");
    child
}

/// A trigger waiting on the hung engine gets `signal`: it stops with 128+N and one line.
fn signal_scenario(name: &str, signal: i32, backend: Backend) {
    let host = TestHost::on(name, backend);
    let (socket, gate) = hung_engine(host.dir.path());
    let child = start_against(&host, &socket, &gate);

    send(&child, signal);

    let run = finish_within(child);
    run.expect_code(128 + signal).one_line_error();
    assert!(run.stderr.contains("stopped by"), "{run:#?}");
}

on_both_backends! {
    fn given_a_hung_engine_when_sigint_arrives_then_the_trigger_stops_with_130(backend) {
        signal_scenario("hung-sigint", libc::SIGINT, backend);
    }

    fn given_a_hung_engine_when_sigterm_arrives_then_the_trigger_stops_with_143(backend) {
        signal_scenario("hung-sigterm", libc::SIGTERM, backend);
    }

    fn given_a_hung_engine_when_sighup_arrives_then_the_trigger_stops_with_129(backend) {
        signal_scenario("hung-sighup", libc::SIGHUP, backend);
    }

    fn given_a_hung_engine_when_sigquit_arrives_then_the_trigger_stops_with_131(backend) {
        signal_scenario("hung-sigquit", libc::SIGQUIT, backend);
    }

    fn given_a_hung_engine_and_no_signal_then_the_trigger_gives_up_at_engine_timeout(backend) {
        let host = TestHost::on("hung-timeout", backend);
        host.write_lib("config/deploy-tasks/--global/engine-timeout", "1");
        let (socket, gate) = hung_engine(host.dir.path());
        let child = start_against(&host, &socket, &gate);

        let run = finish_within(child);
        run.expect_code(1).one_line_error();
        assert!(run.stderr.contains("within 1s"), "{run:#?}");
        assert!(run.stderr.contains("engine-timeout"), "{run:#?}");
    }
}
