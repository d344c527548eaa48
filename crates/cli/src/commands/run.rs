//! `strata run`, `create`, `start`

use crate::fork_launcher::ForkLauncher;
use crate::sig_proxy;
use crate::terminal::{self, Terminal};
use anyhow::Result;
use strata_containers::health::{self, Healthcheck};
use strata_containers::log_config::LogConfig;
use strata_containers::resources::{Resources, ThrottleDevice, Ulimit, WeightDevice};
use strata_containers::{Containers, CreateOptions};
use strata_images::ImageStore;
use strata_runtime::attach::Ended;
use strata_runtime::{lifecycle, monitor, RuntimeError};

#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help (-h is --hostname, as in Docker)
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables
    #[arg(short, long)]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    env_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Bind mount a volume (/host/path:/container/path[:ro])
    #[arg(short, long)]
    volume: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    read_only: bool,
    /// Memory limit (e.g. 64m, 1g, or bytes)
    #[arg(short, long)]
    memory: Option<String>,
    /// Number of CPUs (e.g. 1.5)
    #[arg(long)]
    cpus: Option<f64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    memory_reservation: Option<String>,
    /// Disable OOM Killer
    #[arg(long)]
    oom_kill_disable: bool,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long)]
    cpu_quota: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    cpu_period: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Size of /dev/shm
    #[arg(long)]
    shm_size: Option<String>,
    /// Ulimit options (NAME=SOFT[:HARD])
    #[arg(long)]
    ulimit: Vec<String>,
    /// Signal to stop the container
    #[arg(long)]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long, allow_hyphen_values = true)]
    stop_timeout: Option<i64>,
    /// Write the container ID to the file
    #[arg(long)]
    cidfile: Option<std::path::PathBuf>,
    /// Add additional groups to join
    #[arg(long)]
    group_add: Vec<String>,
    /// Set platform if server is multi-platform capable (this machine's only)
    #[arg(long)]
    platform: Option<String>,
    /// PID namespace to use (host)
    #[arg(long)]
    pid: Option<String>,
    /// IPC mode to use (private, shareable, host, container:NAME)
    #[arg(long)]
    ipc: Option<String>,
    /// Add a host device to the container (HOST[:CONTAINER[:PERMISSIONS]])
    #[arg(long)]
    device: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw])
    #[arg(long)]
    volumes_from: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    init: bool,
    /// Logging driver for the container (json-file or none)
    #[arg(long)]
    log_driver: Option<String>,
    /// Log driver options (max-size=SIZE, max-file=N)
    #[arg(long)]
    log_opt: Vec<String>,
    /// Security options (no-new-privileges, seccomp=unconfined|builtin|PROFILE.json)
    #[arg(long)]
    security_opt: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104) on a user-defined network
    #[arg(long)]
    ip: Option<String>,
    /// IPv6 address (e.g., fd12:3456:789a:1::10) on a user-defined network with IPv6
    #[arg(long)]
    ip6: Option<String>,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=,target=)
    #[arg(long)]
    mount: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    privileged: bool,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file")]
    label_file: Vec<std::path::PathBuf>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    cap_drop: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip, or host:host-gateway)
    #[arg(long = "add-host")]
    add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option")]
    dns_option: Vec<String>,
    /// Namespaced kernel parameters (KEY=VALUE)
    #[arg(long = "sysctl")]
    sysctl: Vec<String>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])
    #[arg(long)]
    restart: Option<String>,
    /// Mount a tmpfs directory (/path[:options])
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Runtime to use for this container: strata (default) or runc, given the same bundle
    #[arg(long)]
    runtime: Option<String>,
    /// Tune container pids limit (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Connect a container to a network (bridge, none, host or a network's name)
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto])
    #[arg(short, long)]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    expose: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long)]
    network_alias: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_parser = ["stdin", "stdout", "stderr"])]
    attach: Vec<String>,
    /// Container NIS domain name
    #[arg(long)]
    domainname: Option<String>,
    /// UTS namespace to use (host)
    #[arg(long)]
    uts: Option<String>,
    /// User namespace to use (host: strata has no remapping)
    #[arg(long)]
    userns: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long)]
    cgroupns: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    mac_address: Option<String>,
    /// Add link to another container (CONTAINER[:ALIAS])
    #[arg(long)]
    link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long)]
    link_local_ip: Vec<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_hyphen_values = true)]
    oom_score_adj: Option<i64>,
    /// Tune container memory swappiness (0 to 100, -1 for the host's)
    #[arg(long, allow_hyphen_values = true)]
    memory_swappiness: Option<i64>,
    /// Kernel memory limit (refused: Linux no longer has it)
    #[arg(long)]
    kernel_memory: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// Limit CPU real-time period in microseconds (refused)
    #[arg(long)]
    cpu_rt_period: Option<i64>,
    /// Limit CPU real-time runtime in microseconds (refused)
    #[arg(long)]
    cpu_rt_runtime: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000
    #[arg(long)]
    blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight, DEVICE:WEIGHT)
    #[arg(long)]
    blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device (DEVICE:RATE, e.g. /dev/vda:1mb)
    #[arg(long)]
    device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long)]
    device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long)]
    device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long)]
    device_write_iops: Vec<String>,
    /// Add a rule to the cgroup allowed devices list ('c 1:3 mr')
    #[arg(long)]
    device_cgroup_rule: Vec<String>,
    /// Optional parent cgroup for the container
    #[arg(long)]
    cgroup_parent: Option<String>,
    /// Storage driver options for the container (refused: no quota)
    #[arg(long)]
    storage_opt: Vec<String>,
    /// Container isolation technology (default only)
    #[arg(long)]
    isolation: Option<String>,
    /// Optional volume driver for the container (local only)
    #[arg(long)]
    volume_driver: Option<String>,
    /// GPU devices to add to the container (refused: no GPU support)
    #[arg(long)]
    gpus: Option<String>,
    /// Skip image verification (content trust is never enabled in strata)
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    disable_content_trust: bool,
    /// Command to run to check health
    #[arg(long)]
    health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 30s)
    #[arg(long)]
    health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 30s)
    #[arg(long)]
    health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long)]
    health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long)]
    health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 5s)
    #[arg(long)]
    health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    no_healthcheck: bool,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pull: String,
    /// The image, then the command and its arguments. One list, so that everything after
    /// the image is the command's, as Docker parses it (`run IMAGE sh -c …`: `-c` is not
    /// `--cpu-shares` there).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    invocation: Vec<String>,
}

