//! `-t`: a process's stdio on a pseudo-terminal whose master end its monitor keeps
//! (the user's own terminal is the front end's business).

use crate::error::{Result, RuntimeError};
use std::os::fd::{AsRawFd, OwnedFd};

/// A terminal's size: rows, columns.
pub type WindowSize = (u16, u16);

/// A pseudo-terminal: the container gets `slave` as its stdio; strata keeps `master`.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// A new terminal, of `size` (rows, columns) when given.
pub fn open_pty(size: Option<WindowSize>) -> Result<Pty> {
    let pty = nix::pty::openpty(None, None).map_err(|e| RuntimeError::Sys("openpty", e))?;
    nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| RuntimeError::Sys("fcntl", e))?;
    if let Some(size) = size {
        set_window_size(&pty.master, size);
    }
    Ok(Pty {
        master: pty.master,
        slave: pty.slave,
    })
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
