//! The Linux OCI runtime: turns a bundle (`config.json` + a mounted rootfs) into a
//! process in new namespaces. Written directly on the syscalls (via `nix`) because it
//! measured faster than crun and runc on this machine (see the containers issue).

mod child;
mod exec;
mod mounts;
pub mod path;
mod process;
pub mod tty;

pub use exec::exec;
pub use process::{kill, start, wait, Started};
