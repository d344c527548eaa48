//! A process that takes the wait of a cgroup move while this command prepares a
//! container's start (`strata_runtime::cgroup_warmup`: the first move into a group waits
//! out a grace period, 10–30 ms; a move soon after, or during that wait, does not pay it
//! again). Without it, `run` pays the wait after everything else it does, when the
//! container's process is placed.
//!
//! A process rather than a thread: this command forks its monitors and must then have
//! one thread. It is forked twice, so that it is never this command's child to reap;
//! it ends by itself a little after its pipe closes (the monitor places the container's
//! process a few milliseconds after its launch).

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};
use strata_runtime::cgroup_warmup::OwnGroup;

/// How long it waits for the launch: a `run` that pulls its image first pays the wait
/// itself.
const BEFORE_LAUNCH: Duration = Duration::from_secs(2);
/// How long the path stays open after the launch: the monitor's preparation and the
/// container's clone take 5–10 ms; a slower start waits as it would without this.
const AFTER_LAUNCH: Duration = Duration::from_millis(30);

/// The warm-up process, kept open until this is dropped (then for `AFTER_LAUNCH`).
pub struct Warmup {
    /// Held, never written: its closing is the warm-up's signal.
    _hangup: OwnedFd,
    intermediate: Pid,
}

impl Warmup {
    /// `None` when this process has more than one thread (it may not fork) or the fork
    /// failed: the start then waits as it would without one.
    pub fn begin() -> Option<Self> {
        if !crate::fork_launcher::single_threaded() {
            return None;
        }
        let (watch, hangup) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
        // SAFETY: this process has one thread; the children leave only through `_exit`.
        match unsafe { fork() }.ok()? {
            ForkResult::Child => {
                drop(hangup);
                // SAFETY: as above; the intermediate child ends at once.
                if let Ok(ForkResult::Child) = unsafe { fork() } {
                    keep_open(watch);
                }
                unsafe { libc::_exit(0) }
            }
            ForkResult::Parent { child } => Some(Warmup {
                _hangup: hangup,
                intermediate: child,
            }),
        }
    }
}

impl Drop for Warmup {
    fn drop(&mut self) {
        // The pipe closes after this; the intermediate child ended long ago.
        let _ = nix::sys::wait::waitpid(self.intermediate, None);
    }
}

/// The warm-up's body: its own group, moved into again and again
/// (`OwnGroup::interval`) until the pipe closes (or
/// `BEFORE_LAUNCH` passed), then for `AFTER_LAUNCH` more.
fn keep_open(watch: OwnedFd) {
    let _ = nix::sys::prctl::set_name(c"strata-warmup");
    // Not the command's output: a shell reading it (`id=$(strata run -d …)`) waits
    // for every holder to close it.
    if let Ok(null) = std::fs::File::options().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: onto this process's own standard descriptors; no other thread.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    close_all_but(watch.as_raw_fd());
    let Some(mut group) = OwnGroup::open() else {
        return;
    };
    let mut fds = [PollFd::new(watch.as_fd(), PollFlags::POLLIN)];
    let begun = Instant::now();
    while begun.elapsed() < BEFORE_LAUNCH && group.move_in() {
        // ppoll: the interval is below poll's millisecond.
        let timeout = nix::sys::time::TimeSpec::from_duration(group.interval());
        match ppoll(&mut fds, Some(timeout), None) {
            Ok(0) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            _ => break,
        }
    }
    let launched = Instant::now();
    while launched.elapsed() < AFTER_LAUNCH && group.move_in() {
        std::thread::sleep(group.interval());
    }
}

/// The store's descriptors (its lock among them) are not this process's to hold.
fn close_all_but(keep: i32) {
    // SAFETY: closes descriptors this process no longer uses.
    unsafe {
        if keep > 3 {
            libc::close_range(3, (keep - 1) as u32, 0);
        }
        libc::close_range(keep as u32 + 1, u32::MAX, 0);
    }
}
