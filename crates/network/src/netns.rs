//! Network namespaces pinned to a file (as `ip netns` does): the namespace outlives any
//! process in it, so it can be set up before the container starts, joined by the
//! runtime (strata's or runc), and torn down when the container has stopped.

use crate::error::{NetworkError, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

/// Creates a new network namespace and pins it at `path`. The calling thread ends up
/// back in the namespace it started in.
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NetworkError::io(format!("creating {}", dir.display()), e))?;
    }
    File::create(path).map_err(|e| NetworkError::io(format!("creating {}", path.display()), e))?;
    let result = with_original_restored(|| {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| NetworkError::sys("unshare(CLONE_NEWNET)", e))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| NetworkError::sys("pinning a network namespace", e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Runs `f` inside the namespace pinned at `path`, then returns to the current one.
pub fn within<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let target = open(path)?;
    with_original_restored(|| {
        setns(target.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| NetworkError::sys("entering a network namespace", e))?;
        f()
    })
}

/// Opens a pinned namespace (for `IFLA_NET_NS_FD` or for joining it).
pub fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| NetworkError::io(format!("opening network namespace {}", path.display()), e))
}

fn with_original_restored<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let original = File::open("/proc/thread-self/ns/net")
        .map_err(|e| NetworkError::io("opening this thread's network namespace", e))?;
    let out = f();
    // Returning cannot fail for a namespace we were just in; if it did, every later
    // step would act on the wrong namespace, so stop here.
    setns(original.as_fd(), CloneFlags::CLONE_NEWNET).expect("returning to the original network namespace");
    out
}

/// Unpins and deletes the namespace file; the namespace itself goes when its last
/// process has gone too. A missing file is not an error.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(NetworkError::sys("unpinning a network namespace", e)),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(NetworkError::io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}
