//! Starting a bundle's process and collecting its exit status.

use super::child;
use crate::error::{Result, RuntimeError};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::io::Read;
use std::path::Path;

/// A container process that passed exec.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    pub pid: i32,
}

fn clone_flags(spec: &Spec) -> Result<CloneFlags> {
    let mut flags = CloneFlags::empty();
    for ns in super::namespaces(spec) {
        if ns.path().is_some() {
            // Network and IPC: joined by the child before anything else (see
            // `child::join_namespaces`); PID: by this process around the clone.
            if !matches!(
                ns.typ(),
                LinuxNamespaceType::Network | LinuxNamespaceType::Ipc | LinuxNamespaceType::Pid
            ) {
                return Err(RuntimeError::Unsupported(format!(
                    "joining an existing {:?} namespace",
                    ns.typ()
                )));
            }
            continue;
        }
        flags |= match ns.typ() {
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            // Unshared by the child once it is in its groups, so that the namespace is
            // rooted at them (see `child::setup`), not at this process's.
            LinuxNamespaceType::Cgroup => CloneFlags::empty(),
            other => return Err(RuntimeError::Unsupported(format!("{other:?} namespaces"))),
        };
    }
    if !flags.contains(CloneFlags::CLONE_NEWNS) {
        return Err(RuntimeError::Unsupported(
            "a container without its own mount namespace".into(),
        ));
    }
    Ok(flags)
}

/// Starts the process of the bundle whose spec is `spec` and whose root is mounted at
/// `rootfs`. Returns once the process has exec'ed its program; a failure before that
/// (a missing program, a bad user or directory) is returned as an error with the exit
/// code Docker gives it, and the process is reaped.
///
/// The caller must be single-threaded: the child is a copy of this process.
pub fn start(
    spec: &Spec,
    rootfs: &Path,
    stdio: super::Stdio<'_>,
    placed: &dyn Fn(i32) -> Result<()>,
) -> Result<Started> {
    let flags = clone_flags(spec)?;
    // Compiled here: the child only installs it.
    let seccomp = crate::seccomp::for_spec(spec)?;
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Sys("pipe", e))?;
    let mut stack = vec![0u8; 1 << 20];
    // The child makes its root meanwhile, then waits on `go` until `placed` (its cgroups
    // made and joined) has run for its PID.
    let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Sys("pipe", e))?;
    let callback = Box::new(|| {
        let go = || {
            let mut byte = [0u8; 1];
            nix::unistd::read(&go_r, &mut byte) == Ok(1)
        };
        child::init(spec, rootfs, &write_end, stdio, seccomp.as_ref(), &go)
    });
    let pid_namespace = JoinedPidNamespace::enter(spec)?;
    // SAFETY: the child runs on its own stack in a copy of this (single-threaded)
    // process and ends in exec or exit; it never returns into our frames.
    let cloned = unsafe { nix::sched::clone(callback, &mut stack, flags, Some(Signal::SIGCHLD as i32)) };
    pid_namespace.leave()?;
    let pid = cloned.map_err(|e| RuntimeError::Sys("clone", e))?;
    drop(write_end);
    drop(go_r);
    let placing = placed(pid.as_raw());
    if placing.is_ok() {
        let _ = nix::unistd::write(&go_w, b"g");
    } else {
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    }
    drop(go_w);
    let mut report = String::new();
    let _ = std::fs::File::from(read_end).read_to_string(&mut report);
    if placing.is_ok() && report.is_empty() {
        return Ok(Started { pid: pid.as_raw() });
    }
    let _ = waitpid(pid, None);
    match placing {
        Err(e) if report.is_empty() => Err(e),
        // A child that failed while it was being placed (making its root) is why
        // placing it failed too: its report says why.
        _ => Err(start_failure(&report)),
    }
}

/// The child's report ("CODE\nMESSAGE") as the start's error.
fn start_failure(report: &str) -> RuntimeError {
    let (code, message) = report.split_once('\n').unwrap_or(("125", report));
    RuntimeError::Start {
        code: code.parse().unwrap_or(125),
        message: message.to_string(),
    }
}

/// Another container's PID namespace (`--pid container:NAME`), entered for this
/// process's next children only (setns with CLONE_NEWPID never moves the caller), and
/// left again right after the clone.
struct JoinedPidNamespace {
    own: Option<std::fs::File>,
}

impl JoinedPidNamespace {
    fn enter(spec: &Spec) -> Result<Self> {
        let joined = super::namespaces(spec)
            .into_iter()
            .find(|ns| ns.typ() == LinuxNamespaceType::Pid)
            .and_then(|ns| ns.path().clone());
        let Some(path) = joined else {
            return Ok(JoinedPidNamespace { own: None });
        };
        let open =
            |p: &Path| std::fs::File::open(p).map_err(|e| RuntimeError::io(format!("opening {}", p.display()), e));
        let own = open(Path::new("/proc/thread-self/ns/pid_for_children"))?;
        let target = open(&path)?;
        nix::sched::setns(&target, CloneFlags::CLONE_NEWPID)
            .map_err(|e| RuntimeError::Sys("setns (PID namespace)", e))?;
        Ok(JoinedPidNamespace { own: Some(own) })
    }

    fn leave(self) -> Result<()> {
        match self.own {
            Some(own) => nix::sched::setns(&own, CloneFlags::CLONE_NEWPID)
                .map_err(|e| RuntimeError::Sys("setns (back to the PID namespace)", e)),
            None => Ok(()),
        }
    }
}

/// Waits for the process and returns its exit code the way Docker reports it: the
/// process's own status, or 128 + N after signal N.
pub fn wait(pid: i32) -> Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(RuntimeError::Sys("waitpid", e)),
        }
    }
}

/// Sends `signal` to the process.
pub fn kill(pid: i32, signal: Signal) -> Result<()> {
    nix::sys::signal::kill(Pid::from_raw(pid), signal).map_err(|e| RuntimeError::Sys("kill", e))
}
