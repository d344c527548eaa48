//! Docker's `--sig-proxy`: while `run` or `start -a` is attached to a container without
//! a terminal, the signals this command gets (^C, `kill`) go to the container's process
//! instead. (On a terminal they reach it through the terminal.) The handler is the
//! command line's: the libraries never install one.

use nix::sys::signal::{signal, SigHandler, Signal};
use std::sync::atomic::{AtomicI32, Ordering};

static TARGET: AtomicI32 = AtomicI32::new(0);
/// A signal that came before the container's process was known, for `set_target`.
static PENDING: AtomicI32 = AtomicI32::new(0);
const PROXIED: [Signal; 4] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT];

extern "C" fn forward(sig: libc::c_int) {
    let pid = TARGET.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// Signals go to the process `set_target` names until this is dropped; one that comes
/// before (the container is starting) is delivered when the target is set.
pub struct Proxy {
    previous: Vec<(Signal, SigHandler)>,
}

impl Proxy {
    pub fn install() -> Proxy {
        TARGET.store(0, Ordering::SeqCst);
        PENDING.store(0, Ordering::SeqCst);
        let previous = PROXIED
            .iter()
            // SAFETY: the handler only reads an atomic and calls kill.
            .filter_map(|s| {
                unsafe { signal(*s, SigHandler::Handler(forward)) }
                    .ok()
                    .map(|p| (*s, p))
            })
            .collect();
        Proxy { previous }
    }

    pub fn set_target(&self, pid: i32) {
        TARGET.store(pid, Ordering::SeqCst);
        // This process has one thread: the handler cannot run between these two lines
        // other than by interrupting them, and then it sees the target.
        let held = PENDING.swap(0, Ordering::SeqCst);
        if held > 0 {
            // SAFETY: plain kill of the container's process.
            unsafe { libc::kill(pid, held) };
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        TARGET.store(0, Ordering::SeqCst);
        for (s, p) in &self.previous {
            // SAFETY: restoring the handler that was there before.
            unsafe {
                let _ = signal(*s, *p);
            }
        }
    }
}
