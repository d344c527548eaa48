//! `inspect` of a container, shaped like Docker's.

use crate::error::Result;
use crate::lifecycle::pid_alive;
use crate::monitor::log_path;
use serde_json::{json, Value};
use strata_containers::{ContainerRecord, ContainerState, Containers};

/// Docker's container JSON (the fields strata has).
pub fn container(containers: &Containers<'_>, record: &ContainerRecord) -> Result<Value> {
    let config = containers.config(record)?;
    let args = config.args();
    let running = record.state == ContainerState::Running && pid_alive(record.pid);
    let dir = containers.dir(&record.id);
    let active = containers.upper(&record.id);
    let lowers: Vec<String> = containers
        .view_lowerdirs(record)?
        .iter()
        .skip(1)
        .map(|p| p.display().to_string())
        .collect();
    let zero = "0001-01-01T00:00:00Z";
    let null_if_empty = |v: &Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    let mut doc = json!({
        "Id": record.id,
        "Created": record.created,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": record.state.as_str(),
            "Running": running,
            "Paused": running && crate::cgroups::Cgroup::of(record).is_frozen(),
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": if running { record.pid.unwrap_or(0) } else { 0 },
            "ExitCode": record.exit_code.unwrap_or(0),
            "Error": "",
            "StartedAt": record.started_at.clone().unwrap_or_else(|| zero.into()),
            "FinishedAt": record.finished_at.clone().unwrap_or_else(|| zero.into()),
            "Health": health(containers, record, &config),
        },
        "Image": record.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": log_path(containers, &record.id),
        "Name": format!("/{}", record.name),
        "RestartCount": crate::monitor::restart_count(containers, &record.id),
        "Driver": if containers.copied_root(&record.id).is_some() { "vfs" } else { "overlay" },
        "Platform": "linux",
        "HostConfig": {
            "Binds": config.binds.iter().map(|b| format!("{}:{}{}", b.source, b.destination, if b.readonly { ":ro" } else { "" })).collect::<Vec<_>>(),
            "NetworkMode": config.network,
            "PortBindings": port_bindings(&config),
            "PublishAllPorts": config.publish_all,
            "Privileged": config.privileged,
            "SecurityOpt": if config.security_opt.is_empty() { Value::Null } else { json!(config.security_opt) },
            "CapAdd": if config.cap_add.is_empty() { Value::Null } else { json!(config.cap_add) },
            "CapDrop": if config.cap_drop.is_empty() { Value::Null } else { json!(config.cap_drop) },
            "ExtraHosts": if config.extra_hosts.is_empty() { Value::Null } else { json!(config.extra_hosts) },
            "Dns": config.dns,
            "DnsSearch": config.dns_search,
            "DnsOptions": config.dns_options,
            "Sysctls": if config.sysctls.is_empty() { Value::Null } else { json!(config.sysctls) },
            "AutoRemove": config.auto_remove,
            "ReadonlyRootfs": config.read_only,
            "Runtime": "strata",
        },
        "GraphDriver": match containers.copied_root(&record.id) {
            Some(copy) => json!({ "Name": "vfs", "Data": { "Dir": copy } }),
            None => json!({
                "Name": "overlay",
                "Data": {
                    "LowerDir": lowers.join(":"),
                    "UpperDir": active,
                    "WorkDir": active.with_file_name("work"),
                    "MergedDir": containers.rootfs(&record.id),
                },
            }),
        },
        "Mounts": mounts(&config),
        "Config": {
            "Hostname": config.hostname,
            "Domainname": config.domainname,
            "MacAddress": config.mac_address.clone().unwrap_or_default(),
            "User": config.user,
            "AttachStdin": config.interactive,
            "AttachStdout": true,
            "AttachStderr": true,
            "Tty": config.tty,
            "OpenStdin": config.interactive,
            "StdinOnce": false,
            "Env": config.env,
            "Cmd": null_if_empty(&config.cmd),
            "Image": record.image_name,
            "Volumes": if config.volumes.is_empty() { Value::Null } else { config.volumes.iter().map(|v| (v.clone(), json!({}))).collect::<serde_json::Map<_, _>>().into() },
            "WorkingDir": config.working_dir,
            "Entrypoint": null_if_empty(&config.entrypoint),
            "StopSignal": config.stop_signal,
            "StopTimeout": config.stop_timeout,
            "Labels": config.labels,
            "Healthcheck": config.healthcheck,
        },
        "NetworkSettings": network_settings(containers, record, &config, running),
    });
    if let (Some(host), Value::Object(more)) = (doc["HostConfig"].as_object_mut(), resources(&config)) {
        host.extend(more);
    }
    // The image's, `--expose`'s and the published ones, as Docker's client adds them.
    let mut exposed: Vec<String> = config.exposed.clone();
    exposed.extend(config.ports.iter().map(|p| p.key()));
    exposed.sort();
    exposed.dedup();
    if let Some(c) = doc["Config"].as_object_mut() {
        let ports: serde_json::Map<String, Value> = exposed.into_iter().map(|k| (k, json!({}))).collect();
        c.insert(
            "ExposedPorts".into(),
            if ports.is_empty() {
                Value::Null
            } else {
                Value::Object(ports)
            },
        );
    }
    // Docker omits both without a check.
    if config.healthcheck.is_none() {
        for (section, key) in [("State", "Health"), ("Config", "Healthcheck")] {
            if let Some(map) = doc[section].as_object_mut() {
                map.remove(key);
            }
        }
    }
    Ok(doc)
}

