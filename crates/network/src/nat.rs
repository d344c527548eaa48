//! Packet filter rules of a bridge network, through the `nft` binary: one table per
//! bridge (`ip strata-BRIDGE`), replaced atomically and deleted with the network, so a
//! network's rules are found, and removed, by name alone.

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

/// Removes a bridge's rules; rules that are already gone are fine.
pub fn remove(bridge: &str) -> Result<()> {
    let t = table(bridge);
    nft(
        &format!("deleting table {t}"),
        &format!("add table ip {t}\ndelete table ip {t}\n"),
    )
}

/// Turns IPv4 forwarding on. If it was off, a guard table keeps the host from
/// forwarding anything that neither enters nor leaves one of strata's bridges, so only
/// our bridges forward, as the host's setting intended for the rest.
pub fn enable_forwarding() -> Result<()> {
    const KNOB: &str = "/proc/sys/net/ipv4/ip_forward";
    let now = std::fs::read_to_string(KNOB).map_err(|e| NetworkError::io(format!("reading {KNOB}"), e))?;
    if now.trim() == "1" {
        return Ok(());
    }
    nft(
        "adding table strata-guard",
        "table ip strata-guard {\nchain forward { type filter hook forward priority filter; policy accept; \
         iifname != \"strata*\" oifname != \"strata*\" drop; }\n}\n",
    )?;
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
