//! The transport of the Engine API over its Unix socket: one HTTP/1.1 request a connection,
//! attach upgrades, chunked and streamed answers, and reads that give up at the engine's time
//! limit or a stop signal. What the plugin asks through it is in [`crate::docker::EngineApi`].
//!
//! Every Docker CLI process is 24 to 40 MiB resident whatever it does, more than the trigger
//! needs in all; speaking the API directly keeps the trigger's largest process at a few MiB
//! while a task streams any amount of output, and saves the CLI's start-up on every call. It is
//! used only where the CLI would talk to the same engine: `DOCKER_BIN` is Docker's CLI, and
//! `DOCKER_HOST`/`DOCKER_CONTEXT` name the local socket. Everything else goes through the CLI.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::interrupt;
use crate::output::{write_line, Stream};

/// How often a read from the engine looks for a stop signal and at its time limit.
const TICK: Duration = Duration::from_millis(100);

/// The default socket of a local Docker engine.
const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// A local Docker engine reached through its Unix socket.
#[derive(Debug, Clone)]
pub struct Engine {
    socket: PathBuf,
    trace: bool,
    /// How long one call may take before the engine is deemed hung.
    limit: Duration,
}

/// An HTTP response: status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The engine's own message for a failed call (`{"message": "..."}`), else the body.
    pub fn message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|value| value.get("message")?.as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().to_string())
    }
}

