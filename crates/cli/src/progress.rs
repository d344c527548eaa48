//! Per-layer progress: bars on a terminal (indicatif), plain lines otherwise.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use strata_images::{LayerEvent, Progress};

/// Draws layer progress on stderr, leaving stdout for results.
pub struct LayerProgress {
    verb: &'static str,
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
    quiet: bool,
}

impl LayerProgress {
    /// `verb` is Docker's word for the work: "Loading layer", "Importing".
    pub fn new(verb: &'static str, quiet: bool) -> Self {
        let bars = (!quiet && std::io::stderr().is_terminal()).then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                Mutex::new(HashMap::new()),
            )
        });
        LayerProgress { verb, bars, quiet }
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
}

impl Progress for LayerProgress {
    fn layer(&self, id: &str, event: LayerEvent) {
        if self.quiet {
            return;
        }
        match (&self.bars, event) {
            (Some(_), LayerEvent::Started { total }) => self.bar(id, total),
            (Some((_, bars)), LayerEvent::Advanced { done }) => {
                if let Some(b) = bars.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
                    b.set_position(done);
                }
            }
            (Some((_, bars)), LayerEvent::Finished) => {
                if let Some(b) = bars.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
                    b.finish();
                }
            }
            (Some((multi, _)), LayerEvent::Exists) => {
                let _ = multi.println(format!("{id}: Already exists"));
            }
            (None, LayerEvent::Started { .. }) => eprintln!("{id}: {}", self.verb),
            (None, LayerEvent::Finished) => eprintln!("{id}: Done"),
            (None, LayerEvent::Exists) => eprintln!("{id}: Already exists"),
            (None, LayerEvent::Advanced { .. }) => {}
        }
    }
}
