//! `--runtime runc`: the same bundle run by runc, as containerd's shim drives it. `runc
//! create` then `runc start`, run by a container's monitor, which is the child subreaper
//! (the command line sets that up for it), so the container's
//! init becomes strata's child once `create` returns: it is waited for like strata's
//! own, and its PID (not runc's) is the container's, for `exec`, `kill` and `top`.
//! With `-t`, runc makes the terminal and hands its master over a console socket.

use crate::error::{Result, RuntimeError};
use crate::linux::Started;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};

/// runc's name for a container.
pub fn runc_id(id: &str) -> String {
    format!("strata-{}", &id[..12])
}

fn runc(what: &str) -> impl FnOnce(std::io::Error) -> RuntimeError + '_ {
    move |e| RuntimeError::io(what.to_string(), e)
}

/// The host's runc, by absolute path; its absence is named with its package.
fn runc_command() -> Result<Command> {
    Ok(Command::new(strata_host_programs::RUNC.find()?))
}

/// Creates and starts the container; returns its init and, with `terminal`, the
/// master end of the terminal runc made for it.
pub fn start(bundle: &Path, id: &str, stdio: crate::linux::Stdio<'_>) -> Result<(Started, Option<OwnedFd>)> {
    let terminal = stdio.is_terminal();
    let name = runc_id(id);
    // A leftover of a killed engine would make create fail.
    delete(id);
    let pid_file = bundle.join("runc.pid");
    let _ = std::fs::remove_file(&pid_file);
    let log = bundle.join("runc.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = runc_command()?;
    cmd.arg("--log").arg(&log).arg("--log-format").arg("json");
    cmd.arg("create")
        .arg("--bundle")
        .arg(bundle)
        .arg("--pid-file")
        .arg(&pid_file);
    // A short path (socket addresses are limited to 107 bytes), unique per call: two
    // threads of one process may start containers at once.
    let socket_path = Path::new("/tmp").join(format!(
        "strata-console-{}-{:016x}.sock",
        &id[..12],
        rand::random::<u64>()
    ));
    let listener = if terminal {
        let _ = std::fs::remove_file(&socket_path);
        let l = UnixListener::bind(&socket_path).map_err(|e| RuntimeError::io("binding the console socket", e))?;
        l.set_nonblocking(true)
            .map_err(|e| RuntimeError::io("console socket", e))?;
        cmd.arg("--console-socket").arg(&socket_path);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        Some(l)
    } else {
        None
    };
    if let crate::linux::Stdio::Fds(fds) = stdio {
        // runc's container inherits runc's stdio: these, not ours.
        let own = |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned().map(Stdio::from);
        cmd.stdin(own(fds[0]).map_err(runc("passing stdin"))?)
            .stdout(own(fds[1]).map_err(runc("passing stdout"))?)
            .stderr(own(fds[2]).map_err(runc("passing stderr"))?);
    }
    cmd.arg(&name);
    let mut child = cmd.spawn().map_err(runc("starting runc create"))?;
    let mut master = None;
    if let Some(l) = &listener {
        // runc connects while `create` runs; stop waiting if it ends without doing so.
        loop {
            if let Ok((stream, _)) = l.accept() {
                master = Some(receive_fd(stream.as_raw_fd())?);
                break;
            }
            if child.try_wait().map_err(runc("waiting for runc create"))?.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = std::fs::remove_file(&socket_path);
    }
    let status = child.wait().map_err(runc("waiting for runc create"))?;
    if !status.success() {
        return Err(RuntimeError::Start {
            code: 125,
            message: format!("runc create {name} failed ({status}): {}", last_error(&log)),
        });
    }
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| RuntimeError::Start {
            code: 125,
            message: format!("runc create {name} wrote no PID to {}", pid_file.display()),
        })?;
    let started = runc_command()?
        .args(["start", &name])
        .status()
        .map_err(runc("runc start"))?;
    if !started.success() {
        delete(id);
        return Err(RuntimeError::Start {
            code: 125,
            message: format!("runc start {name} failed ({started})"),
        });
    }
    Ok((Started { pid }, master))
}

/// The last message runc logged (its JSON log's `msg`).
fn last_error(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["msg"].as_str().map(str::to_string))
        .next_back()
        .unwrap_or_else(|| format!("see {}", log.display()))
}

/// Forgets runc's state of the container (after it exited, or before a new create).
pub fn delete(id: &str) {
    if let Ok(mut cmd) = runc_command() {
        let _ = cmd
            .args(["delete", "--force", &runc_id(id)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The descriptor runc sends over the console socket (SCM_RIGHTS).
fn receive_fd(socket: RawFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(socket, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| RuntimeError::Sys("receiving the console from runc", e))?;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| RuntimeError::Sys("reading runc's console message", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(RuntimeError::Start {
        code: 125,
        message: "runc sent no terminal over the console socket".into(),
    })
}
