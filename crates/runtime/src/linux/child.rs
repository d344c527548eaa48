//! What runs in the new process between clone and exec. It may only report failure
//! through the error pipe (as "CODE\nMESSAGE") and exit: nothing it does reaches the
//! parent's memory.

use super::mounts;
use crate::seccomp::Program;
use nix::mount::{mount, MsFlags};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// A failure before exec: the exit code the container reports (125 setup, 126 not
/// executable, 127 not found) and a message for the user.
#[derive(Debug)]
pub struct ChildError {
    pub code: i32,
    pub message: String,
}

pub trait Fail<T> {
    fn fail(self, code: i32, what: impl Into<String>) -> Result<T, ChildError>;
}

impl<T, E: std::fmt::Display> Fail<T> for Result<T, E> {
    fn fail(self, code: i32, what: impl Into<String>) -> Result<T, ChildError> {
        self.map_err(|e| ChildError {
            code,
            message: format!("{}: {e}", what.into()),
        })
    }
}

/// The child's whole life: set up, then exec. Returns only on failure. `seccomp` is the
/// spec's filter, compiled by the parent. `placed` waits until the parent has put this
/// process in the container's control groups (false: it could not).
///
/// The root is made while the parent places it: moving a process between v1 groups
/// waits out an RCU grace period (10–30 ms here, the largest part of a `run --rm`),
/// and nothing before the wait runs the container's code or needs its groups. Kernel
/// memory for the mounts is charged to the engine's group meanwhile.
pub fn init(
    spec: &Spec,
    rootfs: &Path,
    error_pipe: &OwnedFd,
    stdio: super::Stdio<'_>,
    seccomp: Option<&Program>,
    placed: &dyn Fn() -> bool,
) -> isize {
    // A terminal is opened in the container's devpts, once its root is mounted.
    let (attached, console) = match stdio {
        super::Stdio::Terminal(console) => (Ok(()), Some(console)),
        super::Stdio::Fds(fds) => (standard_fds(&fds), None),
        super::Stdio::Inherit => (Ok(()), None),
    };
    let err = match attached
        .and_then(|()| make_root(spec, rootfs, console))
        .and_then(|()| in_groups(placed))
        .and_then(|()| become_process(spec, seccomp))
        .and_then(|()| exec(spec, late(spec, seccomp)))
    {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let report = format!("{}\n{}", err.code, err.message);
    let _ = nix::unistd::write(error_pipe, report.as_bytes());
    err.code as isize
}

/// Puts `fds` on 0, 1 and 2 of this (new) process.
fn standard_fds(fds: &[std::os::fd::BorrowedFd<'_>; 3]) -> Result<(), ChildError> {
    use std::os::fd::AsRawFd;
    for (target, fd) in fds.iter().enumerate() {
        // SAFETY: in the container's own process, before exec; the descriptors are live.
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            return Err(std::io::Error::last_os_error()).fail(125, "setting the standard descriptors");
        }
    }
    Ok(())
}

/// The life of a process `exec`'ed into a running container (already in its
/// namespaces): the container's rlimits and seccomp filter, the spec's user and
/// capabilities, no_new_privs, change directory, exec.
pub fn enter(spec: &Spec, error_pipe: &OwnedFd, stdio: super::Stdio<'_>, seccomp: Option<&Program>) -> isize {
    // In the container's mount namespace already: its devpts is /dev/pts.
    let attached = match stdio {
        super::Stdio::Terminal(console) => super::tty::open_in_container(console).fail(125, "opening the terminal"),
        super::Stdio::Fds(fds) => standard_fds(&fds),
        super::Stdio::Inherit => Ok(()),
    };
    let result = attached
        .and_then(|()| non_dumpable())
        .and_then(|()| close_inherited_fds())
        .and_then(|()| set_rlimits(spec))
        .and_then(|()| early_seccomp(spec, seccomp))
        .and_then(|()| set_user_and_capabilities(spec))
        .and_then(|()| no_new_privs(spec))
        .and_then(|()| {
            let process = spec.process().clone().unwrap_or_default();
            std::env::set_current_dir(process.cwd()).fail(126, format!("chdir to {:?}", process.cwd()))
        })
        .and_then(|()| exec(spec, late(spec, seccomp)));
    let err = match result {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = nix::unistd::write(error_pipe, format!("{}\n{}", err.code, err.message).as_bytes());
    err.code as isize
}

fn wants_no_new_privs(spec: &Spec) -> bool {
    spec.process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false)
}

fn no_new_privs(spec: &Spec) -> Result<(), ChildError> {
    if wants_no_new_privs(spec) {
        nix::sys::prctl::set_no_new_privs().fail(125, "setting no_new_privs")?;
    }
    Ok(())
}

fn install(seccomp: &Program) -> Result<(), ChildError> {
    seccomp.install().fail(125, "installing the seccomp filter")
}

/// Without no_new_privs, installing a filter takes CAP_SYS_ADMIN: it goes in before the
/// capabilities and the user change, as runc does (the profile must allow what the
/// runtime does after it: setgroups, setresuid, capset, prctl, chdir, stat, execve).
fn early_seccomp(spec: &Spec, seccomp: Option<&Program>) -> Result<(), ChildError> {
    match seccomp {
        Some(program) if !wants_no_new_privs(spec) => install(program),
        _ => Ok(()),
    }
}

/// With no_new_privs, the filter goes in as late as possible: right before execve.
fn late<'a>(spec: &Spec, seccomp: Option<&'a Program>) -> Option<&'a Program> {
    seccomp.filter(|_| wants_no_new_privs(spec))
}

