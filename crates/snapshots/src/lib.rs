//! Snapshots: unpacked layers on disk, keyed by ChainID, shared by every image that has
//! the layer.
//!
//! Layout under the snapshot root:
//! - `committed/<alg>/<hex>/fs/`: one directory per ChainID holding that layer's own
//!   changes in overlayfs form (whiteouts as 0/0 character devices, opaque directories
//!   marked with `trusted.overlay.opaque`), so a stack of them is directly an overlay
//!   lowerdir; beside it, `tar-split` when the layer's exact tar can be reassembled from
//!   `fs/` (so an uncompressed layer is stored once, not also as a blob).
//! - `flattened/<alg>/<hex>/fs/`: the bottom layers of a stack too deep for one overlay
//!   mount merged into one directory, keyed by the ChainID of the topmost merged layer
//!   (see [`flatten`]). Made on first use, published like a layer, shared by every stack
//!   with that bottom, and removed with the snapshot of its ChainID.
//! - `unpack/<pid>-<random>/`: a layer being unpacked (or a bottom being flattened). It
//!   becomes visible only by an atomic rename after its data reached the disk (`syncfs`);
//!   a crash leaves a stale directory that [`Snapshotter::stale_unpacks`] reports and GC
//!   removes.
//! - `trash/`: directories being deleted; renamed there first so a removal is atomic.
//!
//! The snapshotter never mounts anything itself: [`Snapshotter::mounts`] returns mount
//! descriptions that the runtime performs.

mod chain;
pub mod flatten;
pub mod vfs;

pub use vfs::{is_opaque, is_whiteout};

pub use chain::{chain_ids, ChainId};

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {chain} not found ({path})")]
    NotFound { chain: ChainId, path: PathBuf },
    #[error("{0}")]
    Driver(String),
    #[error("snapshot store I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl SnapshotError {
    fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        SnapshotError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

/// A mount the runtime should perform (containerd's `mount.Mount`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

/// How containers' writable layers are made: an overlay over the layer directories, or
/// (`vfs`) a full copy of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Overlay,
    Vfs,
}

