//! `/containers/{id}/archive` (GET, HEAD, PUT: `docker cp` both ways), `/export` and
//! `/changes`: a container's files, through the same safe resolver as `strata cp`
//! (`strata_runtime::copy`), the same export as `strata export` and the same diff as
//! `strata diff`.

use crate::error::{message_chain, status_of, ApiError};
use crate::reply::Reply;
use crate::request::Call;
use crate::router::BodyKind;
use crate::stream::Headers;
use base64::Engine as _;
use hyper::{Method, StatusCode};
use serde_json::json;
use strata_containers::{Change, ContainerRecord, Containers};
use strata_images::ImageStore;
use strata_runtime::copy::{self, CopyError, ExtractOptions, PathStat};

pub enum Op {
    Changes(String),
    Export(String),
    /// `GET` (a tar of the path) or `HEAD` (its stat only).
    Archive {
        id: String,
        head: bool,
    },
    /// `PUT`: a tar extracted into the directory at the path.
    Extract(String),
}

impl Op {
    pub fn body(&self) -> BodyKind {
        match self {
            Op::Extract(_) => BodyKind::Stream,
            _ => BodyKind::None,
        }
    }
}

/// `action`: the path after `/containers/{id}/`.
pub fn route(method: &Method, id: &str, action: &[&str]) -> Option<Op> {
    let id = id.to_string();
    Some(match (method, action) {
        (&Method::GET, ["changes"]) => Op::Changes(id),
        (&Method::GET, ["export"]) => Op::Export(id),
        (&Method::GET, ["archive"]) => Op::Archive { id, head: false },
        (&Method::HEAD, ["archive"]) => Op::Archive { id, head: true },
        (&Method::PUT, ["archive"]) => Op::Extract(id),
        _ => return None,
    })
}

pub fn handle(containers: &Containers<'_>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::Changes(name) => changes(containers, &name),
        Op::Export(name) => export(containers, &name),
        Op::Archive { id, head: true } => {
            let record = containers.resolve(&id)?;
            let stat = copy::stat_path(containers, &record, required_path(call)?).map_err(copy_error)?;
            Ok(Reply::empty(StatusCode::OK).header_value(STAT_HEADER, stat_header(&stat)))
        }
        Op::Archive { id, head: false } => archive(containers, &id, call),
        Op::Extract(id) => extract(containers, &id, call),
    }
}

/// Docker's `X-Docker-Container-Path-Stat`: base64 of the path's stat in JSON.
const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn stat_header(stat: &PathStat) -> String {
    let mtime = chrono::DateTime::from_timestamp(stat.mtime_secs, stat.mtime_nanos)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let doc = json!({
        "name": stat.name,
        "size": stat.size,
        "mode": stat.go_file_mode(),
        "mtime": mtime,
        "linkTarget": stat.link_target,
    });
    base64::engine::general_purpose::STANDARD.encode(doc.to_string())
}

/// A copy error answered by its kind; a `--read-only` root is Docker's 403.
fn copy_error(e: CopyError) -> ApiError {
    let status = match e {
        CopyError::ReadOnly => StatusCode::FORBIDDEN,
        _ => status_of(e.kind()),
    };
    ApiError::new(status, message_chain(&e))
}

/// `path`, which moby requires.
fn required_path(call: &Call) -> Result<&str, ApiError> {
    call.query("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("path is required"))
}

/// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 changed, 1 added,
/// 2 deleted (Docker's `ChangeType`).
fn changes(containers: &Containers<'_>, name: &str) -> Result<Reply, ApiError> {
    let record = containers.resolve(name)?;
    let changes: Vec<_> = containers
        .diff(&record)?
        .into_iter()
        .map(|change| {
            let (path, kind) = match change {
                Change::Changed(p) => (p, 0),
                Change::Added(p) => (p, 1),
                Change::Deleted(p) => (p, 2),
            };
            json!({ "Path": path, "Kind": kind })
        })
        .collect();
    Ok(Reply::ok(&changes))
}

/// The store again, for a producer thread that outlives the handler's borrow of it.
fn own_store(containers: &Containers<'_>) -> Result<ImageStore, ApiError> {
    Ok(ImageStore::open(containers.store().root())?)
}

/// `GET /containers/{id}/export`: the whole filesystem as a tar, as `strata export`.
fn export(containers: &Containers<'_>, name: &str) -> Result<Reply, ApiError> {
    let record = containers.resolve(name)?;
    let store = own_store(containers)?;
    Reply::streamed("application/x-tar", Headers::AtFirstByte, move |out| {
        let containers = Containers::new(&store);
        strata_runtime::lifecycle::export(&containers, &record, out)?;
        Ok(())
    })
}

/// `GET /containers/{id}/archive?path=`: the tar of the path, its stat in the header.
fn archive(containers: &Containers<'_>, name: &str, call: &Call) -> Result<Reply, ApiError> {
    let record: ContainerRecord = containers.resolve(name)?;
    let path = required_path(call)?.to_string();
    let store = own_store(containers)?;
    // The producer sends the stat it resolved before its first byte, so the header and
    // the archive are of the same object.
    let (stat_tx, stat_rx) = std::sync::mpsc::sync_channel(1);
    let reply = Reply::streamed("application/x-tar", Headers::AtFirstByte, move |out| {
        let containers = Containers::new(&store);
        let seen = |stat: &PathStat| {
            let _ = stat_tx.send(stat_header(stat));
        };
        copy::archive_path(&containers, &record, &path, seen, out).map_err(copy_error)?;
        Ok(())
    })?;
    Ok(match stat_rx.try_recv() {
        Ok(stat) => reply.header_value(STAT_HEADER, stat),
        Err(_) => reply,
    })
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`: the body, a
/// tar, extracted into the directory at `path`.
fn extract(containers: &Containers<'_>, name: &str, call: &Call) -> Result<Reply, ApiError> {
    let record = containers.resolve(name)?;
    let path = required_path(call)?;
    let options = ExtractOptions {
        no_overwrite_dir_non_dir: call.flag("noOverwriteDirNonDir"),
        copy_uid_gid: call.flag("copyUIDGID"),
    };
    let body = call.body_reader()?;
    copy::extract_archive(containers, &record, path, body, &options).map_err(copy_error)?;
    Ok(Reply::empty(StatusCode::OK))
}
