//! The Docker Engine API, served on a socket by `strata system service`: the stock
//! `docker` CLI, compose and the SDKs drive strata through it, as podman's compat
//! service lets them drive podman.
//!
//! Front end only: each handler parses the request, calls the same library function
//! the CLI calls (`strata_images`, `strata_containers`, `strata_runtime`), and writes
//! Docker's JSON. Library calls stay synchronous and take the store's locks per
//! operation, so CLI commands and API requests share one root safely. The libraries'
//! typed errors are answered with Docker's status codes by their kind (`error`).

mod error;
mod handlers;
mod hijack;
mod idle;
mod listen;
mod refused;
mod reply;
mod request;
mod router;
mod server;
mod stream;
mod versions;

pub use listen::{ListenUri, Listener, DEFAULT_URI};
pub use server::{serve, ServeOptions};
pub use versions::{ApiVersion, API_VERSION, MIN_API_VERSION};

use std::path::PathBuf;

/// Why the service could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid URI {uri:?}: {reason}")]
    Uri { uri: String, reason: String },
    #[error(
        "refusing to listen on {0}: the Engine API has no authentication, and whoever reaches the port \
         controls the host; pass --allow-tcp to do it anyway"
    )]
    TcpNotAllowed(String),
    #[error("another service is listening on {0}; stop it or choose another socket")]
    InUse(PathBuf),
    #[error("socket activation: {0}")]
    Activation(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl ServeError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ServeError::Io {
            what: what.into(),
            source,
        }
    }
}
