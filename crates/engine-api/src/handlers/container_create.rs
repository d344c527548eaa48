//! `POST /containers/create`: Docker's create body (`Config`, `HostConfig`,
//! `NetworkingConfig`) into the library's `CreateOptions`, the same options `strata
//! create` fills from its flags. Clients send every field, most of them zero: a field
//! strata does not implement passes when it holds its default, and is refused by name
//! (400) when it holds anything else, never dropped.

use crate::error::ApiError;
use serde_json::{Map, Value};
use strata_containers::CreateOptions;

/// The options of a create request's body and its `name` parameter.
pub fn options(body: Value, name: Option<&str>) -> Result<CreateOptions, ApiError> {
    let Value::Object(mut config) = body else {
        return Err(ApiError::invalid(
            "the create body must be a JSON object (Docker's container config)",
        ));
    };
    let host = object(config.remove("HostConfig"), "HostConfig")?;
    let networking = object(config.remove("NetworkingConfig"), "NetworkingConfig")?;
    let mut fields = Fields {
        object: config,
        prefix: "",
    };
    let mut options = CreateOptions {
        name: name.filter(|n| !n.is_empty()).map(str::to_string),
        ..Default::default()
    };
    from_config(&mut fields, &mut options)?;
    fields.rest_are_defaults()?;
    let config_volumes = options.volumes.len();
    let mut host = Fields {
        object: host,
        prefix: "HostConfig.",
    };
    from_host_config(&mut host, &mut options)?;
    host.rest_are_defaults()?;
    drop_mounted_volumes(&mut options, config_volumes);
    from_networking(networking, &mut options)?;
    Ok(options)
}

/// `Config.Volumes` (the first `config_volumes` of `o.volumes`) less the paths that
/// Binds, Mounts or Tmpfs mount: Docker makes an anonymous volume only for a path
/// nothing else mounts. docker-py lists each of its binds' paths there too, and each
/// would otherwise leave an anonymous volume behind.
fn drop_mounted_volumes(o: &mut CreateOptions, config_volumes: usize) {
    let clean = |p: &str| p.trim_end_matches('/').to_string();
    let mut mounted: std::collections::HashSet<String> = std::collections::HashSet::new();
    for bind in &o.volumes[config_volumes..] {
        let parts: Vec<&str> = bind.split(':').collect();
        if parts.len() >= 2 {
            mounted.insert(clean(parts[1]));
        }
    }
    for mount in &o.mounts {
        let target = mount.split(',').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            matches!(k, "target" | "destination" | "dst").then_some(v)
        });
        mounted.extend(target.map(clean));
    }
    for tmpfs in &o.tmpfs {
        mounted.insert(clean(tmpfs.split(':').next().unwrap_or_default()));
    }
    let mut index = 0;
    o.volumes.retain(|v| {
        index += 1;
        index > config_volumes || !mounted.contains(&clean(v))
    });
}

fn object(value: Option<Value>, what: &str) -> Result<Map<String, Value>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(ApiError::invalid(format!("{what} must be an object, not {other}"))),
    }
}

/// The fields of one object of the body, taken as they are used.
struct Fields {
    object: Map<String, Value>,
    prefix: &'static str,
}

impl Fields {
    fn take(&mut self, key: &str) -> Value {
        self.object.remove(key).unwrap_or(Value::Null)
    }

    fn string(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        match self.take(key) {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(self.wrong(key, "a string", &other)),
        }
    }

    fn flag(&mut self, key: &str) -> Result<bool, ApiError> {
        match self.take(key) {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(b),
            other => Err(self.wrong(key, "true or false", &other)),
        }
    }

