//! Running another process in a running container (`exec`): join its namespaces, then
//! start the process as the container's own would be.

use super::child;
use crate::error::{Result, RuntimeError};
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::Spec;
use std::fs::File;
use std::io::Read;

/// Namespaces joined, in order: the mount namespace last, because joining it changes
/// what /proc paths mean (the fds are all opened first anyway).
const NAMESPACES: [(&str, CloneFlags); 5] = [
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Runs `spec`'s process inside the namespaces of `pid`. With `detach`, returns once the
/// process runs (exit code 0); otherwise waits and returns its exit code. A failure to
/// start it is an error carrying Docker's code (126, 127).
pub fn exec(
    pid: i32,
    spec: &Spec,
    detach: bool,
    pty: Option<super::tty::Pty>,
    join_cgroups: &dyn Fn(i32) -> Result<()>,
) -> Result<i32> {
    let namespaces: Vec<(File, CloneFlags)> = NAMESPACES
        .iter()
        .map(|(name, flag)| {
            let path = format!("/proc/{pid}/ns/{name}");
            File::open(&path)
                .map(|f| (f, *flag))
                .map_err(|e| RuntimeError::io(format!("opening {path}"), e))
        })
        .collect::<Result<_>>()?;
    // The container's seccomp filter, compiled before the fork: the child only installs it.
    let seccomp = crate::seccomp::for_spec(spec)?;
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Sys("pipe", e))?;
    // SAFETY: the caller is single-threaded; the child only makes syscalls and execs or exits.
    match unsafe { fork() }.map_err(|e| RuntimeError::Sys("fork", e))? {
        ForkResult::Child => {
            // Before entering the container: its processes must never get at this copy of
            // strata through /proc/PID/exe (CVE-2019-5736 class); fork keeps the flag.
            let _ = nix::sys::prctl::set_dumpable(false);
            if let Err(e) = join_cgroups(std::process::id() as i32) {
                let _ = nix::unistd::write(
                    &write_end,
                    format!("125\njoining the container's cgroups: {e}").as_bytes(),
                );
                std::process::exit(125);
            }
            for (file, flag) in &namespaces {
                if let Err(e) = setns(file, *flag) {
                    let _ = nix::unistd::write(
                        &write_end,
                        format!("125\njoining the container's namespaces: {e}").as_bytes(),
                    );
                    std::process::exit(125);
                }
            }
            // Joining a PID namespace applies to children: fork once more.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    if let Some(pty) = &pty {
                        if let Err(e) = super::tty::attach_child(&pty.slave) {
                            let _ =
                                nix::unistd::write(&write_end, format!("125\nattaching the terminal: {e}").as_bytes());
                            std::process::exit(125);
                        }
                    }
                    if detach {
                        // `exec -d`: the process outlives this command; it gets no terminal.
                        if let Ok(null) = std::fs::File::options().read(true).write(true).open("/dev/null") {
                            for fd in 0..3 {
                                // SAFETY: dup2 onto the standard descriptors of this child.
                                unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) };
                            }
                        }
                    }
                    std::process::exit(child::enter(spec, &write_end, seccomp.as_ref()) as i32)
                }
                Ok(ForkResult::Parent { child }) => {
                    drop(write_end);
                    if detach {
                        std::process::exit(0);
                    }
                    let code = match waitpid(child, None) {
                        Ok(WaitStatus::Exited(_, c)) => c,
                        Ok(WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
                        _ => 125,
                    };
                    std::process::exit(code);
                }
                Err(_) => std::process::exit(125),
            }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            // The terminal's slave end stays with the container process only.
            let master = pty.map(|p| p.master);
            let mut report = String::new();
            let _ = File::from(read_end).read_to_string(&mut report);
            if let (Some(master), true) = (master, report.is_empty() && !detach) {
                super::tty::proxy(master, true)?;
            }
            let code = match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, c)) => c,
                Ok(WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
                _ => 125,
            };
            if let Some((c, message)) = report.split_once('\n') {
                return Err(RuntimeError::Start {
                    code: c.parse().unwrap_or(125),
                    message: message.to_string(),
                });
            }
            Ok(code)
        }
    }
}
