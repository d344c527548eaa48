//! Container networking, as Docker's bridge driver does it: a Linux bridge per network
//! with the gateway address, a network namespace per container (pinned to a file, so
//! it can be prepared before the container starts and joined by any runtime), a veth
//! pair from the bridge into it, an address from the database, outbound NAT through
//! nftables, and published ports through a proxy process.

mod error;
pub mod inspect;
pub mod ipam;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod ports;
pub mod proxy;

pub use error::{NetworkError, Result};
pub use inspect::NetworkResource;
pub use strata_metadata::{EndpointRecord, NetworkRecord};

use ipnet::{Ipv4Net, Ipv6Net};
use netlink::Netlink;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use strata_metadata::Db;

/// The name of the default network, as in Docker.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The root whose default bridge is called `strata0` (others get `strata-<id>`).
pub const DEFAULT_ROOT: &str = "/var/lib/strata";
/// Serializes subnet choice and bridge creation across every strata root on the host.
const HOST_LOCK: &str = "/run/strata/network.lock";

/// The networks Docker shows beside the bridge networks, with their drivers; strata
/// keeps no record of them.
pub const BUILTIN_NETWORKS: [(&str, &str); 2] = [("host", "host"), ("none", "null")];

/// `network create` options.
#[derive(Debug, Clone, Default)]
pub struct NetworkOptions {
    pub name: String,
    /// Empty or `bridge`: the one driver strata has.
    pub driver: String,
    /// `--subnet`s: at most one IPv4 (without one, a free one is chosen) and, with
    /// `ipv6`, exactly one IPv6.
    pub subnets: Vec<String>,
    /// `--gateway`s: at most one per family, inside that family's subnet.
    pub gateways: Vec<String>,
    /// `--ipv6`: the network's containers get IPv6 addresses too.
    pub ipv6: bool,
    pub internal: bool,
    pub labels: Vec<(String, String)>,
    /// Driver options (`-o`); `com.docker.network.driver.mtu` is the one strata uses.
    pub options: Vec<(String, String)>,
}

/// Docker's driver option for the MTU of a bridge network's links.
pub const MTU_OPTION: &str = "com.docker.network.driver.mtu";
const DEFAULT_MTU: u32 = 1500;

/// The MTU a network's links get: its option, or Docker's 1500.
pub fn mtu(record: &NetworkRecord) -> u32 {
    serde_json::from_str::<serde_json::Value>(&record.options)
        .ok()
        .and_then(|o| o["Options"][MTU_OPTION].as_str().and_then(|m| m.parse().ok()))
        .unwrap_or(DEFAULT_MTU)
}

/// A container's address on one network.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub network: NetworkRecord,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    /// The interface inside the container (`eth0`, `eth1`, ...).
    pub interface: String,
    /// Its IPv6 address, on a network with IPv6.
    pub ipv6: Option<Ipv6Endpoint>,
}

/// A container's IPv6 address on a network with IPv6.
#[derive(Debug, Clone)]
pub struct Ipv6Endpoint {
    pub ip: Ipv6Addr,
    pub prefix: u8,
    pub gateway: Ipv6Addr,
}

/// The addresses a container asks for on one network (`--ip`, `--ip6`); a free one of
/// each family the network has otherwise.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    /// `--mac-address`: the container's MAC there, instead of the one its IPv4 address gives.
    pub mac: Option<[u8; 6]>,
    /// `--link-local-ip`: addresses beside its own there (169.254.0.0/16, fe80::/10).
    pub link_local: Vec<std::net::IpAddr>,
}

/// What a container gets to join its networks.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The pinned namespace the runtime joins.
    pub netns: PathBuf,
    pub endpoints: Vec<Endpoint>,
}

/// The networks of one strata root.
pub struct Networks {
    root: PathBuf,
    default_subnet: Option<String>,
}

impl Networks {
    pub fn new(root: &Path) -> Networks {
        Networks {
            root: root.to_path_buf(),
            default_subnet: None,
        }
    }

    /// The subnet the default network gets when it is made (Docker's `--bip`); without
    /// one, the first free subnet.
    pub fn with_default_subnet(mut self, subnet: Option<&str>) -> Networks {
        self.default_subnet = subnet.map(str::to_string);
        self
    }

