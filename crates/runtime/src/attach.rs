//! Attaching to a detached container (`attach`, `run -di`, `run -dit`): its monitor
//! listens on `containers/<id>/attach.sock` and serves any number of clients while
//! the container runs. Frames both ways are `[kind: u8][length: u32 BE][payload]`:
//! stdin data, stdin closed and terminal size from a client; stdout, stderr and the
//! exit code from the monitor.

use crate::error::{Result, RuntimeError};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use strata_containers::{ContainerRecord, Containers};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STDIN_CLOSED: u8 = 3;
const RESIZE: u8 = 4;
const EXIT: u8 = 5;
/// A client's first frame when it has no terminal size to send.
const HELLO: u8 = 6;
/// A client asks for the start (of a container its monitor holds back until then);
/// the monitor answers with STARTED: 0 and the container's PID, or 1, Docker's code and
/// the reason.
const START: u8 = 7;
const STARTED: u8 = 8;

pub fn socket_path(containers: &Containers<'_>, id: &str) -> PathBuf {
    containers.dir(id).join("attach.sock")
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Takes whole frames off the front of `buf`.
fn frames(buf: &mut Vec<u8>) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        if buf.len() < 5 {
            return out;
        }
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if buf.len() < 5 + len {
            return out;
        }
        let payload = buf[5..5 + len].to_vec();
        out.push((buf[0], payload));
        buf.drain(..5 + len);
    }
}

/// The container's side of a session: where its output comes from and where input goes.
pub struct ContainerIo {
    /// stdout (and everything, on a terminal) and stderr.
    pub outputs: Vec<(u8, std::fs::File)>,
    /// The write end of its stdin pipe, or its terminal's master; `None` without `-i`.
    pub input: Option<std::fs::File>,
    pub tty: bool,
}

/// Where output also goes: the container's log.
pub trait OutputSink {
    fn output(&mut self, stream: u8, bytes: &[u8]) -> Result<()>;
    fn ended(&mut self, stream: u8) -> Result<()>;
}

/// A connected client with its unread bytes.
pub struct Client {
    stream: UnixStream,
    pending: Vec<u8>,
}

/// Socket addresses hold at most 107 bytes, and a root's container directories can be
/// deeper than that: the socket is reached through a descriptor of its directory.
fn through_dir<T>(path: &Path, f: impl FnOnce(&Path) -> std::io::Result<T>) -> std::io::Result<T> {
    let dir = std::fs::File::open(path.parent().unwrap_or(Path::new("/")))?;
    let name = path.file_name().unwrap_or_default();
    let short = Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string()).join(name);
    f(&short)
}

/// Opens the attach socket (replacing a stale one).
pub fn listen(path: &Path) -> Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener = through_dir(path, |p| UnixListener::bind(p))
        .map_err(|e| RuntimeError::io(format!("binding {}", path.display()), e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| RuntimeError::io("attach socket", e))?;
    Ok(listener)
}

