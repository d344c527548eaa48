//! Mounting a container's root from the snapshotter's mount descriptions. Overlay uses
//! the new mount API (`fsopen`/`fsconfig` with one `lowerdir+` per layer), so images
//! deeper than what a classic mount's one-page option string fits still mount (up to
//! the kernel's 500 layers).
//!
//! Why `lowerdir+` and not Docker's short names: classic `mount(2)` takes its options
//! as one page (4096 bytes), which full layer paths (~110 bytes each here) fill at
//! about 35 layers. Docker's overlay2 keeps a `l/<26 chars>` symlink per layer and
//! mounts with paths relative to its storage directory after a `chdir` there (in a
//! re-executed child, since the working directory is process-wide), which fits about
//! 128 layers. `lowerdir+` (Linux 6.8) takes one layer per call, with no length limit
//! and no working directory, so nothing process-global is touched and there are no
//! link names to keep in step with the layers. Deeper stacks than the snapshotter's
//! `MAX_LOWERS` are mounted over a flattened bottom (see `strata_snapshots::flatten`),
//! which also keeps path lookups short: a miss in a 500-deep overlay visits 500 layers.

use crate::error::{Result, RuntimeError};
use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, FsMountFlags, FsOpenFlags, MountAttrFlags,
    MoveMountFlags,
};
use std::path::Path;
use strata_snapshots::Mount;

fn sys(what: String) -> impl FnOnce(rustix::io::Errno) -> RuntimeError {
    move |e| RuntimeError::io(what, e.into())
}

/// Mounts `mounts` (as the snapshotter returns them) on `target`.
pub fn mount_all(mounts: &[Mount], target: &Path) -> Result<()> {
    for m in mounts {
        match m.kind.as_str() {
            "overlay" => mount_overlay(&m.options, target)?,
            "bind" => {
                let ro = m.options.iter().any(|o| o == "ro");
                nix::mount::mount(
                    Some(m.source.as_str()),
                    target,
                    None::<&str>,
                    nix::mount::MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| RuntimeError::Sys("bind mount", e))?;
                if ro {
                    let flags =
                        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REMOUNT | nix::mount::MsFlags::MS_RDONLY;
                    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
                        .map_err(|e| RuntimeError::Sys("remount ro", e))?;
                }
            }
            other => return Err(RuntimeError::Unsupported(format!("mount type {other}"))),
        }
    }
    Ok(())
}

fn mount_overlay(options: &[String], target: &Path) -> Result<()> {
    let what = || format!("mounting the overlay root on {}", target.display());
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(sys(what()))?;
    for option in options {
        let (key, value) = option.split_once('=').unwrap_or((option.as_str(), ""));
        if key == "lowerdir" {
            // Top layer first, as in the classic option string.
            for dir in value.split(':') {
                fsconfig_set_string(&fs, "lowerdir+", dir).map_err(sys(format!("{}: lowerdir+ {dir}", what())))?;
            }
        } else {
            fsconfig_set_string(&fs, key, value).map_err(sys(format!("{}: {key}", what())))?;
        }
    }
    fsconfig_create(&fs).map_err(sys(what()))?;
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty()).map_err(sys(what()))?;
    move_mount(
        &mnt,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(sys(what()))
}

/// Unmounts the container root (lazily: a process that still holds it keeps it alive
/// until it exits, but the path is free at once).
pub fn unmount(target: &Path) -> Result<()> {
    match nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(RuntimeError::Sys("umount", e)),
    }
}

/// Whether something is mounted exactly at `target`.
pub fn is_mounted(target: &Path) -> bool {
    let target = target.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(target.as_ref()))
}
