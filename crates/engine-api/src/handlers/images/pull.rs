//! `POST /images/create?fromImage=&tag=&platform=`: a pull through the library call
//! `strata pull` makes (`strata_registry::pull_reported`), streamed as Docker's JSON
//! progress. The manifest is found before the first byte, so a missing repository or
//! tag is the answer's status (404), as dockerd answers it.

use super::messages::{LayerMessages, Messages, PULL};
use super::registry_auth;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::stream::{ChannelWriter, Headers};
use serde_json::json;
use strata_images::{ImageError, ImageRef, ImageStore, Progress};
use strata_registry::ClientOptions;
use strata_registry::{Client, Credentials, Platform, PullNotice, PullProgress};

/// What to pull: one reference, or every tag of a repository (moby's answer to a
/// `fromImage` with neither tag nor digest, and no `tag`).
enum Wanted {
    One(ImageRef),
    AllTags(ImageRef),
}

fn wanted(call: &Call) -> Result<Wanted, ApiError> {
    let image = call.query("fromImage").unwrap_or_default();
    let tag = call.query("tag").unwrap_or_default();
    let named = match tag {
        "" => image.to_string(),
        t if t.contains(':') => format!("{image}@{t}"),
        t => format!("{image}:{t}"),
    };
    let given = ImageRef::parse_untagged(&named).map_err(ImageError::from)?;
    Ok(match (given.tag(), given.digest()) {
        (None, None) => Wanted::AllTags(given),
        _ => Wanted::One(given),
    })
}

pub fn pull(store: &ImageStore, registry: &ClientOptions, call: &Call) -> Result<Reply, ApiError> {
    let wanted = wanted(call)?;
    let platform = match call.query("platform").unwrap_or_default() {
        "" => Platform::host(),
        p => Platform::parse(p)?,
    };
    let credentials = registry_auth::request_credentials(call, true)?;
    let store = store.try_clone()?;
    let registry = registry.clone();
    Reply::streamed("application/json", Headers::AtFirstByte, move |w| {
        pulling(&store, &registry, wanted, &platform, credentials, w)
    })
}

fn pulling(
    store: &ImageStore,
    registry: &ClientOptions,
    wanted: Wanted,
    platform: &Platform,
    credentials: Option<Credentials>,
    w: &mut ChannelWriter,
) -> Result<(), ApiError> {
    let messages = Messages::new(w);
    let outcome = (|| -> Result<(), ApiError> {
        let given = match &wanted {
            Wanted::One(r) | Wanted::AllTags(r) => r,
        };
        let client = registry_auth::connect(registry, given.domain(), credentials)?;
        match wanted {
            Wanted::One(reference) => pull_one(store, &client, &reference, platform, &messages),
            Wanted::AllTags(repository) => {
                for tag in client.tags(repository.path())? {
                    pull_one(store, &client, &repository.with_tag(&tag), platform, &messages)?;
                }
                Ok(())
            }
        }
    })();
    match outcome {
        Err(e) if !messages.started() => Err(e),
        Err(e) => {
            if !messages.error(&e.message) {
                log::warn!("a pull stopped: the API client went away ({})", e.message);
            }
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

pub(crate) fn pull_one(
    store: &ImageStore,
    client: &Client,
    reference: &ImageRef,
    platform: &Platform,
    messages: &Messages<&mut ChannelWriter>,
) -> Result<(), ApiError> {
    let sink = PullMessages {
        layers: LayerMessages::new(messages, PULL),
    };
    strata_registry::pull_reported(store, client, reference, platform, &sink)?;
    Ok(())
}

/// A pull's notices and layers as Docker's messages. "Pulling from" waits for the
/// first layer: until then a failure (no such manifest) is still the status code.
struct PullMessages<'m, 'w> {
    layers: LayerMessages<'m, &'w mut ChannelWriter>,
}

impl Progress for PullMessages<'_, '_> {
    fn layer(&self, id: &str, event: strata_images::LayerEvent) {
        self.layers.layer(id, event)
    }

    fn cancelled(&self) -> bool {
        self.layers.cancelled()
    }
}

impl PullProgress for PullMessages<'_, '_> {
    fn notice(&self, notice: PullNotice<'_>) {
        match notice {
            PullNotice::NotFoundLocally { .. } => {}
            PullNotice::Pulling { target, path } => self.layers.hold(json!({
                "status": format!("Pulling from {path}"),
                "id": target,
            })),
            PullNotice::Pulled { reference, pulled } => {
                self.layers.release();
                let status = match pulled.new {
                    true => "Downloaded newer image for",
                    false => "Image is up to date for",
                };
                let m = self.layers.messages;
                m.status(&format!("Digest: {}", pulled.digest));
                m.status(&format!("Status: {status} {}", reference.familiar()));
            }
        }
    }
}