impl Engine {
    /// The engine the CLI at `docker_bin` would talk to, when it is a local Docker engine.
    pub fn local(docker_bin: &Path, trace: bool, limit: Duration) -> Option<Engine> {
        let cli = docker_bin.file_name()?.to_str()?;
        if cli != "docker" || !cli_exists(docker_bin) {
            return None;
        }
        if std::env::var("DOCKER_CONTEXT")
            .is_ok_and(|context| !context.is_empty() && context != "default")
        {
            return None;
        }
        let socket = match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.is_empty() => PathBuf::from(host.strip_prefix("unix://")?),
            _ => {
                if cli_config_names_a_context() {
                    return None;
                }
                PathBuf::from(DEFAULT_SOCKET)
            }
        };
        use std::os::unix::fs::FileTypeExt;
        let is_socket =
            std::fs::metadata(&socket).is_ok_and(|metadata| metadata.file_type().is_socket());
        (is_socket && !is_podmans(&socket)).then_some(Engine {
            socket,
            trace,
            limit,
        })
    }

    /// Sends one request and reads the whole response, within the engine's time limit and
    /// until a stop signal.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        self.request_within(
            method,
            path,
            body.map(Payload::Json),
            Patience::Limited(self.limit),
        )
    }

    /// Starts a `POST` of a tar archive (a build's context) with its last `held` bytes kept back:
    /// the engine starts on the request (the classic builder starts the process that unpacks a
    /// context) and waits for them, so that this work overlaps whatever the caller does
    /// meanwhile. [`HeldPost::finish`] sends them and reads the answer, a call that must finish;
    /// dropping the [`HeldPost`] closes the connection, and the engine drops the request.
    pub fn post_archive_held(&self, path: &str, archive: &[u8], held: usize) -> Result<HeldPost> {
        let held = held.min(archive.len());
        let (sent, tail) = archive.split_at(archive.len() - held);
        let reader = self.send(
            "POST",
            path,
            Some(Payload::Archive(sent)),
            tail.len(),
            &[("Connection", "close")],
            Patience::Finishing(self.limit),
        )?;
        Ok(HeldPost {
            reader,
            tail: tail.to_vec(),
        })
    }

    /// [`Engine::request`] for a call that must finish (a commit, a tag, a removal): a stop
    /// signal cuts it only once [`interrupt::FINISHING_GRACE`] is over.
    pub fn request_to_the_end(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        self.request_within(
            method,
            path,
            body.map(Payload::Json),
            Patience::Finishing(self.limit),
        )
    }

    /// [`Engine::request`] for a call that lasts as long as a task does (`wait`): no time
    /// limit, and no stop signal cuts it, since the caller stops the task and so ends it.
    pub fn request_unbounded(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        self.request_within(method, path, body.map(Payload::Json), Patience::Unbounded)
    }

    /// Sends one request without a body and returns the status and the body as a reader, for
    /// answers too large to hold (an archive of a container's files): the caller reads what it
    /// needs, and dropping the reader closes the connection. Reads keep the engine's time limit.
    pub fn stream(&self, method: &str, path: &str) -> Result<(u16, Body)> {
        self.respond(method, path, None, Patience::Limited(self.limit))
    }

    fn request_within(
        &self,
        method: &str,
        path: &str,
        body: Option<Payload>,
        patience: Patience,
    ) -> Result<Response> {
        let (status, body) = self.respond(method, path, body, patience)?;
        read_whole(status, body)
    }

    fn respond(
        &self,
        method: &str,
        path: &str,
        body: Option<Payload>,
        patience: Patience,
    ) -> Result<(u16, Body)> {
        let reader = self.send(method, path, body, 0, &[("Connection", "close")], patience)?;
        answer(reader)
    }

    /// Sends a request that upgrades the connection to a raw stream (attach), returning the
    /// stream to read from and a handle to write to.
    pub fn upgrade(&self, path: &str) -> Result<(BufReader<Patient>, UnixStream)> {
        let mut reader = self.send(
            "POST",
            path,
            None,
            0,
            &[("Connection", "Upgrade"), ("Upgrade", "tcp")],
            Patience::Limited(self.limit),
        )?;
        let (status, headers) = read_head(&mut reader)?;
        if status != 101 && status != 200 {
            // A refusal's body, read within the call's time limit: the connection was asked
            // to upgrade, not to close, so its end may never come.
            let refusal = body(reader, &headers).message(status);
            bail!("the engine refused `POST {path}`: {refusal}");
        }
        // The stream then carries the task's output for as long as it runs.
        reader.get_mut().patience = Patience::Unbounded;
        let writer = reader
            .get_ref()
            .stream
            .try_clone()
            .context("sharing the attach connection")?;
        writer
            .set_write_timeout(Some(self.limit))
            .context("bounding writes to the engine")?;
        Ok((reader, writer))
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Payload>,
        held: usize,
        headers: &[(&str, &str)],
        patience: Patience,
    ) -> Result<BufReader<Patient>> {
        if self.trace {
            write_line(Stream::Stderr, &format!("+ engine {method} {path}\n"));
        }
        let call = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut stream = connect(&self.socket, patience, &call).map_err(|error| {
            anyhow!(
                "the Docker engine does not answer at {} ({error}): start it, or check DOCKER_HOST",
                self.socket.display()
            )
        })?;
        let (content_type, body): (_, Cow<[u8]>) = match body {
            Some(Payload::Json(value)) => ("application/json", serde_json::to_vec(value)?.into()),
            Some(Payload::Archive(bytes)) => ("application/x-tar", bytes.into()),
            None => ("", Cow::Borrowed(&[])),
        };
        // `held` more bytes follow later ([`HeldPost::finish`]).
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: {}\r\n",
            body.len() + held
        );
        if !body.is_empty() || held > 0 {
            request.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream
            .set_read_timeout(Some(TICK))
            .and_then(|()| stream.set_write_timeout(Some(self.limit)))
            .context("bounding the engine's calls")?;
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.write_all(&body))
            .with_context(|| format!("sending `{method} {path}` to the engine"))?;
        Ok(BufReader::new(Patient {
            stream,
            patience,
            started: Instant::now(),
            call,
        }))
    }
}

/// The head of the answer on `reader` and its body.
fn answer(mut reader: BufReader<Patient>) -> Result<(u16, Body)> {
    let (status, headers) = read_head(&mut reader)?;
    Ok((status, body(reader, &headers)))
}

/// The body that follows `headers` on `reader`.
fn body(reader: BufReader<Patient>, headers: &[(String, String)]) -> Body {
    let header = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
    };
    if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
        Body::Chunked {
            reader,
            left: Some(0),
        }
    } else if let Some(left) = header("content-length").and_then(|value| value.parse().ok()) {
        Body::Sized { reader, left }
    } else {
        // The connection closes after the answer: its end is the body's.
        Body::UntilClose(reader)
    }
}

