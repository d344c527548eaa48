//! `system prune`: the unused objects of every kind in one call, as Docker's CLI
//! composes it from the per-kind prunes, each under the same filter: stopped
//! containers first, so that the volumes, networks and images only they used go too.

use crate::error::Result;
use strata_containers::volume_use::prune_volumes;
use strata_containers::Containers;
use strata_images::remove::RemoveEvent;
use strata_images::PruneFilter;

/// What `system prune` was asked.
#[derive(Debug, Clone, Default)]
pub struct SystemPruneOptions {
    /// Every unused image, not only dangling ones; a build's intermediate images, and the
    /// build cache that points at them, go only then (Docker's rule).
    pub all: bool,
    /// Also the anonymous volumes no container uses.
    pub volumes: bool,
    pub filter: PruneFilter,
}

/// What `system prune` removed, kind by kind, in the order it removed them.
#[derive(Debug, Default)]
pub struct SystemPruned {
    /// Container IDs.
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
    /// The untag and delete steps of the images removed (image IDs, then their layers).
    pub images: Vec<RemoveEvent>,
    /// The `RUN --mount=type=cache` directories removed (with `all`), by key.
    pub build_cache: Vec<String>,
    /// Bytes freed: containers' writable layers, volume data, image layers and blobs,
    /// partial downloads, and the leftovers of killed commands.
    pub reclaimed: u64,
}

/// Removes the stopped containers, the anonymous volumes no container uses (with
/// `volumes`), the networks no container is configured with, the dangling (with `all`,
/// every unused) images and the idle build cache mounts, and the files no record
/// references. A filter volumes refuse
/// (`until`) stops the prune before anything is removed.
pub fn system_prune(containers: &Containers<'_>, options: &SystemPruneOptions) -> Result<SystemPruned> {
    let store = containers.store();
    let mut pruned = SystemPruned::default();
    if options.volumes && options.filter.has_until() {
        // Refused as the volume prune would refuse it, before the containers go.
        prune_volumes(containers, false, &options.filter)?;
    }
    let stopped = crate::lifecycle::prune_matching(containers, &options.filter)?;
    pruned.containers = stopped.removed;
    pruned.reclaimed += stopped.bytes;
    if options.volumes {
        let volumes = prune_volumes(containers, false, &options.filter)?;
        pruned.volumes = volumes.names;
        pruned.reclaimed += volumes.reclaimed;
    }
    pruned.networks = crate::networking::prune(containers, &options.filter)?;
    let (images, image_bytes) = store.prune_matching(options.all, &options.filter)?;
    pruned.images = images;
    pruned.reclaimed += image_bytes + store.remove_partial_downloads()?;
    // The build cache's mounts have no labels or creation filter of their own: a
    // filtered prune leaves them, as it leaves anything the filter cannot judge.
    if options.all && !options.filter.has_until() && !options.filter.has_labels() {
        let (caches, bytes) = store.prune_cache_mounts()?;
        pruned.build_cache = caches;
        pruned.reclaimed += bytes;
    }
    Ok(pruned)
}
