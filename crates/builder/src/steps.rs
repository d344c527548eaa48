//! Each instruction's meaning: first planned (arguments expanded, inputs gathered, the
//! cache key's text computed), then applied when the cache has no image for the key.

use crate::builder::{push_history, Builder, Stage};
use crate::error::{BuildError, Result};
use crate::instruction::{Command, Instruction};
use crate::layer::{Content, Entry, Layer};
use crate::view::ImageView;
use crate::words::Vars;
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use strata_containers::{Containers, CreateOptions};
use strata_images::ImageRecord;

/// Build args every build knows without an ARG (proxies), as Docker's.
pub const PREDEFINED_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

pub(crate) struct Plan {
    /// Everything besides the parent image the result depends on.
    pub key_text: String,
    action: Action,
}

enum Action {
    /// A new config on the same layers.
    Config { config: Value, created_by: String },
    /// A command run in a container of the current image, its changes one layer.
    Run(RunStep),
    /// A layer written from files, and the config to go with it.
    Files {
        layer: Layer,
        config: Value,
        created_by: String,
        /// Views the layer's files are read from, mounted until it is written.
        views: Vec<ImageView>,
    },
}

/// `RUN --security=`: `sandbox` (the default), or `insecure` (a privileged step) when
/// the build allows `security.insecure`. Returns whether the step is privileged.
fn run_security(b: &Builder<'_>, ins: &Instruction) -> Result<bool> {
    match ins.flag("security") {
        None | Some("sandbox") => Ok(false),
        Some("insecure") if b.opts.allow.iter().any(|a| a == "security.insecure") => Ok(true),
        Some("insecure") => Err(b.syntax(
            ins,
            "RUN --security=insecure needs the build to allow it: build with --allow security.insecure",
        )),
        Some(other) => Err(b.syntax(
            ins,
            format!("RUN --security={other}: BuildKit takes sandbox or insecure"),
        )),
    }
}

/// `RUN --network=`: BuildKit's default, none or host; else the build's `--network`.
fn run_network(b: &Builder<'_>, ins: &Instruction) -> Result<Option<String>> {
    match ins.flag("network") {
        None => Ok(b.opts.network.clone()),
        Some(mode @ ("default" | "none" | "host")) => Ok(Some(mode.to_string())),
        Some(other) => Err(b.syntax(
            ins,
            format!("RUN --network={other}: BuildKit takes default, none or host"),
        )),
    }
}

