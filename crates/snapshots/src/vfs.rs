//! The `vfs` driver: where overlayfs is unavailable (or not wanted), a container's
//! root is a full copy of its image's layers, and its changes are found by comparing
//! that copy with the layers (Docker's "naive diff"). The changes come out in overlay
//! form (an upper directory with whiteouts, made of hard links, so no data is copied
//! again), so diff and commit work the same for both drivers.

use crate::{Result, SnapshotError};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |e| SnapshotError::io(path, e)
}

fn sys(path: &Path) -> impl FnOnce(rustix::io::Errno) -> SnapshotError + '_ {
    move |e| SnapshotError::io(path, e.into())
}

/// An overlay whiteout: a 0/0 character device.
pub fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// An overlay opaque directory (hides what lower layers have under it).
pub fn is_opaque(path: &Path) -> bool {
    xattr::get(path, "trusted.overlay.opaque")
        .ok()
        .flatten()
        .is_some_and(|v| v == b"y")
}

/// Every entry of a directory tree, parents first: (relative path, host path).
fn walk(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, d)) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let rel = format!("{prefix}/{}", entry.file_name().to_string_lossy());
            let path = entry.path();
            if entry.file_type().map_err(io(&path))?.is_dir() {
                stack.push((rel.clone(), path.clone()));
            }
            out.push((rel, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The image's tree: each path to the layer file that provides it, with whiteouts and
/// opaque directories of upper layers applied. `layers` are bottom first.
pub fn flatten(layers: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>> {
    let mut tree: BTreeMap<String, PathBuf> = BTreeMap::new();
    for layer in layers {
        for (rel, path) in walk(layer)? {
            let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
            let remove_below = |tree: &mut BTreeMap<String, PathBuf>, at: &str| {
                let prefix = format!("{at}/");
                let doomed: Vec<String> = tree
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    tree.remove(&k);
                }
            };
            if is_whiteout(&meta) {
                tree.remove(&rel);
                remove_below(&mut tree, &rel);
                continue;
            }
            if meta.is_dir() && is_opaque(&path) {
                remove_below(&mut tree, &rel);
            } else if !meta.is_dir() {
                // A file replacing a directory hides what was under it.
                remove_below(&mut tree, &rel);
            }
            tree.insert(rel, path);
        }
    }
    Ok(tree)
}

/// Copies one entry (not a directory's contents) with its owner, mode and times.
fn copy_entry(from: &Path, to: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(io(from))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        fs::create_dir(to).map_err(io(to))?;
    } else if ft.is_symlink() {
        let target = fs::read_link(from).map_err(io(from))?;
        std::os::unix::fs::symlink(&target, to).map_err(io(to))?;
    } else if meta.nlink() > 1 && links.contains_key(&(meta.dev(), meta.ino())) {
        // Hard links of the image stay hard links in the copy.
        fs::hard_link(&links[&(meta.dev(), meta.ino())], to).map_err(io(to))?;
        return Ok(());
    } else if ft.is_file() {
        fs::copy(from, to).map_err(io(to))?;
        if meta.nlink() > 1 {
            links.insert((meta.dev(), meta.ino()), to.to_path_buf());
        }
    } else {
        let kind = special_kind(&ft);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            to,
            kind,
            rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777),
            meta.rdev(),
        )
        .map_err(sys(to))?;
    }
    set_metadata(to, &meta)
}

fn set_metadata(to: &Path, meta: &fs::Metadata) -> Result<()> {
    let is_link = meta.file_type().is_symlink();
    rustix::fs::chownat(
        rustix::fs::CWD,
        to,
        Some(rustix::fs::Uid::from_raw(meta.uid())),
        Some(rustix::fs::Gid::from_raw(meta.gid())),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(sys(to))?;
    if !is_link {
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777)).map_err(io(to))?;
    }
    let times = crate::flatten::timestamps(meta);
    rustix::fs::utimensat(rustix::fs::CWD, to, &times, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).map_err(sys(to))
}

/// Fills `root` (empty) with a copy of the image made of `layers` (bottom first).
pub fn populate(root: &Path, layers: &[PathBuf]) -> Result<()> {
    let tree = flatten(layers)?;
    let mut links = HashMap::new();
    let mut dirs = Vec::new();
    for (rel, from) in &tree {
        let to = root.join(rel.trim_start_matches('/'));
        copy_entry(from, &to, &mut links)?;
        if fs::symlink_metadata(from).map_err(io(from))?.is_dir() {
            dirs.push((to, from.clone()));
        }
    }
    // Directory times last: filling a directory changes its mtime.
    for (to, from) in dirs.iter().rev() {
        set_metadata(to, &fs::symlink_metadata(from).map_err(io(from))?)?;
    }
    Ok(())
}

/// Whether an entry of the container differs from the image's.
fn differs(a: &fs::Metadata, b: &fs::Metadata, a_path: &Path, b_path: &Path) -> bool {
    let kind = |m: &fs::Metadata| m.mode() & 0o170000;
    if kind(a) != kind(b) || a.mode() != b.mode() || a.uid() != b.uid() || a.gid() != b.gid() || a.rdev() != b.rdev() {
        return true;
    }
    if a.is_dir() {
        return false;
    }
    if a.file_type().is_symlink() {
        return fs::read_link(a_path).ok() != fs::read_link(b_path).ok();
    }
    a.size() != b.size() || a.mtime() != b.mtime() || a.mtime_nsec() != b.mtime_nsec()
}

