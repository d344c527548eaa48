//! A read-only view of an image's files during a build (for `--chown` names, existing
//! directories, `COPY --from`): its layers mounted at `tmp/view-<pid>-<random>`, which
//! garbage collection recognizes as a leftover once the process is gone.

use crate::error::{BuildError, Result};
use std::path::{Path, PathBuf};
use strata_images::{ImageRecord, ImageStore};

pub struct ImageView {
    dir: PathBuf,
    mounted: bool,
}

impl ImageView {
    pub fn mount(store: &ImageStore, image: Option<&ImageRecord>) -> Result<Self> {
        let dir = store.work_path("view", "");
        std::fs::create_dir_all(&dir).map_err(|e| BuildError::io(format!("creating {}", dir.display()), e))?;
        let mut view = ImageView { dir, mounted: false };
        let Some(image) = image.filter(|i| !i.layers.is_empty()) else {
            return Ok(view);
        };
        let chains = image
            .layers
            .iter()
            .map(|l| strata_snapshots::ChainId::parse(&l.chain_id))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| BuildError::io("reading layer records", std::io::Error::other(e)))?;
        let mounts = store
            .snapshots()
            .view_mounts(&chains)
            .map_err(|e| BuildError::io("preparing an image view", std::io::Error::other(e)))?;
        strata_runtime::rootfs::mount_all(&mounts, &view.dir)?;
        view.mounted = true;
        Ok(view)
    }

    /// `path` inside the image, symlinks resolved within it.
    pub fn resolve(&self, path: &str) -> PathBuf {
        strata_runtime::linux::path::secure_join(&self.dir, Path::new(path))
            .unwrap_or_else(|_| self.dir.join(path.trim_start_matches('/')))
    }

    /// The metadata of `path` in the image, if it exists (not following a final link).
    pub fn metadata(&self, path: &str) -> Option<std::fs::Metadata> {
        std::fs::symlink_metadata(self.resolve(path)).ok()
    }

    /// `--chown=user[:group]` as numbers, names looked up in the image; a user alone
    /// also gives its number as the group, as Docker does.
    pub fn owner(&self, spec: &str) -> std::result::Result<(u64, u64), String> {
        let resolved = strata_runtime::spec::resolve_user(&self.dir, spec).map_err(|e| e.to_string())?;
        let gid = if spec.contains(':') { resolved.gid } else { resolved.uid };
        Ok((resolved.uid as u64, gid as u64))
    }
}

impl Drop for ImageView {
    fn drop(&mut self) {
        if self.mounted {
            let _ = strata_runtime::rootfs::unmount(&self.dir);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}
