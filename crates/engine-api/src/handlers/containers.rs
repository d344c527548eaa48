//! `/containers/…`: list and inspect, from the same library calls as `strata ps` and
//! `strata inspect`. Everything that needs a container's process is the next slice.

use crate::error::ApiError;
use crate::refused::Refusal;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::Route;
use hyper::Method;
use serde_json::{json, Value};
use strata_containers::{state_text, ContainerState, Containers};
use strata_runtime::listing::{list_containers, ContainerListOptions, ContainerRow, PortEntry};

pub enum Op {
    List,
    Inspect(String),
}

/// `rest`: the path after `/containers/`.
pub fn route(method: &Method, rest: &str) -> Option<Route> {
    let parts: Vec<&str> = rest.split('/').collect();
    let op = match (method, parts.as_slice()) {
        (&Method::GET, ["json"]) => Op::List,
        (&Method::GET, [id, "json"]) => Op::Inspect(id.to_string()),
        (&Method::POST, ["create"]) => return not_yet("creating a container"),
        (&Method::POST, ["prune"]) => return not_yet("pruning containers"),
        (&Method::DELETE, [_]) => return not_yet("removing a container"),
        (_, [_, action @ ..]) => return not_yet(process_endpoint(method, action)?),
        _ => return None,
    };
    Some(Route::Container(op))
}

/// The Engine API's endpoints on one container that need its process (or change it).
fn process_endpoint(method: &Method, action: &[&str]) -> Option<&'static str> {
    let what = match (method, action) {
        (&Method::POST, ["start" | "stop" | "restart" | "kill" | "pause" | "unpause"]) => {
            "starting and stopping containers"
        }
        (&Method::POST, ["attach"]) | (&Method::GET, ["attach", "ws"]) => "attaching to a container",
        (&Method::POST, ["wait"]) => "waiting for a container",
        (&Method::POST, ["exec"]) => "exec",
        (&Method::POST, ["rename" | "resize" | "update"]) => "changing a container",
        (&Method::GET, ["logs"]) => "container logs",
        (&Method::GET, ["top" | "stats"]) => "a container's processes and statistics",
        (&Method::GET, ["changes" | "export"]) => "a container's changes and export",
        (&Method::GET | &Method::HEAD | &Method::PUT, ["archive"]) => "copying files to and from a container",
        _ => return None,
    };
    Some(what)
}

fn not_yet(what: &'static str) -> Option<Route> {
    Some(Route::Refused(Refusal::NotYet(what)))
}

pub fn handle(containers: &Containers<'_>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::List => list(containers, call),
        Op::Inspect(name) => {
            let record = containers.resolve(&name)?;
            Ok(Reply::ok(&strata_runtime::inspect::container(containers, &record)?))
        }
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
