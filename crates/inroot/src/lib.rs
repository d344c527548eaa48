//! Every host-side file operation on a container's root, a volume, an image view or a
//! build stage goes through this crate. The tree is untrusted: it may hold symlinks to
//! anywhere, and a running container may swap any path for a symlink while the host
//! works on it. So paths are never joined as strings and used later: the kernel
//! resolves each one inside the root (`openat2` with `RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS`, through libpathrs), and the work is done on the file
//! descriptor it returned (`*at` calls, mounts onto `/proc/self/fd/N`).
//!
//! openat2 came with Linux 5.6. On an older kernel every operation is refused with a
//! clear error; there is no weaker fallback.

mod error;
mod race;

pub use error::{InRootError, Result};
pub use pathrs::flags::OpenFlags;
pub use race::pause;

use std::fs::{File, Permissions};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A directory tree whose paths resolve inside it.
pub struct Root {
    inner: pathrs::Root,
    dir: PathBuf,
}

/// What a path names, found without following it further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// A file or directory inside a root, held open (`O_PATH`): it stays the same object
/// whatever happens to its path afterwards.
pub struct Handle {
    fd: OwnedFd,
}

impl Handle {
    /// The path by which mount(2) and friends reach exactly this object.
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    pub fn kind(&self) -> Result<Kind> {
        let stat = rustix::fs::fstat(&self.fd).map_err(|e| InRootError::io("stat of a resolved path", e.into()))?;
        Ok(kind_of(stat.st_mode))
    }

    /// The object's metadata (of the object itself: a symlink's own).
    pub fn metadata(&self) -> Result<std::fs::Metadata> {
        let dup = self.fd.try_clone().map_err(|e| InRootError::io("dup", e))?;
        File::from(dup)
            .metadata()
            .map_err(|e| InRootError::io("stat of a resolved path", e))
    }

    /// A symlink's target, read from the link held (never followed).
    pub fn read_link(&self) -> Result<PathBuf> {
        let target = rustix::fs::readlinkat(&self.fd, "", Vec::new())
            .map_err(|e| InRootError::io("reading a resolved link", e.into()))?;
        Ok(PathBuf::from(std::ffi::OsString::from_vec(target.into_bytes())))
    }

    /// Opens the object for I/O (a directory as a directory fd for `*at` calls).
    pub fn open(&self, flags: OpenFlags) -> Result<File> {
        let handle = pathrs::Handle::from_fd(self.fd.try_clone().map_err(|e| InRootError::io("dup", e))?);
        handle
            .reopen(flags | OpenFlags::O_CLOEXEC)
            .map_err(|e| InRootError::Reopen(e.to_string()))
    }
}

fn kind_of(mode: u32) -> Kind {
    match mode & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFLNK => Kind::Symlink,
        _ => Kind::Other,
    }
}

/// Whether this kernel has openat2 (Linux 5.6), probed once.
fn kernel_supports_openat2() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let how = rustix::fs::openat2(
            rustix::fs::CWD,
            "/",
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
            rustix::fs::ResolveFlags::IN_ROOT,
        );
        !matches!(how, Err(rustix::io::Errno::NOSYS))
    })
}

impl Root {
    /// Opens `dir` (a path of the host, trusted) as the root of an untrusted tree.
    pub fn open(dir: &Path) -> Result<Root> {
        if !kernel_supports_openat2() {
            return Err(InRootError::KernelTooOld);
        }
        // `dir` is the host's own path, trusted: followed as given (it may be a
        // process's `/proc/PID/root`, which pathrs would refuse as a magic link).
        let fd = rustix::fs::open(
            dir,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| InRootError::Resolve {
            root: dir.to_path_buf(),
            path: PathBuf::from("/"),
            reason: std::io::Error::from(e).to_string(),
        })?;
        let inner = pathrs::Root::from_fd(fd);
        Ok(Root {
            inner,
            dir: dir.to_path_buf(),
        })
    }

    /// Whether this root is the same directory as the host's `dir` (same device and
    /// inode): a process's `/proc/PID/root` checked against the root it should have, so
    /// a recycled process ID is never taken for the container.
    pub fn is_same_dir(&self, dir: &Path) -> bool {
        let (Ok(mine), Ok(theirs)) = (rustix::fs::fstat(self.inner.as_fd()), rustix::fs::stat(dir)) else {
            return false;
        };
        (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)
    }