/// `run`: `create`'s flags and the ones of a session that follows at once.
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    #[command(flatten)]
    create: CreateArgs,
    /// Run container in background and print container ID
    #[arg(short, long)]
    detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = strata_runtime::detach_keys::DEFAULT)]
    detach_keys: String,
    /// Proxy received signals to the process (without a terminal)
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
}

/// Non-empty, non-comment lines of the files named, each trimmed.
pub(crate) fn file_lines(files: &[std::path::PathBuf], what: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("reading {what} file {}: {e}", file.display()))?;
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    Ok(out)
}

impl CreateArgs {
    fn image(&self) -> &str {
        // clap requires one value at least.
        &self.invocation[0]
    }

    /// `--label-file` lines, then `--label`s (later ones win, as in Docker).
    fn labels(&self) -> Result<Vec<String>> {
        let mut labels = file_lines(&self.label_file, "label")?;
        labels.extend(self.label.iter().cloned());
        Ok(labels)
    }

    /// The library's options; `stdin_once`: an attached `run -i` hands its input over
    /// once (Docker's rule), a created container keeps it open.
    fn options(&self, stdin_once: bool) -> Result<CreateOptions> {
        let mut env = file_lines(&self.env_file, "env")?;
        env.extend(crate::caller_env::with_caller_values(&self.env));
        Ok(CreateOptions {
            image: self.image().to_string(),
            name: self.name.clone(),
            cmd: self.invocation[1..].to_vec(),
            entrypoint: self.entrypoint.clone().map(|e| vec![e]),
            env,
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            volumes: self.volume.clone(),
            read_only: self.read_only,
            network: self.network.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
            network_aliases: self.network_alias.clone(),
            auto_remove: self.rm,
            tty: self.tty,
            interactive: self.interactive,
            stdin_once: self.interactive && stdin_once,
            memory: self.memory.as_deref().map(crate::output::parse_size).transpose()?,
            nano_cpus: self.cpus.map(|c| (c * 1e9) as i64),
            pids_limit: self.pids_limit.filter(|p| *p > 0),
            tmpfs: self.tmpfs.clone(),
            runtime: self.runtime.clone(),
            restart: self.restart.clone(),
            security_opt: self.security_opt.clone(),
            sysctls: self.sysctl.clone(),
            ip: self.ip.clone(),
            ip6: self.ip6.clone(),
            extra_hosts: self.add_host.clone(),
            labels: self.labels()?,
            privileged: self.privileged,
            mounts: self.mount.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            merged_output: false,
            healthcheck: self.healthcheck()?,
            resources: self.resources()?,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            group_add: self.group_add.clone(),
            platform: self.platform.clone(),
            log: LogConfig::parse(self.log_driver.as_deref(), &self.log_options()?)?,
            init: self.init,
            pid_mode: self.pid.clone(),
            ipc_mode: self.ipc.clone(),
            volumes_from: self.volumes_from.clone(),
            devices: self.device.clone(),
            domainname: self.domainname.clone(),
            uts_mode: self.uts.clone(),
            userns_mode: self.userns.clone(),
            cgroupns_mode: self.cgroupns.clone(),
            oom_score_adj: self.oom_score_adj,
            mac_address: self.mac_address.clone(),
            links: self.link.clone(),
            refused: strata_containers::RefusedOptions {
                storage_opt: self.storage_opt.clone(),
                isolation: self.isolation.clone(),
                volume_driver: self.volume_driver.clone(),
                gpus: self.gpus.clone(),
            },
            link_local_ips: self.link_local_ip.clone(),
        })
    }

