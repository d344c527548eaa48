//! `/images/…`: list, inspect, history, tag, delete and prune, from the same library
//! calls as `strata images`, `inspect`, `history`, `tag`, `rmi` and `image prune`; pull
//! and import (`create`), push, save (`get`), load and search as `strata pull`, `push`,
//! `save`, `load`, `import` and `search`; and `POST /commit` as `strata commit`.

mod archive;
mod commit;
pub(crate) mod messages;
pub(crate) mod pull;
mod push;
pub mod registry_auth;

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::{BodyKind, Route};
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use strata_images::remove::RemoveEvent;
use strata_images::{ImageListOptions, ImageRow, ImageStore, PruneFilter};
use strata_registry::ClientOptions;

pub enum Op {
    List,
    Inspect(String),
    History(String),
    Tag(String),
    Remove(String),
    Prune,
    /// `POST /commit`.
    Commit,
    /// `POST /images/create`: a pull (`fromImage`) or an import (`fromSrc`).
    Create,
    Push(String),
    /// `GET /images/{name}/get`, or `GET /images/get?names=…` (no name).
    Save(Option<String>),
    Load,
    Search,
    /// `GET /images/{name}/explore` (strata's own): the layer explorer's analysis, the
    /// JSON `strata image explore --format json` prints.
    Explore(String),
}

impl Op {
    pub fn body(&self) -> BodyKind {
        match self {
            Op::Commit => BodyKind::Json,
            // An import's tarball; a pull sends none.
            Op::Create | Op::Load => BodyKind::Stream,
            _ => BodyKind::None,
        }
    }
}

/// `rest`: the path after `/images/`. Names hold slashes (`host:5000/a/b:1`), so the
/// fixed endpoints are matched first, then the name by its suffix, as moby's
/// `{name:.*}` routes do.
pub fn route(method: &Method, rest: &str) -> Option<Route> {
    let op = match (method, rest) {
        (&Method::GET, "json") => Op::List,
        (&Method::POST, "prune") => Op::Prune,
        (&Method::POST, "create") => Op::Create,
        (&Method::POST, "load") => Op::Load,
        (&Method::GET, "get") => Op::Save(None),
        (&Method::GET, "search") => Op::Search,
        (&Method::DELETE, name) if !name.is_empty() => Op::Remove(name.into()),
        (&Method::GET, _) if rest.ends_with("/get") => Op::Save(Some(named(rest, "/get")?)),
        (&Method::POST, _) if rest.ends_with("/push") => Op::Push(named(rest, "/push")?),
        (&Method::GET, _) if rest.ends_with("/explore") => Op::Explore(named(rest, "/explore")?),
        (&Method::GET, _) => match named(rest, "/json") {
            Some(name) => Op::Inspect(name),
            None => Op::History(named(rest, "/history")?),
        },
        (&Method::POST, _) => Op::Tag(named(rest, "/tag")?),
        _ => return None,
    };
    Some(Route::Image(op))
}

fn named(rest: &str, suffix: &str) -> Option<String> {
    rest.strip_suffix(suffix).filter(|n| !n.is_empty()).map(str::to_string)
}

/// `registry`: how the service reaches registries (a client's credentials come with
/// its request).
pub fn handle(store: &ImageStore, registry: &ClientOptions, op: Op, call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::List => list(store, call),
        Op::Inspect(name) => Ok(Reply::ok(&store.inspect(&store.resolve(&name)?)?)),
        Op::History(name) => history(store, &name),
        Op::Tag(name) => tag(store, &name, call),
        Op::Remove(name) => {
            let events = store.remove(&name, call.flag("force"))?;
            Ok(Reply::ok(&events.iter().map(event).collect::<Vec<_>>()))
        }
        Op::Prune => prune(store, call),
        Op::Commit => commit::commit(store, call),
        Op::Create => match call.query("fromSrc").unwrap_or_default() {
            "" => pull::pull(store, registry, call),
            source => archive::import(store, source, call),
        },
        Op::Push(name) => push::push(store, registry, &name, call),
        Op::Save(name) => archive::save(store, name, call),
        Op::Load => archive::load(store, call),
        Op::Search => search(registry, call),
        Op::Explore(name) => {
            let opts = strata_explore::source::ExploreOptions::default();
            Ok(Reply::ok(&strata_explore::source::explore(store, &name, &opts)?))
        }
    }
}

