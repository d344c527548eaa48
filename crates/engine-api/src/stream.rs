//! Answers that go on after their handler returns: a body written by a producer on a
//! thread of its own (logs that follow, pull progress, an image archive, the events
//! journal), and the bodies of requests read as they arrive (load, import, archive
//! uploads). Producers write through `std::io::Write`, so the libraries' writers need
//! no async; a full channel holds the producer back (the client reads slowly), a closed
//! one fails its next write (the client went away), which ends the producer.
//!
//! Long-lived producers run on threads of their own, never on the blocking pool: a few
//! `logs -f` must not take every worker the other requests need.

use crate::error::ApiError;
use hyper::body::Bytes;
use std::io::{Read, Write};
use tokio::sync::mpsc;

/// How many chunks may wait for a slow client before the producer waits.
const CHANNEL_DEPTH: usize = 16;

/// What a producer sends to the body.
pub enum Item {
    Data(Bytes),
    /// The producer failed. Before any data this is the request's answer; after, the
    /// body just ends (a producer whose format has in-band errors wrote one first).
    Failed(ApiError),
}

/// The receiving end of a streamed body.
pub type Chunks = mpsc::Receiver<Item>;

/// The producer's end: `Write` into the body.
pub struct ChannelWriter {
    tx: mpsc::Sender<Item>,
}

impl ChannelWriter {
    pub fn pair() -> (ChannelWriter, Chunks) {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        (ChannelWriter { tx }, rx)
    }

    /// Whether the client went away (the body was dropped): a producer waiting for
    /// something to write checks this between waits.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// [`Self::is_closed`] for a closure that cannot borrow the writer.
    pub fn watch(&self) -> ClientWatch {
        ClientWatch(self.tx.clone())
    }

    fn fail(&self, error: ApiError) {
        let _ = self.tx.blocking_send(Item::Failed(error));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.tx
            .blocking_send(Item::Data(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the API client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Tells whether a streamed answer's client is still there.
pub struct ClientWatch(mpsc::Sender<Item>);

impl ClientWatch {
    pub fn gone(&self) -> bool {
        self.0.is_closed()
    }
}

/// When the status line and headers of a streamed answer go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    /// With the first byte of the body: a failure before it is the answer's status
    /// (a pull of a missing image is a 404, not a 200 with an error inside).
    AtFirstByte,
    /// At once: the client waits for them before it goes on (`wait`, `events`).
    AtOnce,
}

/// Runs `produce` on a thread of its own, writing into a body. With
/// [`Headers::AtFirstByte`], waits (on the calling blocking worker) for its first byte
/// or its end. Returns the body's chunks so far, or the failure before any.
pub fn produce(
    name: &str,
    headers: Headers,
    produce: impl FnOnce(&mut ChannelWriter) -> Result<(), ApiError> + Send + 'static,
) -> Result<(Option<Bytes>, Chunks), ApiError> {
    let (mut writer, mut chunks) = ChannelWriter::pair();
    std::thread::Builder::new()
        .name(format!("api-{name}"))
        .spawn(move || {
            if let Err(e) = produce(&mut writer) {
                writer.fail(e);
            }
        })
        .map_err(|e| ApiError::internal(format!("starting a thread for {name}: {e}")))?;
    if headers == Headers::AtOnce {
        return Ok((None, chunks));
    }
    match chunks.blocking_recv() {
        Some(Item::Data(first)) => Ok((Some(first), chunks)),
        Some(Item::Failed(e)) => Err(e),
        None => Ok((None, chunks)),
    }
}

/// A request body read as it arrives: `Read` for the libraries, fed by a task that
/// pulls hyper's frames. A client that breaks off mid-body makes a read fail, so
/// nothing half-received is taken for whole.
pub struct BodyReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl BodyReader {
    pub fn new(rx: mpsc::Receiver<std::io::Result<Bytes>>) -> Self {
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }

    pub fn channel() -> (mpsc::Sender<std::io::Result<Bytes>>, BodyReader) {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        (tx, BodyReader::new(rx))
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_before_the_first_byte_is_the_answer() {
        let failed = produce("t", Headers::AtFirstByte, |_| Err(ApiError::invalid("no such thing")));
        assert_eq!(failed.err().map(|e| e.message), Some("no such thing".to_string()));
        let (first, mut rest) = produce("t", Headers::AtFirstByte, |w| {
            w.write_all(b"one")?;
            w.write_all(b"two")?;
            Err(ApiError::invalid("late"))
        })
        .unwrap();
        assert_eq!(first.as_deref(), Some(&b"one"[..]));
        assert!(matches!(rest.blocking_recv(), Some(Item::Data(b)) if b == "two"));
        assert!(matches!(rest.blocking_recv(), Some(Item::Failed(_))));
    }

    #[test]
    fn a_gone_client_fails_the_producers_next_write() {
        let (mut writer, chunks) = ChannelWriter::pair();
        drop(chunks);
        let e = writer.write_all(b"x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn a_body_broken_off_fails_the_read() {
        let (tx, mut reader) = BodyReader::channel();
        tx.blocking_send(Ok(Bytes::from_static(b"abc"))).unwrap();
        tx.blocking_send(Err(std::io::Error::other("reset"))).unwrap();
        drop(tx);
        let mut buf = [0u8; 2];
        assert_eq!(reader.read(&mut buf).unwrap(), 2);
        assert_eq!(reader.read(&mut buf).unwrap(), 1);
        assert!(reader.read(&mut buf).is_err());
    }
}
