//! The directories of `RUN --mount=type=cache`: part of the build cache, kept in the store
//! under `build-cache/<sha256 of the id>/` (`id`, `lock`, `data/`), shared by every build
//! of the store, listed by `system df` and removed by `builder prune`.
//!
//! A cache is made in a staging directory and renamed into place, so a killed build never
//! leaves half of one; its users hold a `flock` on its `lock` file (shared, or exclusive
//! for `sharing=locked`), so prune never removes a cache a step is using.

use crate::error::{ImageError, Result};
use crate::store::ImageStore;
use rustix::fs::FlockOperation;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How steps that use one cache at the same time share it (`sharing=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Shared,
    /// A step that finds the cache busy gets a new, empty one of its own, thrown away after.
    Private,
    /// One step at a time; the others wait.
    Locked,
}

/// A cache directory a step is using; the lock goes (and a private one is removed) on drop.
pub struct CacheMount {
    data: PathBuf,
    _lock: File,
    /// A private cache made because the shared one was busy: removed on drop.
    throwaway: Option<PathBuf>,
}

impl CacheMount {
    /// The directory to bind at the step's target.
    pub fn path(&self) -> &Path {
        &self.data
    }
}

impl Drop for CacheMount {
    fn drop(&mut self) {
        if let Some(dir) = &self.throwaway {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One cache, as `system df` shows it.
#[derive(Debug, Clone)]
pub struct CacheMountUsage {
    pub id: String,
    /// The hash its directory is named by: the ID `system df -v` shows.
    pub key: String,
    pub bytes: u64,
    pub created: Option<SystemTime>,
    pub last_used: Option<SystemTime>,
    /// How many steps have used it.
    pub uses: u64,
    pub in_use: bool,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
    let what = what.into();
    move |e| ImageError::io(what, e)
}

fn lock(file: &File, op: FlockOperation, path: &Path) -> Result<()> {
    rustix::fs::flock(file, op).map_err(|e| ImageError::io(format!("locking {}", path.display()), e.into()))
}

/// Whether `file` is still the file at `path` (not one renamed away since it was opened).
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl ImageStore {
    fn cache_mounts_dir(&self) -> PathBuf {
        self.root().join("build-cache")
    }

    /// The cache `id` for one step, made (and filled by `fill`, given its new empty
    /// directory) when it does not exist yet. `id` is only ever hashed, never a path.
    pub fn cache_mount(
        &self,
        id: &str,
        sharing: Sharing,
        fill: &mut dyn FnMut(&Path) -> std::io::Result<()>,
    ) -> Result<CacheMount> {
        let dir = self.cache_mounts_dir();
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let key = hex::encode(Sha256::digest(id.as_bytes()));
        let home = dir.join(&key);
        // A prune may take the cache away between our look and our lock: then the lock
        // file we hold is no longer the one in place, and we look again.
        for _ in 0..8 {
            if !home.join("data").is_dir() {
                self.make_cache_mount(&home, id, fill)?;
            }
            let lock_path = home.join("lock");
            let Ok(file) = File::options().write(true).open(&lock_path) else {
                continue;
            };
            match sharing {
                Sharing::Shared => lock(&file, FlockOperation::LockShared, &lock_path)?,
                Sharing::Locked => lock(&file, FlockOperation::LockExclusive, &lock_path)?,
                Sharing::Private => {
                    if rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
                        return self.throwaway_cache_mount(id, fill);
                    }
                }
            }
            if !same_file(&file, &lock_path) {
                continue;
            }
            // The lock file's time is the cache's last use, and `uses` grows by one
            // byte per use (appends are atomic): `system df -v`'s LAST USED and USAGE.
            let _ = file.set_modified(SystemTime::now());
            let _ = File::options()
                .create(true)
                .append(true)
                .open(home.join("uses"))
                .and_then(|mut uses| std::io::Write::write_all(&mut uses, b"."));
            return Ok(CacheMount {
                data: home.join("data"),
                _lock: file,
                throwaway: None,
            });
        }
        Err(ImageError::io(
            format!("opening the build cache mount {id}"),
            std::io::Error::other("it was removed again and again while being opened (a prune running in a loop?)"),
        ))
    }

    /// Makes `home` from a staging directory renamed into place; a concurrent build
    /// that made it first wins, and this one's staging directory goes.
    fn make_cache_mount(
        &self,
        home: &Path,
        id: &str,
        fill: &mut dyn FnMut(&Path) -> std::io::Result<()>,
    ) -> Result<()> {
        let staging = self.work_path("cachemount", "");
        let made = (|| -> std::io::Result<()> {
            std::fs::create_dir(&staging)?;
            std::fs::create_dir(staging.join("data"))?;
            fill(&staging.join("data"))?;
            std::fs::write(staging.join("id"), id)?;
            File::create(staging.join("lock"))?;
            match std::fs::rename(&staging, home) {
                Ok(()) => Ok(()),
                Err(_) if home.join("data").is_dir() => std::fs::remove_dir_all(&staging),
                Err(e) => Err(e),
            }
        })();
        if made.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        made.map_err(io(format!("making the build cache mount {id}")))
    }

    fn throwaway_cache_mount(
        &self,
        id: &str,
        fill: &mut dyn FnMut(&Path) -> std::io::Result<()>,
    ) -> Result<CacheMount> {
        let dir = self.work_path("cachemount", "");
        let made = (|| -> std::io::Result<File> {
            std::fs::create_dir(&dir)?;
            std::fs::create_dir(dir.join("data"))?;
            fill(&dir.join("data"))?;
            File::create(dir.join("lock"))
        })();
        match made {
            Ok(file) => Ok(CacheMount {
                data: dir.join("data"),
                _lock: file,
                throwaway: Some(dir),
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(ImageError::io(format!("making a private build cache mount {id}"), e))
            }
        }
    }

    /// Every cache mount of the store, with its size.
    pub fn cache_mounts(&self) -> Result<Vec<CacheMountUsage>> {
        let dir = self.cache_mounts_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ImageError::io(format!("reading {}", dir.display()), e)),
        };
        let mut caches = Vec::new();
        for entry in entries.flatten() {
            let home = entry.path();
            let Ok(id) = std::fs::read_to_string(home.join("id")) else {
                continue;
            };
            let lock_path = home.join("lock");
            let in_use = File::open(&lock_path)
                .is_ok_and(|file| rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_err());
            // Walked by descriptors, never following a link: a step's container may be
            // renaming and swapping what is in it meanwhile.
            let bytes = strata_snapshots::disk_usage(&home.join("data")).unwrap_or(0);
            caches.push(CacheMountUsage {
                id,
                key: entry.file_name().to_string_lossy().into_owned(),
                bytes,
                created: std::fs::metadata(home.join("id")).and_then(|m| m.modified()).ok(),
                last_used: std::fs::metadata(&lock_path).and_then(|m| m.modified()).ok(),
                uses: std::fs::metadata(home.join("uses")).map_or(0, |m| m.len()),
                in_use,
            });
        }
        caches.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(caches)
    }

    /// Removes every cache mount no step is using; returns their ids and bytes.
    pub fn prune_cache_mounts(&self) -> Result<(Vec<String>, u64)> {
        let (mut removed, mut bytes) = (Vec::new(), 0);
        for cache in self.cache_mounts()? {
            let home = self.cache_mounts_dir().join(&cache.key);
            let lock_path = home.join("lock");
            let Ok(file) = File::open(&lock_path) else { continue };
            if rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
                continue;
            }
            // Another prune may have removed that cache and a step made a new one since
            // this lock file was opened: its lock says nothing about the new one.
            if !same_file(&file, &lock_path) {
                continue;
            }
            // Renamed away first, under the lock: a step that opens the cache from now
            // on makes a new one instead of binding a directory being emptied.
            let doomed = self.work_path("cachemount", "");
            std::fs::rename(&home, &doomed).map_err(io(format!("removing build cache mount {}", cache.id)))?;
            std::fs::remove_dir_all(&doomed).map_err(io(format!("removing build cache mount {}", cache.id)))?;
            bytes += cache.bytes;
            removed.push(cache.key);
        }
        Ok((removed, bytes))
    }
}
