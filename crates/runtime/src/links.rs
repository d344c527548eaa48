//! `--link CONTAINER[:ALIAS]`, Docker's legacy links: the linked container by its alias
//! in /etc/hosts (on any network the two share), and on the default bridge the
//! variables that describe it (`ALIAS_PORT_80_TCP_ADDR`, `ALIAS_ENV_…`).

use crate::error::{Result, RuntimeError};
use strata_containers::{ContainerConfig, ContainerRecord, Containers, Link};
use strata_network::EndpointRecord;

/// A linked container as this one sees it.
struct Linked {
    link: Link,
    record: ContainerRecord,
    config: ContainerConfig,
    /// Its address on a network both containers are on.
    ip: String,
}

/// Every link must name a running container (Docker's rule at start).
pub fn check_running(containers: &Containers<'_>, record: &ContainerRecord, config: &ContainerConfig) -> Result<()> {
    for link in &config.links {
        let target = containers.resolve(&link.container)?;
        if !crate::lifecycle::is_running(containers, &target) {
            return Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
                format!(
                    "Cannot link to a non running container: /{} AS /{}/{}",
                    target.name, record.name, link.alias
                ),
            )));
        }
    }
    Ok(())
}

/// The links that reach the container over a shared network.
fn linked(
    containers: &Containers<'_>,
    config: &ContainerConfig,
    mine: &[&EndpointRecord],
    all: &[EndpointRecord],
) -> Vec<Linked> {
    config
        .links
        .iter()
        .filter_map(|link| {
            let endpoint = all
                .iter()
                .find(|e| e.container_id == link.container && mine.iter().any(|m| m.network_id == e.network_id))?;
            let record = containers.resolve(&link.container).ok()?;
            let config = containers.config(&record).ok()?;
            Some(Linked {
                link: link.clone(),
                record,
                config,
                ip: endpoint.ip.clone(),
            })
        })
        .collect()
}

/// /etc/hosts lines: `IP ALIAS HOSTNAME NAME`, as Docker writes them.
pub fn host_entries(
    containers: &Containers<'_>,
    config: &ContainerConfig,
    mine: &[&EndpointRecord],
    all: &[EndpointRecord],
) -> Vec<String> {
    linked(containers, config, mine, all)
        .into_iter()
        .map(|l| {
            let mut names = vec![l.link.alias.clone(), l.config.hostname.clone(), l.record.name.clone()];
            names.dedup();
            format!("{}\t{}\n", l.ip, names.join(" "))
        })
        .collect()
}

/// The variables of links on the default bridge: `ALIAS_NAME`, `ALIAS_PORT…` for each
/// exposed port, `ALIAS_ENV_…` for the linked container's environment.
pub fn environment(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    config: &ContainerConfig,
) -> Result<Vec<String>> {
    if config.links.is_empty() || config.networks().first().map(String::as_str) != Some("bridge") {
        return Ok(Vec::new());
    }
    let db = containers.store().db();
    let all = db.endpoints(None)?;
    drop(db);
    let mine: Vec<&EndpointRecord> = all.iter().filter(|e| e.container_id == record.id).collect();
    let mut env = Vec::new();
    for l in linked(containers, config, &mine, &all) {
        let prefix: String = l
            .link
            .alias
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        env.push(format!("{prefix}_NAME=/{}/{}", record.name, l.link.alias));
        let mut ports: Vec<(u16, String)> = l
            .config
            .exposed
            .iter()
            .filter_map(|e| {
                let (port, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
                Some((port.parse().ok()?, proto.to_string()))
            })
            .collect();
        ports.sort();
        if let Some((port, proto)) = ports.first() {
            env.push(format!("{prefix}_PORT={proto}://{}:{port}", l.ip));
        }
        for (port, proto) in &ports {
            let key = format!("{prefix}_PORT_{port}_{}", proto.to_uppercase());
            env.push(format!("{key}={proto}://{}:{port}", l.ip));
            env.push(format!("{key}_ADDR={}", l.ip));
            env.push(format!("{key}_PORT={port}"));
            env.push(format!("{key}_PROTO={proto}"));
        }
        for var in &l.config.env {
            let Some((name, value)) = var.split_once('=') else {
                continue;
            };
            // Docker leaves out the two every image sets.
            if name != "HOME" && name != "PATH" {
                env.push(format!("{prefix}_ENV_{name}={value}"));
            }
        }
    }
    Ok(env)
}