    fn int(&mut self, key: &str) -> Result<i64, ApiError> {
        match self.take(key) {
            Value::Null => Ok(0),
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| self.wrong(key, "an integer", &Value::Number(n.clone()))),
            other => Err(self.wrong(key, "an integer", &other)),
        }
    }

    /// A list of strings; Docker's `StrSlice` also takes one string.
    fn strings(&mut self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.take(key) {
            Value::Null => Ok(Vec::new()),
            Value::String(s) => Ok(vec![s]),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    other => Err(self.wrong(key, "a list of strings", &other)),
                })
                .collect(),
            other => Err(self.wrong(key, "a list of strings", &other)),
        }
    }

    /// A list of strings where `null` and absent differ from `[]` (`Entrypoint`).
    fn strings_if_set(&mut self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.object.get(key) {
            None | Some(Value::Null) => {
                self.object.remove(key);
                Ok(None)
            }
            Some(_) => self.strings(key).map(Some),
        }
    }

    /// A `{"key": "value"}` object as `key=value` strings.
    fn pairs(&mut self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.take(key) {
            Value::Null => Ok(Vec::new()),
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(v) => Ok(format!("{k}={v}")),
                    other => Err(self.wrong(key, "an object of strings", &other)),
                })
                .collect(),
            other => Err(self.wrong(key, "an object of strings", &other)),
        }
    }

    /// A list of Docker objects (`Ulimits`, `BlkioDeviceReadBps`), null as empty.
    fn list<T: serde::de::DeserializeOwned>(&mut self, key: &str) -> Result<Vec<T>, ApiError> {
        match self.take(key) {
            Value::Null => Ok(Vec::new()),
            list => serde_json::from_value(list).map_err(|e| ApiError::invalid(format!("{}{key}: {e}", self.prefix))),
        }
    }

    /// The keys of a `{"key": {}}` set (`ExposedPorts`, `Volumes`).
    fn keys(&mut self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.take(key) {
            Value::Null => Ok(Vec::new()),
            Value::Object(map) => Ok(map.into_iter().map(|(k, _)| k).collect()),
            other => Err(self.wrong(key, "an object", &other)),
        }
    }

    fn wrong(&self, key: &str, expected: &str, got: &Value) -> ApiError {
        ApiError::invalid(format!("{}{key} must be {expected}, not {got}", self.prefix))
    }

    /// What no code took must hold its default: else it is a setting strata would drop.
    fn rest_are_defaults(self) -> Result<(), ApiError> {
        for (key, value) in &self.object {
            if !is_default(key, value) {
                return Err(not_supported(&format!("{}{key}", self.prefix), value));
            }
        }
        Ok(())
    }
}

/// Zero, empty, null or false, all the way down; and the few non-zero defaults
/// Docker's clients send.
fn is_default(key: &str, value: &Value) -> bool {
    match (key, value) {
        ("Isolation", Value::String(s)) if s == "default" => true,
        _ => is_zero(value),
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(is_zero),
        Value::Object(map) => map.values().all(is_zero),
    }
}

fn not_supported(field: &str, value: &Value) -> ApiError {
    ApiError::invalid(format!(
        "{field} is not supported by strata yet (the request sets it to {value}); \
         leave it unset, or see the README's \"Not yet\" list"
    ))
}

fn from_config(c: &mut Fields, o: &mut CreateOptions) -> Result<(), ApiError> {
    o.image = c
        .string("Image")?
        .ok_or_else(|| ApiError::invalid("the create body names no Image"))?;
    o.hostname = c.string("Hostname")?;
    o.user = c.string("User")?;
    o.workdir = c.string("WorkingDir")?;
    o.env = c.strings("Env")?;
    o.cmd = c.strings("Cmd")?;
    o.entrypoint = c.strings_if_set("Entrypoint")?;
    o.tty = c.flag("Tty")?;
    o.interactive = c.flag("OpenStdin")?;
    o.stdin_once = c.flag("StdinOnce")?;
    o.labels = c.pairs("Labels")?;
    o.expose = c.keys("ExposedPorts")?;
    // Anonymous volumes, as `-v /path`.
    o.volumes = c.keys("Volumes")?;
    o.healthcheck = match c.take("Healthcheck") {
        Value::Null => None,
        check if is_zero(&check) => None,
        mut check => {
            // A null field is an unset one, as Go's decoder reads it (docker-py sends
            // `"StartPeriod": null` for what it was not given).
            if let Value::Object(fields) = &mut check {
                fields.retain(|_, v| !v.is_null());
            }
            Some(serde_json::from_value(check).map_err(|e| ApiError::invalid(format!("Healthcheck: {e}")))?)
        }
    };
    o.stop_signal = c.string("StopSignal")?;
    o.domainname = c.string("Domainname")?;
    o.mac_address = c.string("MacAddress")?;
    o.stop_timeout = match c.take("StopTimeout") {
        Value::Null => None,
        Value::Number(n) => n.as_i64(),
        other => return Err(c.wrong("StopTimeout", "an integer", &other)),
    };
    if c.flag("NetworkDisabled")? {
        o.network = Some("none".into());
    }
    // Which streams a client attaches to is its own business; ArgsEscaped is Windows'.
    for ignored in ["AttachStdin", "AttachStdout", "AttachStderr", "ArgsEscaped"] {
        c.take(ignored);
    }
    Ok(())
}

