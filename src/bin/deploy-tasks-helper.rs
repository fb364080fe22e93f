//! The helper that runs as PID 1 inside every task container.
//!
//! The trigger bind-mounts this static binary read-only under `/dev` (mount points there leave
//! nothing in a committed layer) and starts the container with `docker run -i`. The helper:
//! - reads the task's command and then the app's config from its stdin (see "Stdin" below), so
//!   that no secret, and no command a secret was expanded into, appears on a command line, in the
//!   container's config or on disk;
//! - gives the task `/dev/null` as stdin;
//! - picks the shell (`/bin/bash` when the image has it, else `/bin/sh`) unless told one;
//! - forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the task's process group (the task and
//!   what a shell task starts): as PID 1 it would otherwise ignore them, and `docker stop` could
//!   only end the task with SIGKILL;
//! - reaps orphans, and exits with the task's status (128+N when a signal ended it).
//!
//! Usage: `deploy-tasks-helper [--shell=auto|PATH] [--heroku-profile] [--wrap WORD]...
//!         (--run-shell | --run-script | --run-exec)`
//!
//! Stdin: the number of the command's fields and the fields (`N\0FIELD\0...`), then the app's
//! config as `KEY=VALUE` entries, each ended by a NUL byte, to the end of input. The fields are
//! the command line for `--run-shell`, the script's path for `--run-script` (run with the shell
//! from the script's own directory; the file needs no execute bit), and the words to execute for
//! `--run-exec`.
//!
//! `--run-shell` runs the command as Dokku's app-json plugin does (plugins/app-json/functions.go:
//! constructScript): after `set -e` and, where the shell has it, `set -o pipefail`. The shell gets
//! the command in its environment, never as an argument: arguments are readable by every user of
//! the host (`ps`, `docker top`), the environment only by the task's own user, as its config is.
//!
//! It uses only std and libc, so that a `crt-static` build runs in any image, busybox included.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{exit, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Exit status when the command exists but cannot be executed, as in POSIX shells.
const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit status when the command does not exist, as in POSIX shells.
const EXIT_NOT_FOUND: i32 = 127;
/// Exit status for a usage error: the trigger and the helper disagree, a bug.
const EXIT_USAGE: i32 = 125;

/// The task's process ID once started; 0 before. The forwarded signals stay blocked until it is
/// set, so the handler never sees 0.
static TASK_PID: AtomicI32 = AtomicI32::new(0);

/// Whether a signal was passed on to the task's group: then what the task started gets its
/// turn to end (its traps run) before the helper, and with it the container, ends.
static FORWARDED_ONE: AtomicBool = AtomicBool::new(false);

/// The signals passed on to the task.
const FORWARDED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// The variable that carries a shell task's command to its shell (see the module's comment).
const COMMAND_VARIABLE: &str = "DEPLOY_TASKS_COMMAND";

/// How to run, as the trigger asked on the command line.
struct Invocation {
    shell: Option<String>,
    heroku_profile: bool,
    /// The container's stop signal (what `docker stop` sends), when it is not SIGTERM: the
    /// task gets SIGTERM for it.
    stop_signal: Option<libc::c_int>,
    wrap: Vec<String>,
    mode: Mode,
}

/// The kind of command, from the arguments; its fields come on stdin.
enum Mode {
    Shell,
    Script,
    Exec,
}

/// What to run: the mode with its fields.
enum Run {
    Shell(String),
    Script(String),
    Exec(Vec<String>),
}

impl Mode {
    fn run(&self, mut fields: Vec<String>) -> Result<Run, String> {
        match self {
            Mode::Exec => Ok(Run::Exec(fields)),
            Mode::Shell | Mode::Script if fields.len() != 1 => Err(format!(
                "expected one command field on stdin, got {}",
                fields.len()
            )),
            Mode::Shell => Ok(Run::Shell(fields.remove(0))),
            Mode::Script => Ok(Run::Script(fields.remove(0))),
        }
    }
}

