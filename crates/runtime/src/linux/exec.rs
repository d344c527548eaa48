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
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    // After the cgroups are joined: a private cgroup namespace is rooted at them.
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Starts `spec`'s process inside the namespaces of `pid`, with `stdio`. Returns the
/// process to wait for once the command runs: an intermediate outside the container's
/// PID namespace (joining one applies to children only), which waits for the command
/// and exits with its status. A failure to start it is an error carrying Docker's code
/// (126, 127). Called by an exec's monitor: the caller forks, so it must be
/// single-threaded.
pub fn exec(
    pid: i32,
    spec: &Spec,
    stdio: super::Stdio<'_>,
    join_cgroups: &dyn Fn(i32) -> Result<()>,
) -> Result<super::Started> {
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
                fail(&write_end, &format!("joining the container's cgroups: {e}"));
            }
            for (file, flag) in &namespaces {
                if let Err(e) = setns(file, *flag) {
                    fail(&write_end, &format!("joining the container's namespaces: {e}"));
                }
            }
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    std::process::exit(child::enter(spec, &write_end, stdio, seccomp.as_ref()) as i32)
                }
                Ok(ForkResult::Parent { child }) => {
                    // This waiter holds nothing: a copy of the monitor's end of the
                    // command's input pipe would keep the command from seeing its end.
                    // SAFETY: closes descriptors this forked child owns; it uses none.
                    unsafe { libc::close_range(0, u32::MAX, 0) };
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
            let mut report = String::new();
            let _ = File::from(read_end).read_to_string(&mut report);
            if let Some((c, message)) = report.split_once('\n') {
                let _ = waitpid(child, None);
                return Err(RuntimeError::Start {
                    code: c.parse().unwrap_or(125),
                    message: message.to_string(),
                });
            }
            Ok(super::Started { pid: child.as_raw() })
        }
    }
}

/// Reports why the exec could not begin, in the forked child, and ends it.
fn fail(report: &std::os::fd::OwnedFd, message: &str) -> ! {
    let _ = nix::unistd::write(report, format!("125\n{message}").as_bytes());
    std::process::exit(125)
}
