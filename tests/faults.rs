//! Scenarios: a task hangs, the trigger is interrupted, the pusher's connection drops, the
//! trigger is killed, two deploys race. Nothing may corrupt the image or leave a container.

mod support;

use std::io::BufReader;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use support::*;

const LONG: Duration = Duration::from_secs(90);

fn hanging_predeploy(host: &TestHost) -> String {
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(
        r#"{"scripts": {"dokku": {"predeploy": "echo started; touch /app/half-done; sleep 300"}}}"#,
    );
    before
}

fn assert_clean(host: &TestHost, image_before: &str) {
    assert_eq!(image_id(&host.image()), image_before, "the image changed");
    assert_no_container_left(host);
}

/// No task or discovery container of `host`'s app is left (its removal may lag the trigger).
fn assert_no_container_left(host: &TestHost) {
    assert!(
        eventually(Duration::from_secs(30), || host
            .task_containers()
            .is_empty()),
        "left behind: {:?}",
        host.task_containers()
    );
}

#[test]
fn given_a_hung_predeploy_when_its_timeout_passes_then_it_is_stopped_and_the_trigger_exits_124() {
    let host = TestHost::new("timeout");
    let before = hanging_predeploy(&host);
    host.setting("predeploy-timeout", "2");

    let run = host.predeploy();

    run.expect_code(124)
        .stderr_has("predeploy task from app.json timed out after 2s; the image was not changed");
    assert_clean(&host, &before);
    let history = std::fs::read_to_string(
        host.lib_root()
            .join("data/deploy-tasks")
            .join(&host.app)
            .join("history.jsonl"),
    )
    .unwrap();
    let entry: serde_json::Value = serde_json::from_str(history.lines().last().unwrap()).unwrap();
    assert_eq!(entry["outcome"], "timeout");
    assert_eq!(entry["exit_code"], serde_json::Value::Null);
    assert_eq!(entry["phase"], "predeploy");
    assert_eq!(entry["image_before"], entry["image_after"]);
}

#[test]
fn given_a_task_that_ignores_sigterm_when_it_times_out_then_it_is_killed_after_the_grace() {
    let host = TestHost::new("timeout-kill");
    host.build(&busybox_app(""), &[]);
    host.host_procfile("release: trap '' TERM; echo stubborn; while true; do sleep 1; done\n");
    host.setting("timeout", "1");

    let run = host.release();

    run.expect_code(124)
        .stdout_has("       stubborn")
        .stderr_has("release task from Procfile timed out after 1s");
    assert!(host.task_containers().is_empty());
}

#[test]
fn given_the_warn_policy_when_a_postdeploy_task_fails_or_times_out_then_the_deploy_goes_on() {
    let host = TestHost::new("warn");
    host.build(&busybox_app(""), &[]);
    host.host_app_json(r#"{"scripts": {"dokku": {"postdeploy": "exit 4"}}}"#);
    host.setting("postdeploy-on-failure", "warn");

    host.postdeploy()
        .expect_code(0)
        .stderr_has("postdeploy task from app.json failed with exit code 4")
        .stderr_has("going on, as postdeploy-on-failure is `warn`");

    host.host_app_json(r#"{"scripts": {"dokku": {"postdeploy": "sleep 60"}}}"#);
    host.setting("postdeploy-timeout", "1");
    host.postdeploy()
        .expect_code(0)
        .stderr_has("timed out after 1s");
    assert!(host.task_containers().is_empty());
}

#[test]
fn given_the_warn_policy_when_a_predeploy_fails_then_nothing_is_committed() {
    let host = TestHost::new("warn-pre");
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "touch /app/partial; exit 2"}}}"#);
    host.setting("predeploy-on-failure", "warn");

    host.predeploy()
        .expect_code(0)
        .stderr_has("failed with exit code 2");
    assert_clean(&host, &before);
}

