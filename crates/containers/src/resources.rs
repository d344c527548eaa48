//! A container's resource settings beyond `--memory`, `--cpus` and `--pids-limit`:
//! swap and reservation, the OOM killer, CPU shares, quota, period and set, the size of
//! `/dev/shm`, and `--ulimit`s, checked at create as Docker checks them. The runtime
//! applies them (cgroups, the spec's rlimits and mounts).

use crate::error::{ContainerError, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// `--memory-swap`: memory plus swap, in bytes; -1 unlimited.
    #[serde(default)]
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`: the soft limit, in bytes.
    #[serde(default)]
    pub memory_reservation: Option<i64>,
    #[serde(default)]
    pub oom_kill_disable: bool,
    /// `--cpu-shares`: the relative weight (Docker's default 1024).
    #[serde(default)]
    pub cpu_shares: Option<i64>,
    /// `--cpu-quota` and `--cpu-period`, in microseconds.
    #[serde(default)]
    pub cpu_quota: Option<i64>,
    #[serde(default)]
    pub cpu_period: Option<i64>,
    /// `--cpuset-cpus`: `0-1`, `0,2`.
    #[serde(default)]
    pub cpuset_cpus: Option<String>,
    /// `--shm-size`: bytes of the container's `/dev/shm` (Docker's default 64 MiB).
    #[serde(default)]
    pub shm_size: Option<i64>,
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// `--memory-swappiness`: 0 to 100; unset, the host's.
    #[serde(default)]
    pub memory_swappiness: Option<i64>,
    /// `--cpuset-mems`: the memory nodes (`0`, `0-1`).
    #[serde(default)]
    pub cpuset_mems: Option<String>,
    /// `--blkio-weight` (10 to 1000) and `--blkio-weight-device PATH:WEIGHT`: only where
    /// the kernel's block I/O scheduler weighs groups.
    #[serde(default)]
    pub blkio_weight: Option<u16>,
    #[serde(default)]
    pub blkio_weight_device: Vec<WeightDevice>,
    /// `--device-read-bps`, `--device-write-bps` (bytes a second), `--device-read-iops`,
    /// `--device-write-iops` (operations a second) of one block device each.
    #[serde(default)]
    pub device_read_bps: Vec<ThrottleDevice>,
    #[serde(default)]
    pub device_write_bps: Vec<ThrottleDevice>,
    #[serde(default)]
    pub device_read_iops: Vec<ThrottleDevice>,
    #[serde(default)]
    pub device_write_iops: Vec<ThrottleDevice>,
    /// `--device-cgroup-rule 'c 42:* rmw'`: device cgroup rules beside the default ones.
    #[serde(default)]
    pub device_cgroup_rules: Vec<String>,
    /// `--cgroup-parent`: the group the container's own is made in (`strata` unless
    /// given), from the root of each hierarchy.
    #[serde(default)]
    pub cgroup_parent: Option<String>,
    /// `--kernel-memory`: kept only to be refused by name (Linux no longer has it).
    #[serde(default, skip_serializing)]
    pub kernel_memory: Option<i64>,
    /// `--cpu-rt-period` and `--cpu-rt-runtime`, in microseconds: a real-time budget.
    #[serde(default)]
    pub cpu_rt_period: Option<i64>,
    #[serde(default)]
    pub cpu_rt_runtime: Option<i64>,
}

/// A block device and a rate (Docker's `ThrottleDevice`: `{"Path","Rate"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// A block device and a weight (Docker's `WeightDevice`: `{"Path","Weight"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// A block device's numbers (`major:minor`), the way cgroup files name it.
pub fn block_device_numbers(flag: &str, path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path)
        .map_err(|e| ContainerError::Invalid(format!("{flag} {path}: cannot read the device: {e}")))?;
    if !meta.file_type().is_block_device() {
        return Err(ContainerError::Invalid(format!(
            "{flag} {path}: not a block device (name one such as /dev/vda)"
        )));
    }
    let rdev = meta.rdev();
    Ok((nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)))
}

/// Whether the block I/O controller weighs groups here (cgroup v1 with a scheduler that
/// has weights: CFQ's `blkio.weight` or BFQ's `blkio.bfq.weight`).
fn blkio_weights_supported() -> bool {
    let blkio = std::path::Path::new("/sys/fs/cgroup/blkio");
    blkio.join("blkio.weight").exists() || blkio.join("blkio.bfq.weight").exists()
}

