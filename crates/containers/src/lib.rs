//! Containers as records and writable layers: what `create`, `ps`, `rm`, `diff`,
//! `commit` and `export` need, without any process. The runtime crate starts and stops
//! the processes.

mod changes;
mod config;
mod error;
pub mod events;
mod names;
mod service;
pub mod signal;
pub mod volumes;

pub use changes::{write_layer, write_layer_clamped, Change, Exclusions};
pub use config::{static_ip, Bind, ContainerConfig, CreateOptions, MAX_ID};
pub use error::{ContainerError, Result};
pub use service::{CommitOptions, Containers};
pub use strata_metadata::{ContainerRecord, ContainerState};