/// Serves clients and copies output into `sink` until every output stream has ended.
/// Returns the clients still connected, to be told the exit code.
pub fn serve(
    io: ContainerIo,
    pid: i32,
    listener: &UnixListener,
    sink: &mut dyn OutputSink,
    mut clients: Vec<Client>,
) -> Result<Vec<Client>> {
    let ContainerIo {
        mut outputs,
        mut input,
        tty,
    } = io;
    let mut buf = vec![0u8; 64 << 10];
    // What clients sent before the start (input typed ahead) goes in first.
    for client in clients.iter_mut() {
        for (kind, payload) in frames(&mut client.pending) {
            answer(kind, &payload, &mut input, tty, &mut client.stream, pid);
        }
    }
    while !outputs.is_empty() {
        let mut fds: Vec<PollFd> = outputs
            .iter()
            .map(|(_, f)| PollFd::new(f.as_fd(), PollFlags::POLLIN))
            .collect();
        fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
        fds.extend(clients.iter().map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLIN)));
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(RuntimeError::Sys("poll", e)),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        let (out_ready, rest) = ready.split_at(outputs.len());
        let (listener_ready, clients_ready) = (rest[0], &rest[1..]);
        let mut ended = Vec::new();
        for (i, (stream, file)) in outputs.iter_mut().enumerate() {
            if !out_ready[i] {
                continue;
            }
            match file.read(&mut buf) {
                // EIO on a terminal: the last process holding it is gone.
                Ok(0) | Err(_) => ended.push(i),
                Ok(n) => {
                    sink.output(*stream, &buf[..n])?;
                    let f = frame(*stream, &buf[..n]);
                    clients.retain_mut(|c| c.stream.write_all(&f).is_ok());
                }
            }
        }
        for i in ended.into_iter().rev() {
            let (stream, _) = outputs.remove(i);
            sink.ended(stream)?;
        }
        let mut gone = Vec::new();
        for (i, client) in clients.iter_mut().enumerate() {
            if !clients_ready.get(i).copied().unwrap_or(false) {
                continue;
            }
            match receive(client, &mut buf) {
                None => gone.push(i),
                Some(sent) => {
                    for (kind, payload) in sent {
                        answer(kind, &payload, &mut input, tty, &mut client.stream, pid);
                    }
                }
            }
        }
        for i in gone.into_iter().rev() {
            clients.remove(i);
        }
        if listener_ready {
            accept_all(listener, &mut clients);
        }
    }
    Ok(clients)
}

/// What a readable client sent: its whole frames, or `None` once it has gone.
fn receive(client: &mut Client, buf: &mut [u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    match client.stream.read(buf) {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            client.pending.extend_from_slice(&buf[..n]);
            Some(frames(&mut client.pending))
        }
    }
}

/// Takes every client waiting on the (non-blocking) listener.
fn accept_all(listener: &UnixListener, clients: &mut Vec<Client>) {
    while let Ok((stream, _)) = listener.accept() {
        let _ = stream.set_nonblocking(false);
        // A client that stops reading is dropped, never a stall for the others.
        let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(5)));
        clients.push(Client {
            stream,
            pending: Vec::new(),
        });
    }
}

/// Acts on a client's frame while the container runs: a start asked for now is
/// answered at once (it runs).
fn answer(kind: u8, payload: &[u8], input: &mut Option<std::fs::File>, tty: bool, client: &mut UnixStream, pid: i32) {
    match kind {
        START => {
            let _ = client.write_all(&started_frame(&Ok(pid)));
        }
        STDIN => {
            if let Some(i) = input.as_mut() {
                let _ = i.write_all(payload);
            }
        }
        // A pipe closes (the program sees end of input); a terminal stays.
        STDIN_CLOSED if !tty => *input = None,
        RESIZE if tty && payload.len() == 4 => {
            if let Some(i) = input.as_ref() {
                let rows = u16::from_be_bytes([payload[0], payload[1]]);
                let cols = u16::from_be_bytes([payload[2], payload[3]]);
                crate::linux::tty::set_window_size(i, (rows, cols));
            }
        }
        _ => {}
    }
}

/// Tells the clients how the container ended, and lets them go.
pub fn send_exit(clients: Vec<Client>, code: i32) {
    for mut c in clients {
        let _ = c.stream.write_all(&frame(EXIT, &code.to_be_bytes()));
    }
}

/// How an `attach` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The container exited with this code.
    Exited(i32),
    /// The detach keys were typed; the container goes on.
    Detached,
}

/// The caller's side of a session: where input comes from, where output goes, and the
/// user's terminal size when it changes. A command line passes its own stdio (and
/// notes SIGWINCH); a service passes a client's connection.
pub struct ClientIo<'a> {
    /// Input for the container (`-i`), read when it polls readable.
    pub input: Option<&'a mut dyn ReadFd>,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// The size of the user's terminal: asked at the start and whenever a wait is cut
    /// short (a command line's SIGWINCH handler interrupts it); `None`: unchanged or
    /// no terminal.
    pub window: &'a mut dyn FnMut() -> Option<crate::linux::tty::WindowSize>,
    /// A descriptor that reports a hang-up once the client is gone (a service's
    /// connection to it): the session then ends as detached, the container goes on.
    pub hangup: Option<std::os::fd::BorrowedFd<'a>>,
}

