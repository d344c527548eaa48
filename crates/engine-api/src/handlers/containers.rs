//! `/containers/…`: the same library calls as `strata ps`, `inspect`, `create`,
//! `start`, `stop`, `kill`, `rm`, `attach`, `logs` and `wait`. Files (archive, export,
//! changes) and statistics (stats, top) have modules of their own.

use crate::error::ApiError;
use crate::refused::Refusal;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::{BodyKind, Route};
use hyper::Method;
use serde_json::{json, Value};
use strata_containers::{state_text, ContainerState, Containers};
use strata_runtime::listing::{list_containers, ContainerListOptions, ContainerRow, PortEntry};

pub enum Op {
    List,
    Inspect(String),
    Create,
    Prune,
    Remove(String),
    /// An action on one container (`/containers/{id}/{action}`).
    Act(String, Action),
    Files(super::container_files::Op),
    Stats(super::container_stats::Op),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Kill,
    Pause,
    Unpause,
    Rename,
    Resize,
    Update,
    Wait,
    Attach,
    Logs,
}

impl Op {
    pub fn body(&self) -> BodyKind {
        match self {
            Op::Create => BodyKind::Json,
            Op::Act(_, Action::Update) => BodyKind::Json,
            Op::Files(op) => op.body(),
            Op::Stats(op) => op.body(),
            _ => BodyKind::None,
        }
    }
}

/// `rest`: the path after `/containers/`.
pub fn route(method: &Method, rest: &str) -> Option<Route> {
    let parts: Vec<&str> = rest.split('/').collect();
    let op = match (method, parts.as_slice()) {
        (&Method::GET, ["json"]) => Op::List,
        (&Method::POST, ["create"]) => Op::Create,
        (&Method::POST, ["prune"]) => Op::Prune,
        (&Method::GET, [id, "json"]) => Op::Inspect(id.to_string()),
        (&Method::DELETE, [id]) => Op::Remove(id.to_string()),
        (&Method::POST, [id, "exec"]) => return Some(Route::Exec(super::exec::Op::Create(id.to_string()))),
        (_, [id, action @ ..]) => {
            if let Some(op) = super::container_files::route(method, id, action) {
                Op::Files(op)
            } else if let Some(op) = super::container_stats::route(method, id, action) {
                Op::Stats(op)
            } else {
                Op::Act(id.to_string(), action_of(method, action)?)
            }
        }
        _ => return None,
    };
    Some(Route::Container(op))
}

fn action_of(method: &Method, action: &[&str]) -> Option<Action> {
    Some(match (method, action) {
        (&Method::POST, ["start"]) => Action::Start,
        (&Method::POST, ["stop"]) => Action::Stop,
        (&Method::POST, ["restart"]) => Action::Restart,
        (&Method::POST, ["kill"]) => Action::Kill,
        (&Method::POST, ["pause"]) => Action::Pause,
        (&Method::POST, ["unpause"]) => Action::Unpause,
        (&Method::POST, ["rename"]) => Action::Rename,
        (&Method::POST, ["resize"]) => Action::Resize,
        (&Method::POST, ["update"]) => Action::Update,
        (&Method::POST, ["wait"]) => Action::Wait,
        (&Method::POST, ["attach"]) => Action::Attach,
        (&Method::GET, ["logs"]) => Action::Logs,
        _ => return None,
    })
}

pub fn handle(containers: &Containers<'_>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::List => list(containers, call),
        Op::Inspect(name) => {
            let record = containers.resolve(&name)?;
            Ok(Reply::ok(&strata_runtime::inspect::container(containers, &record)?))
        }
        Op::Files(op) => super::container_files::handle(containers, op, call),
        Op::Stats(op) => super::container_stats::handle(containers, op, call),
        Op::Create | Op::Prune | Op::Remove(_) | Op::Act(..) => Err(Refusal::NotYet("container processes").error()),
    }
}

/// `all`, `limit` (newest N of any state, as `ps -n`), `size`, `filters` (as `ps --filter`).
fn list(containers: &Containers<'_>, call: &Call) -> Result<Reply, ApiError> {
    let options = ContainerListOptions {
        all: call.flag("all"),
        limit: call.int("limit")?.filter(|n| *n > 0).map(|n| n as usize),
        filters: call.filters()?,
    };
    let rows = list_containers(containers, &options, chrono::Utc::now())?;
    let size = call.flag("size");
    let summaries: Vec<Value> = rows.iter().map(|r| summary(containers, r, size)).collect();
    Ok(Reply::ok(&summaries))
}

/// Docker's `ContainerSummary` of a `ps` row; with `size`, the writable layer's bytes
/// and those of the whole root.
pub fn summary(containers: &Containers<'_>, row: &ContainerRow, size: bool) -> Value {
    let (record, config) = (&row.record, &row.config);
    let running = record.state == ContainerState::Running;
    let settings = strata_runtime::inspect::network_settings(containers, record, config, running);
    let mut summary = json!({
        "Id": record.id,
        "Names": [format!("/{}", record.name)],
        "Image": record.image_name,
        "ImageID": record.image_id,
        "Command": config.args().join(" "),
        "Created": super::images::unix_time(Some(&record.created)),
        "Ports": row.ports.iter().filter_map(port).collect::<Vec<_>>(),
        "Labels": config.labels,
        "State": state_text(record, row.paused),
        "Status": row.status,
        "HostConfig": { "NetworkMode": config.network },
        "NetworkSettings": { "Networks": settings["Networks"] },
        "Mounts": strata_runtime::inspect::mounts(config),
    });
    if size {
        let rw = containers.size_rw(&record.id) as i64;
        let image = containers.store().db().image(&record.image_id).ok().flatten();
        summary["SizeRw"] = json!(rw);
        summary["SizeRootFs"] = json!(rw + image.map_or(0, |i| i.size));
    }
    summary
}

/// Docker's `Port`: a published one with its host side, an exposed one without.
fn port(entry: &PortEntry) -> Option<Value> {
    Some(match entry {
        PortEntry::Published(p) => json!({
            "IP": p.host_ip,
            "PrivatePort": p.container_port,
            "PublicPort": p.host_port,
            "Type": p.protocol.as_str(),
        }),
        PortEntry::Exposed(spec) => {
            let (port, protocol) = strata_network::ports::parse_exposed(spec).ok()?;
            json!({ "PrivatePort": port, "Type": protocol.as_str() })
        }
    })
}
