//! `-t`: a process's stdio on a pseudo-terminal whose master end its monitor keeps
//! (the user's own terminal is the front end's business). The terminal is the
//! container's own: its process opens it in the container's devpts, so that inside,
//! `tty` names it and `/dev/pts/N` exists, and hands the master end to the monitor over
//! a socket, as runc's console socket does.

use crate::error::{Result, RuntimeError};
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// A terminal's size: rows, columns.
pub type WindowSize = (u16, u16);

/// The two ends of the socket a new process sends its terminal's master end on.
pub struct Console {
    ours: OwnedFd,
    theirs: OwnedFd,
}

impl Console {
    pub fn new() -> Result<Console> {
        let (ours, theirs) = socket::socketpair(
            socket::AddressFamily::Unix,
            socket::SockType::Stream,
            None,
            socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| RuntimeError::Sys("socketpair", e))?;
        Ok(Console { ours, theirs })
    }

    /// The new process's end (`Stdio::Terminal`).
    pub fn theirs(&self) -> &OwnedFd {
        &self.theirs
    }

    /// The master end the process sent (once it runs), sized `size`.
    pub fn receive(self, size: Option<WindowSize>) -> Result<OwnedFd> {
        // Ours only: a process that died before sending makes the read see the end.
        drop(self.theirs);
        let mut byte = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = socket::recvmsg::<()>(
            self.ours.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| RuntimeError::Sys("receiving the container's terminal", e))?;
        let received = msg.cmsgs().ok().into_iter().flatten().find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        });
        let fd = received.ok_or_else(|| {
            RuntimeError::Unsupported("the container's process ended before it sent its terminal".into())
        })?;
        // SAFETY: SCM_RIGHTS gave this process a new descriptor it alone owns.
        let master = unsafe { OwnedFd::from_raw_fd(fd) };
        if let Some(size) = size {
            set_window_size(&master, size);
        }
        Ok(master)
    }
}

/// In the new process, inside the container's mount namespace: a new terminal of the
/// container's devpts, sent (master end) on `console`, and the process's stdio and
/// controlling terminal (slave end).
pub fn open_in_container(console: &OwnedFd) -> std::io::Result<()> {
    let master = nix::fcntl::open(
        "/dev/pts/ptmx",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int; the descriptor is a pty master.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: TIOCGPTPEER opens the master's slave end in the master's devpts.
    let slave = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY) };
    if slave < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the ioctl returned a new descriptor this process owns.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let fds = [master.as_raw_fd()];
    socket::sendmsg::<()>(
        console.as_fd().as_raw_fd(),
        &[IoSlice::new(b"m")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    drop(master);
    attach_child(&slave)
}

/// Sets a terminal's size (rows, columns).
pub fn set_window_size(terminal: &impl AsRawFd, (rows, cols): (u16, u16)) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct we own.
    unsafe { libc::ioctl(terminal.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// Makes the current process's stdio the container terminal's slave end (in the child,
/// before exec): a new session with the terminal as its controlling terminal.
pub fn attach_child(slave: &OwnedFd) -> std::io::Result<()> {
    nix::unistd::setsid().map_err(std::io::Error::from)?;
    // SAFETY: TIOCSCTTY on a terminal fd this process holds.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