/// What `ins` will do in `state`; None for steps that only change the builder (ARG).
pub(crate) fn plan(b: &mut Builder<'_>, state: &mut Stage, ins: &Instruction) -> Result<Option<Plan>> {
    let vars = state.vars();
    let nop = |text: &str| format!("/bin/sh -c #(nop) {text}");
    let mut config = state.config.clone();
    let cfg = &mut config["config"];
    if !cfg.is_object() {
        *cfg = json!({});
    }
    let meta = |config: Value, created_by: String| {
        Ok(Some(Plan {
            key_text: created_by.clone(),
            action: Action::Config { config, created_by },
        }))
    };
    match ins.keyword.as_str() {
        "ARG" => {
            for (name, default) in b.parse_args(ins, &vars)? {
                b.used_args.insert(name.clone());
                let value = b
                    .given_args
                    .get(&name)
                    .cloned()
                    .or(default)
                    .or_else(|| b.globals.get(&name).cloned());
                match value {
                    Some(v) => state.args.insert(name, v),
                    None => state.args.remove(&name),
                };
            }
            Ok(None)
        }
        "ENV" => {
            let pairs = key_values(b, ins, &vars, true)?;
            let mut env = state.env();
            for (k, v) in &pairs {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k);
                env.push(format!("{k}={v}"));
            }
            cfg["Env"] = json!(env);
            let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            meta(config, nop(&format!("ENV {}", text.join(" "))))
        }
        "LABEL" => {
            let pairs = key_values(b, ins, &vars, false)?;
            if !cfg["Labels"].is_object() {
                cfg["Labels"] = json!({});
            }
            for (k, v) in &pairs {
                cfg["Labels"][k] = v.clone().into();
            }
            let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            meta(config, nop(&format!("LABEL {}", text.join(" "))))
        }
        "MAINTAINER" => {
            let who = b.expand(ins, &ins.args, &vars)?;
            config["author"] = who.clone().into();
            meta(config, nop(&format!("MAINTAINER {who}")))
        }
        "CMD" | "ENTRYPOINT" => {
            let argv = b.argv(state, &ins.command());
            let key = if ins.keyword == "CMD" { "Cmd" } else { "Entrypoint" };
            cfg[key] = if ins.args.is_empty() { Value::Null } else { json!(argv) };
            if key == "Entrypoint" && state.config["config"]["Cmd"] == cfg["Cmd"] {
                // An inherited CMD does not survive a new ENTRYPOINT (Docker's rule).
                cfg["Cmd"] = Value::Null;
            }
            meta(
                config,
                nop(&format!(
                    "{} {}",
                    ins.keyword,
                    serde_json::to_string(&argv).unwrap_or_default()
                )),
            )
        }
        "EXPOSE" => {
            let mut ports = Vec::new();
            for p in b.split(ins, &ins.args, &vars)? {
                let port = if p.contains('/') {
                    p.to_ascii_lowercase()
                } else {
                    format!("{p}/tcp")
                };
                let number = port.split('/').next().unwrap_or("");
                if number.split('-').any(|n| n.parse::<u16>().is_err()) {
                    return Err(b.syntax(ins, format!("invalid containerPort: {p}")));
                }
                ports.push(port);
            }
            if !cfg["ExposedPorts"].is_object() {
                cfg["ExposedPorts"] = json!({});
            }
            for p in &ports {
                cfg["ExposedPorts"][p] = json!({});
            }
            meta(config, nop(&format!("EXPOSE {}", ports.join(" "))))
        }
        "USER" => {
            let user = b.expand(ins, &ins.args, &vars)?;
            cfg["User"] = user.clone().into();
            meta(config, nop(&format!("USER {user}")))
        }
        "STOPSIGNAL" => {
            let signal = b.expand(ins, &ins.args, &vars)?;
            if strata_containers::signal::parse(&signal).is_none() {
                return Err(b.syntax(
                    ins,
                    format!("invalid signal {signal:?}: name a signal such as SIGTERM or give its number"),
                ));
            }
            cfg["StopSignal"] = signal.clone().into();
            meta(config, nop(&format!("STOPSIGNAL {signal}")))
        }
        "VOLUME" => {
            let volumes = match &ins.json {
                Some(list) => list.clone(),
                None => b.split(ins, &ins.args, &vars)?,
            };
            for v in &volumes {
                check_volume(v).map_err(|why| b.syntax(ins, why))?;
            }
            if !cfg["Volumes"].is_object() {
                cfg["Volumes"] = json!({});
            }
            for v in &volumes {
                cfg["Volumes"][v] = json!({});
            }
            meta(
                config,
                nop(&format!(
                    "VOLUME {}",
                    serde_json::to_string(&volumes).unwrap_or_default()
                )),
            )
        }
        "SHELL" => {
            let Some(shell) = ins.json.clone().filter(|s| !s.is_empty()) else {
                return Err(b.syntax(ins, "SHELL requires the arguments to be in JSON form"));
            };
            cfg["Shell"] = json!(shell);
            meta(
                config,
                nop(&format!("SHELL {}", serde_json::to_string(&shell).unwrap_or_default())),
            )
        }
        "ONBUILD" => {
            let trigger = ins.args.clone();
            let first = trigger.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            if matches!(first.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(b.syntax(ins, format!("{first} isn't allowed as an ONBUILD trigger")));
            }
            let mut triggers = cfg["OnBuild"].as_array().cloned().unwrap_or_default();
            triggers.push(trigger.clone().into());
            cfg["OnBuild"] = json!(triggers);
            meta(config, nop(&format!("ONBUILD {trigger}")))
        }
        "HEALTHCHECK" => {
            let health = healthcheck(b, ins)?;
            cfg["Healthcheck"] = health;
            meta(config, nop(&format!("HEALTHCHECK {}", ins.args)))
        }
        "WORKDIR" => {
            let dir = b.expand(ins, &ins.args, &vars)?;
            let dir = if dir.starts_with('/') {
                dir
            } else {
                format!("{}/{dir}", state.workdir().trim_end_matches('/'))
            };
            let dir = format!("/{}", crate::ignore::elements(&dir).join("/"));
            cfg["WorkingDir"] = dir.clone().into();
            let created_by = nop(&format!("WORKDIR {dir}"));
            let view = b.view(state.image.as_ref())?;
            if view.metadata(&dir).is_some_and(|m| m.is_dir()) {
                return meta(config, created_by);
            }
            let mut layer = Layer::default();
            add_parents(&mut layer, &view, &format!("{dir}/x"), b.opts.source_date_epoch);
            Ok(Some(Plan {
                key_text: created_by.clone(),
                action: Action::Files {
                    layer,
                    config,
                    created_by,
                    views: Vec::new(),
                },
            }))
        }
        "RUN" => {
            let mut script = ins.command();
            if let Command::Shell(text) = &mut script {
                let bare = ins.heredocs.len() == 1
                    && text
                        .trim()
                        .trim_start_matches("<<")
                        .trim_start_matches('-')
                        .trim_matches(|c| c == '"' || c == '\'')
                        == ins.heredocs[0].name;
                if bare {
                    // `RUN <<EOF` alone: the heredoc is the script, or with a `#!` line
                    // a file its interpreter runs (BuildKit's rule).
                    let doc = &ins.heredocs[0];
                    *text = crate::heredoc::shebang_script(&doc.name, &doc.body).unwrap_or_else(|| doc.body.clone());
                } else {
                    // Otherwise the shell reads the heredocs itself, as written.
                    for heredoc in &ins.heredocs {
                        text.push('\n');
                        text.push_str(&heredoc.body);
                        text.push_str(&heredoc.name);
                    }
                }
            }
            let argv = b.argv(state, &script);
            // Build args reach the command's environment, not the image.
            let mut env = Vec::new();
            let image_env = state.env();
            for (k, v) in &state.args {
                if !image_env.iter().any(|e| e.split('=').next() == Some(k.as_str())) {
                    env.push(format!("{k}={v}"));
                }
            }
            for k in PREDEFINED_ARGS {
                if let Some(v) = b.given_args.get(k) {
                    env.push(format!("{k}={v}"));
                }
            }
            let network = run_network(b, ins)?;
            let privileged = run_security(b, ins)?;
            let created_by = match &script {
                Command::Shell(_) => argv.join(" "),
                Command::Exec(_) => format!("RUN {}", serde_json::to_string(&argv).unwrap_or_default()),
            };
            let mounts = crate::step_mounts::plan(b, ins, &vars, &state.workdir())?;
            let mut key_text = format!(
                "{created_by}\0{}\0{}\0{privileged}\0{}",
                env.join("\0"),
                network.clone().unwrap_or_default(),
                mounts.key
            );
            if mounts.uncached {
                key_text.push_str(&format!("\0uncached {:016x}", rand::random::<u64>()));
            }
            Ok(Some(Plan {
                key_text,
                action: Action::Run(RunStep {
                    argv,
                    env,
                    network,
                    privileged,
                    created_by,
                    mounts,
                }),
            }))
        }
        "COPY" | "ADD" => {
            let (layer, created_by, key_text, view) = crate::named::plan_copy(b, state, ins, &vars)?;
            Ok(Some(Plan {
                key_text,
                action: Action::Files {
                    layer,
                    config,
                    created_by,
                    views: view.into_iter().collect(),
                },
            }))
        }
        other => Err(b.syntax(ins, format!("{other} is not supported here"))),
    }
}