/// `c 1:3 mr`, `b 8:* rw`, `a`: the device cgroup's rule syntax.
fn check_device_cgroup_rule(rule: &str) -> Result<()> {
    let invalid = || {
        ContainerError::Invalid(format!(
            "invalid --device-cgroup-rule {rule:?}: use TYPE MAJOR:MINOR ACCESS, such as 'c 1:3 mr' \
             (TYPE a, b or c; MAJOR and MINOR numbers or *; ACCESS of rwm)"
        ))
    };
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let number = |n: &str| n == "*" || n.parse::<u32>().is_ok();
    match parts.as_slice() {
        [kind, numbers, access] => {
            let (major, minor) = numbers.split_once(':').ok_or_else(invalid)?;
            let ok = matches!(*kind, "a" | "b" | "c")
                && number(major)
                && number(minor)
                && !access.is_empty()
                && access.chars().all(|c| "rwm".contains(c));
            ok.then_some(()).ok_or_else(invalid)
        }
        _ => Err(invalid()),
    }
}

/// `--cgroup-parent`: a path of plain names under each hierarchy's root.
fn check_cgroup_parent(parent: &str) -> Result<()> {
    let names: Vec<&str> = parent.trim_matches('/').split('/').collect();
    let plain = |n: &&str| !n.is_empty() && *n != "." && *n != ".." && !n.contains('\0');
    if names.iter().all(plain) {
        return Ok(());
    }
    Err(ContainerError::Invalid(format!(
        "invalid --cgroup-parent {parent:?}: name a group such as /mygroup or mygroup/sub (no . or .. parts)"
    )))
}

/// `--ulimit NAME=SOFT[:HARD]` (Docker's `Ulimits`: `{"Name","Soft","Hard"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// The resources `--ulimit` names, as Docker's (`RLIMIT_` + upper case).
pub const ULIMITS: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

impl Ulimit {
    /// `nofile=1024:2048`, `nproc=512` (the hard limit then is the soft one).
    pub fn parse(spec: &str) -> Result<Ulimit> {
        let invalid = |why: &str| ContainerError::Invalid(format!("invalid ulimit {spec:?}: {why}"));
        let (name, values) = spec.split_once('=').ok_or_else(|| invalid("use NAME=SOFT[:HARD]"))?;
        if !ULIMITS.contains(&name) {
            return Err(invalid(&format!(
                "unknown resource {name:?}; use one of {}",
                ULIMITS.join(", ")
            )));
        }
        let number = |v: &str| -> Result<i64> {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= -1)
                .ok_or_else(|| invalid(&format!("{v:?} is not a limit (a number, or -1 for unlimited)")))
        };
        let (soft, hard) = match values.split_once(':') {
            Some((s, h)) => (number(s)?, number(h)?),
            None => (number(values)?, number(values)?),
        };
        let unlimited = |n: i64| if n < 0 { u64::MAX } else { n as u64 };
        if unlimited(soft) > unlimited(hard) {
            return Err(invalid(&format!(
                "the soft limit {soft} is above the hard limit {hard}"
            )));
        }
        Ok(Ulimit {
            name: name.to_string(),
            soft,
            hard,
        })
    }
}

impl Ulimit {
    /// The kernel's resource of this limit.
    pub fn resource(&self) -> nix::sys::resource::Resource {
        use nix::sys::resource::Resource as R;
        match self.name.as_str() {
            "as" => R::RLIMIT_AS,
            "core" => R::RLIMIT_CORE,
            "cpu" => R::RLIMIT_CPU,
            "data" => R::RLIMIT_DATA,
            "fsize" => R::RLIMIT_FSIZE,
            "locks" => R::RLIMIT_LOCKS,
            "memlock" => R::RLIMIT_MEMLOCK,
            "msgqueue" => R::RLIMIT_MSGQUEUE,
            "nice" => R::RLIMIT_NICE,
            "nproc" => R::RLIMIT_NPROC,
            "rss" => R::RLIMIT_RSS,
            "rtprio" => R::RLIMIT_RTPRIO,
            "rttime" => R::RLIMIT_RTTIME,
            "sigpending" => R::RLIMIT_SIGPENDING,
            "stack" => R::RLIMIT_STACK,
            _ => R::RLIMIT_NOFILE,
        }
    }

