//! Hijacked connections (attach, exec start): after Docker's `101 UPGRADED` the
//! connection is a raw stream both ways: the container's output goes out (framed as
//! Docker's stdcopy when there is no terminal), the client's input comes in. The
//! session runs the library's synchronous attach on a thread of its own with the
//! socket itself as its input, so a client's stdin is polled as a terminal's would be.
//!
//! A client that asks without `Upgrade` gets the output as a plain streamed body, as
//! moby's fallback does, and sends nothing.

use crate::idle::Busy;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex};

/// What a hijacked session runs: given the connection's two halves.
pub type Session = Box<dyn FnOnce(Hijacked) + Send>;

/// The media types of a hijacked stream (moby's `types.MediaTypeRawStream`, …).
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// A session's connection: output to the client; input from it, when upgraded.
pub struct Hijacked {
    pub output: Box<dyn Write + Send>,
    pub input: Option<Connection>,
    /// Keeps the service up while the session lasts.
    pub(crate) _busy: Option<Busy>,
}

impl Hijacked {
    /// The session's stdout and stderr: Docker's stdcopy frames (stream 1 and 2) on one
    /// connection without a terminal, the raw bytes with one (stdout only).
    pub fn outputs(self, tty: bool) -> (Option<Connection>, Framed, Framed, Option<Busy>) {
        let shared = Arc::new(Mutex::new(self.output));
        let framed = |stream| Framed {
            out: Arc::clone(&shared),
            stream: (!tty).then_some(stream),
        };
        (self.input, framed(1), framed(2), self._busy)
    }
}

/// An upgraded connection as a blocking socket the session can poll.
pub enum Connection {
    Unix(std::os::unix::net::UnixStream),
    Tcp(std::net::TcpStream),
}

impl Connection {
    pub fn try_clone(&self) -> std::io::Result<Connection> {
        Ok(match self {
            Connection::Unix(s) => Connection::Unix(s.try_clone()?),
            Connection::Tcp(s) => Connection::Tcp(s.try_clone()?),
        })
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Connection::Unix(s) => s.read(buf),
            Connection::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Connection::Unix(s) => s.write(buf),
            Connection::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Connection::Unix(s) => s.as_fd(),
            Connection::Tcp(s) => s.as_fd(),
        }
    }
}

/// One of a session's outputs: each write a stdcopy frame (8-byte header: the stream,
/// three zero bytes, the big-endian length) or, on a terminal, the bytes as they are.
pub struct Framed {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    stream: Option<u8>,
}

impl Write for Framed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        match self.stream {
            None => out.write_all(buf)?,
            Some(stream) => out.write_all(&frame(stream, buf))?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// A stdcopy frame of `payload` on `stream` (0 stdin, 1 stdout, 2 stderr).
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(8 + payload.len());
    framed.extend_from_slice(&[stream, 0, 0, 0]);
    framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    framed.extend_from_slice(payload);
    framed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn outputs(tty: bool) -> (Shared, Framed, Framed) {
        let sink = Shared::default();
        let hijacked = Hijacked {
            output: Box::new(sink.clone()),
            input: None,
            _busy: None,
        };
        let (_, out, err, _) = hijacked.outputs(tty);
        (sink, out, err)
    }

    #[test]
    fn without_a_terminal_stdout_and_stderr_are_stdcopy_frames() {
        let (sink, mut out, mut err) = outputs(false);
        out.write_all(b"hi\n").unwrap();
        err.write_all(b"oops").unwrap();
        let bytes = sink.0.lock().unwrap().clone();
        assert_eq!(&bytes[..11], b"\x01\0\0\0\0\0\0\x03hi\n");
        assert_eq!(&bytes[11..], b"\x02\0\0\0\0\0\0\x04oops");
    }

    #[test]
    fn on_a_terminal_the_bytes_go_as_they_are() {
        let (sink, mut out, _) = outputs(true);
        out.write_all(b"raw").unwrap();
        assert_eq!(sink.0.lock().unwrap().as_slice(), b"raw");
    }
}
