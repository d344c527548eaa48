//! `rmi`, `image prune` and garbage collection of unreferenced files.

use crate::error::{ImageError, Result};
use crate::progress::short_id;
use crate::prune_filter::PruneFilter;
use crate::reference::ImageRef;
use crate::store::{digest, ImageStore};
use std::collections::BTreeSet;
use strata_metadata::RemovedImage;
use strata_snapshots::ChainId;

/// One line of `rmi` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// A name (as Docker prints it) no longer points at the image.
    Untagged(String),
    /// An image ID or a layer ChainID whose data was deleted.
    Deleted(String),
}

/// What a garbage collection removed.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    pub blobs: usize,
    pub snapshots: usize,
    pub stale: usize,
    pub bytes: u64,
}

fn familiar(full: &str) -> String {
    ImageRef::parse(full).map_or_else(|_| full.to_string(), |r| r.familiar())
}

impl ImageStore {
    /// Removes a name, and the image itself when no name is left (Docker's `rmi`).
    /// By ID, an image with several names needs `force`.
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>> {
        let resolved = self.resolve(name)?;
        let image = resolved.image;
        if let Some(reference) = resolved.reference {
            if image.tags.len() > 1 {
                self.db().untag(&reference.to_string())?;
                let lines = vec![RemoveEvent::Untagged(reference.familiar())];
                self.emit_removal(&image.id, &lines);
                return Ok(lines);
            }
        } else if image.tags.len() > 1 && !force {
            return Err(ImageError::Conflict(format!(
                "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                short_id(&image.id)
            )));
        }
        self.ensure_unused(&image.id)?;
        let lines = self.delete_image(&image.id)?;
        self.emit_removal(&image.id, &lines);
        Ok(lines)
    }

    /// Docker's rule: an image a container was created from stays (even with -f).
    fn ensure_unused(&self, id: &str) -> Result<()> {
        let users = self.db().containers_of_image(id)?;
        if let Some(c) = users.first() {
            let state = if c.state == strata_metadata::ContainerState::Running {
                "running"
            } else {
                "stopped"
            };
            return Err(ImageError::Conflict(format!(
                "unable to delete {} - image is being used by {state} container {}",
                short_id(id),
                &c.id[..12]
            )));
        }
        Ok(())
    }

    /// Deletes an image record, then the layers and blobs nothing else uses.
    fn delete_image(&self, id: &str) -> Result<Vec<RemoveEvent>> {
        let _lock = self.lock_exclusive()?;
        let removed = self.db().remove_image(id)?;
        crate::failpoint::hit("remove:record-removed");
        let mut events: Vec<_> = removed
            .untagged
            .iter()
            .map(|t| RemoveEvent::Untagged(familiar(t)))
            .collect();
        events.push(RemoveEvent::Deleted(id.to_string()));
        events.extend(removed.chains.iter().map(|c| RemoveEvent::Deleted(c.clone())));
        self.delete_files(&removed)?;
        Ok(events)
    }

    /// Records are gone already; a crash here only leaves orphans for GC.
    fn delete_files(&self, removed: &RemovedImage) -> Result<u64> {
        let mut bytes = 0;
        for (i, chain) in removed.chains.iter().enumerate() {
            if i == 1 {
                crate::failpoint::hit("remove:files-half-deleted");
            }
            if let Ok(chain) = ChainId::parse(chain) {
                bytes += strata_snapshots::disk_usage(&self.snapshots().path(&chain)).unwrap_or(0);
                self.snapshots().remove(&chain)?;
            }
        }
        for blob in &removed.blobs {
            let d = digest(blob)?;
            bytes += self.content().size(&d).unwrap_or(0);
            self.content().delete(&d)?;
        }
        Ok(bytes)
    }

    /// Removes dangling (untagged) images, or with `all` every image. Returns the events
    /// and the bytes reclaimed.
    pub fn prune(&self, all: bool) -> Result<(Vec<RemoveEvent>, u64)> {
        self.prune_matching(all, &PruneFilter::default())
    }

    /// [`ImageStore::prune`] of the images `filter` lets go (their creation time and
    /// config labels).
    pub fn prune_matching(&self, all: bool, filter: &PruneFilter) -> Result<(Vec<RemoveEvent>, u64)> {
        let mut events = Vec::new();
        let mut bytes = 0;
        // A build's intermediate images are parents of what it built, not dangling
        // (Docker's rule): only `-a` removes them, and with them the build cache.
        let intermediate = if all {
            Default::default()
        } else {
            self.db().intermediate_images()?
        };
        for listed in self.list()? {
            if intermediate.contains(&listed.id) {
                continue;
            }
            let _lock = self.lock_exclusive()?;
            // Another command may have removed, tagged or used it since it was listed:
            // decide on the record as it is now, under the lock.
            let Some(image) = self.db().image(&listed.id)? else {
                continue;
            };
            if (!all && !image.tags.is_empty()) || !self.db().containers_of_image(&image.id)?.is_empty() {
                continue;
            }
            let labels = match filter.has_labels() {
                true => crate::listing::config_labels(self, &image.id, None),
                false => serde_json::Value::Null,
            };
            if !filter.matches(image.created.as_deref(), |k| labels.get(k).and_then(|v| v.as_str())) {
                continue;
            }
            let removed = self.db().remove_image(&image.id)?;
            let mut lines: Vec<_> = removed
                .untagged
                .iter()
                .map(|t| RemoveEvent::Untagged(familiar(t)))
                .collect();
            lines.push(RemoveEvent::Deleted(image.id.clone()));
            lines.extend(removed.chains.iter().map(|c| RemoveEvent::Deleted(c.clone())));
            self.emit_removal(&image.id, &lines);
            events.extend(lines);
            bytes += self.delete_files(&removed)?;
        }
        bytes += self.collect_garbage()?.bytes;
        Ok((events, bytes))
    }