/// Carries out a plan; returns the new image.
pub(crate) fn apply(b: &mut Builder<'_>, state: &mut Stage, ins: &Instruction, plan: Plan) -> Result<ImageRecord> {
    match plan.action {
        Action::Config { config, created_by } => {
            state.config = config;
            b.commit_config(state, &created_by, None)
        }
        Action::Files {
            layer,
            mut config,
            created_by,
            views,
        } => {
            let _mounted = &views;
            let created = b.created();
            push_history(&mut config, &created, &created_by, false);
            config["created"] = created.into();
            let tmp = b.store.work_path("build", ".tar");
            let write = || -> std::io::Result<std::fs::File> {
                let file = std::fs::File::options()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&tmp)?;
                let mut out = std::io::BufWriter::new(file);
                layer.write(&mut out)?;
                let mut file = out.into_inner().map_err(|e| e.into_error())?;
                std::io::Seek::rewind(&mut file)?;
                Ok(file)
            };
            let file = write();
            let file = file.map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                b.syntax(ins, format!("writing the layer: {e}"))
            })?;
            let result = b
                .store
                .add_layer(&state.parent(), std::io::BufReader::new(file), config.clone(), None);
            let _ = std::fs::remove_file(&tmp);
            let id = result?;
            state.config = config;
            b.image(&id)
        }
        Action::Run(step) => run(b, state, ins, step),
    }
}

/// A planned `RUN` step's container.
struct RunStep {
    argv: Vec<String>,
    env: Vec<String>,
    network: Option<String>,
    /// `RUN --security=insecure`, allowed.
    privileged: bool,
    created_by: String,
    mounts: crate::step_mounts::Planned,
}