/// The changes of the container whose copy is `root` against the image `layers`, as an
/// overlay upper directory made at `scratch`: changed and added entries (files as hard
/// links into `root`), the directories above them, and a whiteout for each deletion.
pub fn changes_as_upper(root: &Path, layers: &[PathBuf], scratch: &Path) -> Result<()> {
    let image = flatten(layers)?;
    fs::create_dir_all(scratch).map_err(io(scratch))?;
    let mut present = std::collections::HashSet::new();
    let mut links = HashMap::new();
    for (rel, path) in walk(root)? {
        present.insert(rel.clone());
        let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
        let changed = match image.get(&rel) {
            None => true,
            Some(lower) => {
                let lmeta = fs::symlink_metadata(lower).map_err(io(lower))?;
                differs(&meta, &lmeta, &path, lower)
            }
        };
        if !changed {
            continue;
        }
        let to = scratch.join(rel.trim_start_matches('/'));
        ensure_parents(root, scratch, &rel)?;
        if to.exists() {
            continue;
        }
        if meta.is_file() {
            // Another filesystem (EXDEV): copy instead.
            if fs::hard_link(&path, &to).is_err() {
                copy_entry(&path, &to, &mut links)?;
            }
        } else {
            copy_entry(&path, &to, &mut links)?;
        }
    }
    for rel in image.keys() {
        if present.contains(rel) {
            continue;
        }
        let parent = rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        // Only the topmost deletion needs a whiteout.
        if !parent.is_empty() && !present.contains(parent) {
            continue;
        }
        ensure_parents(root, scratch, rel)?;
        let to = scratch.join(rel.trim_start_matches('/'));
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &to,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .map_err(sys(&to))?;
    }
    // Directory times last, as the container has them: adding entries changed them.
    let mut dirs: Vec<(String, PathBuf)> = walk(scratch)?.into_iter().filter(|(_, p)| p.is_dir()).collect();
    dirs.reverse();
    for (rel, to) in dirs {
        let from = root.join(rel.trim_start_matches('/'));
        if let Ok(meta) = fs::symlink_metadata(&from) {
            set_metadata(&to, &meta)?;
        }
    }
    Ok(())
}

/// Makes the directories above `rel` in `scratch`, with the container's metadata.
fn ensure_parents(root: &Path, scratch: &Path, rel: &str) -> Result<()> {
    let mut at = String::new();
    let parts: Vec<&str> = rel.trim_start_matches('/').split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push('/');
        at.push_str(part);
        let to = scratch.join(at.trim_start_matches('/'));
        if !to.exists() {
            let from = root.join(at.trim_start_matches('/'));
            fs::create_dir(&to).map_err(io(&to))?;
            set_metadata(&to, &fs::symlink_metadata(&from).map_err(io(&from))?)?;
        }
    }
    Ok(())
}

/// The node type mknod makes for a special file (device, FIFO or socket).
pub(crate) fn special_kind(ft: &fs::FileType) -> rustix::fs::FileType {
    if ft.is_char_device() {
        rustix::fs::FileType::CharacterDevice
    } else if ft.is_block_device() {
        rustix::fs::FileType::BlockDevice
    } else if ft.is_fifo() {
        rustix::fs::FileType::Fifo
    } else {
        rustix::fs::FileType::Socket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whiteout(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .unwrap();
    }

    /// Two layers in overlay form: the upper deletes /b and makes /a opaque.
    fn layers(dir: &Path) -> Vec<PathBuf> {
        let (lower, upper) = (dir.join("lower"), dir.join("upper"));
        fs::create_dir_all(lower.join("a")).unwrap();
        fs::write(lower.join("a/x"), "x").unwrap();
        fs::write(lower.join("b"), "b").unwrap();
        fs::write(lower.join("c"), "c").unwrap();
        fs::create_dir_all(upper.join("a")).unwrap();
        xattr::set(upper.join("a"), "trusted.overlay.opaque", b"y").unwrap();
        fs::write(upper.join("a/z"), "z").unwrap();
        whiteout(&upper.join("b"));
        vec![lower, upper]
    }

    #[test]
    fn a_copy_applies_whiteouts_and_opaque_directories() {
        let dir = tempfile::tempdir().unwrap();
        let layers = layers(dir.path());
        let keys: Vec<String> = flatten(&layers).unwrap().into_keys().collect();
        assert_eq!(keys, ["/a", "/a/z", "/c"]);
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        populate(&root, &layers).unwrap();
        assert_eq!(fs::read_to_string(root.join("a/z")).unwrap(), "z");
        assert!(!root.join("a/x").exists() && !root.join("b").exists());
        // Nothing changed yet: an empty upper.
        let scratch = dir.path().join("none");
        changes_as_upper(&root, &layers, &scratch).unwrap();
        assert_eq!(fs::read_dir(&scratch).unwrap().count(), 0);
        // Changes come out in overlay form: the file (a hard link), and a whiteout.
        fs::write(root.join("a/z"), "zz").unwrap();
        fs::remove_file(root.join("c")).unwrap();
        let scratch = dir.path().join("some");
        changes_as_upper(&root, &layers, &scratch).unwrap();
        let z = fs::metadata(scratch.join("a/z")).unwrap();
        assert_eq!(z.ino(), fs::metadata(root.join("a/z")).unwrap().ino());
        assert!(is_whiteout(&fs::symlink_metadata(scratch.join("c")).unwrap()));
    }
}
