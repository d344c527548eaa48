//! The user's side of an attached session: this command's stdin, stdout and stderr,
//! the terminal in raw mode while a container's terminal is attached to it, and its
//! size, noted when SIGWINCH says it changed. Process-wide state (termios, a signal
//! handler) belongs to the command line, never to the library.

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use strata_runtime::attach::ClientIo;
use strata_runtime::linux::tty::WindowSize;

/// Set by SIGWINCH; starts set, so that the first question gets the size.
static RESIZED: AtomicBool = AtomicBool::new(true);

extern "C" fn on_winch(_: libc::c_int) {
    RESIZED.store(true, Ordering::SeqCst);
}

/// This command's stdio as a session's, for as long as it lives: with `tty` (the
/// container has a terminal) raw mode when our stdin is a terminal too, and resizes.
pub struct Terminal {
    stdin: std::io::Stdin,
    stdout: std::io::Stdout,
    stderr: std::io::Stderr,
    raw: Option<Termios>,
    tty: bool,
}

impl Terminal {
    pub fn new(tty: bool, raw: bool) -> Terminal {
        let stdin = std::io::stdin();
        let saved = (tty && raw && stdin.is_terminal())
            .then(|| tcgetattr(stdin.as_fd()).ok())
            .flatten();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        if tty {
            // SAFETY: the handler only stores to an atomic.
            unsafe {
                let _ = signal(Signal::SIGWINCH, SigHandler::Handler(on_winch));
            }
        }
        Terminal {
            stdin,
            stdout: std::io::stdout(),
            stderr: std::io::stderr(),
            raw: saved,
            tty,
        }
    }

    /// The session's view of this command's stdio.
    pub fn io<'a>(&'a mut self, window: &'a mut dyn FnMut() -> Option<WindowSize>) -> ClientIo<'a> {
        ClientIo {
            input: Some(&mut self.stdin),
            stdout: &mut self.stdout,
            stderr: &mut self.stderr,
            window,
            hangup: None,
        }
    }
}

/// Our terminal's size when it is new to the caller: the first time, and after each
/// SIGWINCH.
pub fn resized() -> Option<WindowSize> {
    if !RESIZED.swap(false, Ordering::SeqCst) {
        return None;
    }
    window_size()
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.raw {
            let _ = tcsetattr(self.stdin.as_fd(), SetArg::TCSANOW, saved);
        }
        if self.tty {
            // SAFETY: restoring the default action.
            unsafe {
                let _ = signal(Signal::SIGWINCH, SigHandler::SigDfl);
            }
        }
    }
}

/// The size of our terminal (stdin): rows, columns.
fn window_size() -> Option<WindowSize> {
    // SAFETY: TIOCGWINSZ writes a winsize struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0).then_some((ws.ws_row, ws.ws_col))
    }
}
