//! The container init of `run --init` (Docker's docker-init, tini): a small static
//! program, built from `init.c`, that strata bind-mounts into the container and runs as
//! PID 1 with the container's command as its child. It forwards the signals it gets to
//! the child, reaps every zombie (orphans re-parent to PID 1), and exits with the
//! child's status (128 + the signal that killed it).

/// The executable, to be written once into the store and bind-mounted read-only.
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/strata-init"));

/// Where it is mounted in the container, as Docker mounts its own.
pub const PATH_IN_CONTAINER: &str = "/sbin/docker-init";