/// A request sent but for the last bytes of its body ([`Engine::post_archive_held`]).
#[derive(Debug)]
pub struct HeldPost {
    reader: BufReader<Patient>,
    tail: Vec<u8>,
}

impl HeldPost {
    /// Sends the held bytes and reads the whole answer, within the engine's time limit counted
    /// from now. An engine that answered early (a refusal) and closed may refuse the bytes: its
    /// answer is what counts.
    pub fn finish(mut self) -> Result<Response> {
        // Past a stop signal's grace the run gives up on what must finish: a request still held
        // is then dropped whole, and the engine does nothing of it.
        if let Some(signal) = interrupt::grace_over() {
            bail!(
                "stopped by {} before the engine got the rest of `{}`",
                interrupt::signal_name(signal),
                self.reader.get_ref().call
            );
        }
        let patient = self.reader.get_mut();
        patient.started = Instant::now();
        let sent = (&patient.stream).write_all(&self.tail);
        let (status, body) = answer(self.reader).map_err(|error| match sent {
            Err(sent) => error.context(format!("sending the rest of the request ({sent})")),
            Ok(()) => error,
        })?;
        read_whole(status, body)
    }
}

/// The most of an answer read whole (an inspection, a listing, a quiet build's messages), far
/// above what any of them is on a busy host.
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// An answer read to its end, refused past [`MAX_ANSWER`].
fn read_whole(status: u16, body: Body) -> Result<Response> {
    let mut bytes = Vec::new();
    body.take(MAX_ANSWER + 1)
        .read_to_end(&mut bytes)
        .context("reading the engine's answer")?;
    if bytes.len() as u64 > MAX_ANSWER {
        bail!(
            "the engine's answer is over {} MiB: that is no answer of a Docker engine",
            MAX_ANSWER / (1024 * 1024)
        );
    }
    Ok(Response {
        status,
        body: bytes,
    })
}

