//! `POST /images/{name}/push?tag=`: a push through the library call `strata push`
//! makes (`strata_registry::push`), streamed as Docker's JSON progress, ending with
//! `TAG: digest: … size: N` and the `aux` message clients read the digest from. An
//! image that is not stored is the status (404); a registry's refusal (credentials)
//! comes in-band, after "The push refers to repository", as dockerd sends it.

use super::messages::{LayerMessages, Messages, PUSH};
use super::registry_auth;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::stream::Headers;
use hyper::StatusCode;
use serde_json::json;
use strata_images::{ImageError, ImageRef, ImageStore};
use strata_registry::ClientOptions;
use strata_registry::{PushCompression, PushOptions};

pub fn push(store: &ImageStore, registry: &ClientOptions, name: &str, call: &Call) -> Result<Reply, ApiError> {
    let given = ImageRef::parse_untagged(name).map_err(ImageError::from)?;
    let tag = call.query("tag").unwrap_or_default();
    let references = match (tag, given.tag().or(given.digest())) {
        ("", None) => tags_of(store, &given)?,
        ("", Some(_)) => vec![given.clone()],
        (t, _) => vec![given.with_tag(t)],
    };
    for reference in &references {
        if let Err(ImageError::NotFound { .. }) = store.resolve(&reference.to_string()) {
            return Err(not_stored(reference));
        }
    }
    let credentials = registry_auth::request_credentials(call, false)?;
    let store = store.try_clone()?;
    let registry = registry.clone();
    Reply::streamed("application/json", Headers::AtFirstByte, move |w| {
        let messages = Messages::new(w);
        messages.status(&format!("The push refers to repository [{}]", given.repository()));
        let pushed = (|| -> Result<(), ApiError> {
            let client = registry_auth::connect(&registry, given.domain(), credentials)?;
            let options = PushOptions {
                compression: PushCompression::Gzip,
                level: None,
            };
            for reference in &references {
                let layers = LayerMessages::new(&messages, PUSH);
                let pushed = strata_registry::push(&store, &client, reference, options, &layers)?;
                messages.status(&format!(
                    "{}: digest: {} size: {}",
                    pushed.tag, pushed.digest, pushed.size
                ));
                messages.send(&json!({
                    "progressDetail": {},
                    "aux": { "Tag": pushed.tag, "Digest": pushed.digest.to_string(), "Size": pushed.size },
                }));
            }
            Ok(())
        })();
        if let Err(e) = pushed {
            if !messages.error(&e.message) {
                log::warn!("a push stopped: the API client went away ({})", e.message);
            }
        }
        Ok(())
    })
}

/// Every stored tag of `repository` (a push without a tag pushes them all, as moby's).
fn tags_of(store: &ImageStore, repository: &ImageRef) -> Result<Vec<ImageRef>, ApiError> {
    let references = strata_images::listing::repository_tags(store, repository)?;
    if references.is_empty() {
        return Err(not_stored(repository));
    }
    Ok(references)
}

/// Docker's words for an image to push that is not stored.
fn not_stored(reference: &ImageRef) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "An image does not exist locally with the tag: {}",
            reference.familiar_repository()
        ),
    )
}
