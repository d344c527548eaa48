//! Container monitors as forks of this command line. Re-running strata's binary for
//! each monitor (the library's `monitor::Exec`, right for any caller) costs an exec and
//! a start-up; `run` in the foreground pays that on every call. This process is
//! single-threaded when it launches a monitor, so it may fork instead. The store's
//! database is closed across the fork (SQLite's per-process state must not be
//! inherited); the child keeps no descriptor past the report pipe (an inherited lock
//! would be held for the container's life), opens the database again and runs the
//! monitor's body.

use crate::cgroup_warmup::Warmup;
use nix::sys::signal::{signal, SigHandler, Signal};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use strata_containers::{ContainerRecord, Containers};
use strata_runtime::monitor::{Exec, Job, Launcher};
use strata_runtime::{Result, RuntimeError};

/// Forks monitors while this process has one thread; otherwise execs them.
#[derive(Default)]
pub struct ForkLauncher {
    /// Let go once the first monitor is launched.
    warmup: std::sync::Mutex<Option<Warmup>>,
}

impl ForkLauncher {
    /// A launcher for a start that is coming: the wait of the cgroup move that ends a
    /// start is taken meanwhile (`cgroup_warmup`).
    pub fn warming_up() -> Self {
        ForkLauncher {
            warmup: std::sync::Mutex::new(Warmup::begin()),
        }
    }
}

impl Launcher for ForkLauncher {
    fn launch(
        &self,
        containers: &Containers<'_>,
        record: &ContainerRecord,
        job: Job<'_>,
        attach_first: bool,
    ) -> Result<File> {
        let _warmup = self.warmup.lock().unwrap_or_else(|p| p.into_inner()).take();
        if !single_threaded() {
            let exe = std::env::current_exe().map_err(|e| RuntimeError::io("finding strata's binary", e))?;
            return Exec(&exe).launch(containers, record, job, attach_first);
        }
        reap_ended_monitors();
        let (ready_r, ready_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Sys("pipe", e))?;
        // SAFETY: this process has one thread (checked above), so the child may run
        // ordinary code; it leaves only through `_exit`. The store's database is closed
        // around the fork: the child must inherit no SQLite state.
        let store = containers.store();
        store.close_for_fork().map_err(|e| RuntimeError::Containers(e.into()))?;
        // The parent opens it again when it next needs it.
        let forked = unsafe { nix::unistd::fork() };
        match forked.map_err(|e| RuntimeError::Sys("fork", e))? {
            nix::unistd::ForkResult::Child => {
                // Nothing may unwind out of the child into the parent's frames.
                let id = record.id.clone();
                let monitor =
                    std::panic::AssertUnwindSafe(|| monitor_child(containers, ready_w, &id, job, attach_first));
                let code = match std::panic::catch_unwind(monitor) {
                    Ok(Ok(())) => 0,
                    Ok(Err(_)) => 1,
                    Err(_) => 101,
                };
                // SAFETY: ends the child without running the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(ready_w);
                FORKED.lock().unwrap_or_else(|p| p.into_inner()).push(child);
                Ok(File::from(ready_r))
            }
        }
    }

    fn forks_caller(&self) -> bool {
        true
    }
}

/// The monitors this command forked: its children, reaped once they end (a build
/// forks one per RUN step and would otherwise gather zombies until it exits).
static FORKED: std::sync::Mutex<Vec<nix::unistd::Pid>> = std::sync::Mutex::new(Vec::new());

fn reap_ended_monitors() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    FORKED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|pid| matches!(waitpid(*pid, Some(WaitPidFlag::WNOHANG)), Ok(WaitStatus::StillAlive)));
}

pub(crate) fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim() == "1"))
        })
        .unwrap_or(false)
}

/// The child: a session of its own, the report pipe on fd 3, `/dev/null` on 0–2, no
/// other descriptor, then the monitor, the store's database opened again.
fn monitor_child(
    containers: &Containers<'_>,
    ready: OwnedFd,
    id: &str,
    job: Job<'_>,
    attach_first: bool,
) -> anyhow::Result<()> {
    nix::unistd::setsid()?;
    // The parent's handlers (its sig-proxy) are not the monitor's.
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
        // SAFETY: restoring the default action.
        unsafe { signal(s, SigHandler::SigDfl)? };
    }
    // SAFETY: onto descriptor numbers this process owns; no other thread exists.
    unsafe {
        if libc::dup2(ready.as_raw_fd(), 3) < 0 {
            anyhow::bail!("dup2: {}", std::io::Error::last_os_error());
        }
        let null = File::options().read(true).write(true).open("/dev/null")?;
        for fd in 0..3 {
            libc::dup2(null.as_raw_fd(), fd);
        }
        drop(null);
        // Every other inherited descriptor, `ready`'s own number among them.
        std::mem::forget(ready);
        libc::close_range(4, u32::MAX, 0);
    }
    // Before the monitor owns fd 3: why it could not begin goes to the launcher.
    let exe = become_monitor()
        .and_then(|()| containers.store().reopen().map_err(anyhow::Error::from))
        .and_then(|()| std::env::current_exe().map_err(anyhow::Error::from))
        .inspect_err(report_failure)?;
    // Health checks' monitors are launched as `strata __monitor`: this one runs threads.
    let checks = strata_runtime::monitor::Exec(&exe);
    let outcome = strata_runtime::monitor::run_job(containers, id, job, attach_first, &checks);
    containers.store().close_for_exit()?;
    Ok(outcome?)
}

fn report_failure(e: &anyhow::Error) {
    use std::io::Write;
    // SAFETY: fd 3 is the report pipe this child was given; borrowed, not closed.
    let mut pipe = std::mem::ManuallyDrop::new(unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(3) });
    let _ = write!(pipe, "125\n{}", crate::output::error_chain(e));
}

/// What a monitor process is, set once for its whole life: the reaper of the
/// container's processes that lose their parent (runc's `create` exits, leaving the
/// container's init to us, as containerd's shim).
/// Its name in `ps -e` and `top` says what it is (a forked one's command line stays
/// the launching command's).
pub fn become_monitor() -> anyhow::Result<()> {
    let _ = nix::sys::prctl::set_name(c"strata-monitor");
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| anyhow::anyhow!("PR_SET_CHILD_SUBREAPER: {e}"))
}