    /// Above the machine's hard limit (this process's) a container cannot go: refused
    /// here rather than failing at start.
    fn check_against_machine(&self) -> Result<()> {
        let Ok((_, machine)) = nix::sys::resource::getrlimit(self.resource()) else {
            return Ok(());
        };
        let wanted = if self.hard < 0 { u64::MAX } else { self.hard as u64 };
        if wanted > machine {
            let shown = if machine == u64::MAX {
                "unlimited".to_string()
            } else {
                machine.to_string()
            };
            return Err(ContainerError::Invalid(format!(
                "--ulimit {}: the hard limit {} is above this machine's hard limit ({shown}); ask for at most {shown}",
                self.name,
                if self.hard < 0 {
                    "unlimited".to_string()
                } else {
                    self.hard.to_string()
                }
            )));
        }
        Ok(())
    }
}

impl Resources {
    /// Docker's checks, against the container's `--memory` and `--cpus` (nano CPUs).
    pub fn check(&self, memory: Option<i64>, nano_cpus: Option<i64>) -> Result<()> {
        let invalid = |why: String| Err(ContainerError::Invalid(why));
        for u in &self.ulimits {
            // An API client's list did not go through `Ulimit::parse`.
            let spec = format!("{}={}:{}", u.name, u.soft, u.hard);
            Ulimit::parse(&spec)?;
            u.check_against_machine()?;
        }
        if let Some(swap) = self.memory_swap.filter(|s| *s != -1) {
            match memory {
                None => return invalid("--memory-swap needs --memory: set the memory limit too".into()),
                Some(m) if swap < m => {
                    return invalid(format!(
                        "--memory-swap ({swap}) must be at least --memory ({m}): it counts memory and swap together"
                    ))
                }
                _ => {}
            }
        }
        if let (Some(r), Some(m)) = (self.memory_reservation, memory) {
            if r > m {
                return invalid(format!("--memory-reservation ({r}) must be at most --memory ({m})"));
            }
        }
        if self.oom_kill_disable && memory.is_none() {
            // Docker only warns; a container without a limit and without the OOM killer
            // can take the host down, so strata asks for the limit.
            return invalid("--oom-kill-disable needs --memory: without a limit the host's memory runs out".into());
        }
        if self.cpu_shares.is_some_and(|s| s < 2) {
            return invalid("--cpu-shares must be at least 2".into());
        }
        if self.cpu_period.is_some_and(|p| !(1000..=1_000_000).contains(&p)) {
            return invalid("--cpu-period must be between 1000 and 1000000 microseconds".into());
        }
        if self.cpu_quota.is_some_and(|q| q < 1000) {
            return invalid("--cpu-quota must be at least 1000 microseconds".into());
        }
        if nano_cpus.is_some() && (self.cpu_quota.is_some() || self.cpu_period.is_some()) {
            return invalid("Conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set".into());
        }
        if let Some(set) = &self.cpuset_cpus {
            cpu_list(set)?;
        }
        if self.shm_size.is_some_and(|s| s <= 0) {
            return invalid("--shm-size must be more than 0".into());
        }
        self.check_more()
    }