fn interrupt_scenario(backend: Backend, name: &str, signal: i32, code: i32, ignore_sigint: bool) {
    let host = TestHost::on(name, backend);
    let before = hanging_predeploy(&host);
    let mut command = host.trigger_command("pre-deploy", &[&host.app]);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    if ignore_sigint {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let mut child = command.spawn().expect("starting the trigger");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut stdout, "       started", LONG);

    send(&child, signal);

    let run = finish(child, Some(stdout));
    run.expect_code(code)
        .stderr_has("predeploy interrupted")
        .stderr_has("the image was not changed");
    assert_clean(&host, &before);
}

on_both_backends! {
    fn given_a_running_predeploy_when_the_admin_presses_ctrl_c_then_it_stops_cleanly_with_130(backend) {
        interrupt_scenario(backend, "sigint", libc::SIGINT, 130, false);
    }

    fn given_a_running_predeploy_when_the_service_stops_then_it_stops_cleanly_with_143(backend) {
        interrupt_scenario(backend, "sigterm", libc::SIGTERM, 143, false);
    }

    fn given_a_running_predeploy_when_the_terminal_closes_then_it_stops_cleanly_with_129(backend) {
        interrupt_scenario(backend, "sighup", libc::SIGHUP, 129, false);
    }

    fn given_a_running_predeploy_when_the_admin_presses_ctrl_backslash_then_it_stops_cleanly_with_131(backend) {
        interrupt_scenario(backend, "sigquit", libc::SIGQUIT, 131, false);
    }

    fn given_a_trigger_started_with_sigint_ignored_when_sigint_arrives_then_it_still_stops_cleanly(backend) {
        interrupt_scenario(backend, "sigint-ignored", libc::SIGINT, 130, true);
    }
}

#[test]
fn given_another_writer_stuck_holding_the_history_when_a_signal_stops_a_task_then_the_trigger_does_not_wait_out_the_writer(
) {
    let host = TestHost::new("history-held");
    let before = hanging_predeploy(&host);
    let dir = host.lib_root().join("data/deploy-tasks").join(&host.app);
    std::fs::create_dir_all(&dir).unwrap();
    // A writer stopped (SIGSTOP, a frozen cgroup) in the middle of its append.
    let writer = std::fs::File::create(dir.join("history.lock")).unwrap();
    writer.lock().unwrap();

    let run = stopped_once_started(&host, "pre-deploy");

    run.expect_code(143)
        .stderr_has("predeploy interrupted")
        .stderr_has("a stop signal came while another run held");
    assert_clean(&host, &before);
    drop(writer);
}

/// A release whose script traps SIGTERM to clean up, run as Dokku runs a Procfile command: by
/// bash (the shell of a bash image), which waits for the script and passes no signal on.
/// `extra` ends the Dockerfile (a `STOPSIGNAL`, say).
fn release_with_a_trap(host: &TestHost, extra: &str) {
    let script = "#!/bin/bash\ntrap 'echo cleaned up; exit 4' TERM\necho started\nwhile :; do sleep 1; done\n";
    host.build(
        &format!(
            "FROM {BASH}\nWORKDIR /app\nCOPY trap.sh /app/trap.sh\nRUN chmod +x /app/trap.sh\n{extra}\n"
        ),
        &[("trap.sh", script)],
    );
    host.host_procfile("release: ./trap.sh\n");
}

/// Runs `trigger` for `host`'s app until its task says `started`, then sends it SIGTERM; how
/// it ended.
fn stopped_once_started(host: &TestHost, trigger: &str) -> Run {
    let mut command = host.trigger_command(trigger, &[&host.app]);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("starting the trigger");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut stdout, "       started", LONG);
    send(&child, libc::SIGTERM);
    finish(child, Some(stdout))
}

/// Stops a running release of `host` with SIGTERM and checks that its script's trap ran.
fn stopped_release_cleans_up(host: &TestHost) {
    let run = stopped_once_started(host, "post-release");
    run.expect_code(143)
        .stdout_has("       cleaned up")
        .stderr_has("release interrupted");
    assert_no_container_left(host);
}

