//! `stats`: a running container's resource use, read from the groups its init is in
//! (strata's or runc's, v1 or v2) and from its network namespace; CPU is a rate, so
//! it takes two samples. Besides the CLI's columns, a sample keeps the counters the
//! Engine API's stats document has ([`Detail`]).

use crate::cgroups::groups_of;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
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
    pub detail: Detail,
}

/// The rest of a reading, as Docker's stats document has it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detail {
    /// CPU time in user and kernel mode, nanoseconds.
    pub cpu_user_ns: u64,
    pub cpu_system_ns: u64,
    /// CPU time per CPU, nanoseconds (cgroup v1 only).
    pub cpu_per_cpu_ns: Vec<u64>,
    /// The whole machine's CPU time so far (`/proc/stat`), nanoseconds: Docker's
    /// `system_cpu_usage`, against which the CPU share is reckoned.
    pub system_cpu_ns: u64,
    pub online_cpus: u64,
    pub throttling: Throttling,
    /// Memory in use, page cache included (`memory.usage_in_bytes`, `memory.current`).
    pub memory_usage: u64,
    /// `memory.stat`, every key.
    pub memory_stat: BTreeMap<String, u64>,
    pub pids_limit: Option<u64>,
    /// Per interface of the network namespace, loopback left out.
    pub networks: BTreeMap<String, Interface>,
    /// Bytes per device and operation (v1 `Read`/`Write`/…, v2 `read`/`write`).
    pub block_io: Vec<BlockIo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
}

/// `/proc/net/dev` counters of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockIo {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
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
    Watch::open(containers, record)?.sample()
}

/// A running container's process, held by a pidfd, so its counters can be read again
/// and again without the store (a stats stream) until it ends.
pub struct Watch {
    pid: i32,
    pidfd: OwnedFd,
}

impl Watch {
    /// `None` if the container does not run.
    pub fn open(containers: &Containers<'_>, record: &ContainerRecord) -> Option<Watch> {
        let pid = record.pid? as i32;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid)?,
            rustix::process::PidfdFlags::empty(),
        )
        .ok()?;
        // Checked after the pidfd is open: it is then of the container's own process.
        crate::lifecycle::is_running(containers, record).then_some(Watch { pid, pidfd })
    }

    /// Whether the container's process has ended.
    pub fn ended(&self) -> bool {
        let mut fds = [nix::poll::PollFd::new(self.pidfd.as_fd(), nix::poll::PollFlags::POLLIN)];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).is_ok_and(|n| n > 0)
    }

    /// The counters now; `None` once the process has ended.
    pub fn sample(&self) -> Option<Sample> {
        let sample = read_counters(self.pid);
        (!self.ended()).then_some(sample)
    }
}