    /// `DEVICE:RATE` flags; `size`: rates with units (`1mb`), else plain numbers.
    fn throttles(specs: &[String], flag: &str, size: bool) -> Result<Vec<ThrottleDevice>> {
        specs
            .iter()
            .map(|spec| {
                let (path, rate) = spec
                    .rsplit_once(':')
                    .ok_or_else(|| anyhow::anyhow!("invalid {flag} {spec:?}: use DEVICE:RATE"))?;
                let rate = if size {
                    crate::output::parse_size(rate)?
                } else {
                    rate.parse()
                        .map_err(|_| anyhow::anyhow!("invalid {flag} {spec:?}: the rate is a number of operations"))?
                };
                let rate =
                    u64::try_from(rate).map_err(|_| anyhow::anyhow!("invalid {flag} {spec:?}: a negative rate"))?;
                Ok(ThrottleDevice {
                    path: path.to_string(),
                    rate,
                })
            })
            .collect()
    }

    fn weight_devices(&self) -> Result<Vec<WeightDevice>> {
        self.blkio_weight_device
            .iter()
            .map(|spec| {
                let (path, weight) = spec
                    .rsplit_once(':')
                    .and_then(|(p, w)| Some((p, w.parse().ok()?)))
                    .ok_or_else(|| anyhow::anyhow!("invalid --blkio-weight-device {spec:?}: use DEVICE:WEIGHT"))?;
                Ok(WeightDevice {
                    path: path.to_string(),
                    weight,
                })
            })
            .collect()
    }

    /// `--log-opt KEY=VALUE`s.
    fn log_options(&self) -> Result<Vec<(String, String)>> {
        self.log_opt
            .iter()
            .map(|o| match o.split_once('=') {
                Some((k, v)) => Ok((k.to_string(), v.to_string())),
                None => anyhow::bail!("invalid --log-opt {o:?}: use KEY=VALUE"),
            })
            .collect()
    }

