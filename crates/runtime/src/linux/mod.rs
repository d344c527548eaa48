//! The Linux OCI runtime: turns a bundle (`config.json` + a mounted rootfs) into a
//! process in new namespaces. Written directly on the syscalls (via `nix`) because it
//! measured faster than crun and runc on this machine (see the containers issue).

mod child;
mod exec;
mod mounts;
mod process;
pub mod tty;

pub use exec::exec;

/// What a container's process gets as its standard descriptors.
#[derive(Clone, Copy)]
pub enum Stdio<'a> {
    /// The caller's own 0, 1 and 2.
    Inherit,
    /// A new terminal of the container's own, on all three and as the controlling
    /// terminal; its master end goes to the caller over this socket ([`tty::Console`]).
    Terminal(&'a std::os::fd::OwnedFd),
    /// These descriptors as 0, 1 and 2 (set in the new process only: the caller's own
    /// stay as they are).
    Fds([std::os::fd::BorrowedFd<'a>; 3]),
}

impl Stdio<'_> {
    /// Whether the process gets a terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Stdio::Terminal(_))
    }
}

/// Performs `mounts` (binds) inside `root` from the host's side, resolving each
/// destination inside the root as the container's own setup does.
pub(crate) fn mount_in_root(root: &strata_inroot::Root, mounts: &[oci_spec::runtime::Mount]) -> crate::Result<()> {
    for m in mounts {
        mounts::mount_entry(root, m).map_err(|e| crate::RuntimeError::Start {
            code: e.code,
            message: e.message,
        })?;
    }
    Ok(())
}
pub use process::{kill, start, wait, Started};

/// The namespaces a spec asks for (none when it has no `linux` section).
fn namespaces(spec: &oci_spec::runtime::Spec) -> Vec<oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}