fn from_host_config(h: &mut Fields, o: &mut CreateOptions) -> Result<(), ApiError> {
    o.volumes.extend(h.strings("Binds")?);
    if let Some(mode) = h.string("NetworkMode")?.filter(|m| m != "default") {
        o.network = Some(mode);
    }
    o.publish = port_bindings(h.take("PortBindings"))?;
    o.publish_all = h.flag("PublishAllPorts")?;
    o.restart = restart_policy(h.take("RestartPolicy"))?;
    o.auto_remove = h.flag("AutoRemove")?;
    for mount in mounts(h.take("Mounts"))? {
        o.mounts.push(mount);
    }
    o.cap_add = h.strings("CapAdd")?;
    o.cap_drop = h.strings("CapDrop")?;
    o.dns = h.strings("Dns")?;
    o.dns_options = h.strings("DnsOptions")?;
    o.dns_search = h.strings("DnsSearch")?;
    o.extra_hosts = h.strings("ExtraHosts")?;
    o.privileged = h.flag("Privileged")?;
    o.read_only = h.flag("ReadonlyRootfs")?;
    o.security_opt = h.strings("SecurityOpt")?;
    o.tmpfs = tmpfs(h.take("Tmpfs"))?;
    o.sysctls = h.pairs("Sysctls")?;
    o.runtime = h.string("Runtime")?;
    o.memory = Some(h.int("Memory")?).filter(|m| *m > 0);
    o.nano_cpus = Some(h.int("NanoCpus")?).filter(|n| *n > 0);
    o.pids_limit = Some(h.int("PidsLimit")?).filter(|p| *p > 0);
    let set = |n: i64| Some(n).filter(|n| *n != 0);
    o.resources = strata_containers::resources::Resources {
        memory_swap: set(h.int("MemorySwap")?),
        memory_reservation: set(h.int("MemoryReservation")?),
        oom_kill_disable: h.flag("OomKillDisable")?,
        cpu_shares: set(h.int("CpuShares")?),
        cpu_quota: set(h.int("CpuQuota")?),
        cpu_period: set(h.int("CpuPeriod")?),
        cpuset_cpus: h.string("CpusetCpus")?,
        shm_size: set(h.int("ShmSize")?),
        ulimits: h.list("Ulimits")?,
        // Null and -1 are the host's; 0 is a setting.
        memory_swappiness: match h.take("MemorySwappiness") {
            Value::Null => None,
            Value::Number(n) if n.as_i64() == Some(-1) => None,
            Value::Number(n) => n.as_i64(),
            other => return Err(h.wrong("MemorySwappiness", "an integer", &other)),
        },
        cpuset_mems: h.string("CpusetMems")?,
        blkio_weight: match h.int("BlkioWeight")? {
            0 => None,
            w => Some(u16::try_from(w).map_err(|_| {
                ApiError::invalid(format!("HostConfig.BlkioWeight {w} is out of range: use 10 to 1000"))
            })?),
        },
        blkio_weight_device: h.list("BlkioWeightDevice")?,
        device_read_bps: h.list("BlkioDeviceReadBps")?,
        device_write_bps: h.list("BlkioDeviceWriteBps")?,
        device_read_iops: h.list("BlkioDeviceReadIOps")?,
        device_write_iops: h.list("BlkioDeviceWriteIOps")?,
        device_cgroup_rules: h.strings("DeviceCgroupRules")?,
        cgroup_parent: h.string("CgroupParent")?,
        kernel_memory: set(h.int("KernelMemory")?),
        cpu_rt_period: set(h.int("CpuRealtimePeriod")?),
        cpu_rt_runtime: set(h.int("CpuRealtimeRuntime")?),
    };
    o.oom_score_adj = set(h.int("OomScoreAdj")?);
    o.uts_mode = h.string("UTSMode")?;
    o.userns_mode = h.string("UsernsMode")?;
    o.cgroupns_mode = h.string("CgroupnsMode")?;
    o.links = h.strings("Links")?;
    o.refused = strata_containers::RefusedOptions {
        storage_opt: h.pairs("StorageOpt")?,
        isolation: h.string("Isolation")?,
        volume_driver: h.string("VolumeDriver")?,
        gpus: match h.take("DeviceRequests") {
            v if is_zero(&v) => None,
            v => Some(v.to_string()),
        },
    };
    o.group_add = h.strings("GroupAdd")?;
    o.log = log_config(h.take("LogConfig"))?;
    o.init = h.flag("Init")?;
    o.pid_mode = h.string("PidMode")?;
    o.ipc_mode = h.string("IpcMode")?;
    o.volumes_from = h.strings("VolumesFrom")?;
    o.devices = devices(h.take("Devices"))?;
    // The terminal's first size comes with the start (resize); a container ID file is
    // the client's to write.
    for ignored in ["ConsoleSize", "ContainerIDFile"] {
        h.take(ignored);
    }
    Ok(())
}