/// What a request carries.
#[derive(Debug, Clone, Copy)]
enum Payload<'a> {
    Json(&'a serde_json::Value),
    /// A tar archive, as `POST /build` takes its context.
    Archive(&'a [u8]),
}

/// How long a read from the engine may wait.
#[derive(Debug, Clone, Copy)]
enum Patience {
    /// Up to the limit from the call's start, and never past a stop signal.
    Limited(Duration),
    /// Up to the limit, and past a stop signal only for its grace ([`interrupt::grace_over`]).
    Finishing(Duration),
    /// As long as it takes.
    Unbounded,
}

/// The engine's side of a connection, whose reads wake every [`TICK`] to give up at a stop
/// signal or at the call's time limit: an engine that accepts and never answers cannot hang a
/// trigger.
#[derive(Debug)]
pub struct Patient {
    stream: UnixStream,
    patience: Patience,
    started: Instant,
    call: String,
}

impl Patient {
    /// Why the call must end now, if it must: a stop signal, or its time limit. Asked before
    /// every read, not only when the engine goes quiet: an engine that trickles bytes must not
    /// keep a call alive either.
    fn must_end(&self) -> Option<std::io::Error> {
        must_end(self.patience, self.started, &self.call)
    }
}

/// Why a call with `patience`, started at `started`, must end now, if it must ([`Patient`]).
fn must_end(patience: Patience, started: Instant, call: &str) -> Option<std::io::Error> {
    let (limit, signal) = match patience {
        Patience::Limited(limit) => (limit, interrupt::pending()),
        Patience::Finishing(limit) => (limit, interrupt::grace_over()),
        Patience::Unbounded => return None,
    };
    // `Other`, not `Interrupted`: std's readers retry an interrupted read.
    if let Some(signal) = signal {
        return Some(std::io::Error::other(format!(
            "stopped by {} while the engine answered `{call}`",
            interrupt::signal_name(signal),
        )));
    }
    (started.elapsed() > limit).then(|| {
            std::io::Error::other(format!(
                "the Docker engine did not answer `{call}` within {}s: check that it runs (docker info), or raise engine-timeout",
                limit.as_secs()
            ))
        })
}

/// Connects to the engine's socket as a call with `patience` waits: each attempt bounded by
/// [`TICK`] (`SO_SNDTIMEO`, which bounds a Unix socket's connect), so that an engine that has
/// stopped accepting (its backlog full), where a connect blocks past every signal, gives way
/// at a stop signal or the call's time limit like its reads.
fn connect(socket: &Path, patience: Patience, call: &str) -> std::io::Result<UnixStream> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let started = Instant::now();
    let path = socket.as_os_str().as_bytes();
    // SAFETY: an all-zero sockaddr_un is a valid (empty) address.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if path.is_empty() || path.len() >= address.sun_path.len() || path.contains(&0) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a socket path the kernel takes",
        ));
    }
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, byte) in address.sun_path.iter_mut().zip(path) {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: socket(2) takes no pointers; a negative result is an error, checked below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new socket that nothing else owns.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    stream.set_write_timeout(Some(TICK))?;
    loop {
        // SAFETY: `address` is a valid sockaddr_un for the call's duration and its size is
        // given; `fd` is open (owned by `stream`).
        let connected = unsafe {
            libc::connect(
                fd,
                std::ptr::addr_of!(address).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if connected == 0 {
            return Ok(stream);
        }
        let error = std::io::Error::last_os_error();
        if !matches!(
            error.raw_os_error(),
            Some(libc::EAGAIN | libc::EINTR | libc::EINPROGRESS)
        ) {
            return Err(error);
        }
        if let Some(error) = must_end(patience, started, call) {
            return Err(error);
        }
    }
}

impl Read for Patient {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(error) = self.must_end() {
                return Err(error);
            }
            match self.stream.read(buf) {
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                other => return other,
            }
        }
    }
}

/// A query-string value, percent-encoded (RFC 3986's unreserved characters kept).
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Whether `socket` is Podman's Docker-compatible one (`podman.sock`, also behind the
/// `/var/run/docker.sock` link that Debian's podman-docker installs): its API differs from
/// Docker's in details the CLI path adapts to (registry-prefixed names, one `LABEL` a label), so
/// the plugin then speaks to it through the CLI.
fn is_podmans(socket: &Path) -> bool {
    std::fs::canonicalize(socket)
        .unwrap_or_else(|_| socket.to_path_buf())
        .file_name()
        .is_some_and(|name| name.to_string_lossy().contains("podman"))
}

/// The engine is asked directly only where the CLI would work too, so that a missing CLI is
/// reported the same way on every path.
fn cli_exists(docker_bin: &Path) -> bool {
    find_cli(docker_bin).is_some()
}

/// The file `docker_bin` runs: itself when it is a path, else the first of that name on `PATH`.
pub fn find_cli(docker_bin: &Path) -> Option<PathBuf> {
    if docker_bin.components().count() > 1 {
        return docker_bin.is_file().then(|| docker_bin.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(docker_bin))
        .find(|path| path.is_file())
}

/// True when the Docker CLI's config selects a context other than the default, which may point
/// anywhere: the CLI is then the only one that knows where the engine is.
fn cli_config_names_a_context() -> bool {
    let config_dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")));
    let Some(dir) = config_dir else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(dir.join("config.json")) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|config| config.get("currentContext")?.as_str().map(str::to_string))
        .is_some_and(|context| !context.is_empty() && context != "default")
}

/// The longest status or header line read, and the most header lines: Docker's are far
/// shorter and fewer.
const MAX_HEAD_LINE: u64 = 64 * 1024;
const MAX_HEADERS: usize = 256;

