//! A pull that reports what it does, besides per-layer progress: the sink both front
//! ends implement (the CLI prints Docker's lines, an API server streams its JSON
//! messages).

use crate::client::Client;
use crate::error::Result;
use crate::manifest::Platform;
use crate::pull::{pull, Pulled};
use strata_images::{ImageRef, ImageStore, Progress};

/// What a pull reports beyond layers, in the order it happens.
#[derive(Debug, Clone, Copy)]
pub enum PullNotice<'a> {
    /// The image is not stored, so it is pulled (Docker's "Unable to find image
    /// 'NAME' locally" of `run` and `create`).
    NotFoundLocally { reference: &'a ImageRef },
    /// Pulling starts (Docker's "TARGET: Pulling from PATH"); `target` is the tag or
    /// digest pulled.
    Pulling { target: &'a str, path: &'a str },
    /// The image is stored (Docker's "Digest: …" and "Status: …").
    Pulled {
        reference: &'a ImageRef,
        pulled: &'a Pulled,
    },
}

/// Receives a pull's notices and its layers' progress.
pub trait PullProgress: Progress {
    fn notice(&self, notice: PullNotice<'_>);
}

/// Reports nothing.
pub struct SilentPull;

impl Progress for SilentPull {
    fn layer(&self, _: &str, _: strata_images::LayerEvent) {}
}

impl PullProgress for SilentPull {
    fn notice(&self, _: PullNotice<'_>) {}
}

/// The tag or digest a reference pulls: `latest` when it names neither.
pub fn pull_target(reference: &ImageRef) -> &str {
    reference.digest().or(reference.tag()).unwrap_or("latest")
}

/// [`pull`], announced to `sink` before and after.
pub fn pull_reported(
    store: &ImageStore,
    client: &Client,
    reference: &ImageRef,
    platform: &Platform,
    sink: &dyn PullProgress,
) -> Result<Pulled> {
    sink.notice(PullNotice::Pulling {
        target: pull_target(reference),
        path: reference.path(),
    });
    let pulled = pull(store, client, reference, platform, sink)?;
    sink.notice(PullNotice::Pulled {
        reference,
        pulled: &pulled,
    });
    Ok(pulled)
}
