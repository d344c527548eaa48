//! `/_ping`, `/version`, `/info`, `/system/df`, `/events` (the store's events journal,
//! as `strata events` follows it) and `/auth` (credentials checked as `strata login`
//! checks them).

mod events;

use super::images::registry_auth;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::BodyKind;
use crate::versions::{API_VERSION, MIN_API_VERSION};
use hyper::StatusCode;
use serde_json::{json, Value};
use strata_containers::volume_use::volumes_with_usage;
use strata_containers::Containers;
use strata_images::ImageListOptions;
use strata_registry::ClientOptions;
use strata_runtime::listing::{list_containers, ContainerListOptions};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The system endpoints that call the libraries with a request (`/info` and
/// `/system/df` take none).
pub enum Op {
    /// `GET /events`.
    Events,
    /// `POST /auth`.
    Auth,
}

impl Op {
    pub fn body(&self) -> BodyKind {
        match self {
            Op::Events => BodyKind::None,
            Op::Auth => BodyKind::Json,
        }
    }
}

pub fn handle(containers: &Containers<'_>, registry: &ClientOptions, op: Op, call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::Events => events::events(containers.store(), call),
        Op::Auth => auth(registry, call),
    }
}

/// `POST /auth`: the credentials checked against the registry, as `strata login` checks
/// them; nothing is stored (the client keeps them). Refused credentials are 401 with
/// Docker's words.
fn auth(options: &ClientOptions, call: &Call) -> Result<Reply, ApiError> {
    let config: registry_auth::AuthConfig = call.json()?;
    let credentials = config
        .credentials()?
        .ok_or_else(|| ApiError::invalid("Error: Username and password are required"))?;
    match strata_registry::login::check_credentials(&config.serveraddress, options, credentials) {
        Ok(()) => Ok(Reply::ok(&json!({ "Status": "Login Succeeded", "IdentityToken": "" }))),
        Err(e @ strata_registry::RegistryError::LoginRefused { .. }) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `/_ping`: what clients negotiate from. HEAD answers the same headers, no body.
pub fn ping(head: bool) -> Reply {
    let reply = match head {
        true => Reply::empty(StatusCode::OK)
            .header("Content-Type", "text/plain; charset=utf-8")
            .header("Content-Length", "0"),
        false => Reply::text(StatusCode::OK, "OK"),
    };
    reply
        .header("Builder-Version", "1")
        .header("Docker-Experimental", "false")
        .header("Swarm", "inactive")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Pragma", "no-cache")
}

/// `/version`: strata's version and the API versions it answers.
pub fn version() -> Reply {
    let kernel = strata_runtime::info::kernel_version();
    let arch = strata_archive::image_archive::host_architecture();
    let (api, min_api) = (API_VERSION.to_string(), MIN_API_VERSION.to_string());
    Reply::ok(&json!({
        "Platform": { "Name": "strata" },
        "Components": [{
            "Name": "Engine",
            "Version": VERSION,
            "Details": {
                "ApiVersion": api,
                "MinAPIVersion": min_api,
                "Os": "linux",
                "Arch": arch,
                "KernelVersion": kernel,
                "Experimental": "false",
            },
        }],
        "Version": VERSION,
        "ApiVersion": api,
        "MinAPIVersion": min_api,
        "GitCommit": "",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": kernel,
    }))
}

pub fn info(containers: &Containers<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::ok(&strata_runtime::info::info(containers)?))
}

/// `/system/df`: every image with the containers using it and its shared bytes, every
/// container with its sizes, every volume with its usage.
pub fn disk_usage(containers: &Containers<'_>) -> Result<Reply, ApiError> {
    let store = containers.store();
    let rows = list_containers(
        containers,
        &ContainerListOptions {
            all: true,
            ..Default::default()
        },
        chrono::Utc::now(),
    )?;
    let all_images = ImageListOptions {
        all: true,
        ..Default::default()
    };
    let shared = strata_images::usage::shared_sizes(&store.list()?);
    let mut images = super::images::summaries(store, strata_images::list_images(store, &all_images)?);
    for image in &mut images {
        image.containers = rows.iter().filter(|r| r.record.image_id == image.id).count() as i64;
        image.shared_size = shared.get(&image.id).copied().unwrap_or(0);
    }
    let container_summaries: Vec<Value> = rows
        .iter()
        .map(|r| super::containers::summary(containers, r, true))
        .collect();
    Ok(Reply::ok(&json!({
        "LayersSize": store.disk_usage()?.layer_bytes,
        "Images": images,
        "Containers": container_summaries,
        "Volumes": volumes_with_usage(containers)?,
        "BuildCache": build_cache(store)?,
    })))
}

/// The `RUN --mount=type=cache` directories as Docker's `BuildCache` records.
fn build_cache(store: &strata_images::ImageStore) -> Result<Vec<Value>, ApiError> {
    let time = |t: Option<std::time::SystemTime>| t.map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339());
    Ok(store
        .cache_mounts()?
        .into_iter()
        .map(|cache| {
            json!({
                "ID": cache.key,
                "Parents": null,
                "Type": "exec.cachemount",
                "Description": format!("cached mount {}", cache.id),
                "InUse": cache.in_use,
                "Shared": true,
                "Size": cache.bytes,
                "CreatedAt": time(cache.created),
                "LastUsedAt": time(cache.last_used),
                "UsageCount": cache.uses,
            })
        })
        .collect())
}