/// Something to read from that can be polled: a command line's stdin, a socket.
pub trait ReadFd: Read + AsFd {}
impl<T: Read + AsFd> ReadFd for T {}

/// `attach`: streams the running container's output to `io` and, with `io.input`,
/// input to it, until it exits or, on a container's terminal, `keys` are typed.
pub fn attach(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    io: ClientIo<'_>,
    keys: &crate::detach_keys::DetachKeys,
) -> Result<Ended> {
    let config = containers.config(record)?;
    let attachment = attach_running(containers, record)?;
    let io = if config.interactive {
        io
    } else {
        ClientIo { input: None, ..io }
    };
    attachment.session(Mode::of(&config), io, keys)
}

/// A connection to the running container's monitor, for a session.
pub fn attach_running(containers: &Containers<'_>, record: &ContainerRecord) -> Result<Attachment> {
    let path = socket_path(containers, &record.id);
    if !crate::lifecycle::is_running(containers, record) {
        return Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
            format!(
                "You cannot attach to a stopped container {}, start it first",
                record.name
            ),
        )));
    }
    let mut stream = connect(&path).map_err(|e| {
        RuntimeError::io(
            format!("connecting to the monitor of {} at {}", record.name, path.display()),
            e,
        )
    })?;
    containers.emit(record, "attach", &[]);
    send_hello(&mut stream, None);
    Ok(Attachment {
        stream,
        pending: Vec::new(),
        pid: None,
    })
}

/// Resizes the terminal of the running container (or of its exec, with `exec`), as a
/// client's terminal resized: Docker's `resize` endpoints.
pub fn resize(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    exec: Option<&str>,
    size: crate::linux::tty::WindowSize,
) -> Result<()> {
    let path = match exec {
        None => socket_path(containers, &record.id),
        Some(exec) => crate::exec::socket_path(containers, &record.id, exec),
    };
    let mut stream = connect(&path).map_err(|_| {
        RuntimeError::Containers(strata_containers::ContainerError::Conflict(format!(
            "cannot resize {}: it is not running",
            exec.unwrap_or(&record.name)
        )))
    })?;
    send_window_size(&mut stream, size);
    Ok(())
}

pub(crate) fn connect(path: &Path) -> std::io::Result<UnixStream> {
    through_dir(path, |p| UnixStream::connect(p))
}

/// A new client's first frame: the user's terminal size, or that there is none.
pub(crate) fn send_hello(stream: &mut UnixStream, size: Option<crate::linux::tty::WindowSize>) {
    match size {
        Some(size) => send_window_size(stream, size),
        None => {
            let _ = stream.write_all(&frame(HELLO, &[]));
        }
    }
}

fn send_window_size(stream: &mut UnixStream, (rows, cols): crate::linux::tty::WindowSize) {
    let mut size = rows.to_be_bytes().to_vec();
    size.extend_from_slice(&cols.to_be_bytes());
    let _ = stream.write_all(&frame(RESIZE, &size));
}

/// Asks the monitor to start its container (nothing happens if it runs) and waits for
/// the answer. Output frames that come first (another client started it) are kept in
/// the returned buffer for the session. `None`: the monitor ended without answering
/// (its container had just ended): ask a new one.
pub(crate) fn request_start(stream: &mut UnixStream) -> Result<Option<(Vec<u8>, i32)>> {
    let io = |e| RuntimeError::io("asking the container's monitor to start it", e);
    match stream.write_all(&frame(START, &[])) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(None),
        written => written.map_err(io)?,
    }
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => return Err(io(e)),
        };
        if n == 0 {
            return Ok(None);
        }
        pending.extend_from_slice(&buf[..n]);
        if let Some((at, answer)) = find_frame(&pending, STARTED) {
            let (head, rest) = pending.split_at(at);
            let mut kept = head.to_vec();
            kept.extend_from_slice(&rest[5 + answer.len()..]);
            return started_answer(&answer).map(|pid| Some((kept, pid)));
        }
    }
}

