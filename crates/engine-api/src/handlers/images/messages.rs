//! Docker's JSON progress messages (moby's `jsonmessage`), one document a line, as a
//! pull, a push, a load and an import stream them; and the sinks that turn the
//! libraries' progress into them.
//!
//! A write that fails means the client went away: the sink remembers it and answers
//! [`Progress::cancelled`] from then on, so the library stops the transfer and stores
//! nothing for a client who is gone.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use strata_images::{LayerEvent, Progress};

/// A stream of JSON messages over a writer shared by the library's threads.
pub struct Messages<W: Write + Send> {
    out: Mutex<W>,
    /// Something was written (an error now goes in-band, not as the status).
    written: AtomicBool,
    /// A write failed: the client is gone.
    gone: AtomicBool,
}

impl<W: Write + Send> Messages<W> {
    pub fn new(out: W) -> Self {
        Messages {
            out: Mutex::new(out),
            written: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        }
    }

    /// Writes one message; false when the client is gone.
    pub fn send(&self, message: &Value) -> bool {
        if self.gone() {
            return false;
        }
        let mut line = serde_json::to_vec(message).expect("messages serialize");
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        self.written.store(true, Ordering::Relaxed);
        let sent = out.write_all(&line).and_then(|()| out.flush()).is_ok();
        if !sent {
            self.gone.store(true, Ordering::Relaxed);
        }
        sent
    }

    /// `{"status": …}`
    pub fn status(&self, status: &str) -> bool {
        self.send(&json!({ "status": status }))
    }

    /// `{"status": …, "progressDetail": {}, "id": …}`: a layer's step.
    pub fn layer_status(&self, id: &str, status: &str) -> bool {
        self.send(&json!({ "status": status, "progressDetail": {}, "id": id }))
    }

    /// A layer's bytes so far. Docker's CLI draws a bar from `progressDetail` on a
    /// terminal and leaves such lines out elsewhere (unless nothing moved yet).
    pub fn layer_progress(&self, id: &str, status: &str, current: u64, total: u64) -> bool {
        let mut detail = json!({ "current": current });
        if total > 0 {
            detail["total"] = total.into();
        }
        self.send(&json!({ "status": status, "progressDetail": detail, "id": id }))
    }

    /// Docker's in-band error: after the first byte the status is sent, so a failure
    /// is a message the client reports (and exits non-zero on).
    pub fn error(&self, message: &str) -> bool {
        self.send(&json!({ "errorDetail": { "message": message }, "error": message }))
    }

    /// Whether anything was written yet.
    pub fn started(&self) -> bool {
        self.written.load(Ordering::Relaxed)
    }

    pub fn gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }
}

/// Docker's words for one kind of transfer's layer steps.
#[derive(Clone, Copy)]
pub struct Words {
    pub exists: &'static str,
    pub waiting: &'static str,
    pub moving: &'static str,
    /// The last words of a finished layer, in order.
    pub done: &'static [&'static str],
}

pub const PULL: Words = Words {
    exists: "Already exists",
    waiting: "Pulling fs layer",
    moving: "Downloading",
    // The layer is unpacked as it arrives: verified and extracted when its bytes end.
    done: &["Verifying Checksum", "Download complete", "Pull complete"],
};

pub const PUSH: Words = Words {
    exists: "Layer already exists",
    waiting: "Preparing",
    moving: "Pushing",
    done: &["Pushed"],
};

pub const LOAD: Words = Words {
    exists: "Already exists",
    waiting: "Waiting",
    moving: "Loading layer",
    done: &["Loaded"],
};

/// The libraries' layer progress as Docker's messages.
pub struct LayerMessages<'m, W: Write + Send> {
    pub messages: &'m Messages<W>,
    words: Words,
    totals: Mutex<HashMap<String, u64>>,
    /// Held back until the first layer step: what may still turn into a status code
    /// (a pull's "Pulling from", sent once the manifest was found).
    pending: Mutex<Vec<Value>>,
}

impl<'m, W: Write + Send> LayerMessages<'m, W> {
    pub fn new(messages: &'m Messages<W>, words: Words) -> Self {
        LayerMessages {
            messages,
            words,
            totals: Mutex::new(HashMap::new()),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Sends `message` before the next one, not now.
    pub fn hold(&self, message: Value) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(message);
    }

    /// Sends what was held back.
    pub fn release(&self) {
        let held = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for message in held {
            self.messages.send(&message);
        }
    }
}

impl<W: Write + Send> Progress for LayerMessages<'_, W> {
    fn layer(&self, id: &str, event: LayerEvent) {
        self.release();
        let m = self.messages;
        let total_of = |id: &str| {
            let totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
            totals.get(id).copied().unwrap_or(0)
        };
        match event {
            LayerEvent::Exists => {
                m.layer_status(id, self.words.exists);
            }
            LayerEvent::Mounted { from } => {
                m.layer_status(id, &format!("Mounted from {from}"));
            }
            LayerEvent::Waiting => {
                m.layer_status(id, self.words.waiting);
            }
            LayerEvent::Started { total } => {
                self.totals
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.to_string(), total);
                m.layer_progress(id, self.words.moving, 0, total);
            }
            LayerEvent::Advanced { done } => {
                m.layer_progress(id, self.words.moving, done, total_of(id));
            }
            LayerEvent::Finished => {
                for word in self.words.done {
                    m.layer_status(id, word);
                }
            }
        }
    }

    fn cancelled(&self) -> bool {
        self.messages.gone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose client went away after `left` writes.
    struct Closing {
        left: usize,
        lines: Vec<u8>,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.left -= 1;
            self.lines.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn layer_steps_are_dockers_messages() {
        let messages = Messages::new(Vec::new());
        let layers = LayerMessages::new(&messages, PULL);
        layers.hold(json!({ "status": "Pulling from x", "id": "1" }));
        assert!(!messages.started());
        layers.layer("abc", LayerEvent::Waiting);
        layers.layer("abc", LayerEvent::Started { total: 10 });
        layers.layer("abc", LayerEvent::Advanced { done: 4 });
        layers.layer("abc", LayerEvent::Finished);
        let out = messages.out.into_inner().unwrap();
        let lines: Vec<Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines[0], json!({ "status": "Pulling from x", "id": "1" }));
        assert_eq!(lines[1]["status"], "Pulling fs layer");
        assert_eq!(lines[3]["progressDetail"], json!({ "current": 4, "total": 10 }));
        let last: Vec<&str> = lines[4..].iter().map(|l| l["status"].as_str().unwrap()).collect();
        assert_eq!(last, ["Verifying Checksum", "Download complete", "Pull complete"]);
    }

    #[test]
    fn a_failed_write_cancels_the_transfer() {
        let messages = Messages::new(Closing {
            left: 1,
            lines: Vec::new(),
        });
        let layers = LayerMessages::new(&messages, PUSH);
        layers.layer("abc", LayerEvent::Waiting);
        assert!(!layers.cancelled());
        layers.layer("abc", LayerEvent::Started { total: 1 });
        assert!(layers.cancelled());
        assert!(!messages.status("late"));
    }
}
