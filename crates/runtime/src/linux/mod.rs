//! The Linux OCI runtime: turns a bundle (`config.json` + a mounted rootfs) into a
//! process in new namespaces. Written directly on the syscalls (via `nix`) because it
//! measured faster than crun and runc on this machine (see the containers issue).

mod child;
mod exec;
mod mounts;
mod process;
pub mod tty;

pub use exec::exec;
pub use process::{kill, start, wait, Started};

/// The namespaces a spec asks for (none when it has no `linux` section).
fn namespaces(spec: &oci_spec::runtime::Spec) -> Vec<oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}