fn main() {
    // Held back from the start (a `docker stop` may come at once): delivered, and so forwarded,
    // only once the task exists. The task itself starts with no signal blocked
    // ([`task_command`]).
    if let Err(message) = hold_signals(true) {
        fail(EXIT_USAGE, &message);
    }
    let invocation = match parse_arguments(std::env::args().skip(1).collect()) {
        Ok(invocation) => invocation,
        Err(message) => fail(EXIT_USAGE, &message),
    };
    let Stdin { fields, config } = match read_stdin() {
        Ok(input) => input,
        Err(message) => fail(EXIT_USAGE, &message),
    };
    let run = match invocation.mode.run(fields) {
        Ok(run) => run,
        Err(message) => fail(EXIT_USAGE, &message),
    };
    // As Dokku's constructScript: `set -x` in a shell task where DOKKU_TRACE is 1.
    let trace = config
        .iter()
        .any(|(key, value)| key == "DOKKU_TRACE" && value == "1");
    let (argv, command_variable) = command_line(&invocation, &run, trace);
    let Some(program) = argv.first() else {
        fail(EXIT_USAGE, "--run-exec needs a command");
    };
    check_runnable(program);

    if let Err(message) = install_signal_forwarding(invocation.stop_signal) {
        fail(EXIT_USAGE, &message);
    }
    let mut command = task_command(program);
    command.args(&argv[1..]).stdin(Stdio::null()).envs(config);
    if let Some(value) = command_variable {
        command.env(COMMAND_VARIABLE, value);
    }
    // As Dokku's app-json (`constructScript`): HOME and the directory are /app where it is.
    if invocation.heroku_profile && Path::new("/app").is_dir() {
        command.env("HOME", "/app").current_dir("/app");
    }
    let task = match command.spawn() {
        Ok(task) => task,
        Err(error) => fail(
            // As POSIX shells: 127 for a command not found, 126 for one that cannot run.
            if error.kind() == std::io::ErrorKind::NotFound {
                EXIT_NOT_FOUND
            } else {
                EXIT_NOT_EXECUTABLE
            },
            &format!("cannot start {}: {error}", argv[0]),
        ),
    };
    let task_pid = task.id() as libc::pid_t;
    TASK_PID.store(task_pid, Ordering::SeqCst);
    if let Err(message) = hold_signals(false) {
        fail(EXIT_USAGE, &message);
    }
    exit(reap_until_exit(task_pid));
}

/// The task's process: in a process group of its own, which the forwarded signals go to, so
/// that they reach what a shell task runs, not only the shell (a shell waits for its command
/// and passes nothing on); and with no signal blocked. std's spawn hands the child the
/// parent's mask, which holds the forwarded signals back here, and bash keeps the mask it
/// was given and passes it on.
fn task_command(program: &str) -> Command {
    let mut command = Command::new(program);
    command.process_group(0);
    // SAFETY: between fork and exec only async-signal-safe calls are made (sigemptyset and
    // pthread_sigmask), on a set that lives on the child's stack.
    unsafe {
        command.pre_exec(|| {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            match libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) {
                0 => Ok(()),
                error => Err(std::io::Error::from_raw_os_error(error)),
            }
        });
    }
    command
}

fn parse_arguments(arguments: Vec<String>) -> Result<Invocation, String> {
    let mut shell = None;
    let mut heroku_profile = false;
    let mut stop_signal = None;
    let mut wrap = Vec::new();
    let mut rest = arguments.into_iter();
    while let Some(argument) = rest.next() {
        let mode = match argument.as_str() {
            "--heroku-profile" => {
                heroku_profile = true;
                continue;
            }
            "--wrap" => {
                wrap.push(rest.next().ok_or("--wrap needs a word")?);
                continue;
            }
            "--run-shell" => Mode::Shell,
            "--run-script" => Mode::Script,
            "--run-exec" => Mode::Exec,
            other => {
                if let Some(number) = other.strip_prefix("--stop-signal=") {
                    let signal = number
                        .parse::<libc::c_int>()
                        .ok()
                        .filter(|signal| (1..=64).contains(signal))
                        .ok_or_else(|| format!("`{other}` is not a signal number"))?;
                    stop_signal = Some(signal);
                    continue;
                }
                match other.strip_prefix("--shell=") {
                    Some("auto") => shell = None,
                    Some(path) => shell = Some(path.to_string()),
                    None => return Err(format!("unknown argument `{other}`")),
                }
                continue;
            }
        };
        if let Some(extra) = rest.next() {
            return Err(format!("unexpected argument `{extra}` after {argument}"));
        }
        return Ok(Invocation {
            shell,
            heroku_profile,
            stop_signal,
            wrap,
            mode,
        });
    }
    Err("no command given (--run-shell, --run-script or --run-exec)".into())
}

/// What the trigger wrote on stdin.
#[derive(Debug, PartialEq)]
struct Stdin {
    /// The command's fields.
    fields: Vec<String>,
    /// The app's config.
    config: Vec<(OsString, OsString)>,
}

