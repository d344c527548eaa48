//! `info`: what this engine and machine are, under Docker's field names (the
//! Engine API's `/info`), for the CLI to print or template.

use crate::error::Result;
use serde_json::{json, Value};
use strata_containers::Containers;

/// The engine's view of the machine and of its root.
pub fn info(containers: &Containers<'_>) -> Result<Value> {
    let store = containers.store();
    let usage = store.disk_usage()?;
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    let records = containers.list()?;
    for record in &records {
        if !crate::lifecycle::is_running(containers, record) {
            stopped += 1;
        } else if crate::cgroups::Cgroup::of(record).is_frozen() {
            paused += 1;
        } else {
            running += 1;
        }
    }
    let uname = rustix::system::uname();
    let mut runtimes = serde_json::Map::new();
    runtimes.insert("strata".into(), json!({"path": std::env::current_exe().ok()}));
    if let Ok(runc) = strata_host_programs::RUNC.find() {
        runtimes.insert("runc".into(), json!({"path": runc}));
    }
    let mut info = json!({
        "ID": "",
        "Containers": records.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": usage.images,
        "Layers": usage.layers,
        "Driver": store.snapshots().driver().as_str(),
        "DriverStatus": [
            ["Backing Filesystem", store.backing_filesystem()],
            ["Supports d_type", "true"],
        ],
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": crate::cgroups::version_number().to_string(),
        "KernelVersion": kernel_version(),
        "OperatingSystem": operating_system(),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": memory_total(),
        "Name": uname.nodename().to_string_lossy(),
        "DockerRootDir": store.root(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "SchemaVersion": store.schema_version()?,
        "Runtimes": runtimes,
        "DefaultRuntime": "strata",
    });
    if let (Value::Object(info), Value::Object(fixed)) = (&mut info, settled()) {
        info.extend(fixed);
    }
    info["Warnings"] = json!(store.backing_filesystem_warnings());
    Ok(info)
}

/// The fields that only say what strata is and does, the same on every machine.
fn settled() -> Value {
    json!({
        "LoggingDriver": "json-file",
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "null"],
            "Authorization": null,
            "Log": ["json-file"],
        },
        // What strata's runtime applies (`-m`, `--cpus`, `--pids-limit`, the bridge's
        // forwarding); the rest it does not offer, and Docker's clients warn about that.
        "MemoryLimit": true,
        "SwapLimit": false,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": false,
        "CPUSet": false,
        "PidsLimit": true,
        "OomKillDisable": false,
        "IPv4Forwarding": true,
        "BridgeNfIptables": false,
        "BridgeNfIp6tables": false,
        "Debug": false,
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "IndexServerAddress": "https://index.docker.io/v1/",
        "ExperimentalBuild": false,
        // Containers outlive any strata process (each has its own monitor).
        "LiveRestoreEnabled": true,
        "Labels": [],
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": ""},
        "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""},
        // No swarm mode: every swarm endpoint answers "not a swarm manager".
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": false,
            "Error": "",
            "RemoteManagers": null,
        },
    })
}

/// The running kernel's release (`uname -r`).
pub fn kernel_version() -> String {
    rustix::system::uname().release().to_string_lossy().into_owned()
}

/// PRETTY_NAME from os-release, as Docker shows it.
fn operating_system() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// MemTotal in bytes.
pub(crate) fn memory_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}
