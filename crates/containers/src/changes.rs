//! A container's changes: its writable layer (overlayfs upper directory) read back as
//! `diff` lines and as an OCI layer tar with whiteouts (`commit`), and a running
//! container's whole root (`export`). Such a tree is untrusted and may change while it
//! is read: it is walked and read through descriptors, never by host paths the kernel
//! would follow (README, "Host-side work on a container stays inside it").

use crate::error::{ContainerError, Result};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One `diff` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Changed(String),
    Deleted(String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(p) => write!(f, "A {p}"),
            Change::Changed(p) => write!(f, "C {p}"),
            Change::Deleted(p) => write!(f, "D {p}"),
        }
    }
}

use strata_snapshots::{is_opaque, is_whiteout};

/// Paths (container-absolute) that a commit and diff leave out: volume contents, bind
/// mount targets, and the files the runtime bind-mounts itself.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    pub files: Vec<String>,
    /// Directories whose contents are left out (the directory itself is kept).
    pub contents_of: Vec<String>,
}

impl Exclusions {
    fn excludes(&self, path: &str) -> bool {
        self.files.iter().any(|f| f == path)
            || self
                .contents_of
                .iter()
                .any(|d| path.len() > d.len() && path.starts_with(d.as_str()) && path.as_bytes()[d.len()] == b'/')
    }
}

/// What the walk saw of an entry (`lstat`, never following it).
#[derive(Debug, Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    size: u64,
    nlink: u64,
    dev: u64,
    ino: u64,
    rdev: u64,
}

impl Meta {
    // The field types of `struct stat` differ between architectures.
    #[allow(clippy::unnecessary_cast)]
    fn of(st: &Stat) -> Meta {
        Meta {
            mode: st.st_mode as u32,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            mtime: st.st_mtime as i64,
            size: st.st_size.max(0) as u64,
            nlink: st.st_nlink as u64,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            rdev: st.st_rdev as u64,
        }
    }

    fn kind(&self) -> FileType {
        FileType::from_raw_mode(self.mode)
    }

    fn is_dir(&self) -> bool {
        self.kind() == FileType::Directory
    }

    /// An overlay whiteout: a 0/0 character device.
    fn is_whiteout(&self) -> bool {
        self.kind() == FileType::CharacterDevice && self.rdev == 0
    }

    fn same_object(&self, other: &Meta) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}

/// One entry of the tree.
struct Entry {
    /// Container path (`/a/b`), for the tar and for messages.
    path: String,
    /// The entry's own names below the root (`a/b`), exactly as the directories hold them.
    rel: PathBuf,
    meta: Meta,
    /// A directory marked opaque (`trusted.overlay.opaque=y`), read through its descriptor.
    opaque: bool,
    /// A symlink's target, read with readlinkat on its directory's descriptor.
    target: Option<PathBuf>,
}

/// A tree as the walk found it: its root held open, and every entry sorted by path.
struct Tree {
    root: OwnedFd,
    entries: Vec<Entry>,
}