/// `GET /images/search?term=&limit=&filters=`, as `strata search`: Docker Hub's
/// search API where a registry offers it, else the registry's catalog. A registry
/// that cannot be reached (Docker Hub, from a machine without the internet) is the
/// engine's error, 500, as dockerd answers it.
fn search(options: &ClientOptions, call: &Call) -> Result<Reply, ApiError> {
    let term = call.query("term").unwrap_or_default();
    if term.is_empty() {
        return Err(ApiError::invalid("no search term: pass term=WORD"));
    }
    let limit = match call.int("limit")? {
        None | Some(0) => 25,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => return Err(ApiError::invalid(format!("limit {n} is outside the range [1, 100]"))),
    };
    let (registry, term) = strata_registry::search::split_term(term);
    let credentials = registry_auth::request_credentials(call, true)?;
    let client = registry_auth::connect(options, &registry, credentials)?;
    let mut results = client.search(&term, limit)?;
    strata_registry::search::apply_filters(&mut results, &call.filters()?)?;
    Ok(Reply::ok(&results))
}

/// Docker's `ImageSummary` (API 1.41).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: i64,
    pub virtual_size: i64,
    /// -1 unless asked for (`system df`), as Docker's.
    pub shared_size: i64,
    pub labels: Value,
    pub containers: i64,
}

fn list(store: &ImageStore, call: &Call) -> Result<Reply, ApiError> {
    let options = ImageListOptions {
        all: call.flag("all"),
        repository: None,
        filters: call.filters()?,
    };
    let rows = strata_images::list_images(store, &options)?;
    Ok(Reply::ok(&summaries(store, rows)))
}

/// One summary per image, with the names of its rows. An image without names has
/// `<none>` ones, as API 1.41 shows it.
pub fn summaries(store: &ImageStore, rows: Vec<ImageRow>) -> Vec<ImageSummary> {
    let mut out: Vec<ImageSummary> = Vec::new();
    for row in rows {
        let name = format!("{}:{}", row.repository, row.tag);
        if let Some(last) = out.last_mut().filter(|s| s.id == row.image.id) {
            last.repo_tags.push(name);
            continue;
        }
        let dangling = row.image.tags.is_empty();
        out.push(ImageSummary {
            id: row.image.id.clone(),
            parent_id: String::new(),
            repo_tags: vec![name],
            repo_digests: if dangling {
                vec!["<none>@<none>".into()]
            } else {
                Vec::new()
            },
            created: unix_time(row.image.created.as_deref()),
            size: row.image.size,
            virtual_size: row.image.size,
            shared_size: -1,
            labels: strata_images::listing::labels(store, &row.image),
            containers: -1,
        });
    }
    out
}

/// Seconds since the epoch of an RFC 3339 time; 0 when unknown.
pub fn unix_time(text: Option<&str>) -> i64 {
    text.and_then(strata_images::age::parse_time)
        .map_or(0, |t| t.timestamp())
}

fn history(store: &ImageStore, name: &str) -> Result<Reply, ApiError> {
    let image = store.resolve(name)?.image;
    let tags: Vec<String> = image
        .tags
        .iter()
        .map(|name| {
            let (repository, tag) = strata_images::listing::split_name(name);
            format!("{repository}:{tag}")
        })
        .collect();
    let entries: Vec<Value> = store
        .history(&image)?
        .iter()
        .map(|h| {
            json!({
                "Id": h.id,
                "Created": unix_time(h.created.as_deref()),
                "CreatedBy": h.created_by,
                // Only the image itself has names; the rows below are `<missing>`.
                "Tags": if h.id == image.id && !tags.is_empty() { json!(tags) } else { Value::Null },
                "Size": h.size,
                "Comment": h.comment,
            })
        })
        .collect();
    Ok(Reply::ok(&entries))
}

/// `POST /images/{name}/tag?repo=R&tag=T`; no tag means `latest`, as Docker's.
fn tag(store: &ImageStore, name: &str, call: &Call) -> Result<Reply, ApiError> {
    let repo = call.query("repo").unwrap_or_default();
    if repo.is_empty() {
        return Err(ApiError::invalid("repository name must have at least one component"));
    }
    let target = match call.query("tag").unwrap_or_default() {
        "" => repo.to_string(),
        tag => format!("{repo}:{tag}"),
    };
    store.tag(name, &target)?;
    Ok(Reply::empty(StatusCode::CREATED))
}

fn event(e: &RemoveEvent) -> Value {
    match e {
        RemoveEvent::Untagged(name) => json!({ "Untagged": name }),
        RemoveEvent::Deleted(id) => json!({ "Deleted": id }),
    }
}

fn prune(store: &ImageStore, call: &Call) -> Result<Reply, ApiError> {
    let (all, filter) = PruneFilter::parse_image_prune(&call.filters()?, strata_metadata::events::now_nano())?;
    let (events, bytes) = store.prune_matching(all, &filter)?;
    let deleted: Vec<Value> = events.iter().map(event).collect();
    Ok(Reply::ok(&json!({
        "ImagesDeleted": if deleted.is_empty() { Value::Null } else { Value::Array(deleted) },
        "SpaceReclaimed": bytes,
    })))
}
