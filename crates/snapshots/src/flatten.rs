//! Flattened snapshots: the bottom layers of a stack too deep for one overlay mount,
//! merged into one directory.
//!
//! overlayfs takes at most 500 lower layers (`OVL_MAX_STACK`). A stack of more than
//! [`MAX_LOWERS`] layers is mounted as the remaining top layers over one flattened
//! snapshot of its bottom [`depth`] layers: their merged result, whiteouts and opaque
//! directories applied (nothing lies under it, so it holds neither). Depths are
//! multiples of [`STEP`], so images that grow by a few layers (commits, builds) and
//! images sharing a bottom share one flattened snapshot.
//!
//! Entries are hard links to the layers' own files (snapshots are never written to), so
//! owners, modes, times, xattrs and hard links come along and no data is copied. An
//! entry that cannot be linked (the inode's link limit, another filesystem) or carries
//! overlay metadata (`trusted.overlay.*`) is copied instead, with the same attributes
//! (overlay's own xattrs left out), hard links among the copies kept. Directories are
//! made anew with the attributes of the topmost layer that has them.
//!
//! The layers are untrusted data: they are read through directory descriptors opened
//! one component at a time with `O_NOFOLLOW`, and every operation names a single entry
//! of such a directory (`*at` calls, or `/proc/self/fd/N/NAME` with the `l*xattr`
//! calls), so no symlink of a layer is ever followed.

use crate::{Result, SnapshotError};
use rustix::fs::{AtFlags, Mode, OFlags};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use xattr::FileExt;

/// Most lower directories one mount of a stack gets: overlayfs takes 500, and a view
/// of a container puts its writable layer on top as one more lower. Kept well below the
/// kernel's limit.
pub const MAX_LOWERS: usize = 119;

/// Flattened snapshots merge a multiple of this many bottom layers.
pub const STEP: usize = 64;

/// How many bottom layers of a stack of `layers` are mounted as one flattened snapshot:
/// 0 when the stack fits in one mount as it is; else the smallest multiple of [`STEP`]
/// that leaves at most [`MAX_LOWERS`] directories (the flattened one included).
pub fn depth(layers: usize) -> usize {
    if layers <= MAX_LOWERS {
        return 0;
    }
    (layers + 1 - MAX_LOWERS).div_ceil(STEP) * STEP
}

/// Overlay's own xattrs: whiteouts, opaque directories, redirects, origins. Meaningless
/// (or wrong) once the layers under them are merged, so never copied.
fn is_overlay_xattr(name: &OsStr) -> bool {
    name.as_bytes().starts_with(b"trusted.overlay.")
}

/// A path under a layer root: its names, one per component.
type Rel = Vec<Vec<u8>>;

/// One entry of the merged tree: the layer (index) that provides it, and for a
/// directory its merged entries.
struct Node {
    layer: usize,
    children: Option<BTreeMap<Vec<u8>, Node>>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |e| SnapshotError::io(path, e)
}

fn sys_err(path: &Path) -> impl FnOnce(rustix::io::Errno) -> SnapshotError + '_ {
    move |e| SnapshotError::io(path, e.into())
}

/// A directory by its (trusted) store path.
fn open_root(path: &Path) -> Result<File> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
    .map_err(sys_err(path))
}

