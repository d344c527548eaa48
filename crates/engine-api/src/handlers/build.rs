//! `POST /build`: the classic builder's endpoint, through the library call `strata
//! build` makes (`strata_builder::build`). The body is the context, a tar archive (plain
//! or compressed), unpacked by the library inside a directory of its own (entries that
//! would leave it are refused); the output is Docker's JSON stream: `{"stream": …}` for
//! each line, `{"aux": {"ID": …}}` for the image, and an in-band `{"error", "errorDetail"}`
//! once the first byte is out. Tags are set only when the whole build succeeded.
//! `POST /build/prune`: the build cache (the intermediate images of earlier builds).

use super::images::messages::Messages;
use super::images::registry_auth::{self, AuthConfig};
use super::Context;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::BodyKind;
use crate::stream::{ChannelWriter, Headers};
use hyper::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use strata_builder::{BuildInput, BuildOptions, RunSettings};
use strata_containers::resources::{Resources, Ulimit};
use strata_images::ImageRef;

pub enum Op {
    Build,
    Prune,
}

impl Op {
    pub fn body(&self) -> BodyKind {
        match self {
            Op::Build => BodyKind::Stream,
            Op::Prune => BodyKind::None,
        }
    }
}

/// `rest`: the path after `/build`.
pub fn route(method: &Method, rest: &str) -> Option<Op> {
    match (method, rest) {
        (&Method::POST, "") => Some(Op::Build),
        (&Method::POST, "/prune") => Some(Op::Prune),
        _ => None,
    }
}

pub fn handle(ctx: &Arc<Context>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::Build => build(ctx, call),
        Op::Prune => prune(ctx),
    }
}

/// A query parameter Docker encodes as JSON (`buildargs`, `labels`, `ulimits`,
/// `cachefrom`), absent or empty as the default.
fn json_param<T: serde::de::DeserializeOwned + Default>(call: &Call, key: &str) -> Result<T, ApiError> {
    // docker 20.10 sends `ulimits=null`.
    match call.query(key).filter(|v| !v.is_empty() && *v != "null") {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ApiError::invalid(format!("the build parameter {key} is not valid JSON for it: {e}"))),
    }
}

/// A boolean parameter with Docker's default when absent (`rm` is true unless `rm=0`).
fn bool_param(call: &Call, key: &str, default: bool) -> bool {
    match call.query(key) {
        None | Some("") => default,
        Some(v) => matches!(v, "1" | "true" | "True" | "yes"),
    }
}

fn int_param(call: &Call, key: &str) -> Result<Option<i64>, ApiError> {
    Ok(call.int(key)?.filter(|n| *n != 0))
}

