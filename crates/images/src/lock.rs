//! The store-wide lock that keeps deletion from racing with additions.
//!
//! Adding operations (import, load, later pull and build) take it shared: any number run
//! at once, each deciding "this layer is already there, skip it" and then recording an
//! image that uses the layer while the lock is held. Deleting operations (rmi, prune,
//! repair) take it exclusive, so a layer cannot vanish between an adder's check and its
//! record. Metadata itself is protected by SQLite's own locking.

use crate::error::{ImageError, Result};
use rustix::fs::FlockOperation;
use std::fs::File;
use std::path::Path;

pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    pub fn shared(root: &Path) -> Result<Self> {
        Self::take(root, FlockOperation::LockShared)
    }

    pub fn exclusive(root: &Path) -> Result<Self> {
        Self::take(root, FlockOperation::LockExclusive)
    }

    fn take(root: &Path, op: FlockOperation) -> Result<Self> {
        let path = root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ImageError::io(format!("opening store lock {}", path.display()), e))?;
        // flock is released by the kernel when the process dies: a killed strata never
        // leaves the store locked.
        rustix::fs::flock(&file, op).map_err(|e| ImageError::io(format!("locking {}", path.display()), e.into()))?;
        Ok(StoreLock { _file: file })
    }
}
