//! A read-only view of an image's files during a build (for `--chown` names, existing
//! directories, `COPY --from`): its layers mounted at `tmp/view-<pid>-<random>`, which
//! garbage collection recognizes as a leftover once the process is gone.

use crate::error::{BuildError, Result};
use std::path::{Path, PathBuf};
use strata_images::{ImageRecord, ImageStore};

pub struct ImageView {
    dir: PathBuf,
    mounted: bool,
    /// The mounted view, opened once for every lookup in it.
    root: Option<strata_inroot::Root>,
}

impl ImageView {
    pub fn mount(store: &ImageStore, image: Option<&ImageRecord>) -> Result<Self> {
        let dir = store.work_path("view", "");
        std::fs::create_dir_all(&dir).map_err(|e| BuildError::io(format!("creating {}", dir.display()), e))?;
        let mut view = ImageView {
            dir,
            mounted: false,
            root: None,
        };
        let Some(image) = image.filter(|i| !i.layers.is_empty()) else {
            view.root = strata_inroot::Root::open(&view.dir).ok();
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
        view.root = strata_inroot::Root::open(&view.dir).ok();
        Ok(view)
    }

    /// The directory the image's files are mounted on (read-only).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `path` inside the image, every symlink resolved within it by the kernel
    /// (openat2 RESOLVE_IN_ROOT); None where nothing is there. A loop or an over-long
    /// chain of links is an error, never a plain join. The view is a read-only mount of
    /// committed layers that nothing changes, so the resolved object's path (read back
    /// from its descriptor, free of symlinks) can be used afterwards.
    pub fn resolve(&self, path: &str) -> std::result::Result<Option<PathBuf>, String> {
        let root = match &self.root {
            Some(root) => root,
            None => &strata_inroot::Root::open(&self.dir).map_err(|e| e.to_string())?,
        };
        let Some(handle) = root.find(Path::new(path)).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let real = std::fs::read_link(handle.proc_path()).map_err(|e| format!("resolving {path}: {e}"))?;
        if !real.starts_with(&self.dir) {
            return Err(format!("resolving {path}: it is not inside the image"));
        }
        Ok(Some(real))
    }

    /// The metadata of `path` in the image, if it exists (every link followed inside it).
    pub fn metadata(&self, path: &str) -> Option<std::fs::Metadata> {
        std::fs::symlink_metadata(self.resolve(path).ok()??).ok()
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
        // Its descriptor would keep the mount busy.
        self.root = None;
        if self.mounted {
            let _ = strata_runtime::rootfs::unmount(&self.dir);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}
