//! `--squash`: the layers a build added, merged into one. The layer directories (in
//! overlayfs form: whiteouts are 0/0 character devices, opaque directories carry
//! `trusted.overlay.opaque`) are merged bottom first into a scratch directory, which is
//! then written as one layer with OCI whiteouts, exactly like a container's changes.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

const OPAQUE: &str = "trusted.overlay.opaque";

/// Merges `layers` (bottom first) into `target`, an empty directory.
pub fn merge(layers: &[std::path::PathBuf], target: &Path) -> io::Result<()> {
    for layer in layers {
        merge_dir(layer, target)?;
    }
    Ok(())
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn merge_dir(src: &Path, dst: &Path) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let (s, d) = (entry.path(), dst.join(entry.file_name()));
        let m = fs::symlink_metadata(&s)?;
        if is_whiteout(&m) {
            // A deletion: whatever lower layers put here goes; the whiteout stays so
            // the merged layer still deletes it from the base.
            remove_any(&d)?;
            nix::sys::stat::mknod(
                &d,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o600),
                0,
            )
            .map_err(io::Error::from)?;
        } else if m.is_dir() {
            let opaque = xattr::get(&s, OPAQUE).ok().flatten().is_some_and(|v| v == b"y");
            let existing_dir = fs::symlink_metadata(&d).is_ok_and(|dm| dm.is_dir());
            if opaque || !existing_dir {
                remove_any(&d)?;
                fs::create_dir(&d)?;
            }
            if opaque {
                xattr::set(&d, OPAQUE, b"y")?;
            }
            merge_dir(&s, &d)?;
            copy_metadata(&s, &d, &m)?;
        } else {
            remove_any(&d)?;
            if m.file_type().is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(&s)?, &d)?;
            } else if m.is_file() {
                fs::copy(&s, &d)?;
            } else {
                continue; // devices never reach a layer (they are skipped at unpack)
            }
            copy_metadata(&s, &d, &m)?;
        }
    }
    Ok(())
}

/// Owner, mode, extended attributes (not overlayfs' own) and times of `s` onto `d`.
fn copy_metadata(s: &Path, d: &Path, m: &fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::lchown(d, Some(m.uid()), Some(m.gid()))?;
    let link = m.file_type().is_symlink();
    if !link {
        fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(m.mode() & 0o7777))?;
        for name in xattr::list(s)? {
            let key = name.to_string_lossy();
            if key.starts_with("trusted.overlay.") {
                continue;
            }
            if let Some(value) = xattr::get(s, &name)? {
                xattr::set(d, &name, &value)?;
            }
        }
    }
    let times = [
        nix::sys::time::TimeSpec::new(m.atime(), m.atime_nsec()),
        nix::sys::time::TimeSpec::new(m.mtime(), m.mtime_nsec()),
    ];
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        d,
        &times[0],
        &times[1],
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}