    /// `--memory-swap`, `--cpu-*`, `--shm-size`, `--ulimit` and friends.
    fn resources(&self) -> Result<Resources> {
        let size = |flag: &Option<String>| flag.as_deref().map(crate::output::parse_size).transpose();
        Ok(Resources {
            memory_swap: match self.memory_swap.as_deref() {
                Some("-1") => Some(-1),
                other => other.map(crate::output::parse_size).transpose()?,
            },
            memory_reservation: size(&self.memory_reservation)?,
            oom_kill_disable: self.oom_kill_disable,
            cpu_shares: self.cpu_shares.filter(|s| *s != 0),
            cpu_quota: self.cpu_quota.filter(|q| *q != 0),
            cpu_period: self.cpu_period.filter(|p| *p != 0),
            cpuset_cpus: self.cpuset_cpus.clone(),
            shm_size: size(&self.shm_size)?,
            ulimits: self
                .ulimit
                .iter()
                .map(|u| Ulimit::parse(u))
                .collect::<std::result::Result<_, _>>()?,
            // -1 is Docker's "the host's".
            memory_swappiness: self.memory_swappiness.filter(|s| *s != -1),
            cpuset_mems: self.cpuset_mems.clone(),
            blkio_weight: self.blkio_weight.filter(|w| *w != 0),
            blkio_weight_device: self.weight_devices()?,
            device_read_bps: Self::throttles(&self.device_read_bps, "--device-read-bps", true)?,
            device_write_bps: Self::throttles(&self.device_write_bps, "--device-write-bps", true)?,
            device_read_iops: Self::throttles(&self.device_read_iops, "--device-read-iops", false)?,
            device_write_iops: Self::throttles(&self.device_write_iops, "--device-write-iops", false)?,
            device_cgroup_rules: self.device_cgroup_rule.clone(),
            cgroup_parent: self.cgroup_parent.clone().filter(|p| !p.is_empty()),
            kernel_memory: size(&self.kernel_memory)?,
            cpu_rt_period: self.cpu_rt_period.filter(|p| *p != 0),
            cpu_rt_runtime: self.cpu_rt_runtime.filter(|r| *r != 0),
        })
    }

    /// `--health-*` and `--no-healthcheck` as Docker's `Healthcheck` (unset fields
    /// inherit the image's).
    fn healthcheck(&self) -> Result<Option<Healthcheck>> {
        let nanos = |flag: &Option<String>| -> Result<i64> {
            Ok(match flag {
                Some(text) => health::parse_duration(text)?.as_nanos() as i64,
                None => 0,
            })
        };
        let given = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some()
            || self.health_start_interval.is_some();
        if self.no_healthcheck {
            if given {
                anyhow::bail!("--no-healthcheck conflicts with --health-* options");
            }
            return Ok(Some(Healthcheck {
                test: vec!["NONE".into()],
                ..Default::default()
            }));
        }
        if !given {
            return Ok(None);
        }
        Ok(Some(Healthcheck {
            test: self
                .health_cmd
                .iter()
                .flat_map(|cmd| ["CMD-SHELL".to_string(), cmd.clone()])
                .collect(),
            interval: nanos(&self.health_interval)?,
            timeout: nanos(&self.health_timeout)?,
            start_period: nanos(&self.health_start_period)?,
            start_interval: nanos(&self.health_start_interval)?,
            retries: self.health_retries.unwrap_or(0),
        }))
    }
}

#[derive(clap::Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = strata_runtime::detach_keys::DEFAULT)]
    detach_keys: String,
    containers: Vec<String>,
}

/// `--cidfile FILE`: refused when the file exists (another container's), as Docker's
/// client; written with the ID once the container exists.
struct CidFile<'a>(Option<&'a std::path::Path>);

impl<'a> CidFile<'a> {
    fn claim(path: Option<&'a std::path::Path>) -> Result<Self> {
        if let Some(p) = path.filter(|p| p.exists()) {
            anyhow::bail!(
                "Container ID file found, make sure the other container isn't running or delete {}",
                p.display()
            );
        }
        Ok(CidFile(path))
    }

    fn write(&self, id: &str) {
        if let Some(path) = self.0 {
            if let Err(e) = std::fs::write(path, id) {
                eprintln!("strata: writing the container ID file {}: {e}", path.display());
            }
        }
    }
}