/// The resource fields of `HostConfig`.
fn resources(config: &strata_containers::ContainerConfig) -> Value {
    let more = &config.resources;
    json!({
        "Memory": config.memory.unwrap_or(0),
        "NanoCpus": config.nano_cpus.unwrap_or(0),
        "PidsLimit": config.pids_limit,
        "MemorySwap": more.memory_swap.unwrap_or(0),
        "MemoryReservation": more.memory_reservation.unwrap_or(0),
        "OomKillDisable": more.oom_kill_disable,
        "CpuShares": more.cpu_shares.unwrap_or(0),
        "CpuQuota": more.cpu_quota.unwrap_or(0),
        "CpuPeriod": more.cpu_period.unwrap_or(0),
        "CpusetCpus": more.cpuset_cpus.clone().unwrap_or_default(),
        "ShmSize": more.shm_size.unwrap_or(64 << 20),
        "Ulimits": more.ulimits,
        "GroupAdd": if config.group_add.is_empty() { Value::Null } else { json!(config.group_add) },
        "Init": config.init,
        "Devices": config.devices.iter().map(|d| json!({
            "PathOnHost": d.host,
            "PathInContainer": d.container,
            "CgroupPermissions": d.permissions,
        })).collect::<Vec<_>>(),
        "RestartPolicy": restart_policy(config.restart.as_deref()),
        "PidMode": config.pid_mode.clone().unwrap_or_default(),
        "IpcMode": config.ipc_mode.clone().unwrap_or_else(|| "private".into()),
        "LogConfig": {
            "Type": config.log.driver_name(),
            "Config": log_options(&config.log),
        },
        "UTSMode": if config.namespaces.uts_host { "host" } else { "" },
        "UsernsMode": "",
        "CgroupnsMode": if config.namespaces.cgroupns_private { "private" } else { "host" },
        "OomScoreAdj": config.oom_score_adj.unwrap_or(0),
        "Links": if config.links.is_empty() { Value::Null } else { json!(config.links.iter().map(|l| format!("/{}:/{}", l.container, l.alias)).collect::<Vec<_>>()) },
        "MemorySwappiness": more.memory_swappiness,
        "CpusetMems": more.cpuset_mems.clone().unwrap_or_default(),
        "BlkioWeight": more.blkio_weight.unwrap_or(0),
        "BlkioWeightDevice": more.blkio_weight_device,
        "BlkioDeviceReadBps": more.device_read_bps,
        "BlkioDeviceWriteBps": more.device_write_bps,
        "BlkioDeviceReadIOps": more.device_read_iops,
        "BlkioDeviceWriteIOps": more.device_write_iops,
        "DeviceCgroupRules": if more.device_cgroup_rules.is_empty() { Value::Null } else { json!(more.device_cgroup_rules) },
        "CgroupParent": more.cgroup_parent.clone().unwrap_or_default(),
        "CpuRealtimePeriod": more.cpu_rt_period.unwrap_or(0),
        "CpuRealtimeRuntime": more.cpu_rt_runtime.unwrap_or(0),
    })
}

