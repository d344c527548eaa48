//! `-t`: the container's stdio on a pseudo-terminal, proxied to the user's terminal
//! (raw mode, window size changes forwarded), like `docker run -it`.

use crate::error::{Result, RuntimeError};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// A terminal's size: rows, columns.
pub type WindowSize = (u16, u16);

/// A pseudo-terminal: the container gets `slave` as its stdio; strata keeps `master`.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// A new terminal of `size` (rows, columns), or of the user's terminal's size.
pub fn open_pty(size: Option<WindowSize>) -> Result<Pty> {
    let pty = nix::pty::openpty(None, None).map_err(|e| RuntimeError::Sys("openpty", e))?;
    nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| RuntimeError::Sys("fcntl", e))?;
    match size {
        Some(size) => set_window_size(&pty.master, size),
        None => copy_window_size(&pty.master),
    }
    Ok(Pty {
        master: pty.master,
        slave: pty.slave,
    })
}

/// The size of the user's terminal (stdin): rows, columns.
pub fn window_size() -> Option<WindowSize> {
    // SAFETY: TIOCGWINSZ writes a winsize struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0).then_some((ws.ws_row, ws.ws_col))
    }
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

/// Copies the user's terminal size (stdin) to the container's terminal.
fn copy_window_size(master: &impl AsRawFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ read and write a winsize struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
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

/// Restores the user's terminal settings when dropped.
pub struct RawMode(Option<Termios>);

impl RawMode {
    pub fn enter() -> RawMode {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return RawMode(None);
        }
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

static WINCH: AtomicBool = AtomicBool::new(false);

extern "C" fn on_winch(_: libc::c_int) {
    WINCH.store(true, Ordering::SeqCst);
}

/// Waits until `source` or, with `stdin`, our stdin has something to read: (source
/// ready, stdin ready). A wait cut short by a signal (a resize) reports neither.
pub fn wait_readable(source: std::os::fd::BorrowedFd<'_>, stdin: bool) -> Result<(bool, bool)> {
    let input = std::io::stdin();
    let mut fds = vec![PollFd::new(source, PollFlags::POLLIN)];
    if stdin {
        fds.push(PollFd::new(input.as_fd(), PollFlags::POLLIN));
    }
    match poll(&mut fds, PollTimeout::NONE) {
        Err(nix::errno::Errno::EINTR) => return Ok((false, false)),
        Err(e) => return Err(RuntimeError::Sys("poll", e)),
        Ok(_) => {}
    }
    let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
    Ok((ready(&fds[0]), fds.get(1).is_some_and(ready)))
}

/// From now on, SIGWINCH (the user's terminal resized) is noted for `window_resized`.
pub fn watch_window_size() {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGWINCH,
            nix::sys::signal::SigHandler::Handler(on_winch),
        );
    }
}

/// Whether the user's terminal was resized since the last call.
pub fn window_resized() -> bool {
    WINCH.swap(false, Ordering::SeqCst)
}

/// Proxies the user's stdin to the terminal and the terminal to stdout until the
/// container side closes (all its processes exited). `interactive`: forward stdin.
pub fn proxy(master: OwnedFd, interactive: bool) -> Result<()> {
    let _raw = if interactive { Some(RawMode::enter()) } else { None };
    watch_window_size();
    let mut master = std::fs::File::from(master);
    let mut stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let mut buf = vec![0u8; 32 << 10];
    let mut stdin_open = interactive;
    loop {
        if window_resized() {
            copy_window_size(&master);
        }
        let (master_ready, stdin_ready) = wait_readable(master.as_fd(), stdin_open)?;
        if master_ready {
            match master.read(&mut buf) {
                // EIO: the last process holding the slave end is gone.
                Ok(0) | Err(_) => return Ok(()),
                Ok(n) => {
                    let _ = stdout.write_all(&buf[..n]);
                    let _ = stdout.flush();
                }
            }
        }
        if stdin_ready {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let _ = master.write_all(&buf[..n]);
                }
            }
        }
    }
}
