//! Progress events that long operations report, for the CLI to draw (bars on a TTY,
//! plain lines otherwise) or the Engine API to stream.

use std::io::{self, Read};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEvent {
    /// The layer is in the store already; nothing is read.
    Exists,
    /// The layer was linked from another repository of the registry (a push's
    /// cross-repository mount): nothing is sent.
    Mounted {
        from: String,
    },
    /// The layer is queued (a pull's "Pulling fs layer", a push's "Preparing").
    Waiting,
    /// Reading starts; `total` bytes are expected (0 when unknown).
    Started {
        total: u64,
    },
    /// `done` bytes of the layer's input were read so far.
    Advanced {
        done: u64,
    },
    Finished,
}

pub trait Progress: Sync {
    /// `id` is the short (12 hex) identifier Docker shows for the layer.
    fn layer(&self, id: &str, event: LayerEvent);

    /// Whether the caller no longer wants the result (an API client went away). A
    /// transfer checks it on every read ([`Counted`]) and before it publishes anything,
    /// and then fails: nothing is stored for a caller who is gone.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn layer(&self, _: &str, _: LayerEvent) {}
}

/// A reader that reports how much of it was read, at most every 256 KiB.
pub struct Counted<'a, R> {
    inner: R,
    id: &'a str,
    progress: &'a dyn Progress,
    done: u64,
    reported: u64,
}

impl<'a, R> Counted<'a, R> {
    pub fn new(inner: R, id: &'a str, progress: &'a dyn Progress) -> Self {
        Counted {
            inner,
            id,
            progress,
            done: 0,
            reported: 0,
        }
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.progress.cancelled() {
            return Err(cancelled());
        }
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.reported >= 256 << 10 || (n == 0 && self.done != self.reported) {
            self.reported = self.done;
            self.progress.layer(self.id, LayerEvent::Advanced { done: self.done });
        }
        Ok(n)
    }
}

/// The error of a transfer its caller gave up on.
pub fn cancelled() -> io::Error {
    io::Error::other("cancelled: the caller went away")
}

/// Docker's short layer/image identifier: the first 12 hex digits.
pub fn short_id(digest: &str) -> &str {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    &hex[..hex.len().min(12)]
}
