//! A container's files as tar streams, for the Engine API's `/containers/{id}/archive`
//! (what `docker cp` asks for both ways): the stat of a path, a tar of the file or
//! directory at a path, and a tar extracted into a directory.
//!
//! The same rules as `cp`: the path is resolved inside the container's root by the
//! kernel (strata-inroot), and everything below it is read and written through
//! directory descriptors, one name at a time with `O_NOFOLLOW`. A tar entry is refused
//! when its name has `..` or is absolute, when a directory on its way is a symlink (so
//! a symlink entry cannot be written through), and when it is a hard link to anything
//! but an earlier file of the same archive: nothing lands, and nothing is read, outside
//! the container's root.

use super::{entries, in_root, sys, with_root};
use crate::error::RuntimeError;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use strata_containers::{ContainerConfig, ContainerRecord, Containers};
use strata_inroot::{Handle, InRootError, Kind, OpenFlags, Root};

/// Why an archive operation failed, by what the caller should answer.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The path does not exist in the container (Docker's wording).
    #[error("Could not find the file {path} in container {container}")]
    NotFound { path: String, container: String },
    /// An extraction's target exists but is no directory.
    #[error("extraction point is not a directory")]
    NotADirectory,
    /// An extraction into the root of a `--read-only` container, outside its volumes.
    #[error("container rootfs is marked read-only")]
    ReadOnly,
    /// A tar entry that would leave the target, or replace what it may not.
    #[error("archive entry {entry:?} refused: {reason}")]
    Refused { entry: String, reason: String },
    #[error(transparent)]
    Runtime(Box<RuntimeError>),
}

impl From<RuntimeError> for CopyError {
    fn from(e: RuntimeError) -> Self {
        CopyError::Runtime(Box::new(e))
    }
}

impl CopyError {
    pub fn kind(&self) -> strata_metadata::ErrorKind {
        use strata_metadata::ErrorKind;
        match self {
            CopyError::NotFound { .. } => ErrorKind::NotFound,
            CopyError::NotADirectory | CopyError::ReadOnly | CopyError::Refused { .. } => ErrorKind::Invalid,
            CopyError::Runtime(e) => e.kind(),
        }
    }
}

impl From<strata_containers::ContainerError> for CopyError {
    fn from(e: strata_containers::ContainerError) -> Self {
        RuntimeError::from(e).into()
    }
}

type Result<T, E = CopyError> = std::result::Result<T, E>;

/// What Docker reports of a path (`X-Docker-Container-Path-Stat`): the path's own
/// metadata, a symlink's not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// The last element of the path asked for (`/` for the root, `.` for `dir/.`).
    pub name: String,
    pub size: u64,
    /// The Unix `st_mode` (type and permission bits).
    pub mode: u32,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
    /// A symlink's target as an absolute path in the container (its text, made
    /// absolute against the link's directory); empty for anything else.
    pub link_target: String,
}

impl PathStat {
    /// The mode as Go's `os.FileMode` (what Docker's clients decode).
    pub fn go_file_mode(&self) -> u32 {
        const DIR: u32 = 1 << 31;
        const SYMLINK: u32 = 1 << 27;
        const DEVICE: u32 = 1 << 26;
        const NAMED_PIPE: u32 = 1 << 25;
        const SOCKET: u32 = 1 << 24;
        const SETUID: u32 = 1 << 23;
        const SETGID: u32 = 1 << 22;
        const CHAR_DEVICE: u32 = 1 << 21;
        const STICKY: u32 = 1 << 20;
        let mut mode = self.mode & 0o777;
        mode |= match FileType::from_raw_mode(self.mode) {
            FileType::Directory => DIR,
            FileType::Symlink => SYMLINK,
            FileType::BlockDevice => DEVICE,
            FileType::CharacterDevice => DEVICE | CHAR_DEVICE,
            FileType::Fifo => NAMED_PIPE,
            FileType::Socket => SOCKET,
            _ => 0,
        };
        for (bit, go) in [(0o4000, SETUID), (0o2000, SETGID), (0o1000, STICKY)] {
            if self.mode & bit != 0 {
                mode |= go;
            }
        }
        mode
    }