/// The error for a tree that changed while it was read (a running container's).
fn changed(path: &str, how: impl std::fmt::Display) -> ContainerError {
    ContainerError::Invalid(format!(
        "{path} changed while the container's files were being read ({how}); pause or stop the container and try again"
    ))
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A directory being listed: its descriptor, and the subdirectories still to descend
/// into (as indexes into the entries; popped from the end).
struct Level {
    fd: OwnedFd,
    pending: Vec<usize>,
}

/// Every entry of `upper`, sorted by path. The tree is read through directory
/// descriptors only: each directory is opened relative to its parent's descriptor
/// (`O_DIRECTORY | O_NOFOLLOW`), each entry stat'ed with `AT_SYMLINK_NOFOLLOW`, so a
/// symlink a running container swaps in is never followed. One descriptor is held per
/// level above the directory being listed (its depth), never one per directory. With
/// `details`, opaque markers and symlink targets are read too (the layer needs them,
/// `diff` does not).
fn walk(upper: &Path, details: bool) -> Result<Tree> {
    // `upper` itself is strata's own path (the upper directory, or the mounted root).
    let root = rustix::fs::open(
        upper,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ContainerError::io(format!("reading {}", upper.display()), e.into()))?;
    let mut entries = Vec::new();
    let root_dup = root
        .try_clone()
        .map_err(|e| ContainerError::io(format!("reading {}", upper.display()), e))?;
    let first = list(root_dup, "", Path::new(""), details, &mut entries)?;
    let mut stack = vec![first];
    while let Some(level) = stack.last_mut() {
        let Some(index) = level.pending.pop() else {
            stack.pop();
            continue;
        };
        let entry = &mut entries[index];
        let name = entry.rel.file_name().unwrap_or_default();
        let fd = rustix::fs::openat(&level.fd, name, DIR_FLAGS, Mode::empty())
            .map_err(|e| changed(&entry.path, io::Error::from(e)))?;
        let now = rustix::fs::fstat(&fd).map_err(|e| ContainerError::io(format!("stat {}", entry.path), e.into()))?;
        if !entry.meta.same_object(&Meta::of(&now)) {
            return Err(changed(&entry.path, "another directory took its place"));
        }
        if details {
            entry.opaque = is_opaque_fd(&fd);
        }
        let (prefix, rel) = (entry.path.clone(), entry.rel.clone());
        let next = list(fd, &prefix, &rel, details, &mut entries)?;
        stack.push(next);
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Tree { root, entries })
}

/// Lists the directory `fd` (container path `prefix`, `rel` below the root) into `out`.
fn list(fd: OwnedFd, prefix: &str, rel: &Path, details: bool, out: &mut Vec<Entry>) -> Result<Level> {
    let shown = if prefix.is_empty() { "/" } else { prefix };
    let failed = |e: rustix::io::Errno| ContainerError::io(format!("reading {shown}"), e.into());
    let mut names: Vec<OsString> = Vec::new();
    let mut dir = Dir::read_from(&fd).map_err(failed)?;
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(failed)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    }
    drop(dir);
    names.sort();
    let mut pending = Vec::new();
    for name in names.into_iter().rev() {
        let path = format!("{prefix}/{}", name.to_string_lossy());
        let st = rustix::fs::statat(&fd, &name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| ContainerError::io(format!("stat {path}"), e.into()))?;
        let meta = Meta::of(&st);
        let target = if details && meta.kind() == FileType::Symlink {
            let target =
                rustix::fs::readlinkat(&fd, &name, Vec::new()).map_err(|e| changed(&path, io::Error::from(e)))?;
            Some(PathBuf::from(OsString::from_vec(target.into_bytes())))
        } else {
            None
        };
        if meta.is_dir() {
            pending.push(out.len());
        }
        out.push(Entry {
            path,
            rel: rel.join(&name),
            meta,
            opaque: false,
            target,
        });
    }
    // Popped from the end: descended in name order.
    Ok(Level { fd, pending })
}

/// An overlay opaque directory, asked of its descriptor.
fn is_opaque_fd(fd: &OwnedFd) -> bool {
    let mut value = [0u8; 8];
    rustix::fs::fgetxattr(fd, "trusted.overlay.opaque", &mut value[..]).is_ok_and(|n| &value[..n] == b"y")
}

/// The directories on the way to the entries being archived, opened from the root one
/// name at a time (`O_DIRECTORY | O_NOFOLLOW`), and kept open while the following
/// entries (sorted by path) share them.
struct Cursor<'a> {
    root: BorrowedFd<'a>,
    open: Vec<(OsString, OwnedFd)>,
}

impl<'a> Cursor<'a> {
    fn new(root: &'a OwnedFd) -> Self {
        Cursor {
            root: root.as_fd(),
            open: Vec::new(),
        }
    }