/// `--restart` as Docker shows it: `{"Name": "on-failure", "MaximumRetryCount": 3}`.
fn restart_policy(restart: Option<&str>) -> Value {
    let text = restart.filter(|r| !r.is_empty()).unwrap_or("no");
    let (name, count) = text.split_once(':').unwrap_or((text, "0"));
    json!({ "Name": name, "MaximumRetryCount": count.parse::<i64>().unwrap_or(0) })
}

/// `--log-opt`s as Docker shows them.
fn log_options(log: &strata_containers::log_config::LogConfig) -> Value {
    let mut options = serde_json::Map::new();
    if let Some(size) = log.max_size {
        options.insert("max-size".into(), json!(size.to_string()));
    }
    if let Some(files) = log.max_file {
        options.insert("max-file".into(), json!(files.to_string()));
    }
    Value::Object(options)
}

/// `State.Health`: what its monitor's checks found (`starting` before the first
/// result); absent without a check, as Docker omits it.
fn health(containers: &Containers<'_>, record: &ContainerRecord, config: &strata_containers::ContainerConfig) -> Value {
    if config.healthcheck.is_none() {
        return Value::Null;
    }
    let found = strata_containers::health::load(&containers.dir(&record.id));
    serde_json::to_value(found.unwrap_or_else(strata_containers::health::Health::starting)).unwrap_or(Value::Null)
}

/// Docker's `Mounts` of a container: its bind mounts, and its named and anonymous
/// volumes as Docker shows them (`Type` volume, the volume's `Name` and `Driver`).
pub fn mounts(config: &strata_containers::ContainerConfig) -> Value {
    let mount = |b: &strata_containers::Bind| match &b.volume {
        Some(name) => json!({
            "Type": "volume",
            "Name": name,
            "Source": b.source,
            "Destination": b.destination,
            "Driver": "local",
            "Mode": if b.readonly { "ro" } else { "" },
            "RW": !b.readonly,
            "Propagation": "",
        }),
        None => json!({
            "Type": "bind",
            "Source": b.source,
            "Destination": b.destination,
            "Mode": if b.readonly { "ro" } else { "" },
            "RW": !b.readonly,
            "Propagation": "rprivate",
        }),
    };
    Value::Array(config.binds.iter().map(mount).collect())
}

