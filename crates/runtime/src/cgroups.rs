//! Control groups for containers: resource limits (`--memory`, `--cpus`,
//! `--pids-limit`), device access deny-by-default (v1 `devices.allow`, v2 an eBPF
//! program, see `devices`), and freezing (`pause`). cgroup v2 when
//! the unified hierarchy is the only one; otherwise v1, one directory per controller
//! (this machine is hybrid v1). Each container's group is `strata/<id>`.

use crate::error::{Result, RuntimeError};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

/// v2's files for the settings beyond memory, CPUs and pids (shares as weights, as
/// runc converts them; swap as what is beyond memory).
fn more_v2(dir: &Path, limits: &Limits) -> Result<()> {
    let more = &limits.more;
    if more.oom_kill_disable {
        return Err(RuntimeError::Unsupported(
            "--oom-kill-disable needs cgroup v1: cgroup v2 has no switch for the OOM killer".into(),
        ));
    }
    if let Some(swap) = more.memory_swap {
        let beyond = match (swap, limits.memory_bytes) {
            (-1, _) => "max".to_string(),
            (s, Some(m)) => (s - m).max(0).to_string(),
            (s, None) => s.to_string(),
        };
        write(dir.join("memory.swap.max"), &beyond)?;
    }
    if let Some(r) = more.memory_reservation {
        write(dir.join("memory.low"), &r.to_string())?;
    }
    if let Some(shares) = more.cpu_shares {
        let weight = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
        write(dir.join("cpu.weight"), &weight.to_string())?;
    }
    if more.cpu_quota.is_some() || more.cpu_period.is_some() {
        let quota = more.cpu_quota.map_or("max".to_string(), |q| q.to_string());
        write(
            dir.join("cpu.max"),
            &format!("{quota} {}", more.cpu_period.unwrap_or(100_000)),
        )?;
    }
    if let Some(cpus) = &more.cpuset_cpus {
        write(dir.join("cpuset.cpus"), cpus)?;
    }
    if let Some(mems) = &more.cpuset_mems {
        write(dir.join("cpuset.mems"), mems)?;
    }
    if more.memory_swappiness.is_some() {
        return Err(RuntimeError::Unsupported(
            "--memory-swappiness needs cgroup v1: cgroup v2 has no per-group swappiness".into(),
        ));
    }
    if more.cpu_rt_runtime.is_some() || more.cpu_rt_period.is_some() {
        return Err(RuntimeError::Unsupported(
            "--cpu-rt-period and --cpu-rt-runtime need cgroup v1: cgroup v2 has no real-time group budgets".into(),
        ));
    }
    // io.max: one line a device, its rates by key.
    for ((flag, list), key) in more.throttles().into_iter().zip(["rbps", "wbps", "riops", "wiops"]) {
        for d in list {
            let (major, minor) = strata_containers::resources::block_device_numbers(flag, &d.path)
                .map_err(|e| RuntimeError::Unsupported(e.to_string()))?;
            write(dir.join("io.max"), &format!("{major}:{minor} {key}={}", d.rate))?;
        }
    }
    Ok(())
}

/// A cpuset file of `dir`, its parent's value where it is empty.
fn inherit(dir: &Path, file: &str) -> Result<()> {
    let current = fs::read_to_string(dir.join(file)).unwrap_or_default();
    if !current.trim().is_empty() {
        return Ok(());
    }
    let parent = dir
        .parent()
        .map(|p| p.join(file))
        .and_then(|p| fs::read_to_string(p).ok())
        .unwrap_or_default();
    write(dir.join(file), parent.trim())
}

fn no_swap_accounting(e: RuntimeError) -> RuntimeError {
    RuntimeError::Unsupported(format!(
        "--memory-swap needs the kernel's swap accounting (memory.memsw.limit_in_bytes): {e}; \
         boot with swapaccount=1 or leave --memory-swap unset"
    ))
}

/// The limits a container asked for.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub memory_bytes: Option<i64>,
    /// CPUs as Docker's `--cpus` (1.5 = one and a half CPUs).
    pub cpus: Option<f64>,
    pub pids: Option<i64>,
    /// `--privileged`: every device, no filter.
    pub all_devices: bool,
    /// Swap, reservation, OOM killer, CPU shares/quota/period/set.
    #[serde(default)]
    pub more: strata_containers::resources::Resources,
    /// `--device` rules beside the default ones (`c 10:229 rw`).
    #[serde(default)]
    pub device_rules: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// The cgroup version containers are placed under: 1 (hybrid or legacy) or 2.
pub fn version_number() -> u8 {
    match version() {
        Version::V1 => 1,
        Version::V2 => 2,
    }
}

fn version() -> Version {
    if Path::new(ROOT).join("cgroup.controllers").exists() {
        Version::V2
    } else {
        Version::V1
    }
}