/// Reads the command's fields, then `KEY=VALUE\0` config entries until end of input.
fn read_stdin() -> Result<Stdin, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|error| format!("cannot read the task from stdin: {error}"))?;
    parse_stdin(&input)
}

fn parse_stdin(input: &[u8]) -> Result<Stdin, String> {
    let mut entries = input.split(|byte| *byte == 0);
    let count: usize = entries
        .next()
        .and_then(|count| std::str::from_utf8(count).ok())
        .and_then(|count| count.parse().ok())
        .ok_or("no field count on stdin")?;
    // Each field takes at least its NUL byte: a count past that is caught below, not allocated.
    let mut fields = Vec::with_capacity(count.min(input.len()));
    for _ in 0..count {
        let field = entries
            .next()
            .ok_or("fewer command fields on stdin than counted")?;
        fields.push(String::from_utf8(field.to_vec()).map_err(|_| "a command field is not UTF-8")?);
    }
    let mut config = Vec::new();
    for entry in entries.filter(|entry| !entry.is_empty()) {
        let equals = entry
            .iter()
            .position(|byte| *byte == b'=')
            .ok_or("a config entry without `=` on stdin")?;
        config.push((
            OsString::from_vec(entry[..equals].to_vec()),
            OsString::from_vec(entry[equals + 1..].to_vec()),
        ));
    }
    Ok(Stdin { fields, config })
}

/// The task's argv, and the value of [`COMMAND_VARIABLE`] for a shell task, which traces its
/// commands where `trace`.
fn command_line(invocation: &Invocation, run: &Run, trace: bool) -> (Vec<String>, Option<String>) {
    let mut argv = invocation.wrap.clone();
    let shell = || invocation.shell.clone().unwrap_or_else(default_shell);
    let mut script = String::new();
    if invocation.heroku_profile {
        // Herokuish images set up PATH and the language runtime in these files.
        script
            .push_str("for file in /app/.profile.d/*; do [ -f \"$file\" ] && . \"$file\"; done\n");
    }
    match run {
        Run::Exec(words) => {
            argv.extend(words.iter().cloned());
            (argv, None)
        }
        Run::Shell(command) => {
            check_absolute_command(command);
            script.push_str(&shell_script(trace));
            argv.extend([shell(), "-c".to_string(), script]);
            (argv, Some(command.clone()))
        }
        Run::Script(path) => {
            let (directory, name) = match path.rsplit_once('/') {
                Some(("", name)) => ("/", name),
                Some((directory, name)) => (directory, name),
                None => (".", path.as_str()),
            };
            // The shell runs the file (no execute bit needed) as `$0 ./NAME` from its folder;
            // paths travel as arguments, never spliced into the script.
            script.push_str("cd -- \"$1\" || exit 126\nexec \"$0\" \"./$2\"");
            let shell = shell();
            argv.extend([
                shell.clone(),
                "-c".to_string(),
                script,
                shell,
                directory.to_string(),
                name.to_string(),
            ]);
            (argv, None)
        }
    }
}

/// The script a shell task runs: Dokku's `set -e; set -o pipefail || true;` (and `set -x;`
/// where `trace`), then the command from [`COMMAND_VARIABLE`], which it unsets first so the
/// task's own processes do not inherit it; the trace starts after that, with the command.
///
/// Dokku's `|| true` does not keep a shell without pipefail running: in dash, a failing `set` is
/// a special builtin's error and ends the shell. A subshell tries the option first instead.
fn shell_script(trace: bool) -> String {
    let trace = if trace { "set -x\n" } else { "" };
    format!(
        "set -e\n(set -o pipefail) 2>/dev/null && set -o pipefail\n\
         eval \"unset {COMMAND_VARIABLE}\n{trace}${COMMAND_VARIABLE}\"\n"
    )
}

/// `/bin/bash` when the image has it (busybox and alpine images do not), else `/bin/sh`.
fn default_shell() -> String {
    if is_executable(Path::new("/bin/bash")) {
        "/bin/bash".into()
    } else {
        "/bin/sh".into()
    }
}