    pub fn is_dir(&self) -> bool {
        FileType::from_raw_mode(self.mode) == FileType::Directory
    }
}

/// `HEAD /containers/{id}/archive?path=`: the stat of `path`.
pub fn stat_path(containers: &Containers<'_>, record: &ContainerRecord, path: &str) -> Result<PathStat> {
    with_root(containers, record, |root| {
        let abs = container_path(path);
        let handle = find_nofollow(root, &abs)?.ok_or_else(|| not_found(path, record))?;
        path_stat(&handle, &abs)
    })
}

/// `GET /containers/{id}/archive?path=`: a tar of the file or directory at `path`
/// into `out`, its top entry named after the path's last element as Docker's (a
/// symlink is archived as the link). `stat_seen` gets the path's stat before the
/// first byte is written. Docker's `archive-path` event.
pub fn archive_path<W: Write>(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    path: &str,
    stat_seen: impl FnOnce(&PathStat),
    out: W,
) -> Result<W> {
    let written = with_root(containers, record, |root| {
        let abs = container_path(path);
        let handle = find_nofollow(root, &abs)?.ok_or_else(|| not_found(path, record))?;
        let stat = path_stat(&handle, &abs)?;
        stat_seen(&stat);
        strata_inroot::pause("cp:resolved", Path::new(path));
        let mut tar = tar::Builder::new(out);
        let name = match stat.name.as_str() {
            // tar names are relative: the root's content goes as `./…`.
            "/" => ".".to_string(),
            n => n.to_string(),
        };
        let failed = |e: std::io::Error| CopyError::from(RuntimeError::io(format!("archiving {path}"), e));
        match handle.kind().map_err(in_root)? {
            Kind::Dir => {
                let dir = handle
                    .open(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
                    .map_err(in_root)?;
                append_dir(&mut tar, dir.as_fd(), &name, path).map_err(failed)?;
            }
            Kind::File => {
                let file = handle
                    .open(OpenFlags::O_RDONLY | OpenFlags::O_NONBLOCK)
                    .map_err(in_root)?;
                append_file(&mut tar, file.into(), &name).map_err(failed)?;
            }
            Kind::Symlink => {
                let target = handle.read_link().map_err(in_root)?;
                let mut header = header_of(&rustix::fs::fstat(handle.fd()).map_err(sys(format!("reading {path}")))?);
                header.set_entry_type(tar::EntryType::Symlink);
                tar.append_link(&mut header, &name, &target).map_err(failed)?;
            }
            // A device, FIFO or socket: its content is not the container's to give.
            Kind::Other => {}
        }
        tar.into_inner().map_err(failed)
    })?;
    containers.emit(record, "archive-path", &[("path", path)]);
    Ok(written)
}

/// How [`extract_archive`] treats what is already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Refuse to replace a directory by a non-directory or the reverse (Docker's
    /// `noOverwriteDirNonDir`; the docker CLI always asks for it). Without it the
    /// existing one is removed.
    pub no_overwrite_dir_non_dir: bool,
    /// Own everything by the container's user (`Config.User`, looked up in its
    /// `/etc/passwd`) instead of the entries' owners (`copyUIDGID`, `cp -a`).
    pub copy_uid_gid: bool,
}

