//! Progress events that long operations report, for the CLI to draw (bars on a TTY,
//! plain lines otherwise) or a future API to stream.

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
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.reported >= 256 << 10 || (n == 0 && self.done != self.reported) {
            self.reported = self.done;
            self.progress.layer(self.id, LayerEvent::Advanced { done: self.done });
        }
        Ok(n)
    }
}

/// Docker's short layer/image identifier: the first 12 hex digits.
pub fn short_id(digest: &str) -> &str {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    &hex[..hex.len().min(12)]
}