/// A task written as an absolute path that is not executable would fail with the shell's terse
/// "Permission denied"; say what is wrong instead.
/// Only a plain first word is checked: it ends at whitespace or a shell operator, and a word the
/// shell would still expand (quotes, `$`, a backslash, a glob) is left to the shell. The check
/// may only turn the shell's terse failure into a clear one, never refuse what the shell runs.
fn check_absolute_command(command: &str) {
    let first = command
        .trim_start()
        .split(|c: char| c.is_whitespace() || ";&|<>()".contains(c))
        .next()
        .unwrap_or_default();
    let expanded_by_shell = first.contains(['$', '\'', '"', '\\', '`', '*', '?', '[', '{', '~']);
    if first.starts_with('/') && !expanded_by_shell {
        check_runnable(first);
    }
}

fn check_runnable(program: &str) {
    if !program.starts_with('/') {
        return;
    }
    let path = Path::new(program);
    if !path.exists() {
        fail(
            EXIT_NOT_FOUND,
            &format!("{program}: no such file in the image"),
        );
    }
    if !is_executable(path) {
        fail(
            EXIT_NOT_EXECUTABLE,
            &format!(
                "{program} is not executable; make it executable in the image (chmod +x) or run it through a shell (sh {program})"
            ),
        );
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

extern "C" fn forward_signal(signal: libc::c_int) {
    send_to_task(signal);
}

/// The handler of the container's stop signal where it is not SIGTERM (an image's `STOPSIGNAL
/// SIGWINCH`, say): `docker stop` means "terminate", which the task hears as SIGTERM.
extern "C" fn forward_as_sigterm(_: libc::c_int) {
    send_to_task(libc::SIGTERM);
}

/// Sends `signal` to the task's process group ([`task_command`]), whose ID is the task's PID.
/// Async-signal-safe: only an atomic and kill.
fn send_to_task(signal: libc::c_int) {
    let pid = TASK_PID.load(Ordering::SeqCst);
    if pid > 0 {
        FORWARDED_ONE.store(true, Ordering::SeqCst);
        // SAFETY: kill and the errno location are async-signal-safe and take no memory; errno
        // is put back as it was, for the code this handler interrupted (a waitpid's ECHILD).
        unsafe {
            let errno = *libc::__errno_location();
            // A task that moved itself to another group leaves its own empty: then the task.
            if libc::kill(-pid, signal) != 0 {
                libc::kill(pid, signal);
            }
            *libc::__errno_location() = errno;
        }
    }
}

/// Installs the handlers: the forwarded signals are passed on as they are, and the container's
/// stop signal, when it is another (`stop_signal`), as SIGTERM.
fn install_signal_forwarding(stop_signal: Option<libc::c_int>) -> Result<(), String> {
    let handlers = FORWARDED
        .iter()
        .map(|&signal| (signal, forward_signal as extern "C" fn(libc::c_int)))
        .chain(
            stop_signal.map(|signal| (signal, forward_as_sigterm as extern "C" fn(libc::c_int))),
        );
    for (signal, handler) in handlers {
        // SAFETY: each handler only touches atomics and calls kill, both async-signal-safe.
        // The struct is zeroed (a valid sigaction) before the fields that matter are set, and
        // sigemptyset gets a pointer to that live struct's mask.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            return Err(format!(
                "cannot forward signal {signal} to the task: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Blocks every signal that may come asynchronously (a `docker stop` may come at once, whatever
/// the container's stop signal is), or unblocks them all: held back until the handlers exist
/// and the task does. Those a fault raises (SIGSEGV and the like) are left alone.
fn hold_signals(blocked: bool) -> Result<(), String> {
    // SAFETY: the set is initialised by sigfillset before use; every pointer is to a live
    // local; pthread_sigmask has no other preconditions.
    let changed = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for synchronous in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGSYS,
        ] {
            libc::sigdelset(&mut set, synchronous);
        }
        let how = if blocked {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut())
    };
    if changed == 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot {} the forwarded signals: {}",
            if blocked { "hold back" } else { "release" },
            std::io::Error::from_raw_os_error(changed)
        ))
    }
}

/// Waits for every child, orphans included (PID 1 inherits them), until the task itself exits;
/// returns its exit status, 128+N when signal N ended it. When a signal was forwarded, it then
/// waits for the rest of the task's group too, which got the signal with it
/// ([`reap_the_rest_of_the_group`]): a shell task dies at once of SIGTERM while the script it
/// runs is still in its trap. What is left when the helper exits dies with the container.
fn reap_until_exit(task_pid: libc::pid_t) -> i32 {
    let task_status = loop {
        let mut status: libc::c_int = 0;
        // SAFETY: status is a valid pointer for the duration of the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == -1 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            fail(EXIT_USAGE, "lost track of the task process");
        }
        if pid != task_pid {
            continue;
        }
        if libc::WIFEXITED(status) {
            break libc::WEXITSTATUS(status);
        }
        if libc::WIFSIGNALED(status) {
            break 128 + libc::WTERMSIG(status);
        }
    };
    if FORWARDED_ONE.load(Ordering::SeqCst) {
        reap_the_rest_of_the_group(task_pid);
    }
    task_status
}