/// Docker's NetworkSettings: the first network's address at the top level, every
/// network under Networks, published ports under Ports. `running`: whether the
/// container's process lives (only a running container has addresses).
pub fn network_settings(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    config: &strata_containers::ContainerConfig,
    running: bool,
) -> Value {
    let state = if running {
        crate::networking::state(containers, &record.id).unwrap_or_default()
    } else {
        Default::default()
    };
    let mut networks = serde_json::Map::new();
    let mode_names = if config.networks().is_empty() {
        vec![config.network.clone()]
    } else {
        config.networks()
    };
    for name in mode_names {
        let e = state.endpoints.iter().find(|e| e.network == name);
        networks.insert(
            name.clone(),
            json!({
                "NetworkID": e.map(|e| e.network_id.clone()).unwrap_or_default(),
                "EndpointID": e.map(|e| strata_network::host_veth(&record.id, &e.network_id)).unwrap_or_default(),
                "Gateway": e.map(|e| e.gateway.clone()).unwrap_or_default(),
                "IPAddress": e.map(|e| e.ip.clone()).unwrap_or_default(),
                "IPPrefixLen": e.map(|e| e.prefix).unwrap_or(0),
                "MacAddress": e.map(|e| e.mac.clone()).unwrap_or_default(),
                "IPv6Gateway": e.map(|e| e.gateway6.clone()).unwrap_or_default(),
                "GlobalIPv6Address": e.map(|e| e.ip6.clone()).unwrap_or_default(),
                "GlobalIPv6PrefixLen": e.map_or(0, |e| e.prefix6),
                "IPAMConfig": ipam_config(config, &name),
                "Aliases": aliases(record, config, &name),
            }),
        );
    }
    let mut ports = serde_json::Map::new();
    for exposed in &config.exposed {
        ports.insert(exposed.clone(), Value::Null);
    }
    for p in &state.ports {
        let key = format!("{}/{}", p.container_port, p.protocol.as_str());
        let entry = json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()});
        match ports.get_mut(&key) {
            Some(Value::Array(list)) => list.push(entry),
            _ => {
                ports.insert(key, json!([entry]));
            }
        }
    }
    let first = state.endpoints.first();
    json!({
        "Bridge": "",
        "SandboxKey": if running && first.is_some() {
            crate::networking::netns_path(containers.store().root(), &record.id).display().to_string()
        } else {
            String::new()
        },
        "Ports": ports,
        "Gateway": first.map(|e| e.gateway.clone()).unwrap_or_default(),
        "IPAddress": first.map(|e| e.ip.clone()).unwrap_or_default(),
        "IPPrefixLen": first.map(|e| e.prefix).unwrap_or(0),
        "MacAddress": first.map(|e| e.mac.clone()).unwrap_or_default(),
        "IPv6Gateway": first.map(|e| e.gateway6.clone()).unwrap_or_default(),
        "GlobalIPv6Address": first.map(|e| e.ip6.clone()).unwrap_or_default(),
        "GlobalIPv6PrefixLen": first.map_or(0, |e| e.prefix6),
        "Networks": networks,
    })
}

/// The addresses asked for on a network (`--ip`, `--ip6`), as Docker's IPAMConfig.
/// An endpoint's Aliases as Docker shows them: on a user-defined network, the
/// `--network-alias`es, those of `network connect --alias` there, then the short ID;
/// elsewhere none (null).
fn aliases(record: &ContainerRecord, config: &strata_containers::ContainerConfig, network: &str) -> Value {
    if !strata_containers::is_user_network(network) {
        return Value::Null;
    }
    let mut out: Vec<String> = config.network_aliases.clone();
    out.extend(config.connect_aliases.get(network).into_iter().flatten().cloned());
    out.push(record.id[..12].to_string());
    let mut seen = std::collections::HashSet::new();
    out.retain(|a| seen.insert(a.clone()));
    json!(out)
}

fn ipam_config(config: &strata_containers::ContainerConfig, network: &str) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(ip) = config.static_ips.get(network) {
        out.insert("IPv4Address".into(), Value::from(ip.clone()));
    }
    if let Some(ip) = config.static_ips6.get(network) {
        out.insert("IPv6Address".into(), Value::from(ip.clone()));
    }
    let first = config.networks().first().is_some_and(|n| n == network);
    if first && !config.link_local_ips.is_empty() {
        out.insert("LinkLocalIPs".into(), json!(config.link_local_ips));
    }
    if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    }
}

/// HostConfig.PortBindings: what `-p` asked for (an empty HostPort is "any").
fn port_bindings(config: &strata_containers::ContainerConfig) -> Value {
    let mut out = serde_json::Map::new();
    for b in &config.ports {
        let entry = json!({
            "HostIp": b.host_ip,
            "HostPort": match (b.host_port, b.host_port_last) {
                (0, _) => String::new(),
                (first, 0) => first.to_string(),
                (first, last) => format!("{first}-{last}"),
            },
        });
        match out.get_mut(&b.key()) {
            Some(Value::Array(list)) => list.push(entry),
            _ => {
                out.insert(b.key(), json!([entry]));
            }
        }
    }
    Value::Object(out)
}
