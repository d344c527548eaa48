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
use strata_inroot::{Handle, InRootError, OpenFlags, Root};

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

/// Whether an entry of the container (held open) differs from the image's.
fn differs(a: &fs::Metadata, b: &fs::Metadata, a_entry: &Handle, b_path: &Path) -> bool {
    let kind = |m: &fs::Metadata| m.mode() & 0o170000;
    if kind(a) != kind(b) || a.mode() != b.mode() || a.uid() != b.uid() || a.gid() != b.gid() || a.rdev() != b.rdev() {
        return true;
    }
    if a.is_dir() {
        return false;
    }
    if a.file_type().is_symlink() {
        return a_entry.read_link().ok() != fs::read_link(b_path).ok();
    }
    a.size() != b.size() || a.mtime() != b.mtime() || a.mtime_nsec() != b.mtime_nsec()
}

fn in_root(root: &Path) -> impl FnOnce(InRootError) -> SnapshotError + '_ {
    move |e| SnapshotError::io(root, std::io::Error::other(e))
}

/// The container's entry at `rel` itself (a final link not followed), held open; None
/// when it is gone.
fn held(tree: &Root, rel: &str) -> Option<Handle> {
    tree.resolve_nofollow(Path::new(rel)).ok()
}

/// Every entry of the container's tree, parents first, as paths inside it. The tree is
/// the container's and may change meanwhile: each directory is resolved inside the
/// root and read through its descriptor, so one swapped for a link is not followed.
fn walk_in_root(root: &Root) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(prefix) = stack.pop() {
        let at = if prefix.is_empty() { "/" } else { prefix.as_str() };
        let Ok(dir) = root
            .resolve_nofollow(Path::new(at))
            .and_then(|h| h.open(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY))
        else {
            // Gone, or no longer a directory: its entries are not the container's tree.
            continue;
        };
        let entries = rustix::fs::Dir::read_from(&dir).map_err(sys(root.dir()))?;
        for entry in entries {
            let entry = entry.map_err(sys(root.dir()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            let rel = format!("{prefix}/{name}");
            if entry.file_type() == rustix::fs::FileType::Directory {
                stack.push(rel.clone());
            }
            out.push(rel);
        }
    }
    out.sort();
    Ok(out)
}

/// The changes of the container whose copy is `root` against the image `layers`, as an
/// overlay upper directory made at `scratch`: changed and added entries (files as hard
/// links into `root`), the directories above them, and a whiteout for each deletion.
///
/// The container may be running and hostile: its entries are resolved inside its root
/// and read through descriptors, and `scratch` (the store's, out of its reach) is only
/// written below real directories, so a directory it swaps for a link mid-walk is
/// never followed, to read or to write.
pub fn changes_as_upper(root: &Path, layers: &[PathBuf], scratch: &Path) -> Result<()> {
    let image = flatten(layers)?;
    let tree = Root::open(root).map_err(in_root(root))?;
    fs::create_dir_all(scratch).map_err(io(scratch))?;
    let mut present = std::collections::HashSet::new();
    let mut links = HashMap::new();
    for rel in walk_in_root(&tree)? {
        present.insert(rel.clone());
        let Some(entry) = held(&tree, &rel) else {
            continue; // gone meanwhile
        };
        let Ok(meta) = entry.metadata() else { continue };
        let changed = match image.get(&rel) {
            None => true,
            Some(lower) => {
                let lmeta = fs::symlink_metadata(lower).map_err(io(lower))?;
                differs(&meta, &lmeta, &entry, lower)
            }
        };
        let to = scratch.join(rel.trim_start_matches('/'));
        if !changed || !ensure_parents(&tree, scratch, &rel)? || fs::symlink_metadata(&to).is_ok() {
            continue;
        }
        copy_from_root(&entry, &meta, &to, &mut links)?;
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
        if !ensure_parents(&tree, scratch, rel)? {
            continue;
        }
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
    let mut dirs: Vec<(String, PathBuf)> = walk(scratch)?
        .into_iter()
        .filter(|(_, p)| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
        .collect();
    dirs.reverse();
    for (rel, to) in dirs {
        if let Some(meta) = held(&tree, &rel).and_then(|h| h.metadata().ok()) {
            if meta.is_dir() {
                set_metadata(&to, &meta)?;
            }
        }
    }
    Ok(())
}

/// One entry of the container (held open) as `to` in the scratch upper: a regular file
/// hard-linked (or copied from its descriptor), anything else made anew.
fn copy_from_root(
    entry: &Handle,
    meta: &fs::Metadata,
    to: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<()> {
    let ft = meta.file_type();
    if ft.is_dir() {
        fs::create_dir(to).map_err(io(to))?;
    } else if ft.is_symlink() {
        let target = entry.read_link().map_err(in_root(to))?;
        std::os::unix::fs::symlink(&target, to).map_err(io(to))?;
    } else if ft.is_file() {
        // The held file itself, through its descriptor's path (never a path re-joined).
        let linked = rustix::fs::linkat(
            rustix::fs::CWD,
            entry.proc_path(),
            rustix::fs::CWD,
            to,
            rustix::fs::AtFlags::SYMLINK_FOLLOW,
        );
        if linked.is_ok() {
            return Ok(());
        }
        if meta.nlink() > 1 && links.contains_key(&(meta.dev(), meta.ino())) {
            fs::hard_link(&links[&(meta.dev(), meta.ino())], to).map_err(io(to))?;
            return Ok(());
        }
        let mut from = entry
            .open(OpenFlags::O_RDONLY | OpenFlags::O_NOFOLLOW | OpenFlags::O_NONBLOCK)
            .map_err(in_root(to))?;
        let mut out = fs::File::options()
            .write(true)
            .create_new(true)
            .open(to)
            .map_err(io(to))?;
        std::io::copy(&mut from, &mut out).map_err(io(to))?;
        if meta.nlink() > 1 {
            links.insert((meta.dev(), meta.ino()), to.to_path_buf());
        }
    } else {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            to,
            special_kind(&ft),
            rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777),
            meta.rdev(),
        )
        .map_err(sys(to))?;
    }
    set_metadata(to, meta)
}

/// Makes the directories above `rel` in `scratch`, with the container's metadata.
/// False when one of them is there but is not a directory: the container swapped a
/// directory for something else while it was walked, and `rel` is left out.
fn ensure_parents(tree: &Root, scratch: &Path, rel: &str) -> Result<bool> {
    let mut at = String::new();
    let parts: Vec<&str> = rel.trim_start_matches('/').split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push('/');
        at.push_str(part);
        let to = scratch.join(at.trim_start_matches('/'));
        match fs::symlink_metadata(&to) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => return Ok(false),
            Err(_) => {}
        }
        let Some(meta) = held(tree, &at).and_then(|h| h.metadata().ok()) else {
            return Ok(false);
        };
        if !meta.is_dir() {
            return Ok(false);
        }
        fs::create_dir(&to).map_err(io(&to))?;
        set_metadata(&to, &meta)?;
    }
    Ok(true)
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