/// One line of an answer's head, refused past [`MAX_HEAD_LINE`].
fn read_head_line(reader: &mut impl BufRead, line: &mut String) -> Result<usize> {
    line.clear();
    let read = reader
        .take(MAX_HEAD_LINE)
        .read_line(line)
        .context("reading the engine's answer")?;
    if read as u64 == MAX_HEAD_LINE && !line.ends_with('\n') {
        bail!("the engine's answer has a header line over {MAX_HEAD_LINE} bytes: that is no answer of a Docker engine");
    }
    Ok(read)
}

/// Reads the status line and headers (names lowercased).
fn read_head(reader: &mut impl BufRead) -> Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    read_head_line(reader, &mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow!("the engine answered `{}`, not HTTP", line.trim()))?;
    let mut headers = Vec::new();
    for count in 0.. {
        if read_head_line(reader, &mut line)? == 0 {
            break;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if count == MAX_HEADERS {
            bail!("the engine's answer has over {MAX_HEADERS} header lines: that is no answer of a Docker engine");
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Ok((status, headers))
}

/// The body of an answer, read as it comes.
pub enum Body {
    /// `Transfer-Encoding: chunked`: `left` is what remains of the current chunk (`Some(0)`:
    /// a size line comes next), `None` once the last chunk was read.
    Chunked {
        reader: BufReader<Patient>,
        left: Option<usize>,
    },
    /// `Content-Length` bytes: what the engine says it sends, which it may follow by closing
    /// a connection whose request it did not read to its end. `left` is what is still owed.
    Sized {
        reader: BufReader<Patient>,
        left: u64,
    },
    /// Everything until the engine closes the connection.
    UntilClose(BufReader<Patient>),
}

impl Body {
    /// The engine's own message for a failed call, from the first 64 KiB of the body: an
    /// error's body is a line of JSON.
    pub fn message(self, status: u16) -> String {
        let mut body = Vec::new();
        let _ = self.take(64 * 1024).read_to_end(&mut body);
        Response { status, body }.message()
    }
}

impl Read for Body {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Body::Sized { reader, left } => {
                if *left == 0 {
                    return Ok(0);
                }
                let wanted = buffer
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                let read = reader.read(&mut buffer[..wanted])?;
                if read == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "the engine closed the connection {left} bytes before the answer's end"
                        ),
                    ));
                }
                *left -= read as u64;
                Ok(read)
            }
            Body::UntilClose(reader) => reader.read(buffer),
            Body::Chunked { reader, left } => read_chunk(reader, left, buffer),
        }
    }
}

/// Reads from a chunked body into `buffer`; `left` is what remains of the current chunk (0:
/// its size line comes next; `None`: the body ended).
fn read_chunk(
    reader: &mut impl BufRead,
    left: &mut Option<usize>,
    buffer: &mut [u8],
) -> std::io::Result<usize> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    loop {
        match *left {
            None => return Ok(0),
            Some(0) => {
                let mut line = String::new();
                // A size line is a few hex digits, perhaps with extensions: 1 KiB is plenty.
                reader.take(1024).read_line(&mut line)?;
                let size_text = line.trim().split(';').next().unwrap_or_default();
                let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                    bad(format!(
                        "the engine sent a bad chunk size `{}`",
                        line.trim()
                    ))
                })?;
                *left = if size == 0 { None } else { Some(size) };
            }
            Some(size) => {
                if buffer.is_empty() {
                    return Ok(0);
                }
                let take = size.min(buffer.len());
                let read = reader.read(&mut buffer[..take])?;
                if read == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                *left = Some(size - read);
                if size == read {
                    // The CRLF that ends the chunk.
                    let mut end = [0u8; 2];
                    reader.read_exact(&mut end)?;
                }
                return Ok(read);
            }
        }
    }
}

