//! Containers as records and writable layers: what `create`, `ps`, `rm`, `diff`,
//! `commit` and `export` need, without any process. The runtime crate starts and stops
//! the processes.

pub mod busy;
mod changes;
mod config;
pub mod container_filter;
mod error;
pub mod events;
pub mod health;
pub mod log_config;
mod names;
pub mod namespaces;
pub mod resources;
pub mod run_state;
mod service;
pub mod signal;
pub mod status;
pub mod volume_use;
pub mod volumes;

pub use changes::{write_layer, write_layer_clamped, Change, Exclusions};
pub use config::{
    check_platform, is_user_network, parse_labels, static_ip, static_ip6, Bind, ContainerConfig, CreateOptions,
    DeviceMapping, Link, RefusedOptions, MAX_ID,
};
pub use container_filter::ContainerFilter;
pub use error::{ContainerError, Result};
pub use service::{CommitOptions, Containers};
pub use status::{state_text, status_text};
pub use strata_metadata::{ContainerRecord, ContainerState};
