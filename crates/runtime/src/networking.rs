//! A container's network while it runs: its namespace and addresses (strata-network),
//! its /etc/hosts and its peers' (containers on a user-defined network find each other
//! by name there), and the proxy process of its published ports. Everything is
//! released when the container stops, and leftovers of a killed engine on the next
//! reconcile.

use crate::error::{Result, RuntimeError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use strata_containers::{ContainerConfig, ContainerRecord, Containers};
use strata_network::ports::{BoundPort, PublishedPort};
use strata_network::{Endpoint, NetworkError, Networks, Requested, DEFAULT_NETWORK};

/// What a started container's network looks like (`containers/<id>/network.json`), for
/// `inspect` and `port`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkState {
    pub endpoints: Vec<EndpointState>,
    pub ports: Vec<PublishedPort>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointState {
    pub network: String,
    pub network_id: String,
    pub ip: String,
    pub prefix: u8,
    pub gateway: String,
    pub mac: String,
    #[serde(default)]
    pub bridge: String,
    #[serde(default)]
    pub internal: bool,
    /// The IPv6 address, prefix length and gateway on a network with IPv6 ('' and 0
    /// without).
    #[serde(default)]
    pub ip6: String,
    #[serde(default)]
    pub prefix6: u8,
    #[serde(default)]
    pub gateway6: String,
}

impl From<&Endpoint> for EndpointState {
    fn from(e: &Endpoint) -> Self {
        EndpointState {
            network: e.network.name.clone(),
            network_id: e.network.id.clone(),
            ip: e.ip.to_string(),
            prefix: e.prefix,
            gateway: e.gateway.to_string(),
            mac: e.mac.clone(),
            bridge: e.network.bridge.clone(),
            internal: e.network.internal,
            ip6: e.ipv6.as_ref().map(|v| v.ip.to_string()).unwrap_or_default(),
            prefix6: e.ipv6.as_ref().map_or(0, |v| v.prefix),
            gateway6: e.ipv6.as_ref().map(|v| v.gateway.to_string()).unwrap_or_default(),
        }
    }
}

/// The kernel forwards of a container's published ports: to its first network's address.
fn forwards(state: &NetworkState) -> Option<(String, Vec<strata_network::nat::Forward>)> {
    let first = state.endpoints.first().filter(|e| !e.internal)?;
    let target = first.ip.parse().ok()?;
    // The kernel forwards IPv4 only; a port published on an IPv6 address is the
    // proxy's alone.
    let forwards = state
        .ports
        .iter()
        .filter_map(|p| {
            let host_ip = p.host_ip.parse::<std::net::Ipv4Addr>().ok()?;
            Some(strata_network::nat::Forward {
                protocol: p.protocol.as_str(),
                host_ip: (!host_ip.is_unspecified()).then_some(host_ip),
                host_port: p.host_port,
                target,
                target_port: p.container_port,
            })
        })
        .collect();
    Some((first.bridge.clone(), forwards))
}

/// A network prepared for a container that is about to start.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The namespace to join; `None` for a fresh loopback-only one or the host's.
    pub netns: Option<PathBuf>,
    ports: Vec<BoundPort>,
    state: NetworkState,
}

/// The store's networks, with the engine's settings (the default bridge's subnet).
pub fn networks(store: &strata_images::ImageStore) -> Networks {
    Networks::new(store.root()).with_default_subnet(store.default_bridge_subnet())
}

fn state_path(containers: &Containers<'_>, id: &str) -> PathBuf {
    containers.dir(id).join("network.json")
}

fn proxy_pid_path(containers: &Containers<'_>, id: &str) -> PathBuf {
    containers.dir(id).join("proxy.pid")
}

