//! A container's configuration: the image's defaults merged with the user's options,
//! by Docker's rules.

use crate::error::{ContainerError, Result};
use crate::namespaces;
use serde::{Deserialize, Serialize};
pub use strata_network::ports::PortBinding;

/// A host path (or named volume, later) bound into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub source: String,
    pub destination: String,
    pub readonly: bool,
    /// The volume behind `source`, for named and anonymous volumes.
    #[serde(default)]
    pub volume: Option<String>,
}

impl Bind {
    /// `-v /host:/ctr[:ro|rw]`, `-v name:/ctr[:ro|rw]` (a named volume) or `-v /ctr` (an
    /// anonymous volume). A volume's `source` is filled in when the container is created.
    pub fn parse(spec: &str) -> Result<Bind> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, destination, mode) = match parts.as_slice() {
            [d] => ("", *d, "rw"),
            [s, d] => (*s, *d, "rw"),
            [s, d, m] => (*s, *d, *m),
            _ => {
                return Err(ContainerError::Invalid(format!(
                    "invalid volume specification: {spec:?} (expected /host/path:/container/path[:ro])"
                )))
            }
        };
        if !destination.starts_with('/') {
            return Err(ContainerError::Invalid(format!(
                "invalid volume specification {spec:?}: the container path must be absolute"
            )));
        }
        let readonly = match mode {
            "ro" => true,
            "rw" => false,
            m => {
                return Err(ContainerError::Invalid(format!(
                    "invalid volume specification {spec:?}: unknown mode {m:?}"
                )))
            }
        };
        // A source that is no absolute path names a volume ("" for an anonymous one).
        let volume = (!source.starts_with('/')).then(|| source.to_string());
        let source = if volume.is_some() {
            String::new()
        } else {
            source.to_string()
        };
        Ok(Bind {
            source,
            destination: destination.into(),
            readonly,
            volume,
        })
    }
}

/// A `--mount`, as the `-v` or `--tmpfs` it amounts to.
enum Mount {
    Bind(Bind),
    Tmpfs(String),
}

impl Mount {
    /// Docker's `--mount` syntax: comma-separated `key=value` fields; `type` is
    /// `volume` by default; a bind's source must exist (unlike `-v`, which creates it).
    fn parse(spec: &str) -> Result<Mount> {
        let invalid = |why: String| ContainerError::Invalid(format!("invalid --mount {spec:?}: {why}"));
        let (mut kind, mut source, mut target, mut readonly) = ("volume", None, None, false);
        let mut tmpfs_options = Vec::new();
        for field in spec.split(',') {
            let (key, value) = field.split_once('=').unwrap_or((field, ""));
            match key {
                "type" => kind = value,
                "source" | "src" => source = Some(value),
                "target" | "destination" | "dst" => target = Some(value),
                "readonly" | "ro" => {
                    readonly = match value {
                        "" | "true" | "1" => true,
                        "false" | "0" => false,
                        other => return Err(invalid(format!("readonly={other} is neither true nor false"))),
                    }
                }
                "tmpfs-size" => tmpfs_options.push(format!("size={value}")),
                "tmpfs-mode" => tmpfs_options.push(format!("mode={value}")),
                // Accepted and without effect here, as on Docker for Linux.
                "consistency" | "bind-propagation" | "volume-nocopy" => {}
                other => return Err(invalid(format!("unknown field {other:?}"))),
            }
        }
        let target = target
            .filter(|t| t.starts_with('/'))
            .ok_or_else(|| invalid("target must be an absolute path".into()))?;
        let mode = if readonly { "ro" } else { "rw" };
        match kind {
            "bind" => {
                let source = source
                    .filter(|s| s.starts_with('/'))
                    .ok_or_else(|| invalid("a bind needs an absolute source path".into()))?;
                if !std::path::Path::new(source).exists() {
                    return Err(invalid(format!("bind source path does not exist: {source}")));
                }
                Ok(Mount::Bind(Bind::parse(&format!("{source}:{target}:{mode}"))?))
            }
            "volume" => match source.filter(|s| !s.is_empty()) {
                Some(name) if name.starts_with('/') => Err(invalid("a volume's source is a name, not a path".into())),
                Some(name) => Ok(Mount::Bind(Bind::parse(&format!("{name}:{target}:{mode}"))?)),
                None => {
                    let mut anonymous = Bind::parse(target)?;
                    anonymous.readonly = readonly;
                    Ok(Mount::Bind(anonymous))
                }
            },
            "tmpfs" if source.is_some() => Err(invalid("a tmpfs has no source".into())),
            "tmpfs" => Ok(Mount::Tmpfs(if tmpfs_options.is_empty() {
                target.to_string()
            } else {
                format!("{target}:{}", tmpfs_options.join(","))
            })),
            other => Err(invalid(format!("type {other:?} is not one of bind, volume, tmpfs"))),
        }
    }
}

