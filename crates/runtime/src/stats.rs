//! `stats`: a running container's resource use, read from the groups its init is in
//! (strata's or runc's, v1 or v2) and from its network namespace; CPU is a rate, so
//! it takes two samples.

use crate::cgroups::groups_of;
use std::path::{Path, PathBuf};
use std::time::Instant;
use strata_containers::{ContainerRecord, Containers};

/// One reading of a container's counters.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    /// CPU time used so far, in nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use without the reclaimable page cache (Docker's figure), and the limit
    /// (the machine's memory when there is none).
    pub memory: u64,
    pub memory_limit: u64,
    pub pids: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
}

/// Two samples made into Docker's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Of one CPU: 150.0 is one and a half CPUs busy, as Docker counts.
    pub cpu_percent: f64,
    pub memory: u64,
    pub memory_limit: u64,
    pub memory_percent: f64,
    pub pids: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
}

/// Reads the counters of a running container; `None` if it does not run.
pub fn sample(containers: &Containers<'_>, record: &ContainerRecord) -> Option<Sample> {
    if !crate::lifecycle::is_running(containers, record) {
        return None;
    }
    let pid = record.pid? as i32;
    let groups = groups_of(pid);
    let group = |controller: &str| -> Option<PathBuf> {
        groups
            .iter()
            .find(|(c, _)| c.split(',').any(|x| x == controller))
            .map(|(_, d)| d.clone())
    };
    let unified = group("").filter(|d| d.join("cgroup.controllers").exists());
    let at = Instant::now();
    let (net_rx, net_tx) = network_bytes(pid);
    let machine = crate::info::memory_total();
    let sample = match unified.filter(|d| d.join("memory.current").exists()) {
        Some(dir) => {
            let memory = number(&dir.join("memory.current"));
            let limit = number(&dir.join("memory.max"));
            let (block_read, block_write) = io_stat(&dir.join("io.stat"));
            Sample {
                at,
                cpu_ns: keyed(&dir.join("cpu.stat"), "usage_usec") * 1000,
                memory: memory.saturating_sub(keyed(&dir.join("memory.stat"), "inactive_file")),
                memory_limit: if limit == 0 { machine } else { limit.min(machine) },
                pids: number(&dir.join("pids.current")),
                net_rx,
                net_tx,
                block_read,
                block_write,
            }
        }
        None => {
            let memory_dir = group("memory");
            let limit = memory_dir
                .as_ref()
                .map_or(0, |d| number(&d.join("memory.limit_in_bytes")));
            let (block_read, block_write) = group("blkio")
                .map(|d| blkio(&d.join("blkio.throttle.io_service_bytes")))
                .unwrap_or((0, 0));
            Sample {
                at,
                cpu_ns: group("cpuacct").map_or(0, |d| number(&d.join("cpuacct.usage"))),
                memory: memory_dir.as_ref().map_or(0, |d| {
                    number(&d.join("memory.usage_in_bytes"))
                        .saturating_sub(keyed(&d.join("memory.stat"), "total_inactive_file"))
                }),
                memory_limit: if limit == 0 { machine } else { limit.min(machine) },
                pids: group("pids").map_or(0, |d| number(&d.join("pids.current"))),
                net_rx,
                net_tx,
                block_read,
                block_write,
            }
        }
    };
    Some(sample)
}

/// The columns from two samples of the same container, `before` first.
pub fn usage(before: &Sample, after: &Sample) -> Usage {
    let wall = after.at.saturating_duration_since(before.at).as_nanos() as f64;
    let cpu = after.cpu_ns.saturating_sub(before.cpu_ns) as f64;
    Usage {
        cpu_percent: if wall > 0.0 { cpu / wall * 100.0 } else { 0.0 },
        memory: after.memory,
        memory_limit: after.memory_limit,
        memory_percent: if after.memory_limit > 0 {
            after.memory as f64 / after.memory_limit as f64 * 100.0
        } else {
            0.0
        },
        pids: after.pids,
        net_rx: after.net_rx,
        net_tx: after.net_tx,
        block_read: after.block_read,
        block_write: after.block_write,
    }
}

fn number(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// `key value` lines (memory.stat, cpu.stat).
fn keyed(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

/// v1 `MAJ:MIN Read N` / `MAJ:MIN Write N` lines, summed over devices.
fn blkio(path: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut totals = (0, 0);
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, op, n] = words[..] {
            let n: u64 = n.parse().unwrap_or(0);
            match op {
                "Read" => totals.0 += n,
                "Write" => totals.1 += n,
                _ => {}
            }
        }
    }
    totals
}

/// v2 io.stat: `MAJ:MIN rbytes=N wbytes=N ...`, summed over devices.
fn io_stat(path: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut totals = (0, 0);
    for field in text.split_whitespace() {
        if let Some(n) = field.strip_prefix("rbytes=") {
            totals.0 += n.parse().unwrap_or(0);
        } else if let Some(n) = field.strip_prefix("wbytes=") {
            totals.1 += n.parse().unwrap_or(0);
        }
    }
    totals
}

/// Bytes received and sent by the interfaces of the process's network namespace,
/// loopback left out.
fn network_bytes(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    let mut totals = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        if fields.len() >= 9 {
            totals.0 += fields[0];
            totals.1 += fields[8];
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_files_are_read_in_their_formats() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "blkio",
            "8:0 Read 4096\n8:0 Write 512\n8:16 Read 4096\n8:0 Total 4608\nTotal 8704\n",
        );
        write(
            "io.stat",
            "8:0 rbytes=100 wbytes=20 rios=1 wios=1\n8:16 rbytes=1 wbytes=2\n",
        );
        write("cpu.stat", "usage_usec 1500\nuser_usec 1000\n");
        write("memory.stat", "cache 10\ntotal_inactive_file 300\ninactive_file 7\n");
        assert_eq!(blkio(&dir.path().join("blkio")), (8192, 512));
        assert_eq!(io_stat(&dir.path().join("io.stat")), (101, 22));
        assert_eq!(keyed(&dir.path().join("cpu.stat"), "usage_usec"), 1500);
        assert_eq!(keyed(&dir.path().join("memory.stat"), "total_inactive_file"), 300);
        assert_eq!(keyed(&dir.path().join("memory.stat"), "inactive_file"), 7);
    }

    #[test]
    fn cpu_is_a_rate_between_two_samples() {
        let at = Instant::now();
        let before = Sample {
            at,
            cpu_ns: 1_000_000_000,
            memory: 0,
            memory_limit: 1000,
            pids: 1,
            net_rx: 0,
            net_tx: 0,
            block_read: 0,
            block_write: 0,
        };
        let after = Sample {
            at: at + std::time::Duration::from_millis(500),
            cpu_ns: 1_750_000_000,
            memory: 250,
            ..before.clone()
        };
        let u = usage(&before, &after);
        assert!((u.cpu_percent - 150.0).abs() < 1e-9, "{u:?}");
        assert!((u.memory_percent - 25.0).abs() < 1e-9);
    }
}
