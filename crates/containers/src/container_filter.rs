//! `ps --filter`: which containers a listing shows, by Docker's rules (values of one
//! key are alternatives; labels must all match).

use crate::config::ContainerConfig;
use crate::error::Result;
use crate::service::Containers;
use crate::status::state_text;
use chrono::{DateTime, Utc};
use strata_images::age::parse_time;
use strata_images::{FilterArgs, FilterError, LabelFilter};
use strata_metadata::{ContainerRecord, ContainerState};

/// The filters `ps` knows.
pub const CONTAINER_FILTERS: [&str; 11] = [
    "label", "status", "name", "id", "ancestor", "exited", "before", "since", "network", "volume", "health",
];

/// The health states `health=` takes (`none`: no health check).
const HEALTHS: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// Docker's container states, as `status=` takes them.
const STATUSES: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

#[derive(Debug, Clone, Default)]
pub struct ContainerFilter {
    pub labels: Vec<LabelFilter>,
    pub statuses: Vec<String>,
    /// Substrings of the name.
    pub names: Vec<String>,
    /// Prefixes of the ID.
    pub ids: Vec<String>,
    /// Image names, or parts of image IDs.
    pub ancestors: Vec<String>,
    pub exit_codes: Vec<i64>,
    /// Only containers created before / after these.
    pub before: Option<DateTime<Utc>>,
    pub since: Option<DateTime<Utc>>,
    /// Networks the container joins, by name.
    pub networks: Vec<String>,
    /// Volumes it mounts, by name, or the paths they are mounted at.
    pub volumes: Vec<String>,
    /// Health states (`starting`, `healthy`, `unhealthy`, `none`).
    pub healths: Vec<String>,
}

fn owned(args: &FilterArgs, key: &str) -> Vec<String> {
    args.values(key).map(str::to_string).collect()
}

