//! strata's runtime: the OCI runtime that runs a bundle (namespaces, mounts,
//! processes), and the container lifecycle on top of it (start, run, wait).

pub mod attach;
pub mod cgroup_warmup;
pub mod cgroups;
pub mod copy;
pub mod detach_keys;
pub mod devices;
mod error;
pub mod exec;
pub mod health;
pub mod info;
pub mod inspect;
pub mod lifecycle;
pub mod links;
pub mod linux;
pub mod listing;
pub mod logs;
pub mod monitor;
pub mod network_inspect;
pub mod networking;
pub mod rootfs;
pub mod runc;
pub mod seccomp;
mod shared_namespaces;
pub mod spec;
pub mod stats;
pub mod system_prune;
pub mod top;
pub mod wait;

pub use error::{Result, RuntimeError};
