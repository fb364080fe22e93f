//! Something between a trigger and the engine that holds one of its calls until the test says,
//! or fails a kind of call: to force an interleaving with the real engine, on either backend.
//! On the CLI path it is a wrapper script named `docker` around the real CLI; on the Engine API
//! path, a proxy on a Unix socket of the test's own in front of the engine's (`DOCKER_HOST`),
//! which the CLI calls the Engine API path makes go through too.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use super::{docker_bin, eventually, Backend, TestHost, BOUND};

/// A kind of call to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `docker commit`, `POST /commit`.
    Commit,
    /// `docker tag`, `POST /images/ID/tag`.
    Tag,
    /// `docker build`, `POST /build`.
    Build,
    /// The creation of a task container: `docker run`, `POST /containers/create` (not the
    /// discovery's container).
    TaskContainer,
    /// A read of a task definition out of the container made for it: `docker cp`, `GET
    /// /containers/NAME/archive`.
    DefinitionRead,
}

impl Call {
    fn cli_verb(self) -> &'static str {
        match self {
            Call::Commit => "commit",
            Call::Tag => "tag",
            Call::Build => "build",
            Call::TaskContainer => "run",
            Call::DefinitionRead => "cp",
        }
    }

    /// Whether an HTTP request line (`POST /v1.41/commit?... HTTP/1.1`) is this call.
    fn is(self, request_line: &str) -> bool {
        let mut words = request_line.split(' ');
        let (Some(method), Some(target)) = (words.next(), words.next()) else {
            return false;
        };
        // The CLI puts the API version first (`/v1.41/...`); the plugin does not.
        let path = match target.strip_prefix("/v") {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
                rest.find('/').map_or(target, |slash| &rest[slash..])
            }
            _ => target,
        };
        if self == Call::DefinitionRead {
            return method == "GET" && path.contains(".discover.") && path.contains("/archive");
        }
        method == "POST"
            && match self {
                Call::Commit => path.starts_with("/commit"),
                Call::Tag => path.starts_with("/images/") && path.contains("/tag"),
                Call::Build => path.starts_with("/build"),
                Call::TaskContainer => {
                    path.starts_with("/containers/create") && !path.contains(".discover.")
                }
                Call::DefinitionRead => false,
            }
    }
}

/// What the interposer does to the calls it matches.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Holds the `nth` (1 for the first) until released, then lets it run to its end.
    Hold(Call, usize),
    /// Fails every one, as the engine fails a call.
    Fail(Call),
    /// Lets every call through, until [`Interposer::freeze`].
    Pass,
}

pub struct Interposer {
    backend: Backend,
    dir: tempfile::TempDir,
    gates: Arc<Gates>,
}

/// The held call's progress, for the proxy.
#[derive(Default)]
struct Gates {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    seen: usize,
    held: bool,
    open: bool,
    finished: bool,
    frozen: bool,
}

impl Interposer {
    /// Holds the `nth` `call` (1 for the first) until [`Interposer::release`]; it then runs to
    /// its end, even if the trigger that made it is gone, as a CLI in a process group of its own
    /// does and as the engine does for a client that went away. Unreleased, it fails after
    /// [`BOUND`].
    pub fn holding(backend: Backend, call: Call, nth: usize) -> Interposer {
        Interposer::new(backend, Rule::Hold(call, nth))
    }

    /// Fails every `call` as the engine fails one: "VERB refused by the test".
    pub fn failing(backend: Backend, call: Call) -> Interposer {
        Interposer::new(backend, Rule::Fail(call))
    }

    /// Lets every call through, until [`Interposer::freeze`].
    pub fn passing(backend: Backend) -> Interposer {
        Interposer::new(backend, Rule::Pass)
    }

    /// From now on the engine seems to stop answering: no call gets an answer, nor any more of
    /// one under way, until [`Interposer::thaw`] (at most [`BOUND`] times 3); on the Engine API
    /// path, a call made meanwhile is lost.
    pub fn freeze(&self) {
        std::fs::write(self.dir.path().join("frozen"), "").unwrap();
        self.gates.state.lock().unwrap().frozen = true;
        self.gates.changed.notify_all();
    }

