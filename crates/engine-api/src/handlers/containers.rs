//! `/containers/…`: the same library calls as `strata ps`, `inspect`, `create`,
//! `start`, `stop`, `kill`, `rm`, `attach`, `logs` and `wait`. Files (archive, export,
//! changes) and statistics (stats, top) have modules of their own.

use super::Context;
use crate::error::ApiError;
use crate::hijack::{frame, MULTIPLEXED_STREAM, RAW_STREAM};
use crate::refused::Refusal;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::{BodyKind, Route};
use crate::stream::Headers;
use chrono::{DateTime, Utc};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_containers::{state_text, ContainerRecord, ContainerState, Containers};
use strata_images::PruneFilter;
use strata_runtime::listing::{list_containers, ContainerListOptions, ContainerRow, PortEntry};
use strata_runtime::logs::{self, LogEntry, LogOptions, LogStream};
use strata_runtime::wait::{self, WaitCondition};
use strata_runtime::{lifecycle, monitor};

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
        (&Method::GET, [_, "attach", "ws"]) => {
            return Some(Route::Refused(Refusal::NotYet("attaching over a websocket")))
        }
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

pub fn handle(ctx: &Arc<Context>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    let containers = ctx.containers();
    match op {
        Op::List => list(&containers, call),
        Op::Inspect(name) => {
            let record = containers.resolve(&name)?;
            Ok(Reply::ok(&strata_runtime::inspect::container(&containers, &record)?))
        }
        Op::Create => create(&containers, call),
        Op::Prune => prune(&containers, call),
        Op::Remove(name) => {
            let record = containers.resolve(&name)?;
            lifecycle::remove(&containers, &record, call.flag("force"), call.flag("v"))?;
            Ok(Reply::empty(StatusCode::NO_CONTENT))
        }
        Op::Act(name, action) => {
            let record = containers.resolve(&name)?;
            act(ctx, &containers, record, action, call)
        }
        Op::Files(op) => super::container_files::handle(&containers, op, call),
        Op::Stats(op) => super::container_stats::handle(&containers, op, call),
    }
}