fn has_namespace(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == kind))
}

/// Joins the namespaces the spec gives by path (a network namespace prepared by the
/// engine), while their files are still reachable: before the root changes.
fn join_namespaces(spec: &Spec) -> Result<(), ChildError> {
    for ns in super::namespaces(spec) {
        let (flag, what) = match ns.typ() {
            LinuxNamespaceType::Network => (nix::sched::CloneFlags::CLONE_NEWNET, "network"),
            LinuxNamespaceType::Ipc => (nix::sched::CloneFlags::CLONE_NEWIPC, "IPC"),
            _ => continue,
        };
        if let Some(path) = ns.path() {
            let file = std::fs::File::open(path).fail(125, format!("opening {what} namespace {}", path.display()))?;
            nix::sched::setns(&file, flag).fail(125, format!("joining {what} namespace {}", path.display()))?;
        }
    }
    Ok(())
}

/// The container's root, mounts, devices, sysctls, hostname and loopback: everything
/// before its groups matter.
fn make_root(spec: &Spec, rootfs: &Path, console: Option<&OwnedFd>) -> Result<(), ChildError> {
    non_dumpable()?;
    join_namespaces(spec)?;
    close_inherited_fds()?;
    // Nothing we mount may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .fail(125, "making / a slave mount")?;
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .fail(125, "binding the rootfs")?;
    // Everything below happens inside the (untrusted) root, resolved by the kernel.
    let root = strata_inroot::Root::open(rootfs).fail(125, "opening the container's root")?;
    for m in spec.mounts().clone().unwrap_or_default() {
        mounts::mount_entry(&root, &m)?;
    }
    mounts::create_devices(&root)?;
    mounts::create_spec_devices(&root, spec)?;
    drop(root);
    mounts::pivot_root(rootfs)?;
    if let Some(console) = console {
        super::tty::open_in_container(console).fail(125, "opening the terminal")?;
    }
    // Through the container's own /proc, before mask_and_protect makes /proc/sys read-only.
    write_sysctls(spec)?;
    mounts::mask_and_protect(spec)?;
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        mounts::readonly_root()?;
    }
    if has_namespace(spec, LinuxNamespaceType::Uts) {
        if let Some(h) = spec.hostname() {
            nix::unistd::sethostname(h).fail(125, "setting the hostname")?;
        }
        if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
            set_domainname(d)?;
        }
    }
    if has_namespace(spec, LinuxNamespaceType::Network) {
        // A prepared namespace has it up already; bringing it up again is harmless.
        loopback_up()?;
    }
    Ok(())
}

fn in_groups(placed: &dyn Fn() -> bool) -> Result<(), ChildError> {
    match placed() {
        true => Ok(()),
        false => Err(ChildError {
            code: 125,
            message: "the container's control groups could not be joined".into(),
        }),
    }
}