    /// The host path of the root, for messages.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn failed(&self, path: &Path, e: pathrs::error::Error) -> InRootError {
        match e.kind() {
            pathrs::error::ErrorKind::OsError(Some(libc::ENOENT)) => InRootError::NotFound {
                root: self.dir.clone(),
                path: path.to_path_buf(),
            },
            pathrs::error::ErrorKind::OsError(Some(errno)) => InRootError::Resolve {
                root: self.dir.clone(),
                path: path.to_path_buf(),
                reason: format!("{e}: {}", std::io::Error::from_raw_os_error(errno)),
            },
            _ => InRootError::Resolve {
                root: self.dir.clone(),
                path: path.to_path_buf(),
                reason: e.to_string(),
            },
        }
    }

    /// `path` resolved inside the root, following symlinks (an absolute one, or `..`,
    /// stays inside). A loop or an over-long chain is an error (ELOOP).
    pub fn resolve(&self, path: &Path) -> Result<Handle> {
        let handle = self.inner.resolve(path).map_err(|e| self.failed(path, e))?;
        Ok(Handle { fd: handle.into() })
    }

    /// `path` resolved inside the root, not following a symlink in its last component.
    pub fn resolve_nofollow(&self, path: &Path) -> Result<Handle> {
        let handle = self.inner.resolve_nofollow(path).map_err(|e| self.failed(path, e))?;
        Ok(Handle { fd: handle.into() })
    }

    /// Like `resolve`, but None for a path that does not exist.
    pub fn find(&self, path: &Path) -> Result<Option<Handle>> {
        match self.resolve(path) {
            Ok(h) => Ok(Some(h)),
            Err(InRootError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the directory `path` and its missing parents inside the root (mode
    /// `mode`, subject to the umask), and returns it.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> Result<Handle> {
        let handle = self
            .inner
            .mkdir_all(path, &Permissions::from_mode(mode))
            .map_err(|e| self.failed(path, e))?;
        Ok(Handle { fd: handle.into() })
    }

    /// The directory `path` (created if missing) opened for `*at` calls.
    pub fn dir_fd(&self, path: &Path) -> Result<File> {
        self.mkdir_all(path, 0o755)?
            .open(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
    }

    /// A mount target at `path`: a directory, or (for a file's bind mount) an empty
    /// file, created inside the root where missing. Mount onto its `proc_path`.
    pub fn mount_target(&self, path: &Path, dir: bool) -> Result<Handle> {
        if dir {
            return self.mkdir_all(path, 0o755);
        }
        if let Some(existing) = self.find(path)? {
            return Ok(existing);
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().ok_or_else(|| InRootError::Resolve {
            root: self.dir.clone(),
            path: path.to_path_buf(),
            reason: "a file mount target needs a file name".into(),
        })?;
        let parent = self.dir_fd(parent)?;
        race::pause("mount-target", path);
        match rustix::fs::openat(
            parent.as_fd(),
            name,
            rustix::fs::OFlags::CREATE
                | rustix::fs::OFlags::EXCL
                | rustix::fs::OFlags::WRONLY
                | rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o644),
        ) {
            Ok(_) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(InRootError::io(format!("creating {}", path.display()), e.into())),
        }
        self.resolve(path)
    }

    /// The content of the regular file `path`, at most `limit` bytes; None when it does
    /// not exist. Anything else there (a FIFO, a device, a directory) is refused without
    /// blocking on it, and so is a larger file.
    pub fn read_regular(&self, path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(handle) = self.find(path)? else {
            return Ok(None);
        };
        let kind = handle.kind()?;
        if kind != Kind::File {
            return Err(InRootError::NotRegular {
                root: self.dir.clone(),
                path: path.to_path_buf(),
            });
        }
        // O_NONBLOCK: should the object change under us, opening a FIFO must not hang.
        let file = handle.open(OpenFlags::O_RDONLY | OpenFlags::O_NONBLOCK | OpenFlags::O_NOCTTY)?;
        let stat = rustix::fs::fstat(&file).map_err(|e| InRootError::io("stat", e.into()))?;
        if kind_of(stat.st_mode) != Kind::File {
            return Err(InRootError::NotRegular {
                root: self.dir.clone(),
                path: path.to_path_buf(),
            });
        }
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| InRootError::io(format!("reading {}", path.display()), e))?;
        if bytes.len() as u64 > limit {
            return Err(InRootError::TooLarge {
                root: self.dir.clone(),
                path: path.to_path_buf(),
                limit,
            });
        }
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests;