/// A repeated parameter that clients also send comma-joined (`extrahosts`).
fn list_param(call: &Call, key: &str) -> Vec<String> {
    call.query_all(key)
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// The parameters strata's builder cannot honour, refused by name before anything is
/// read: a remote context, BuildKit's (version 2, outputs), and the rest of Docker's.
fn refuse_unsupported(call: &Call) -> Result<(), ApiError> {
    if let Some(remote) = call.query("remote").filter(|r| !r.is_empty()) {
        return Err(ApiError::invalid(format!(
            "remote build contexts (remote={remote}) are not supported by strata: send the context as the body"
        )));
    }
    if call.query("version") == Some("2") {
        return Err(ApiError::invalid(
            "BuildKit builds (version=2) are not supported by strata's Engine API: use the classic builder \
             (DOCKER_BUILDKIT=0, or a docker CLI without buildx)",
        ));
    }
    // Docker documents `outputs` for BuildKit (`[{"Type":"moby","Attrs":{…}}]`); the
    // classic builder takes none, and a file output would land on the service's host.
    if let Some(outputs) = call
        .query("outputs")
        .filter(|v| !v.is_empty() && *v != "[]" && *v != "null")
    {
        return Err(ApiError::invalid(format!(
            "the build parameter outputs ({outputs}) is not supported by strata's Engine API: it configures \
             BuildKit's exporters, and the classic builder this endpoint runs exports an image only; leave it \
             out, or run `strata build --output` on the host"
        )));
    }
    Ok(())
}

/// `X-Registry-Config`: base64 JSON of registry → `AuthConfig`, the credentials the
/// build may use to pull its base images.
fn registry_config(call: &Call) -> Result<HashMap<String, AuthConfig>, ApiError> {
    registry_auth::decode_config_header(call.header("X-Registry-Config"))
}

fn options(call: &Call) -> Result<BuildOptions, ApiError> {
    refuse_unsupported(call)?;
    let tags: Vec<String> = call.query_all("t").into_iter().map(str::to_string).collect();
    for tag in &tags {
        ImageRef::parse(tag).map_err(|e| ApiError::invalid(format!("invalid tag {tag:?}: {e}")))?;
    }
    let pairs = |map: HashMap<String, Option<String>>| -> Vec<(String, String)> {
        let mut pairs: Vec<_> = map
            .into_iter()
            // A null build arg is one without a value (the client's environment had none).
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        pairs.sort();
        pairs
    };
    let memory_swap = call.int("memswap")?.filter(|s| *s != 0);
    let run = RunSettings {
        extra_hosts: list_param(call, "extrahosts"),
        memory: int_param(call, "memory")?,
        security_opt: list_param(call, "securityopt"),
        resources: Resources {
            memory_swap,
            cpu_shares: int_param(call, "cpushares")?,
            cpu_quota: int_param(call, "cpuquota")?,
            cpu_period: int_param(call, "cpuperiod")?,
            cpuset_cpus: call.query("cpusetcpus").filter(|v| !v.is_empty()).map(str::to_string),
            cpuset_mems: call.query("cpusetmems").filter(|v| !v.is_empty()).map(str::to_string),
            cgroup_parent: call.query("cgroupparent").filter(|v| !v.is_empty()).map(str::to_string),
            shm_size: int_param(call, "shmsize")?,
            ulimits: json_param::<Vec<Ulimit>>(call, "ulimits")?,
            ..Default::default()
        },
        isolation: call.query("isolation").filter(|v| !v.is_empty()).map(str::to_string),
    };
    let platform = call.query("platform").filter(|p| !p.is_empty()).map(str::to_string);
    // Refused before the context is read, by the build library's own check (the one
    // `build` applies again).
    strata_builder::platform::check(platform.as_deref()).map_err(strata_builder::BuildError::Platform)?;
    Ok(BuildOptions {
        dockerfile: String::new(),
        dockerfile_name: String::new(),
        tags,
        build_args: pairs(json_param(call, "buildargs")?),
        target: call.query("target").filter(|t| !t.is_empty()).map(str::to_string),
        no_cache: bool_param(call, "nocache", false),
        labels: pairs(json_param(call, "labels")?),
        network: call
            .query("networkmode")
            .filter(|n| !n.is_empty() && *n != "default")
            .map(str::to_string),
        source_date_epoch: None,
        quiet: bool_param(call, "q", false),
        squash: bool_param(call, "squash", false),
        pull: bool_param(call, "pull", false),
        run,
        keep_intermediate: !bool_param(call, "rm", true),
        force_remove: bool_param(call, "forcerm", false),
        cache_from: json_param::<Vec<String>>(call, "cachefrom")?,
        // Secrets, ssh agents and entitlements come through BuildKit's session, which
        // the classic API (what this serves) does not have.
        secrets: Vec::new(),
        ssh: Vec::new(),
        allow: Vec::new(),
        cache_to: Vec::new(),
        platform,
        output: Default::default(),
        named_contexts: Vec::new(),
    })
}

fn build(ctx: &Arc<Context>, call: &Call) -> Result<Reply, ApiError> {
    let mut options = options(call)?;
    let auth = registry_config(call)?;
    let dockerfile = call.query("dockerfile").filter(|d| !d.is_empty()).map(str::to_string);
    let body = call.body_reader()?;
    let ctx = Arc::clone(ctx);
    let store = ctx.store.try_clone()?;
    Reply::streamed("application/json", Headers::AtFirstByte, move |w| {
        let messages = Messages::new(w);
        let outcome = (|| -> Result<String, ApiError> {
            // Always an archive: the docker CLI wraps a lone Dockerfile (`build - < Dockerfile`) itself.
            let input = BuildInput::from_tar(&store, body, dockerfile.as_deref())?;
            options.dockerfile = input.dockerfile;
            options.dockerfile_name = input.dockerfile_name;
            let fetch = |name: &str, _always: bool| fetch_base(&ctx, &store, &auth, &messages, name);
            let callbacks = strata_builder::Callbacks {
                fetch: Some(&fetch),
                launcher: &ctx.launcher(),
                output: None,
            };
            let mut lines = StreamLines::new(&messages);
            let built = strata_builder::build(&store, &input.context, &options, callbacks, &mut lines)?;
            lines.flush_rest();
            Ok(built.id)
        })();
        match outcome {
            Ok(id) => {
                messages.send(&json!({ "aux": { "ID": id } }));
                if options.quiet {
                    messages.send(&json!({ "stream": format!("{id}\n") }));
                }
                Ok(())
            }
            Err(e) if !messages.started() => Err(e),
            Err(e) => {
                messages.error(&e.message);
                Ok(())
            }
        }
    })
}

/// Pulls a base image the build needs, with the request's credentials for its
/// registry only (the service never lends its own), its progress in the stream.
fn fetch_base(
    ctx: &Context,
    store: &strata_images::ImageStore,
    auth: &HashMap<String, AuthConfig>,
    messages: &Messages<&mut ChannelWriter>,
    name: &str,
) -> Result<(), String> {
    let pulled = (|| -> Result<(), ApiError> {
        let reference = ImageRef::parse(name).map_err(strata_images::ImageError::from)?;
        let credentials = match auth.get(reference.domain()) {
            Some(config) => config.credentials()?,
            None => None,
        };
        let client = registry_auth::connect(&ctx.registry, reference.domain(), credentials)?;
        super::images::pull::pull_one(store, &client, &reference, &strata_registry::Platform::host(), messages)
    })();
    pulled.map_err(|e| e.message)
}

/// A line of the builder's text as Docker's classic builder writes it: without the
/// timings strata's own output adds (` ---> ID (0.02s)`, `Successfully built ID in
/// 0.03s`). The SDKs read the image ID from that last line: docker-py's
/// `images.build` takes it only when the line ends with the ID.
fn dockers_line(line: &str) -> String {
    let (body, newline) = match line.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (line, ""),
    };
    let is_id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let is_secs = |s: &str| {
        s.strip_suffix('s')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    };
    if let Some((id, secs)) = body
        .strip_prefix("Successfully built ")
        .and_then(|r| r.split_once(" in "))
    {
        if is_id(id) && is_secs(secs) {
            return format!("Successfully built {id}{newline}");
        }
    }
    if let Some((id, secs)) = body.strip_prefix(" ---> ").and_then(|r| r.split_once(" (")) {
        if is_id(id) && secs.strip_suffix(')').is_some_and(is_secs) {
            return format!(" ---> {id}{newline}");
        }
    }
    line.to_string()
}

