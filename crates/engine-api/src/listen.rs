//! Where the service listens: a Unix socket it makes (mode 0660, group `strata` where
//! that group exists), a TCP address only when asked for explicitly, or a socket handed
//! over by systemd (socket activation).

use crate::ServeError;
use std::fs;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The URI the service listens on without one given.
pub const DEFAULT_URI: &str = "unix:///run/strata/strata.sock";

/// Who may connect: the socket's owner (root) and its group.
const SOCKET_MODE: u32 = 0o660;
/// The group given the socket, where it exists (as Docker's `docker` group).
const SOCKET_GROUP: &str = "strata";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenUri {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl ListenUri {
    /// `unix:///PATH`, or `tcp://IP:PORT` when `allow_tcp`: the API has no
    /// authentication, so a TCP port is never opened by accident.
    pub fn parse(uri: &str, allow_tcp: bool) -> Result<Self, ServeError> {
        let bad = |reason: &str| ServeError::Uri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = uri.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a unix:// URI takes an absolute path, e.g. unix:///run/strata/strata.sock",
                ));
            }
            return Ok(ListenUri::Unix(PathBuf::from(path)));
        }
        if let Some(address) = uri.strip_prefix("tcp://") {
            if !allow_tcp {
                return Err(ServeError::TcpNotAllowed(uri.to_string()));
            }
            let address = address
                .parse()
                .map_err(|_| bad("use tcp://IP:PORT, e.g. tcp://127.0.0.1:2375"))?;
            return Ok(ListenUri::Tcp(address));
        }
        Err(bad("use unix:///PATH or tcp://IP:PORT"))
    }

    pub fn bind(&self) -> Result<Listener, ServeError> {
        match self {
            ListenUri::Unix(path) => bind_unix(path),
            ListenUri::Tcp(address) => {
                let listener = std::net::TcpListener::bind(address)
                    .map_err(|e| ServeError::io(format!("binding {address}"), e))?;
                Ok(Listener {
                    socket: Socket::Tcp(listener),
                    file: None,
                })
            }
        }
    }
}

/// A bound, listening socket.
pub struct Listener {
    pub(crate) socket: Socket,
    /// The socket file the service made, removed when it exits.
    pub(crate) file: Option<SocketFile>,
}

pub(crate) enum Socket {
    Unix(UnixListener),
    Tcp(std::net::TcpListener),
}

impl Listener {
    /// A listening socket systemd passed (`LISTEN_FDS`); its file is systemd's, left
    /// in place when the service exits.
    pub fn from_fd(fd: OwnedFd) -> Result<Self, ServeError> {
        use nix::sys::socket::{getsockname, getsockopt, sockopt, AddressFamily, SockaddrLike, SockaddrStorage};
        let not_listening = |what: String| ServeError::Activation(what);
        let listening = getsockopt(&fd.as_fd(), sockopt::AcceptConn)
            .map_err(|e| not_listening(format!("the passed descriptor is not a socket ({e})")))?;
        if !listening {
            return Err(not_listening(
                "the passed socket is not listening (use Accept=no)".into(),
            ));
        }
        let address: SockaddrStorage = getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd))
            .map_err(|e| not_listening(format!("reading the passed socket's address: {e}")))?;
        let socket = match address.family() {
            Some(AddressFamily::Unix) => Socket::Unix(UnixListener::from(fd)),
            Some(AddressFamily::Inet | AddressFamily::Inet6) => Socket::Tcp(std::net::TcpListener::from(fd)),
            _ => {
                return Err(not_listening(
                    "the passed socket is neither a Unix nor a TCP one".into(),
                ))
            }
        };
        Ok(Listener { socket, file: None })
    }
}

