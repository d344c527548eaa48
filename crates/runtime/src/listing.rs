//! `ps`: the containers as typed rows (record, configuration, status, ports), filtered
//! as Docker filters them. Front ends format the columns.

use crate::cgroups::Cgroup;
use crate::error::Result;
use crate::lifecycle;
use chrono::{DateTime, Utc};
use strata_containers::health;
use strata_containers::{status_text, ContainerConfig, ContainerFilter, ContainerRecord, ContainerState, Containers};
use strata_images::FilterArgs;
use strata_network::ports::PublishedPort;

#[derive(Debug, Clone, Default)]
pub struct ContainerListOptions {
    /// Containers in any state (default: running ones).
    pub all: bool,
    /// Only the newest this many, of any state (`-n`, `-l`).
    pub limit: Option<usize>,
    pub filters: FilterArgs,
}

/// A port of a running container: published on the host, or only exposed.
#[derive(Debug, Clone)]
pub enum PortEntry {
    Published(PublishedPort),
    /// `80/tcp`.
    Exposed(String),
}

#[derive(Debug, Clone)]
pub struct ContainerRow {
    pub record: ContainerRecord,
    pub config: ContainerConfig,
    /// Running but frozen (`pause`).
    pub paused: bool,
    /// Docker's status text ("Up 3 minutes").
    pub status: String,
    pub ports: Vec<PortEntry>,
}

/// The published ports of a running container, then its exposed ports not published.
pub fn ports(containers: &Containers<'_>, record: &ContainerRecord, config: &ContainerConfig) -> Vec<PortEntry> {
    if record.state != ContainerState::Running {
        return Vec::new();
    }
    let published = crate::networking::published(containers, &record.id);
    let is_published = |e: &String| {
        published
            .iter()
            .any(|p| format!("{}/{}", p.container_port, p.protocol.as_str()) == *e)
    };
    let exposed: Vec<PortEntry> = config
        .exposed
        .iter()
        .filter(|e| !is_published(e))
        .map(|e| PortEntry::Exposed(e.clone()))
        .collect();
    published.into_iter().map(PortEntry::Published).chain(exposed).collect()
}

fn is_paused(record: &ContainerRecord) -> bool {
    record.state == ContainerState::Running && Cgroup::of(record).is_frozen()
}

/// The rows `ps` shows, newest first, with statuses as of `now`.
pub fn list_containers(
    containers: &Containers<'_>,
    options: &ContainerListOptions,
    now: DateTime<Utc>,
) -> Result<Vec<ContainerRow>> {
    let filter = ContainerFilter::new(&options.filters, containers)?;
    let any_state = options.all || options.limit.is_some();
    let mut rows = Vec::new();
    for record in lifecycle::reconcile(containers)? {
        if !any_state && record.state != ContainerState::Running {
            continue;
        }
        let config = containers.config(&record).ok().unwrap_or_default();
        let paused = is_paused(&record);
        let health = health::state_word(&containers.dir(&record.id), config.healthcheck.as_ref());
        if filter.matches(&record, &config, paused) && filter.matches_health(&health) {
            let mut status = status_text(&record, paused, now);
            // "Up 3 minutes (healthy)", as Docker's: a running container with a check.
            if record.state == ContainerState::Running && config.healthcheck.is_some() {
                status.push_str(&health::status_suffix(&health));
            }
            rows.push(ContainerRow {
                status,
                ports: ports(containers, &record, &config),
                record,
                config,
                paused,
            });
        }
    }
    rows.truncate(options.limit.unwrap_or(usize::MAX));
    Ok(rows)
}