/// `PUT /containers/{id}/archive?path=`: the tar `input` extracted into the directory
/// at `path` (symlinks on the way followed inside the root, the last one too, as
/// Docker's). Docker's `extract-to-dir` event.
pub fn extract_archive<R: Read>(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    path: &str,
    input: R,
    options: &ExtractOptions,
) -> Result<()> {
    let config = containers.config(record)?;
    with_root(containers, record, |root| {
        let abs = container_path(path);
        let handle = root
            .find(Path::new(&abs))
            .map_err(in_root)?
            .ok_or_else(|| not_found(path, record))?;
        if handle.kind().map_err(in_root)? != Kind::Dir {
            return Err(CopyError::NotADirectory);
        }
        if config.read_only && !in_a_mount(&config, &abs) {
            return Err(CopyError::ReadOnly);
        }
        let owner = match options.copy_uid_gid && !config.user.is_empty() {
            true => {
                let user = crate::spec::resolve_user(root.dir(), &config.user)?;
                Some((user.uid, user.gid))
            }
            false => None,
        };
        let dir = handle
            .open(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
            .map_err(in_root)?;
        strata_inroot::pause("cp:resolved", Path::new(path));
        Extraction {
            target: dir.as_fd(),
            options,
            owner,
            files: HashSet::new(),
        }
        .run(input)
    })?;
    containers.emit(record, "extract-to-dir", &[("path", path)]);
    Ok(())
}

fn not_found(path: &str, record: &ContainerRecord) -> CopyError {
    CopyError::NotFound {
        path: path.to_string(),
        container: record.name.clone(),
    }
}

/// Whether the container path `abs` is at or under one of the container's volumes or
/// binds (writable even in a `--read-only` container).
fn in_a_mount(config: &ContainerConfig, abs: &str) -> bool {
    let abs = clean(abs);
    config.binds.iter().any(|b| {
        let dest = clean(&b.destination);
        !b.readonly && (abs == dest || abs.starts_with(&format!("{}/", dest.trim_end_matches('/'))))
    })
}

/// `path` as Docker takes it: absolute in the container, cleaned, with a trailing `/`
/// or `/.` kept (they ask for the directory itself, followed).
pub(crate) fn container_path(path: &str) -> String {
    let cleaned = clean(&format!("/{path}"));
    let sep = if cleaned == "/" { "" } else { "/" };
    if path == "." || path.ends_with("/.") {
        format!("{cleaned}{sep}.")
    } else if path.ends_with('/') {
        format!("{cleaned}{sep}")
    } else {
        cleaned
    }
}

/// Go's `path.Clean` of an absolute path: no `.`, no empty components, `..` taken
/// lexically (never above `/`).
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Go's `filepath.Base`: the last element, trailing slashes left out; `/` for the root.
fn go_base(abs: &str) -> String {
    let trimmed = abs.trim_end_matches('/');
    match trimmed.rsplit('/').next() {
        Some(last) if !last.is_empty() => last.to_string(),
        _ => "/".to_string(),
    }
}

/// The object `abs` names, its last element not followed unless the path asks for a
/// directory (`/`, `dir/`, `dir/.`); None when it does not exist.
fn find_nofollow(root: &Root, abs: &str) -> Result<Option<Handle>> {
    let follow = abs == "/" || abs.ends_with('/') || abs.ends_with("/.");
    let found = match follow {
        true => root.resolve(Path::new(abs)),
        false => root.resolve_nofollow(Path::new(abs)),
    };
    match found {
        Ok(h) => Ok(Some(h)),
        Err(InRootError::NotFound { .. }) => Ok(None),
        Err(e) => Err(in_root(e).into()),
    }
}

fn path_stat(handle: &Handle, abs: &str) -> Result<PathStat> {
    let stat = rustix::fs::fstat(handle.fd()).map_err(sys(format!("reading {abs}")))?;
    let link_target = match FileType::from_raw_mode(stat.st_mode) {
        FileType::Symlink => {
            let target = handle.read_link().map_err(in_root)?;
            let target = target.to_string_lossy();
            match target.starts_with('/') {
                true => clean(&target),
                false => {
                    let parent = clean(abs)
                        .rsplit_once('/')
                        .map_or(String::new(), |(d, _)| d.to_string());
                    clean(&format!("{parent}/{target}"))
                }
            }
        }
        _ => String::new(),
    };
    Ok(PathStat {
        name: go_base(abs),
        size: stat.st_size as u64,
        mode: stat.st_mode,
        mtime_secs: stat.st_mtime,
        mtime_nanos: stat.st_mtime_nsec as u32,
        link_target,
    })
}

fn header_of(stat: &rustix::fs::Stat) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_uid(stat.st_uid as u64);
    header.set_gid(stat.st_gid as u64);
    header.set_mode(stat.st_mode & 0o7777);
    header.set_mtime(stat.st_mtime.max(0) as u64);
    header.set_size(0);
    header
}

