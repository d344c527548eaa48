//! Exec instances: `POST /containers/{id}/exec` (create), `/exec/{id}/start`
//! (hijacked, or detached), `/exec/{id}/resize` and `/exec/{id}/json`, through
//! `strata_runtime::exec` as `strata exec`.

use super::container_attach::exec_session;
use super::Context;
use crate::error::ApiError;
use crate::hijack::{MULTIPLEXED_STREAM, RAW_STREAM};
use crate::reply::Reply;
use crate::request::Call;
use crate::router::{BodyKind, Route};
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use strata_containers::Containers;
use strata_runtime::exec::{self, ExecOptions};

pub enum Op {
    Create(String),
    Start(String),
    Resize(String),
    Inspect(String),
}

impl Op {
    pub fn body(&self) -> BodyKind {
        match self {
            Op::Create(_) | Op::Start(_) => BodyKind::Json,
            Op::Resize(_) | Op::Inspect(_) => BodyKind::None,
        }
    }
}

/// `rest`: the path after `/exec/`.
pub fn route(method: &Method, rest: &str) -> Option<Route> {
    let parts: Vec<&str> = rest.split('/').collect();
    let op = match (method, parts.as_slice()) {
        (&Method::POST, [id, "start"]) => Op::Start(id.to_string()),
        (&Method::POST, [id, "resize"]) => Op::Resize(id.to_string()),
        (&Method::GET, [id, "json"]) => Op::Inspect(id.to_string()),
        _ => return None,
    };
    Some(Route::Exec(op))
}

pub fn handle(ctx: &Arc<Context>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    let containers = ctx.containers();
    match op {
        Op::Create(name) => create(&containers, &name, call),
        Op::Start(id) => start(ctx, &containers, &id, call),
        Op::Resize(id) => {
            let exec = exec::inspect(&containers, &id)?;
            let record = containers.resolve(&exec.container_id)?;
            let size = super::containers::window_size(call)?;
            strata_runtime::attach::resize(&containers, &record, Some(&exec.id), size)?;
            Ok(Reply::empty(StatusCode::OK))
        }
        Op::Inspect(id) => inspect(&containers, &id),
    }
}

/// Docker's `ExecConfig`, the fields strata takes; the others must hold their defaults.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExecConfig {
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    tty: bool,
    #[serde(default)]
    attach_stdin: bool,
    #[serde(default)]
    privileged: bool,
    #[serde(default)]
    detach_keys: Option<String>,
    #[serde(default)]
    console_size: Option<Vec<u16>>,
}

/// `POST /containers/{id}/exec`: 201 with the exec's ID. A stopped container is a 409.
fn create(containers: &Containers<'_>, name: &str, call: &Call) -> Result<Reply, ApiError> {
    let record = containers.resolve(name)?;
    let config: ExecConfig = call.json()?;
    if config.detach_keys.as_deref().is_some_and(|k| !k.is_empty()) {
        return Err(ApiError::invalid(
            "DetachKeys of an exec are not supported by strata yet",
        ));
    }
    let _ = config.console_size;
    let options = ExecOptions {
        command: config.cmd.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        workdir: config.working_dir.filter(|w| !w.is_empty()),
        user: config.user.filter(|u| !u.is_empty()),
        tty: config.tty,
        interactive: config.attach_stdin,
        privileged: config.privileged,
    };
    let created = exec::create(containers, &record, &options)?;
    Ok(Reply::json(StatusCode::CREATED, &json!({ "Id": created.id })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct StartConfig {
    #[serde(default)]
    detach: bool,
    #[serde(default)]
    console_size: Option<Vec<u16>>,
}

/// `POST /exec/{id}/start`: detached (200 once it runs), or a hijacked session.
fn start(ctx: &Arc<Context>, containers: &Containers<'_>, id: &str, call: &Call) -> Result<Reply, ApiError> {
    let exec = exec::inspect(containers, id)?;
    let config: StartConfig = call.json()?;
    if exec.running || exec.exit_code.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("exec {} has already been started", exec.id),
        ));
    }
    let record = containers.resolve(&exec.container_id)?;
    if !strata_runtime::lifecycle::is_running(containers, &record) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Container {} is not running", record.id),
        ));
    }
    if config.detach {
        exec::start_detached(containers, &exec, &ctx.launcher())?;
        return Ok(Reply::empty(StatusCode::OK));
    }
    let size = match config.console_size.as_deref() {
        Some([h, w]) if *h > 0 && *w > 0 => Some((*h, *w)),
        _ => None,
    };
    let media = if exec.options.tty {
        RAW_STREAM
    } else {
        MULTIPLEXED_STREAM
    };
    Ok(Reply::hijacked(media, exec_session(Arc::clone(ctx), exec, size)))
}

/// `GET /exec/{id}/json`: Docker's `ExecInspect`.
fn inspect(containers: &Containers<'_>, id: &str) -> Result<Reply, ApiError> {
    let exec = exec::inspect(containers, id)?;
    let (program, arguments) = exec
        .options
        .command
        .split_first()
        .map_or((String::new(), Vec::new()), |(p, a)| (p.clone(), a.to_vec()));
    Ok(Reply::ok(&json!({
        "ID": exec.id,
        "Running": exec.running,
        "ExitCode": exec.exit_code,
        "ProcessConfig": {
            "tty": exec.options.tty,
            "entrypoint": program,
            "arguments": arguments,
            "privileged": exec.options.privileged,
            "user": exec.options.user.clone().unwrap_or_default(),
        },
        "OpenStdin": exec.options.interactive,
        "OpenStderr": true,
        "OpenStdout": true,
        "CanRemove": false,
        "ContainerID": exec.container_id,
        "DetachKeys": "",
        "Pid": exec.pid.unwrap_or(0),
    })))
}