/// The first whole frame of `kind` in `buf`: its offset and payload.
fn find_frame(buf: &[u8], kind: u8) -> Option<(usize, Vec<u8>)> {
    let mut at = 0;
    while buf.len() >= at + 5 {
        let len = u32::from_be_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
        if buf.len() < at + 5 + len {
            return None;
        }
        if buf[at] == kind {
            return Some((at, buf[at + 5..at + 5 + len].to_vec()));
        }
        at += 5 + len;
    }
    None
}

/// A STARTED frame: the container's PID when it started (or ran), else Docker's code
/// and the reason.
fn started_answer(payload: &[u8]) -> Result<i32> {
    let number = |at: usize| {
        payload
            .get(at..at + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    match (payload.first(), number(1)) {
        (Some(0), Some(pid)) => Ok(pid),
        (Some(1), Some(code)) => Err(RuntimeError::Start {
            code,
            message: String::from_utf8_lossy(&payload[5..]).into_owned(),
        }),
        _ => Err(RuntimeError::Unsupported(
            "the container's monitor answered the start in a form this strata does not know".into(),
        )),
    }
}

fn started_frame(outcome: &std::result::Result<i32, (i32, String)>) -> Vec<u8> {
    match outcome {
        Ok(pid) => {
            let mut payload = vec![0];
            payload.extend_from_slice(&pid.to_be_bytes());
            frame(STARTED, &payload)
        }
        Err((code, message)) => {
            let mut payload = vec![1];
            payload.extend_from_slice(&code.to_be_bytes());
            payload.extend_from_slice(message.as_bytes());
            frame(STARTED, &payload)
        }
    }
}

/// A connection to a container's monitor, for one client's session.
pub struct Attachment {
    pub(crate) stream: UnixStream,
    /// Bytes already read from the stream.
    pub(crate) pending: Vec<u8>,
    /// The container's process, once this client had it started.
    pub(crate) pid: Option<i32>,
}

impl Attachment {
    /// The container's process, when this attachment started it (or found it running).
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// The session: the container's output to `io` (its terminal's, with a tty),
    /// `io.input` to it, until it exits or the detach keys are typed.
    pub fn session(self, mode: Mode, io: ClientIo<'_>, keys: &crate::detach_keys::DetachKeys) -> Result<Ended> {
        session(self.stream, self.pending, mode, io, keys)
    }
}

/// What kind of session a container (or exec) has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// Its output is its terminal's (`-t`).
    pub tty: bool,
    /// The end of the client's input closes the container's stdin (Docker's
    /// `StdinOnce`, never with a terminal: a client's terminal going away leaves it open).
    pub stdin_once: bool,
}

impl Mode {
    pub fn of(config: &strata_containers::ContainerConfig) -> Mode {
        Mode {
            tty: config.tty,
            stdin_once: config.stdin_once,
        }
    }
}

/// A client's session on a connected attach socket: the container's output to `io`,
/// `io.input` to it; on its terminal (`tty`) size changes and the detach keys.
/// `pending`: bytes already read from the socket.
fn session(
    mut stream: UnixStream,
    mut pending: Vec<u8>,
    mode: Mode,
    io: ClientIo<'_>,
    keys: &crate::detach_keys::DetachKeys,
) -> Result<Ended> {
    let tty = mode.tty;
    let ClientIo {
        mut input,
        stdout,
        stderr,
        window,
        hangup,
    } = io;
    // Docker watches for the keys on terminals only: a pipe's bytes are data.
    let mut matcher = (tty && input.is_some()).then(|| keys.matcher());
    let mut buf = vec![0u8; 64 << 10];
    let mut first = true;
    loop {
        if let Some(ended) = deliver_to_client(&mut pending, stdout, stderr) {
            return Ok(ended);
        }
        if tty {
            if let Some(size) = window() {
                send_window_size(&mut stream, size);
            }
        }
        if first {
            first = false;
            continue;
        }
        let ready = wait_readable(stream.as_fd(), input.as_deref().map(|i| i.as_fd()), hangup)?;
        if ready.hung_up {
            return Ok(Ended::Detached);
        }
        let (socket_ready, input_ready) = (ready.socket, ready.input);
        if input_ready {
            let source = input.as_mut().expect("polled only when present");
            match source.read(&mut buf) {
                Ok(0) | Err(_) => {
                    input = None;
                    if mode.stdin_once && !tty {
                        let _ = stream.write_all(&frame(STDIN_CLOSED, &[]));
                    }
                }
                Ok(n) => {
                    let (bytes, detach) = match matcher.as_mut().map(|m| m.feed(&buf[..n])) {
                        None => (buf[..n].to_vec(), false),
                        Some(crate::detach_keys::Input::Forward(b)) => (b, false),
                        Some(crate::detach_keys::Input::Detach(b)) => (b, true),
                    };
                    if !bytes.is_empty() {
                        let _ = stream.write_all(&frame(STDIN, &bytes));
                    }
                    if detach {
                        return Ok(Ended::Detached);
                    }
                }
            }
        }
        if socket_ready {
            let n = stream.read(&mut buf).unwrap_or(0);
            if n == 0 {
                // The monitor went away without an exit code (killed).
                return Ok(Ended::Exited(255));
            }
            pending.extend_from_slice(&buf[..n]);
        }
    }
}

/// Writes the whole output frames in `pending` out; the end, once the exit came.
fn deliver_to_client(pending: &mut Vec<u8>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Option<Ended> {
    for (kind, payload) in frames(pending) {
        match kind {
            STDOUT => {
                let _ = stdout.write_all(&payload);
                let _ = stdout.flush();
            }
            STDERR => {
                let _ = stderr.write_all(&payload);
                let _ = stderr.flush();
            }
            EXIT if payload.len() == 4 => {
                return Some(Ended::Exited(i32::from_be_bytes([
                    payload[0], payload[1], payload[2], payload[3],
                ])));
            }
            _ => {}
        }
    }
    None
}

/// What [`wait_readable`] found.
struct Ready {
    socket: bool,
    input: bool,
    hung_up: bool,
}

/// Waits until the socket or the input has something to read, or the client hung up.
/// A wait cut short by a signal (a resize) reports nothing.
fn wait_readable(
    socket: std::os::fd::BorrowedFd<'_>,
    input: Option<std::os::fd::BorrowedFd<'_>>,
    hangup: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<Ready> {
    let mut fds = vec![PollFd::new(socket, PollFlags::POLLIN)];
    let input_at = input.map(|i| {
        fds.push(PollFd::new(i, PollFlags::POLLIN));
        fds.len() - 1
    });
    // No events asked: poll reports a hang-up (and errors) whatever is asked.
    let hangup_at = hangup.map(|h| {
        fds.push(PollFd::new(h, PollFlags::empty()));
        fds.len() - 1
    });
    match poll(&mut fds, PollTimeout::NONE) {
        Err(nix::errno::Errno::EINTR) => {
            return Ok(Ready {
                socket: false,
                input: false,
                hung_up: false,
            })
        }
        Err(e) => return Err(RuntimeError::Sys("poll", e)),
        Ok(_) => {}
    }
    let ready = |at: Option<usize>| at.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()));
    let hung_up = hangup_at.is_some_and(|i| {
        fds[i]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
    });
    Ok(Ready {
        socket: ready(Some(0)),
        input: ready(input_at),
        hung_up,
    })
}

/// Who is attached to a monitor waiting to start its container, and what they asked.
pub struct Gathered {
    pub clients: Vec<Client>,
    /// The last terminal size a client sent: the container's terminal starts with it.
    pub size: Option<crate::linux::tty::WindowSize>,
    /// The clients that asked for the start, to be told how it went.
    starters: Vec<usize>,
}

/// The waiting monitor's side: accepts clients (any number) until one asks for the
/// start, keeping what they send for later. `None`: no client came within `first`, or
/// every client left before a start.
pub fn gather(listener: &UnixListener, first: std::time::Duration) -> Result<Option<Gathered>> {
    let mut gathered = Gathered {
        clients: Vec::new(),
        size: None,
        starters: Vec::new(),
    };
    let began = std::time::Instant::now();
    let mut buf = vec![0u8; 64 << 10];
    let mut early: Vec<Vec<(u8, Vec<u8>)>> = Vec::new();
    let mut seen_any = false;
    loop {
        let timeout = if gathered.clients.is_empty() {
            let left = first.saturating_sub(began.elapsed());
            if left.is_zero() {
                return Ok(None);
            }
            PollTimeout::from(u16::try_from(left.as_millis()).unwrap_or(u16::MAX))
        } else {
            PollTimeout::NONE
        };
        let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            gathered
                .clients
                .iter()
                .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLIN)),
        );
        match poll(&mut fds, timeout) {
            Err(nix::errno::Errno::EINTR) | Ok(0) => continue,
            Err(e) => return Err(RuntimeError::Sys("poll", e)),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        let mut gone = Vec::new();
        for (i, client) in gathered.clients.iter_mut().enumerate() {
            if !ready[i + 1] {
                continue;
            }
            match receive(client, &mut buf) {
                None => gone.push(i),
                Some(sent) => {
                    for (kind, payload) in sent {
                        match kind {
                            START => gathered.starters.push(i),
                            RESIZE if payload.len() == 4 => {
                                gathered.size = Some((
                                    u16::from_be_bytes([payload[0], payload[1]]),
                                    u16::from_be_bytes([payload[2], payload[3]]),
                                ));
                            }
                            HELLO | RESIZE => {}
                            _ => early[i].push((kind, payload)),
                        }
                    }
                }
            }
        }
        for i in gone.into_iter().rev() {
            gathered.clients.remove(i);
            early.remove(i);
            gathered.starters.retain(|s| *s != i);
            for s in gathered.starters.iter_mut().filter(|s| **s > i) {
                *s -= 1;
            }
        }
        if ready[0] {
            accept_all(listener, &mut gathered.clients);
            early.resize_with(gathered.clients.len(), Vec::new);
        }
        if !gathered.starters.is_empty() {
            // Input sent before the start goes in first, in order, once it runs.
            for (client, frames) in gathered.clients.iter_mut().zip(early) {
                let mut kept: Vec<u8> = frames.into_iter().flat_map(|(k, p)| frame(k, &p)).collect();
                kept.append(&mut client.pending);
                client.pending = kept;
            }
            return Ok(Some(gathered));
        }
        if gathered.clients.is_empty() && seen_any {
            return Ok(None);
        }
        seen_any |= !gathered.clients.is_empty();
    }
}

impl Gathered {
    /// Tells the clients that asked for the start how it went.
    pub fn answer_start(&mut self, outcome: &std::result::Result<i32, (i32, String)>) {
        let answer = started_frame(outcome);
        for &i in &self.starters {
            let _ = self.clients[i].stream.write_all(&answer);
        }
        self.starters.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_at_their_boundaries() {
        let mut buf = frame(STDIN, b"abc");
        buf.extend(frame(RESIZE, &[0, 24, 0, 80]));
        let tail = frame(STDOUT, b"xyz");
        buf.extend_from_slice(&tail[..4]);
        let got = frames(&mut buf);
        assert_eq!(got, vec![(STDIN, b"abc".to_vec()), (RESIZE, vec![0, 24, 0, 80])]);
        assert_eq!(buf, tail[..4]);
        buf.extend_from_slice(&tail[4..]);
        assert_eq!(frames(&mut buf), vec![(STDOUT, b"xyz".to_vec())]);
        assert!(buf.is_empty());
    }
}
