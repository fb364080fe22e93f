//! The helper that runs as PID 1 inside every task container.
//!
//! The trigger bind-mounts this static binary read-only under `/dev` (mount points there leave
//! nothing in a committed layer) and starts the container with `docker run -i`. The helper:
//! - reads the app's config from its stdin, as `KEY=VALUE` entries each ended by a NUL byte, so
//!   that no secret appears on a command line, in the container's config or on disk;
//! - gives the task `/dev/null` as stdin;
//! - picks the shell (`/bin/bash` when the image has it, else `/bin/sh`) unless told one;
//! - forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT to the task: as PID 1 it would otherwise
//!   ignore them, and `docker stop` could only end the task with SIGKILL;
//! - reaps orphans, and exits with the task's status (128+N when a signal ended it).
//!
//! Usage: `deploy-tasks-helper [--shell=auto|PATH] [--heroku-profile] [--wrap WORD]...
//!         (--run-shell COMMAND | --run-script PATH | --run-exec WORD...)`
//!
//! `--run-script` runs a script file with the shell from the script's own directory; the file
//! needs no execute bit.
//!
//! It uses only std and libc, so that a `crt-static` build runs in any image, busybox included.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{exit, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

/// Exit status when the command exists but cannot be executed, as in POSIX shells.
const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit status when the command does not exist, as in POSIX shells.
const EXIT_NOT_FOUND: i32 = 127;
/// Exit status for a usage error: the trigger and the helper disagree, a bug.
const EXIT_USAGE: i32 = 125;

/// The task's process ID once started; 0 before.
static TASK_PID: AtomicI32 = AtomicI32::new(0);
/// A signal that arrived before the task was started, to forward once it is.
static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signals passed on to the task.
const FORWARDED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// What to run, as the trigger asked.
struct Invocation {
    shell: Option<String>,
    heroku_profile: bool,
    wrap: Vec<String>,
    run: Run,
}

enum Run {
    Shell(String),
    Script(String),
    Exec(Vec<String>),
}

fn main() {
    let invocation = match parse_arguments(std::env::args().skip(1).collect()) {
        Ok(invocation) => invocation,
        Err(message) => fail(EXIT_USAGE, &message),
    };
    let config = match read_config_from_stdin() {
        Ok(config) => config,
        Err(message) => fail(EXIT_USAGE, &message),
    };
    let argv = command_line(&invocation);
    check_runnable(&argv[0]);

    install_signal_forwarding();
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).stdin(Stdio::null()).envs(config);
    if invocation.heroku_profile {
        command.env("HOME", "/app").current_dir("/app");
    }
    let task = match command.spawn() {
        Ok(task) => task,
        Err(error) => fail(
            EXIT_NOT_EXECUTABLE,
            &format!("cannot start {}: {error}", argv[0]),
        ),
    };
    let task_pid = task.id() as libc::pid_t;
    TASK_PID.store(task_pid, Ordering::SeqCst);
    let pending = PENDING_SIGNAL.swap(0, Ordering::SeqCst);
    if pending != 0 {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(task_pid, pending) };
    }
    exit(reap_until_exit(task_pid));
}

fn parse_arguments(arguments: Vec<String>) -> Result<Invocation, String> {
    let mut shell = None;
    let mut heroku_profile = false;
    let mut wrap = Vec::new();
    let mut rest = arguments.into_iter();
    while let Some(argument) = rest.next() {
        match argument.as_str() {
            "--heroku-profile" => heroku_profile = true,
            "--wrap" => wrap.push(rest.next().ok_or("--wrap needs a word")?),
            "--run-shell" => {
                let command = rest.next().ok_or("--run-shell needs a command")?;
                return Ok(Invocation {
                    shell,
                    heroku_profile,
                    wrap,
                    run: Run::Shell(command),
                });
            }
            "--run-script" => {
                let path = rest.next().ok_or("--run-script needs a path")?;
                return Ok(Invocation {
                    shell,
                    heroku_profile,
                    wrap,
                    run: Run::Script(path),
                });
            }
            "--run-exec" => {
                let words: Vec<String> = rest.collect();
                if words.is_empty() && wrap.is_empty() {
                    return Err("--run-exec needs a command".into());
                }
                return Ok(Invocation {
                    shell,
                    heroku_profile,
                    wrap,
                    run: Run::Exec(words),
                });
            }
            other => match other.strip_prefix("--shell=") {
                Some("auto") => shell = None,
                Some(path) => shell = Some(path.to_string()),
                None => return Err(format!("unknown argument `{other}`")),
            },
        }
    }
    Err("no command given (--run-shell, --run-script or --run-exec)".into())
}

/// Reads `KEY=VALUE\0` entries until end of input.
fn read_config_from_stdin() -> Result<Vec<(OsString, OsString)>, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|error| format!("cannot read the app's config from stdin: {error}"))?;
    let mut config = Vec::new();
    for entry in input
        .split(|byte| *byte == 0)
        .filter(|entry| !entry.is_empty())
    {
        let equals = entry
            .iter()
            .position(|byte| *byte == b'=')
            .ok_or("a config entry without `=` on stdin")?;
        config.push((
            OsString::from_vec(entry[..equals].to_vec()),
            OsString::from_vec(entry[equals + 1..].to_vec()),
        ));
    }
    Ok(config)
}

fn command_line(invocation: &Invocation) -> Vec<String> {
    let mut argv = invocation.wrap.clone();
    let shell = || invocation.shell.clone().unwrap_or_else(default_shell);
    let mut script = String::new();
    if invocation.heroku_profile {
        // Herokuish images set up PATH and the language runtime in these files.
        script
            .push_str("for file in /app/.profile.d/*; do [ -f \"$file\" ] && . \"$file\"; done\n");
    }
    match &invocation.run {
        Run::Exec(words) => argv.extend(words.iter().cloned()),
        Run::Shell(command) => {
            check_absolute_command(command);
            script.push_str("set -e\n");
            script.push_str(command);
            argv.extend([shell(), "-c".to_string(), script]);
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
        }
    }
    argv
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
    let pid = TASK_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe and has no memory-safety preconditions.
        unsafe { libc::kill(pid, signal) };
    } else {
        PENDING_SIGNAL.store(signal, Ordering::SeqCst);
    }
}

fn install_signal_forwarding() {
    for signal in FORWARDED {
        // SAFETY: the handler only touches atomics and calls kill, both async-signal-safe. The
        // struct is zeroed (a valid sigaction) before the fields that matter are set.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Waits for every child, orphans included (PID 1 inherits them), until the task itself exits;
/// returns its exit status, 128+N when signal N ended it.
fn reap_until_exit(task_pid: libc::pid_t) -> i32 {
    loop {
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
            return libc::WEXITSTATUS(status);
        }
        if libc::WIFSIGNALED(status) {
            return 128 + libc::WTERMSIG(status);
        }
    }
}

fn fail(code: i32, message: &str) -> ! {
    // A closed stderr must not turn a clear failure into a panic.
    let _ = writeln!(std::io::stderr(), "deploy-tasks: {message}");
    exit(code)
}