fn read_counters(pid: i32) -> Sample {
    let groups = groups_of(pid);
    let group = |controller: &str| -> Option<PathBuf> {
        groups
            .iter()
            .find(|(c, _)| c.split(',').any(|x| x == controller))
            .map(|(_, d)| d.clone())
    };
    let unified = group("").filter(|d| d.join("cgroup.controllers").exists());
    let at = Instant::now();
    let networks = interfaces(pid);
    let net_rx = networks.values().map(|i| i.rx_bytes).sum();
    let net_tx = networks.values().map(|i| i.tx_bytes).sum();
    let machine = crate::info::memory_total();
    let mut detail = Detail {
        system_cpu_ns: system_cpu_ns(),
        online_cpus: online_cpus(),
        networks,
        ..Default::default()
    };
    match unified.filter(|d| d.join("memory.current").exists()) {
        Some(dir) => {
            let memory = number(&dir.join("memory.current"));
            let limit = number(&dir.join("memory.max"));
            let (block_read, block_write) = io_stat(&dir.join("io.stat"));
            let cpu = key_values(&dir.join("cpu.stat"));
            detail.cpu_user_ns = cpu.get("user_usec").copied().unwrap_or(0) * 1000;
            detail.cpu_system_ns = cpu.get("system_usec").copied().unwrap_or(0) * 1000;
            detail.throttling = Throttling {
                periods: cpu.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
                throttled_ns: cpu.get("throttled_usec").copied().unwrap_or(0) * 1000,
            };
            detail.memory_usage = memory;
            detail.memory_stat = key_values(&dir.join("memory.stat"));
            detail.pids_limit = limit_of(&dir.join("pids.max"));
            detail.block_io = io_stat_entries(&dir.join("io.stat"));
            Sample {
                at,
                cpu_ns: cpu.get("usage_usec").copied().unwrap_or(0) * 1000,
                memory: memory.saturating_sub(keyed(&dir.join("memory.stat"), "inactive_file")),
                memory_limit: if limit == 0 { machine } else { limit.min(machine) },
                pids: number(&dir.join("pids.current")),
                net_rx,
                net_tx,
                block_read,
                block_write,
                detail,
            }
        }
        None => {
            let memory_dir = group("memory");
            let limit = memory_dir
                .as_ref()
                .map_or(0, |d| number(&d.join("memory.limit_in_bytes")));
            let blkio_file = group("blkio").map(|d| d.join("blkio.throttle.io_service_bytes"));
            let (block_read, block_write) = blkio_file.as_deref().map(blkio).unwrap_or((0, 0));
            let usage = memory_dir
                .as_ref()
                .map_or(0, |d| number(&d.join("memory.usage_in_bytes")));
            if let Some(d) = group("cpuacct") {
                let ticks = key_values(&d.join("cpuacct.stat"));
                let tick_ns = 1_000_000_000 / clock_ticks();
                detail.cpu_user_ns = ticks.get("user").copied().unwrap_or(0) * tick_ns;
                detail.cpu_system_ns = ticks.get("system").copied().unwrap_or(0) * tick_ns;
                detail.cpu_per_cpu_ns = std::fs::read_to_string(d.join("cpuacct.usage_percpu"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect();
            }
            if let Some(d) = group("cpu") {
                let cpu = key_values(&d.join("cpu.stat"));
                detail.throttling = Throttling {
                    periods: cpu.get("nr_periods").copied().unwrap_or(0),
                    throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
                    throttled_ns: cpu.get("throttled_time").copied().unwrap_or(0),
                };
            }
            detail.memory_usage = usage;
            detail.memory_stat = memory_dir
                .as_ref()
                .map(|d| key_values(&d.join("memory.stat")))
                .unwrap_or_default();
            detail.pids_limit = group("pids").and_then(|d| limit_of(&d.join("pids.max")));
            detail.block_io = blkio_file.as_deref().map(blkio_entries).unwrap_or_default();
            Sample {
                at,
                cpu_ns: group("cpuacct").map_or(0, |d| number(&d.join("cpuacct.usage"))),
                memory: usage.saturating_sub(detail.memory_stat.get("total_inactive_file").copied().unwrap_or(0)),
                memory_limit: if limit == 0 { machine } else { limit.min(machine) },
                pids: group("pids").map_or(0, |d| number(&d.join("pids.current"))),
                net_rx,
                net_tx,
                block_read,
                block_write,
                detail,
            }
        }
    }
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

/// The counters of the interfaces of the process's network namespace, loopback left
/// out.
fn interfaces(pid: i32) -> BTreeMap<String, Interface> {
    parse_net_dev(&std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default())
}

fn parse_net_dev(text: &str) -> BTreeMap<String, Interface> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = counters.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        if f.len() >= 12 {
            let interface = Interface {
                rx_bytes: f[0],
                rx_packets: f[1],
                rx_errors: f[2],
                rx_dropped: f[3],
                tx_bytes: f[8],
                tx_packets: f[9],
                tx_errors: f[10],
                tx_dropped: f[11],
            };
            out.insert(name.to_string(), interface);
        }
    }
    out
}

/// Every `key value` line of a file (memory.stat, cpu.stat, cpuacct.stat).
fn key_values(path: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A limit file's number; `max` (none) is `None`.
fn limit_of(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// v1 `MAJ:MIN Op N` lines, one entry each (the `Total` lines without a device left out).
fn blkio_entries(path: &Path) -> Vec<BlockIo> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [device, op, n] = words[..] else {
                return None;
            };
            let (major, minor) = device.split_once(':')?;
            Some(BlockIo {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: n.parse().ok()?,
            })
        })
        .collect()
}

/// v2 io.stat as Docker shows it: `read` and `write` bytes per device.
fn io_stat_entries(path: &Path) -> Vec<BlockIo> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for field in fields {
            let entry = |op: &str, n: &str| BlockIo {
                major,
                minor,
                op: op.to_string(),
                value: n.parse().unwrap_or(0),
            };
            if let Some(n) = field.strip_prefix("rbytes=") {
                out.push(entry("read", n));
            } else if let Some(n) = field.strip_prefix("wbytes=") {
                out.push(entry("write", n));
            }
        }
    }
    out
}

/// The machine's CPU time so far as Docker reckons it: the first seven fields of
/// `/proc/stat`'s `cpu` line (user to softirq), in nanoseconds.
fn system_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    system_cpu_ticks(&text) * (1_000_000_000 / clock_ticks())
}

fn system_cpu_ticks(proc_stat: &str) -> u64 {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("cpu "))
        .map(|fields| {
            fields
                .split_whitespace()
                .take(7)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

fn online_cpus() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1) as u64
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
        let all = key_values(&dir.path().join("memory.stat"));
        assert_eq!((all["cache"], all.len()), (10, 3));
        let entries = blkio_entries(&dir.path().join("blkio"));
        assert_eq!(entries.len(), 4, "the device-less Total line is left out");
        assert_eq!(
            (
                entries[1].major,
                entries[1].minor,
                entries[1].op.as_str(),
                entries[1].value
            ),
            (8, 0, "Write", 512)
        );
        let v2 = io_stat_entries(&dir.path().join("io.stat"));
        assert_eq!(v2.len(), 4);
        assert_eq!((v2[3].minor, v2[3].op.as_str(), v2[3].value), (16, "write", 2));
        assert_eq!(
            system_cpu_ticks("cpu  10 1 5 100 2 0 3 7 0 0\ncpu0 1 1 1 1 1 1 1\n"),
            121
        );
        let dev = "Inter-|   Receive\n face |bytes    packets errs drop fifo frame compressed multicast|bytes\n\
                       lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n\
                     eth0: 2000 20 1 2 0 0 0 0 3000 30 3 4 0 0 0 0\n";
        let interfaces = parse_net_dev(dev);
        assert_eq!(interfaces.keys().collect::<Vec<_>>(), ["eth0"]);
        assert_eq!((interfaces["eth0"].rx_packets, interfaces["eth0"].tx_dropped), (20, 4));
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
            detail: Detail::default(),
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