    /// Ends [`Interposer::freeze`].
    pub fn thaw(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("frozen"));
        self.gates.state.lock().unwrap().frozen = false;
        self.gates.changed.notify_all();
    }

    fn new(backend: Backend, rule: Rule) -> Interposer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let gates = Arc::new(Gates::default());
        match backend {
            Backend::Cli => write_wrapper(dir.path(), rule),
            Backend::EngineApi => start_proxy(&dir.path().join("engine.sock"), rule, &gates),
        }
        Interposer {
            backend,
            dir,
            gates,
        }
    }

    /// A trigger's command for `host` through the interposer, with its output piped.
    pub fn trigger(&self, host: &TestHost, trigger: &str, args: &[&str]) -> Command {
        let mut command = host.trigger_command(trigger, args);
        match self.backend {
            Backend::Cli => command
                .env("DOCKER_BIN", self.dir.path().join("docker"))
                .env("DOKKU_DEPLOY_TASKS_ENGINE_API", "0"),
            Backend::EngineApi => command.env(
                "DOCKER_HOST",
                format!("unix://{}", self.dir.path().join("engine.sock").display()),
            ),
        };
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    /// Starts `host`'s trigger for its app through the interposer and returns once the held call
    /// has started; panics after [`BOUND`].
    pub fn start_held(&self, host: &TestHost, trigger: &str) -> std::process::Child {
        let child = self
            .trigger(host, trigger, &[&host.app])
            .spawn()
            .expect("starting the trigger");
        self.wait_until_held();
        child
    }

    /// Returns once the held call has started; panics after [`BOUND`].
    pub fn wait_until_held(&self) {
        assert!(
            self.wait_for("held", |state| state.held),
            "the interposer never held its call"
        );
    }

    /// Lets the held call go on.
    pub fn release(&self) {
        std::fs::write(self.dir.path().join("open"), "").unwrap();
        self.gates.state.lock().unwrap().open = true;
        self.gates.changed.notify_all();
    }

    /// Returns once the released call has ended; panics after [`BOUND`].
    pub fn wait_until_finished(&self) {
        assert!(
            self.wait_for("finished", |state| state.finished),
            "the held call never finished"
        );
    }

    /// Waits at most [`BOUND`] for the wrapper's gate file `file`, or the proxy's state `done`.
    fn wait_for(&self, file: &str, done: fn(&GateState) -> bool) -> bool {
        match self.backend {
            Backend::Cli => {
                let path = self.dir.path().join(file);
                eventually(BOUND, || path.exists())
            }
            Backend::EngineApi => {
                let state = self.gates.state.lock().unwrap();
                let (state, _) = self
                    .gates
                    .changed
                    .wait_timeout_while(state, BOUND, |state| !done(state))
                    .unwrap();
                done(&state)
            }
        }
    }
}

/// The wrapper script around the real CLI, in `dir`.
fn write_wrapper(dir: &Path, rule: Rule) {
    use std::os::unix::fs::PermissionsExt;
    let frozen = format!(
        r#"deadline=$(( $(date +%s) + {seconds} ))
while [ -e "$gates/frozen" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
"#,
        seconds = BOUND.as_secs() * 3
    );
    let matches = |call: Call| {
        match call {
        // With Dokku's plugins the task container is made by `create`, then started.
        Call::TaskContainer => r#"{ [ "$1" = run ] || { [ "$1" = create ] && ! echo "$*" | grep -q '\.discover\.'; }; }"#.to_string(),
        other => format!(r#"[ "$1" = '{}' ]"#, other.cli_verb()),
    }
    };
    let body = match rule {
        Rule::Pass => String::new(),
        Rule::Hold(call, nth) => format!(
            r#"if {matched}; then
    echo >> "$gates/calls"
    if [ "$(wc -l < "$gates/calls")" -eq {nth} ]; then
        : > "$gates/held"
        deadline=$(( $(date +%s) + {seconds} ))
        while [ ! -e "$gates/open" ]; do
            if [ "$(date +%s)" -ge "$deadline" ]; then
                echo "the test never released docker {verb}" >&2
                exit 1
            fi
            sleep 0.02
        done
        "$real" "$@"
        status=$?
        : > "$gates/finished"
        exit $status
    fi
fi
"#,
            matched = matches(call),
            verb = call.cli_verb(),
            seconds = BOUND.as_secs()
        ),
        Rule::Fail(call) => format!(
            r#"if {matched}; then
    echo "Error response from daemon: {verb} refused by the test" >&2
    exit 1
fi
"#,
            matched = matches(call),
            verb = call.cli_verb()
        ),
    };
    let body = format!("{frozen}{body}");
    let script = format!(
        "#!/bin/sh\n# A test's wrapper around the real Docker CLI.\ngates='{}'\nreal='{}'\n{body}exec \"$real\" \"$@\"\n",
        dir.display(),
        docker_bin()
    );
    let bin = dir.join("docker");
    std::fs::write(&bin, script).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The engine's own socket.
const ENGINE: &str = "/var/run/docker.sock";

/// Listens at `socket` and passes every connection on to the engine, applying `rule` to the
/// first request of each. Every request goes on with `Connection: close`, so that a client never
/// sends a second request on a connection the proxy no longer reads.
fn start_proxy(socket: &Path, rule: Rule, gates: &Arc<Gates>) {
    let listener = UnixListener::bind(socket).expect("binding the proxy's socket");
    let gates = Arc::clone(gates);
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let gates = Arc::clone(&gates);
            thread::spawn(move || {
                let _ = proxy_connection(client, rule, &gates);
            });
        }
    });
}