/// In its groups: the cgroup namespace, limits, seccomp, user and capabilities, and the
/// working directory of the container's process.
fn become_process(spec: &Spec, seccomp: Option<&Program>) -> Result<(), ChildError> {
    if has_namespace(spec, LinuxNamespaceType::Cgroup) {
        // Now that this process is in the container's groups: they become its root.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).fail(125, "unsharing the cgroup namespace")?;
    }
    let process = spec.process().clone().unwrap_or_default();
    set_rlimits(spec)?;
    if let Some(adj) = process.oom_score_adj() {
        // Before the capabilities go: lowering it needs CAP_SYS_RESOURCE.
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).fail(125, "setting oom_score_adj")?;
    }
    early_seccomp(spec, seccomp)?;
    set_user_and_capabilities(spec)?;
    no_new_privs(spec)?;
    std::env::set_current_dir(process.cwd()).fail(
        125,
        format!("chdir to cwd ({:?}) set in config.json failed", process.cwd()),
    )
}

/// `--domainname`, in the container's own UTS namespace.
fn set_domainname(name: &str) -> Result<(), ChildError> {
    // SAFETY: the pointer and length describe `name`'s bytes, which outlive the call.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if rc != 0 {
        return Err(ChildError {
            code: 125,
            message: format!("setting the domain name: {}", std::io::Error::last_os_error()),
        });
    }
    Ok(())
}

/// `linux.sysctl`: each key is a file under /proc/sys (dots are its separators).
fn write_sysctls(spec: &Spec) -> Result<(), ChildError> {
    let sysctls = spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().clone())
        .unwrap_or_default();
    for (key, value) in sysctls {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes()).fail(125, format!("setting sysctl {key}={value}"))?;
    }
    Ok(())
}

/// Until exec, this process is strata's binary: non-dumpable, no process of the
/// container may open its /proc/PID/exe (or memory) and write to the engine's binary
/// (CVE-2019-5736 class). exec makes the container's program dumpable again.
fn non_dumpable() -> Result<(), ChildError> {
    nix::sys::prctl::set_dumpable(false).fail(125, "PR_SET_DUMPABLE")
}

/// Marks every inherited descriptor above stderr close-on-exec, so no engine file (a
/// database, a directory of the host) reaches the container (CVE-2024-21626 class).
fn close_inherited_fds() -> Result<(), ChildError> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).fail(125, "close_range");
    }
    Ok(())
}

/// The spec's rlimits (`--ulimit`, the engine's open-files limit), for the container's
/// process and each exec'd one alike (as runc sets them for both).
fn set_rlimits(spec: &Spec) -> Result<(), ChildError> {
    let process = spec.process().clone().unwrap_or_default();
    for r in process.rlimits().clone().unwrap_or_default() {
        let resource =
            rlimit_resource(&serde_json::to_string(&r.typ()).unwrap_or_default()).ok_or_else(|| ChildError {
                code: 125,
                message: format!("unknown rlimit {:?}", r.typ()),
            })?;
        nix::sys::resource::setrlimit(resource, r.soft(), r.hard())
            .fail(125, format!("setting rlimit {:?}", r.typ()))?;
    }
    Ok(())
}

fn rlimit_resource(name: &str) -> Option<nix::sys::resource::Resource> {
    use nix::sys::resource::Resource as R;
    Some(match name.trim_matches('"') {
        "RLIMIT_NOFILE" => R::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => R::RLIMIT_NPROC,
        "RLIMIT_CORE" => R::RLIMIT_CORE,
        "RLIMIT_STACK" => R::RLIMIT_STACK,
        "RLIMIT_MEMLOCK" => R::RLIMIT_MEMLOCK,
        "RLIMIT_FSIZE" => R::RLIMIT_FSIZE,
        "RLIMIT_CPU" => R::RLIMIT_CPU,
        "RLIMIT_AS" => R::RLIMIT_AS,
        "RLIMIT_DATA" => R::RLIMIT_DATA,
        "RLIMIT_NICE" => R::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => R::RLIMIT_RTPRIO,
        "RLIMIT_MSGQUEUE" => R::RLIMIT_MSGQUEUE,
        "RLIMIT_SIGPENDING" => R::RLIMIT_SIGPENDING,
        "RLIMIT_LOCKS" => R::RLIMIT_LOCKS,
        "RLIMIT_RSS" => R::RLIMIT_RSS,
        "RLIMIT_RTTIME" => R::RLIMIT_RTTIME,
        _ => return None,
    })
}