impl Driver {
    pub fn parse(name: &str) -> Result<Driver> {
        match name {
            "overlay" | "overlay2" | "overlayfs" => Ok(Driver::Overlay),
            "vfs" => Ok(Driver::Vfs),
            other => Err(SnapshotError::Driver(format!(
                "unknown storage driver {other:?}: use overlay or vfs"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::Vfs => "vfs",
        }
    }

    /// overlay where the kernel has it, else vfs.
    fn detect() -> Driver {
        let listed = fs::read_to_string("/proc/filesystems").unwrap_or_default();
        if listed.lines().any(|l| l.split_whitespace().last() == Some("overlay")) {
            Driver::Overlay
        } else {
            Driver::Vfs
        }
    }
}

/// The snapshot store of one strata root.
#[derive(Debug, Clone)]
pub struct Snapshotter {
    root: PathBuf,
    driver: Driver,
}

/// A layer being unpacked into a private directory.
#[derive(Debug)]
pub struct Unpack {
    dir: PathBuf,
    fs: PathBuf,
    done: bool,
}

impl Unpack {
    /// The directory to apply the layer into.
    pub fn path(&self) -> &Path {
        &self.fs
    }

    /// Where to record the layer's tar-split.
    pub fn split_path(&self) -> PathBuf {
        self.dir.join("tar-split")
    }
}

impl Drop for Unpack {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl Snapshotter {
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for d in [
            "committed/sha256",
            "committed/sha512",
            "flattened/sha256",
            "flattened/sha512",
            "unpack",
            "trash",
            "active",
        ] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(|e| SnapshotError::io(&p, e))?;
        }
        let driver = match fs::read_to_string(root.join("driver")) {
            Ok(name) => Driver::parse(name.trim())?,
            Err(_) => Driver::detect(),
        };
        Ok(Snapshotter { root, driver })
    }

    pub fn driver(&self) -> Driver {
        self.driver
    }

    /// Chooses the driver (`--storage-driver`). A root keeps the driver it was first
    /// given, as its containers' layers are made for it.
    pub fn set_driver(&mut self, wanted: Driver) -> Result<()> {
        let file = self.root.join("driver");
        match fs::read_to_string(&file) {
            Ok(name) if Driver::parse(name.trim())? != wanted => Err(SnapshotError::Driver(format!(
                "the store {} uses the {} storage driver; use --storage-driver {} with it, or another --root",
                self.root.display(),
                name.trim(),
                name.trim()
            ))),
            Ok(_) => Ok(()),
            Err(_) => {
                let tmp = self.root.join(".driver.tmp");
                fs::write(&tmp, wanted.as_str()).map_err(|e| SnapshotError::io(&tmp, e))?;
                fs::rename(&tmp, &file).map_err(|e| SnapshotError::io(&file, e))?;
                self.driver = wanted;
                Ok(())
            }
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding a committed snapshot and its bookkeeping.
    fn dir(&self, chain: &ChainId) -> PathBuf {
        self.root
            .join("committed")
            .join(chain.digest().algorithm().as_ref())
            .join(chain.digest().digest())
    }

    /// The layer root of a committed snapshot (whether or not it exists).
    pub fn path(&self, chain: &ChainId) -> PathBuf {
        self.dir(chain).join("fs")
    }

    /// The directory of the flattened snapshot of the stack whose top is `chain`.
    fn flattened_dir(&self, chain: &ChainId) -> PathBuf {
        self.root
            .join("flattened")
            .join(chain.digest().algorithm().as_ref())
            .join(chain.digest().digest())
    }

    /// The root of the flattened snapshot of the stack whose top is `chain` (whether or
    /// not it exists): every layer up to and including `chain` merged.
    pub fn flattened_path(&self, chain: &ChainId) -> PathBuf {
        self.flattened_dir(chain).join("fs")
    }

    /// A fresh name in `trash/`.
    fn trash_path(&self) -> PathBuf {
        self.root
            .join("trash")
            .join(format!("{}-{:016x}", std::process::id(), rand::random::<u64>()))
    }

    /// Deletes `path` atomically: renamed into `trash/` first. Absent is fine.
    fn discard(&self, path: &Path) -> Result<()> {
        let trash = self.trash_path();
        match fs::rename(path, &trash) {
            Ok(()) => fs::remove_dir_all(&trash).map_err(|e| SnapshotError::io(&trash, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SnapshotError::io(path, e)),
        }
    }

    /// The layer's exact tar, reassembled from its tar-split and files; None when the
    /// layer was not recorded that way (its blob is kept instead).
    pub fn layer_tar(&self, chain: &ChainId) -> io::Result<Option<strata_archive::tar_split::SplitReader>> {
        let split = self.dir(chain).join("tar-split");
        if !split.exists() {
            return Ok(None);
        }
        strata_archive::tar_split::SplitReader::open(&split, &self.path(chain)).map(Some)
    }

    pub fn has_split(&self, chain: &ChainId) -> bool {
        self.dir(chain).join("tar-split").is_file()
    }

    pub fn exists(&self, chain: &ChainId) -> bool {
        self.path(chain).is_dir()
    }

    /// Starts unpacking a layer into a fresh private directory.
    pub fn begin_unpack(&self) -> Result<Unpack> {
        let name = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        let dir = self.root.join("unpack").join(name);
        fs::create_dir(&dir).map_err(|e| SnapshotError::io(&dir, e))?;
        let fs = dir.join("fs");
        fs::create_dir(&fs).map_err(|e| SnapshotError::io(&fs, e))?;
        Ok(Unpack { dir, fs, done: false })
    }

    /// Publishes an unpacked layer as the snapshot `chain`: its data is flushed to disk
    /// first, then the directory is renamed into place. If another process committed
    /// the same chain meanwhile, ours is discarded and theirs kept (both succeed).
    pub fn commit_unpack(&self, unpack: Unpack, chain: &ChainId) -> Result<()> {
        self.publish(unpack, &self.dir(chain), chain)
    }

    /// Flushes `unpack` and renames it to `target`, unless `target` exists already.
    fn publish(&self, mut unpack: Unpack, target: &Path, chain: &ChainId) -> Result<()> {
        if target.exists() {
            return Ok(()); // Drop discards ours.
        }
        let dir = fs::File::open(&unpack.dir).map_err(|e| SnapshotError::io(&unpack.dir, e))?;
        rustix::fs::syncfs(&dir).map_err(|e| SnapshotError::io(&unpack.dir, e.into()))?;
        match fs::rename(&unpack.dir, target) {
            Ok(()) => {}
            // Lost a race with another committer of the same chain: keep theirs.
            Err(e) if target.exists() => {
                log::debug!("snapshot {chain} committed concurrently: {e}");
                return Ok(());
            }
            Err(e) => return Err(SnapshotError::io(target, e)),
        }
        unpack.done = true;
        let parent = target.parent().expect("snapshot path has a parent");
        fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| SnapshotError::io(parent, e))
    }

    /// Removes a committed snapshot, and the flattened snapshot of the stack it tops.
    /// Atomic: each is renamed away before deletion, so no reader ever sees a
    /// half-deleted layer under its ChainID.
    pub fn remove(&self, chain: &ChainId) -> Result<()> {
        self.remove_flattened(chain)?;
        self.discard(&self.dir(chain))
    }

    /// Removes the flattened snapshot of the stack topped by `chain`, if there is one.
    pub fn remove_flattened(&self, chain: &ChainId) -> Result<()> {
        self.discard(&self.flattened_dir(chain))
    }

    /// The ChainIDs of every flattened snapshot.
    pub fn list_flattened(&self) -> Result<Vec<ChainId>> {
        self.list_in("flattened")
    }

    /// Every committed snapshot.
    pub fn list(&self) -> Result<Vec<ChainId>> {
        self.list_in("committed")
    }

    fn list_in(&self, kind: &str) -> Result<Vec<ChainId>> {
        let mut out = Vec::new();
        for alg in ["sha256", "sha512"] {
            let dir = self.root.join(kind).join(alg);
            for entry in fs::read_dir(&dir).map_err(|e| SnapshotError::io(&dir, e))? {
                let entry = entry.map_err(|e| SnapshotError::io(&dir, e))?;
                if let Ok(c) = ChainId::parse(&format!("{alg}:{}", entry.file_name().to_string_lossy())) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Unpack and trash directories whose owning process is gone.
    pub fn stale_unpacks(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for d in ["unpack", "trash"] {
            let dir = self.root.join(d);
            for entry in fs::read_dir(&dir).map_err(|e| SnapshotError::io(&dir, e))? {
                let entry = entry.map_err(|e| SnapshotError::io(&dir, e))?;
                if strata_content::owner_is_gone(&entry.file_name().to_string_lossy(), 0) {
                    out.push(entry.path());
                }
            }
        }
        Ok(out)
    }

    /// Mounts that present the stack `chains` (bottom layer first) read-only: a bind
    /// mount for one layer, an overlay for several.
    pub fn view_mounts(&self, chains: &[ChainId]) -> Result<Vec<Mount>> {
        let dirs = self.mount_dirs(chains)?;
        if dirs.len() == 1 {
            return Ok(vec![Mount {
                kind: "bind".into(),
                source: dirs[0].clone(),
                options: vec!["ro".into(), "rbind".into()],
            }]);
        }
        Ok(vec![Mount {
            kind: "overlay".into(),
            source: "overlay".into(),
            options: vec![format!("lowerdir={}", lowerdir(&dirs))],
        }])
    }

    /// The lower directories of one overlay mount of the stack `chains` (bottom first),
    /// top first: the layers themselves, or for a stack deeper than
    /// [`flatten::MAX_LOWERS`] its top layers over the flattened snapshot of the rest
    /// (made now if it does not exist yet). At most `MAX_LOWERS` directories.
    pub fn lower_dirs(&self, chains: &[ChainId]) -> Result<Vec<PathBuf>> {
        let depth = flatten::depth(chains.len());
        let mut dirs: Vec<PathBuf> = chains[depth..].iter().rev().map(|c| self.path(c)).collect();
        if depth > 0 {
            dirs.push(self.flattened(&chains[..depth])?);
        }
        Ok(dirs)
    }

    /// [`Snapshotter::lower_dirs`] for a mount: every layer must exist.
    fn mount_dirs(&self, chains: &[ChainId]) -> Result<Vec<String>> {
        let depth = flatten::depth(chains.len());
        let mut dirs = self.layer_dirs(&chains[depth..])?;
        if depth > 0 {
            dirs.push(self.flattened(&chains[..depth])?.to_string_lossy().into_owned());
        }
        Ok(dirs)
    }

    /// The flattened snapshot of the stack `chains` (bottom first): every layer merged.
    /// Made once, from the deepest flattened snapshot of a shorter prefix when there is
    /// one, in a private directory published by rename, so concurrent users share one
    /// and a killed build leaves only an `unpack/` leftover.
    pub fn flattened(&self, chains: &[ChainId]) -> Result<PathBuf> {
        let top = chains.last().expect("a flattened stack has layers");
        let path = self.flattened_path(top);
        if path.is_dir() {
            return Ok(path);
        }
        let base = (1..chains.len())
            .rev()
            .filter(|n| n % flatten::STEP == 0)
            .find(|n| self.flattened_path(&chains[n - 1]).is_dir());
        let mut sources = Vec::with_capacity(chains.len());
        let rest = match base {
            Some(n) => {
                sources.push(self.flattened_path(&chains[n - 1]));
                &chains[n..]
            }
            None => chains,
        };
        for chain in rest {
            let p = self.path(chain);
            if !p.is_dir() {
                return Err(SnapshotError::NotFound {
                    chain: chain.clone(),
                    path: p,
                });
            }
            sources.push(p);
        }
        log::debug!(
            "flattening {} layers up to {top} ({} directories)",
            chains.len(),
            sources.len()
        );
        let unpack = self.begin_unpack()?;
        flatten::merge(&sources, unpack.path())?;
        self.publish(unpack, &self.flattened_dir(top), top)?;
        Ok(path)
    }

    /// The layer directories of a stack, top layer first (overlay's lowerdir order).
    pub fn layer_dirs(&self, chains: &[ChainId]) -> Result<Vec<String>> {
        chains
            .iter()
            .rev()
            .map(|c| {
                let p = self.path(c);
                if p.is_dir() {
                    Ok(p.to_string_lossy().into_owned())
                } else {
                    Err(SnapshotError::NotFound {
                        chain: c.clone(),
                        path: p,
                    })
                }
            })
            .collect()
    }
}

fn lowerdir(dirs: &[String]) -> String {
    dirs.join(":")
}

impl Snapshotter {
    /// The directory of an active (writable) snapshot: `upper/` and `work/` inside.
    pub fn active_path(&self, key: &str) -> PathBuf {
        self.root.join("active").join(key)
    }

    /// Creates the writable layer `key` (a container's) over `chains` (bottom first):
    /// with overlay an empty `upper` for its changes and the `work` directory overlayfs
    /// needs; with vfs `rootfs`, a copy of the layers.
    pub fn prepare(&self, key: &str, chains: &[ChainId]) -> Result<PathBuf> {
        let dir = self.active_path(key);
        if self.driver == Driver::Vfs {
            let rootfs = dir.join("rootfs");
            fs::create_dir_all(&rootfs).map_err(|e| SnapshotError::io(&rootfs, e))?;
            let mut layers: Vec<PathBuf> = self.layer_dirs(chains)?.into_iter().map(PathBuf::from).collect();
            layers.reverse();
            vfs::populate(&rootfs, &layers)?;
            return Ok(dir);
        }
        for sub in ["upper", "work"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(|e| SnapshotError::io(&p, e))?;
        }
        Ok(dir)
    }

    /// The writable layer's changes in overlay form (an upper directory): overlay's own
    /// `upper`, or for vfs one made at `scratch` by comparing the copy with the layers.
    pub fn changes(&self, key: &str, chains: &[ChainId], scratch: &Path) -> Result<PathBuf> {
        let dir = self.active_path(key);
        if self.driver == Driver::Overlay {
            return Ok(dir.join("upper"));
        }
        let mut layers: Vec<PathBuf> = self.layer_dirs(chains)?.into_iter().map(PathBuf::from).collect();
        layers.reverse();
        vfs::changes_as_upper(&dir.join("rootfs"), &layers, scratch)?;
        Ok(scratch.to_path_buf())
    }

    /// The mount that presents `chains` (bottom first) with the writable layer `key` on
    /// top: an overlay, or with vfs a bind mount of the copy.
    pub fn active_mounts(&self, key: &str, chains: &[ChainId]) -> Result<Vec<Mount>> {
        let dir = self.active_path(key);
        if self.driver == Driver::Vfs {
            return Ok(vec![Mount {
                kind: "bind".into(),
                source: dir.join("rootfs").to_string_lossy().into_owned(),
                options: vec!["rbind".into()],
            }]);
        }
        let mut options = Vec::new();
        let dirs = self.mount_dirs(chains)?;
        options.push(format!("lowerdir={}", lowerdir(&dirs)));
        options.push(format!("upperdir={}", dir.join("upper").display()));
        options.push(format!("workdir={}", dir.join("work").display()));
        Ok(vec![Mount {
            kind: "overlay".into(),
            source: "overlay".into(),
            options,
        }])
    }

    /// Removes a writable layer and everything written in it.
    pub fn remove_active(&self, key: &str) -> Result<()> {
        self.discard(&self.active_path(key))
    }

    /// Keys of every writable layer.
    pub fn active_keys(&self) -> Result<Vec<String>> {
        let dir = self.root.join("active");
        let entries = fs::read_dir(&dir).map_err(|e| SnapshotError::io(&dir, e))?;
        Ok(entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }
}

/// Bytes a directory tree occupies on disk (each inode counted once). Walked by
/// descriptors (`openat` with `O_NOFOLLOW | O_DIRECTORY`, `fstatat` without following),
/// one per level: the trees measured include volumes, writable layers and build caches
/// whose container may swap a directory for a link to the host's `/` meanwhile, and a
/// link is never entered.
pub fn disk_usage(dir: &Path) -> io::Result<u64> {
    let root = rustix::fs::open(dir, walk_flags(), rustix::fs::Mode::empty())?;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    walk_usage(&root, &mut seen, &mut total)?;
    Ok(total)
}

fn walk_flags() -> rustix::fs::OFlags {
    use rustix::fs::OFlags;
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn walk_usage(
    fd: &std::os::fd::OwnedFd,
    seen: &mut std::collections::HashSet<(u64, u64)>,
    total: &mut u64,
) -> io::Result<()> {
    use rustix::fs::{AtFlags, FileType};
    for entry in rustix::fs::Dir::read_from(fd)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let stat = rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        if seen.insert((stat.st_dev, stat.st_ino)) {
            *total += stat.st_blocks as u64 * 512;
        }
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            let child = rustix::fs::openat(fd, name, walk_flags(), rustix::fs::Mode::empty())?;
            walk_usage(&child, seen, total)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