/// How long the rest of the task's group may take to end after a forwarded signal, once the
/// task itself has: the trigger's longest grace. (A stop kills the container at its own.)
const GROUP_GRACE: Duration = Duration::from_secs(10);

/// After a forwarded signal ended the task, waits while its process group still has members
/// (they got the signal with it: the script a shell task ran, in its trap), reaping what ends,
/// for at most [`GROUP_GRACE`]. Nothing outside the group is waited for: a daemon in a
/// session of its own, or what tini moved to a group of its own, ends with the container.
fn reap_the_rest_of_the_group(task_pid: libc::pid_t) {
    let deadline = Instant::now() + GROUP_GRACE;
    loop {
        // Every child that has ended, without blocking.
        // SAFETY: a null status pointer is allowed.
        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        // SAFETY: signal 0 only asks whether the group has a member; no memory is passed.
        let members = unsafe { libc::kill(-task_pid, 0) } == 0;
        if !members || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn fail(code: i32, message: &str) -> ! {
    // A closed stderr must not turn a clear failure into a panic.
    let _ = writeln!(std::io::stderr(), "deploy-tasks: {message}");
    exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_starts_in_its_own_group_with_no_signal_blocked_while_the_helper_holds_them_back() {
        hold_signals(true).unwrap();
        let mask_of = |status: &str| {
            let line = status
                .lines()
                .find(|line| line.starts_with("SigBlk:"))
                .unwrap();
            u64::from_str_radix(line.trim_start_matches("SigBlk:").trim(), 16).unwrap()
        };
        let ours = mask_of(&std::fs::read_to_string("/proc/thread-self/status").unwrap());
        // cat, not a shell: some shells clear their mask themselves, and bash does not.
        let child = task_command("cat")
            .args(["/proc/self/status", "/proc/self/stat"])
            .output()
            .unwrap();
        hold_signals(false).unwrap();
        let sigterm_bit = 1u64 << (libc::SIGTERM - 1);
        assert_ne!(ours & sigterm_bit, 0, "SIGTERM is not held back");
        let text = String::from_utf8_lossy(&child.stdout);
        assert_eq!(mask_of(&text), 0, "the task inherited a blocked signal");
        // `/proc/self/stat`: PID (COMMAND) STATE PPID PGRP ...
        let stat = text.lines().last().unwrap();
        let pid = stat.split_whitespace().next().unwrap();
        let (_, fields) = stat.rsplit_once(')').unwrap();
        let group = fields.split_whitespace().nth(2).unwrap();
        assert_eq!(group, pid, "the task is not in a process group of its own");
        let now = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        assert_eq!(mask_of(&now) & sigterm_bit, 0);
    }

    fn invocation(mode: Mode) -> Invocation {
        Invocation {
            shell: Some("/bin/sh".into()),
            heroku_profile: false,
            stop_signal: None,
            wrap: Vec::new(),
            mode,
        }
    }

    /// Runs the shell form of `command` with the host's `shell`, as the helper would.
    fn run_shell(shell: &str, command: &str) -> std::process::Output {
        run_shell_traced(shell, command, false)
    }

    fn run_shell_traced(shell: &str, command: &str, trace: bool) -> std::process::Output {
        let mut invocation = invocation(Mode::Shell);
        invocation.shell = Some(shell.into());
        let (argv, variable) = command_line(&invocation, &Run::Shell(command.into()), trace);
        Command::new(&argv[0])
            .args(&argv[1..])
            .env(COMMAND_VARIABLE, variable.unwrap())
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap()
    }

    #[test]
    fn stdin_holds_the_counted_fields_then_the_config() {
        let Stdin { fields, config } =
            parse_stdin(b"2\0/entry\0migrate now\0A=1\0B=x=y\0").unwrap();
        assert_eq!(fields, ["/entry", "migrate now"]);
        assert_eq!(
            config,
            [
                (OsString::from("A"), OsString::from("1")),
                (OsString::from("B"), OsString::from("x=y"))
            ]
        );
        assert_eq!(
            parse_stdin(b"1\0\0"),
            Ok(Stdin {
                fields: vec![String::new()],
                config: Vec::new()
            })
        );
        assert!(parse_stdin(b"").is_err());
        assert!(parse_stdin(b"3\0one\0").is_err());
        assert!(parse_stdin(b"1\0cmd\0NOEQUALS\0").is_err());
        // A count no input could hold is refused, not allocated (it aborted the helper).
        assert!(parse_stdin(b"18446744073709551615\0one\0").is_err());
        assert!(parse_stdin(b"999999999999\0one\0").is_err());
    }

    #[test]
    fn the_mode_takes_no_value_on_the_command_line() {
        let parsed =
            parse_arguments(vec!["--wrap".into(), "/tini".into(), "--run-shell".into()]).unwrap();
        assert_eq!(parsed.wrap, ["/tini"]);
        assert!(matches!(parsed.mode, Mode::Shell));
        assert!(parse_arguments(vec!["--run-shell".into(), "echo secret".into()]).is_err());
        assert!(parse_arguments(vec!["--heroku-profile".into()]).is_err());
        assert!(Mode::Shell.run(vec![]).is_err());
        assert!(Mode::Script.run(vec!["a".into(), "b".into()]).is_err());
    }

    #[test]
    fn the_stop_signal_is_a_signal_number() {
        let parsed =
            parse_arguments(vec!["--stop-signal=28".into(), "--run-shell".into()]).unwrap();
        assert_eq!(parsed.stop_signal, Some(libc::SIGWINCH));
        for bad in ["--stop-signal=WINCH", "--stop-signal=0", "--stop-signal=65"] {
            assert!(
                parse_arguments(vec![bad.into(), "--run-shell".into()]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_shell_task_gets_its_command_in_the_environment_not_in_its_arguments() {
        let (argv, variable) = command_line(
            &invocation(Mode::Shell),
            &Run::Shell("echo s3cr3t".into()),
            false,
        );
        assert_eq!(variable.as_deref(), Some("echo s3cr3t"));
        assert!(!argv.iter().any(|arg| arg.contains("s3cr3t")), "{argv:?}");
        let (argv, variable) = command_line(
            &invocation(Mode::Exec),
            &Run::Exec(vec!["/entry".into(), "migrate".into()]),
            false,
        );
        assert_eq!(
            (argv, variable),
            (vec!["/entry".into(), "migrate".into()], None)
        );
    }

    #[test]
    fn with_dokku_trace_a_shell_task_traces_its_commands_and_nothing_of_the_helpers() {
        let output = run_shell_traced("/bin/bash", "echo one; echo two", true);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "one\ntwo\n");
        let trace = String::from_utf8_lossy(&output.stderr);
        // bash marks what eval runs with a second `+`.
        let traced: Vec<&str> = trace
            .lines()
            .map(|line| line.trim_start_matches('+'))
            .collect();
        assert_eq!(traced, [" echo one", " echo two"], "{trace}");
        assert!(!trace.contains(COMMAND_VARIABLE), "{trace}");
        assert!(run_shell("/bin/bash", "echo one").stderr.is_empty());
    }

    #[test]
    fn a_failing_pipeline_fails_the_task_in_a_shell_with_pipefail() {
        let output = run_shell("/bin/bash", "false | cat; echo not reached");
        assert_eq!(output.status.code(), Some(1));
        assert!(output.stdout.is_empty(), "{output:?}");
    }

    #[test]
    fn a_shell_without_pipefail_still_runs_the_task_with_set_e() {
        // dash, Debian's /bin/sh, has no pipefail; Dokku's `set -o pipefail || true` ends it.
        let dash = Path::new("/usr/bin/dash");
        assert!(
            dash.exists(),
            "dash is essential in Debian; this test needs it"
        );
        let output = run_shell(
            "/usr/bin/dash",
            "false | true; echo ran; false; echo not reached",
        );
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "ran\n");
        assert!(output.stderr.is_empty(), "{output:?}");
    }

    #[test]
    fn the_command_is_not_passed_on_to_the_task_and_runs_as_shell_code() {
        let output = run_shell(
            "/bin/bash",
            "f() { echo \"in f: $1\"; }; f 'a b'; echo \"left: ${DEPLOY_TASKS_COMMAND-unset}\"; env | grep -c DEPLOY_TASKS || true",
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "in f: a b\nleft: unset\n0\n",
            "{output:?}"
        );
    }
}
