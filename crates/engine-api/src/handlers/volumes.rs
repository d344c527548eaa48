//! `/volumes…`: list, inspect, create, delete and prune, from the same library calls as
//! `strata volume ls|inspect|create|rm|prune`.

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::Route;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use strata_containers::volume_use::{list_volumes, prune_volumes, remove_volume};
use strata_containers::volumes::Volumes;
use strata_containers::{ContainerError, Containers};
use strata_images::PruneFilter;

pub enum Op {
    List,
    Inspect(String),
    Create,
    Remove(String),
    Prune,
}

impl Op {
    pub fn takes_body(&self) -> bool {
        matches!(self, Op::Create)
    }
}

/// `rest`: the path after `/volumes`, with its slash (empty for the list).
pub fn route(method: &Method, rest: &str) -> Option<Route> {
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let op = match (method, parts.as_slice()) {
        (&Method::GET, [""]) => Op::List,
        (&Method::POST, ["create"]) => Op::Create,
        (&Method::POST, ["prune"]) => Op::Prune,
        (&Method::GET, [name]) => Op::Inspect(name.to_string()),
        (&Method::DELETE, [name]) if !name.is_empty() => Op::Remove(name.to_string()),
        _ => return None,
    };
    Some(Route::Volume(op))
}

pub fn handle(containers: &Containers<'_>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    let volumes = Volumes::new(containers.store().root());
    match op {
        Op::List => {
            let found = list_volumes(containers, &call.filters()?)?;
            let documents: Vec<_> = found.iter().map(|v| volumes.document(v)).collect();
            Ok(Reply::ok(&json!({ "Volumes": documents, "Warnings": null })))
        }
        Op::Inspect(name) => match volumes.get(&name)? {
            Some(v) => Ok(Reply::ok(&volumes.document(&v))),
            None => Err(ContainerError::NoSuchVolume(name).into()),
        },
        Op::Create => create(containers, &volumes, call),
        Op::Remove(name) => {
            remove_volume(containers, &name)?;
            Ok(Reply::empty(StatusCode::NO_CONTENT))
        }
        Op::Prune => prune(containers, call),
    }
}

/// Docker's `VolumeCreateBody`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateRequest {
    name: Option<String>,
    driver: Option<String>,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

fn create(containers: &Containers<'_>, volumes: &Volumes, call: &Call) -> Result<Reply, ApiError> {
    let request: CreateRequest = call.json()?;
    if !matches!(request.driver.as_deref().unwrap_or(""), "" | "local") {
        return Err(ApiError::invalid(
            "volume create: only the local driver is supported by strata",
        ));
    }
    if request.driver_opts.is_some_and(|o| !o.is_empty()) {
        return Err(ApiError::invalid(
            "volume create: DriverOpts are not supported by strata",
        ));
    }
    let labels: Vec<String> = request
        .labels
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let name = request.name.filter(|n| !n.is_empty());
    let meta = containers.create_labelled_volume(name.as_deref(), &labels)?;
    Ok(Reply::json(StatusCode::CREATED, &volumes.document(&meta)))
}

/// API 1.41's prune: every volume no container uses, named ones too (anonymous-only
/// came with 1.42, which strata does not advertise).
fn prune(containers: &Containers<'_>, call: &Call) -> Result<Reply, ApiError> {
    let filter = PruneFilter::parse(&call.filters()?, strata_metadata::events::now_nano())?;
    let pruned = prune_volumes(containers, true, &filter)?;
    Ok(Reply::ok(&json!({
        "VolumesDeleted": pruned.names,
        "SpaceReclaimed": pruned.reclaimed,
    })))
}
