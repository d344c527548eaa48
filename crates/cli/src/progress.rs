//! Per-layer progress: bars on a terminal (indicatif), plain lines otherwise.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use strata_images::{LayerEvent, Progress};
use strata_registry::{PullNotice, PullProgress};

/// Draws layer progress: on stderr for commands whose stdout is a result (load,
/// import), on stdout for pull and push, as Docker does.
pub struct LayerProgress {
    verb: &'static str,
    waiting: &'static str,
    done: &'static str,
    exists: &'static str,
    to_stdout: bool,
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
    quiet: bool,
}

impl LayerProgress {
    /// `verb` is Docker's word for the work: "Loading layer", "Importing".
    pub fn new(verb: &'static str, quiet: bool) -> Self {
        Self::build(verb, quiet, false)
    }

    /// Progress on stdout (pull, push).
    pub fn stdout(verb: &'static str, quiet: bool) -> Self {
        Self::build(verb, quiet, true)
    }

    fn build(verb: &'static str, quiet: bool, to_stdout: bool) -> Self {
        let terminal = if to_stdout {
            std::io::stdout().is_terminal()
        } else {
            std::io::stderr().is_terminal()
        };
        let bars = (!quiet && terminal).then(|| {
            let target = if to_stdout {
                ProgressDrawTarget::stdout()
            } else {
                ProgressDrawTarget::stderr()
            };
            (MultiProgress::with_draw_target(target), Mutex::new(HashMap::new()))
        });
        LayerProgress {
            verb,
            waiting: "Waiting",
            done: "Done",
            exists: "Already exists",
            to_stdout,
            bars,
            quiet,
        }
    }

    /// Docker's words for a queued and a finished layer ("Pulling fs layer", "Pull complete").
    pub fn words(mut self, waiting: &'static str, done: &'static str) -> Self {
        self.waiting = waiting;
        self.done = done;
        self
    }

    /// Docker's words for a layer that needs no transfer ("Layer already exists").
    pub fn exists(mut self, exists: &'static str) -> Self {
        self.exists = exists;
        self
    }

    fn line(&self, id: &str, status: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(format!("{id}: {status}"));
            }
            None if self.to_stdout => println!("{id}: {status}"),
            None => eprintln!("{id}: {status}"),
        }
    }

    fn bar(&self, id: &str, total: u64) {
        let Some((multi, bars)) = &self.bars else {
            return;
        };
        let bar = multi.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template("{prefix}: {msg} [{bar:50}] {decimal_bytes}/{decimal_total_bytes}")
            .expect("valid template")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(id.to_string());
        bar.set_message(self.verb);
        bars.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), bar);
    }

    fn with_bar(&self, id: &str, f: impl FnOnce(&ProgressBar)) {
        if let Some((_, bars)) = &self.bars {
            if let Some(b) = bars.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
                f(b);
            }
        }
    }
}

impl Progress for LayerProgress {
    fn layer(&self, id: &str, event: LayerEvent) {
        if self.quiet {
            return;
        }
        match (self.bars.is_some(), event) {
            (_, LayerEvent::Exists) => self.line(id, self.exists),
            (_, LayerEvent::Mounted { from }) => self.line(id, &format!("Mounted from {from}")),
            (_, LayerEvent::Waiting) => self.line(id, self.waiting),
            (true, LayerEvent::Started { total }) => self.bar(id, total),
            (true, LayerEvent::Advanced { done }) => self.with_bar(id, |b| b.set_position(done)),
            (true, LayerEvent::Finished) => self.with_bar(id, |b| {
                b.set_message(self.done);
                b.finish();
            }),
            (false, LayerEvent::Started { .. }) => self.line(id, self.verb),
            (false, LayerEvent::Finished) => self.line(id, self.done),
            (false, LayerEvent::Advanced { .. }) => {}
        }
    }
}

/// A pull's lines in Docker's words ("Pulling from", "Digest:", "Status:") around its
/// layer progress: on stdout for `pull`, on stderr for `run` and `create`.
pub struct PullLines {
    /// Taken when the pull ends, so that its bars are finished before the summary.
    layers: Mutex<Option<LayerProgress>>,
    to_stdout: bool,
    quiet: bool,
}

impl PullLines {
    pub fn stdout(quiet: bool) -> Self {
        Self::build(LayerProgress::stdout("Downloading", quiet), true, quiet)
    }

    pub fn stderr() -> Self {
        Self::build(LayerProgress::new("Downloading", false), false, false)
    }

    fn build(layers: LayerProgress, to_stdout: bool, quiet: bool) -> Self {
        PullLines {
            layers: Mutex::new(Some(layers.words("Pulling fs layer", "Pull complete"))),
            to_stdout,
            quiet,
        }
    }

    fn say(&self, line: &str) {
        if self.to_stdout {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

impl Progress for PullLines {
    fn layer(&self, id: &str, event: LayerEvent) {
        if let Some(layers) = &*self.layers.lock().unwrap_or_else(|p| p.into_inner()) {
            layers.layer(id, event);
        }
    }
}

impl PullProgress for PullLines {
    fn notice(&self, notice: PullNotice<'_>) {
        match notice {
            // Docker prints this one even for a quiet run.
            PullNotice::NotFoundLocally { reference } => {
                eprintln!("Unable to find image '{}' locally", reference.familiar())
            }
            _ if self.quiet => {}
            PullNotice::Pulling { target, path } => self.say(&format!("{target}: Pulling from {path}")),
            PullNotice::Pulled { reference, pulled } => {
                drop(self.layers.lock().unwrap_or_else(|p| p.into_inner()).take());
                let status = if pulled.new {
                    "Downloaded newer image for"
                } else {
                    "Image is up to date for"
                };
                self.say(&format!("Digest: {}", pulled.digest));
                self.say(&format!("Status: {status} {}", reference.familiar()));
            }
        }
    }
}