/// The directory `dir` as `name/` and everything below it, walked by descriptors.
fn append_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    name: &str,
    shown: &str,
) -> std::io::Result<()> {
    let stat = rustix::fs::fstat(dir)?;
    let mut header = header_of(&stat);
    header.set_entry_type(tar::EntryType::Directory);
    tar.append_data(&mut header, format!("{name}/"), std::io::empty())?;
    let listed = entries(dir, shown).map_err(std::io::Error::other)?;
    for (child, kind) in listed {
        let child_name = format!("{name}/{}", child.to_string_lossy());
        let child_shown = format!("{shown}/{}", child.to_string_lossy());
        match kind {
            FileType::Directory => {
                let fd = rustix::fs::openat(
                    dir,
                    &child,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| {
                    std::io::Error::other(format!("opening {child_shown} (it may have been replaced): {e}"))
                })?;
                append_dir(tar, fd.as_fd(), &child_name, &child_shown)?;
            }
            FileType::RegularFile => {
                let fd = rustix::fs::openat(
                    dir,
                    &child,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| std::io::Error::other(format!("opening {child_shown}: {e}")))?;
                append_file(tar, fd, &child_name)?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, &child, Vec::new())?;
                let stat = rustix::fs::statat(dir, &child, AtFlags::SYMLINK_NOFOLLOW)?;
                let mut header = header_of(&stat);
                header.set_entry_type(tar::EntryType::Symlink);
                tar.append_link(&mut header, &child_name, OsStr::from_bytes(target.as_bytes()))?;
            }
            // Devices, sockets and FIFOs are not copied (as `cp`).
            _ => {}
        }
    }
    Ok(())
}

/// A regular file (anything else that was swapped in is skipped, so a FIFO cannot hang
/// the copy) with exactly the size its header says, whatever the file does meanwhile.
fn append_file<W: Write>(tar: &mut tar::Builder<W>, fd: OwnedFd, name: &str) -> std::io::Result<()> {
    let stat = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Ok(());
    }
    let size = stat.st_size as u64;
    let mut header = header_of(&stat);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    let content = std::fs::File::from(fd).take(size).chain(std::io::repeat(0)).take(size);
    tar.append_data(&mut header, name, content)
}

/// One tar extracted under a directory of the container.
struct Extraction<'a> {
    target: BorrowedFd<'a>,
    options: &'a ExtractOptions,
    /// Every entry's owner, instead of its header's (`copyUIDGID`).
    owner: Option<(u32, u32)>,
    /// The regular files written so far: what a hard link entry may name.
    files: HashSet<PathBuf>,
}

/// A tar name with its leading slashes gone: relative to the destination.
fn from_destination(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|b| *b != b'/').unwrap_or(raw.len());
    &raw[start..]
}