/// Waits while the interposer is frozen, at most [`BOUND`] times 3.
fn while_frozen(gates: &Gates) {
    let state = gates.state.lock().unwrap();
    let _ = gates
        .changed
        .wait_timeout_while(state, BOUND * 3, |state| state.frozen)
        .unwrap();
}

fn proxy_connection(client: UnixStream, rule: Rule, gates: &Gates) -> std::io::Result<()> {
    // A call made while frozen is never answered, nor passed on later: the hung engine lost it.
    if gates.state.lock().unwrap().frozen {
        while_frozen(gates);
        return Ok(());
    }
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if from_client.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let end = line == "\r\n";
        head.push(line);
        if end {
            break;
        }
    }
    let request_line = head[0].trim_end().to_string();
    let upgrade = head
        .iter()
        .any(|line| line.to_ascii_lowercase().starts_with("upgrade:"));
    let mut held = false;
    match rule {
        Rule::Fail(call) if call.is(&request_line) => {
            let body = format!(r#"{{"message":"{} refused by the test"}}"#, call.cli_verb());
            let mut client = client;
            return write!(
                client,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Rule::Hold(call, nth) if call.is(&request_line) => {
            let mut state = gates.state.lock().unwrap();
            state.seen += 1;
            if state.seen == nth {
                held = true;
                state.held = true;
                gates.changed.notify_all();
                let (state, _) = gates
                    .changed
                    .wait_timeout_while(state, BOUND, |state| !state.open)
                    .unwrap();
                if !state.open {
                    return Ok(());
                }
            }
        }
        _ => {}
    }
    let mut engine = UnixStream::connect(ENGINE)?;
    for line in &head {
        let lower = line.to_ascii_lowercase();
        if !upgrade && lower.starts_with("connection:") {
            continue;
        }
        if line == "\r\n" && !upgrade {
            engine.write_all(b"Connection: close\r\n")?;
        }
        engine.write_all(line.as_bytes())?;
    }
    // What the client sends after the head (a body, or an attached stream's input).
    let mut to_engine = engine.try_clone()?;
    thread::spawn(move || {
        let buffered = from_client.buffer().to_vec();
        let _ = to_engine.write_all(&buffered);
        let mut rest = from_client.into_inner();
        let _ = std::io::copy(&mut rest, &mut to_engine);
        let _ = to_engine.shutdown(std::net::Shutdown::Write);
    });
    // The answer, read to its end even when the client has gone, so that the engine finishes.
    let mut to_client = client;
    let mut chunk = [0u8; 64 * 1024];
    let mut client_gone = false;
    loop {
        let read = engine.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        while_frozen(gates);
        if !client_gone && to_client.write_all(&chunk[..read]).is_err() {
            client_gone = true;
        }
    }
    let _ = to_client.shutdown(std::net::Shutdown::Write);
    if held {
        gates.state.lock().unwrap().finished = true;
        gates.changed.notify_all();
    }
    Ok(())
}
