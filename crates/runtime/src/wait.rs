//! `wait`: blocks until a container stops and gives its exit status.

use crate::error::Result;
use crate::lifecycle;
use strata_containers::{ContainerRecord, Containers};

/// Docker's status for a container whose exit code nobody recorded (its process was
/// gone before its monitor could say).
pub const UNKNOWN_EXIT: i64 = 255;

/// The container's exit status once it is not running.
pub fn wait(containers: &Containers<'_>, record: &ContainerRecord) -> Result<i64> {
    Ok(lifecycle::wait_exit(containers, record, None)?.unwrap_or(UNKNOWN_EXIT))
}
