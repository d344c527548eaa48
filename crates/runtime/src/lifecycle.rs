//! Container lifecycle on strata's runtime: mount the root, write the bundle, start the
//! process, wait, record the outcome, unmount.

use crate::error::{Result, RuntimeError};
use crate::linux;
use crate::linux::path::secure_join;
use crate::rootfs::{is_mounted, mount_all, unmount};
use crate::spec::{build, resolve_user};
use nix::sys::signal::{SigHandler, Signal};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use strata_containers::{ContainerRecord, ContainerState, Containers, CreateOptions};

/// `run` in the foreground: create, start attached, wait. Returns the container and its
/// exit code (removing the container first if `--rm`).
pub fn run(containers: &Containers<'_>, opts: &CreateOptions) -> Result<(ContainerRecord, i32)> {
    let record = containers.create(opts)?;
    let outcome = start_attached(containers, &record);
    if opts.auto_remove {
        containers.remove(&record)?;
    }
    outcome.map(|code| (record, code))
}

/// Starts a created or exited container with the caller's stdio and waits for it.
pub fn start_attached(containers: &Containers<'_>, record: &ContainerRecord) -> Result<i32> {
    if record.state == ContainerState::Running && pid_alive(record.pid) {
        return Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
            format!("container {} is already running", record.name),
        )));
    }
    let rootfs = containers.rootfs(&record.id);
    mount_all(&containers.mounts(record)?, &rootfs)?;
    let result = start_and_wait(containers, record, &rootfs);
    let unmounted = unmount(&rootfs);
    if let Err(RuntimeError::Start { code, .. }) = &result {
        containers.set_state(&record.id, ContainerState::Exited, None, Some(*code as i64))?;
    }
    let code = result?;
    unmounted?;
    Ok(code)
}

fn start_and_wait(containers: &Containers<'_>, record: &ContainerRecord, rootfs: &Path) -> Result<i32> {
    let config = containers.config(record)?;
    let user = resolve_user(rootfs, &config.user)?;
    // Docker creates a missing working directory.
    let workdir = secure_join(rootfs, Path::new(&config.working_dir))
        .map_err(|e| RuntimeError::io("resolving the working directory", e))?;
    std::fs::create_dir_all(&workdir)
        .map_err(|e| RuntimeError::io(format!("creating working directory {}", config.working_dir), e))?;
    let bundle = containers.dir(&record.id);
    let spec = build(&config, &bundle, &user)?;
    let json = serde_json::to_vec_pretty(&spec).expect("specs serialize");
    std::fs::write(bundle.join("config.json"), json).map_err(|e| RuntimeError::io("writing config.json", e))?;
    let started = linux::start(&spec, rootfs)?;
    containers.set_state(&record.id, ContainerState::Running, Some(started.pid as i64), None)?;
    let code = with_signals_forwarded(started.pid, || linux::wait(started.pid))?;
    containers.set_state(&record.id, ContainerState::Exited, None, Some(code as i64))?;
    Ok(code)
}

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Runs `f` with SIGINT, SIGTERM, SIGHUP and SIGQUIT passed on to `pid` (Docker's
/// sig-proxy), so ^C reaches the container and the engine lives to record the exit.
fn with_signals_forwarded<T>(pid: i32, f: impl FnOnce() -> T) -> T {
    FORWARD_TO.store(pid, Ordering::SeqCst);
    let signals = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT];
    // SAFETY: the handler only reads an atomic and calls kill.
    let previous: Vec<_> = signals
        .iter()
        .map(|s| unsafe { nix::sys::signal::signal(*s, SigHandler::Handler(forward)) })
        .collect();
    let out = f();
    for (s, p) in signals.iter().zip(previous) {
        if let Ok(p) = p {
            // SAFETY: restoring the handler that was installed before.
            unsafe {
                let _ = nix::sys::signal::signal(*s, p);
            }
        }
    }
    FORWARD_TO.store(0, Ordering::SeqCst);
    out
}

fn pid_alive(pid: Option<i64>) -> bool {
    pid.is_some_and(|p| p > 0 && Path::new(&format!("/proc/{p}")).exists())
}

/// Brings records up to date with the system: a "running" container whose process is
/// gone (its engine was killed, the machine rebooted) is exited, its root unmounted.
pub fn reconcile(containers: &Containers<'_>) -> Result<Vec<ContainerRecord>> {
    let mut out = Vec::new();
    for mut record in containers.list()? {
        if record.state == ContainerState::Running && !pid_alive(record.pid) {
            let _ = unmount(&containers.rootfs(&record.id));
            containers.set_state(&record.id, ContainerState::Exited, None, Some(255))?;
            record.state = ContainerState::Exited;
            record.exit_code = Some(255);
            record.pid = None;
        }
        out.push(record);
    }
    Ok(out)
}

/// Removes a container; a running one only with `force` (it is killed first).
pub fn remove(containers: &Containers<'_>, record: &ContainerRecord, force: bool) -> Result<()> {
    if record.state == ContainerState::Running && pid_alive(record.pid) {
        if !force {
            return Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(format!(
                "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                record.id
            ))));
        }
        let pid = record.pid.unwrap_or(0) as i32;
        let _ = linux::kill(pid, Signal::SIGKILL);
        for _ in 0..200 {
            if !pid_alive(record.pid) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    let rootfs = containers.rootfs(&record.id);
    if is_mounted(&rootfs) {
        unmount(&rootfs)?;
    }
    Ok(containers.remove(record)?)
}

/// `export`: the container's whole filesystem, flattened, as a tar. A running
/// container is read through its mounted root; a stopped one through a read-only
/// overlay of its layer over the image, mounted for the purpose.
pub fn export<W: std::io::Write>(containers: &Containers<'_>, record: &ContainerRecord, out: W) -> Result<W> {
    let rootfs = containers.rootfs(&record.id);
    if is_mounted(&rootfs) {
        return Ok(strata_containers::write_layer(&rootfs, &Default::default(), out)?);
    }
    let view = containers
        .store()
        .root()
        .join("tmp")
        .join(format!("export-{}", record.id));
    std::fs::create_dir_all(&view).map_err(|e| RuntimeError::io(format!("creating {}", view.display()), e))?;
    let lowers: Vec<String> = containers
        .view_lowerdirs(record)?
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mount = strata_snapshots::Mount {
        kind: "overlay".into(),
        source: "overlay".into(),
        options: vec![format!("lowerdir={}", lowers.join(":"))],
    };
    mount_all(&[mount], &view)?;
    let written = strata_containers::write_layer(&view, &Default::default(), out);
    let unmounted = unmount(&view);
    let _ = std::fs::remove_dir(&view);
    unmounted?;
    Ok(written?)
}