/// Brings up `lo` in the container's new network namespace.
fn loopback_up() -> Result<(), ChildError> {
    // SAFETY: plain socket/ioctl calls on a zeroed, correctly sized ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).fail(125, "socket for lo");
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut rc = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        if rc == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            rc = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc != 0 {
            return Err(err).fail(125, "bringing up lo");
        }
    }
    Ok(())
}

fn capability_set(names: &Option<std::collections::HashSet<oci_spec::runtime::Capability>>) -> caps::CapsHashSet {
    names
        .iter()
        .flatten()
        .filter_map(|c| serde_json::to_string(c).ok())
        .filter_map(|s| s.trim_matches('"').parse::<caps::Capability>().ok())
        .collect()
}

/// Switches to the spec's user and leaves exactly the spec's capabilities.
fn set_user_and_capabilities(spec: &Spec) -> Result<(), ChildError> {
    let process = spec.process().clone().unwrap_or_default();
    let user = process.user();
    let wanted = process.capabilities().clone().unwrap_or_default();
    let bounding = capability_set(wanted.bounding());
    for cap in caps::all() {
        if !bounding.contains(&cap) {
            caps::drop(None, caps::CapSet::Bounding, cap).fail(125, format!("dropping {cap} from the bounding set"))?;
        }
    }
    // Keep permitted capabilities across the uid change; the sets are set just below.
    nix::sys::prctl::set_keepcaps(true).fail(125, "PR_SET_KEEPCAPS")?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(Gid::from_raw)
        .collect();
    nix::unistd::setgroups(&groups).fail(125, "setgroups")?;
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).fail(125, format!("setgid {}", user.gid()))?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).fail(125, format!("setuid {}", user.uid()))?;
    // Ambient capabilities the engine itself may have inherited must not reach the container.
    caps::clear(None, caps::CapSet::Ambient).fail(125, "clearing ambient capabilities")?;
    caps::set(None, caps::CapSet::Inheritable, &capability_set(wanted.inheritable()))
        .fail(125, "setting inheritable capabilities")?;
    caps::set(None, caps::CapSet::Effective, &capability_set(wanted.effective()))
        .fail(125, "setting effective capabilities")?;
    caps::set(None, caps::CapSet::Permitted, &capability_set(wanted.permitted()))
        .fail(125, "setting permitted capabilities")?;
    let ambient = capability_set(wanted.ambient());
    if !ambient.is_empty() {
        caps::set(None, caps::CapSet::Ambient, &ambient).fail(125, "setting ambient capabilities")?;
    }
    Ok(())
}

/// Finds the program as the container's shell would, and execs it; `seccomp` (a filter
/// to install after no_new_privs) goes in right before execve.
fn exec(spec: &Spec, seccomp: Option<&Program>) -> Result<std::convert::Infallible, ChildError> {
    let process = spec.process().clone().unwrap_or_default();
    let args = process.args().clone().unwrap_or_default();
    let Some(program) = args.first() else {
        return Err(ChildError {
            code: 125,
            message: "no command specified".into(),
        });
    };
    let env = process.env().clone().unwrap_or_default();
    let path = resolve_program(program, &env)?;
    let c = |s: &str| CString::new(s).fail(125, "argument with a NUL byte");
    let argv: Vec<CString> = args.iter().map(|a| c(a)).collect::<Result<_, _>>()?;
    let envp: Vec<CString> = env.iter().map(|e| c(e)).collect::<Result<_, _>>()?;
    let path_c = CString::new(path.as_os_str().as_encoded_bytes()).fail(125, "path with a NUL byte")?;
    if let Some(program) = seccomp {
        install(program)?;
    }
    let e = nix::unistd::execve(&path_c, &argv, &envp).unwrap_err();
    let code = if e == nix::errno::Errno::ENOENT { 127 } else { 126 };
    Err(ChildError {
        code,
        message: format!("exec: {:?}: {}", program, e.desc().to_lowercase()),
    })
}

fn resolve_program(program: &str, env: &[String]) -> Result<PathBuf, ChildError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && nix::unistd::access(&candidate, nix::unistd::AccessFlags::X_OK).is_ok() {
                return Ok(candidate);
            }
        }
    }
    Err(ChildError {
        code: 127,
        message: format!("exec: {program:?}: executable file not found in $PATH"),
    })
}
