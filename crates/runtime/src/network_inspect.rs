//! `network inspect`: a network's Docker-shaped document, with the names of the
//! containers attached to it.

use crate::error::Result;
use strata_containers::Containers;
use strata_network::{NetworkRecord, NetworkResource};

pub fn inspect_network(containers: &Containers<'_>, network: &NetworkRecord) -> Result<NetworkResource> {
    let endpoints = containers.store().db().endpoints(Some(&network.id))?;
    // An endpoint whose container is gone (being removed) shows without a name.
    let name_of = |id: &str| containers.resolve(id).map(|c| c.name).unwrap_or_default();
    Ok(NetworkResource::new(network, &endpoints, name_of))
}