/// What the user asked for (`create`/`run` flags).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    pub name: Option<String>,
    /// Arguments after the image name.
    pub cmd: Vec<String>,
    /// `--entrypoint` (one word) or the API's array; `[""]` or `[]` clears the image's.
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub volumes: Vec<String>,
    pub read_only: bool,
    /// `--network`: bridge (default), none, host or a network's name.
    pub network: Option<String>,
    /// `-p`: ports to publish.
    pub publish: Vec<String>,
    /// `-P`: publish every exposed port on a free host port.
    pub publish_all: bool,
    /// `--expose`: ports exposed beside the image's.
    pub expose: Vec<String>,
    /// `--network-alias`: more names on a user-defined network.
    pub network_aliases: Vec<String>,
    pub auto_remove: bool,
    pub tty: bool,
    pub interactive: bool,
    /// Docker's `StdinOnce`: the end of the attached client's input closes the
    /// container's stdin (an attached `run -i`); otherwise its stdin stays open for the
    /// next client.
    pub stdin_once: bool,
    /// `--memory` in bytes.
    pub memory: Option<i64>,
    /// `--cpus` in billionths of a CPU (Docker's NanoCpus).
    pub nano_cpus: Option<i64>,
    pub pids_limit: Option<i64>,
    /// `--tmpfs /path[:options]`.
    pub tmpfs: Vec<String>,
    /// `--runtime`: strata's own (default) or `runc`, given the same bundle.
    pub runtime: Option<String>,
    /// `--restart no|always|unless-stopped|on-failure[:N]` (detached containers).
    pub restart: Option<String>,
    /// `--security-opt`: `no-new-privileges[:true|false]` is supported.
    pub security_opt: Vec<String>,
    /// `--sysctl KEY=VALUE`: namespaced kernel parameters.
    pub sysctls: Vec<String>,
    /// `--ip`: the container's IPv4 address on its (user-defined) network.
    pub ip: Option<String>,
    /// `--ip6`: its IPv6 address there (a network created with `--ipv6`).
    pub ip6: Option<String>,
    /// `--add-host NAME:IP` (IP may be `host-gateway`).
    pub extra_hosts: Vec<String>,
    /// `--privileged`: every capability and host device, nothing masked.
    pub privileged: bool,
    /// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly]`.
    pub mounts: Vec<String>,
    /// `--label KEY=VALUE` (or `KEY`, an empty value), `--label-file` lines included.
    pub labels: Vec<String>,
    /// `--cap-add`, `--cap-drop`: capabilities by name (`NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`).
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `--dns`, `--dns-search`, `--dns-option`: the container's resolv.conf.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// stdout and stderr on one pipe, in the order written (a build's RUN step, whose
    /// output is one stream).
    pub merged_output: bool,
    /// `--health-*` / `--no-healthcheck` (the API's `Healthcheck`), over the image's.
    pub healthcheck: Option<crate::health::Healthcheck>,
    /// Swap, reservation, OOM killer, CPU shares/quota/period/set, `/dev/shm`, ulimits.
    pub resources: crate::resources::Resources,
    /// `--stop-signal`, over the image's STOPSIGNAL.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL unless told otherwise.
    pub stop_timeout: Option<i64>,
    /// `--group-add`: groups (names in the container's /etc/group, or numbers) beside
    /// the user's.
    pub group_add: Vec<String>,
    /// `--platform`: this machine's (`linux`, `linux/ARCH`); any other is refused.
    pub platform: Option<String>,
    /// `--log-driver` and `--log-opt`, parsed.
    pub log: crate::log_config::LogConfig,
    /// `--init`: strata's init runs as PID 1, the command as its child.
    pub init: bool,
    /// `--pid host` (the host's PID namespace); empty: its own.
    pub pid_mode: Option<String>,
    /// `--ipc host|private|shareable|container:NAME`; empty: its own (`private`).
    pub ipc_mode: Option<String>,
    /// `--volumes-from CONTAINER[:ro|rw]`: that container's volumes and binds.
    pub volumes_from: Vec<String>,
    /// `--device HOST[:CONTAINER[:PERMISSIONS]]`.
    pub devices: Vec<String>,
    /// `--domainname`: the container's NIS domain name.
    pub domainname: Option<String>,
    /// `--uts`, `--userns`, `--cgroupns`: `host` (and `private` for the cgroup's).
    pub uts_mode: Option<String>,
    pub userns_mode: Option<String>,
    pub cgroupns_mode: Option<String>,
    /// `--oom-score-adj`: -1000 (never killed first) to 1000.
    pub oom_score_adj: Option<i64>,
    /// `--link CONTAINER[:ALIAS]`.
    pub links: Vec<String>,
    /// `--mac-address`: the container's MAC address on its first network.
    pub mac_address: Option<String>,
    /// `--link-local-ip`: more addresses on its first network (169.254.0.0/16, fe80::/10).
    pub link_local_ips: Vec<String>,
    /// Flags strata refuses, each with its reason (never dropped).
    pub refused: RefusedOptions,
}

/// Docker flags strata cannot honour here, kept so that a set one is refused by name
/// with its reason: `--storage-opt`, `--isolation`, `--volume-driver`, `--gpus`.
#[derive(Debug, Clone, Default)]
pub struct RefusedOptions {
    pub storage_opt: Vec<String>,
    pub isolation: Option<String>,
    pub volume_driver: Option<String>,
    pub gpus: Option<String>,
}

impl RefusedOptions {
    /// The first set option, refused with the reason; the defaults Docker's clients send
    /// (`--isolation default`, the `local` volume driver) pass.
    pub fn check(&self) -> Result<()> {
        let refuse = |why: &str| Err(ContainerError::Invalid(why.to_string()));
        if let Some(opt) = self.storage_opt.first() {
            return refuse(&format!(
                "--storage-opt {opt} is not supported by strata: its overlay snapshots have no \
                 per-container size quota (that needs overlay on XFS with project quotas)"
            ));
        }
        if let Some(i) = self.isolation.as_deref().filter(|i| !matches!(*i, "" | "default")) {
            return refuse(&format!(
                "--isolation {i} is not supported: isolation technologies are Windows'; Linux \
                 containers have only the default"
            ));
        }
        if let Some(d) = self.volume_driver.as_deref().filter(|d| !matches!(*d, "" | "local")) {
            return refuse(&format!(
                "--volume-driver {d} is not supported: strata has only the local volume driver \
                 (no volume plugins)"
            ));
        }
        if let Some(g) = &self.gpus {
            return refuse(&format!(
                "--gpus {g} is not supported by strata: it has no GPU device requests (no NVIDIA \
                 container toolkit hook); pass a device with --device instead"
            ));
        }
        Ok(())
    }
}