    /// `builder prune`: the build cache, the images that only exist as intermediate
    /// steps of earlier builds (and are no container's) and the `RUN --mount=type=cache`
    /// directories no step is using. Returns their IDs and the bytes reclaimed; images
    /// built from them keep their layers.
    pub fn prune_build_cache(&self) -> Result<PrunedCache> {
        let mut pruned = PrunedCache::default();
        // Listed first: the database guard must not live through the loop.
        let intermediate = self.db().intermediate_images()?;
        for id in intermediate {
            let _lock = self.lock_exclusive()?;
            // Decided on the record as it is now, under the lock: a build may have
            // tagged it since.
            let Some(image) = self.db().image(&id)? else {
                continue;
            };
            if !image.tags.is_empty() || !self.db().containers_of_image(&image.id)?.is_empty() {
                continue;
            }
            let removed = self.db().remove_image(&image.id)?;
            self.emit_removal(&image.id, &[RemoveEvent::Deleted(image.id.clone())]);
            pruned.bytes += self.delete_files(&removed)?;
            pruned.removed.push(image.id);
        }
        let (caches, bytes) = self.prune_cache_mounts()?;
        pruned.removed.extend(caches);
        pruned.bytes += bytes;
        pruned.bytes += self.collect_garbage()?.bytes;
        Ok(pruned)
    }

    /// Removes the partial downloads no pull is resuming now (`system prune`). Returns
    /// the bytes reclaimed.
    pub fn remove_partial_downloads(&self) -> Result<u64> {
        let mut bytes = 0;
        for path in self.content().idle_partials()? {
            bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
            std::fs::remove_file(&path).map_err(|e| ImageError::io(format!("removing {}", path.display()), e))?;
        }
        Ok(bytes)
    }

    /// Deletes what no record references: blobs, snapshots, and the leftovers of killed
    /// commands (ingest files, unpack directories, spooled archives). Holds the store
    /// lock exclusively, so nothing an operation in progress still needs is touched.
    pub fn collect_garbage(&self) -> Result<GcReport> {
        let _lock = self.lock_exclusive()?;
        let mut report = GcReport::default();
        let referenced = self.db().referenced_blobs()?;
        for blob in self.content().list()? {
            if !referenced.contains(&blob.to_string()) {
                report.bytes += self.content().size(&blob).unwrap_or(0);
                self.content().delete(&blob)?;
                report.blobs += 1;
            }
        }
        let layers: BTreeSet<String> = self.db().layers()?.into_iter().map(|(c, _, _)| c).collect();
        for chain in self.snapshots().list()? {
            if !layers.contains(chain.as_str()) {
                report.bytes += strata_snapshots::disk_usage(&self.snapshots().path(&chain)).unwrap_or(0);
                self.snapshots().remove(&chain)?;
                report.snapshots += 1;
            }
        }
        // Flattened bottoms of deep stacks go with the layer they are keyed by (above, or
        // by rmi); one left by a crash in between goes here.
        for chain in self.snapshots().list_flattened()? {
            if !layers.contains(chain.as_str()) {
                report.bytes += strata_snapshots::disk_usage(&self.snapshots().flattened_path(&chain)).unwrap_or(0);
                self.snapshots().remove_flattened(&chain)?;
                report.snapshots += 1;
            }
        }
        let mut stale = self.content().stale_ingests()?;
        stale.extend(self.snapshots().stale_unpacks()?);
        stale.extend(stale_spools(self)?);
        for path in stale {
            // A killed export may have left its read-only view mounted here: detach it, so
            // the removal deletes the leftover directory and never reaches into layers.
            let _ = rustix::mount::unmount(&path, rustix::mount::UnmountFlags::DETACH);
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
                Ok(()) => report.stale += 1,
                // Another collector (a concurrent prune) removed it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ImageError::io(format!("removing stale {}", path.display()), e)),
            }
        }
        Ok(report)
    }
}

/// Work files in `tmp/` whose owner process is gone (`load-<pid>-<random>.tar`,
/// `export-<pid>-<random>-<container>/`).
fn stale_spools(store: &ImageStore) -> Result<Vec<std::path::PathBuf>> {
    let dir = store.root().join("tmp");
    let entries = std::fs::read_dir(&dir).map_err(|e| ImageError::io(format!("reading {}", dir.display()), e))?;
    Ok(entries
        .flatten()
        .filter(|e| strata_content::owner_is_gone(&e.file_name().to_string_lossy(), 1))
        .map(|e| e.path())
        .collect())
}

/// What [`ImageStore::prune_build_cache`] removed.
#[derive(Debug, Default)]
pub struct PrunedCache {
    pub removed: Vec<String>,
    pub bytes: u64,
}