/// Makes the socket in a private directory beside `path`, sets its mode and group, and
/// only then renames it into place: nobody can connect before the mode says so, and the
/// process umask (shared by all threads) is never changed.
fn bind_unix(path: &Path) -> Result<Listener, ServeError> {
    let dir = path.parent().ok_or_else(|| ServeError::Uri {
        uri: path.display().to_string(),
        reason: "no directory".into(),
    })?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| ServeError::io(format!("creating {}", dir.display()), e))?;
    refuse_taken(path)?;
    let private = dir.join(format!(
        ".strata-api-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(|e| ServeError::io(format!("creating {}", private.display()), e))?;
    let staged = private.join("sock");
    let bound = stage(&staged, path);
    let _ = fs::remove_dir_all(&private);
    let listener = bound?;
    let meta = fs::symlink_metadata(path).map_err(|e| ServeError::io(format!("reading {}", path.display()), e))?;
    Ok(Listener {
        socket: Socket::Unix(listener),
        file: Some(SocketFile {
            path: path.to_path_buf(),
            identity: (meta.dev(), meta.ino()),
        }),
    })
}

/// A live service's socket is left alone, and so is anything that is not a socket (the
/// rename would replace it); a dead service's socket is replaced.
fn refuse_taken(path: &Path) -> Result<(), ServeError> {
    use std::os::unix::fs::FileTypeExt;
    match fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(meta) if !meta.file_type().is_socket() => Err(ServeError::Uri {
            uri: path.display().to_string(),
            reason: "it exists and is not a socket; choose another path".into(),
        }),
        Ok(_) if UnixStream::connect(path).is_ok() => Err(ServeError::InUse(path.to_path_buf())),
        Ok(_) => Ok(()),
    }
}

fn stage(staged: &Path, path: &Path) -> Result<UnixListener, ServeError> {
    let io = |what: &str| {
        let what = format!("{what} {}", staged.display());
        move |e| ServeError::io(what, e)
    };
    let listener = UnixListener::bind(staged).map_err(io("binding"))?;
    fs::set_permissions(staged, fs::Permissions::from_mode(SOCKET_MODE)).map_err(io("setting the mode of"))?;
    if let Some(group) = socket_group() {
        nix::unistd::chown(staged, None, Some(group))
            .map_err(|e| ServeError::io(format!("giving {} to group {SOCKET_GROUP}", staged.display()), e.into()))?;
    }
    fs::rename(staged, path).map_err(|e| ServeError::io(format!("moving the socket to {}", path.display()), e))?;
    Ok(listener)
}

fn socket_group() -> Option<nix::unistd::Gid> {
    match nix::unistd::Group::from_name(SOCKET_GROUP) {
        Ok(group) => group.map(|g| g.gid),
        Err(e) => {
            log::warn!("looking up group {SOCKET_GROUP}: {e}; the socket keeps the service's group");
            None
        }
    }
}

/// The socket file the service made: removed when the service exits, unless another
/// service has put its own at that path since.
pub(crate) struct SocketFile {
    path: PathBuf,
    identity: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_unix_paths_or_explicitly_allowed_tcp() {
        assert_eq!(
            ListenUri::parse(DEFAULT_URI, false).unwrap(),
            ListenUri::Unix("/run/strata/strata.sock".into())
        );
        assert!(matches!(
            ListenUri::parse("tcp://127.0.0.1:2375", false),
            Err(ServeError::TcpNotAllowed(_))
        ));
        assert_eq!(
            ListenUri::parse("tcp://127.0.0.1:2375", true).unwrap(),
            ListenUri::Tcp("127.0.0.1:2375".parse().unwrap())
        );
        for bad in ["unix://relative.sock", "http://x", "tcp://localhost", "/run/x.sock"] {
            assert!(ListenUri::parse(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_socket_is_made_0660_and_removed_on_exit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/api.sock");
        let listener = ListenUri::Unix(path.clone()).bind().unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, SOCKET_MODE);
        assert!(UnixStream::connect(&path).is_ok());
        assert!(matches!(
            ListenUri::Unix(path.clone()).bind(),
            Err(ServeError::InUse(_))
        ));
        assert_eq!(
            fs::read_dir(dir.path().join("sub")).unwrap().count(),
            1,
            "no staging left"
        );
        drop(listener);
        assert!(!path.exists());
    }
}