    /// The directory `dir` (below the root), or the errno of a name on the way that is
    /// no longer a directory (a symlink is never followed).
    fn dir(&mut self, dir: &Path) -> std::result::Result<BorrowedFd<'_>, rustix::io::Errno> {
        let names: Vec<&OsStr> = dir.iter().collect();
        let kept = self
            .open
            .iter()
            .zip(&names)
            .take_while(|((open, _), name)| open.as_os_str() == **name)
            .count();
        self.open.truncate(kept);
        for name in &names[kept..] {
            let at = self.open.last().map_or(self.root, |(_, fd)| fd.as_fd());
            let fd = rustix::fs::openat(at, *name, DIR_FLAGS, Mode::empty())?;
            self.open.push((name.to_os_string(), fd));
        }
        Ok(self.open.last().map_or(self.root, |(_, fd)| fd.as_fd()))
    }
}

/// Reads exactly `left` bytes of a file whose size was taken when it was opened: a file
/// that shrinks meanwhile is an error (the tar header already holds its size), and what
/// it grew by is left out.
struct Exactly<'p> {
    file: fs::File,
    left: u64,
    size: u64,
    path: &'p str,
}

impl io::Read for Exactly<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} shrank from {} to {} bytes while it was being read; pause or stop the container and try again",
                    self.path,
                    self.size,
                    self.size - self.left
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Opens the regular file `entry` through the descriptors of its directories, never
/// following a symlink, and checks it is still the file the walk saw. A running
/// container may have swapped it (or a directory above it) since: then the layer is
/// refused with the path named, rather than silently lacking the file. The caller asked
/// for the container's files as they are; a layer that quietly misses one would be
/// wrong without anyone knowing, and a container that changes files while they are
/// read can only be archived consistently when paused.
fn open_walked(cursor: &mut Cursor<'_>, entry: &Entry) -> Result<(fs::File, u64)> {
    let parent = entry.rel.parent().unwrap_or(Path::new(""));
    let name = entry.rel.file_name().unwrap_or_default();
    let dir = cursor
        .dir(parent)
        .map_err(|e| changed(&entry.path, format!("a directory above it: {}", io::Error::from(e))))?;
    // O_NONBLOCK: should a FIFO have taken its place, opening it must not hang.
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| changed(&entry.path, io::Error::from(e)))?;
    let now =
        Meta::of(&rustix::fs::fstat(&fd).map_err(|e| ContainerError::io(format!("stat {}", entry.path), e.into()))?);
    if now.kind() != FileType::RegularFile || !now.same_object(&entry.meta) {
        return Err(changed(&entry.path, "another file took its place"));
    }
    Ok((fs::File::from(fd), now.size))
}

/// Whether `path` exists in the image under the container (lower dirs, top first), as
/// overlayfs looks it up: one component at a time, never through a link (a lower
/// layer's link to `/etc` leads to the host's, not the image's); a whiteout, or a
/// non-directory on the way, hides it; an opaque directory hides the layers below.
fn in_lowers(lowers: &[PathBuf], path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for lower in lowers {
        match in_layer(lower, &parts) {
            Lookup::Found => return true,
            Lookup::Hidden => return false,
            Lookup::Absent => {}
        }
    }
    false
}

enum Lookup {
    Found,
    /// Not here, and not in the layers below either.
    Hidden,
    /// Not here: look in the layer below.
    Absent,
}

fn in_layer(layer: &Path, parts: &[&str]) -> Lookup {
    let mut dir = layer.to_path_buf();
    let mut below_opaque = false;
    for (i, part) in parts.iter().enumerate() {
        dir.push(part);
        // The directories above were checked to be real ones: nothing is followed.
        let Ok(meta) = fs::symlink_metadata(&dir) else {
            return if below_opaque { Lookup::Hidden } else { Lookup::Absent };
        };
        if is_whiteout(&meta) {
            return Lookup::Hidden;
        }
        if i + 1 == parts.len() {
            return Lookup::Found;
        }
        if !meta.is_dir() {
            return Lookup::Hidden;
        }
        below_opaque |= is_opaque(&dir);
    }
    Lookup::Absent
}