/// Splits Docker's multiplexed attach stream (8-byte frame headers: stream type, three zero
/// bytes, big-endian length) and hands each frame's bytes to `emit` with its stream.
pub fn demultiplex(mut stream: impl Read, mut emit: impl FnMut(Stream, &[u8])) -> Result<()> {
    let mut header = [0u8; 8];
    let mut frame = vec![0u8; 32 * 1024];
    loop {
        match stream.read_exact(&mut header) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error).context("reading the task's output"),
        }
        let target = if header[0] == 2 {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let mut left = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        while left > 0 {
            let take = left.min(frame.len());
            stream
                .read_exact(&mut frame[..take])
                .context("reading the task's output")?;
            emit(target, &frame[..take]);
            left -= take;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_socket_is_told_also_behind_dockers_name() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("podman.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&podman).unwrap();
        let docker = dir.path().join("docker.sock");
        std::os::unix::fs::symlink(&podman, &docker).unwrap();
        assert!(is_podmans(&podman));
        assert!(is_podmans(&docker));
        let real = dir.path().join("engine.sock");
        let _engine = std::os::unix::net::UnixListener::bind(&real).unwrap();
        assert!(!is_podmans(&real));
    }

    #[test]
    fn query_values_keep_only_unreserved_characters() {
        assert_eq!(query_value("CMD [\"a b\"]"), "CMD%20%5B%22a%20b%22%5D");
        assert_eq!(query_value("/app/my file.json"), "%2Fapp%2Fmy%20file.json");
    }

    #[test]
    fn demultiplexes_frames_into_their_streams() {
        let mut input = Vec::new();
        for (kind, payload) in [(1u8, &b"out\n"[..]), (2, b"err"), (1, b"more")] {
            input.extend([kind, 0, 0, 0]);
            input.extend((payload.len() as u32).to_be_bytes());
            input.extend(payload);
        }
        let mut seen = Vec::new();
        demultiplex(&input[..], |stream, bytes| {
            seen.push((stream, bytes.to_vec()))
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (Stream::Stdout, b"out\n".to_vec()),
                (Stream::Stderr, b"err".to_vec()),
                (Stream::Stdout, b"more".to_vec())
            ]
        );
    }

    #[test]
    fn reads_status_headers_and_chunked_bodies() {
        let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let mut reader = &answer[..];
        let (status, headers) = read_head(&mut reader).unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            headers,
            [("transfer-encoding".to_string(), "chunked".to_string())]
        );
        let mut left = Some(0);
        let mut body: Vec<u8> = Vec::new();
        let mut buffer = [0u8; 2];
        loop {
            let read = read_chunk(&mut reader, &mut left, &mut buffer).unwrap();
            if read == 0 {
                break;
            }
            body.extend(&buffer[..read]);
        }
        assert_eq!(body, b"abcde");
        assert_eq!(left, None);
    }

    /// The engine at `socket`, a test's own, with a time limit no test reaches.
    fn test_engine(socket: PathBuf) -> Engine {
        Engine {
            socket,
            trace: false,
            limit: Duration::from_secs(10),
        }
    }

    /// An engine on a socket of the test's own that reads a request's head and body as they come:
    /// what it read before the held bytes came, and the whole body.
    fn engine_reading_in_parts(socket: &Path) -> std::thread::JoinHandle<(Vec<u8>, Vec<u8>)> {
        let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(value) = line.strip_prefix("Content-Length: ") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            // All that comes before the client's pause.
            stream
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut early = vec![0; length];
            let mut got = 0;
            while let Ok(read @ 1..) = reader.read(&mut early[got..]) {
                got += read;
            }
            early.truncate(got);
            stream.set_read_timeout(None).unwrap();
            let mut body = early.clone();
            body.resize(length, 0);
            reader.read_exact(&mut body[got..]).unwrap();
            let mut stream = stream;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
                .unwrap();
            (early, body)
        })
    }

    #[test]
    fn a_held_post_sends_its_last_bytes_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let engine_side = engine_reading_in_parts(&socket);
        let engine = test_engine(socket);
        let archive: Vec<u8> = (0..2048u32).map(|n| n as u8).collect();

        let held = engine.post_archive_held("/build", &archive, 1024).unwrap();
        // The engine reads until the client pauses: only the part before the held bytes.
        std::thread::sleep(Duration::from_millis(600));
        let answer = held.finish().unwrap();

        let (early, body) = engine_side.join().unwrap();
        assert_eq!(early, &archive[..1024]);
        assert_eq!(body, archive);
        assert_eq!((answer.status, answer.body), (200, b"done".to_vec()));
    }

    #[test]
    fn a_held_post_the_engine_refused_early_gives_the_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let engine_side = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let refusal = r#"{"message":"no"}"#;
            write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n{refusal}",
                refusal.len()
            )
            .unwrap();
            // Gone before the rest of the request comes.
        });
        let engine = test_engine(socket);

        let held = engine
            .post_archive_held("/build", &[7; 4096], 1024)
            .unwrap();
        engine_side.join().unwrap();
        let answer = held.finish().unwrap();

        assert_eq!((answer.status, answer.message()), (500, "no".to_string()));
    }

    /// An engine on a socket of the test's own that answers the first request with `head`,
    /// then writes `piece` every `every`, `times` times, for as long as the client reads.
    fn engine_writing(
        socket: &Path,
        head: &'static [u8],
        piece: &'static [u8],
        every: Duration,
        times: usize,
    ) -> std::thread::JoinHandle<()> {
        let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).unwrap();
            stream.write_all(head).unwrap();
            for _ in 0..times {
                if stream.write_all(piece).is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
        })
    }

    #[test]
    fn an_engine_that_trickles_its_answer_is_cut_at_the_time_limit() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        // Without the limit, the answer would end after some 30 s, and the call succeed.
        let engine_side = engine_writing(
            &socket,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"1\r\na\r\n",
            Duration::from_millis(50),
            600,
        );
        let engine = Engine {
            limit: Duration::from_secs(1),
            ..test_engine(socket)
        };

        let answer = engine.request("GET", "/images/x/json", None);

        let error = format!("{:#}", answer.unwrap_err());
        assert!(
            error.contains("did not answer `GET /images/x/json` within 1s"),
            "{error}"
        );
        engine_side.join().unwrap();
    }

    #[test]
    fn an_endless_header_line_is_refused_not_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let engine_side = engine_writing(
            &socket,
            b"HTTP/1.1 200 OK\r\nX-Endless: ",
            &[b'a'; 64 * 1024],
            Duration::ZERO,
            16,
        );
        let engine = test_engine(socket);

        let answer = engine.request("GET", "/images/x/json", None);

        let error = format!("{:#}", answer.unwrap_err());
        assert!(error.contains("a header line over 65536 bytes"), "{error}");
        engine_side.join().unwrap();
    }

    #[test]
    fn a_head_of_exactly_the_most_header_lines_is_read_and_one_more_is_refused() {
        let head = |lines: usize| {
            let mut text = String::from("HTTP/1.1 200 OK\r\n");
            for n in 0..lines {
                text.push_str(&format!("X-{n}: v\r\n"));
            }
            text + "\r\n"
        };
        let (status, headers) = read_head(&mut head(MAX_HEADERS).as_bytes()).unwrap();
        assert_eq!((status, headers.len()), (200, MAX_HEADERS));
        let error = read_head(&mut head(MAX_HEADERS + 1).as_bytes()).unwrap_err();
        assert!(
            format!("{error:#}").contains("over 256 header lines"),
            "{error:#}"
        );
    }

    #[test]
    fn an_answer_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let engine_side = engine_writing(
            &socket,
            b"HTTP/1.1 200 OK\r\n\r\n",
            &[b'x'; 1024 * 1024],
            Duration::ZERO,
            65,
        );
        let engine = test_engine(socket);

        let answer = engine.request("GET", "/images/json", None);

        let error = format!("{:#}", answer.unwrap_err());
        assert!(error.contains("over 64 MiB"), "{error}");
        engine_side.join().unwrap();
    }

    #[test]
    fn an_answer_cut_before_its_content_length_is_an_error_not_a_short_body() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let engine_side = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0u8; 256];
            let _ = stream.read(&mut head).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                .unwrap();
        });
        let engine = test_engine(socket);

        let answer = engine.request("GET", "/images/x/json", None);
        engine_side.join().unwrap();

        let error = format!("{:#}", answer.unwrap_err());
        assert!(error.contains("7 bytes before the answer's end"), "{error}");
    }
}