on_both_backends! {
    fn given_a_script_that_traps_sigterm_under_a_shell_task_when_the_trigger_is_stopped_then_its_trap_runs(backend) {
        let host = TestHost::on("trap-runs", backend);
        release_with_a_trap(&host, "");
        stopped_release_cleans_up(&host);
    }

    fn given_an_image_whose_stop_signal_is_sigwinch_when_the_trigger_is_stopped_then_the_task_gets_sigterm(backend) {
        // httpd's images stop with SIGWINCH; a task is stopped as SIGTERM stops it.
        let host = TestHost::on("trap-stopsignal", backend);
        release_with_a_trap(&host, "STOPSIGNAL SIGWINCH");
        stopped_release_cleans_up(&host);
    }
}

#[test]
fn given_the_cli_instead_of_the_engine_api_when_a_predeploy_succeeds_then_it_is_committed() {
    let host = TestHost::new("cli-commit");
    let before = host.build(&busybox_app("CMD [\"httpd\", \"-f\"]"), &[]);
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo via-cli > /app/marker"}}}"#);

    let run = Run::from(
        host.trigger_command("pre-deploy", &[&host.app])
            .env("DOKKU_DEPLOY_TASKS_ENGINE_API", "0")
            .env("DOKKU_TRACE", "1")
            .output()
            .unwrap(),
    );

    run.expect_code(0).stderr_has(" run --interactive --name ");
    assert!(!run.stderr.contains("+ engine "), "{run:#?}");
    assert_ne!(image_id(&host.image()), before);
    assert_eq!(host.run_in_image("cat /app/marker"), "via-cli");
    assert_eq!(image_config(&host.image(), "Cmd"), r#"["httpd","-f"]"#);
    assert!(host.task_containers().is_empty());
}

#[test]
fn given_a_running_task_when_the_pushers_connection_drops_then_it_stops_like_a_hangup() {
    let host = TestHost::new("epipe");
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(
        r#"{"scripts": {"dokku": {"predeploy": "echo started; while true; do echo tick; sleep 0.2; done"}}}"#,
    );
    let mut child = host.spawn("pre-deploy", &[&host.app]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut stdout, "       started", LONG);

    drop(stdout);

    let run = finish(child, None);
    run.expect_code(129).stderr_has("the connection closed");
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
    assert_clean(&host, &before);
}

/// An app with a predeploy and a release task whose `pre-deploy` was killed with SIGKILL while
/// its commit is held: the host, the image before, and the interposer holding the commit.
fn killed_during_the_commit(backend: Backend, name: &str) -> (TestHost, String, Interposer) {
    let host = TestHost::on(name, backend);
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(PREDEPLOY_WRITES_MARKER);
    host.host_procfile("release: echo released\n");
    let interposer = Interposer::holding(backend, Call::Commit, 1);
    let mut child = interposer.start_held(&host, "pre-deploy");
    child.kill().unwrap();
    child.wait().unwrap();
    (host, before, interposer)
}

/// The predeploy of an app whose image has neither ENTRYPOINT nor CMD (so that a build writes
/// both back after the commit), with the engine refusing every `call`: the trigger fails with
/// one line, and no image, tag move or container is left. Its run, for the error's details.
fn refused_during_the_commit(backend: Backend, name: &str, call: Call) -> Run {
    let host = TestHost::on(name, backend);
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(PREDEPLOY_WRITES_MARKER);
    let interposer = Interposer::failing(backend, call);

    let run = Run::from(
        interposer
            .trigger(&host, "pre-deploy", &[&host.app])
            .output()
            .unwrap(),
    );

    run.expect_code(1).one_line_error();
    assert_eq!(host.committed_images(), Vec::<String>::new());
    assert_eq!(image_id(&host.image()), before);
    assert!(host.task_containers().is_empty());
    run
}

const PREDEPLOY_WRITES_MARKER: &str =
    r#"{"scripts": {"dokku": {"predeploy": "echo marker > /app/marker"}}}"#;

on_both_backends! {
    fn given_a_tag_moved_by_someone_else_while_the_predeploy_commits_then_the_plugin_refuses_to_move_it_and_leaves_no_image(backend) {
        let host = TestHost::on("commit-race", backend);
        host.build(&busybox_app(""), &[]);
        host.host_app_json(PREDEPLOY_WRITES_MARKER);
        let interposer = Interposer::holding(backend, Call::Commit, 1);
        let child = interposer.start_held(&host, "pre-deploy");

        let theirs = host.build_tagged(
            "theirs",
            &busybox_app(&format!("LABEL deploy-tasks-test.theirs={}", host.app)),
            &[],
        );
        docker(&["tag", &format!("dokku/{}:theirs", host.app), &host.image()]);
        interposer.release();

        let run = finish_within(child);
        run.expect_code(1).one_line_error().stderr_has(&format!(
            "{} changed while the predeploy task ran (another deploy?); its result was dropped: deploy again",
            host.image()
        ));
        assert_eq!(image_id(&host.image()), theirs, "their tag was moved");
        assert_eq!(host.committed_images(), Vec::<String>::new());
        assert!(host.task_containers().is_empty());
    }

    fn given_a_signal_while_the_predeploy_commits_then_the_commit_and_the_tag_move_complete_and_the_trigger_exits_130(backend) {
        let host = TestHost::on("commit-signal", backend);
        host.build(&busybox_app(""), &[]);
        host.host_app_json(PREDEPLOY_WRITES_MARKER);
        let interposer = Interposer::holding(backend, Call::Commit, 1);
        let child = interposer.start_held(&host, "pre-deploy");

        send(&child, libc::SIGINT);
        interposer.release();

        let run = finish_within(child);
        run.expect_code(130)
            .stderr_has("predeploy interrupted (received SIGINT): the commit completed first");
        assert_eq!(host.run_in_image("cat /app/marker"), "marker");
        let built_on = docker(&["history", "-q", "--no-trunc", &host.image()]);
        for id in host.committed_images() {
            assert!(
                built_on.contains(&id),
                "{id} is not under the tag: {built_on}"
            );
        }
        assert!(host.task_containers().is_empty());
    }

    fn given_a_trigger_killed_with_sigkill_during_the_commit_when_the_next_run_starts_then_it_removes_the_image_and_the_container(backend) {
        let (host, before, interposer) = killed_during_the_commit(backend, "sigkill-commit");
        // The commit outlives the trigger, as the engine finishes a commit whose client is gone.
        interposer.release();
        interposer.wait_until_finished();
        assert_eq!(host.committed_images().len(), 1, "the commit made no image");
        let leftover = host.task_containers();
        assert_eq!(leftover.len(), 1, "{leftover:?}");
        // The killed run's record lists its container and, noted before the commit began, the
        // name of the image the commit made.
        let records = host.lib_root().join(format!("data/deploy-tasks/{}/in-flight", host.app));
        let record: Vec<String> = std::fs::read_dir(&records)
            .unwrap()
            .flat_map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
            .collect();
        assert!(record.contains(&leftover[0]), "{record:?}");
        let named = format!("dokku/{}:deploy-tasks-", host.app);
        assert!(record.iter().any(|line| line.starts_with(&named)), "{record:?}");

        let run = host.release();

        run.expect_code(0)
            .stdout_has("       released")
            .stderr_has(&format!(
                "removed task containers left by a run of {} that was killed: {}",
                host.app, leftover[0]
            ))
            .stderr_has(&format!(
                "removed images committed by a run of {} that was killed: dokku/{}:deploy-tasks-",
                host.app, host.app
            ));
        assert_eq!(host.committed_images(), Vec::<String>::new());
        assert!(host.task_containers().is_empty());
        assert_eq!(image_id(&host.image()), before);
    }

    fn given_a_killed_runs_commit_that_ends_after_the_next_run_reaped_then_a_later_run_removes_its_image_and_no_other_tag(backend) {
        let (host, before, interposer) = killed_during_the_commit(backend, "late-commit");
        // The next run reaps the killed run's container while its commit is still under way.
        host.release()
            .expect_code(0)
            .stderr_has("removed task containers left by a run of");
        // The engine then finishes the commit (`docker rm -f` does not wait for one), under the
        // name the killed run gave it; no record lists it any more.
        let late = format!("dokku/{}:deploy-tasks-1700000000000-4242-1", host.app);
        let kept = format!("dokku/{}:deploy-tasks-2024-06-01", host.app);
        host.build_tagged("deploy-tasks-1700000000000-4242-1", &busybox_app("LABEL late=1"), &[]);
        docker(&["tag", &late, &kept]);

        let run = host.release();

        run.expect_code(0)
            .stdout_has("       released")
            .stderr_has(&format!(
                "removed images committed by a run of {} that was killed: {late}",
                host.app
            ));
        assert!(!docker_output(&["image", "inspect", &late]).status.success());
        assert!(docker_output(&["image", "inspect", &kept]).status.success(), "the admin's tag went");
        assert_eq!(image_id(&host.image()), before);
        interposer.release();
    }
}

/// An image with two predeploy tasks: app.json's, then Flux-Orbit's `pre-deploy.sh` on its
/// result.
fn chained_predeploys(host: &TestHost) -> String {
    let before = host.build(
        &busybox_app("COPY pre-deploy.sh /app/pre-deploy.sh"),
        &[("pre-deploy.sh", "echo second > /app/second\n")],
    );
    host.host_app_json(PREDEPLOY_WRITES_MARKER);
    before
}

on_both_backends! {
    fn given_chained_predeploys_killed_between_the_tasks_when_the_next_run_starts_then_nothing_of_the_run_is_left(backend) {
        let host = TestHost::on("sigkill-chain", backend);
        let before = chained_predeploys(&host);
        host.host_procfile("release: echo released\n");
        // The second task's container is created after the first one's commit.
        let interposer = Interposer::holding(backend, Call::TaskContainer, 2);
        let mut child = interposer.start_held(&host, "pre-deploy");
        assert!(
            !host.committed_images().is_empty(),
            "the first task committed nothing"
        );

        child.kill().unwrap();
        child.wait().unwrap();
        // The second task's container is made after all, from the first one's image, which it
        // holds.
        interposer.release();
        interposer.wait_until_finished();
        assert_eq!(host.task_containers().len(), 1);

        let run = host.release();

        run.expect_code(0)
            .stderr_has("removed task containers left by a run of")
            .stderr_has("removed images committed by a run of");
        assert_eq!(host.committed_images(), Vec::<String>::new());
        assert!(host.task_containers().is_empty());
        assert_eq!(image_id(&host.image()), before);
    }

    fn given_chained_predeploys_whose_tag_move_fails_then_every_image_they_committed_is_removed(backend) {
        let host = TestHost::on("tag-fails", backend);
        let before = chained_predeploys(&host);
        let interposer = Interposer::failing(backend, Call::Tag);

        let run = Run::from(
            interposer
                .trigger(&host, "pre-deploy", &[&host.app])
                .output()
                .unwrap(),
        );

        run.expect_code(1)
            .one_line_error()
            .stderr_has(&format!("tagging the committed image as {}", host.image()))
            .stderr_has("tag refused by the test");
        let entries = host.history();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_ne!(entries[1]["image_after"], entries[0]["image_after"]);
        assert_eq!(host.committed_images(), Vec::<String>::new());
        assert_eq!(image_id(&host.image()), before);
        assert!(host.task_containers().is_empty());
    }

    fn given_a_commit_the_engine_refuses_then_the_deploy_fails_and_nothing_is_left(backend) {
        // On the Engine API path the build that clears the CMD has begun when the commit is
        // refused, and must be dropped.
        refused_during_the_commit(backend, "commit-refused", Call::Commit)
            .stderr_has("committing the predeploy container")
            .stderr_has("commit refused by the test");
    }

    fn given_a_commit_whose_cmd_cannot_be_cleared_then_the_image_it_committed_is_removed(backend) {
        refused_during_the_commit(backend, "build-fails", Call::Build)
            .stderr_has("clearing the CMD of the image committed from");
    }
}

#[test]
fn given_a_trigger_killed_with_sigkill_when_the_next_run_starts_then_it_removes_the_leftover() {
    let host = TestHost::new("sigkill");
    let before = hanging_predeploy(&host);
    let mut child = host.spawn("pre-deploy", &[&host.app]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    wait_for_line(&mut stdout, "       started", LONG);
    let leftover = host.task_containers();
    assert_eq!(leftover.len(), 1, "{leftover:?}");

    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        host.task_containers(),
        leftover,
        "SIGKILL cannot be handled"
    );
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo fresh"}}}"#);

    let run = host.predeploy();

    run.expect_code(0)
        .stdout_has("       fresh")
        .stderr_has(&format!(
            "removed task containers left by a run of {} that was killed: {}",
            host.app, leftover[0]
        ));
    assert!(host.task_containers().is_empty());
    assert_ne!(image_id(&host.image()), before);
}

#[test]
fn given_a_running_release_when_a_postdeploy_starts_then_it_waits_its_turn_and_both_run() {
    let host = TestHost::new("live");
    host.build(&busybox_app(""), &[]);
    host.host_procfile("release: echo started; sleep 4; echo release-finished\n");
    host.host_app_json(r#"{"scripts": {"dokku": {"postdeploy": "echo postdeploy ran"}}}"#);
    let mut release = host.spawn("post-release", &[&host.app]);
    let mut stdout = BufReader::new(release.stdout.take().unwrap());
    wait_for_line(&mut stdout, "       started", LONG);

    let postdeploy = host.postdeploy();

    postdeploy
        .expect_code(0)
        .stdout_has("       postdeploy ran");
    assert!(
        !postdeploy.stderr.contains("removed task containers"),
        "{postdeploy:#?}"
    );
    let release = finish(release, Some(stdout));
    release.expect_code(0).stdout_has("release-finished");
}

#[test]
fn given_two_concurrent_predeploys_then_every_run_that_succeeds_has_its_change_in_the_final_image()
{
    let host = TestHost::new("race");
    host.build(&busybox_app(""), &[]);
    host.host_app_json(
        r#"{"scripts": {"dokku": {"predeploy": "sleep 1; echo run-$$-$(date +%s%N) >> /app/runs; tail -n1 /app/runs"}}}"#,
    );
    let children: Vec<_> = (0..3)
        .map(|_| host.spawn("pre-deploy", &[&host.app]))
        .collect();
    let runs: Vec<Run> = children
        .into_iter()
        .map(|child| finish(child, None))
        .collect();

    let final_runs = host.run_in_image("cat /app/runs");
    for run in &runs {
        if run.code == Some(0) {
            let line = run
                .stdout
                .lines()
                .map(str::trim)
                .find(|line| line.starts_with("run-"))
                .unwrap_or_else(|| panic!("no run line in {run:#?}"));
            assert!(
                final_runs.contains(line),
                "{line} lost from {final_runs}; {runs:#?}"
            );
        } else {
            assert_eq!(run.code, Some(1), "{run:#?}");
            assert!(
                run.stderr.contains("changed while the predeploy task ran"),
                "{run:#?}"
            );
        }
    }
    assert!(runs.iter().any(|run| run.code == Some(0)), "{runs:#?}");
    assert!(host.task_containers().is_empty());
}

on_both_backends! {
    fn given_a_running_predeploy_when_the_engine_stops_answering_and_ctrl_c_arrives_then_the_trigger_still_ends_and_the_next_run_removes_the_container(backend) {
        let host = TestHost::on("frozen", backend);
        let before = hanging_predeploy(&host);
        let interposer = Interposer::passing(backend);
        let mut child = interposer
            .trigger(&host, "pre-deploy", &[&host.app])
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        wait_for_line(&mut stdout, "       started", LONG);
        let left = host.task_containers();
        assert_eq!(left.len(), 1, "{left:?}");

        interposer.freeze();
        send(&child, libc::SIGINT);
        child.stdout = Some(stdout.into_inner());

        let run = finish_within(child);
        run.expect_code(130)
            .stderr_has("predeploy interrupted (received SIGINT)")
            .stderr_has(&format!("could not remove task container {}", left[0]))
            .stderr_has("the next task run of the app removes it");
        interposer.thaw();
        assert_eq!(host.task_containers(), left, "the engine never heard of the stop");
        host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "echo fresh"}}}"#);

        let next = host.predeploy();

        next.expect_code(0).stdout_has("       fresh").stderr_has(&format!(
            "removed task containers left by a run of {} that was killed: {}",
            host.app, left[0]
        ));
        assert!(host.task_containers().is_empty());
        assert_ne!(image_id(&host.image()), before);
    }

    fn given_chained_predeploys_when_a_signal_arrives_during_the_first_commit_then_the_second_never_starts_and_nothing_is_committed(backend) {
        let host = TestHost::on("signal-chain", backend);
        let before = chained_predeploys(&host);
        let interposer = Interposer::holding(backend, Call::Commit, 1);
        let child = interposer.start_held(&host, "pre-deploy");

        send(&child, libc::SIGTERM);
        interposer.release();

        let run = finish_within(child);
        run.expect_code(143)
            .stderr_has("predeploy interrupted (received SIGTERM): the task was stopped and the image was not changed");
        assert!(!run.stdout.contains("pre-deploy.sh"), "{run:#?}");
        assert_eq!(host.history().len(), 1, "the second task ran");
        if !host.committed_images().is_empty() {
            // A loaded machine can make the commit, or the removals after it, outlast the stop's
            // grace: given up then, what they leave the run names; the next runs remove it.
            run.stderr_has("could not remove the images this run committed");
            host.host_procfile("release: echo released\n");
            assert!(
                eventually(Duration::from_secs(10), || {
                    host.release().expect_code(0);
                    host.committed_images().is_empty()
                }),
                "the images of the given-up commit stayed: {:?}",
                host.committed_images()
            );
        }
        assert_eq!(image_id(&host.image()), before);
        assert!(host.task_containers().is_empty());
    }

    fn given_a_commit_held_past_the_stops_grace_when_the_trigger_gives_it_up_then_it_says_so_and_the_next_run_removes_what_it_made(backend) {
        let host = TestHost::on("grace-out", backend);
        let before = chained_predeploys(&host);
        host.host_procfile("release: echo released\n");
        let interposer = Interposer::holding(backend, Call::Commit, 1);
        let child = interposer.start_held(&host, "pre-deploy");

        // Held until the trigger has given it up: the engine then commits for a client gone.
        send(&child, libc::SIGTERM);
        let run = finish_within(child);
        run.expect_code(143)
            .stderr_has("stopped by SIGTERM while")
            .stderr_has("could not remove the images this run committed")
            .stderr_has("the next task run of");
        // Whether the engine commits for a client gone or not (here it does not), the next
        // runs leave nothing of it.
        interposer.release();
        assert!(
            eventually(Duration::from_secs(10), || {
                host.release().expect_code(0);
                host.committed_images().is_empty()
            }),
            "the given-up commit's images stayed: {:?}",
            host.committed_images()
        );
        assert_eq!(image_id(&host.image()), before);
        assert!(host.task_containers().is_empty());
    }

    fn given_docker_options_then_the_run_goes_through_the_cli_as_a_whole_and_the_commit_clears_the_cmd_there(backend) {
        let host = TestHost::on("options-cli", backend);
        host.build(&busybox_app(""), &[]);
        host.host_app_json(
            r#"{"scripts": {"dokku": {"predeploy": "grep -q options-cli.invalid /etc/hosts && echo marker > /app/marker"}}}"#,
        );
        host.write_lib(
            &format!("config/docker-options/{}/_default_.deploy", host.app),
            "--add-host=options-cli.invalid:127.0.0.1\n",
        );

        let run = Run::from(
            host.trigger_command("pre-deploy", &[&host.app])
                .env("DOKKU_TRACE", "1")
                .output()
                .unwrap(),
        );

        run.expect_code(0)
            .stderr_has(" run --interactive --name ")
            .stderr_has("--add-host=options-cli.invalid:127.0.0.1")
            .stderr_has(" commit ")
            .stderr_has(" build --quiet --force-rm ");
        assert!(!run.stderr.contains("+ engine POST /commit"), "{run:#?}");
        assert_eq!(host.run_in_image("cat /app/marker"), "marker");
        assert_eq!(image_config(&host.image(), "Entrypoint"), "null");
        assert_eq!(image_config(&host.image(), "Cmd"), "null");
        assert!(host.task_containers().is_empty());
    }
}

