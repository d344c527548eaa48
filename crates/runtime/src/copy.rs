//! `cp` between a container and the host. The container may be running and hostile:
//! its paths are resolved inside its root by the kernel (strata-inroot, openat2
//! RESOLVE_IN_ROOT), and everything inside is then read and written through directory
//! descriptors, one name at a time with `O_NOFOLLOW` (`*at` calls). A directory the
//! container swaps for a symlink while the copy runs is refused, never followed to the
//! host (CVE-2018-15664 class).

use crate::error::{Result, RuntimeError};
use crate::rootfs::{is_mounted, mount_all, unmount};
use rustix::fs::{AtFlags, Mode, OFlags};
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use strata_containers::{ContainerRecord, Containers};
use strata_inroot::{InRootError, Kind, OpenFlags, Root};

mod archive;
pub use archive::{archive_path, extract_archive, stat_path, CopyError, ExtractOptions, PathStat};

fn io(what: String) -> impl FnOnce(std::io::Error) -> RuntimeError {
    move |e| RuntimeError::io(what, e)
}

fn sys(what: String) -> impl FnOnce(rustix::io::Errno) -> RuntimeError {
    move |e| RuntimeError::io(what, e.into())
}

fn in_root(e: InRootError) -> RuntimeError {
    RuntimeError::io("cp", std::io::Error::other(e))
}

/// Runs `f` with the container's root as the container sees it, volumes and binds
/// included (as `docker cp` does): a running container's own root, through its process
/// (`/proc/PID/root`, its mount namespace); otherwise its layers, mounted for the
/// purpose if they are not, with its binds mounted on them, all undone after.
fn with_root<T, E: From<RuntimeError>>(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    f: impl FnOnce(&Root) -> Result<T, E>,
) -> Result<T, E> {
    let (_held, fresh) = containers.hold(record).map_err(RuntimeError::from)?;
    let rootfs = containers.rootfs(&record.id);
    if let Some(root) = live_root(&fresh, &rootfs) {
        return f(&root);
    }
    let mounted_here = !is_mounted(&rootfs);
    if mounted_here {
        fs::create_dir_all(&rootfs).map_err(io(format!("creating {}", rootfs.display())))?;
        mount_all(&containers.mounts(record).map_err(RuntimeError::from)?, &rootfs)?;
    }
    let out = with_binds(containers, record, &rootfs, f);
    if mounted_here {
        // Lazily, the whole tree: the binds go with the root.
        unmount(&rootfs)?;
    }
    out
}

/// The running container's root through its process, once the process is known to be
/// the container's (its root is the container's mounted root, not a recycled ID's).
fn live_root(fresh: &ContainerRecord, rootfs: &Path) -> Option<Root> {
    let pid = fresh
        .pid
        .filter(|_| fresh.state != strata_containers::ContainerState::Exited)?;
    let root = Root::open(Path::new(&format!("/proc/{pid}/root"))).ok()?;
    root.is_same_dir(rootfs).then_some(root)
}