    /// Where a container's network namespace is pinned.
    pub fn netns_path(&self, container_id: &str) -> PathBuf {
        self.root.join("netns").join(container_id)
    }

    pub fn list(&self, db: &Db) -> Result<Vec<NetworkRecord>> {
        Ok(db.networks()?)
    }

    /// A network by name, full ID or unique ID prefix. The default network is made
    /// on first use.
    pub fn find(&self, db: &mut Db, name: &str) -> Result<NetworkRecord> {
        if name == DEFAULT_NETWORK {
            return self.default_network(db);
        }
        let all = db.networks()?;
        if let Some(n) = all.iter().find(|n| n.name == name || n.id == name) {
            return Ok(n.clone());
        }
        let prefixed: Vec<_> = all.iter().filter(|n| n.id.starts_with(name)).collect();
        match prefixed.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(NetworkError::NotFound(name.into())),
            _ => Err(NetworkError::Invalid(format!(
                "network {name} is ambiguous ({} matches)",
                prefixed.len()
            ))),
        }
    }

    fn default_network(&self, db: &mut Db) -> Result<NetworkRecord> {
        if let Some(n) = db.networks()?.into_iter().find(|n| n.name == DEFAULT_NETWORK) {
            return Ok(n);
        }
        let subnets = self.default_subnet.iter().cloned().collect();
        match self.create_record(
            db,
            &NetworkOptions {
                name: DEFAULT_NETWORK.into(),
                subnets,
                ..Default::default()
            },
        ) {
            // Another command made it meanwhile.
            Err(NetworkError::Metadata(strata_metadata::MetadataError::Conflict(_))) => db
                .networks()?
                .into_iter()
                .find(|n| n.name == DEFAULT_NETWORK)
                .ok_or_else(|| NetworkError::NotFound(DEFAULT_NETWORK.into())),
            other => other,
        }
    }

    /// `network create`: records the network and brings up its bridge and rules.
    pub fn create(&self, db: &mut Db, opts: &NetworkOptions) -> Result<NetworkRecord> {
        if matches!(opts.name.as_str(), "bridge" | "host" | "none" | "default" | "private") {
            return Err(NetworkError::Conflict(format!(
                "network name {} is reserved; choose another name",
                opts.name
            )));
        }
        if !matches!(opts.driver.as_str(), "" | "bridge") {
            return Err(NetworkError::Invalid(format!(
                "network driver {:?} is not supported: strata has the bridge driver",
                opts.driver
            )));
        }
        if !valid_name(&opts.name) {
            return Err(NetworkError::Invalid(format!(
                "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                opts.name
            )));
        }
        // Before anything changes: a bridge without its rules would be half made.
        strata_host_programs::NFT.find()?;
        self.create_record(db, opts)
    }

    fn create_record(&self, db: &mut Db, opts: &NetworkOptions) -> Result<NetworkRecord> {
        let _lock = host_lock()?;
        let id: String = (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect();
        let default = opts.name == DEFAULT_NETWORK;
        let (subnet4, subnet6, gateway4, gateway6) = split_families(opts)?;
        let subnet = match subnet4 {
            Some(s) => {
                let net = ipam::parse_subnet(s)?;
                let taken = self.taken_subnets(db)?;
                // A default route (0.0.0.0/0) overlaps everything and so nothing.
                if let Some(clash) = taken.iter().find(|t| t.prefix_len() > 0 && ipam::overlaps(&net, t)) {
                    return Err(NetworkError::Conflict(format!(
                        "subnet {net} overlaps {clash}, already routed on this host; choose another --subnet"
                    )));
                }
                net
            }
            None => ipam::choose(&ipam::candidates(default), &self.taken_subnets(db)?)?,
        };
        let gateway = match gateway4 {
            Some(ip) => {
                if !subnet.contains(&ip) || ip == subnet.network() || ip == subnet.broadcast() {
                    return Err(NetworkError::Invalid(format!(
                        "gateway {ip} is not a host address of subnet {subnet}"
                    )));
                }
                ip
            }
            None => ipam::gateway(&subnet),
        };
        let ipv6 = match subnet6 {
            Some(text) => {
                let net = ipam::parse_subnet6(text)?;
                let taken = self.taken_subnets6(db)?;
                // The default route (::/0) overlaps everything and so nothing.
                if let Some(clash) = taken.iter().find(|t| t.prefix_len() > 0 && ipam::overlaps6(&net, t)) {
                    return Err(NetworkError::Conflict(format!(
                        "subnet {net} overlaps {clash}, already routed on this host; choose another IPv6 --subnet"
                    )));
                }
                let gateway = match gateway6 {
                    Some(ip) => {
                        if !net.contains(&ip) || ip == net.network() {
                            return Err(NetworkError::Invalid(format!(
                                "gateway {ip} is not a host address of subnet {net}"
                            )));
                        }
                        ip
                    }
                    None => ipam::gateway6(&net),
                };
                Some((net, gateway))
            }
            None => None,
        };
        let bridge = if default && self.root == Path::new(DEFAULT_ROOT) {
            "strata0".to_string()
        } else {
            format!("strata-{}", &id[..8])
        };
        let as_map = |pairs: &[(String, String)]| -> serde_json::Map<String, serde_json::Value> {
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect()
        };
        for (key, value) in &opts.options {
            let valid = match key.as_str() {
                MTU_OPTION => value.parse::<u32>().is_ok_and(|m| (68..=65535).contains(&m)),
                _ => false,
            };
            if !valid {
                return Err(NetworkError::Invalid(format!(
                    "network option {key}={value} is not supported (strata knows {MTU_OPTION}=68..65535)"
                )));
            }
        }
        let record = NetworkRecord {
            id,
            name: opts.name.clone(),
            driver: "bridge".into(),
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            subnet6: ipv6.map(|(n, _)| n.to_string()).unwrap_or_default(),
            gateway6: ipv6.map(|(_, g)| g.to_string()).unwrap_or_default(),
            bridge,
            internal: opts.internal,
            options: serde_json::json!({ "Labels": as_map(&opts.labels), "Options": as_map(&opts.options) })
                .to_string(),
            created: now(),
        };
        db.insert_network(&record)?;
        if let Err(e) = Netlink::open().and_then(|mut nl| self.bring_up(&mut nl, &record)) {
            let _ = self.tear_down(&record);
            let _ = db.remove_network(&record.id);
            return Err(e);
        }
        emit(db, &record, "create", None);
        Ok(record)
    }

    /// Subnets already in use: the host's routes and every network this root knows.
    fn taken_subnets(&self, db: &Db) -> Result<Vec<Ipv4Net>> {
        let mut taken: Vec<Ipv4Net> = Netlink::open()?
            .routes()?
            .into_iter()
            .filter_map(|(ip, len)| Ipv4Net::new(ip, len).ok())
            .collect();
        taken.extend(db.networks()?.iter().filter_map(|n| n.subnet.parse::<Ipv4Net>().ok()));
        Ok(taken)
    }

    /// IPv6 subnets already in use: the host's IPv6 routes and every network this root
    /// knows with IPv6.
    fn taken_subnets6(&self, db: &Db) -> Result<Vec<Ipv6Net>> {
        let mut taken: Vec<Ipv6Net> = Netlink::open()?
            .routes6()?
            .into_iter()
            .filter_map(|(ip, len)| Ipv6Net::new(ip, len).ok())
            .collect();
        taken.extend(db.networks()?.iter().filter_map(|n| n.subnet6.parse::<Ipv6Net>().ok()));
        Ok(taken)
    }

    /// [`Networks::bring_up`] for a container's start: two starts on a host without the
    /// bridge (a fresh root, after a reboot) would both find it missing, and the second
    /// creation fail ("File exists"); the one that finds it missing makes it under the
    /// host's lock, where the other finds it made.
    fn ensure_up(&self, nl: &mut Netlink, record: &NetworkRecord) -> Result<u32> {
        if let Some(index) = nl.link_index(&record.bridge)? {
            return Ok(index);
        }
        let _lock = host_lock()?;
        self.bring_up(nl, record)
    }

    /// Creates the bridge with the gateway address (if missing) and its rules, through
    /// `nl`, a socket in the host's namespace. The caller holds the host's lock.
    fn bring_up(&self, nl: &mut Netlink, record: &NetworkRecord) -> Result<u32> {
        if let Some(index) = nl.link_index(&record.bridge)? {
            return Ok(index);
        }
        let (subnet, gateway) = addressing(record)?;
        nl.add_bridge(&record.bridge, mtu(record))?;
        let index = nl
            .link_index(&record.bridge)?
            .ok_or_else(|| NetworkError::NotFound(record.bridge.clone()))?;
        nl.add_address(index, gateway, subnet.prefix_len())?;
        if let Some((subnet6, gateway6)) = addressing6(record)? {
            // The host may keep IPv6 off on new links (default.disable_ipv6).
            nat::enable_ipv6(&record.bridge)?;
            nl.add_address6(index, gateway6, subnet6.prefix_len())?;
        }
        nl.set_up(index)?;
        nat::apply(&record.bridge, &record.subnet, record.internal)?;
        if !record.internal {
            nat::route_localnet(&record.bridge)?;
            nat::enable_forwarding()?;
        }
        if !record.subnet6.is_empty() {
            nat::apply6(&record.bridge, &record.subnet6, record.internal)?;
            if !record.internal {
                nat::enable_forwarding6()?;
            }
        }
        Ok(index)
    }

    fn tear_down(&self, record: &NetworkRecord) -> Result<()> {
        let mut nl = Netlink::open()?;
        if let Some(index) = nl.link_index(&record.bridge)? {
            nl.delete_link(index)?;
        }
        nat::remove(&record.bridge)
    }

    /// `network rm`: refuses a network that containers still use.
    pub fn remove(&self, db: &mut Db, record: &NetworkRecord, in_use_by: &[String]) -> Result<()> {
        if record.name == DEFAULT_NETWORK {
            return Err(NetworkError::Conflict(format!(
                "{} is a pre-defined network and cannot be removed",
                record.name
            )));
        }
        if !in_use_by.is_empty() {
            return Err(NetworkError::Conflict(format!(
                "error while removing network: network {} id {} has active endpoints ({}); \
                 stop or disconnect them first",
                record.name,
                record.id,
                in_use_by.join(", ")
            )));
        }
        db.remove_network(&record.id)?;
        self.tear_down(record)?;
        emit(db, record, "destroy", None);
        Ok(())
    }

    /// Removes every network of this root, the default one too (`system reset`).
    pub fn remove_all(&self, db: &mut Db) -> Result<()> {
        for record in db.networks()? {
            db.remove_network(&record.id)?;
            self.tear_down(&record)?;
            emit(db, &record, "destroy", None);
        }
        Ok(())
    }

    /// Prepares a container's network namespace with an interface on each network (the
    /// first one carries the default route), before its process starts.
    /// `networks`: each by name (or ID), with the address asked for there, if any;
    /// `aliases`: the names the container answers to on a network, by its name.
    pub fn attach(
        &self,
        db: &mut Db,
        container_id: &str,
        aliases: &dyn Fn(&str) -> Vec<String>,
        networks: &[(String, Requested)],
    ) -> Result<Attachment> {
        if !networks.is_empty() {
            strata_host_programs::NFT.find()?;
        }
        let path = self.netns_path(container_id);
        // A pin left by an engine that was killed is replaced.
        self.detach(db, container_id)?;
        netns::create(&path)?;
        let mut attachment = Attachment {
            netns: path.clone(),
            endpoints: Vec::new(),
        };
        let result = (|| {
            let mut inner = netns::within(&path, Netlink::open)?;
            let lo = inner
                .link_index("lo")?
                .ok_or_else(|| NetworkError::NotFound("lo".into()))?;
            inner.set_up(lo)?;
            for (i, (name, wanted)) in networks.iter().enumerate() {
                let network = self.find(db, name)?;
                let names = aliases(&network.name);
                let endpoint = self.connect_in(db, &mut inner, container_id, &names, &network, wanted.clone(), i)?;
                attachment.endpoints.push(endpoint);
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(attachment),
            Err(e) => {
                let _ = self.detach(db, container_id);
                Err(e)
            }
        }
    }

    /// `network connect` for a running container: one more interface.
    pub fn connect(
        &self,
        db: &mut Db,
        container_id: &str,
        aliases: &[String],
        network: &NetworkRecord,
        wanted: Requested,
    ) -> Result<Endpoint> {
        strata_host_programs::NFT.find()?;
        let path = self.netns_path(container_id);
        let mut inner = netns::within(&path, Netlink::open)?;
        let count = inner.links()?.iter().filter(|(_, n)| n.starts_with("eth")).count();
        self.connect_in(db, &mut inner, container_id, aliases, network, wanted, count)
    }

    #[allow(clippy::too_many_arguments)]
    fn connect_in(
        &self,
        db: &mut Db,
        inner: &mut Netlink,
        container_id: &str,
        aliases: &[String],
        network: &NetworkRecord,
        wanted: Requested,
        position: usize,
    ) -> Result<Endpoint> {
        let (subnet, gateway) = addressing(network)?;
        if let Some(ip) = wanted.ip {
            ipam::check_static(&subnet, gateway, ip)
                .map_err(|why| NetworkError::Invalid(format!("--ip {ip} on network {}: {why}", network.name)))?;
        }
        let v6 = addressing6(network)?;
        match (wanted.ip6, v6) {
            (Some(ip), None) => {
                return Err(NetworkError::Invalid(format!(
                    "--ip6 {ip}: network {} has no IPv6; create a network with --ipv6 --subnet PREFIX/64 for it",
                    network.name
                )))
            }
            (Some(ip), Some((subnet6, gateway6))) => ipam::check_static6(&subnet6, gateway6, ip)
                .map_err(|why| NetworkError::Invalid(format!("--ip6 {ip} on network {}: {why}", network.name)))?,
            (None, _) => {}
        }
        let mut host = Netlink::open()?;
        let bridge = self.ensure_up(&mut host, network)?;
        let record = db.allocate_endpoint(
            &network.id,
            container_id,
            &serde_json::to_string(aliases).expect("strings serialize"),
            &wanted.mac.map(mac_text).unwrap_or_default(),
            |taken, taken6| {
                let ip = match wanted.ip {
                    Some(ip) if taken.contains(&ip.to_string()) => {
                        return Err(format!("address {ip} is already in use on network {}", network.name))
                    }
                    Some(ip) => ip.to_string(),
                    None => ipam::next_free(&subnet, gateway, taken)
                        .map(|ip| ip.to_string())
                        .ok_or_else(|| format!("no addresses left on network {}", network.name))?,
                };
                let ip6 = match (wanted.ip6, v6) {
                    (_, None) => String::new(),
                    (Some(ip), _) if taken6.contains(&ip.to_string()) => {
                        return Err(format!("address {ip} is already in use on network {}", network.name))
                    }
                    (Some(ip), _) => ip.to_string(),
                    (None, Some((subnet6, gateway6))) => ipam::next_free6(&subnet6, gateway6, taken6)
                        .map(|ip| ip.to_string())
                        .ok_or_else(|| format!("no IPv6 addresses left on network {}", network.name))?,
                };
                Ok((ip, ip6))
            },
        )?;
        let ip: Ipv4Addr = record.ip.parse().expect("addresses are recorded in dotted form");
        let mac = parse_mac(&record.mac).unwrap_or_else(|| mac_for(ip));
        let interface = format!("eth{position}");
        let netns_file = netns::open(&self.netns_path(container_id))?;
        let name = host_veth(container_id, &network.id);
        // The pair of this container's previous run (a restart) may still be on its
        // way out with its namespace, which the kernel destroys in the background.
        if let Some(stale) = host.link_index(&name)? {
            let _ = host.delete_link(stale);
        }
        host.add_veth(&name, bridge, &interface, mac, mtu(network), netns_file.as_fd())?;
        let index = inner
            .link_index(&interface)?
            .ok_or_else(|| NetworkError::NotFound(interface.clone()))?;
        inner.add_address(index, ip, subnet.prefix_len())?;
        let ipv6 = match (record.ip6.parse::<Ipv6Addr>().ok(), v6) {
            (Some(ip6), Some((subnet6, gateway6))) => {
                netns::within(&self.netns_path(container_id), || nat::enable_ipv6_inside(&interface))?;
                inner.add_address6(index, ip6, subnet6.prefix_len())?;
                Some(Ipv6Endpoint {
                    ip: ip6,
                    prefix: subnet6.prefix_len(),
                    gateway: gateway6,
                })
            }
            _ => None,
        };
        for address in &wanted.link_local {
            match address {
                std::net::IpAddr::V4(a) => inner.add_address(index, *a, 16)?,
                std::net::IpAddr::V6(a) => {
                    netns::within(&self.netns_path(container_id), || nat::enable_ipv6_inside(&interface))?;
                    inner.add_address6(index, *a, 64)?
                }
            }
        }
        inner.set_up(index)?;
        if position == 0 {
            inner.add_default_route(gateway)?;
        }
        // The first network with IPv6 carries the IPv6 default route.
        if let Some(v6) = &ipv6 {
            if !inner.routes6()?.iter().any(|(_, len)| *len == 0) {
                inner.add_default_route6(v6.gateway)?;
            }
        }
        emit(db, network, "connect", Some(container_id));
        Ok(Endpoint {
            network: network.clone(),
            ip,
            prefix: subnet.prefix_len(),
            gateway,
            mac: mac_text(mac),
            interface,
            ipv6,
        })
    }

    /// `network disconnect` for a running container.
    pub fn disconnect(&self, db: &mut Db, container_id: &str, network: &NetworkRecord) -> Result<()> {
        let mut nl = Netlink::open()?;
        if let Some(index) = nl.link_index(&host_veth(container_id, &network.id))? {
            nl.delete_link(index)?;
        }
        db.release_endpoints(container_id, Some(&network.id))?;
        emit(db, network, "disconnect", Some(container_id));
        Ok(())
    }

    /// Undoes `attach`: unpins the namespace and releases the addresses. Safe to repeat.
    ///
    /// The veth pairs are not deleted one by one: that waits for an RCU grace period per
    /// link (about 40 ms here). Once the pin is gone and the container's processes have
    /// exited, the kernel destroys the namespace and, with it, every veth pair that has
    /// an end inside, in the background.
    pub fn detach(&self, db: &mut Db, container_id: &str) -> Result<()> {
        netns::remove(&self.netns_path(container_id))?;
        let held: Vec<String> = db
            .endpoints(None)?
            .into_iter()
            .filter(|e| e.container_id == container_id)
            .map(|e| e.network_id)
            .collect();
        db.release_endpoints(container_id, None)?;
        if !held.is_empty() {
            for network in db.networks()?.iter().filter(|n| held.contains(&n.id)) {
                emit(db, network, "disconnect", Some(container_id));
            }
        }
        Ok(())
    }

    /// Containers with endpoints, for reconciling against the live ones.
    pub fn attached_containers(&self, db: &Db) -> Result<Vec<String>> {
        let mut ids: Vec<String> = db.endpoints(None)?.into_iter().map(|e| e.container_id).collect();
        if let Ok(dir) = std::fs::read_dir(self.root.join("netns")) {
            ids.extend(dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

/// Records a network event (Docker's: the network's ID, name and type, and the
/// container for `connect` and `disconnect`). A journal that cannot be written never
/// fails the change it describes.
fn emit(db: &mut Db, network: &NetworkRecord, action: &str, container: Option<&str>) {
    let event = strata_metadata::Event::new(strata_metadata::EventType::Network, action, &network.id)
        .with("name", &network.name)
        .with("type", &network.driver)
        .with("container", container.unwrap_or_default());
    if let Err(e) = db.record_event(&event) {
        log::warn!("recording the network {action} event: {e}");
    }
}

/// A network's subnet and gateway, as recorded.
fn addressing(record: &NetworkRecord) -> Result<(Ipv4Net, Ipv4Addr)> {
    let subnet = record
        .subnet
        .parse()
        .map_err(|_| NetworkError::Invalid(format!("network {} has a bad subnet", record.name)))?;
    let gateway = record
        .gateway
        .parse()
        .map_err(|_| NetworkError::Invalid(format!("network {} has a bad gateway", record.name)))?;
    Ok((subnet, gateway))
}

/// A network's IPv6 subnet and gateway, as recorded; `None` without IPv6.
fn addressing6(record: &NetworkRecord) -> Result<Option<(Ipv6Net, Ipv6Addr)>> {
    if record.subnet6.is_empty() {
        return Ok(None);
    }
    let bad = || NetworkError::Invalid(format!("network {} has a bad IPv6 subnet or gateway", record.name));
    Ok(Some((
        record.subnet6.parse().map_err(|_| bad())?,
        record.gateway6.parse().map_err(|_| bad())?,
    )))
}

type Families<'a> = (Option<&'a str>, Option<&'a str>, Option<Ipv4Addr>, Option<Ipv6Addr>);

/// Sorts `network create`'s `--subnet`s and `--gateway`s by family (IPv4 subnet, IPv6
/// subnet, IPv4 gateway, IPv6 gateway), refusing what strata's bridge networks cannot
/// hold: more than one of a kind, an IPv6 subnet without `--ipv6`, `--ipv6` without one.
fn split_families(opts: &NetworkOptions) -> Result<Families<'_>> {
    let (v6, v4): (Vec<&str>, Vec<&str>) = opts.subnets.iter().map(String::as_str).partition(|s| s.contains(':'));
    if v4.len() > 1 || v6.len() > 1 {
        return Err(NetworkError::Invalid(format!(
            "a bridge network takes one IPv4 and one IPv6 --subnet; got {}",
            opts.subnets.join(", ")
        )));
    }
    if let (Some(s), false) = (v6.first(), opts.ipv6) {
        return Err(NetworkError::Invalid(format!(
            "subnet {s} is IPv6 but the network is IPv4 only: add --ipv6 (the API's EnableIPv6)"
        )));
    }
    if opts.ipv6 && v6.is_empty() {
        return Err(NetworkError::Invalid(
            "--ipv6 (EnableIPv6) needs an IPv6 --subnet (a unique local prefix such as \
             fd12:3456:789a:1::/64 that no route of this host covers): strata has no default IPv6 address pool"
                .into(),
        ));
    }
    let (mut g4, mut g6) = (None, None);
    for g in &opts.gateways {
        match g.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) if g4.is_none() => g4 = Some(ip),
            Ok(IpAddr::V6(ip)) if g6.is_none() && opts.ipv6 => g6 = Some(ip),
            Ok(IpAddr::V6(ip)) if !opts.ipv6 => {
                return Err(NetworkError::Invalid(format!(
                    "gateway {ip} is IPv6 but the network is IPv4 only: add --ipv6 and an IPv6 --subnet"
                )))
            }
            Ok(_) => {
                return Err(NetworkError::Invalid(format!(
                    "a bridge network takes one --gateway per address family; got {}",
                    opts.gateways.join(", ")
                )))
            }
            Err(_) => return Err(NetworkError::Invalid(format!("invalid gateway {g:?}"))),
        }
    }
    Ok((v4.first().copied(), v6.first().copied(), g4, g6))
}

/// A container's MAC address on a network, Docker's scheme: 02:42 and the IPv4
/// address, so a reused address never meets a stale neighbour entry with another MAC.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// A unicast MAC address written as `92:d0:c6:0a:29:33`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let octets: Vec<u8> = text
        .split(':')
        .map(|o| (o.len() == 2).then(|| u8::from_str_radix(o, 16).ok()).flatten())
        .collect::<Option<_>>()?;
    let mac: [u8; 6] = octets.try_into().ok()?;
    // The group bit: a multicast address cannot be an interface's.
    (mac[0] & 1 == 0).then_some(mac)
}

/// `02:42:ac:11:00:02`.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The host end of a container's veth on a network: `st` + 6 hex of each ID (fits the
/// kernel's 15 characters, and tells whose it is).
pub fn host_veth(container_id: &str, network_id: &str) -> String {
    format!("st{}{}", &container_id[..6], &network_id[..6])
}

/// A stable ID for the networks strata has no record of (`host`, `none`).
pub fn builtin_network_id(name: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("strata-network-{name}")))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn host_lock() -> Result<nix::fcntl::Flock<std::fs::File>> {
    let path = Path::new(HOST_LOCK);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NetworkError::io(format!("creating {}", dir.display()), e))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| NetworkError::io(format!("opening {HOST_LOCK}"), e))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| NetworkError::sys(format!("locking {HOST_LOCK}"), e))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
