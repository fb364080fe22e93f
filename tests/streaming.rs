//! Scenarios: a task's output reaches the host live, on the stream it was written to, indented
//! as Dokku indents it, every byte of it, however long its lines or however much of it.

mod support;

use std::io::BufReader;
use std::time::Duration;

use support::*;

const INDENT: &str = "       ";
/// The longest piece of a line the trigger passes on at once.
const MAX_PIECE: usize = 64 * 1024;

/// A host whose app runs `release` as its release task, with no other task.
fn app_with_release(backend: Backend, name: &str, release: &str) -> TestHost {
    let host = TestHost::on(name, backend);
    host.build_own("");
    host.host_app_json("{}");
    host.host_procfile(&format!("release: {release}\n"));
    host
}

/// What `yes 0123456789 | tr -d '\n' | head -c LENGTH` prints. The producers' SIGPIPE, once
/// `head` has enough, is forgiven in the commands: tasks run with `pipefail`, as in Dokku.
fn digits(length: usize) -> String {
    "0123456789".repeat(length / 10 + 1)[..length].to_string()
}

/// The task's output lines between the lines `begin` and `end` (both written by the task), with
/// the indentation removed; panics if a line is not indented.
fn task_lines_between<'a>(stdout: &'a str, begin: &str, end: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = stdout.split('\n').collect();
    let first = lines
        .iter()
        .position(|line| *line == format!("{INDENT}{begin}"))
        .unwrap_or_else(|| panic!("no line {begin:?} in the output"));
    let last = lines
        .iter()
        .rposition(|line| *line == format!("{INDENT}{end}"))
        .unwrap_or_else(|| panic!("no line {end:?} in the output"));
    lines[first + 1..last]
        .iter()
        .map(|line| {
            line.strip_prefix(INDENT)
                .unwrap_or_else(|| panic!("a line of the task's output is not indented"))
        })
        .collect()
}