/// The builder's text as `{"stream": …}` messages, a line each.
struct StreamLines<'m, W: Write + Send> {
    messages: &'m Messages<W>,
    pending: Vec<u8>,
}

impl<'m, W: Write + Send> StreamLines<'m, W> {
    fn new(messages: &'m Messages<W>) -> Self {
        StreamLines {
            messages,
            pending: Vec::new(),
        }
    }

    fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(bytes);
        match self.messages.send(&json!({ "stream": dockers_line(&text) })) {
            true => Ok(()),
            false => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the API client went away",
            )),
        }
    }

    /// What is left without a final newline.
    fn flush_rest(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let _ = self.send(&rest);
        }
    }
}

impl<W: Write + Send> Write for StreamLines<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.send(&line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `POST /build/prune` (`docker builder prune`): the intermediate images of earlier
/// builds, the build cache, as `{"CachesDeleted": [...], "SpaceReclaimed": N}`.
fn prune(ctx: &Context) -> Result<Reply, ApiError> {
    let pruned = ctx.store.prune_build_cache()?;
    Ok(Reply::ok(&json!({
        "CachesDeleted": if pruned.removed.is_empty() { Value::Null } else { json!(pruned.removed) },
        "SpaceReclaimed": pruned.bytes,
    })))
}