/// A container's control groups.
#[derive(Debug, Clone)]
pub struct Cgroup {
    id: String,
    /// The group the container's is made in, from each hierarchy's root.
    parent: PathBuf,
    version: Version,
}

/// Where strata makes containers' groups unless `--cgroup-parent` says otherwise.
const DEFAULT_PARENT: &str = "strata";

fn write(path: PathBuf, value: &str) -> Result<()> {
    fs::write(&path, value).map_err(|e| RuntimeError::io(format!("writing {value:?} to {}", path.display()), e))
}

impl Cgroup {
    /// The groups of a container made under `parent` (`--cgroup-parent`), or strata's.
    pub fn new(id: &str, parent: Option<&str>) -> Self {
        Cgroup {
            id: id.to_string(),
            parent: PathBuf::from(parent.map_or(DEFAULT_PARENT, |p| p.trim_matches('/'))),
            version: version(),
        }
    }

    /// The groups of the container of `record`, where its configuration put them.
    pub fn of(record: &strata_containers::ContainerRecord) -> Self {
        // Only the parent is read of the stored configuration.
        #[derive(serde::Deserialize, Default)]
        struct Stored {
            #[serde(default)]
            resources: Placement,
        }
        #[derive(serde::Deserialize, Default)]
        struct Placement {
            #[serde(default)]
            cgroup_parent: Option<String>,
        }
        let stored: Stored = serde_json::from_str(&record.config).unwrap_or_default();
        Cgroup::new(&record.id, stored.resources.cgroup_parent.as_deref())
    }

    fn dir(&self, controller: &str) -> PathBuf {
        match self.version {
            Version::V1 => Path::new(ROOT).join(controller).join(&self.parent).join(&self.id),
            Version::V2 => Path::new(ROOT).join(&self.parent).join(&self.id),
        }
    }

