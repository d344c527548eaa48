//! A layer read on one thread and unpacked on another. Reading a layer (download, blob
//! digest, decompression, DiffID) and unpacking it (tar parsing, file creation) each
//! take about half of a big layer's CPU; in one thread they add up, and the biggest
//! layer of a pull or load is the whole operation's critical path.
//!
//! The unpacking side gets the bytes in buffers that go back and forth over two bounded
//! channels: at most [`BUFFERS`] × [`BUFFER`] bytes are in flight, allocated (and
//! zeroed) once.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes a buffer holds.
const BUFFER: usize = 256 * 1024;
/// Buffers in flight.
const BUFFERS: usize = 8;

/// Runs `consume` on a thread of its own, reading what `source` gives on this one, and
/// returns its result once both ends are done. `consume` must read to the end of its
/// reader (a stream's checksum and anything after it count); if it stops early, this
/// side stops reading and the first failure of `source` is dropped: `consume`'s result
/// is what says why it stopped. A failure of `source` reaches `consume` as its reader's
/// error, in the order the bytes came.
pub(crate) fn relayed<T: Send>(source: &mut impl Read, consume: impl FnOnce(&mut Relayed) -> T + Send) -> T {
    let (full_tx, full_rx) = sync_channel::<io::Result<Filled>>(BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        empty_tx
            .send(vec![0; BUFFER])
            .expect("the channel has room for every buffer");
    }
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || {
            let mut reader = Relayed {
                full: full_rx,
                empty: empty_tx,
                current: Filled(Vec::new(), 0),
                at: 0,
            };
            consume(&mut reader)
        });
        feed(source, &full_tx, &empty_rx);
        drop(full_tx);
        match consumer.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A buffer and how many of its bytes are the stream's (the rest is left over from its
/// last round: a buffer is never cleared or shrunk).
struct Filled(Vec<u8>, usize);

/// Fills buffers from `source` until its end, its first failure, or the consumer's end.
fn feed(source: &mut impl Read, full: &SyncSender<io::Result<Filled>>, empty: &Receiver<Vec<u8>>) {
    while let Ok(mut buffer) = empty.recv() {
        let (n, failure) = fill(source, &mut buffer);
        if n > 0 && full.send(Ok(Filled(buffer, n))).is_err() {
            return;
        }
        match failure {
            Some(e) => {
                let _ = full.send(Err(e));
                return;
            }
            None if n == 0 => return,
            None => {}
        }
    }
}

/// Reads into `buffer` until it is full, `source` ends, or it fails: the bytes read,
/// and the failure that came after them.
fn fill(source: &mut impl Read, buffer: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buffer.len() {
        match source.read(&mut buffer[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// The consuming side's reader.
pub(crate) struct Relayed {
    full: Receiver<io::Result<Filled>>,
    empty: SyncSender<Vec<u8>>,
    current: Filled,
    at: usize,
}

impl Read for Relayed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.1 {
            let Filled(spent, _) = std::mem::replace(&mut self.current, Filled(Vec::new(), 0));
            if !spent.is_empty() {
                // The feeding side may have ended: then nobody needs it back.
                let _ = self.empty.try_send(spent);
            }
            self.at = 0;
            match self.full.recv() {
                Ok(Ok(next)) => self.current = next,
                Ok(Err(e)) => return Err(e),
                // The feeding side ended: the stream's end.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.1 - self.at);
        buf[..n].copy_from_slice(&self.current.0[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_arrives_in_order() {
        let data: Vec<u8> = (0..3 * BUFFER + 12345).map(|i| (i * 7 % 251) as u8).collect();
        let got = relayed(&mut data.as_slice(), |r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            out
        });
        assert_eq!(got, data);
    }

    /// Gives `good` bytes, then fails.
    struct Failing {
        good: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good == 0 {
                return Err(io::Error::other("the connection was reset"));
            }
            let n = buf.len().min(self.good).min(1000);
            buf[..n].fill(1);
            self.good -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_source_failure_reaches_the_reader_after_the_bytes_before_it() {
        let (bytes, error) = relayed(&mut Failing { good: BUFFER + 10 }, |r| {
            let mut out = Vec::new();
            let error = r.read_to_end(&mut out).unwrap_err();
            (out.len(), error.to_string())
        });
        assert_eq!(bytes, BUFFER + 10);
        assert_eq!(error, "the connection was reset");
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_reading() {
        let mut endless = io::repeat(3);
        let first = relayed(&mut endless, |r| {
            let mut byte = [0u8; 1];
            r.read_exact(&mut byte).unwrap();
            byte[0]
        });
        assert_eq!(first, 3);
    }
}
