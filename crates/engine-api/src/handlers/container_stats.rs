//! `/containers/{id}/stats` (one document, or one a second, from cgroups, through
//! `strata_runtime::stats` as `strata stats`) and `/top` (`strata_runtime::top::top`,
//! as `strata top`).

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::BodyKind;
use crate::stream::Headers;
use chrono::{DateTime, Utc};
use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::time::Duration;
use strata_containers::{ContainerRecord, Containers};
use strata_runtime::stats::{Sample, Watch};

pub enum Op {
    Stats(String),
    Top(String),
}

impl Op {
    pub fn body(&self) -> BodyKind {
        BodyKind::None
    }
}

/// `action`: the path after `/containers/{id}/`.
pub fn route(method: &Method, id: &str, action: &[&str]) -> Option<Op> {
    match (method, action) {
        (&Method::GET, ["stats"]) => Some(Op::Stats(id.to_string())),
        (&Method::GET, ["top"]) => Some(Op::Top(id.to_string())),
        _ => None,
    }
}

pub fn handle(containers: &Containers<'_>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::Stats(name) => stats(containers, &name, call),
        Op::Top(name) => top(containers, &name, call),
    }
}

/// `GET /containers/{id}/top?ps_args=`: `{"Titles", "Processes"}`; a container that
/// does not run is Docker's 409.
fn top(containers: &Containers<'_>, name: &str, call: &Call) -> Result<Reply, ApiError> {
    let record = containers.resolve(name)?;
    if !strata_runtime::lifecycle::is_running(containers, &record) {
        return Err(not_running(&record));
    }
    let ps_args: Vec<String> = call
        .query("ps_args")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    Ok(Reply::ok(&strata_runtime::top::top(containers, &record, &ps_args)?))
}

fn not_running(record: &ContainerRecord) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, format!("Container {} is not running", record.id))
}

/// How long apart the samples of a stream are, as dockerd's collector.
const INTERVAL: Duration = Duration::from_secs(1);

/// `GET /containers/{id}/stats?stream=&one-shot=`. `stream` (the default) sends a
/// document a second until the client goes away or the container stops; otherwise one
/// document, its `precpu_stats` a second before (none with `one-shot`). A container
/// that does not run gets dockerd's zeroed document.
fn stats(containers: &Containers<'_>, name: &str, call: &Call) -> Result<Reply, ApiError> {
    let record = containers.resolve(name)?;
    let stream = call.query("stream").is_none() || call.flag("stream");
    let Some(watch) = Watch::open(containers, &record) else {
        return Ok(Reply::ok(&zeroed(&record)));
    };
    let first = Reading::now(&watch);
    if !stream {
        if call.flag("one-shot") {
            return Ok(Reply::ok(&document(&record, first.as_ref(), None)));
        }
        std::thread::sleep(INTERVAL);
        let second = Reading::now(&watch);
        return Ok(Reply::ok(&match second {
            Some(now) => document(&record, Some(&now), first.as_ref()),
            None => zeroed(&record),
        }));
    }
    Reply::streamed("application/json", Headers::AtOnce, move |out| {
        let mut before = first;
        loop {
            std::thread::sleep(INTERVAL);
            // The container stopped: the stream ends, as dockerd's.
            let Some(now) = Reading::now(&watch) else {
                return Ok(());
            };
            let mut line =
                serde_json::to_vec(&document(&record, Some(&now), before.as_ref())).expect("stats documents serialize");
            line.push(b'\n');
            // The client went away: the producer ends with it.
            if out.write_all(&line).is_err() {
                return Ok(());
            }
            before = Some(now);
        }
    })
}

/// A sample and the wall-clock time it was read at.
struct Reading {
    sample: Sample,
    read: DateTime<Utc>,
}

impl Reading {
    fn now(watch: &Watch) -> Option<Reading> {
        let read = Utc::now();
        Some(Reading {
            sample: watch.sample()?,
            read,
        })
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Go's zero time, as dockerd writes it for a reading it has not made.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// dockerd's document for a container that does not run.
fn zeroed(record: &ContainerRecord) -> Value {
    let cpu = json!({
        "cpu_usage": { "total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
        "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
    });
    json!({
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": blkio(None),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu,
        "precpu_stats": cpu,
        "memory_stats": {},
        "name": format!("/{}", record.name),
        "id": record.id,
    })
}

/// Docker's `StatsJSON` of a reading and the one before it (`precpu_stats`).
fn document(record: &ContainerRecord, now: Option<&Reading>, before: Option<&Reading>) -> Value {
    let Some(now) = now else {
        return zeroed(record);
    };
    let s = &now.sample;
    let d = &s.detail;
    let mut pids = json!({ "current": s.pids });
    if let Some(limit) = d.pids_limit {
        pids["limit"] = json!(limit);
    }
    let mut doc = json!({
        "read": time(Some(now.read)),
        "preread": before.map_or(ZERO_TIME.to_string(), |b| time(Some(b.read))),
        "pids_stats": pids,
        "blkio_stats": blkio(Some(s)),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(Some(s)),
        "precpu_stats": cpu(before.map(|b| &b.sample)),
        "memory_stats": {
            "usage": d.memory_usage,
            "stats": d.memory_stat,
            "limit": s.memory_limit,
        },
        "name": format!("/{}", record.name),
        "id": record.id,
    });
    if !d.networks.is_empty() {
        let networks: Map<String, Value> = d
            .networks
            .iter()
            .map(|(name, i)| {
                let counters = json!({
                    "rx_bytes": i.rx_bytes, "rx_packets": i.rx_packets,
                    "rx_errors": i.rx_errors, "rx_dropped": i.rx_dropped,
                    "tx_bytes": i.tx_bytes, "tx_packets": i.tx_packets,
                    "tx_errors": i.tx_errors, "tx_dropped": i.tx_dropped,
                });
                (name.clone(), counters)
            })
            .collect();
        doc["networks"] = Value::Object(networks);
    }
    doc
}

fn cpu(sample: Option<&Sample>) -> Value {
    let Some(s) = sample else {
        return json!({
            "cpu_usage": { "total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
            "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
        });
    };
    let d = &s.detail;
    let mut usage = json!({
        "total_usage": s.cpu_ns,
        "usage_in_kernelmode": d.cpu_system_ns,
        "usage_in_usermode": d.cpu_user_ns,
    });
    if !d.cpu_per_cpu_ns.is_empty() {
        usage["percpu_usage"] = json!(d.cpu_per_cpu_ns);
    }
    json!({
        "cpu_usage": usage,
        "system_cpu_usage": d.system_cpu_ns,
        "online_cpus": d.online_cpus,
        "throttling_data": {
            "periods": d.throttling.periods,
            "throttled_periods": d.throttling.throttled_periods,
            "throttled_time": d.throttling.throttled_ns,
        },
    })
}

/// `blkio_stats`: bytes per device and operation; the other lists dockerd leaves null
/// when it has none.
fn blkio(sample: Option<&Sample>) -> Value {
    let bytes = sample.map(|s| {
        s.detail
            .block_io
            .iter()
            .map(|b| json!({ "major": b.major, "minor": b.minor, "op": b.op, "value": b.value }))
            .collect::<Vec<_>>()
    });
    json!({
        "io_service_bytes_recursive": bytes,
        "io_serviced_recursive": null,
        "io_queue_recursive": null,
        "io_service_time_recursive": null,
        "io_wait_time_recursive": null,
        "io_merged_recursive": null,
        "io_time_recursive": null,
        "sectors_recursive": null,
    })
}