/// The subdirectory `name` of `dir`, never through a symlink.
fn open_subdir(dir: &File, name: &[u8], shown: &Path) -> Result<File> {
    rustix::fs::openat(
        dir,
        OsStr::from_bytes(name),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
    .map_err(sys_err(&shown.join(OsStr::from_bytes(name))))
}

/// The directory `rel` (a list of names) under `root`, one component at a time.
fn open_beneath(root: &Path, rel: &[Vec<u8>]) -> Result<File> {
    let mut dir = open_root(root)?;
    let mut shown = root.to_path_buf();
    for name in rel {
        dir = open_subdir(&dir, name, &shown)?;
        shown.push(OsStr::from_bytes(name));
    }
    Ok(dir)
}

/// A path naming the entry `name` of the open directory `dir` without resolving any
/// symlink of the tree: the kernel resolves the descriptor, and the `l*` calls used with
/// it do not follow a final symlink.
fn entry_path(dir: &File, name: &[u8]) -> PathBuf {
    Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(OsStr::from_bytes(name))
}

fn shown(root: &Path, rel: &[Vec<u8>], name: &[u8]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(rel.iter().map(|n| OsStr::from_bytes(n)));
    if !name.is_empty() {
        p.push(OsStr::from_bytes(name));
    }
    p
}

/// Merges `layers` (bottom first, in overlay form) into `out`, an empty directory.
pub fn merge(layers: &[PathBuf], out: &Path) -> Result<()> {
    let mut root = Node {
        layer: 0,
        children: Some(BTreeMap::new()),
    };
    for (i, layer) in layers.iter().enumerate() {
        let dir = open_root(layer)?;
        root.layer = i;
        merge_dir(i, &dir, layer, root.children.as_mut().expect("the root is a directory"))?;
    }
    let mut writer = Writer {
        layers,
        out,
        copies: HashMap::new(),
    };
    let out_dir = open_root(out)?;
    let src = open_root(&layers[root.layer])?;
    let meta = src.metadata().map_err(io_err(&layers[root.layer]))?;
    copy_dir_attributes(&src, &meta, &out_dir, out)?;
    drop(src);
    let mut rel = Vec::new();
    writer.write_children(
        &mut rel,
        root.children.as_ref().expect("the root is a directory"),
        &out_dir,
    )?;
    set_times(&out_dir, &meta, out)
}

/// Applies one layer's directory `dir` (shown as `shown`) to the merged `children`.
fn merge_dir(layer: usize, dir: &File, shown: &Path, children: &mut BTreeMap<Vec<u8>, Node>) -> Result<()> {
    let entries = rustix::fs::Dir::read_from(dir).map_err(sys_err(shown))?;
    for entry in entries {
        let entry = entry.map_err(sys_err(shown))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = name.to_vec();
        let kind = match entry.file_type() {
            rustix::fs::FileType::CharacterDevice | rustix::fs::FileType::Unknown => {
                let st = rustix::fs::statat(dir, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(sys_err(&shown.join(OsStr::from_bytes(&name))))?;
                let kind = rustix::fs::FileType::from_raw_mode(st.st_mode as _);
                if kind == rustix::fs::FileType::CharacterDevice && st.st_rdev == 0 {
                    // A whiteout: the entry is gone, with everything under it.
                    children.remove(&name);
                    continue;
                }
                kind
            }
            kind => kind,
        };
        if kind != rustix::fs::FileType::Directory {
            // A file (or link, or node) replaces whatever was there.
            children.insert(name, Node { layer, children: None });
            continue;
        }
        let sub = open_subdir(dir, &name, shown)?;
        let opaque = sub
            .get_xattr("trusted.overlay.opaque")
            .ok()
            .flatten()
            .is_some_and(|v| v == b"y");
        let node = children.entry(name.clone()).or_insert(Node { layer, children: None });
        node.layer = layer;
        // An opaque directory, or one replacing a non-directory, hides what was below.
        if opaque || node.children.is_none() {
            node.children = Some(BTreeMap::new());
        }
        let merged = node.children.as_mut().expect("set above");
        merge_dir(layer, &sub, &shown.join(OsStr::from_bytes(&name)), merged)?;
    }
    Ok(())
}

struct Writer<'a> {
    layers: &'a [PathBuf],
    out: &'a Path,
    /// Source inodes copied (not linked) with more than one name: where the first copy
    /// is (directory, name), so the other names become links to it.
    copies: HashMap<(u64, u64), (Rel, Vec<u8>)>,
}

impl Writer<'_> {
    /// Writes the merged entries of the directory `rel` into `out_dir`.
    fn write_children(&mut self, rel: &mut Rel, children: &BTreeMap<Vec<u8>, Node>, out_dir: &File) -> Result<()> {
        // Files first, one source directory per layer that provides some.
        let mut by_layer: BTreeMap<usize, Vec<&[u8]>> = BTreeMap::new();
        for (name, node) in children {
            if node.children.is_none() {
                by_layer.entry(node.layer).or_default().push(name);
            }
        }
        for (layer, names) in by_layer {
            let src = open_beneath(&self.layers[layer], rel)?;
            for name in names {
                self.place(layer, rel, &src, name, out_dir)?;
            }
        }
        for (name, node) in children {
            let Some(grandchildren) = &node.children else {
                continue;
            };
            let root = &self.layers[node.layer];
            let parent = open_beneath(root, rel)?;
            let src = open_subdir(&parent, name, &shown(root, rel, b""))?;
            drop(parent);
            let src_shown = shown(root, rel, name);
            let meta = src.metadata().map_err(io_err(&src_shown))?;
            let to = shown(self.out, rel, name);
            rustix::fs::mkdirat(out_dir, OsStr::from_bytes(name), Mode::from_raw_mode(0o700)).map_err(sys_err(&to))?;
            let sub = open_subdir(out_dir, name, &shown(self.out, rel, b""))?;
            copy_dir_attributes(&src, &meta, &sub, &to)?;
            drop(src);
            rel.push(name.clone());
            let written = self.write_children(rel, grandchildren, &sub);
            rel.pop();
            written?;
            // Times last: filling the directory changed them.
            set_times(&sub, &meta, &to)?;
        }
        Ok(())
    }

    /// Puts the non-directory `name` of `src` (the directory `rel` of layer `layer`)
    /// into `out_dir`: a hard link, or a copy.
    fn place(&mut self, layer: usize, rel: &[Vec<u8>], src: &File, name: &[u8], out_dir: &File) -> Result<()> {
        let from = entry_path(src, name);
        let from_shown = shown(&self.layers[layer], rel, name);
        let to_shown = shown(self.out, rel, name);
        let meta = fs::symlink_metadata(&from).map_err(io_err(&from_shown))?;
        let overlay_metadata = xattr::list(&from)
            .map_err(io_err(&from_shown))?
            .any(|n| is_overlay_xattr(&n));
        let name_os = OsStr::from_bytes(name);
        if !overlay_metadata {
            match rustix::fs::linkat(src, name_os, out_dir, name_os, AtFlags::empty()) {
                Ok(()) => return Ok(()),
                // Too many links to the inode, another filesystem, or not allowed: copy.
                Err(rustix::io::Errno::MLINK | rustix::io::Errno::XDEV | rustix::io::Errno::PERM) => {}
                Err(e) => return Err(SnapshotError::io(to_shown, e.into())),
            }
        }
        let key = (meta.dev(), meta.ino());
        if meta.nlink() > 1 {
            if let Some((dir_rel, first)) = self.copies.get(&key) {
                let dir = open_beneath(self.out, dir_rel)?;
                if rustix::fs::linkat(&dir, OsStr::from_bytes(first), out_dir, name_os, AtFlags::empty()).is_ok() {
                    return Ok(());
                }
            }
        }
        copy_entry(src, name, &meta, out_dir, &from_shown, &to_shown)?;
        if meta.nlink() > 1 {
            self.copies.insert(key, (rel.to_vec(), name.to_vec()));
        }
        Ok(())
    }
}