    /// The container's group and the groups above it to the root, top first.
    fn chain(&self, controller: &str) -> Vec<PathBuf> {
        let dir = self.dir(controller);
        let mut chain: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|d| d.starts_with(ROOT) && *d != Path::new(ROOT).join(controller))
            .map(Path::to_path_buf)
            .collect();
        chain.reverse();
        chain
    }

    fn controllers(&self) -> Vec<&'static str> {
        match self.version {
            // cpuacct and blkio only measure (`stats`): used where mounted. Where cpu and
            // cpuacct share a hierarchy, both names lead to the same group.
            Version::V1 => ["memory", "cpu", "pids", "freezer", "devices"]
                .into_iter()
                .chain(
                    ["cpuacct", "blkio", "cpuset"]
                        .into_iter()
                        .filter(|c| Path::new(ROOT).join(c).is_dir()),
                )
                .collect(),
            Version::V2 => vec![""],
        }
    }

    /// v1's files for the settings beyond memory, CPUs and pids. A cpuset group starts
    /// empty: it gets its parent's CPUs and memory nodes (or the ones asked for) before
    /// any process can join it.
    fn more_v1(&self, more: &strata_containers::resources::Resources) -> Result<()> {
        if self.controllers().contains(&"cpuset") {
            let cpuset = self.dir("cpuset");
            for dir in self.chain("cpuset") {
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    inherit(&dir, file)?;
                }
            }
            if let Some(cpus) = &more.cpuset_cpus {
                write(cpuset.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = &more.cpuset_mems {
                write(cpuset.join("cpuset.mems"), mems)?;
            }
        }
        if let Some(s) = more.memory_swappiness {
            write(self.dir("memory").join("memory.swappiness"), &s.to_string())?;
        }
        self.block_io_v1(more)?;
        self.real_time_v1(more)?;
        let memory = self.dir("memory");
        if let Some(swap) = more.memory_swap {
            write(memory.join("memory.memsw.limit_in_bytes"), &swap.to_string()).map_err(no_swap_accounting)?;
        }
        if let Some(r) = more.memory_reservation {
            write(memory.join("memory.soft_limit_in_bytes"), &r.to_string())?;
        }
        if more.oom_kill_disable {
            write(memory.join("memory.oom_control"), "1")?;
        }
        let cpu = self.dir("cpu");
        if let Some(shares) = more.cpu_shares {
            write(cpu.join("cpu.shares"), &shares.to_string())?;
        }
        if let Some(period) = more.cpu_period {
            write(cpu.join("cpu.cfs_period_us"), &period.to_string())?;
        }
        if let Some(quota) = more.cpu_quota {
            write(cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
        }
        Ok(())
    }

    /// `--cpu-rt-period` and `--cpu-rt-runtime`: a group's real-time budget must fit in
    /// its parent's, so each group above the container's (below the root, which holds
    /// the machine's) is given the container's runtime more; [`Cgroup::remove`] takes
    /// it back.
    fn real_time_v1(&self, more: &strata_containers::resources::Resources) -> Result<()> {
        let cpu = self.dir("cpu");
        if let Some(period) = more.cpu_rt_period {
            write(cpu.join("cpu.rt_period_us"), &period.to_string())?;
        }
        let Some(runtime) = more.cpu_rt_runtime.filter(|r| *r > 0) else {
            return Ok(());
        };
        let chain = self.chain("cpu");
        let (own, above) = chain.split_last().expect("the chain holds the container's group");
        for group in above {
            let file = group.join("cpu.rt_runtime_us");
            let current: i64 = fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            write(file, &(current + runtime).to_string()).map_err(|e| {
                RuntimeError::Unsupported(format!(
                    "--cpu-rt-runtime {runtime}: the machine's real-time budget (cpu.rt_runtime_us of \
                     the root group) cannot give {} that much more ({e}); ask for less",
                    group.display()
                ))
            })?;
        }
        write(own.join("cpu.rt_runtime_us"), &runtime.to_string())
    }

    /// Gives the container's real-time budget back to the groups above it, once its
    /// own group is gone (a parent's budget cannot go below its children's).
    fn release_real_time(&self, runtime: i64) {
        let chain = self.chain("cpu");
        let Some((_, above)) = chain.split_last() else { return };
        for group in above.iter().rev() {
            let file = group.join("cpu.rt_runtime_us");
            if let Some(current) = fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
            {
                let _ = fs::write(&file, (current - runtime).max(0).to_string());
            }
        }
    }

    /// `--blkio-weight*` and the `--device-*-bps|iops` rate limits.
    fn block_io_v1(&self, more: &strata_containers::resources::Resources) -> Result<()> {
        let blkio = self.dir("blkio");
        let numbers = |flag: &str, path: &str| {
            strata_containers::resources::block_device_numbers(flag, path)
                .map_err(|e| RuntimeError::Unsupported(e.to_string()))
        };
        // CFQ's files, or BFQ's where that scheduler runs.
        let weight_file = if blkio.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        if let Some(w) = more.blkio_weight {
            write(blkio.join(weight_file), &w.to_string())?;
        }
        for d in &more.blkio_weight_device {
            let (major, minor) = numbers("--blkio-weight-device", &d.path)?;
            write(
                blkio.join(format!("{weight_file}_device")),
                &format!("{major}:{minor} {}", d.weight),
            )?;
        }
        let files = [
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device",
        ];
        for ((flag, list), file) in more.throttles().into_iter().zip(files) {
            for d in list {
                let (major, minor) = numbers(flag, &d.path)?;
                write(blkio.join(file), &format!("{major}:{minor} {}", d.rate))?;
            }
        }
        Ok(())
    }

    /// Creates the groups and applies `limits` and the device rules.
    pub fn create(&self, limits: &Limits) -> Result<()> {
        if self.version == Version::V2 {
            // Let the groups down to the container's use the controllers.
            let _ = fs::write(Path::new(ROOT).join("cgroup.subtree_control"), "+memory +cpu +pids");
            for parent in self.chain("").iter().rev().skip(1).rev() {
                fs::create_dir_all(parent)
                    .map_err(|e| RuntimeError::io(format!("creating {}", parent.display()), e))?;
                let _ = fs::write(parent.join("cgroup.subtree_control"), "+memory +cpu +pids");
            }
        }
        for c in self.controllers() {
            let dir = self.dir(c);
            fs::create_dir_all(&dir).map_err(|e| RuntimeError::io(format!("creating cgroup {}", dir.display()), e))?;
        }
        self.apply(limits)?;
        match self.version {
            Version::V1 => {
                if limits.all_devices {
                    write(self.dir("devices").join("devices.allow"), "a")?;
                } else {
                    write(self.dir("devices").join("devices.deny"), "a")?;
                    for rule in crate::devices::ALLOWED
                        .iter()
                        .copied()
                        .chain(limits.device_rules.iter().map(String::as_str))
                    {
                        write(self.dir("devices").join("devices.allow"), rule)?;
                    }
                }
            }
            Version::V2 => {
                // Without a program attached, a v2 group filters no device.
                if !limits.all_devices {
                    let mut rules = crate::devices::default_rules();
                    for rule in &limits.device_rules {
                        rules.push(crate::devices::Rule::parse(rule)?);
                    }
                    crate::devices::attach(&self.dir(""), &rules)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the resource limits of existing groups: at their creation, and for
    /// `update` of a running container.
    pub fn apply(&self, limits: &Limits) -> Result<()> {
        match self.version {
            Version::V1 => {
                if let Some(m) = limits.memory_bytes {
                    let limit = self.dir("memory").join("memory.limit_in_bytes");
                    // A limit above the current memory+swap one is refused until that
                    // one is raised first (`update` raising both).
                    if write(limit.clone(), &m.to_string()).is_err() {
                        if let Some(swap) = limits.more.memory_swap {
                            write(
                                self.dir("memory").join("memory.memsw.limit_in_bytes"),
                                &swap.to_string(),
                            )?;
                        }
                        write(limit, &m.to_string())?;
                    }
                }
                if let Some(cpus) = limits.cpus {
                    write(self.dir("cpu").join("cpu.cfs_period_us"), "100000")?;
                    write(
                        self.dir("cpu").join("cpu.cfs_quota_us"),
                        &((cpus * 100_000.0) as i64).to_string(),
                    )?;
                }
                if let Some(p) = limits.pids {
                    write(self.dir("pids").join("pids.max"), &p.to_string())?;
                }
                self.more_v1(&limits.more)
            }
            Version::V2 => {
                let dir = self.dir("");
                if let Some(m) = limits.memory_bytes {
                    write(dir.join("memory.max"), &m.to_string())?;
                }
                if let Some(cpus) = limits.cpus {
                    write(dir.join("cpu.max"), &format!("{} 100000", (cpus * 100_000.0) as i64))?;
                }
                if let Some(p) = limits.pids {
                    write(dir.join("pids.max"), &p.to_string())?;
                }
                more_v2(&dir, limits)
            }
        }
    }

    /// Puts a process (the container's init, before it runs anything) in the groups.
    pub fn add(&self, pid: i32) -> Result<()> {
        for c in self.controllers() {
            write(self.dir(c).join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// `pause` (true) and `unpause` (false).
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        match self.version {
            Version::V1 => write(
                self.dir("freezer").join("freezer.state"),
                if frozen { "FROZEN" } else { "THAWED" },
            ),
            Version::V2 => write(self.dir("").join("cgroup.freeze"), if frozen { "1" } else { "0" }),
        }
    }

    pub fn is_frozen(&self) -> bool {
        match self.version {
            Version::V1 => {
                fs::read_to_string(self.dir("freezer").join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
            }
            Version::V2 => fs::read_to_string(self.dir("").join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1"),
        }
    }

    /// A limit file's value, for `inspect` and tests (`memory.limit_in_bytes`, …).
    pub fn read(&self, controller: &str, file: &str) -> Option<String> {
        let c = if self.version == Version::V2 { "" } else { controller };
        fs::read_to_string(self.dir(c).join(file))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// The PIDs (host view) of every process in the container.
    pub fn pids(&self) -> Vec<i32> {
        let c = if self.version == Version::V2 { "" } else { "pids" };
        fs::read_to_string(self.dir(c).join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Removes the groups (once their processes are gone). Missing groups are fine.
    pub fn remove(&self) {
        // The group's real-time budget is set to 0 before it goes: a removed group
        // goes offline later, and until then the parent's budget could not be lowered.
        let real_time = match self.version {
            Version::V1 => self
                .read("cpu", "cpu.rt_runtime_us")
                .and_then(|r| r.parse::<i64>().ok())
                .filter(|r| *r > 0 && fs::write(self.dir("cpu").join("cpu.rt_runtime_us"), "0").is_ok()),
            Version::V2 => None,
        };
        for c in self.controllers() {
            let removed = fs::remove_dir(self.dir(c)).is_ok();
            // Only the call whose rmdir took the cpu group gives its budget back: a
            // monitor and an `rm -f` may both be removing it.
            if removed && c == "cpu" {
                if let Some(runtime) = real_time {
                    self.release_real_time(runtime);
                }
            }
        }
    }
}

/// Where each of a process's groups is: (controllers, directory), from
/// /proc/PID/cgroup; the v2 group under the controllers "".
pub fn groups_of(pid: i32) -> Vec<(String, PathBuf)> {
    let Ok(table) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
    table
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let mount = match controllers {
                "" if version() == Version::V2 => PathBuf::from(ROOT),
                "" => Path::new(ROOT).join("unified"),
                named => Path::new(ROOT).join(named.trim_start_matches("name=")),
            };
            Some((controllers.to_string(), mount.join(path.trim_start_matches('/'))))
        })
        .collect()
}

/// Puts `pid` in every group `of` is in (an `exec` into a container whose groups
/// another runtime made, runc's). Hierarchies are found where they are mounted.
pub fn join_groups_of(of: i32, pid: i32) -> Result<()> {
    let groups = groups_of(of);
    if groups.is_empty() {
        return Err(RuntimeError::io(
            format!("reading the groups of process {of}"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    for (_, dir) in groups {
        let procs = dir.join("cgroup.procs");
        if procs.exists() {
            write(procs, &pid.to_string())?;
        }
    }
    Ok(())
}
