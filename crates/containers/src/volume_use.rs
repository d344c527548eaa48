//! Which containers use which volumes, and the removals that depend on it: `volume rm`
//! refuses a volume in use, `volume prune` removes the unused ones and says how much
//! space that freed.

use crate::error::{ContainerError, Result};
use crate::service::Containers;
use crate::volumes::Volumes;

/// (volume, container ID) for every volume of every container, in any state.
pub fn volume_users(containers: &Containers<'_>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for c in containers.list()? {
        for (volume, _) in containers.volumes_of(&c)? {
            out.push((volume, c.id.clone()));
        }
    }
    Ok(out)
}

fn users_of<'a>(users: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    users
        .iter()
        .filter(|(v, _)| v == name)
        .map(|(_, c)| c.as_str())
        .collect()
}

/// Removes a volume no container uses.
pub fn remove_volume(containers: &Containers<'_>, name: &str) -> Result<()> {
    let volumes = Volumes::new(containers.store().root());
    let users = volume_users(containers)?;
    let using = users_of(&users, name);
    if !using.is_empty() {
        return Err(ContainerError::VolumeInUse {
            name: name.to_string(),
            containers: using.join(", "),
        });
    }
    if volumes.get(name)?.is_none() {
        return Err(ContainerError::NoSuchVolume(name.to_string()));
    }
    containers.destroy_volume(name)
}

/// What `volume prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumesPruned {
    pub names: Vec<String>,
    /// Bytes of the removed volumes' data.
    pub reclaimed: u64,
}

/// Removes the volumes no container uses: anonymous ones, or all with `all` (Docker's
/// `volume prune -a`).
pub fn prune_volumes(containers: &Containers<'_>, all: bool) -> Result<VolumesPruned> {
    let volumes = Volumes::new(containers.store().root());
    let users = volume_users(containers)?;
    let mut pruned = VolumesPruned::default();
    for v in volumes.list()? {
        if (all || v.anonymous) && users_of(&users, &v.name).is_empty() {
            // Measured before removal; an unreadable size counts as nothing freed.
            pruned.reclaimed += strata_snapshots::disk_usage(&volumes.data(&v.name)).unwrap_or(0);
            containers.destroy_volume(&v.name)?;
            pruned.names.push(v.name);
        }
    }
    Ok(pruned)
}