fn bad_value(key: &str, value: &str, reason: &str) -> FilterError {
    FilterError::Value {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

impl ContainerFilter {
    /// Checks the keys and values; `before=`/`since=` name containers of `containers`.
    pub fn new(args: &FilterArgs, containers: &Containers<'_>) -> Result<Self> {
        args.check_keys("containers", &CONTAINER_FILTERS)?;
        let created = |key| -> Result<Option<DateTime<Utc>>> {
            match args.last(key) {
                Some(name) => Ok(parse_time(&containers.resolve(name)?.created)),
                None => Ok(None),
            }
        };
        Ok(ContainerFilter {
            labels: args.labels(),
            statuses: checked_statuses(args)?,
            names: owned(args, "name"),
            ids: owned(args, "id"),
            ancestors: owned(args, "ancestor"),
            exit_codes: exit_codes(args)?,
            before: created("before")?,
            since: created("since")?,
            networks: owned(args, "network"),
            volumes: owned(args, "volume"),
            healths: checked_healths(args)?,
        })
    }

    /// Whether the container passes; `paused` is whether it is frozen.
    pub fn matches(&self, c: &ContainerRecord, config: &ContainerConfig, paused: bool) -> bool {
        let any = |wanted: &[String], test: &dyn Fn(&str) -> bool| wanted.is_empty() || wanted.iter().any(|w| test(w));
        let created = parse_time(&c.created);
        self.labels.iter().all(|l| l.matches(|k| config.labels.get(k).map(String::as_str)))
            // A paused container is also running, as strata always listed it.
            && any(&self.statuses, &|s| s == c.state.as_str() || s == state_text(c, paused))
            && any(&self.names, &|n| c.name.contains(n))
            && any(&self.ids, &|i| c.id.starts_with(i))
            && any(&self.ancestors, &|a| c.image_name == a || c.image_id.contains(a))
            && (self.exit_codes.is_empty()
                || (c.state == ContainerState::Exited && self.exit_codes.contains(&c.exit_code.unwrap_or(0))))
            && any(&self.networks, &|n| config.networks().iter().any(|joined| joined == n))
            && any(&self.volumes, &|v| {
                config
                    .binds
                    .iter()
                    .any(|b| b.volume.as_deref() == Some(v) || b.destination == v)
            })
            && self.before.is_none_or(|b| created.is_some_and(|c| c < b))
            && self.since.is_none_or(|s| created.is_some_and(|c| c > s))
    }
}

impl ContainerFilter {
    /// Whether a container in this health state (see [`crate::health::state_word`])
    /// passes.
    pub fn matches_health(&self, health: &str) -> bool {
        self.healths.is_empty() || self.healths.iter().any(|h| h == health)
    }
}

fn checked_healths(args: &FilterArgs) -> Result<Vec<String>> {
    for h in args.values("health") {
        if !HEALTHS.contains(&h) {
            let reason = format!("use one of {}", HEALTHS.join(", "));
            return Err(bad_value("health", h, &reason).into());
        }
    }
    Ok(owned(args, "health"))
}

fn checked_statuses(args: &FilterArgs) -> Result<Vec<String>> {
    for s in args.values("status") {
        if !STATUSES.contains(&s) {
            let reason = format!("use one of {}", STATUSES.join(", "));
            return Err(bad_value("status", s, &reason).into());
        }
    }
    Ok(owned(args, "status"))
}

fn exit_codes(args: &FilterArgs) -> Result<Vec<i64>> {
    args.values("exited")
        .map(|v| v.parse().map_err(|_| bad_value("exited", v, "use an exit code").into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::tests::record;

    fn config(labels: &[(&str, &str)]) -> ContainerConfig {
        ContainerConfig {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn values_of_one_key_are_alternatives() {
        let f = ContainerFilter {
            names: vec!["db".into(), "we".into()],
            statuses: vec!["exited".into(), "running".into()],
            ..Default::default()
        };
        assert!(f.matches(&record(ContainerState::Running), &config(&[]), false));
        assert!(!f.matches(&record(ContainerState::Created), &config(&[]), false));
    }

    #[test]
    fn labels_must_all_match() {
        let f = ContainerFilter {
            labels: vec![LabelFilter::parse("team=web"), LabelFilter::parse("tier")],
            ..Default::default()
        };
        let r = record(ContainerState::Created);
        assert!(f.matches(&r, &config(&[("team", "web"), ("tier", "")]), false));
        assert!(!f.matches(&r, &config(&[("team", "web")]), false));
    }

    #[test]
    fn networks_by_name_and_volumes_by_name_or_mount_point() {
        let r = record(ContainerState::Running);
        let mut c = config(&[]);
        c.network = "back".into();
        c.extra_networks = vec!["front".into()];
        c.binds = vec![crate::config::Bind {
            source: "/var/lib/strata/volumes/data/_data".into(),
            destination: "/srv".into(),
            readonly: false,
            volume: Some("data".into()),
        }];
        let by = |f: ContainerFilter| f.matches(&r, &c, false);
        let networks = |n: &[&str]| ContainerFilter {
            networks: n.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let volumes = |v: &str| ContainerFilter {
            volumes: vec![v.into()],
            ..Default::default()
        };
        assert!(by(networks(&["front"])) && by(networks(&["x", "back"])));
        assert!(!by(networks(&["bridge"])));
        assert!(by(volumes("data")) && by(volumes("/srv")));
        assert!(!by(volumes("other")));
    }

    #[test]
    fn paused_containers_match_paused_and_running() {
        let paused = ContainerFilter {
            statuses: vec!["paused".into()],
            ..Default::default()
        };
        let r = record(ContainerState::Running);
        assert!(paused.matches(&r, &config(&[]), true));
        assert!(!paused.matches(&r, &config(&[]), false));
    }

    #[test]
    fn ids_ancestors_exit_codes_and_creation_times() {
        let mut r = record(ContainerState::Exited);
        r.exit_code = Some(3);
        let c = config(&[]);
        let by = |f: ContainerFilter| f.matches(&r, &c, false);
        assert!(by(ContainerFilter {
            ids: vec!["0123".into()],
            ..Default::default()
        }));
        assert!(!by(ContainerFilter {
            ids: vec!["123".into()],
            ..Default::default()
        }));
        assert!(by(ContainerFilter {
            ancestors: vec!["busybox".into()],
            ..Default::default()
        }));
        assert!(by(ContainerFilter {
            ancestors: vec!["feed".into()],
            ..Default::default()
        }));
        assert!(by(ContainerFilter {
            exit_codes: vec![3],
            ..Default::default()
        }));
        assert!(!by(ContainerFilter {
            exit_codes: vec![0],
            ..Default::default()
        }));
        let t = |s| parse_time(s);
        assert!(by(ContainerFilter {
            before: t("2024-01-02T10:00:00.1Z"),
            ..Default::default()
        }));
        assert!(!by(ContainerFilter {
            since: t("2024-01-02T10:00:00Z"),
            ..Default::default()
        }));
    }
}