/// Docker's `diff`: A added, C changed, D deleted, sorted by path.
pub fn diff(upper: &Path, lowers: &[PathBuf], skip: &Exclusions) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let entries = walk(upper, false)?.entries;
    let kept: Vec<&str> = entries
        .iter()
        .map(|e| e.path.as_str())
        .filter(|p| !skip.excludes(p))
        .collect();
    for entry in &entries {
        let path = entry.path.clone();
        if skip.excludes(&path) {
            continue;
        }
        // A directory that only holds left-out entries (/etc for the runtime's own
        // /etc/hosts mount point) is not a change of the user's.
        let prefix = format!("{path}/");
        let holds_excluded = entries
            .iter()
            .any(|e| e.path.starts_with(&prefix) && skip.excludes(&e.path));
        if entry.meta.is_dir()
            && holds_excluded
            && !kept.iter().any(|p| p.starts_with(&prefix))
            && in_lowers(lowers, &path)
        {
            continue;
        }
        out.push(if entry.meta.is_whiteout() {
            Change::Deleted(path)
        } else if in_lowers(lowers, &path) {
            Change::Changed(path)
        } else {
            Change::Added(path)
        });
    }
    Ok(out)
}

/// Writes the layer tar of the changes in `upper`: sorted entries, OCI whiteouts
/// (`.wh.NAME` for deletions, `.wh..wh..opq` for opaque directories), hard links kept,
/// `trusted.overlay.*` never exported. Returns the writer.
pub fn write_layer<W: Write>(upper: &Path, skip: &Exclusions, out: W) -> Result<W> {
    write_layer_clamped(upper, skip, None, out)
}