/// `f` on the mounted (not running) root with the container's binds on it. The root
/// mount is made private first, so the binds are seen nowhere else.
fn with_binds<T, E: From<RuntimeError>>(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    rootfs: &Path,
    f: impl FnOnce(&Root) -> Result<T, E>,
) -> Result<T, E> {
    let binds: Vec<_> = containers
        .config(record)
        .map_err(RuntimeError::from)?
        .binds
        .iter()
        .map(|b| crate::spec::bind(&b.destination, Path::new(&b.source), b.readonly))
        .collect();
    if !binds.is_empty() {
        nix::mount::mount(
            None::<&str>,
            rootfs,
            None::<&str>,
            nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| RuntimeError::Sys("making the container's root private", e))?;
    }
    let root = Root::open(rootfs).map_err(in_root)?;
    let mounted = crate::linux::mount_in_root(&root, &binds);
    let out = mounted.map_err(E::from).and_then(|()| f(&root));
    // Innermost first; each bind's root is reached through the resolver again.
    for bind in binds.iter().rev() {
        if let Ok(handle) = root.resolve(bind.destination()) {
            let _ = nix::mount::umount2(&handle.proc_path(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    out
}

/// `cp`'s options (Docker's `-a` and `-L`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// `-a`: into the container, everything owned by the container's user (its
    /// `Config.User`, looked up in its own /etc/passwd) when it has one, as Docker's
    /// `copyUIDGID`; out of it, the container's owners kept on the host. Without it,
    /// what comes in keeps the host's owners (as Docker's tar headers do) and what
    /// goes out is the caller's (as the docker CLI extracts it, without lchown).
    pub archive: bool,
    /// `-L`: a symlink given as the source is followed (its target copied under the
    /// link's name); without it the link itself is copied.
    pub follow_link: bool,
}

/// `cp CONTAINER:SRC HOSTDEST` (Docker's `archive-path` event).
pub fn copy_out(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    src: &str,
    dest: &Path,
    options: &CopyOptions,
) -> Result<()> {
    copy_out_of_root(containers, record, src, dest, options)?;
    containers.emit(record, "archive-path", &[("path", src)]);
    Ok(())
}

fn copy_out_of_root(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    src: &str,
    dest: &Path,
    options: &CopyOptions,
) -> Result<()> {
    with_root(containers, record, |root| {
        let not_found = || RuntimeError::Start {
            code: 1,
            message: format!("Could not find the file {src} in container {}", record.name),
        };
        // The last component followed only with -L, inside the root either way.
        let found = match options.follow_link {
            true => root.find(Path::new(src)),
            false => match root.resolve_nofollow(Path::new(src)) {
                Ok(h) => Ok(Some(h)),
                Err(InRootError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            },
        };
        let handle = found.map_err(in_root)?.ok_or_else(not_found)?;
        let name = Path::new(src).file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let target = if dest.is_dir() && !name.is_empty() {
            dest.join(name)
        } else {
            dest.to_path_buf()
        };
        let keep_owners = options.archive;
        strata_inroot::pause("cp:resolved", Path::new(src));
        match handle.kind().map_err(in_root)? {
            Kind::Dir => {
                let dir = handle
                    .open(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
                    .map_err(in_root)?;
                copy_dir_out(dir.as_fd(), &target, src, keep_owners)
            }
            Kind::File => {
                let file = handle
                    .open(OpenFlags::O_RDONLY | OpenFlags::O_NONBLOCK)
                    .map_err(in_root)?;
                file_out(file.into(), &target, src, keep_owners)
            }
            // The link itself (never followed on the host: only its text is read).
            Kind::Symlink => {
                let link = handle.read_link().map_err(in_root)?;
                replace_host(&target)?;
                std::os::unix::fs::symlink(&link, &target).map_err(io(format!("creating {}", target.display())))?;
                if keep_owners {
                    let meta = handle.metadata().map_err(in_root)?;
                    std::os::unix::fs::lchown(&target, Some(meta.uid()), Some(meta.gid()))
                        .map_err(io(format!("chown {}", target.display())))?;
                }
                Ok(())
            }
            // A special file: nothing to copy that the host should read.
            Kind::Other => Ok(()),
        }
    })
}

/// A directory of the container (as a descriptor) to `to` on the host (with the
/// container's owners when `keep_owners`).
fn copy_dir_out(dir: BorrowedFd<'_>, to: &Path, shown: &str, keep_owners: bool) -> Result<()> {
    let stat = rustix::fs::fstat(dir).map_err(sys(format!("reading {shown}")))?;
    match fs::symlink_metadata(to) {
        Ok(m) if m.is_dir() => {}
        // A file or a symlink (never followed) gives way to the directory.
        Ok(_) => {
            fs::remove_file(to).map_err(io(format!("replacing {}", to.display())))?;
            fs::create_dir(to).map_err(io(format!("creating {}", to.display())))?
        }
        Err(_) => fs::create_dir(to).map_err(io(format!("creating {}", to.display())))?,
    }
    set_host_meta(to, stat.st_mode, keep_owners.then_some((stat.st_uid, stat.st_gid)))?;
    copy_entries_out(dir, to, shown, keep_owners)
}

/// The entries of a directory tree (as a descriptor: a mounted image, say) merged into
/// the host directory `to`, which must exist and whose own metadata is left alone:
/// directories merge into directories, files and symlinks replace what is there (a
/// host symlink is replaced, never followed), a directory is never overwritten by a
/// file. Everything is the caller's (as the docker CLI extracts, and BuildKit's local
/// exporter writes); devices, sockets and FIFOs are not copied.
pub fn copy_contents_out(dir: BorrowedFd<'_>, to: &Path) -> Result<()> {
    copy_entries_out(dir, to, "", false)
}

fn copy_entries_out(dir: BorrowedFd<'_>, to: &Path, shown: &str, keep_owners: bool) -> Result<()> {
    for (name, kind) in entries(dir, shown)? {
        let child = format!("{shown}/{}", name.to_string_lossy());
        let dst = to.join(&name);
        match kind {
            rustix::fs::FileType::Directory => {
                let fd = rustix::fs::openat(
                    dir,
                    &name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(sys(format!("opening {child} (it may have been replaced)")))?;
                copy_dir_out(fd.as_fd(), &dst, &child, keep_owners)?;
            }
            rustix::fs::FileType::RegularFile => {
                let fd = rustix::fs::openat(
                    dir,
                    &name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(sys(format!("opening {child}")))?;
                file_out(fd, &dst, &child, keep_owners)?;
            }
            rustix::fs::FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, &name, Vec::new()).map_err(sys(format!("reading {child}")))?;
                replace_host(&dst)?;
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target.as_bytes()), &dst)
                    .map_err(io(format!("creating {}", dst.display())))?;
                if keep_owners {
                    let stat = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(sys(format!("reading {child}")))?;
                    std::os::unix::fs::lchown(&dst, Some(stat.st_uid), Some(stat.st_gid))
                        .map_err(io(format!("chown {}", dst.display())))?;
                }
            }
            // Devices, sockets and FIFOs are not copied.
            _ => {}
        }
    }
    Ok(())
}

/// A regular file of the container (as a descriptor; anything else is skipped, so a
/// FIFO swapped in cannot hang the copy) to `to` on the host.
fn file_out(fd: OwnedFd, to: &Path, shown: &str, keep_owners: bool) -> Result<()> {
    let stat = rustix::fs::fstat(&fd).map_err(sys(format!("reading {shown}")))?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Ok(());
    }
    replace_host(to)?;
    let mut src = fs::File::from(fd);
    let mut dst = fs::File::options()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(io(format!("creating {}", to.display())))?;
    std::io::copy(&mut src, &mut dst).map_err(io(format!("copying {shown} to {}", to.display())))?;
    set_host_meta(to, stat.st_mode, keep_owners.then_some((stat.st_uid, stat.st_gid)))
}

/// Removes a non-directory at the host path `to`, so a file can take its place.
fn replace_host(to: &Path) -> Result<()> {
    match fs::symlink_metadata(to) {
        Ok(m) if m.is_dir() => Err(RuntimeError::io(
            format!("cannot overwrite directory {} with a file", to.display()),
            std::io::ErrorKind::AlreadyExists.into(),
        )),
        Ok(_) => fs::remove_file(to).map_err(io(format!("replacing {}", to.display()))),
        Err(_) => Ok(()),
    }
}

/// The mode, and the owners when given (before the mode: chown clears set-ID bits).
fn set_host_meta(path: &Path, mode: u32, owners: Option<(u32, u32)>) -> Result<()> {
    if let Some((uid, gid)) = owners {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io(format!("chown {}", path.display())))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(io(format!("chmod {}", path.display())))
}

/// `cp HOSTSRC CONTAINER:DEST` (Docker's `extract-to-dir` event).
pub fn copy_in(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    src: &Path,
    dest: &str,
    options: &CopyOptions,
) -> Result<()> {
    copy_into_root(containers, record, src, dest, options)?;
    containers.emit(record, "extract-to-dir", &[("path", dest)]);
    Ok(())
}

fn copy_into_root(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    src: &Path,
    dest: &str,
    options: &CopyOptions,
) -> Result<()> {
    // The host's source: a link itself, or with -L what it points at (on the host, the
    // caller's own path), copied under the link's name either way.
    let meta = match options.follow_link {
        true => fs::metadata(src),
        false => fs::symlink_metadata(src),
    }
    .map_err(io(format!("reading {}", src.display())))?;
    let config = containers.config(record)?;
    with_root(containers, record, |root| {
        let owner = match options.archive && !config.user.is_empty() {
            true => {
                let user = crate::spec::resolve_user(root.dir(), &config.user)?;
                Some((user.uid, user.gid))
            }
            false => None,
        };
        // Into DEST when it is a directory, else as DEST in its parent directory.
        let existing = root.find(Path::new(dest)).map_err(in_root)?;
        let (dir, name) = match existing {
            Some(h) if h.kind().map_err(in_root)? == Kind::Dir => {
                (h, src.file_name().map(|n| n.to_os_string()).unwrap_or_default())
            }
            _ => {
                let path = Path::new(dest);
                let parent = path.parent().unwrap_or(Path::new("/"));
                let missing = || RuntimeError::Start {
                    code: 1,
                    message: format!(
                        "Could not find the file {} in container {}",
                        parent.display(),
                        record.name
                    ),
                };
                let dir = root.find(parent).map_err(in_root)?.ok_or_else(missing)?;
                (dir, path.file_name().map(|n| n.to_os_string()).unwrap_or_default())
            }
        };
        if name.is_empty() {
            return Err(RuntimeError::Invalid(format!(
                "cp: no file name to copy {} as",
                src.display()
            )));
        }
        let dir = dir
            .open(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
            .map_err(in_root)?;
        strata_inroot::pause("cp:resolved", Path::new(dest));
        copy_in_entry(dir.as_fd(), &name, src, &meta, dest, owner)
    })
}

/// The host's `from` as `name` in the container's directory `dir`: created with
/// `O_EXCL | O_NOFOLLOW`, a directory re-opened with `O_NOFOLLOW` before anything is
/// written into it, and owners (`owner`, else the host's) and modes set through the
/// new object's descriptor.
fn copy_in_entry(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    from: &Path,
    meta: &fs::Metadata,
    shown: &str,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let (uid, gid) = owner.unwrap_or((meta.uid(), meta.gid()));
    let existing = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok();
    let existing_dir = existing
        .as_ref()
        .is_some_and(|s| rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::Directory);
    if meta.is_dir() {
        if existing.is_some() && !existing_dir {
            rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(sys(format!("replacing {shown}")))?;
        }
        if !existing_dir {
            rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)).map_err(sys(format!("creating {shown}")))?;
            strata_inroot::pause("cp:created", Path::new(shown));
        }
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys(format!("opening {shown} (it may have been replaced)")))?;
        for entry in fs::read_dir(from).map_err(io(format!("reading {}", from.display())))? {
            let entry = entry.map_err(io(format!("reading {}", from.display())))?;
            let m = fs::symlink_metadata(entry.path()).map_err(io(format!("reading {}", entry.path().display())))?;
            let child = format!("{shown}/{}", entry.file_name().to_string_lossy());
            copy_in_entry(fd.as_fd(), &entry.file_name(), &entry.path(), &m, &child, owner)?;
        }
        return set_fd_meta(&fd, meta, (uid, gid), shown);
    }
    if existing_dir {
        return Err(RuntimeError::io(
            format!("cannot overwrite directory {shown} with a file"),
            std::io::ErrorKind::AlreadyExists.into(),
        ));
    }
    if existing.is_some() {
        rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(sys(format!("replacing {shown}")))?;
    }
    if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(io(format!("reading {}", from.display())))?;
        rustix::fs::symlinkat(&target, dir, name).map_err(sys(format!("creating {shown}")))?;
        return rustix::fs::chownat(
            dir,
            name,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(sys(format!("chown {shown}")));
    }
    if !meta.is_file() {
        return Ok(()); // devices, sockets and fifos are not copied
    }
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(sys(format!("creating {shown}")))?;
    let mut src = fs::File::open(from).map_err(io(format!("opening {}", from.display())))?;
    let mut dst = fs::File::from(fd);
    std::io::copy(&mut src, &mut dst).map_err(io(format!("copying to {shown}")))?;
    set_fd_meta(&dst, meta, (uid, gid), shown)
}

fn set_fd_meta(fd: impl AsFd, meta: &fs::Metadata, (uid, gid): (u32, u32), shown: &str) -> Result<()> {
    rustix::fs::fchown(
        &fd,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .map_err(sys(format!("chown {shown}")))?;
    // After chown, which clears set-ID bits.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(meta.mode() & 0o7777)).map_err(sys(format!("chmod {shown}")))
}

/// The names in a directory (by descriptor) with their types, `.` and `..` left out.
fn entries(dir: BorrowedFd<'_>, shown: &str) -> Result<Vec<(std::ffi::OsString, rustix::fs::FileType)>> {
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys(format!("reading {shown}")))?;
    let mut out = Vec::new();
    for entry in rustix::fs::Dir::read_from(&fd).map_err(sys(format!("reading {shown}")))? {
        let entry = entry.map_err(sys(format!("reading {shown}")))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(name).to_os_string();
        // The type as it is now, without following a link.
        let stat =
            rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW).map_err(sys(format!("reading {shown}")))?;
        out.push((name, rustix::fs::FileType::from_raw_mode(stat.st_mode)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