/// `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` as `-p` specs.
fn port_bindings(value: Value) -> Result<Vec<String>, ApiError> {
    let Value::Object(ports) = value else {
        return match value {
            Value::Null => Ok(Vec::new()),
            other => Err(ApiError::invalid(format!(
                "HostConfig.PortBindings must be an object, not {other}"
            ))),
        };
    };
    let mut specs = Vec::new();
    for (port, bindings) in ports {
        let bindings = match bindings {
            Value::Array(b) if !b.is_empty() => b,
            _ => vec![Value::Null],
        };
        for binding in bindings {
            let field = |k: &str| binding.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let (ip, host_port) = (field("HostIp"), field("HostPort"));
            specs.push(match (ip.is_empty(), host_port.is_empty()) {
                (true, true) => port.clone(),
                (true, false) => format!("{host_port}:{port}"),
                (false, _) if ip.contains(':') => format!("[{ip}]:{host_port}:{port}"),
                (false, _) => format!("{ip}:{host_port}:{port}"),
            });
        }
    }
    Ok(specs)
}

/// `[{"PathOnHost", "PathInContainer", "CgroupPermissions"}]` as `--device` specs.
fn devices(value: Value) -> Result<Vec<String>, ApiError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(ApiError::invalid(format!(
                "HostConfig.Devices must be a list, not {other}"
            )))
        }
    };
    items
        .iter()
        .map(|d| {
            let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default();
            let host = field("PathOnHost");
            if host.is_empty() {
                return Err(ApiError::invalid("HostConfig.Devices[].PathOnHost is required"));
            }
            let container = Some(field("PathInContainer")).filter(|c| !c.is_empty()).unwrap_or(host);
            let permissions = Some(field("CgroupPermissions"))
                .filter(|p| !p.is_empty())
                .unwrap_or("rwm");
            Ok(format!("{host}:{container}:{permissions}"))
        })
        .collect()
}