on_both_backends! {
    fn given_a_task_that_prints_then_sleeps_then_its_first_line_arrives_while_it_still_runs(backend) {
        let host = app_with_release(backend, "stream-live", "echo first; sleep 4; echo second");

        let mut child = host.spawn("post-release", &[&host.app]);
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let seen = wait_for_line(&mut stdout, "       first", Duration::from_secs(60));

        assert_eq!(seen.last().map(String::as_str), Some("       first\n"));
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "the trigger had already exited when the first line arrived: the output was not live"
        );
        let run = finish(child, Some(stdout));
        run.expect_code(0);
        assert!(
            run.stdout.lines().any(|line| line == "       second"),
            "{run:#?}"
        );
    }

    fn given_a_task_writing_to_stdout_and_stderr_then_each_line_goes_to_the_same_stream_indented(backend) {
        let host = app_with_release(
            backend,
            "stream-split",
            "echo to-out; echo to-err >&2; echo more-out; echo more-err >&2",
        );

        let run = host.release();

        run.expect_code(0)
            .stdout_has("\n       to-out\n")
            .stdout_has("\n       more-out\n")
            .stderr_has("       to-err\n")
            .stderr_has("       more-err\n");
        let stdout_lines: Vec<&str> = run.stdout.lines().collect();
        let stderr_lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(
            stderr_lines,
            ["       to-err", "       more-err"],
            "{run:#?}"
        );
        assert!(
            !stdout_lines.iter().any(|line| line.ends_with("-err")),
            "a line of stderr went to stdout; {run:#?}"
        );
    }

    fn given_a_line_of_200_kib_then_it_arrives_in_full_in_pieces_of_at_most_64_kib(backend) {
        let length = 200 * 1024;
        let host = app_with_release(
            backend,
            "stream-long-line",
            &format!("echo begin; {{ yes 0123456789 || true; }} | {{ tr -d '\\n' || true; }} | head -c {length}; echo; echo end"),
        );

        let run = host.release();

        run.expect_code(0);
        let pieces = task_lines_between(&run.stdout, "begin", "end");
        let longest = pieces.iter().map(|piece| piece.len()).max().unwrap_or(0);
        assert!(
            longest <= MAX_PIECE,
            "a piece of {longest} bytes is over 64 KiB"
        );
        assert!(
            pieces.concat() == digits(length),
            "the line did not arrive in full and in order: {} bytes in {} pieces",
            pieces.concat().len(),
            pieces.len()
        );
    }

    fn given_lines_of_exactly_64_and_128_kib_then_they_arrive_whole_with_no_empty_line_after_them(backend) {
        let host = app_with_release(
            backend,
            "stream-exact-64k",
            &format!(
                "echo begin; {{ yes 0123456789 || true; }} | {{ tr -d '\\n' || true; }} | head -c {MAX_PIECE}; echo; echo middle; \
                 {{ yes 0123456789 || true; }} | {{ tr -d '\\n' || true; }} | head -c {}; echo; echo end",
                2 * MAX_PIECE
            ),
        );
        let run = host.release();

        run.expect_code(0);
        let exactly_64_kib = task_lines_between(&run.stdout, "begin", "middle");
        assert!(
            exactly_64_kib == [digits(MAX_PIECE)],
            "a line of exactly 64 KiB arrived as {} lines of {:?} bytes",
            exactly_64_kib.len(),
            exactly_64_kib
                .iter()
                .map(|line| line.len())
                .collect::<Vec<_>>()
        );
        let exactly_128_kib = task_lines_between(&run.stdout, "middle", "end");
        assert!(
            exactly_128_kib.concat() == digits(2 * MAX_PIECE)
                && exactly_128_kib.iter().all(|piece| !piece.is_empty()),
            "a line of exactly 128 KiB arrived as {} lines of {:?} bytes",
            exactly_128_kib.len(),
            exactly_128_kib
                .iter()
                .map(|line| line.len())
                .collect::<Vec<_>>()
        );
    }

    fn given_a_task_printing_20_mb_then_every_byte_arrives(backend) {
        let size = 20_000_000;
        let host = app_with_release(
            backend,
            "stream-20mb",
            &format!("echo begin; {{ yes 0123456789 || true; }} | head -c {size}; echo; echo end"),
        );

        let run = host.release();

        run.expect_code(0);
        let lines = task_lines_between(&run.stdout, "begin", "end");
        let content: usize = lines.iter().map(|line| line.len()).sum();
        // The task's own newlines: one per full line of `yes`, plus the `echo` after the last part.
        let newlines = size / 11 + 1;
        assert_eq!(
            content + lines.len(),
            size + 1,
            "bytes of content plus newlines"
        );
        assert_eq!(lines.len(), newlines);
        assert!(
            lines[..lines.len() - 1]
                .iter()
                .all(|line| *line == "0123456789"),
            "a full line arrived changed"
        );
        assert_eq!(lines[lines.len() - 1], &"0123456789"[..size % 11]);
    }

    fn given_quiet_output_then_headings_are_suppressed_but_the_task_output_is_not(backend) {
        let host = app_with_release(backend, "stream-quiet", "echo quiet-out; echo quiet-err >&2");

        let run = Run::from(
            host.trigger_command("post-release", &[&host.app])
                .env("DOKKU_QUIET_OUTPUT", "1")
                .output()
                .expect("running the trigger"),
        );

        run.expect_code(0)
            .stdout_has("       quiet-out\n")
            .stderr_has("       quiet-err\n");
        assert!(!run.stdout.contains("-----> Checking for"), "{run:#?}");
    }

    fn given_quiet_output_when_the_task_fails_then_the_error_is_still_shown(backend) {
        let host = app_with_release(backend, "stream-quiet-fail", "echo why-it-failed >&2; exit 3");

        let run = Run::from(
            host.trigger_command("post-release", &[&host.app])
                .env("DOKKU_QUIET_OUTPUT", "1")
                .output()
                .expect("running the trigger"),
        );

        run.expect_code(1)
            .stderr_has("       why-it-failed\n")
            .stderr_has(" !     release task from Procfile failed with exit code 3");
        assert!(!run.stdout.contains("-----> Checking for"), "{run:#?}");
    }
}

#[test]
fn given_trace_then_every_docker_call_is_printed_on_stderr() {
    let host = TestHost::new("stream-trace");
    host.build_own("");
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo traced > /app/traced"}}}"#);
    host.host_procfile("");

    let run = Run::from(
        host.trigger_command("pre-deploy", &[&host.app])
            .env("DOKKU_TRACE", "1")
            .output()
            .expect("running the trigger"),
    );

    run.expect_code(0);
    // Inspecting, running, committing and tagging go straight to the engine's API
    // (`+ engine ...`); on the CLI path they would be `+ /usr/bin/docker ...`: each is traced.
    let traced: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| {
            line.starts_with(&format!("+ {} ", docker_bin())) || line.starts_with("+ engine ")
        })
        .collect();
    for calls in [
        ["+ engine GET /images/", " image inspect "],
        ["+ engine POST /containers/create", " run "],
        ["+ engine POST /commit", " commit "],
        ["+ engine POST /images/", " tag "],
    ] {
        assert!(
            traced
                .iter()
                .any(|line| calls.iter().any(|call| line.contains(call))),
            "no traced {calls:?}; {run:#?}"
        );
    }
    assert!(
        !run.stdout.contains("+ "),
        "trace lines went to stdout; {run:#?}"
    );
}

#[test]
fn given_a_silent_child_then_waiting_for_its_line_gives_up_at_the_limit() {
    // The suite's own wait: a trigger that prints nothing must fail a test, not hang it.
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());

    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for_line(&mut stdout, "never", Duration::from_millis(200))
    }));

    let _ = child.kill();
    let _ = child.wait();
    let message = waited.expect_err("the wait returned a line that was never printed");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("never saw \"never\""), "{message}");
}