/// Engine failures end the CLI with 125, start failures with 126/127, as Docker's.
fn exit_code(e: &RuntimeError) -> u8 {
    e.exit_code().clamp(1, 255) as u8
}

pub fn run(store: &ImageStore, run: RunArgs, launcher: &ForkLauncher) -> Result<u8> {
    let args = &run.create;
    if let Err(e) = super::registry::ensure_image(store, args.image(), &args.pull) {
        eprintln!("strata: Error: {}", crate::output::error_chain(&e));
        return Ok(125);
    }
    if !args.disable_content_trust {
        anyhow::bail!(
            "--disable-content-trust=false is not supported: strata cannot verify image signatures \
             (Docker Content Trust, Notary); leave it at true"
        );
    }
    if run.detach && !args.attach.is_empty() {
        anyhow::bail!("Conflicting options: -a and -d");
    }
    let containers = Containers::new(store);
    let options = args.options(!run.detach)?;
    let cidfile = CidFile::claim(args.cidfile.as_deref())?;
    let mut created = |record: &strata_containers::ContainerRecord| cidfile.write(&record.id);
    if run.detach {
        return match lifecycle::run_detached(&containers, &options, launcher, &mut created) {
            Ok(record) => {
                println!("{}", record.id);
                Ok(0)
            }
            Err(e) => {
                let code = exit_code(&e);
                eprintln!("strata: Error: {}", crate::output::error_chain(&anyhow::Error::from(e)));
                Ok(code)
            }
        };
    }
    let keys = strata_runtime::detach_keys::DetachKeys::parse(&run.detach_keys)?;
    let session = Session {
        tty: options.tty,
        interactive: options.interactive,
        sig_proxy: run.sig_proxy,
        streams: &args.attach,
    };
    let outcome = attached(&session, &keys, launcher, &mut created, &mut |how| {
        lifecycle::run_attached(&containers, &options, how)
            .map(|(_, end)| end)
            .map_err(Box::new)
    });
    match outcome {
        Ok(end) => Ok(terminal_status(end)),
        Err(e) => {
            let code = exit_code(&e);
            eprintln!(
                "strata: Error: {}",
                crate::output::error_chain(&anyhow::Error::from(*e))
            );
            Ok(code)
        }
    }
}

/// How an attached session runs: a terminal or not, input or not, signals forwarded or
/// not (`--sig-proxy`), and the streams attached (`-a`; none named: all).
struct Session<'a> {
    tty: bool,
    interactive: bool,
    sig_proxy: bool,
    streams: &'a [String],
}

impl Session<'_> {
    fn attaches(&self, stream: &str) -> bool {
        self.streams.is_empty() || self.streams.iter().any(|s| s == stream)
    }
}

