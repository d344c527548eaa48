//! Image archives over the API, through the library calls of `strata save`, `load`
//! and `import`: `GET /images/{name}/get` and `GET /images/get?names=…` stream a
//! docker-archive; `POST /images/load` and `POST /images/create?fromSrc=-` read the
//! request body as it arrives. All or nothing, as the library is: a body broken off or
//! a hostile archive is an error, and nothing of it is listed.

use super::messages::{LayerMessages, Messages, LOAD};
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::stream::Headers;
use serde_json::json;
use strata_images::import::{ImportOptions, ImportSource};
use strata_images::{ImageStore, LoadSource, Silent};

/// `GET /images/{name}/get` (`name` given) or `GET /images/get?names=a&names=b`.
pub fn save(store: &ImageStore, name: Option<String>, call: &Call) -> Result<Reply, ApiError> {
    let names: Vec<String> = match name {
        Some(n) => vec![n],
        None => call.query_all("names").into_iter().map(str::to_string).collect(),
    };
    if names.is_empty() {
        return Err(ApiError::invalid("no images named: pass names=IMAGE (once per image)"));
    }
    let store = store.try_clone()?;
    // Missing images fail before the first byte: the answer is their 404.
    Reply::streamed("application/x-tar", Headers::AtFirstByte, move |w| {
        Ok(store.save(&names, std::io::BufWriter::with_capacity(1 << 20, w), &Silent)?)
    })
}

/// `POST /images/load?quiet=`: Docker's JSON lines, `Loaded image: NAME` (or `Loaded
/// image ID:` for an image without names).
pub fn load(store: &ImageStore, call: &Call) -> Result<Reply, ApiError> {
    let quiet = call.flag("quiet");
    let body = call.body_reader()?;
    let store = store.try_clone()?;
    Reply::streamed("application/json", Headers::AtFirstByte, move |w| {
        let messages = Messages::new(w);
        let source = LoadSource::Reader {
            what: "the request body",
            reader: Box::new(body),
        };
        let loaded = match quiet {
            true => store.load(source, &Silent),
            false => store.load(source, &LayerMessages::new(&messages, LOAD)),
        };
        let report = match loaded {
            Ok(report) => report,
            Err(e) if !messages.started() => return Err(e.into()),
            Err(e) => {
                messages.error(&ApiError::from(e).message);
                return Ok(());
            }
        };
        let say = |line: String| messages.send(&json!({ "stream": format!("{line}\n") }));
        for (name, previous) in &report.renamed {
            say(format!(
                "The image {name} already exists, renaming the old one with ID {previous} to empty string"
            ));
        }
        for (id, names) in &report.images {
            if names.is_empty() {
                say(format!("Loaded image ID: {id}"));
            }
            for name in names {
                say(format!("Loaded image: {name}"));
            }
        }
        Ok(())
    })
}

/// `POST /images/create?fromSrc=-|URL&repo=&tag=&changes=&message=`: `strata import`
/// of the request body (or of the URL), answering the new image's ID.
pub fn import(store: &ImageStore, source: &str, call: &Call) -> Result<Reply, ApiError> {
    let repo = call.query("repo").unwrap_or_default();
    let reference = match (repo, call.query("tag").unwrap_or_default()) {
        ("", _) => None,
        (r, "") => Some(r.to_string()),
        (r, t) => Some(format!("{r}:{t}")),
    };
    let options = ImportOptions {
        reference,
        changes: call.query_all("changes").into_iter().map(str::to_string).collect(),
        message: call.query("message").filter(|m| !m.is_empty()).map(str::to_string),
    };
    let url = match source {
        "-" => None,
        s if s.starts_with("http://") || s.starts_with("https://") => Some(s.to_string()),
        other => {
            return Err(ApiError::invalid(format!(
                "cannot import from {other:?}: fromSrc takes - (the request body) or an http(s) URL"
            )))
        }
    };
    let body = call.body_reader()?;
    let store = store.try_clone()?;
    Reply::streamed("application/json", Headers::AtFirstByte, move |w| {
        let source = match &url {
            Some(u) => ImportSource::Url(u),
            None => ImportSource::Reader(Box::new(body)),
        };
        let id = store.import(source, &options, &Silent)?;
        Messages::new(w).status(&id);
        Ok(())
    })
}
