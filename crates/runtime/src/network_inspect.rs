//! `network ls` and `network inspect`: networks as Docker-shaped documents, with the
//! names of the containers attached to them, the built-in `host` and `none` included.

use crate::error::Result;
use strata_containers::Containers;
use strata_images::{FilterArgs, FilterError};
use strata_network::{NetworkError, NetworkRecord, NetworkResource, BUILTIN_NETWORKS, DEFAULT_NETWORK};

/// The filters `network ls` knows.
pub const NETWORK_FILTERS: [&str; 6] = ["driver", "id", "label", "name", "scope", "type"];

pub fn inspect_network(containers: &Containers<'_>, network: &NetworkRecord) -> Result<NetworkResource> {
    let endpoints = containers.store().db().endpoints(Some(&network.id))?;
    // An endpoint whose container is gone (being removed) shows without a name.
    let name_of = |id: &str| containers.resolve(id).map(|c| c.name).unwrap_or_default();
    Ok(NetworkResource::new(network, &endpoints, name_of))
}

/// The network `name` names (a name, an ID or a unique ID prefix), built-in or not.
pub fn find_network(containers: &Containers<'_>, name: &str) -> Result<NetworkResource> {
    if let Some(builtin) = builtin(name) {
        return Ok(builtin);
    }
    let record = crate::networking::networks(containers.store()).find(&mut containers.store().db(), name)?;
    inspect_network(containers, &record)
}

fn builtin(name: &str) -> Option<NetworkResource> {
    BUILTIN_NETWORKS
        .iter()
        .map(|(n, driver)| NetworkResource::builtin(n, driver))
        .find(|doc| doc.name == name || doc.id == name)
}

/// Every network that `filters` let through, sorted by name. The default network is
/// made by the first listing, as Docker's always exists. Docker's rules: `name` and `id`
/// match a part, `driver` and `scope` exactly, `type` is `builtin` or `custom`.
pub fn list_networks(containers: &Containers<'_>, filters: &FilterArgs) -> Result<Vec<NetworkResource>> {
    let filter = NetworkFilter::new(filters)?;
    let networks = crate::networking::networks(containers.store());
    networks.find(&mut containers.store().db(), DEFAULT_NETWORK)?;
    let records = networks.list(&containers.store().db())?;
    let mut out = BUILTIN_NETWORKS
        .iter()
        .map(|(n, driver)| NetworkResource::builtin(n, driver))
        .collect::<Vec<_>>();
    for record in &records {
        out.push(inspect_network(containers, record)?);
    }
    out.retain(|n| filter.matches(n));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

struct NetworkFilter {
    args: FilterArgs,
    /// `Some(true)`: only the predefined networks; `Some(false)`: only user-defined ones.
    builtin: Option<bool>,
}

impl NetworkFilter {
    fn new(args: &FilterArgs) -> Result<Self, NetworkError> {
        let invalid = |e: FilterError| NetworkError::Invalid(e.to_string());
        args.check_keys("networks", &NETWORK_FILTERS).map_err(invalid)?;
        let builtin = match args.last("type") {
            None => None,
            Some("builtin") => Some(true),
            Some("custom") => Some(false),
            Some(other) => {
                return Err(invalid(FilterError::Value {
                    key: "type".into(),
                    value: other.into(),
                    reason: "use builtin or custom".into(),
                }))
            }
        };
        Ok(NetworkFilter {
            args: args.clone(),
            builtin,
        })
    }

    fn matches(&self, n: &NetworkResource) -> bool {
        let any = |key: &str, pass: &dyn Fn(&str) -> bool| {
            let mut values = self.args.values(key).peekable();
            values.peek().is_none() || values.any(pass)
        };
        let predefined = n.name == DEFAULT_NETWORK || BUILTIN_NETWORKS.iter().any(|(b, _)| *b == n.name);
        any("name", &|v| n.name.contains(v))
            && any("id", &|v| n.id.contains(v))
            && any("driver", &|v| n.driver == v)
            && any("scope", &|v| n.scope == v)
            && self.builtin.is_none_or(|b| b == predefined)
            && self
                .args
                .labels()
                .iter()
                .all(|l| l.matches(|k| n.labels.get(k).and_then(|v| v.as_str())))
    }
}