fn act(
    ctx: &Arc<Context>,
    containers: &Containers<'_>,
    record: ContainerRecord,
    action: Action,
    call: &Call,
) -> Result<Reply, ApiError> {
    let done = Reply::empty(StatusCode::NO_CONTENT);
    let not_modified = Reply::empty(StatusCode::NOT_MODIFIED);
    match action {
        Action::Start if lifecycle::is_running(containers, &record) => Ok(not_modified),
        Action::Start => {
            monitor::spawn(containers, &record, &ctx.launcher())?;
            Ok(done)
        }
        Action::Stop if !lifecycle::is_running(containers, &record) => Ok(not_modified),
        Action::Stop => {
            let timeout = lifecycle::stop_timeout(containers, &record, call.int("t")?);
            lifecycle::stop(containers, &record, timeout)?;
            Ok(done)
        }
        Action::Restart => {
            let timeout = lifecycle::stop_timeout(containers, &record, call.int("t")?);
            lifecycle::restart(containers, &record, timeout, &ctx.launcher())?;
            Ok(done)
        }
        Action::Kill => {
            let signal = call.query("signal").filter(|s| !s.is_empty()).unwrap_or("KILL");
            lifecycle::kill(containers, &record, lifecycle::parse_signal(signal)?)?;
            Ok(done)
        }
        Action::Pause | Action::Unpause => {
            lifecycle::pause(containers, &record, action == Action::Pause)?;
            Ok(done)
        }
        Action::Rename => {
            let name = call
                .query("name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::invalid("rename needs the new name (name=…)"))?;
            containers.rename(&record, name)?;
            Ok(done)
        }
        Action::Resize => {
            strata_runtime::attach::resize(containers, &record, None, window_size(call)?)?;
            Ok(Reply::empty(StatusCode::OK))
        }
        Action::Update => {
            lifecycle::update(
                containers,
                &record,
                &super::container_create::update_options(call.json()?)?,
            )?;
            Ok(Reply::ok(&json!({ "Warnings": [] })))
        }
        Action::Wait => wait(ctx, record, call),
        Action::Attach => super::container_attach::attach(ctx, containers, record, call),
        Action::Logs => logs(ctx, containers, record, call),
    }
}

/// `h=` and `w=` of a resize.
pub fn window_size(call: &Call) -> Result<(u16, u16), ApiError> {
    let dimension = |key| -> Result<u16, ApiError> {
        let value = call.int(key)?.unwrap_or(0);
        u16::try_from(value).map_err(|_| ApiError::invalid(format!("invalid {key}: {value} is not a terminal size")))
    };
    Ok((dimension("h")?, dimension("w")?))
}

/// `POST /containers/create?name=`: 201 with the new container's ID. A missing image is
/// a 404 (clients pull and try again), a name in use a 409.
fn create(containers: &Containers<'_>, call: &Call) -> Result<Reply, ApiError> {
    let mut options = super::container_create::options(call.json()?, call.query("name"))?;
    options.platform = call.query("platform").map(str::to_string);
    let record = containers.create(&options)?;
    Ok(Reply::json(
        StatusCode::CREATED,
        &json!({ "Id": record.id, "Warnings": [] }),
    ))
}

/// `POST /containers/prune?filters=`: as `strata container prune --filter`.
fn prune(containers: &Containers<'_>, call: &Call) -> Result<Reply, ApiError> {
    let now = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let filter = PruneFilter::parse(&call.filters()?, now)?;
    let pruned = lifecycle::prune_matching(containers, &filter)?;
    Ok(Reply::ok(&json!({
        "ContainersDeleted": pruned.removed,
        "SpaceReclaimed": pruned.bytes,
    })))
}

/// `POST /containers/{id}/wait?condition=`: the status line at once (clients wait for
/// it before they start the container), the exit code when the condition is met. A
/// client that goes away ends the wait.
fn wait(ctx: &Arc<Context>, record: ContainerRecord, call: &Call) -> Result<Reply, ApiError> {
    let condition: WaitCondition = call.query("condition").unwrap_or_default().parse()?;
    let ctx = Arc::clone(ctx);
    Reply::streamed("application/json", Headers::AtOnce, move |out| {
        let containers = ctx.containers();
        loop {
            let deadline = Instant::now() + CLIENT_CHECK;
            if let Some(code) = wait::wait_until(&containers, &record, condition, Some(deadline))? {
                out.write_all(&serde_json::to_vec(&json!({ "StatusCode": code })).expect("JSON"))?;
                out.write_all(b"\n")?;
                return Ok(());
            }
            if out.is_closed() {
                return Ok(());
            }
        }
    })
}

/// How often a producer that waits on the library looks whether its client is still
/// there.
const CLIENT_CHECK: Duration = Duration::from_secs(1);

/// `GET /containers/{id}/logs`: the log's entries, framed as stdcopy without a
/// terminal; with `follow`, until the container stops or the client goes away.
fn logs(
    ctx: &Arc<Context>,
    containers: &Containers<'_>,
    record: ContainerRecord,
    call: &Call,
) -> Result<Reply, ApiError> {
    let (stdout, stderr) = (call.flag("stdout"), call.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::invalid("Bad parameters: you must choose at least one stream"));
    }
    let tty = containers.config(&record)?.tty;
    let options = LogOptions {
        since: time_parameter(call, "since")?,
        until: time_parameter(call, "until")?,
        tail: match call.query("tail").unwrap_or("all") {
            "all" | "" => None,
            n => Some(
                n.parse()
                    .map_err(|_| ApiError::invalid(format!("invalid tail {n:?}: a number or all")))?,
            ),
        },
        follow: call.flag("follow"),
    };
    let timestamps = call.flag("timestamps");
    let details = call.flag("details");
    let ctx = Arc::clone(ctx);
    let media = if tty { RAW_STREAM } else { MULTIPLEXED_STREAM };
    Reply::streamed(media, Headers::AtOnce, move |out| {
        let containers = ctx.containers();
        let client = out.watch();
        let mut sink = |entry: LogEntry| {
            let (wanted, stream) = match entry.stream {
                LogStream::Stdout => (stdout, 1),
                LogStream::Stderr => (stderr, 2),
            };
            if !wanted {
                return ControlFlow::Continue(());
            }
            let mut bytes = Vec::new();
            if timestamps {
                bytes.extend_from_slice(
                    entry
                        .time
                        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                        .as_bytes(),
                );
                bytes.push(b' ');
            }
            if details {
                bytes.extend_from_slice(entry.details_prefix());
            }
            bytes.extend_from_slice(&entry.bytes);
            let written = match tty {
                true => out.write_all(&bytes),
                false => out.write_all(&frame(stream, &bytes)),
            };
            // A failed write: the client went away.
            match written {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        };
        logs::read_logs_while(&containers, &record, &options, &mut sink, &|| !client.gone())?;
        Ok(())
    })
}

/// `since=`/`until=`: Unix seconds, with a fraction (`1700000000.5`); 0 means unset.
fn time_parameter(call: &Call, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = call.query(key).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let invalid = || ApiError::invalid(format!("invalid {key} {text:?}: Unix seconds expected"));
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().map_err(|_| invalid())?;
    let nanos: u32 = match frac {
        "" => 0,
        f => format!("{f:0<9}")[..9].parse().map_err(|_| invalid())?,
    };
    if secs == 0 && nanos == 0 {
        return Ok(None);
    }
    Ok(Some(DateTime::from_timestamp(secs, nanos).ok_or_else(invalid)?))
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
        let sizes = containers.sizes(record);
        summary["SizeRw"] = json!(sizes.rw);
        summary["SizeRootFs"] = json!(sizes.root_fs);
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