/// [`write_layer`], with every file time later than `clamp` set to `clamp` (a build
/// under `SOURCE_DATE_EPOCH` gives the same layer every time).
///
/// The tree may be a running container's: it is walked through directory descriptors,
/// and each regular file is then opened through the descriptors of its directories
/// without following a symlink and checked to be the file walked (see [`open_walked`]),
/// so a swapped-in symlink never puts a host file into the layer.
pub fn write_layer_clamped<W: Write>(upper: &Path, skip: &Exclusions, clamp: Option<u64>, out: W) -> Result<W> {
    let time = |m: &Meta| {
        let t = m.mtime.max(0) as u64;
        clamp.map_or(t, |c| t.min(c))
    };
    let mut tar = tar::Builder::new(out);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    let err = |p: &str| {
        let p = p.to_string();
        move |e: io::Error| ContainerError::io(format!("adding {p} to the layer"), e)
    };
    let tree = walk(upper, true)?;
    let mut cursor = Cursor::new(&tree.root);
    for entry in &tree.entries {
        let (path, meta) = (&entry.path, &entry.meta);
        if skip.excludes(path) {
            continue;
        }
        let rel = path.trim_start_matches('/');
        let mut header = tar::Header::new_gnu();
        header.set_uid(meta.uid as u64);
        header.set_gid(meta.gid as u64);
        header.set_mode(meta.mode & 0o7777);
        header.set_mtime(time(meta));
        if meta.is_whiteout() {
            let (dir, name) = rel.rsplit_once('/').map_or(("", rel), |(d, n)| (d, n));
            let wh = if dir.is_empty() {
                format!(".wh.{name}")
            } else {
                format!("{dir}/.wh.{name}")
            };
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o600);
            header.set_size(0);
            tar.append_data(&mut header, &wh, io::empty()).map_err(err(path))?;
            continue;
        }
        match meta.kind() {
            FileType::Directory => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, format!("{rel}/"), io::empty())
                    .map_err(err(path))?;
                if entry.opaque {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(0o600);
                    h.set_size(0);
                    h.set_mtime(time(meta));
                    tar.append_data(&mut h, format!("{rel}/.wh..wh..opq"), io::empty())
                        .map_err(err(path))?;
                }
            }
            FileType::Symlink => {
                let target = entry.target.as_deref().unwrap_or(Path::new(""));
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, rel, target).map_err(err(path))?;
            }
            FileType::RegularFile => {
                if meta.nlink > 1 {
                    if let Some(first) = links.get(&(meta.dev, meta.ino)) {
                        header.set_entry_type(tar::EntryType::Link);
                        header.set_size(0);
                        tar.append_link(&mut header, rel, first).map_err(err(path))?;
                        continue;
                    }
                    links.insert((meta.dev, meta.ino), rel.to_string());
                }
                strata_inroot::pause("layer:walked", Path::new(path));
                let (file, size) = open_walked(&mut cursor, entry)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size);
                let data = Exactly {
                    file,
                    left: size,
                    size,
                    path,
                };
                // Read in pieces of up to 1 MiB (tar's copy reads 8 KiB at a time: a
                // 100 MB file took 12,800 reads).
                let piece = size.clamp(8 << 10, 1 << 20) as usize;
                let data = io::BufReader::with_capacity(piece, data);
                tar.append_data(&mut header, rel, data).map_err(err(path))?;
            }
            FileType::Fifo => {
                header.set_entry_type(tar::EntryType::Fifo);
                header.set_size(0);
                tar.append_data(&mut header, rel, io::empty()).map_err(err(path))?;
            }
            // Sockets and device nodes a container made are not part of an image.
            _ => {}
        }
    }
    tar.into_inner()
        .map_err(|e| ContainerError::io("finishing the layer tar", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_shrinks_while_read_is_an_error_not_a_short_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"0123456789").unwrap();
        let file = fs::File::open(&path).unwrap();
        fs::write(&path, b"0123").unwrap();
        let mut data = Exactly {
            file,
            left: 10,
            size: 10,
            path: "/f",
        };
        let err = io::copy(&mut data, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("/f shrank from 10 to 4 bytes"), "{err}");
        // Grown: exactly the size taken is read.
        fs::write(&path, b"0123456789abcdef").unwrap();
        let mut data = Exactly {
            file: fs::File::open(&path).unwrap(),
            left: 10,
            size: 10,
            path: "/f",
        };
        assert_eq!(io::copy(&mut data, &mut io::sink()).unwrap(), 10);
    }

    #[test]
    fn links_to_outside_the_tree_are_archived_as_links_never_followed() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"host only").unwrap();
        let tree = tempfile::tempdir().unwrap();
        let root = tree.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/file"), b"inside").unwrap();
        fs::hard_link(root.join("a/b/file"), root.join("a/hard")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("a/dirlink")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("a/filelink")).unwrap();
        let layer = write_layer(root, &Exclusions::default(), Vec::new()).unwrap();
        assert!(!layer.windows(9).any(|w| w == b"host only"));
        let mut archive = tar::Archive::new(&layer[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let link = entry.link_name().unwrap().map(|l| l.display().to_string());
            seen.push((
                entry.path().unwrap().display().to_string(),
                entry.header().entry_type(),
                link,
            ));
        }
        let outside = outside.path().display().to_string();
        let expected: Vec<(String, tar::EntryType, Option<String>)> = vec![
            ("a/".into(), tar::EntryType::Directory, None),
            ("a/b/".into(), tar::EntryType::Directory, None),
            ("a/b/file".into(), tar::EntryType::Regular, None),
            ("a/dirlink".into(), tar::EntryType::Symlink, Some(outside.clone())),
            (
                "a/filelink".into(),
                tar::EntryType::Symlink,
                Some(format!("{outside}/secret")),
            ),
            ("a/hard".into(), tar::EntryType::Link, Some("a/b/file".into())),
        ];
        assert_eq!(seen, expected);
    }
}