fn run(b: &mut Builder<'_>, state: &mut Stage, ins: &Instruction, step: RunStep) -> Result<ImageRecord> {
    let RunStep {
        argv,
        mut env,
        network,
        privileged,
        created_by,
        mounts,
    } = step;
    let Some(image) = state.image.clone() else {
        return Err(b.syntax(
            ins,
            "the image is empty (FROM scratch): there is no shell or program to run; COPY one in first",
        ));
    };
    // Made here, taken down when the step ends (after its commit): cache locks, secrets'
    // tmpfs, writable binds' overlays; the views `from=` named live as long.
    let live = crate::step_mounts::make_live(b, &mounts.mounts)?;
    env.extend(live.env.iter().cloned());
    let containers = Containers::new(b.store);
    let options = CreateOptions {
        image: image.id.clone(),
        cmd: argv.clone(),
        entrypoint: Some(Vec::new()),
        env,
        network: match network.as_deref() {
            Some("default") | None => None,
            Some(n) => Some(n.to_string()),
        },
        merged_output: true,
        extra_hosts: b.opts.run.extra_hosts.clone(),
        memory: b.opts.run.memory,
        security_opt: b.opts.run.security_opt.clone(),
        resources: b.opts.run.resources.clone(),
        privileged,
        mounts: live.mounts.clone(),
        tmpfs: live.tmpfs.clone(),
        ..Default::default()
    };
    let record = containers.create(&options)?;
    b.say(format!(" ---> Running in {}", &record.id[..12]));
    b.out.flush().ok();
    // The step's output goes to the build's output as it comes (`-q`: kept, and shown
    // only if the step fails, as Docker does); this process's own descriptors are left
    // alone.
    let mut kept = Vec::new();
    let outcome = if b.opts.quiet {
        strata_runtime::lifecycle::run_to_end(&containers, &record, b.launcher, &mut kept)
    } else {
        strata_runtime::lifecycle::run_to_end(&containers, &record, b.launcher, &mut *b.out)
    };
    let result = match outcome {
        Ok(0) => {
            let mut config = state.config.clone();
            let created = b.created();
            push_history(&mut config, &created, &created_by, false);
            config["created"] = created.into();
            containers
                .commit_with_config(
                    &record,
                    &image,
                    config.clone(),
                    None,
                    b.opts.source_date_epoch.map(|e| e.max(0) as u64),
                )
                .map(|id| (id, config))
                .map_err(BuildError::from)
        }
        Ok(code) => {
            let output = String::from_utf8_lossy(&kept);
            let shown = if output.is_empty() {
                String::new()
            } else {
                format!("\n{}", output.trim_end())
            };
            Err(b.syntax(
                ins,
                format!(
                    "The command '{}' returned a non-zero code: {code}{shown}",
                    argv.join(" ")
                ),
            ))
        }
        Err(e) => Err(e.into()),
    };
    // Docker's --rm (the default) and --force-rm: a step that succeeded leaves no
    // container unless --rm=false; a failed one's stays unless --force-rm. A container
    // bound to the step's cache directories, secrets or throwaway overlays always goes:
    // started again later, it would use them without the step's locks, or not find them.
    let remove = match &result {
        _ if live.binds_step_resources() => true,
        Ok(_) => !b.opts.keep_intermediate || b.opts.force_remove,
        Err(_) => b.opts.force_remove,
    };
    if remove {
        containers.remove(&record, true)?;
        b.say(format!("Removing intermediate container {}", &record.id[..12]));
    }
    let (id, config) = result?;
    state.config = config;
    b.image(&id)
}

fn key_values(b: &Builder<'_>, ins: &Instruction, vars: &Vars, legacy: bool) -> Result<Vec<(String, String)>> {
    let first = ins.args.split_whitespace().next().unwrap_or("");
    if legacy && !first.contains('=') {
        let value = ins.args[first.len()..].trim();
        if value.is_empty() {
            return Err(b.syntax(ins, "ENV names can not be blank and need a value"));
        }
        return Ok(vec![(first.to_string(), b.expand(ins, value, vars)?)]);
    }
    b.split(ins, &ins.args, vars)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(b.syntax(ins, format!("{} needs KEY=VALUE pairs, found {w:?}", ins.keyword))),
        })
        .collect()
}

