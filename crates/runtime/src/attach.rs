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
            match client.stream.read(&mut buf) {
                Ok(0) | Err(_) => gone.push(i),
                Ok(n) => {
                    client.pending.extend_from_slice(&buf[..n]);
                    for (kind, payload) in frames(&mut client.pending) {
                        deliver(kind, &payload, &mut input, tty);
                    }
                }
            }
        }
        for i in gone.into_iter().rev() {
            clients.remove(i);
        }
        if listener_ready {
            while let Ok((stream, _)) = listener.accept() {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(5)));
                clients.push(Client {
                    stream,
                    pending: Vec::new(),
                });
            }
        }
    }
    Ok(clients)
}

fn deliver(kind: u8, payload: &[u8], input: &mut Option<std::fs::File>, tty: bool) {
    match kind {
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

/// `attach`: streams the running container's output here and, with `stdin`, our input
/// there, until it exits or, on a container's terminal, `keys` are typed. On a terminal,
/// raw mode and size.
pub fn attach(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    stdin: bool,
    keys: &crate::detach_keys::DetachKeys,
) -> Result<Ended> {
    let config = containers.config(record)?;
    let path = socket_path(containers, &record.id);
    if !crate::lifecycle::is_running(containers, record) {
        return Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
            format!(
                "You cannot attach to a stopped container {}, start it first",
                record.name
            ),
        )));
    }
    let stream = connect(&path).map_err(|e| {
        RuntimeError::io(
            format!(
                "connecting to the monitor of {} at {} (a container started in the foreground has none)",
                record.name,
                path.display()
            ),
            e,
        )
    })?;
    containers.emit(record, "attach", &[]);
    session(stream, config.tty, stdin && config.interactive, keys)
}

pub(crate) fn connect(path: &Path) -> std::io::Result<UnixStream> {
    through_dir(path, |p| UnixStream::connect(p))
}

/// Tells the monitor the user's terminal size, if stdin is one.
pub(crate) fn send_window_size(stream: &mut UnixStream) {
    if let Some((rows, cols)) = crate::linux::tty::window_size() {
        let mut size = rows.to_be_bytes().to_vec();
        size.extend_from_slice(&cols.to_be_bytes());
        let _ = stream.write_all(&frame(RESIZE, &size));
    }
}

/// A client's session on a connected attach socket: the container's output to ours,
/// with `stdin` our input to it; on its terminal (`tty`) raw mode, size changes and
/// the detach keys.
pub(crate) fn session(
    mut stream: UnixStream,
    tty: bool,
    stdin: bool,
    keys: &crate::detach_keys::DetachKeys,
) -> Result<Ended> {
    let _raw = (tty && stdin).then(crate::linux::tty::RawMode::enter);
    if tty {
        crate::linux::tty::watch_window_size();
        send_window_size(&mut stream);
    }
    let mut input = std::io::stdin();
    let mut stdin_open = stdin;
    // Docker watches for the keys on terminals only: a pipe's bytes are data.
    let mut matcher = (tty && stdin).then(|| keys.matcher());
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if tty && crate::linux::tty::window_resized() {
            send_window_size(&mut stream);
        }
        let (socket_ready, stdin_ready) = crate::linux::tty::wait_readable(stream.as_fd(), stdin_open)?;
        if stdin_ready {
            match input.read(&mut buf) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    let _ = stream.write_all(&frame(STDIN_CLOSED, &[]));
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
            for (kind, payload) in frames(&mut pending) {
                match kind {
                    STDOUT => {
                        let mut out = std::io::stdout();
                        let _ = out.write_all(&payload);
                        let _ = out.flush();
                    }
                    STDERR => {
                        let _ = std::io::stderr().write_all(&payload);
                    }
                    EXIT if payload.len() == 4 => {
                        return Ok(Ended::Exited(i32::from_be_bytes([
                            payload[0], payload[1], payload[2], payload[3],
                        ])));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The monitor of `run -it` waits for its client before starting the container, so
/// that nothing the container prints is missed; the client's first frame is its
/// terminal size, which the container's terminal has from the start.
pub fn accept_first(
    listener: &UnixListener,
    wait: std::time::Duration,
) -> Result<(Client, Option<crate::linux::tty::WindowSize>)> {
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    let millis = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    match poll(&mut fds, PollTimeout::from(millis)) {
        Ok(n) if n > 0 => {}
        Ok(_) => {
            return Err(RuntimeError::Invalid(format!(
                "no client attached within {} s",
                wait.as_secs()
            )))
        }
        Err(e) => return Err(RuntimeError::Sys("poll", e)),
    }
    let (stream, _) = listener
        .accept()
        .map_err(|e| RuntimeError::io("accepting the attach client", e))?;
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(5)));
    let _ = stream.set_read_timeout(Some(wait));
    let mut client = Client {
        stream,
        pending: Vec::new(),
    };
    let mut size = None;
    let mut header = [0u8; 5];
    if client.stream.read_exact(&mut header).is_ok() {
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut payload = vec![0u8; len.min(1 << 20)];
        if client.stream.read_exact(&mut payload).is_ok() {
            if header[0] == RESIZE && payload.len() == 4 {
                size = Some((
                    u16::from_be_bytes([payload[0], payload[1]]),
                    u16::from_be_bytes([payload[2], payload[3]]),
                ));
            } else {
                client.pending = frame(header[0], &payload);
            }
        }
    }
    let _ = client.stream.set_read_timeout(None);
    Ok((client, size))
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