impl Link {
    /// `other` or `other:alias` (the alias is the name unless given).
    pub fn parse(spec: &str) -> Result<Link> {
        let (container, alias) = spec.split_once(':').unwrap_or((spec, spec));
        let container = container.trim_start_matches('/');
        if container.is_empty() || alias.is_empty() {
            return Err(ContainerError::Invalid(format!(
                "invalid --link {spec:?}: use CONTAINER[:ALIAS]"
            )));
        }
        Ok(Link {
            container: container.to_string(),
            alias: alias.to_string(),
        })
    }
}

/// `--link-local-ip`: an IPv4 address in 169.254.0.0/16 or an IPv6 one in fe80::/10.
fn check_link_local(text: &str) -> Result<String> {
    let link_local = match text.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_link_local(),
        Ok(std::net::IpAddr::V6(a)) => a.segments()[0] & 0xffc0 == 0xfe80,
        Err(_) => false,
    };
    match link_local {
        true => Ok(text.to_string()),
        false => Err(ContainerError::Invalid(format!(
            "invalid --link-local-ip {text:?}: give an address in 169.254.0.0/16 or fe80::/10"
        ))),
    }
}

/// A `--link`: the linked container's ID and the name it has here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub container: String,
    pub alias: String,
}

/// A host device given to the container (`--device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMapping {
    pub host: String,
    pub container: String,
    /// Of `rwm` (read, write, mknod), as the device cgroup takes them.
    pub permissions: String,
}

impl DeviceMapping {
    /// `/dev/fuse`, `/dev/fuse:/dev/f`, `/dev/fuse:/dev/f:r`, `/dev/fuse:r`.
    pub fn parse(spec: &str) -> Result<DeviceMapping> {
        let invalid = |why: &str| ContainerError::Invalid(format!("invalid --device {spec:?}: {why}"));
        let perms = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, container, permissions) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, p] if perms(p) => (*h, *h, *p),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] if perms(p) => (*h, *c, *p),
            [_, _, _] => return Err(invalid("permissions are letters of rwm")),
            _ => return Err(invalid("use HOST[:CONTAINER[:PERMISSIONS]]")),
        };
        if !host.starts_with('/') || !container.starts_with("/dev/") {
            return Err(invalid(
                "the host path must be absolute and the container path under /dev",
            ));
        }
        Ok(DeviceMapping {
            host: host.to_string(),
            container: container.to_string(),
            permissions: permissions.to_string(),
        })
    }
}