/// `POST /containers/{id}/update`'s body (Docker's `UpdateConfig`: resources and the
/// restart policy) as the library's changes; a set field strata cannot change is
/// refused by name.
pub fn update_options(body: Value) -> Result<strata_runtime::lifecycle::UpdateOptions, ApiError> {
    let mut u = Fields {
        object: object(Some(body), "the update body")?,
        prefix: "",
    };
    let set = |n: i64| Some(n).filter(|n| *n != 0);
    let restart = match u.take("RestartPolicy") {
        Value::Null => None,
        policy if is_zero(&policy) => None,
        policy => restart_policy(policy)?.or_else(|| Some("no".into())),
    };
    let changes = strata_runtime::lifecycle::UpdateOptions {
        memory: set(u.int("Memory")?),
        nano_cpus: set(u.int("NanoCpus")?),
        pids_limit: set(u.int("PidsLimit")?),
        memory_swap: set(u.int("MemorySwap")?),
        memory_reservation: set(u.int("MemoryReservation")?),
        cpu_shares: set(u.int("CpuShares")?),
        cpu_quota: set(u.int("CpuQuota")?),
        cpu_period: set(u.int("CpuPeriod")?),
        cpuset_cpus: u.string("CpusetCpus")?,
        restart,
    };
    u.rest_are_defaults()?;
    Ok(changes)
}

/// `{"Type": "json-file", "Config": {"max-size": "10m"}}` as `--log-driver`/`--log-opt`.
fn log_config(value: Value) -> Result<strata_containers::log_config::LogConfig, ApiError> {
    let driver = value.get("Type").and_then(Value::as_str).map(str::to_string);
    let options: Vec<(String, String)> = match value.get("Config") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(strata_containers::log_config::LogConfig::parse(
        driver.as_deref(),
        &options,
    )?)
}

/// `{"Name": "on-failure", "MaximumRetryCount": 3}` as `--restart on-failure:3`.
fn restart_policy(value: Value) -> Result<Option<String>, ApiError> {
    let name = value.get("Name").and_then(Value::as_str).unwrap_or_default();
    let retries = value.get("MaximumRetryCount").and_then(Value::as_i64).unwrap_or(0);
    Ok(match (name, retries) {
        ("" | "no", 0) => None,
        ("on-failure", n) if n > 0 => Some(format!("on-failure:{n}")),
        (name, 0) => Some(name.to_string()),
        (name, n) => {
            return Err(ApiError::invalid(format!(
                "maximum retry count cannot be used with restart policy '{name}' (got {n})"
            )))
        }
    })
}

/// `{"/run": "rw,size=64m"}` as `--tmpfs /run:rw,size=64m`.
fn tmpfs(value: Value) -> Result<Vec<String>, ApiError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(map) => Ok(map
            .into_iter()
            .map(|(path, opts)| match opts.as_str().unwrap_or_default() {
                "" => path,
                opts => format!("{path}:{opts}"),
            })
            .collect()),
        other => Err(ApiError::invalid(format!(
            "HostConfig.Tmpfs must be an object, not {other}"
        ))),
    }
}

/// `HostConfig.Mounts` as `--mount` specs; a mount option strata does not implement is
/// refused by name.
fn mounts(value: Value) -> Result<Vec<String>, ApiError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(ApiError::invalid(format!(
                "HostConfig.Mounts must be a list, not {other}"
            )))
        }
    };
    items.into_iter().map(mount).collect()
}

fn mount(value: Value) -> Result<String, ApiError> {
    let mut m = Fields {
        object: match value {
            Value::Object(map) => map,
            other => return Err(ApiError::invalid(format!("a mount must be an object, not {other}"))),
        },
        prefix: "HostConfig.Mounts[].",
    };
    let kind = m.string("Type")?.unwrap_or_else(|| "volume".into());
    let mut spec = vec![format!("type={kind}")];
    if let Some(source) = m.string("Source")? {
        spec.push(format!("source={source}"));
    }
    let target = m
        .string("Target")?
        .ok_or_else(|| ApiError::invalid("HostConfig.Mounts[].Target is required"))?;
    spec.push(format!("target={target}"));
    if m.flag("ReadOnly")? {
        spec.push("readonly".into());
    }
    if let Value::Object(tmpfs) = m.take("TmpfsOptions") {
        let mut t = Fields {
            object: tmpfs,
            prefix: "HostConfig.Mounts[].TmpfsOptions.",
        };
        if let Some(size) = Some(t.int("SizeBytes")?).filter(|s| *s > 0) {
            spec.push(format!("tmpfs-size={size}"));
        }
        if let Some(mode) = Some(t.int("Mode")?).filter(|m| *m > 0) {
            spec.push(format!("tmpfs-mode={mode:o}"));
        }
        t.rest_are_defaults()?;
    }
    // "Consistency" is macOS's; an empty option object is the default.
    m.take("Consistency");
    m.rest_are_defaults()?;
    Ok(spec.join(","))
}