/// An attached `run` or `start -a` from this command line: its monitor forked from
/// here, this command's stdio as the session's (raw on a terminal), and without a
/// terminal its signals forwarded to the container (Docker's sig-proxy).
fn attached(
    session: &Session<'_>,
    keys: &strata_runtime::detach_keys::DetachKeys,
    launcher: &ForkLauncher,
    created: &mut dyn FnMut(&strata_containers::ContainerRecord),
    go: &mut dyn FnMut(lifecycle::Attached<'_>) -> std::result::Result<Ended, Box<RuntimeError>>,
) -> std::result::Result<Ended, Box<RuntimeError>> {
    let proxy = (!session.tty && session.sig_proxy).then(sig_proxy::Proxy::install);
    let mut started = |pid: i32| {
        if let Some(p) = &proxy {
            p.set_target(pid);
        }
    };
    let mut terminal = Terminal::new(session.tty, session.interactive && session.attaches("stdin"));
    let mut window = terminal::resized;
    let (mut no_stdout, mut no_stderr) = (std::io::sink(), std::io::sink());
    let mut io = terminal.io(&mut window);
    if !session.attaches("stdin") {
        io.input = None;
    }
    if !session.attaches("stdout") {
        io.stdout = &mut no_stdout;
    }
    if !session.attaches("stderr") {
        io.stderr = &mut no_stderr;
    }
    go(lifecycle::Attached {
        launcher,
        io,
        keys,
        started: &mut started,
        created,
    })
}

/// `start -a`: attached to the container's monitor, as `run`.
fn start_attached(
    containers: &Containers<'_>,
    record: &strata_containers::ContainerRecord,
    args: &StartArgs,
    launcher: &ForkLauncher,
) -> std::result::Result<u8, Box<RuntimeError>> {
    let keys = strata_runtime::detach_keys::DetachKeys::parse(&args.detach_keys).map_err(Box::new)?;
    let config = containers.config(record).map_err(|e| Box::new(e.into()))?;
    let session = Session {
        tty: config.tty,
        interactive: args.interactive && config.interactive,
        sig_proxy: true,
        streams: &[],
    };
    attached(&session, &keys, launcher, &mut |_| {}, &mut |mut how| {
        if !args.interactive {
            how.io.input = None;
        }
        lifecycle::start_attached_to_monitor(containers, record, how).map_err(Box::new)
    })
    .map(terminal_status)
}

/// `run -it` / `start -ai`'s status: the container's, or 0 when the keys detached.
fn terminal_status(end: Ended) -> u8 {
    match end {
        Ended::Exited(code) => code.clamp(0, 255) as u8,
        Ended::Detached => 0,
    }
}

pub fn create(store: &ImageStore, args: CreateArgs) -> Result<u8> {
    super::registry::ensure_image(store, args.image(), &args.pull)?;
    let cidfile = CidFile::claim(args.cidfile.as_deref())?;
    let record = Containers::new(store).create(&args.options(false)?)?;
    cidfile.write(&record.id);
    println!("{}", record.id);
    Ok(0)
}

pub fn start(store: &ImageStore, args: StartArgs, launcher: &ForkLauncher) -> Result<u8> {
    let containers = Containers::new(store);
    let mut status = 0;
    for name in &args.containers {
        let record = containers.resolve(name)?;
        let outcome = if args.attach || args.interactive {
            start_attached(&containers, &record, &args, launcher)
        } else {
            monitor::spawn(&containers, &record, launcher)
                .map(|()| {
                    println!("{name}");
                    0
                })
                .map_err(Box::new)
        };
        match outcome {
            Ok(code) => status = code,
            Err(e) => {
                eprintln!("Error: {e}");
                status = exit_code(&e);
            }
        }
    }
    Ok(status)
}

#[derive(clap::Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    /// Accepted for compatibility (signals reach the container through the terminal)
    #[arg(long, default_value = "true")]
    sig_proxy: String,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = strata_runtime::detach_keys::DEFAULT)]
    detach_keys: String,
    container: String,
}

/// `attach`: the container's output here (and our input there) until it exits (its exit
/// code) or the detach keys are typed (1), as Docker's.
pub fn attach(store: &ImageStore, args: AttachArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    let keys = strata_runtime::detach_keys::DetachKeys::parse(&args.detach_keys)?;
    let config = containers.config(&record)?;
    let mut terminal = Terminal::new(config.tty, !args.no_stdin && config.interactive);
    let mut window = terminal::resized;
    let mut io = terminal.io(&mut window);
    if args.no_stdin {
        io.input = None;
    }
    match strata_runtime::attach::attach(&containers, &record, io, &keys) {
        Ok(Ended::Exited(code)) => Ok(code.clamp(0, 255) as u8),
        Ok(Ended::Detached) => {
            // Docker's words and status: the container goes on.
            eprintln!("read escape sequence");
            Ok(1)
        }
        Err(e) => {
            eprintln!("Error: {}", crate::output::error_chain(&anyhow::Error::from(e)));
            Ok(1)
        }
    }
}

/// The hidden `__monitor ID` command a detached container runs under.
pub fn monitor(store: &ImageStore, id: &str, exec: Option<&str>, attach_first: bool) -> Result<u8> {
    crate::fork_launcher::become_monitor()?;
    let job = exec.map_or(monitor::Job::Container, monitor::Job::Exec);
    let exe = std::env::current_exe()?;
    monitor::run_job(&Containers::new(store), id, job, attach_first, &monitor::Exec(&exe))?;
    Ok(0)
}