fn healthcheck(b: &Builder<'_>, ins: &Instruction) -> Result<Value> {
    let rest = ins.args.trim();
    if rest.eq_ignore_ascii_case("NONE") {
        return Ok(json!({ "Test": ["NONE"] }));
    }
    let Some(cmd) = rest.strip_prefix("CMD").or_else(|| rest.strip_prefix("cmd")) else {
        return Err(b.syntax(ins, "HEALTHCHECK needs CMD or NONE"));
    };
    let cmd = cmd.trim();
    let test = match serde_json::from_str::<Vec<String>>(cmd) {
        Ok(argv) => {
            let mut t = vec!["CMD".to_string()];
            t.extend(argv);
            t
        }
        Err(_) => vec!["CMD-SHELL".to_string(), cmd.to_string()],
    };
    let mut health = json!({ "Test": test });
    for (flag, key) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ] {
        if let Some(v) = ins.flag(flag) {
            let ns = parse_duration(v).ok_or_else(|| b.syntax(ins, format!("--{flag}={v}: not a duration")))?;
            health[key] = ns.into();
        }
    }
    if let Some(r) = ins.flag("retries") {
        health["Retries"] = r
            .parse::<u64>()
            .map_err(|_| b.syntax(ins, format!("--retries={r}: not a number")))?
            .into();
    }
    Ok(health)
}

/// `30s`, `1m30s`, `500ms` in nanoseconds.
fn parse_duration(text: &str) -> Option<u64> {
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let scale = match unit.as_str() {
            "ns" => 1.0,
            "us" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number.parse::<f64>().ok()? * scale;
        number.clear();
    }
    number.is_empty().then_some(total as u64)
}

/// Entries for the parent directories of `path` (itself excluded): what the image has
/// (its metadata kept) or new ones (0755, root).
pub(crate) fn add_parents(layer: &mut Layer, view: &ImageView, path: &str, epoch: Option<i64>) {
    let parts = crate::ignore::elements(path);
    for n in 1..parts.len() {
        let dir = parts[..n].join("/");
        if layer.contains(&dir) {
            continue;
        }
        let entry = match view.metadata(&format!("/{dir}")) {
            Some(m) if m.is_dir() => Entry {
                content: Content::Dir,
                mode: m.permissions().mode(),
                uid: m.uid() as u64,
                gid: m.gid() as u64,
                mtime: m.mtime().max(0) as u64,
            },
            _ => Entry {
                content: Content::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: epoch.unwrap_or(0).max(0) as u64,
            },
        };
        layer.add(&dir, entry);
    }
}

/// The digest of a context file's bytes, from the file-sum cache when the file's
/// identity (device, inode, size, change times) is unchanged.
pub(crate) fn file_digest(
    b: &Builder<'_>,
    source: &Path,
    pending: &mut Vec<(String, String, String)>,
) -> Result<String> {
    let m =
        std::fs::symlink_metadata(source).map_err(|e| BuildError::io(format!("reading {}", source.display()), e))?;
    let identity = format!(
        "{}:{}:{}:{}.{}:{}.{}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    );
    let path = source.display().to_string();
    if let Some(d) = b.store.db().file_sum(&path, &identity)? {
        return Ok(d);
    }
    let read_err = |e| BuildError::io(format!("reading {}", source.display()), e);
    let mut file = std::fs::File::open(source).map_err(read_err)?;
    let mut hasher = strata_content::Hasher::sha256();
    std::io::copy(&mut file, &mut hasher).map_err(read_err)?;
    let digest = hasher.finish().to_string();
    pending.push((path, identity, digest.clone()));
    Ok(digest)
}

pub(crate) fn source_mtime(m: &std::fs::Metadata, epoch: Option<i64>) -> u64 {
    epoch.unwrap_or(m.mtime()).max(0) as u64
}

/// A `VOLUME` path: not empty, and not the root itself, which no container could mount
/// over (Docker's builders accept `VOLUME /` and every `run` of the image then fails).
fn check_volume(path: &str) -> Result<(), String> {
    if path.trim().is_empty() {
        return Err("VOLUME specified can not be an empty string".into());
    }
    // Lexically cleaned, as the runtime would: `/a/..` is the root too.
    let mut depth = 0usize;
    for c in std::path::Path::new(path).components() {
        match c {
            std::path::Component::Normal(_) => depth += 1,
            std::path::Component::ParentDir => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let is_root = path.starts_with('/') && depth == 0;
    if is_root {
        return Err(format!(
            "VOLUME {path:?}: the root directory cannot be a volume (no container could mount one over its own root); \
             name a directory such as /data"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(super::parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(super::parse_duration("500ms"), Some(500_000_000));
        assert_eq!(super::parse_duration("5x"), None);
        assert_eq!(super::parse_duration("5"), None);
    }
}