/// `NetworkingConfig.EndpointsConfig`: the one network the container joins at create
/// (Docker's rule too), with its aliases and address.
fn from_networking(networking: Map<String, Value>, o: &mut CreateOptions) -> Result<(), ApiError> {
    let mut n = Fields {
        object: networking,
        prefix: "NetworkingConfig.",
    };
    let endpoints = match n.take("EndpointsConfig") {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        other => {
            return Err(ApiError::invalid(format!(
                "NetworkingConfig.EndpointsConfig must be an object, not {other}"
            )))
        }
    };
    n.rest_are_defaults()?;
    if endpoints.len() > 1 {
        return Err(ApiError::invalid(
            "a container joins one network at create; connect it to the others afterwards (docker network connect)",
        ));
    }
    for (network, endpoint) in endpoints {
        if o.network.is_none() && network != "default" {
            o.network = Some(network);
        }
        let mut e = Fields {
            object: object(Some(endpoint), "an endpoint config")?,
            prefix: "NetworkingConfig.EndpointsConfig.*.",
        };
        o.network_aliases = e.strings("Aliases")?;
        // API 1.44's place for it; older clients send Config.MacAddress.
        if let Some(mac) = e.string("MacAddress")? {
            o.mac_address = Some(mac);
        }
        if let Value::Object(ipam) = e.take("IPAMConfig") {
            let mut ipam = Fields {
                object: ipam,
                prefix: "NetworkingConfig.EndpointsConfig.*.IPAMConfig.",
            };
            o.ip = ipam.string("IPv4Address")?;
            o.ip6 = ipam.string("IPv6Address")?;
            o.link_local_ips = ipam.strings("LinkLocalIPs")?;
            ipam.rest_are_defaults()?;
        }
        // What Docker fills in (addresses, IDs, DNS names), sent back empty.
        for output in [
            "NetworkID",
            "EndpointID",
            "Gateway",
            "IPAddress",
            "IPPrefixLen",
            "IPv6Gateway",
            "GlobalIPv6Address",
            "GlobalIPv6PrefixLen",
            "DNSNames",
            "GwPriority",
        ] {
            e.take(output);
        }
        e.rest_are_defaults()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the docker 28 CLI sends for `run -i --rm -p 8080:80 -v /tmp:/x:ro --name web
    /// -e A=1 busybox sh -c 'echo hi'` (captured), abridged to its non-zero fields and
    /// a sample of the zero ones.
    fn docker_run_body() -> Value {
        json!({
            "Hostname": "", "User": "", "AttachStdin": true, "AttachStdout": true,
            "ExposedPorts": {"80/tcp": {}}, "Tty": false, "OpenStdin": true, "StdinOnce": true,
            "Env": ["A=1"], "Cmd": ["sh", "-c", "echo hi"], "Image": "busybox", "Volumes": {},
            "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": {},
            "HostConfig": {
                "Binds": ["/tmp:/x:ro"], "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
                "NetworkMode": "default", "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": true,
                "ConsoleSize": [0, 0], "CapAdd": null, "CgroupnsMode": "", "Dns": [],
                "MemorySwappiness": -1, "OomKillDisable": false, "PidsLimit": 0, "Ulimits": [],
                "BlkioWeightDevice": [], "Isolation": ""
            },
            "NetworkingConfig": {"EndpointsConfig": {"default": {
                "IPAMConfig": null, "Aliases": null, "MacAddress": "", "NetworkID": "", "IPAddress": ""
            }}}
        })
    }

    #[test]
    fn the_docker_clis_run_body_becomes_the_same_options_as_the_flags() {
        let o = options(docker_run_body(), Some("web")).unwrap();
        assert_eq!(o.image, "busybox");
        assert_eq!(o.name.as_deref(), Some("web"));
        assert_eq!(o.cmd, ["sh", "-c", "echo hi"]);
        assert_eq!(o.entrypoint, None);
        assert_eq!(o.env, ["A=1"]);
        assert_eq!(o.volumes, ["/tmp:/x:ro"]);
        assert_eq!(o.publish, ["8080:80/tcp"]);
        assert_eq!(o.expose, ["80/tcp"]);
        assert!(o.auto_remove && o.interactive && o.stdin_once && !o.tty);
        assert_eq!(o.network, None);
        assert_eq!(o.restart, None);
        assert_eq!(o.healthcheck, None);
        let mut body = docker_run_body();
        body["Healthcheck"] =
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000i64, "Retries": 2, "StartPeriod": null});
        let check = options(body, None).unwrap().healthcheck.unwrap();
        assert_eq!((check.test.len(), check.interval, check.retries), (2, 1_000_000_000, 2));
    }

    #[test]
    fn a_non_default_value_in_a_field_strata_lacks_is_refused_by_name() {
        let mut body = docker_run_body();
        body["HostConfig"]["CpuCount"] = json!(2);
        let e = options(body, None).unwrap_err();
        assert_eq!(e.status, hyper::StatusCode::BAD_REQUEST);
        assert!(
            e.message.starts_with("HostConfig.CpuCount is not supported"),
            "{}",
            e.message
        );
        let mut body = docker_run_body();
        body["HostConfig"]["MaskedPaths"] = json!(["/proc/kcore"]);
        assert!(options(body, None)
            .unwrap_err()
            .message
            .starts_with("HostConfig.MaskedPaths is not"));
        let mut body = docker_run_body();
        body["HostConfig"]["LogConfig"] = json!({"Type": "syslog", "Config": {}});
        assert!(options(body, None)
            .unwrap_err()
            .message
            .contains("\"syslog\" is not supported"));
    }

    #[test]
    fn config_volumes_that_binds_mounts_or_tmpfs_cover_make_no_anonymous_volume() {
        // As docker-py sends containers.run(volumes={"data": {"bind": "/data"}}, ...).
        let body = json!({
            "Image": "busybox",
            "Volumes": {"/data": {}, "/m/": {}, "/t": {}, "/anon": {}},
            "HostConfig": {
                "Binds": ["data:/data:rw"],
                "Mounts": [{"Type": "volume", "Source": "m", "Target": "/m"}],
                "Tmpfs": {"/t": ""}
            }
        });
        let o = options(body, None).unwrap();
        assert_eq!(o.volumes, ["/anon", "data:/data:rw"]);
    }

    #[test]
    fn networks_ports_mounts_and_policies_translate_as_their_flags() {
        let body = json!({
            "Image": "busybox", "Entrypoint": ["/bin/sh", "-c"],
            "HostConfig": {
                "NetworkMode": "back",
                "PortBindings": {"53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}], "80/tcp": null},
                "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576}},
                           {"Type": "volume", "Source": "data", "Target": "/d", "ReadOnly": true}],
                "Tmpfs": {"/run": "size=1m"}, "Memory": 67108864, "PidsLimit": -1
            },
            "NetworkingConfig": {"EndpointsConfig": {"back": {
                "Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.1.0.9"}
            }}}
        });
        let o = options(body, None).unwrap();
        assert_eq!(o.entrypoint, Some(vec!["/bin/sh".to_string(), "-c".to_string()]));
        assert_eq!(o.network.as_deref(), Some("back"));
        let mut publish = o.publish.clone();
        publish.sort();
        assert_eq!(publish, ["127.0.0.1::53/udp", "80/tcp"]);
        assert_eq!(o.restart.as_deref(), Some("on-failure:3"));
        assert_eq!(
            o.mounts,
            [
                "type=tmpfs,target=/t,tmpfs-size=1048576",
                "type=volume,source=data,target=/d,readonly"
            ]
        );
        assert_eq!(o.tmpfs, ["/run:size=1m"]);
        assert_eq!((o.memory, o.pids_limit), (Some(67108864), None));
        assert_eq!(o.network_aliases, ["db"]);
        assert_eq!(o.ip.as_deref(), Some("10.1.0.9"));
    }
}
