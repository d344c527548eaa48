//! Packet filter rules of a bridge network, through the `nft` binary: one table per
//! bridge and family (`ip strata-BRIDGE`, and `ip6 strata-BRIDGE` for a network with
//! IPv6), replaced atomically and deleted with the network, so a network's rules are
//! found, and removed, by name alone. And the kernel settings a bridge network needs.

use crate::error::{NetworkError, Result};
use std::io::Write;
use std::process::{Command, Stdio};

fn table(bridge: &str) -> String {
    bridge.to_string()
}

/// Installs (or replaces) the rules of a bridge: outbound NAT for its subnet unless the
/// network is internal, in which case nothing is forwarded to or from it; and the
/// published ports, as two maps (any local address, or one address) that DNAT
/// arriving and locally made connections to the container. Connections from 127.0.0.1
/// leave masqueraded (the bridge routes loopback sources, see `route_localnet`), and so
/// do those between two containers of the bridge through a published port.
pub fn apply(bridge: &str, subnet: &str, internal: bool) -> Result<()> {
    let t = table(bridge);
    let body = if internal {
        format!(
            "chain forward {{ type filter hook forward priority filter; policy accept; \
             iifname \"{bridge}\" oifname != \"{bridge}\" drop; oifname \"{bridge}\" iifname != \"{bridge}\" drop; }}"
        )
    } else {
        let dnat = "fib daddr type local dnat ip to meta l4proto . th dport map @published; \
                    dnat ip to ip daddr . meta l4proto . th dport map @published_ip;";
        format!(
            "map published {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}\n\
             map published_ip {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}\n\
             chain prerouting {{ type nat hook prerouting priority -100; policy accept; {dnat} }}\n\
             chain output {{ type nat hook output priority -100; policy accept; {dnat} }}\n\
             chain postrouting {{ type nat hook postrouting priority srcnat; policy accept; \
             ip saddr {subnet} ip daddr != {subnet} masquerade; \
             oifname \"{bridge}\" ip saddr 127.0.0.0/8 masquerade; \
             iifname \"{bridge}\" oifname \"{bridge}\" ct status dnat masquerade; }}"
        )
    };
    // "add, delete, define" in one batch replaces any older version atomically.
    nft(
        &format!("replacing table {t}"),
        &format!("add table ip {t}\ndelete table ip {t}\ntable ip {t} {{\n{body}\n}}\n"),
    )
}

/// Installs (or replaces) the IPv6 rules of a bridge with IPv6: outbound NAT66 for its
/// IPv6 subnet (masqueraded, as Docker does by default, so the containers' ULA addresses
/// need no route back to them) unless the network is internal, in which case nothing
/// IPv6 is forwarded to or from it. Published ports reach containers over IPv6 through
/// the proxy, which relays to their IPv6 address (there is no DNAT from `::1`).
pub fn apply6(bridge: &str, subnet6: &str, internal: bool) -> Result<()> {
    let t = table(bridge);
    let body = if internal {
        format!(
            "chain forward {{ type filter hook forward priority filter; policy accept; \
             iifname \"{bridge}\" oifname != \"{bridge}\" drop; oifname \"{bridge}\" iifname != \"{bridge}\" drop; }}"
        )
    } else {
        format!(
            "chain postrouting {{ type nat hook postrouting priority srcnat; policy accept; \
             ip6 saddr {subnet6} ip6 daddr != {subnet6} masquerade; }}"
        )
    };
    nft(
        &format!("replacing table ip6 {t}"),
        &format!("add table ip6 {t}\ndelete table ip6 {t}\ntable ip6 {t} {{\n{body}\n}}\n"),
    )
}

/// A published port as the kernel forwards it.
#[derive(Debug, Clone)]
pub struct Forward {
    pub protocol: &'static str,
    /// None: every local address.
    pub host_ip: Option<std::net::Ipv4Addr>,
    pub host_port: u16,
    pub target: std::net::Ipv4Addr,
    pub target_port: u16,
}

impl Forward {
    fn element(&self, with_value: bool) -> (String, String) {
        let (map, key) = match self.host_ip {
            None => ("published", format!("{} . {}", self.protocol, self.host_port)),
            Some(ip) => ("published_ip", format!("{ip} . {} . {}", self.protocol, self.host_port)),
        };
        let element = if with_value {
            format!("{key} : {} . {}", self.target, self.target_port)
        } else {
            key
        };
        (map.to_string(), element)
    }
}

/// Adds published ports to a bridge's maps.
pub fn publish(bridge: &str, forwards: &[Forward]) -> Result<()> {
    if forwards.is_empty() {
        return Ok(());
    }
    let t = table(bridge);
    let script: String = forwards
        .iter()
        .map(|f| {
            let (map, element) = f.element(true);
            format!("add element ip {t} {map} {{ {element} }}\n")
        })
        .collect();
    nft(&format!("publishing ports on {t}"), &script)
}

