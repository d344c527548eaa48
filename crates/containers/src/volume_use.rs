//! Which containers use which volumes, and the changes that depend on it: volumes made
//! and destroyed with their events, `volume rm` refusing a volume in use, `volume prune`
//! removing the unused ones and saying how much space that freed.

use crate::error::{ContainerError, Result};
use crate::service::Containers;
use crate::volumes::{VolumeDocument, VolumeMeta, VolumeUsage, Volumes};
use strata_images::{FilterArgs, PruneFilter};

/// The filters `volume ls` knows.
pub const VOLUME_FILTERS: [&str; 4] = ["dangling", "driver", "label", "name"];

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

/// `volume ls`: the volumes `filters` let through, by name. `name` matches a part of
/// the name, `driver` is `local`, `dangling=true` keeps those no container uses, and
/// `label` reads the volume's labels (and an anonymous volume's mark).
pub fn list_volumes(containers: &Containers<'_>, filters: &FilterArgs) -> Result<Vec<VolumeMeta>> {
    filters.check_keys("volumes", &VOLUME_FILTERS)?;
    let dangling = filters.boolean("dangling")?;
    let users = match dangling {
        Some(_) => volume_users(containers)?,
        None => Vec::new(),
    };
    let names: Vec<&str> = filters.values("name").collect();
    let drivers: Vec<&str> = filters.values("driver").collect();
    let labels = filters.labels();
    let wanted = |v: &VolumeMeta| {
        let own = v.labels();
        (names.is_empty() || names.iter().any(|n| v.name.contains(n)))
            && (drivers.is_empty() || drivers.contains(&"local"))
            && dangling.is_none_or(|d| d == users_of(&users, &v.name).is_empty())
            && labels.iter().all(|l| l.matches(|k| own.get(k).map(String::as_str)))
    };
    Ok(Volumes::new(containers.store().root())
        .list()?
        .into_iter()
        .filter(wanted)
        .collect())
}

/// Every volume's document with its usage: bytes of data and the containers using it
/// (`system df`).
pub fn volumes_with_usage(containers: &Containers<'_>) -> Result<Vec<VolumeDocument>> {
    let volumes = Volumes::new(containers.store().root());
    let users = volume_users(containers)?;
    let with_usage = |v: VolumeMeta| {
        let mut document = volumes.document(&v);
        document.usage_data = Some(VolumeUsage {
            size: strata_snapshots::disk_usage(&volumes.data(&v.name)).unwrap_or(0) as i64,
            ref_count: users_of(&users, &v.name).len() as i64,
        });
        document
    };
    Ok(volumes.list()?.into_iter().map(with_usage).collect())
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

/// Removes the volumes no container uses that `filter` lets go: anonymous ones, or all
/// with `all` (Docker's `volume prune -a`), by their labels; `until` is refused, as
/// Docker's.
pub fn prune_volumes(containers: &Containers<'_>, all: bool, filter: &PruneFilter) -> Result<VolumesPruned> {
    if filter.has_until() {
        return Err(ContainerError::Invalid(
            "the \"until\" filter is not supported with volumes".into(),
        ));
    }
    let volumes = Volumes::new(containers.store().root());
    let users = volume_users(containers)?;
    let mut pruned = VolumesPruned::default();
    for v in volumes.list()? {
        let labels = v.labels();
        let label = |k: &str| labels.get(k).map(String::as_str);
        if (all || v.anonymous) && users_of(&users, &v.name).is_empty() && filter.matches(None, label) {
            // Measured before removal; an unreadable size counts as nothing freed.
            pruned.reclaimed += strata_snapshots::disk_usage(&volumes.data(&v.name)).unwrap_or(0);
            containers.destroy_volume(&v.name)?;
            pruned.names.push(v.name);
        }
    }
    Ok(pruned)
}

impl Containers<'_> {
    /// `volume create`: the volume (an existing one as it is), with its `create` event
    /// when it is new.
    pub fn create_volume(&self, name: Option<&str>) -> Result<crate::volumes::VolumeMeta> {
        self.create_labelled_volume(name, &[])
    }

    /// [`Self::create_volume`] with `--label`s (`KEY=VALUE`; a bare `KEY` has an empty
    /// value), kept on a new volume.
    pub fn create_labelled_volume(&self, name: Option<&str>, labels: &[String]) -> Result<crate::volumes::VolumeMeta> {
        let labels = crate::config::parse_labels(labels)?;
        let volumes = Volumes::new(self.store().root());
        let fresh = match name {
            Some(n) => volumes.get(n)?.is_none(),
            None => true,
        };
        let meta = volumes.create(name, name.is_none(), &labels)?;
        if fresh {
            self.store().emit(crate::events::volume_event(&meta.name, "create"));
        }
        Ok(meta)
    }

    /// Deletes a volume no container uses (the caller checked), with its `destroy`
    /// event.
    pub fn destroy_volume(&self, name: &str) -> Result<()> {
        Volumes::new(self.store().root()).remove(name)?;
        self.store().emit(crate::events::volume_event(name, "destroy"));
        Ok(())
    }
}
