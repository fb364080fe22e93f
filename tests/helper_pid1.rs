//! Scenarios: the in-container helper as the first process of a PID namespace of its own, as in
//! a container (`unshare --pid --fork --mount-proc`, as root), without an engine: what it waits
//! for after it passed a stop signal on.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A generous bound on a hang, not a measure of speed.
const BOUND: Duration = Duration::from_secs(10);

/// Starts the helper as PID 1 running the shell task `command` with `/bin/sh`, and returns it
/// once the task said `ready` (its gate), with the helper's PID as this machine sees it.
fn helper_as_pid1(
    command: &str,
    ready: &str,
) -> (Child, BufReader<std::process::ChildStdout>, i32) {
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_deploy-tasks-helper"))
        .args(["--shell=/bin/sh", "--run-shell"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("running unshare (util-linux) as root");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("1\0{command}\0PATH=/usr/bin:/bin\0").as_bytes())
        .unwrap();
    drop(stdin);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), ready);
    // unshare's one child is the helper.
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children", pid = child.id()))
            .unwrap();
    let helper = children.trim().parse().expect("the helper's PID");
    (child, stdout, helper)
}

/// Waits for `child` at most [`BOUND`]; its exit status, or `None` (then killed) past it.
fn exit_within_bound(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + BOUND;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn send(pid: i32, signal: i32) {
    // SAFETY: kill(2) takes no memory.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

#[test]
fn given_a_daemon_in_a_session_of_its_own_when_the_task_is_stopped_then_the_helper_does_not_wait_for_it(
) {
    // The daemon outlives the bound: were it waited for, the helper would not end within it.
    // It says `daemon` once in its own session, out of the task's group.
    let (mut child, _stdout, helper) = helper_as_pid1(
        "setsid sh -c 'echo daemon; exec sleep 60' & sleep 300",
        "daemon",
    );

    send(helper, libc::SIGTERM);

    // unshare exits as its child did: the shell, ended by SIGTERM.
    assert_eq!(exit_within_bound(&mut child), Some(143));
}

#[test]
fn given_a_script_in_its_trap_when_the_shell_task_is_stopped_then_the_helper_waits_for_its_end() {
    // The shell dies of SIGTERM at once; the script it runs, in the same group, cleans up.
    let (mut child, mut stdout, helper) = helper_as_pid1(
        "sh -c 'trap \"sleep 1; echo cleaned up; exit 4\" TERM; echo started; while :; do sleep 1; done'",
        "started",
    );

    send(helper, libc::SIGTERM);

    assert_eq!(exit_within_bound(&mut child), Some(143));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "cleaned up\n");
}