/// Removes published ports from a bridge's maps (one by one: a port already gone must
/// not keep the others).
pub fn unpublish(bridge: &str, forwards: &[Forward]) {
    let t = table(bridge);
    for f in forwards {
        let (map, element) = f.element(false);
        let _ = nft(
            &format!("unpublishing a port on {t}"),
            &format!("delete element ip {t} {map} {{ {element} }}\n"),
        );
    }
}

/// Lets the bridge route packets with loopback addresses (127.0.0.1 connecting to a
/// published port), which the kernel otherwise drops as martians.
pub fn route_localnet(bridge: &str) -> Result<()> {
    let knob = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    std::fs::write(&knob, "1").map_err(|e| NetworkError::io(format!("writing {knob}"), e))
}

/// Removes a bridge's rules, both families; rules that are already gone are fine.
pub fn remove(bridge: &str) -> Result<()> {
    let t = table(bridge);
    nft(
        &format!("deleting table {t}"),
        &format!("add table ip {t}\ndelete table ip {t}\nadd table ip6 {t}\ndelete table ip6 {t}\n"),
    )
}

/// Turns IPv6 on for a host link (a bridge of a network with IPv6), which the host's
/// `default.disable_ipv6` may have left off.
pub fn enable_ipv6(link: &str) -> Result<()> {
    write_knob(&format!("/proc/sys/net/ipv6/conf/{link}/disable_ipv6"), "0")
}

/// Turns IPv6 on inside a container's network namespace (the calling thread must be in
/// it: `/proc/sys/net` shows the opener's namespace): for every link, and for its
/// `interface`, which exists already.
pub fn enable_ipv6_inside(interface: &str) -> Result<()> {
    for link in ["all", "default", interface] {
        write_knob(&format!("/proc/sys/net/ipv6/conf/{link}/disable_ipv6"), "0")?;
    }
    Ok(())
}

fn write_knob(knob: &str, value: &str) -> Result<()> {
    std::fs::write(knob, value)
        .map_err(|e| NetworkError::io(format!("writing {knob} (is IPv6 enabled on this host?)"), e))
}

/// Turns IPv6 forwarding on, as `enable_forwarding` does IPv4's. If it was off, a guard
/// table keeps the host from forwarding any IPv6 that neither enters nor leaves one of
/// strata's bridges. Links that accept router advertisements (`accept_ra` 1) would stop
/// once the host forwards, and lose the routes they learn: they are set to 2, which
/// accepts them while forwarding, so the host's own IPv6 keeps working.
pub fn enable_forwarding6() -> Result<()> {
    const KNOB: &str = "/proc/sys/net/ipv6/conf/all/forwarding";
    if !forwarding_off(KNOB)? {
        return Ok(());
    }
    add_guard("ip6")?;
    let links = std::fs::read_dir("/proc/sys/net/ipv6/conf")
        .map_err(|e| NetworkError::io("listing /proc/sys/net/ipv6/conf", e))?;
    for link in links.flatten() {
        let knob = link.path().join("accept_ra");
        if std::fs::read_to_string(&knob).is_ok_and(|v| v.trim() == "1") {
            write_knob(&knob.display().to_string(), "2")?;
        }
    }
    write_knob(KNOB, "1")
}

/// Whether the forwarding switch `knob` is off.
fn forwarding_off(knob: &str) -> Result<bool> {
    let now = std::fs::read_to_string(knob).map_err(|e| NetworkError::io(format!("reading {knob}"), e))?;
    Ok(now.trim() != "1")
}

/// The `strata-guard` table of `family` (`ip`, `ip6`): the host forwards nothing that
/// neither enters nor leaves one of strata's bridges.
fn add_guard(family: &str) -> Result<()> {
    nft(
        &format!("adding table {family} strata-guard"),
        &format!(
            "table {family} strata-guard {{\nchain forward {{ type filter hook forward priority filter; policy accept; \
             iifname != \"strata*\" oifname != \"strata*\" drop; }}\n}}\n"
        ),
    )
}

/// Turns IPv4 forwarding on. If it was off, a guard table keeps the host from
/// forwarding anything that neither enters nor leaves one of strata's bridges, so only
/// our bridges forward, as the host's setting intended for the rest.
pub fn enable_forwarding() -> Result<()> {
    const KNOB: &str = "/proc/sys/net/ipv4/ip_forward";
    if !forwarding_off(KNOB)? {
        return Ok(());
    }
    add_guard("ip")?;
    std::fs::write(KNOB, "1").map_err(|e| NetworkError::io(format!("writing {KNOB}"), e))
}

fn nft(what: &str, script: &str) -> Result<()> {
    let mut child = Command::new(strata_host_programs::NFT.find()?)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetworkError::Nft {
            what: what.into(),
            reason: e.to_string(),
        })?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(script.as_bytes())
        .map_err(|e| NetworkError::io("writing to nft", e))?;
    let out = child
        .wait_with_output()
        .map_err(|e| NetworkError::io("waiting for nft", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetworkError::Nft {
            what: what.into(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
