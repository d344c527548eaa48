//! `cp` between a container and the host. Paths inside the container are resolved in
//! its root (symlinks followed as the container would see them, never out of it:
//! CVE-2018-15664 class), and nothing inside is written through a symlink.

use crate::error::{Result, RuntimeError};
use crate::linux::path::secure_join;
use crate::rootfs::{is_mounted, mount_all, unmount};
use std::fs;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use strata_containers::{ContainerRecord, Containers};

fn io(what: String) -> impl FnOnce(std::io::Error) -> RuntimeError {
    move |e| RuntimeError::io(what, e)
}

/// Runs `f` with the container's root mounted (its live mount when running; otherwise
/// its layers mounted for the purpose, writable, and unmounted after).
fn with_root<T>(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    f: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    let rootfs = containers.rootfs(&record.id);
    if is_mounted(&rootfs) {
        return f(&rootfs);
    }
    std::fs::create_dir_all(&rootfs).map_err(io(format!("creating {}", rootfs.display())))?;
    mount_all(&containers.mounts(record)?, &rootfs)?;
    let out = f(&rootfs);
    unmount(&rootfs)?;
    out
}

/// `cp CONTAINER:SRC HOSTDEST`.
pub fn copy_out(containers: &Containers<'_>, record: &ContainerRecord, src: &str, dest: &Path) -> Result<()> {
    with_root(containers, record, |root| {
        let from = secure_join(root, Path::new(src)).map_err(io(format!("resolving {src}")))?;
        let meta = fs::symlink_metadata(&from).map_err(|_| RuntimeError::Start {
            code: 1,
            message: format!("Could not find the file {src} in container {}", record.name),
        })?;
        let target = if dest.is_dir() {
            dest.join(from.file_name().unwrap_or_default())
        } else {
            dest.to_path_buf()
        };
        if meta.is_dir() {
            copy_dir(&from, &target)
        } else {
            copy_entry(&from, &target, &meta)
        }
    })
}

/// `cp HOSTSRC CONTAINER:DEST`.
pub fn copy_in(containers: &Containers<'_>, record: &ContainerRecord, src: &Path, dest: &str) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io(format!("reading {}", src.display())))?;
    with_root(containers, record, |root| {
        let resolved = secure_join(root, Path::new(dest)).map_err(io(format!("resolving {dest}")))?;
        let target = if resolved.is_dir() {
            resolved.join(src.file_name().unwrap_or_default())
        } else {
            resolved
        };
        // The target's parent was resolved inside the root; the target itself is never
        // followed if it is a symlink (it is replaced).
        if meta.is_dir() {
            copy_dir(src, &target)
        } else {
            copy_entry(src, &target, &meta)
        }
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(io(format!("reading {}", from.display())))?;
    match fs::symlink_metadata(to) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => fs::remove_file(to).map_err(io(format!("replacing {}", to.display())))?,
        Err(_) => fs::create_dir(to).map_err(io(format!("creating {}", to.display())))?,
    }
    set_meta(to, &meta)?;
    for entry in fs::read_dir(from).map_err(io(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io(format!("reading {}", from.display())))?;
        let m = fs::symlink_metadata(entry.path()).map_err(io(format!("reading {}", entry.path().display())))?;
        let dst: PathBuf = to.join(entry.file_name());
        if m.is_dir() {
            copy_dir(&entry.path(), &dst)?;
        } else {
            copy_entry(&entry.path(), &dst, &m)?;
        }
    }
    Ok(())
}

/// Copies a file or symlink, replacing whatever is at `to` without following it.
fn copy_entry(from: &Path, to: &Path, meta: &fs::Metadata) -> Result<()> {
    if let Ok(existing) = fs::symlink_metadata(to) {
        if existing.is_dir() {
            return Err(RuntimeError::io(
                format!("cannot overwrite directory {} with a file", to.display()),
                std::io::ErrorKind::AlreadyExists.into(),
            ));
        }
        fs::remove_file(to).map_err(io(format!("replacing {}", to.display())))?;
    }
    if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(io(format!("reading {}", from.display())))?;
        std::os::unix::fs::symlink(target, to).map_err(io(format!("creating {}", to.display())))?;
        return Ok(());
    }
    if !meta.is_file() {
        return Ok(()); // devices, sockets and fifos are not copied
    }
    let mut src = fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)
        .map_err(io(format!("opening {}", from.display())))?;
    let mut dst = fs::File::options()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(to)
        .map_err(io(format!("creating {}", to.display())))?;
    std::io::copy(&mut src, &mut dst).map_err(io(format!("copying to {}", to.display())))?;
    set_meta(to, meta)
}

fn set_meta(path: &Path, meta: &fs::Metadata) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(io(format!("chmod {}", path.display())))?;
    std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid())).map_err(io(format!("chown {}", path.display())))
}
