//! Namespaces shared between containers: `--pid container:NAME` and `--ipc
//! container:NAME` join the namespaces of the other container's init, and `--ipc
//! shareable` makes a container's /dev/shm where others can join it. A container's own
//! /dev/shm lives in its mount namespace, out of any other's reach; a shareable one is
//! a tmpfs mounted on the host side in the container's directory (as Docker's is) and
//! bound in, so a joining container binds the same one.

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};
use strata_containers::{ContainerConfig, ContainerRecord, Containers};

/// What a container joins or shares at start.
#[derive(Debug, Default)]
pub struct Shared {
    pid_namespace: Option<PathBuf>,
    ipc_namespace: Option<PathBuf>,
    /// The host-side /dev/shm bound over the container's own.
    shm: Option<PathBuf>,
}

/// Where a shareable container's /dev/shm is mounted on the host.
fn shm_dir(containers: &Containers<'_>, id: &str) -> PathBuf {
    containers.dir(id).join("shm")
}

/// Looks up the containers joined and mounts a shareable /dev/shm.
pub fn prepare(containers: &Containers<'_>, config: &ContainerConfig, own_id: &str) -> Result<Shared> {
    let mut shared = Shared::default();
    if let Some(other) = config
        .pid_mode
        .as_deref()
        .and_then(strata_containers::namespaces::joined)
    {
        let (_, pid) = running(containers, other, "PID namespace")?;
        shared.pid_namespace = Some(PathBuf::from(format!("/proc/{pid}/ns/pid")));
    }
    match config.ipc_mode.as_deref() {
        Some("shareable") => {
            let dir = shm_dir(containers, own_id);
            mount_shm(&dir, config.resources.shm_size)?;
            shared.shm = Some(dir);
        }
        Some(mode) => {
            if let Some(other) = strata_containers::namespaces::joined(mode) {
                let (record, pid) = running(containers, other, "IPC namespace")?;
                let donor = containers.config(&record)?;
                if donor.ipc_mode.as_deref() != Some("shareable") {
                    return Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
                        format!(
                            "cannot join the IPC namespace of container {}: it is not shareable \
                         (create it with --ipc shareable)",
                            record.name
                        ),
                    )));
                }
                shared.ipc_namespace = Some(PathBuf::from(format!("/proc/{pid}/ns/ipc")));
                shared.shm = Some(shm_dir(containers, &record.id));
            }
        }
        None => {}
    }
    Ok(shared)
}

/// The other container, which must be running, and its init's PID.
fn running(containers: &Containers<'_>, id: &str, what: &str) -> Result<(ContainerRecord, i64)> {
    let record = containers.resolve(id)?;
    match record.pid.filter(|_| crate::lifecycle::is_running(containers, &record)) {
        Some(pid) => Ok((record, pid)),
        None => Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
            format!("cannot join the {what} of a non running container: {}", record.name),
        ))),
    }
}

fn mount_shm(dir: &Path, size: Option<i64>) -> Result<()> {
    use nix::mount::MsFlags;
    if crate::rootfs::is_mounted(dir) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io(format!("creating {}", dir.display()), e))?;
    // Docker's default size, 64 MiB.
    let options = format!("mode=1777,size={}k", size.map_or(65536, |b| (b + 1023) / 1024));
    nix::mount::mount(
        Some("shm"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(options.as_str()),
    )
    .map_err(|e| RuntimeError::Sys("mount (shareable /dev/shm)", e))
}

/// Puts what is shared into the container's spec: namespace paths, and the shared
/// /dev/shm in place of its own.
pub fn apply(spec: &mut Spec, shared: &Shared) {
    if let Some(linux) = spec.linux_mut() {
        if let Some(namespaces) = linux.namespaces_mut() {
            for ns in namespaces.iter_mut() {
                let path = match ns.typ() {
                    LinuxNamespaceType::Pid => &shared.pid_namespace,
                    LinuxNamespaceType::Ipc => &shared.ipc_namespace,
                    _ => continue,
                };
                if path.is_some() {
                    ns.set_path(path.clone());
                }
            }
        }
    }
    if let (Some(shm), Some(mounts)) = (&shared.shm, spec.mounts_mut()) {
        for m in mounts.iter_mut() {
            if m.destination() == Path::new("/dev/shm") {
                *m = crate::spec::bind("/dev/shm", shm, false);
            }
        }
    }
}

/// Unmounts a shareable container's /dev/shm once it has stopped (containers that
/// joined it keep their own mount of it until they stop).
pub fn release(containers: &Containers<'_>, id: &str) {
    let dir = shm_dir(containers, id);
    if dir.exists() {
        let _ = crate::rootfs::unmount(&dir);
        let _ = std::fs::remove_dir(&dir);
    }
}