impl Extraction<'_> {
    fn run(mut self, input: impl Read) -> Result<()> {
        let mut archive = tar::Archive::new(input);
        let read_failed = |e: std::io::Error| CopyError::from(RuntimeError::io("reading the archive", e));
        for entry in archive.entries().map_err(read_failed)? {
            let mut entry = entry.map_err(read_failed)?;
            let raw = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let refuse = |reason: String| CopyError::Refused {
                entry: shown.clone(),
                reason,
            };
            // An absolute name is taken from the destination, as Docker takes it
            // (testcontainers sends them); `..` is still refused.
            let rel = strata_archive::path::normalize(from_destination(&raw)).map_err(|p| refuse(p.to_string()))?;
            // The target itself (`./`): it exists already.
            let Some(name) = rel.file_name().map(OsStr::to_os_string) else {
                continue;
            };
            let parent = self.open_parent(&rel, true).map_err(refuse)?;
            let header = entry.header().clone();
            let (uid, gid) = self
                .owner
                .unwrap_or((header.uid().unwrap_or(0) as u32, header.gid().unwrap_or(0) as u32));
            let mode = Mode::from_raw_mode(header.mode().unwrap_or(0o644) & 0o7777);
            let written = |e: rustix::io::Errno| refuse(format!("writing it: {}", std::io::Error::from(e)));
            match header.entry_type() {
                tar::EntryType::Directory => {
                    if !self.clear(parent.as_fd(), &name, true).map_err(refuse)? {
                        rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(0o700)).map_err(written)?;
                    }
                    let dir = rustix::fs::openat(
                        &parent,
                        &name,
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(written)?;
                    own(&dir, uid, gid, mode).map_err(written)?;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    self.clear(parent.as_fd(), &name, false).map_err(refuse)?;
                    let fd = rustix::fs::openat(
                        &parent,
                        &name,
                        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o600),
                    )
                    .map_err(written)?;
                    let mut file = std::fs::File::from(fd);
                    std::io::copy(&mut entry, &mut file).map_err(read_failed)?;
                    own(&file, uid, gid, mode).map_err(written)?;
                    let mtime = Timespec {
                        tv_sec: header.mtime().unwrap_or(0) as i64,
                        tv_nsec: 0,
                    };
                    let times = Timestamps {
                        last_access: mtime,
                        last_modification: mtime,
                    };
                    rustix::fs::futimens(&file, &times).map_err(written)?;
                    self.files.insert(rel.clone());
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .ok_or_else(|| refuse("a symlink without a target".into()))?
                        .into_owned();
                    self.clear(parent.as_fd(), &name, false).map_err(refuse)?;
                    rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, &name).map_err(written)?;
                    rustix::fs::chownat(
                        &parent,
                        &name,
                        Some(rustix::fs::Uid::from_raw(uid)),
                        Some(rustix::fs::Gid::from_raw(gid)),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(written)?;
                }
                tar::EntryType::Link => {
                    let raw_target = entry
                        .link_name_bytes()
                        .ok_or_else(|| refuse("a hard link without a target".into()))?
                        .into_owned();
                    let target = strata_archive::path::normalize(from_destination(&raw_target))
                        .map_err(|p| refuse(format!("its link target: {p}")))?;
                    if !self.files.contains(&target) {
                        return Err(refuse(format!(
                            "it is a hard link to {:?}, which is no earlier file of this archive",
                            target.display()
                        )));
                    }
                    let target_parent = self.open_parent(&target, false).map_err(refuse)?;
                    let target_name = target.file_name().unwrap_or_default();
                    self.clear(parent.as_fd(), &name, false).map_err(refuse)?;
                    rustix::fs::linkat(&target_parent, target_name, &parent, &name, AtFlags::empty())
                        .map_err(written)?;
                    self.files.insert(rel.clone());
                }
                // Devices, FIFOs and the like are not created (as `cp`).
                _ => {}
            }
        }
        Ok(())
    }

    /// The directory that holds `rel`, reached from the target one name at a time with
    /// `O_NOFOLLOW` (missing ones made when `create`): a symlink on the way is refused.
    fn open_parent(&self, rel: &Path, create: bool) -> Result<OwnedFd, String> {
        let mut dir = rustix::fs::openat(
            self.target,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("opening the target: {e}"))?;
        let Some(parent) = rel.parent() else {
            return Ok(dir);
        };
        let mut walked = PathBuf::new();
        for part in parent.components() {
            let part = part.as_os_str();
            walked.push(part);
            let open = |dir: &OwnedFd| {
                rustix::fs::openat(
                    dir,
                    part,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            };
            let next = match open(&dir) {
                Err(rustix::io::Errno::NOENT) if create => {
                    rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(0o755))
                        .map_err(|e| format!("creating {}: {e}", walked.display()))?;
                    open(&dir)
                }
                other => other,
            };
            dir = next.map_err(|e| match e {
                rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => format!(
                    "its parent {:?} is a symlink or not a directory; writing through it could leave the target",
                    walked.display()
                ),
                e => format!("opening {}: {e}", walked.display()),
            })?;
        }
        Ok(dir)
    }

    /// Makes room for `name` in `dir`: Ok(true) when a directory is there and one is
    /// wanted (kept), otherwise whatever is there is removed, unless the options keep a
    /// directory from becoming a non-directory or the reverse.
    fn clear(&self, dir: BorrowedFd<'_>, name: &OsStr, want_dir: bool) -> Result<bool, String> {
        let Ok(stat) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            return Ok(false);
        };
        let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
        let shown = name.to_string_lossy();
        match (is_dir, want_dir) {
            (true, true) => Ok(true),
            (true, false) if self.options.no_overwrite_dir_non_dir => {
                Err(format!("cannot overwrite directory {shown:?} with non-directory"))
            }
            (false, true) if self.options.no_overwrite_dir_non_dir => {
                Err(format!("cannot overwrite non-directory {shown:?} with directory"))
            }
            (true, false) => remove_tree(dir, name).map(|()| false),
            (false, _) => rustix::fs::unlinkat(dir, name, AtFlags::empty())
                .map(|()| false)
                .map_err(|e| format!("replacing {shown}: {e}")),
        }
    }
}

