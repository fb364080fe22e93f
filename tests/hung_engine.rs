//! Scenarios: a Docker engine that accepts connections and never answers, or accepts no more (a socket of the test's
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

/// Starts `pre-deploy` of a fresh app of `host`, with a predeploy task, against the engine at
/// `socket`.
fn spawn_predeploy(host: &TestHost, socket: &std::path::Path) -> std::process::Child {
    host.build_own("");
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo never"}}}"#);
    host.trigger_command("pre-deploy", &[&host.app])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the trigger")
}

/// Starts `pre-deploy` of a fresh app of `host` against the hung engine at `socket`, and returns
/// once the trigger is waiting on it.
fn start_against(
    host: &TestHost,
    socket: &std::path::Path,
    gate: &mpsc::Receiver<()>,
) -> std::process::Child {
    let child = spawn_predeploy(host, socket);
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

/// A socket that accepts no more connections: listening with no room in its queue, which holds
/// one connection never accepted. A connect to it blocks, past every signal unless bounded.
/// The returned descriptors keep it so.
fn full_engine(dir: &std::path::Path) -> (std::path::PathBuf, Vec<std::os::fd::OwnedFd>) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let socket = dir.join("full.sock");
    let path = socket.as_os_str().as_bytes();
    // SAFETY: an all-zero sockaddr_un is valid; the path fits (a temporary directory's).
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    assert!(path.len() < address.sun_path.len());
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, byte) in address.sun_path.iter_mut().zip(path) {
        *slot = *byte as libc::c_char;
    }
    let new_socket = |flags: i32| {
        // SAFETY: socket(2) takes no pointers; the result is checked and owned at once.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | flags, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: a new descriptor that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    let size = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let at = std::ptr::addr_of!(address).cast::<libc::sockaddr>();
    let listener = new_socket(0);
    // SAFETY: `at` points at `address`, valid for `size` bytes, for both calls.
    unsafe {
        assert_eq!(libc::bind(listener.as_raw_fd(), at, size), 0);
        assert_eq!(libc::listen(listener.as_raw_fd(), 0), 0);
    }
    let mut held = vec![listener];
    loop {
        let client = new_socket(libc::SOCK_NONBLOCK);
        // SAFETY: as above.
        let connected = unsafe { libc::connect(client.as_raw_fd(), at, size) };
        if connected != 0 {
            let error = std::io::Error::last_os_error();
            assert_eq!(error.raw_os_error(), Some(libc::EAGAIN), "{error}");
            break;
        }
        held.push(client);
    }
    (socket, held)
}

/// Starts `pre-deploy` of a fresh app of `host` against the full engine at `socket`, and returns
/// once the trigger has said its first line, before its first call to the engine.
fn start_against_full(
    host: &TestHost,
    socket: &std::path::Path,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    let mut child = spawn_predeploy(host, socket);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut stdout, "-----> Checking for predeploy task", BOUND);
    (child, stdout)
}

#[test]
fn given_an_engine_that_accepts_no_more_connections_when_sigterm_arrives_then_the_trigger_stops_with_143(
) {
    let host = TestHost::new("full-sigterm");
    let (socket, _held) = full_engine(host.dir.path());
    let (child, _stdout) = start_against_full(&host, &socket);

    send(&child, libc::SIGTERM);

    let run = finish_within(child);
    run.expect_code(143).one_line_error();
    assert!(run.stderr.contains("stopped by"), "{run:#?}");
}

#[test]
fn given_an_engine_that_accepts_no_more_connections_and_no_signal_then_the_trigger_gives_up_at_engine_timeout(
) {
    let host = TestHost::new("full-timeout");
    host.write_lib("config/deploy-tasks/--global/engine-timeout", "1");
    let (socket, _held) = full_engine(host.dir.path());
    let (child, _stdout) = start_against_full(&host, &socket);

    let run = finish_within(child);
    run.expect_code(1).one_line_error();
    assert!(run.stderr.contains("within 1s"), "{run:#?}");
}