#[test]
fn given_docker_options_the_engine_refuses_then_the_deploy_fails_as_the_engines_failure_not_the_tasks(
) {
    let host = TestHost::new("options-refused");
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(PREDEPLOY_WRITES_MARKER);
    host.write_lib(
        &format!("config/docker-options/{}/_default_.deploy", host.app),
        "--network=deploy-tasks-test-no-such-network\n",
    );

    let run = host.predeploy();

    // `docker run` exits with 125, which a task could exit with too: the container never
    // started, so the task never ran. What the CLI said streams as it comes, then the error.
    run.expect_code(1)
        .stderr_has("network deploy-tasks-test-no-such-network not found");
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(" !     the engine did not start the task container")
            && last.contains("exited with 125 before the task began"),
        "{run:#?}"
    );
    assert_eq!(run.stderr.matches(" !     ").count(), 1, "{run:#?}");
    assert_eq!(image_id(&host.image()), before);
    assert_eq!(host.committed_images(), Vec::<String>::new());
    assert!(host.task_containers().is_empty());
}

#[test]
fn given_a_task_that_exits_with_125_through_the_cli_then_it_is_the_tasks_failure() {
    let host = TestHost::new("task-125");
    let before = host.build(&busybox_app(""), &[]);
    host.host_app_json(r#"{"scripts": {"dokku": {"predeploy": "exit 125"}}}"#);
    host.write_lib(
        &format!("config/docker-options/{}/_default_.deploy", host.app),
        "--add-host=task-125.invalid:127.0.0.1\n",
    );

    let run = host.predeploy();

    run.expect_code(1).stderr_has("exit").stderr_has("125");
    assert!(!run.stderr.contains("did not start"), "{run:#?}");
    assert_eq!(image_id(&host.image()), before);
    assert!(host.task_containers().is_empty());
}

on_both_backends! {
    fn given_a_live_run_reading_its_definitions_outside_the_lock_then_another_run_leaves_its_container_alone(backend) {
        let host = TestHost::on("live-discovery", backend);
        host.build(&busybox_app(""), &[]);
        host.host_app_json(PREDEPLOY_WRITES_MARKER);
        host.host_procfile("release: echo released\n");
        // The first run's discovery container exists, in a record its live run holds, while
        // its first read is held.
        let interposer = Interposer::holding(backend, Call::DefinitionRead, 1);
        let first = interposer.start_held(&host, "pre-deploy");

        let other = host.release();

        other.expect_code(0).stdout_has("       released");
        assert!(!other.stderr.contains("removed task containers"), "{other:#?}");
        interposer.release();
        let first = finish_within(first);
        first.expect_code(0).stdout_has("Committed the predeploy result");
        assert_eq!(host.run_in_image("cat /app/marker"), "marker");
        assert!(host.task_containers().is_empty());
    }
}

#[test]
fn given_no_killed_run_then_a_predeploy_lists_no_images_and_leaves_none_of_its_names() {
    let host = TestHost::new("no-sweep");
    host.build(&busybox_app(""), &[]);
    host.host_app_json(PREDEPLOY_WRITES_MARKER);

    let run = Run::from(
        host.trigger_command("pre-deploy", &[&host.app])
            .env("DOKKU_TRACE", "1")
            .output()
            .unwrap(),
    );

    run.expect_code(0).stderr_has("+ engine POST /commit");
    assert!(!run.stderr.contains("GET /images/json"), "{run:#?}");
    let names = docker(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        &format!("dokku/{}", host.app),
    ]);
    assert_eq!(names, format!("dokku/{}:latest", host.app));
}

#[test]
fn given_a_report_reading_an_images_definitions_when_the_admin_presses_ctrl_c_then_its_container_is_removed(
) {
    let host = TestHost::new("report-interrupted");
    host.build(&busybox_app(""), &[]);
    host.host_app_json(PREDEPLOY_WRITES_MARKER);
    let interposer = Interposer::holding(Backend::EngineApi, Call::DefinitionRead, 1);
    let report = interposer
        .trigger(
            &host,
            "subcommands/report",
            &["deploy-tasks:report", &host.app],
        )
        .spawn()
        .expect("starting the report");
    interposer.wait_until_held();

    send(&report, libc::SIGINT);

    let run = finish_within(report);
    run.expect_code(130);
    interposer.release();
    assert_no_container_left(&host);
}