/// Removes the directory `name` of `dir` and everything in it, by descriptors.
fn remove_tree(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), String> {
    let shown = name.to_string_lossy().into_owned();
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("opening {shown}: {e}"))?;
    let listed: Vec<(OsString, FileType)> = entries(fd.as_fd(), &shown).map_err(|e| e.to_string())?;
    for (child, kind) in listed {
        match kind {
            FileType::Directory => remove_tree(fd.as_fd(), &child)?,
            _ => rustix::fs::unlinkat(&fd, &child, AtFlags::empty()).map_err(|e| format!("removing {shown}: {e}"))?,
        }
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(|e| format!("removing {shown}: {e}"))
}

/// Owner, then mode (chown clears set-ID bits), through the object's descriptor.
fn own(fd: impl AsFd, uid: u32, gid: u32, mode: Mode) -> rustix::io::Result<()> {
    rustix::fs::fchown(
        &fd,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )?;
    rustix::fs::fchmod(&fd, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_taken_as_docker_takes_them() {
        let cases = [
            ("etc/hostname", "/etc/hostname", "hostname"),
            ("/etc/", "/etc/", "etc"),
            ("/etc/.", "/etc/.", "."),
            ("/", "/", "/"),
            (".", "/.", "."),
            ("/a/../../b", "/b", "b"),
            ("//x//y", "/x/y", "y"),
        ];
        for (given, abs, base) in cases {
            assert_eq!(container_path(given), abs, "{given}");
            assert_eq!(go_base(&container_path(given)), base, "{given}");
        }
    }

    #[test]
    fn modes_are_gos_file_modes() {
        let stat = |mode| PathStat {
            name: "x".into(),
            size: 0,
            mode,
            mtime_secs: 0,
            mtime_nanos: 0,
            link_target: String::new(),
        };
        assert_eq!(stat(0o040755).go_file_mode(), (1 << 31) | 0o755);
        assert_eq!(stat(0o100644).go_file_mode(), 0o644);
        assert_eq!(stat(0o120777).go_file_mode(), (1 << 27) | 0o777);
        assert_eq!(stat(0o104755).go_file_mode(), (1 << 23) | 0o755);
        assert!(stat(0o041777).is_dir());
    }
}
