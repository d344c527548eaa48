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
/// network is internal, in which case nothing is forwarded to or from it.
pub fn apply(bridge: &str, subnet: &str, internal: bool) -> Result<()> {
    let t = table(bridge);
    let body = if internal {
        format!(
            "chain forward {{ type filter hook forward priority filter; policy accept; \
             iifname \"{bridge}\" oifname != \"{bridge}\" drop; oifname \"{bridge}\" iifname != \"{bridge}\" drop; }}"
        )
    } else {
        format!(
            "chain postrouting {{ type nat hook postrouting priority srcnat; policy accept; \
             ip saddr {subnet} ip daddr != {subnet} masquerade; }}"
        )
    };
    // "add, delete, define" in one batch replaces any older version atomically.
    nft(
        &format!("replacing table {t}"),
        &format!("add table ip {t}\ndelete table ip {t}\ntable ip {t} {{\n{body}\n}}\n"),
    )
}

/// Removes a bridge's rules; rules that are already gone are fine.
pub fn remove(bridge: &str) -> Result<()> {
    let t = table(bridge);
    nft(
        &format!("deleting table {t}"),
        &format!("add table ip {t}\ndelete table ip {t}\n"),
    )
}

/// Whether a bridge's table exists (used by tests and `system check`-style counts).
pub fn exists(bridge: &str) -> bool {
    Command::new("nft")
        .args(["list", "table", "ip", &table(bridge)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
    let mut child = Command::new("nft")
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