/// The recorded network of a running container, if it has one.
pub fn state(containers: &Containers<'_>, id: &str) -> Option<NetworkState> {
    let text = std::fs::read_to_string(state_path(containers, id)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The names a container answers to on the user network `network`: its name,
/// `--network-alias`es, the aliases it was connected there with, hostname and short ID.
fn names(record: &ContainerRecord, config: &ContainerConfig, network: &str) -> Vec<String> {
    let mut out = vec![record.name.clone()];
    out.extend(config.network_aliases.iter().cloned());
    out.extend(config.connect_aliases.get(network).into_iter().flatten().cloned());
    out.push(config.hostname.clone());
    out.push(record.id[..12].to_string());
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// Each network with the addresses asked for there, if any.
fn wanted(config: &ContainerConfig, networks: &[String]) -> Vec<(String, Requested)> {
    networks.iter().map(|n| (n.clone(), requested(config, n))).collect()
}

fn requested(config: &ContainerConfig, network: &str) -> Requested {
    // `--mac-address` is the first network's (Docker's rule).
    let first = config.networks().first().is_some_and(|n| n == network);
    Requested {
        mac: config
            .mac_address
            .as_deref()
            .filter(|_| first)
            .and_then(strata_network::parse_mac),
        link_local: match first {
            true => config.link_local_ips.iter().filter_map(|a| a.parse().ok()).collect(),
            false => Vec::new(),
        },
        ip: config.static_ips.get(network).and_then(|ip| ip.parse().ok()),
        ip6: config.static_ips6.get(network).and_then(|ip| ip.parse().ok()),
    }
}

/// Binds the published ports (a port in use fails here, before anything else), then
/// builds the namespace with an interface per network and writes /etc/hosts.
pub fn prepare(containers: &Containers<'_>, record: &ContainerRecord, config: &ContainerConfig) -> Result<Prepared> {
    if let Some(other) = config.network_container() {
        return join_container(containers, record, other);
    }
    crate::links::check_running(containers, record, config)?;
    let joined = config.networks();
    if joined.is_empty() {
        return Ok(Prepared::default());
    }
    let ports = strata_network::ports::bind_all(&config.port_bindings())?;
    let aliases = |network: &str| names(record, config, network);
    let attachment = {
        let mut db = containers.store().db();
        networks(containers.store()).attach(&mut db, &record.id, &aliases, &wanted(config, &joined))?
    };
    let state = NetworkState {
        endpoints: attachment.endpoints.iter().map(EndpointState::from).collect(),
        ports: ports.iter().flat_map(BoundPort::published).collect(),
    };
    let prepared = Prepared {
        netns: Some(attachment.netns),
        ports,
        state,
    };
    let written = write_state(containers, &record.id, &prepared.state)
        .and_then(|()| write_hosts(containers, record, config))
        .and_then(|()| refresh_peers(containers, &record.id));
    if let Err(e) = written {
        release(containers, &record.id);
        return Err(e);
    }
    Ok(prepared)
}

/// `--network container:ID`: the namespace of the other container's init, whatever its
/// own mode, and its hosts and resolv.conf as they are now.
fn join_container(containers: &Containers<'_>, record: &ContainerRecord, other: &str) -> Result<Prepared> {
    let target = containers.resolve(other)?;
    let pid = target.pid.filter(|_| crate::lifecycle::is_running(containers, &target));
    let Some(pid) = pid else {
        return Err(conflict(format!(
            "cannot join network of a non running container: {}",
            target.name
        )));
    };
    for file in ["hosts", "resolv.conf"] {
        let from = containers.dir(&target.id).join(file);
        let to = containers.dir(&record.id).join(file);
        std::fs::copy(&from, &to).map_err(|e| RuntimeError::io(format!("copying {}", from.display()), e))?;
    }
    Ok(Prepared {
        netns: Some(PathBuf::from(format!("/proc/{pid}/ns/net"))),
        ..Prepared::default()
    })
}

fn write_state(containers: &Containers<'_>, id: &str, state: &NetworkState) -> Result<()> {
    let path = state_path(containers, id);
    std::fs::write(&path, serde_json::to_vec_pretty(state).expect("states serialize"))
        .map_err(|e| RuntimeError::io(format!("writing {}", path.display()), e))
}

/// Publishes the ports once the container's process runs: the kernel forwards them
/// (nftables DNAT, at full speed), and the proxy process holds the host ports (so no
/// one else takes them) and relays whatever DNAT does not catch.
pub fn started(containers: &Containers<'_>, record: &ContainerRecord, prepared: Prepared, pid: i32) -> Result<()> {
    if prepared.ports.is_empty() {
        return Ok(());
    }
    spawn_proxy(containers, record, &prepared, pid)?;
    if let Some((bridge, forwards)) = forwards(&prepared.state) {
        strata_network::nat::publish(&bridge, &forwards)?;
    }
    Ok(())
}

fn spawn_proxy(containers: &Containers<'_>, record: &ContainerRecord, prepared: &Prepared, pid: i32) -> Result<()> {
    let first = prepared
        .state
        .endpoints
        .first()
        .ok_or_else(|| RuntimeError::Unsupported("published ports without a network address".into()))?;
    // Connections that arrive over IPv6 go on over IPv6 where the container has an
    // IPv6 address, and over IPv4 otherwise (as Docker's proxy does).
    let target = first.ip.clone();
    let target6 = if first.ip6.is_empty() {
        first.ip.clone()
    } else {
        format!("[{}]", first.ip6)
    };
    let exe = std::env::current_exe().map_err(|e| RuntimeError::io("finding strata's own binary", e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(containers.store().root())
        .arg("__proxy")
        .arg(pid.to_string());
    // Every bound socket (IPv4, and IPv6 where bound) with the address it leads to.
    let sockets: Vec<(&BoundPort, i32, &str)> = prepared
        .ports
        .iter()
        .flat_map(|p| {
            let (v4, v6) = (target.as_str(), target6.as_str());
            let own = if p.binding.host_ip.contains(':') { v6 } else { v4 };
            std::iter::once((p, &p.socket, own)).chain(p.socket_v6.iter().map(move |s| (p, s, v6)))
        })
        .map(|(p, s, to)| (p, std::os::fd::AsRawFd::as_raw_fd(s), to))
        .collect();
    for (i, (p, _, to)) in sockets.iter().enumerate() {
        cmd.arg(format!(
            "{}:{}:{}:{}",
            p.binding.protocol.as_str(),
            3 + i,
            to,
            p.binding.container_port
        ));
    }
    let raw: Vec<i32> = sockets.iter().map(|(_, fd, _)| *fd).collect();
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only async-signal-safe calls (setsid, fcntl, dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            // Out of the way first, so placing one socket never overwrites another.
            let mut high = Vec::with_capacity(raw.len());
            for fd in &raw {
                let h = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 1000);
                if h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(h);
            }
            for (i, h) in high.iter().enumerate() {
                if libc::dup2(*h, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| RuntimeError::io("starting the port proxy", e))?;
    let path = proxy_pid_path(containers, &record.id);
    std::fs::write(&path, child.id().to_string())
        .map_err(|e| RuntimeError::io(format!("writing {}", path.display()), e))?;
    // The proxy is not our child to wait for: it runs in its own session and ends with
    // the container; the sockets it holds are closed here when `prepared` drops.
    std::mem::forget(child);
    Ok(())
}

/// Releases everything `prepare` and `started` took: the proxy, the interfaces, the
/// namespace and the addresses; peers on user networks see the container go from their
/// /etc/hosts. Every step is best effort and repeatable.
pub fn release(containers: &Containers<'_>, id: &str) {
    stop_proxy(containers, id);
    if let Some((bridge, forwards)) = state(containers, id).as_ref().and_then(forwards) {
        strata_network::nat::unpublish(&bridge, &forwards);
    }
    let networks = networks(containers.store());
    // Who shares a user network with it, while its endpoints still say so.
    let peers = peers(containers, id).unwrap_or_default();
    if let Err(e) = networks.detach(&mut containers.store().db(), id) {
        log::warn!("releasing the network of container {id}: {e}");
    }
    let _ = std::fs::remove_file(state_path(containers, id));
    let _ = rewrite_hosts(containers, peers);
}

fn stop_proxy(containers: &Containers<'_>, id: &str) {
    let path = proxy_pid_path(containers, id);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    if let Ok(pid) = text.trim().parse::<i32>() {
        // Only if that PID is still our proxy (PIDs are reused).
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.split(|b| *b == 0).any(|w| w == b"__proxy") {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
    let _ = std::fs::remove_file(path);
}

/// Releases the network of every container that has one but is neither running nor
/// looked after by a live engine (`running` says which): an engine killed between start
/// and finish, a reboot.
pub fn reconcile(containers: &Containers<'_>, running: &dyn Fn(&str) -> bool) {
    let networks = networks(containers.store());
    let attached = networks
        .attached_containers(&containers.store().db())
        .unwrap_or_default();
    for id in attached {
        if !running(&id) {
            release(containers, &id);
        }
    }
}

/// Rewrites the /etc/hosts of each container in `ids` that still exists.
fn rewrite_hosts(containers: &Containers<'_>, mut ids: Vec<String>) -> Result<()> {
    ids.sort();
    ids.dedup();
    for id in ids {
        if let Ok(record) = containers.resolve(&id) {
            let config = containers.config(&record)?;
            write_hosts(containers, &record, &config)?;
        }
    }
    Ok(())
}

/// Rewrites the /etc/hosts of the containers that share a user network with `id`.
fn refresh_peers(containers: &Containers<'_>, id: &str) -> Result<()> {
    rewrite_hosts(containers, peers(containers, id)?)
}

/// The containers that share a user network with `id`.
fn peers(containers: &Containers<'_>, id: &str) -> Result<Vec<String>> {
    let (networks, endpoints) = networks_and_endpoints(containers)?;
    let mine: Vec<&String> = endpoints
        .iter()
        .filter(|e| e.container_id == id && is_user(&networks, &e.network_id))
        .map(|e| &e.network_id)
        .collect();
    Ok(endpoints
        .iter()
        .filter(|e| e.container_id != id && mine.contains(&&e.network_id))
        .map(|e| e.container_id.clone())
        .collect())
}

/// Every network and every endpoint, read together.
fn networks_and_endpoints(
    containers: &Containers<'_>,
) -> Result<(Vec<strata_network::NetworkRecord>, Vec<strata_network::EndpointRecord>)> {
    let db = containers.store().db();
    Ok((db.networks()?, db.endpoints(None)?))
}

/// Whether the network `id` is user-defined (where names resolve).
fn is_user(networks: &[strata_network::NetworkRecord], id: &str) -> bool {
    networks.iter().any(|n| n.id == id && n.name != DEFAULT_NETWORK)
}

/// The container's /etc/hosts: loopback, its own address and hostname, and on
/// user-defined networks every other container there by name, hostname and short ID;
/// each by its IPv6 address too on a network with IPv6.
pub fn hosts_file(containers: &Containers<'_>, record: &ContainerRecord, config: &ContainerConfig) -> Result<String> {
    let (networks, endpoints) = networks_and_endpoints(containers)?;
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    let mine: Vec<_> = endpoints.iter().filter(|e| e.container_id == record.id).collect();
    match mine.first() {
        Some(first) => {
            out.push_str(&format!("{}\t{}\n", first.ip, config.hostname));
            if !first.ip6.is_empty() {
                out.push_str(&format!("{}\t{}\n", first.ip6, config.hostname));
            }
        }
        None => out.push_str(&format!("127.0.1.1\t{}\n", config.hostname)),
    }
    // `host-gateway`: the host's address on the container's first network.
    let gateway = mine
        .first()
        .and_then(|m| networks.iter().find(|n| n.id == m.network_id))
        .map_or("127.0.0.1", |n| n.gateway.as_str());
    for (name, ip) in config.extra_host_entries(gateway) {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    for line in crate::links::host_entries(containers, config, &mine, &endpoints) {
        out.push_str(&line);
    }
    for e in &endpoints {
        let shared = mine
            .iter()
            .any(|m| m.network_id == e.network_id && is_user(&networks, &m.network_id));
        if e.container_id == record.id || !shared {
            continue;
        }
        let names: Vec<String> = serde_json::from_str(&e.aliases).unwrap_or_default();
        out.push_str(&format!("{}\t{}\n", e.ip, names.join(" ")));
        if !e.ip6.is_empty() {
            out.push_str(&format!("{}\t{}\n", e.ip6, names.join(" ")));
        }
    }
    Ok(out)
}

/// Writes /etc/hosts in place: it is bind-mounted into the running container, so a
/// new file renamed over it would not be seen there.
fn write_hosts(containers: &Containers<'_>, record: &ContainerRecord, config: &ContainerConfig) -> Result<()> {
    let text = hosts_file(containers, record, config)?;
    let path = containers.dir(&record.id).join("hosts");
    // Never created here: a container being removed must not get its file back.
    let mut file = match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RuntimeError::io(format!("opening {}", path.display()), e)),
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.set_len(text.len() as u64))
        .map_err(|e| RuntimeError::io(format!("writing {}", path.display()), e))
}

/// `port`: the published ports of a running container.
pub fn published(containers: &Containers<'_>, id: &str) -> Vec<PublishedPort> {
    state(containers, id).map(|s| s.ports).unwrap_or_default()
}

/// The pinned namespace of a container, for the spec.
pub fn netns_path(root: &Path, id: &str) -> PathBuf {
    Networks::new(root).netns_path(id)
}

fn conflict(message: String) -> RuntimeError {
    RuntimeError::Containers(strata_containers::ContainerError::Conflict(message))
}

/// `network connect [--ip ADDRESS] [--ip6 ADDRESS]`: the container joins one more
/// network, now if it runs and at every later start.
pub fn connect(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    name: &str,
    ip: Option<&str>,
    ip6: Option<&str>,
    aliases: &[String],
) -> Result<()> {
    let networks = networks(containers.store());
    let network = networks.find(&mut containers.store().db(), name)?;
    if !aliases.is_empty() && network.name == DEFAULT_NETWORK {
        return Err(strata_containers::ContainerError::Invalid(
            "network-scoped aliases are supported only for containers in user defined networks".into(),
        )
        .into());
    }
    let mut config = containers.config(record)?;
    if config.networks().is_empty() && !config.networks_disconnected {
        return Err(conflict(format!(
            "container {} uses --network {}: it cannot be connected to other networks",
            record.name, config.network
        )));
    }
    if config.networks().iter().any(|n| *n == network.name || *n == network.id) {
        return Err(conflict(format!(
            "endpoint with name {} already exists in network {}",
            record.name, network.name
        )));
    }
    let ip = ip
        .map(|ip| strata_containers::static_ip(ip, &network.name))
        .transpose()?;
    let ip6 = ip6
        .map(|ip| strata_containers::static_ip6(ip, &network.name))
        .transpose()?;
    if let (Some(ip6), true) = (&ip6, network.subnet6.is_empty()) {
        return Err(strata_containers::ContainerError::Invalid(format!(
            "--ip6 {ip6}: network {} has no IPv6; create a network with --ipv6 --subnet PREFIX/64 for it",
            network.name
        ))
        .into());
    }
    let previous = config.clone();
    if config.networks_disconnected {
        config.network = network.name.clone();
        config.networks_disconnected = false;
    } else {
        config.extra_networks.push(network.name.clone());
    }
    if !aliases.is_empty() {
        config.connect_aliases.insert(network.name.clone(), aliases.to_vec());
    }
    if let Some(ip) = &ip {
        config.static_ips.insert(network.name.clone(), ip.clone());
    }
    if let Some(ip) = &ip6 {
        config.static_ips6.insert(network.name.clone(), ip.clone());
    }
    containers.set_config(record, &config)?;
    if !crate::lifecycle::is_running(containers, record) {
        return Ok(());
    }
    let aliases = names(record, &config, &network.name);
    let wanted = requested(&config, &network.name);
    // Bound first: the database's guard must be gone before the error path uses it.
    let connected = networks.connect(&mut containers.store().db(), &record.id, &aliases, &network, wanted);
    let endpoint = match connected {
        Ok(endpoint) => endpoint,
        Err(e) => {
            // Not connected after all (an address in use, say): the container's record says so.
            let _ = containers.set_config(record, &previous);
            return Err(e.into());
        }
    };
    let mut state = state(containers, &record.id).unwrap_or_default();
    state.endpoints.push(EndpointState::from(&endpoint));
    write_state(containers, &record.id, &state)?;
    write_hosts(containers, record, &config)?;
    refresh_peers(containers, &record.id)
}

/// `network disconnect`: the container leaves a network, now if it runs and for good.
pub fn disconnect(containers: &Containers<'_>, record: &ContainerRecord, name: &str) -> Result<()> {
    let networks = networks(containers.store());
    let network = networks.find(&mut containers.store().db(), name)?;
    let mut config = containers.config(record)?;
    let joined = config.networks();
    if !joined.iter().any(|n| *n == network.name || *n == network.id) {
        return Err(conflict(format!(
            "container {} is not connected to network {}",
            record.name, network.name
        )));
    }
    let rest: Vec<String> = joined
        .into_iter()
        .filter(|n| *n != network.name && *n != network.id)
        .collect();
    // Without any network left it has none, until a connect gives it one (Docker's
    // NetworkMode stays; docker-compose 1.29 disconnects a created container from its
    // network to connect it again with aliases).
    config.networks_disconnected = rest.is_empty();
    config.network = rest.first().cloned().unwrap_or_else(|| "none".into());
    config.extra_networks = rest.into_iter().skip(1).collect();
    containers.set_config(record, &config)?;
    if !crate::lifecycle::is_running(containers, record) {
        return Ok(());
    }
    // Its peers as they were, and itself, lose each other from /etc/hosts.
    let mut affected = peers(containers, &record.id)?;
    affected.push(record.id.clone());
    networks.disconnect(&mut containers.store().db(), &record.id, &network)?;
    let mut state = state(containers, &record.id).unwrap_or_default();
    state.endpoints.retain(|e| e.network_id != network.id);
    write_state(containers, &record.id, &state)?;
    rewrite_hosts(containers, affected)
}

/// `network rm`: removes the network `name` names, refused while a container (in any
/// state) is configured with it. The built-in networks cannot be removed.
pub fn remove_network(containers: &Containers<'_>, name: &str) -> Result<()> {
    if strata_network::BUILTIN_NETWORKS.iter().any(|(b, _)| *b == name) {
        return Err(NetworkError::Conflict(format!("{name} is a pre-defined network and cannot be removed")).into());
    }
    let networks = networks(containers.store());
    let record = networks.find(&mut containers.store().db(), name)?;
    let in_use_by = users(containers, &record)?;
    Ok(networks.remove(&mut containers.store().db(), &record, &in_use_by)?)
}

/// Removes the user-defined networks no container is configured with and `filter` lets
/// go (`network prune`, `system prune`); returns their names.
pub fn prune(containers: &Containers<'_>, filter: &strata_images::PruneFilter) -> Result<Vec<String>> {
    let networks = networks(containers.store());
    let all = networks.list(&containers.store().db())?;
    let mut used = Vec::new();
    for c in containers.list()? {
        used.extend(containers.config(&c)?.networks());
    }
    let mut removed = Vec::new();
    for n in all {
        if n.name == DEFAULT_NETWORK || used.iter().any(|u| *u == n.name || *u == n.id) {
            continue;
        }
        // Labels are stored with the driver options, as one JSON document.
        let stored: serde_json::Value = serde_json::from_str(&n.options).unwrap_or_default();
        let label = |k: &str| {
            stored
                .pointer("/Labels")
                .and_then(|l| l.get(k))
                .and_then(|v| v.as_str())
        };
        if !filter.matches(Some(&n.created), label) {
            continue;
        }
        networks.remove(&mut containers.store().db(), &n, &[])?;
        removed.push(n.name);
    }
    Ok(removed)
}

/// Containers (any state) configured with a network, by name.
pub fn users(containers: &Containers<'_>, network: &strata_network::NetworkRecord) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in containers.list()? {
        let nets = containers.config(&c)?.networks();
        if nets.iter().any(|x| *x == network.name || *x == network.id) {
            out.push(c.name.clone());
        }
    }
    Ok(out)
}