/// Copies the non-directory `name` of `src` into `out_dir` with its owner, mode, times
/// and xattrs (overlay's left out).
fn copy_entry(src: &File, name: &[u8], meta: &fs::Metadata, out_dir: &File, from: &Path, to: &Path) -> Result<()> {
    let name_os = OsStr::from_bytes(name);
    let ft = meta.file_type();
    let owner = (
        Some(rustix::fs::Uid::from_raw(meta.uid())),
        Some(rustix::fs::Gid::from_raw(meta.gid())),
    );
    let mode = Mode::from_raw_mode(meta.mode() & 0o7777);
    if ft.is_file() {
        let mut input = File::from(
            rustix::fs::openat(
                src,
                name_os,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(sys_err(from))?,
        );
        let mut output = File::from(
            rustix::fs::openat(
                out_dir,
                name_os,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(sys_err(to))?,
        );
        io::copy(&mut input, &mut output).map_err(io_err(to))?;
        // Owner before mode: a change of owner clears set-user-ID bits.
        rustix::fs::fchown(&output, owner.0, owner.1).map_err(sys_err(to))?;
        rustix::fs::fchmod(&output, mode).map_err(sys_err(to))?;
        for attr in input.list_xattr().map_err(io_err(from))? {
            if is_overlay_xattr(&attr) {
                continue;
            }
            if let Some(value) = input.get_xattr(&attr).map_err(io_err(from))? {
                output.set_xattr(&attr, &value).map_err(io_err(to))?;
            }
        }
        return set_times(&output, meta, to);
    }
    if ft.is_symlink() {
        let target = rustix::fs::readlinkat(src, name_os, Vec::new()).map_err(sys_err(from))?;
        rustix::fs::symlinkat(target.as_c_str(), out_dir, name_os).map_err(sys_err(to))?;
    } else {
        let kind = crate::vfs::special_kind(&ft);
        rustix::fs::mknodat(out_dir, name_os, kind, mode, meta.rdev()).map_err(sys_err(to))?;
    }
    rustix::fs::chownat(out_dir, name_os, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW).map_err(sys_err(to))?;
    if !ft.is_symlink() {
        // mknod's mode went through the umask. Not a symlink: nothing to follow.
        rustix::fs::chmodat(out_dir, name_os, mode, AtFlags::empty()).map_err(sys_err(to))?;
    }
    let (from_path, to_path) = (entry_path(src, name), entry_path(out_dir, name));
    for attr in xattr::list(&from_path).map_err(io_err(from))? {
        if is_overlay_xattr(&attr) {
            continue;
        }
        if let Some(value) = xattr::get(&from_path, &attr).map_err(io_err(from))? {
            xattr::set(&to_path, &attr, &value).map_err(io_err(to))?;
        }
    }
    rustix::fs::utimensat(out_dir, name_os, &timestamps(meta), AtFlags::SYMLINK_NOFOLLOW).map_err(sys_err(to))
}

/// Gives the new directory `to` the owner, mode and xattrs of `from` (overlay's own
/// xattrs left out: the merged directory hides nothing).
fn copy_dir_attributes(from: &File, meta: &fs::Metadata, to: &File, shown: &Path) -> Result<()> {
    rustix::fs::fchown(
        to,
        Some(rustix::fs::Uid::from_raw(meta.uid())),
        Some(rustix::fs::Gid::from_raw(meta.gid())),
    )
    .map_err(sys_err(shown))?;
    rustix::fs::fchmod(to, Mode::from_raw_mode(meta.mode() & 0o7777)).map_err(sys_err(shown))?;
    for attr in from.list_xattr().map_err(io_err(shown))? {
        if is_overlay_xattr(&attr) {
            continue;
        }
        if let Some(value) = from.get_xattr(&attr).map_err(io_err(shown))? {
            to.set_xattr(&attr, &value).map_err(io_err(shown))?;
        }
    }
    Ok(())
}

/// A file's access and modification times, as utimensat/futimens take them.
pub(crate) fn timestamps(meta: &fs::Metadata) -> rustix::fs::Timestamps {
    rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec() as _,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec() as _,
        },
    }
}

fn set_times(file: &File, meta: &fs::Metadata, shown: &Path) -> Result<()> {
    rustix::fs::futimens(file.as_fd(), &timestamps(meta)).map_err(sys_err(shown))
}

#[cfg(test)]
mod tests;
