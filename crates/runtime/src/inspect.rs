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
    Ok(json!({
        "Id": record.id,
        "Created": record.created,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": record.state.as_str(),
            "Running": running,
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": if running { record.pid.unwrap_or(0) } else { 0 },
            "ExitCode": record.exit_code.unwrap_or(0),
            "Error": "",
            "StartedAt": record.started_at.clone().unwrap_or_else(|| zero.into()),
            "FinishedAt": record.finished_at.clone().unwrap_or_else(|| zero.into()),
        },
        "Image": record.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": log_path(containers, &record.id),
        "Name": format!("/{}", record.name),
        "RestartCount": crate::monitor::restart_count(containers, &record.id),
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": {
            "Binds": config.binds.iter().map(|b| format!("{}:{}{}", b.source, b.destination, if b.readonly { ":ro" } else { "" })).collect::<Vec<_>>(),
            "NetworkMode": config.network,
            "AutoRemove": config.auto_remove,
            "ReadonlyRootfs": config.read_only,
            "Runtime": "strata",
        },
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": lowers.join(":"),
                "UpperDir": active,
                "WorkDir": active.with_file_name("work"),
                "MergedDir": containers.rootfs(&record.id),
            },
        },
        "Mounts": config.binds.iter().map(|b| json!({
            "Type": "bind",
            "Source": b.source,
            "Destination": b.destination,
            "Mode": if b.readonly { "ro" } else { "" },
            "RW": !b.readonly,
            "Propagation": "rprivate",
        })).collect::<Vec<_>>(),
        "Config": {
            "Hostname": config.hostname,
            "Domainname": "",
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
        },
        "NetworkSettings": { "Networks": { config.network.clone(): {} } },
    }))
}
