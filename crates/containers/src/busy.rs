//! Who is using a container right now, across processes and threads. An operation that
//! needs the container to stay (a create until its first start, a start, commit,
//! export, cp, diff) holds a shared lock on the container's directory; removing it
//! takes the lock exclusively. (The directory itself, not a file in it: opening it
//! creates nothing a removal would then find in its way.) So `container prune` skips a container someone holds,
//! `rm` waits for them, and nothing is taken away under a starting container.
//!
//! A removal deletes the directory with the container: whoever waited for the lock
//! looks the container up again once it has it, and finds it gone ("No such
//! container") rather than holding a lock on nothing.

use crate::error::{ContainerError, Result};
use crate::{ContainerRecord, Containers};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;

/// A shared hold on a container: it is not removed while this lives.
pub struct InUse {
    _lock: Flock<File>,
}

/// The exclusive claim of a removal: nobody holds the container, nobody can start to.
pub struct Removal {
    _lock: Flock<File>,
}

/// Whether a removal waits for the container's holders or passes it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Wait,
    Skip,
}

impl Containers<'_> {
    /// A hold's lock alone, taken whether or not the record exists yet (a container
    /// being created holds itself before its record is written).
    pub(crate) fn hold_new(&self, id: &str) -> Result<InUse> {
        let file = self.busy_file(id)?;
        let lock = Flock::lock(file, FlockArg::LockShared)
            .map_err(|(_, e)| ContainerError::io(format!("locking container {id}"), e.into()))?;
        Ok(InUse { _lock: lock })
    }

    /// Holds `record` against removal until the returned guard is dropped; waits while
    /// a removal runs, and then fails with "No such container". Returns the record as
    /// it is now, read under the hold.
    pub fn hold(&self, record: &ContainerRecord) -> Result<(InUse, ContainerRecord)> {
        let held = self.hold_new(&record.id)?;
        Ok((held, self.still_there(record)?))
    }

    fn busy_file(&self, id: &str) -> Result<File> {
        let path = self.dir(id);
        File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ContainerError::NotFound(id.to_string()),
            _ => ContainerError::io(format!("opening {}", path.display()), e),
        })
    }

    /// Claims `record` for removal: waits for its holders, or with [`Claim::Skip`]
    /// returns `None` when someone holds it. `None` too when it is already gone.
    pub fn claim(&self, record: &ContainerRecord, how: Claim) -> Result<Option<(Removal, ContainerRecord)>> {
        let file = match self.busy_file(&record.id) {
            Ok(f) => f,
            Err(ContainerError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let arg = match how {
            Claim::Wait => FlockArg::LockExclusive,
            Claim::Skip => FlockArg::LockExclusiveNonblock,
        };
        let lock = match Flock::lock(file, arg) {
            Ok(lock) => lock,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(None),
            Err((_, e)) => {
                return Err(ContainerError::io(
                    format!("locking container {}", record.name),
                    e.into(),
                ))
            }
        };
        match self.still_there(record) {
            Ok(fresh) => Ok(Some((Removal { _lock: lock }, fresh))),
            Err(ContainerError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The record as it is now, once a lock is held; "No such container" if a removal
    /// got there first.
    fn still_there(&self, record: &ContainerRecord) -> Result<ContainerRecord> {
        match self.store().db().container(&record.id)? {
            Some(fresh) => Ok(fresh),
            None => Err(ContainerError::NotFound(record.name.clone())),
        }
    }
}