    /// The cgroup settings beyond the common ones: swappiness, memory nodes, block I/O,
    /// device rules and the parent group; and the settings refused by name.
    fn check_more(&self) -> Result<()> {
        let invalid = |why: String| Err(ContainerError::Invalid(why));
        if self.kernel_memory.is_some() {
            return invalid(
                "--kernel-memory is not supported: Linux no longer limits a group's kernel memory \
                 on its own (deprecated in 5.4, a no-op since 6.1; Docker 23 dropped it too); \
                 --memory counts kernel memory already"
                    .into(),
            );
        }
        if self.cpu_rt_period.is_some_and(|p| !(1000..=1_000_000).contains(&p)) {
            return invalid("--cpu-rt-period must be between 1000 and 1000000 microseconds".into());
        }
        if let Some(runtime) = self.cpu_rt_runtime {
            let period = self.cpu_rt_period.unwrap_or(1_000_000);
            if runtime < 0 || runtime > period {
                return invalid(format!(
                    "--cpu-rt-runtime ({runtime}) must be between 0 and the period ({period} microseconds)"
                ));
            }
        }
        if self.memory_swappiness.is_some_and(|s| !(0..=100).contains(&s)) {
            return invalid("--memory-swappiness must be between 0 and 100 (or -1 for the host's)".into());
        }
        if let Some(mems) = &self.cpuset_mems {
            cpu_list(mems).map_err(|_| {
                ContainerError::Invalid(format!("invalid --cpuset-mems {mems:?}: use a list such as 0 or 0-1"))
            })?;
        }
        let weights = self.blkio_weight.is_some() || !self.blkio_weight_device.is_empty();
        if weights && !blkio_weights_supported() {
            return invalid(
                "--blkio-weight and --blkio-weight-device are not supported on this machine: its block \
                 I/O scheduler does not weigh groups (no blkio.weight or blkio.bfq.weight; the BFQ \
                 scheduler has them); limit rates with --device-read-bps and --device-write-bps instead"
                    .into(),
            );
        }
        for w in self
            .blkio_weight
            .iter()
            .chain(self.blkio_weight_device.iter().map(|d| &d.weight))
        {
            if !(10..=1000).contains(w) {
                return invalid(format!("blkio weight {w} is out of range: use 10 to 1000"));
            }
        }
        for d in &self.blkio_weight_device {
            block_device_numbers("--blkio-weight-device", &d.path)?;
        }
        for (flag, list) in self.throttles() {
            for d in list {
                block_device_numbers(flag, &d.path)?;
            }
        }
        for rule in &self.device_cgroup_rules {
            check_device_cgroup_rule(rule)?;
        }
        if let Some(parent) = &self.cgroup_parent {
            check_cgroup_parent(parent)?;
        }
        Ok(())
    }

    /// The rate limits with their flags and cgroup v1 files' names.
    pub fn throttles(&self) -> [(&'static str, &[ThrottleDevice]); 4] {
        [
            ("--device-read-bps", &self.device_read_bps),
            ("--device-write-bps", &self.device_write_bps),
            ("--device-read-iops", &self.device_read_iops),
            ("--device-write-iops", &self.device_write_iops),
        ]
    }
}

/// The CPUs of `0-2,4`.
pub fn cpu_list(text: &str) -> Result<Vec<u32>> {
    let invalid = || ContainerError::Invalid(format!("invalid --cpuset-cpus {text:?}: use a list such as 0-1 or 0,2"));
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let (from, to) = part.split_once('-').unwrap_or((part, part));
        let (from, to): (u32, u32) = (
            from.trim().parse().map_err(|_| invalid())?,
            to.trim().parse().map_err(|_| invalid())?,
        );
        if from > to {
            return Err(invalid());
        }
        cpus.extend(from..=to);
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_parse_as_dockers_flag() {
        let u = Ulimit::parse("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert_eq!(Ulimit::parse("nproc=512").unwrap().hard, 512);
        assert_eq!(Ulimit::parse("core=-1").unwrap().soft, -1);
        assert!(Ulimit::parse("nofile=2048:1024").is_err());
        assert!(Ulimit::parse("files=10")
            .unwrap_err()
            .to_string()
            .contains("unknown resource"));
        let (_, machine) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        if machine < u64::MAX / 2 {
            let above = Resources {
                ulimits: vec![Ulimit::parse(&format!("nofile={machine}:{}", machine + 1)).unwrap()],
                ..Default::default()
            };
            let e = above.check(None, None).unwrap_err().to_string();
            assert!(e.contains("above this machine's hard limit"), "{e}");
        }
    }

    #[test]
    fn settings_are_checked_as_docker_checks_them() {
        let mib = 1 << 20;
        let swap = Resources {
            memory_swap: Some(64 * mib),
            ..Default::default()
        };
        assert!(swap.check(None, None).is_err());
        assert!(swap.check(Some(128 * mib), None).is_err());
        assert!(swap.check(Some(32 * mib), None).is_ok());
        let quota = Resources {
            cpu_quota: Some(50_000),
            ..Default::default()
        };
        assert!(quota
            .check(None, Some(1_000_000_000))
            .unwrap_err()
            .to_string()
            .contains("Conflicting"));
        assert!(quota.check(None, None).is_ok());
        assert_eq!(cpu_list("0-2,4").unwrap(), [0, 1, 2, 4]);
        assert!(cpu_list("2-1").is_err());
    }
}