/// The resolved configuration a container runs with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub hostname: String,
    pub binds: Vec<Bind>,
    pub read_only: bool,
    pub network: String,
    pub auto_remove: bool,
    /// See [`CreateOptions::merged_output`].
    #[serde(default)]
    pub merged_output: bool,
    pub tty: bool,
    pub interactive: bool,
    /// See [`CreateOptions::stdin_once`].
    #[serde(default)]
    pub stdin_once: bool,
    pub volumes: Vec<String>,
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub nano_cpus: Option<i64>,
    #[serde(default)]
    pub pids_limit: Option<i64>,
    #[serde(default)]
    pub tmpfs: Vec<String>,
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default)]
    pub restart: Option<String>,
    #[serde(default)]
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=…`: `None` for the default profile, `unconfined`, or the
    /// profile's JSON (Docker's format), read from its file at create.
    #[serde(default)]
    pub seccomp: Option<String>,
    /// `--security-opt` as Docker shows it (HostConfig.SecurityOpt: a profile file's
    /// content inlined).
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// Networks joined beside the first one (`network connect`), in order.
    #[serde(default)]
    pub extra_networks: Vec<String>,
    #[serde(default)]
    pub ports: Vec<PortBinding>,
    /// Exposed ports (`80/tcp`): the image's and `--expose`.
    #[serde(default)]
    pub exposed: Vec<String>,
    #[serde(default)]
    pub publish_all: bool,
    #[serde(default)]
    pub network_aliases: Vec<String>,
    /// Every network was disconnected (`network` is `none` until one is connected).
    #[serde(default)]
    pub networks_disconnected: bool,
    /// Aliases given at `network connect --alias`, by network name.
    #[serde(default)]
    pub connect_aliases: std::collections::BTreeMap<String, Vec<String>>,
    /// Namespaced kernel parameters written when the container starts (HostConfig.Sysctls).
    #[serde(default)]
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// Addresses asked for (`--ip`, `network connect --ip`), by network as named there.
    #[serde(default)]
    pub static_ips: std::collections::BTreeMap<String, String>,
    /// IPv6 addresses asked for (`--ip6`, `network connect --ip6`), by network.
    #[serde(default)]
    pub static_ips6: std::collections::BTreeMap<String, String>,
    /// `--add-host` entries, `NAME:IP` (HostConfig.ExtraHosts).
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    /// The image's labels and the container's own (Config.Labels).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The check its monitor runs (the image's, under the user's): none when off.
    #[serde(default)]
    pub healthcheck: Option<crate::health::Healthcheck>,
    /// See [`CreateOptions::resources`].
    #[serde(default)]
    pub resources: crate::resources::Resources,
    /// See [`CreateOptions::stop_timeout`].
    #[serde(default)]
    pub stop_timeout: Option<i64>,
    /// See [`CreateOptions::group_add`].
    #[serde(default)]
    pub group_add: Vec<String>,
    /// See [`CreateOptions::log`].
    #[serde(default)]
    pub log: crate::log_config::LogConfig,
    /// See [`CreateOptions::init`].
    #[serde(default)]
    pub init: bool,
    /// See [`CreateOptions::pid_mode`].
    #[serde(default)]
    pub pid_mode: Option<String>,
    /// See [`CreateOptions::ipc_mode`].
    #[serde(default)]
    pub ipc_mode: Option<String>,
    /// See [`CreateOptions::devices`].
    #[serde(default)]
    pub devices: Vec<DeviceMapping>,
    /// See [`CreateOptions::domainname`].
    #[serde(default)]
    pub domainname: String,
    /// `--uts host`, `--cgroupns private`.
    #[serde(default)]
    pub namespaces: crate::namespaces::NamespaceModes,
    /// See [`CreateOptions::oom_score_adj`].
    #[serde(default)]
    pub oom_score_adj: Option<i64>,
    /// See [`CreateOptions::mac_address`] (lower case).
    #[serde(default)]
    pub mac_address: Option<String>,
    /// `--link-local-ip`s on the first network.
    #[serde(default)]
    pub link_local_ips: Vec<String>,
    /// `--link`s, resolved to the containers' IDs at create.
    #[serde(default)]
    pub links: Vec<Link>,
    /// Capabilities beside Docker's default set, and taken from it: `CAP_` names or `ALL`.
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
}

impl ContainerConfig {
    /// `--add-host` entries as (name, address), `host-gateway` resolved to `gateway`.
    pub fn extra_host_entries(&self, gateway: &str) -> Vec<(String, String)> {
        self.extra_hosts
            .iter()
            .filter_map(|h| h.split_once(':'))
            .map(|(name, ip)| {
                let ip = if ip == HOST_GATEWAY { gateway } else { ip };
                (name.to_string(), ip.to_string())
            })
            .collect()
    }
}

/// The `--add-host` address that stands for the host, as seen from the container.
pub const HOST_GATEWAY: &str = "host-gateway";

impl ContainerConfig {
    /// The networks the container joins, first one first; none for `none`, `host` and
    /// `container:NAME` (and the loopback-only `private` of older strata).
    pub fn networks(&self) -> Vec<String> {
        if matches!(self.network.as_str(), "none" | "host" | "private") || self.network_container().is_some() {
            return Vec::new();
        }
        let first = if self.network == "default" {
            "bridge"
        } else {
            self.network.as_str()
        };
        std::iter::once(first.to_string())
            .chain(self.extra_networks.iter().cloned())
            .collect()
    }

    /// `--network container:NAME`: the container whose network namespace this one joins.
    pub fn network_container(&self) -> Option<&str> {
        self.network.strip_prefix("container:")
    }

    /// Ports to publish at start: `-p` ones, and with `-P` every exposed port not
    /// already published, on a free host port.
    pub fn port_bindings(&self) -> Vec<PortBinding> {
        let mut out = self.ports.clone();
        if self.publish_all {
            for e in &self.exposed {
                let Ok((port, protocol)) = strata_network::ports::parse_exposed(e) else {
                    continue;
                };
                if !out.iter().any(|b| b.container_port == port && b.protocol == protocol) {
                    out.push(PortBinding {
                        host_ip: String::new(),
                        host_port: 0,
                        host_port_last: 0,
                        container_port: port,
                        protocol,
                    });
                }
            }
        }
        out
    }

    /// The process arguments: entrypoint then cmd.
    pub fn args(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn strings(v: &serde_json::Value, key: &str) -> Option<Vec<String>> {
    v.get(key)?
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
}

fn no_new_privileges(opts: &[String]) -> Result<bool> {
    let mut on = false;
    for o in opts {
        on = match o.as_str() {
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => true,
            "no-new-privileges:false" | "no-new-privileges=false" => false,
            _ if seccomp_value(o).is_some() => continue,
            other => {
                return Err(ContainerError::Invalid(format!(
                    "invalid --security-opt {other:?}: strata supports no-new-privileges[:true|false] \
                     and seccomp=unconfined|builtin|PROFILE.json"
                )))
            }
        };
    }
    Ok(on)
}

/// The value of a `seccomp=` (or Docker's older `seccomp:`) option.
fn seccomp_value(opt: &str) -> Option<&str> {
    opt.strip_prefix("seccomp=").or_else(|| opt.strip_prefix("seccomp:"))
}

/// `--security-opt seccomp=…` as Docker takes it: `unconfined`, `builtin` (the default
/// profile), or a profile file, read now (its compacted JSON is what the container
/// keeps, so a later start does not need the file; the Engine API's inline JSON is
/// taken as is). Returns the container's `seccomp` setting (`None`: the default
/// profile) and `--security-opt` as Docker shows it (HostConfig.SecurityOpt).
fn seccomp_profile(opts: &[String]) -> Result<(Option<String>, Vec<String>)> {
    let mut setting = None;
    let mut shown = Vec::new();
    for o in opts {
        let Some(value) = seccomp_value(o) else {
            shown.push(o.clone());
            continue;
        };
        let invalid = |why: String| ContainerError::Invalid(format!("invalid --security-opt {o:?}: {why}"));
        setting = match value {
            "" => return Err(invalid("no seccomp profile given".into())),
            "unconfined" => Some("unconfined".to_string()),
            "builtin" => None,
            path => {
                let text = if path.trim_start().starts_with('{') {
                    path.to_string()
                } else {
                    std::fs::read_to_string(path)
                        .map_err(|e| invalid(format!("opening seccomp profile ({path}) failed: {e}")))?
                };
                let json: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| invalid(format!("compacting json for seccomp profile ({path}) failed: {e}")))?;
                if !json.is_object() {
                    return Err(invalid(format!("seccomp profile ({path}) is not a JSON object")));
                }
                Some(json.to_string())
            }
        };
        shown.push(match &setting {
            Some(s) => format!("seccomp={s}"),
            None => "seccomp=builtin".to_string(),
        });
    }
    Ok((setting, shown))
}

/// `--restart`: Docker's policies; like Docker, not together with `--rm`.
fn check_restart(opts: &CreateOptions) -> Result<Option<String>> {
    let Some(policy) = opts.restart.as_deref().filter(|p| *p != "no") else {
        return Ok(None);
    };
    let valid = matches!(policy, "always" | "unless-stopped" | "on-failure")
        || policy
            .strip_prefix("on-failure:")
            .is_some_and(|n| n.parse::<u32>().is_ok());
    if !valid {
        return Err(ContainerError::Invalid(format!(
            "invalid restart policy {policy:?}: use no, always, unless-stopped or on-failure[:N]"
        )));
    }
    if opts.auto_remove {
        return Err(ContainerError::Invalid(
            "conflicting options: cannot specify both --restart and --rm".into(),
        ));
    }
    Ok(Some(policy.to_string()))
}

/// Mount flags a tmpfs takes, as Docker's `--tmpfs` allows them.
const TMPFS_FLAGS: [&str; 21] = [
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "mand",
    "noswap",
];

/// tmpfs's own `key=value` options (mount(8), tmpfs(5)).
const TMPFS_DATA: [&str; 8] = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "huge"];

/// `--tmpfs /path[:opt,opt]`: the path must be absolute, and the options tmpfs's own
/// (a `bind` or `rbind` would turn the tmpfs into a bind mount of the caller's directory).
fn check_tmpfs(spec: &str) -> Result<String> {
    let (path, options) = spec.split_once(':').unwrap_or((spec, ""));
    if !path.starts_with('/') {
        return Err(ContainerError::Invalid(format!(
            "invalid --tmpfs {spec:?}: the container path must be absolute"
        )));
    }
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let key = option.split_once('=').map_or(option, |(k, _)| k);
        let known = if option.contains('=') {
            TMPFS_DATA.contains(&key)
        } else {
            TMPFS_FLAGS.contains(&option)
        };
        if !known {
            return Err(ContainerError::Invalid(format!(
                "invalid --tmpfs {spec:?}: {option:?} is not a tmpfs option (tmpfs takes {} and {}=VALUE)",
                TMPFS_FLAGS.join(", "),
                TMPFS_DATA.join("=, ")
            )));
        }
    }
    Ok(spec.to_string())
}

/// The image's `StopSignal`, checked when the container is made: `stop` could not send
/// a signal it cannot name.
fn check_stop_signal(signal: &str) -> Result<String> {
    match crate::signal::parse(signal) {
        Some(_) => Ok(signal.to_string()),
        None => Err(ContainerError::Invalid(format!(
            "invalid stop signal {signal:?} in the image's config (STOPSIGNAL): \
             name a signal such as SIGTERM or give its number; rebuild or commit with --change 'STOPSIGNAL SIGTERM'"
        ))),
    }
}

/// The highest user or group ID a container may run as: 2^31-1, as runc allows. Above it
/// the kernel's IDs turn negative, and 4294967295 is -1, "leave unchanged" to
/// setuid/setgid: the process would stay root.
pub const MAX_ID: u32 = i32::MAX as u32;

/// `--user USER[:GROUP]`: numeric IDs must be within 0-MAX_ID (runc's rule).
fn check_user(spec: &str) -> Result<String> {
    for part in spec.split(':') {
        let numeric = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if numeric && part.parse::<u32>().map_or(true, |n| n > MAX_ID) {
            return Err(ContainerError::Invalid(format!(
                "invalid --user {spec:?}: user and group IDs must be in the range 0-{MAX_ID}"
            )));
        }
    }
    Ok(spec.to_string())
}

/// `--network container:NAME`: the other container's network is used as it is, so
/// whatever would shape this one's is refused, in Docker's words.
fn check_shared_network(opts: &CreateOptions, other: &str) -> Result<()> {
    if other.is_empty() {
        return Err(ContainerError::Invalid(
            "invalid network mode \"container:\": name the container whose network to join".into(),
        ));
    }
    let conflicts = [
        (opts.hostname.is_some(), "hostname"),
        (!opts.publish.is_empty() || opts.publish_all, "port publishing"),
        (!opts.expose.is_empty(), "port exposing"),
        (!opts.network_aliases.is_empty(), "network aliases"),
        (!opts.extra_hosts.is_empty(), "custom host-to-IP mapping"),
        (
            !opts.dns.is_empty() || !opts.dns_search.is_empty() || !opts.dns_options.is_empty(),
            "dns",
        ),
        (opts.sysctls.iter().any(|s| s.starts_with("net.")), "net.* sysctls"),
    ];
    match conflicts.iter().find(|(given, _)| *given) {
        Some((_, what)) => Err(ContainerError::Invalid(format!(
            "conflicting options: {what} and the network mode (container:{other})"
        ))),
        None => Ok(()),
    }
}

/// `--add-host NAME:IP`: a name and an address (or `host-gateway`).
fn check_extra_host(spec: &str) -> Result<String> {
    let invalid = |why: &str| ContainerError::Invalid(format!("invalid --add-host {spec:?}: {why}"));
    let (name, ip) = spec
        .split_once(':')
        .ok_or_else(|| invalid("expected NAME:IP, e.g. db:10.0.0.5 or host.docker.internal:host-gateway"))?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(invalid("the name is empty or has blanks"));
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip != HOST_GATEWAY && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(invalid(&format!("{ip:?} is not an IP address")));
    }
    Ok(format!("{name}:{ip}"))
}

/// The image's labels, then `--label KEY=VALUE` (or `KEY`) over them.
fn labels(image: &serde_json::Value, given: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out: std::collections::BTreeMap<String, String> = image
        .get("Labels")
        .and_then(|l| l.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    out.extend(parse_labels(given)?);
    Ok(out)
}

/// `--label KEY=VALUE` (or `KEY`, an empty value) options; a later one wins.
pub fn parse_labels(given: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for label in given {
        let (key, value) = label.split_once('=').unwrap_or((label.as_str(), ""));
        if key.is_empty() {
            return Err(ContainerError::Invalid(format!("invalid label {label:?}: empty name")));
        }
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// A capability as Docker accepts it (`net_admin`, `CAP_NET_ADMIN`, `ALL`), in the
/// spec's form (`CAP_NET_ADMIN`), or `ALL`.
pub fn capability(name: &str) -> Result<String> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    bare.parse::<oci_spec::runtime::Capability>()
        .map(|_| format!("CAP_{bare}"))
        .map_err(|_| ContainerError::Invalid(format!("unknown capability: {name:?}")))
}

/// `--dns IP`.
fn check_dns(ip: &str) -> Result<String> {
    ip.parse::<std::net::IpAddr>()
        .map(|a| a.to_string())
        .map_err(|_| ContainerError::Invalid(format!("invalid --dns {ip:?}: not an IP address")))
}

/// Whether `--network` names a user-defined network (not a mode or the default bridge):
/// only there are addresses and aliases the user's to choose.
/// Whether `network` is a user-defined network (not bridge, host, none or another
/// container's).
pub fn is_user_network(network: &str) -> bool {
    !matches!(network, "bridge" | "default" | "none" | "host" | "private") && !network.starts_with("container:")
}

/// `--ip ADDRESS`: IPv4, on a user-defined network only (Docker's rule: the default
/// bridge's addresses are the engine's to hand out).
pub fn static_ip(ip: &str, network: &str) -> Result<String> {
    let address: std::net::IpAddr = ip
        .parse()
        .map_err(|_| ContainerError::Invalid(format!("invalid IP address {ip:?}")))?;
    if address.is_ipv6() {
        return Err(ContainerError::Invalid(format!(
            "{ip} is an IPv6 address: give it with --ip6 (IPv4 with --ip)"
        )));
    }
    if !is_user_network(network) {
        return Err(ContainerError::Invalid(
            "user specified IP address is supported on user defined networks only".into(),
        ));
    }
    Ok(address.to_string())
}

/// `--ip6 ADDRESS`: IPv6, on a user-defined network only, as `--ip`. Whether the
/// network has IPv6 is checked when the container joins it.
pub fn static_ip6(ip: &str, network: &str) -> Result<String> {
    let address: std::net::Ipv6Addr =
        ip.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| {
            ContainerError::Invalid(format!("invalid IPv6 address {ip:?} (--ip6 takes IPv6, --ip IPv4)"))
        })?;
    if !is_user_network(network) {
        return Err(ContainerError::Invalid(
            "user specified IP address is supported on user defined networks only".into(),
        ));
    }
    Ok(address.to_string())
}

/// IPC-namespaced parameters a container may set (Docker's list); `fs.mqueue.*` and, in a
/// network namespace of its own, `net.*` too. Anything else would change the host.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// `--sysctl KEY=VALUE`, checked against what the container's namespaces own.
fn sysctls(specs: &[String], network: &str) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for spec in specs {
        let Some((key, value)) = spec.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(ContainerError::Invalid(format!(
                "invalid --sysctl {spec:?}: expected KEY=VALUE, e.g. net.ipv4.ip_forward=1"
            )));
        };
        let key = key.replace('/', ".");
        if key.split('.').any(|part| part.is_empty() || part == "..") {
            return Err(ContainerError::Invalid(format!(
                "invalid --sysctl {spec:?}: malformed name"
            )));
        }
        let namespaced =
            IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") || key.starts_with("net.");
        if !namespaced {
            return Err(ContainerError::Invalid(format!(
                "sysctl {key:?} is not allowed: it is not namespaced, so it would change the host \
                 (allowed: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*)"
            )));
        }
        if key.starts_with("net.") && network == "host" {
            return Err(ContainerError::Invalid(format!(
                "sysctl {key:?} is not allowed with --network host: it would change the host's network namespace"
            )));
        }
        out.insert(key, value.to_string());
    }
    Ok(out)
}

/// `--platform`: strata runs this machine's containers only, with no emulation.
pub fn check_platform(platform: Option<&str>) -> Result<()> {
    let Some(wanted) = platform.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let arch = strata_archive::image_archive::host_architecture();
    let here = format!("linux/{arch}");
    if wanted == "linux" || wanted == here {
        return Ok(());
    }
    Err(ContainerError::Invalid(format!(
        "--platform {wanted} is not supported: strata runs {here} containers only (no emulation)"
    )))
}

/// Merges image config (`config` object of the image config JSON) and options.
pub fn merge(image: &serde_json::Value, opts: &CreateOptions, id: &str) -> Result<ContainerConfig> {
    check_platform(opts.platform.as_deref())?;
    opts.refused.check()?;
    if let Some(mac) = opts
        .mac_address
        .as_deref()
        .filter(|m| strata_network::parse_mac(m).is_none())
    {
        return Err(ContainerError::Invalid(format!(
            "invalid --mac-address {mac:?}: give a unicast address such as 92:d0:c6:0a:29:33"
        )));
    }
    namespaces::check_userns_mode(opts.userns_mode.as_deref())?;
    let (entrypoint, cmd) = match &opts.entrypoint {
        // --entrypoint resets the image's CMD too (Docker's rule).
        Some(e) if e.iter().all(String::is_empty) => (Vec::new(), opts.cmd.clone()),
        Some(e) => (e.clone(), opts.cmd.clone()),
        None => {
            let entrypoint = strings(image, "Entrypoint").unwrap_or_default();
            let cmd = if opts.cmd.is_empty() {
                strings(image, "Cmd").unwrap_or_default()
            } else {
                opts.cmd.clone()
            };
            (entrypoint, cmd)
        }
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(ContainerError::Invalid(
            "no command specified: the image has no CMD or ENTRYPOINT; give one after the image name".into(),
        ));
    }
    let mut env = strings(image, "Env").unwrap_or_default();
    for e in &opts.env {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        env.retain(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) != key);
        // A bare `NAME` unsets it: the front end has already filled in `-e NAME` from
        // its caller's environment where it was set (as Docker's CLI does).
        if e.contains('=') {
            env.push(e.clone());
        }
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.into());
    }
    if opts.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let image_workdir = image
        .get("WorkingDir")
        .and_then(|w| w.as_str())
        .filter(|w| !w.is_empty());
    let working_dir = opts
        .workdir
        .clone()
        .or(image_workdir.map(str::to_string))
        .unwrap_or_else(|| "/".into());
    if !working_dir.starts_with('/') {
        return Err(ContainerError::Invalid(format!(
            "the working directory {working_dir:?} is invalid, it needs to be an absolute path"
        )));
    }
    let network = opts.network.clone().unwrap_or_else(|| "bridge".into());
    let mut ports = Vec::new();
    for p in &opts.publish {
        ports.extend(
            strata_network::ports::parse_publish_ranges(p).map_err(|e| ContainerError::Invalid(e.to_string()))?,
        );
    }
    if (!ports.is_empty() || opts.publish_all) && matches!(network.as_str(), "none" | "host") {
        return Err(ContainerError::Invalid(format!(
            "published ports need a network: they are discarded with --network {network}"
        )));
    }
    if let Some(other) = network.strip_prefix("container:") {
        check_shared_network(opts, other)?;
    }
    if opts.mac_address.is_some() && (matches!(network.as_str(), "none" | "host") || network.starts_with("container:"))
    {
        return Err(ContainerError::Invalid(format!(
            "conflicting options: --mac-address and the network mode ({network}): the container has no interface of its own"
        )));
    }
    if !opts.network_aliases.is_empty() && !is_user_network(&network) {
        return Err(ContainerError::Invalid(
            "network-scoped aliases are supported only for containers in user defined networks".into(),
        ));
    }
    let mut exposed: Vec<String> = image
        .get("ExposedPorts")
        .and_then(|v| v.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for e in &opts.expose {
        for key in strata_network::ports::parse_exposed_ranges(e).map_err(|e| ContainerError::Invalid(e.to_string()))? {
            if !exposed.contains(&key) {
                exposed.push(key);
            }
        }
    }
    let sysctls = sysctls(&opts.sysctls, &network)?;
    let mut binds: Vec<Bind> = opts.volumes.iter().map(|v| Bind::parse(v)).collect::<Result<_>>()?;
    let mut tmpfs: Vec<String> = opts.tmpfs.iter().map(|t| check_tmpfs(t)).collect::<Result<_>>()?;
    for spec in &opts.mounts {
        match Mount::parse(spec)? {
            Mount::Bind(b) => binds.push(b),
            Mount::Tmpfs(t) => tmpfs.push(t),
        }
    }
    let static_ips = match &opts.ip {
        Some(ip) => [(network.clone(), static_ip(ip, &network)?)].into(),
        None => Default::default(),
    };
    let static_ips6 = match &opts.ip6 {
        Some(ip) => [(network.clone(), static_ip6(ip, &network)?)].into(),
        None => Default::default(),
    };
    let (seccomp, security_opt) = seccomp_profile(&opts.security_opt)?;
    Ok(ContainerConfig {
        entrypoint,
        cmd,
        env,
        working_dir,
        user: check_user(
            &opts
                .user
                .clone()
                .or_else(|| image.get("User").and_then(|u| u.as_str()).map(str::to_string))
                .unwrap_or_default(),
        )?,
        hostname: match opts.hostname.clone() {
            Some(h) => h,
            // `--uts host`: the host's name is the container's (Docker's /etc/hostname too).
            None if opts.uts_mode.as_deref() == Some("host") => nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| id[..12].to_string()),
            None => id[..12].to_string(),
        },
        binds,
        read_only: opts.read_only,
        network,
        auto_remove: opts.auto_remove,
        merged_output: opts.merged_output,
        tty: opts.tty,
        interactive: opts.interactive,
        stdin_once: opts.stdin_once,
        volumes: image
            .get("Volumes")
            .and_then(|v| v.as_object())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        stop_signal: match &opts.stop_signal {
            Some(signal) => Some(crate::signal::parse(signal).map(|_| signal.clone()).ok_or_else(|| {
                ContainerError::Invalid(format!(
                    "invalid --stop-signal {signal:?}: name a signal such as SIGTERM or give its number"
                ))
            })?),
            None => image
                .get("StopSignal")
                .and_then(|s| s.as_str())
                .map(check_stop_signal)
                .transpose()?,
        },
        resources: {
            opts.resources.check(opts.memory, opts.nano_cpus)?;
            opts.resources.clone()
        },
        stop_timeout: opts.stop_timeout,
        group_add: opts.group_add.clone(),
        log: opts.log.clone(),
        init: opts.init,
        pid_mode: namespaces::check_pid_mode(opts.pid_mode.as_deref())?,
        ipc_mode: namespaces::check_ipc_mode(opts.ipc_mode.as_deref())?,
        domainname: opts.domainname.clone().unwrap_or_default(),
        namespaces: namespaces::NamespaceModes {
            uts_host: namespaces::check_uts_mode(
                opts.uts_mode.as_deref(),
                opts.hostname.as_deref(),
                opts.domainname.as_deref(),
            )?,
            cgroupns_private: namespaces::check_cgroupns_mode(opts.cgroupns_mode.as_deref())?,
        },
        mac_address: opts.mac_address.as_ref().map(|m| m.to_lowercase()),
        link_local_ips: opts
            .link_local_ips
            .iter()
            .map(|a| check_link_local(a))
            .collect::<Result<_>>()?,
        oom_score_adj: match opts.oom_score_adj {
            Some(a) if !(-1000..=1000).contains(&a) => {
                return Err(ContainerError::Invalid(format!(
                    "invalid --oom-score-adj {a}: use -1000 to 1000"
                )))
            }
            a => a,
        },
        // Resolved to IDs by the service, which can look containers up.
        links: opts.links.iter().map(|l| Link::parse(l)).collect::<Result<_>>()?,
        devices: opts
            .devices
            .iter()
            .map(|d| DeviceMapping::parse(d))
            .collect::<Result<_>>()?,
        memory: opts.memory,
        nano_cpus: opts.nano_cpus,
        pids_limit: opts.pids_limit,
        tmpfs,
        restart: check_restart(opts)?,
        no_new_privileges: no_new_privileges(&opts.security_opt)?,
        seccomp,
        security_opt,
        extra_networks: Vec::new(),
        ports,
        exposed,
        publish_all: opts.publish_all,
        network_aliases: opts.network_aliases.clone(),
        connect_aliases: Default::default(),
        networks_disconnected: false,
        sysctls,
        static_ips,
        static_ips6,
        extra_hosts: opts
            .extra_hosts
            .iter()
            .map(|h| check_extra_host(h))
            .collect::<Result<_>>()?,
        dns: opts.dns.iter().map(|d| check_dns(d)).collect::<Result<_>>()?,
        dns_search: opts.dns_search.clone(),
        dns_options: opts.dns_options.clone(),
        labels: labels(image, &opts.labels)?,
        healthcheck: {
            let from_image: Option<crate::health::Healthcheck> = image
                .get("Healthcheck")
                .and_then(|h| serde_json::from_value(h.clone()).ok());
            crate::health::Healthcheck::merge(from_image.as_ref(), opts.healthcheck.as_ref())
                .filter(|h| h.command().is_some())
        },
        privileged: opts.privileged,
        cap_add: opts.cap_add.iter().map(|c| capability(c)).collect::<Result<_>>()?,
        cap_drop: opts.cap_drop.iter().map(|c| capability(c)).collect::<Result<_>>()?,
        runtime: match opts.runtime.as_deref() {
            None | Some("strata") => None,
            Some("runc") => {
                strata_host_programs::RUNC.find()?;
                Some("runc".into())
            }
            Some(other) => {
                return Err(ContainerError::Invalid(format!(
                    "unknown runtime {other:?}: use strata or runc"
                )))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(cmd: &[&str], entrypoint: Option<&str>) -> CreateOptions {
        CreateOptions {
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            entrypoint: entrypoint.map(|e| vec![e.to_string()]),
            ..Default::default()
        }
    }

    #[test]
    fn a_bare_env_name_unsets_it_and_never_reads_this_process_environment() {
        // The library may run in a long-lived service: its environment is not the user's.
        let name = "STRATA_TEST_ONLY_IN_THIS_PROCESS";
        std::env::set_var(name, "leaked");
        let image = json!({"Cmd": ["sh"], "Env": ["KEEP=1", "DROP=image"]});
        let mut o = opts(&[], None);
        o.env = vec![name.into(), "DROP".into(), "SET=x".into()];
        let env = merge(&image, &o, "0123456789abcdef").unwrap().env;
        assert!(env.iter().all(|e| !e.contains("leaked")), "{env:?}");
        assert!(env.contains(&"KEEP=1".to_string()) && env.contains(&"SET=x".to_string()));
        assert!(env.iter().all(|e| !e.starts_with("DROP")), "{env:?}");
    }

    #[test]
    fn entrypoint_and_cmd_combine_as_docker_does() {
        let id = "0123456789abcdef";
        let image = json!({"Entrypoint": ["/entry"], "Cmd": ["default"]});
        let args = |o| merge(&image, &o, id).unwrap().args();
        assert_eq!(args(opts(&[], None)), ["/entry", "default"]);
        assert_eq!(args(opts(&["x"], None)), ["/entry", "x"]);
        assert_eq!(
            args(opts(&[], Some("/other"))),
            ["/other"],
            "--entrypoint drops the image CMD"
        );
        assert_eq!(args(opts(&["y"], Some("/other"))), ["/other", "y"]);
        assert_eq!(args(opts(&["sh"], Some(""))), ["sh"]);
        let cmd_only = json!({"Cmd": ["sh"]});
        assert_eq!(
            merge(&cmd_only, &opts(&["ls", "-l"], None), id).unwrap().args(),
            ["ls", "-l"]
        );
        let err = merge(&json!({}), &opts(&[], None), id).unwrap_err().to_string();
        assert!(err.contains("no command specified"), "{err}");
    }

    #[test]
    fn env_overrides_by_key_and_path_has_a_default() {
        let image = json!({"Cmd": ["sh"], "Env": ["A=1", "B=2"]});
        let mut o = opts(&[], None);
        o.env = vec!["A=9".into(), "C=3".into()];
        let env = merge(&image, &o, "0123456789abcdef").unwrap().env;
        assert_eq!(env, [DEFAULT_PATH, "B=2", "A=9", "C=3"]);
    }

    #[test]
    fn bind_specs_are_checked() {
        assert_eq!(
            Bind::parse("/a:/b:ro").unwrap(),
            Bind {
                source: "/a".into(),
                destination: "/b".into(),
                readonly: true,
                volume: None
            }
        );
        assert_eq!(Bind::parse("data:/b").unwrap().volume.as_deref(), Some("data"));
        assert_eq!(Bind::parse("/b").unwrap().volume.as_deref(), Some(""));
        assert!(Bind::parse("/a:b").is_err());
        assert!(Bind::parse("/a:/b:zz").is_err());
    }
}
