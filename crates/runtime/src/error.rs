//! Runtime errors.

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The container's process failed before its program ran. `code` is what Docker
    /// reports: 126 not executable, 127 not found, 125 any other setup failure.
    #[error("{message}")]
    Start { code: i32, message: String },
    #[error("{0}: {1}")]
    Sys(&'static str, #[source] nix::errno::Errno),
    /// A request that cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),
    #[error("not supported by strata's runtime yet: {0}")]
    Unsupported(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid bundle {path}: {reason}")]
    Bundle { path: String, reason: String },
    #[error(transparent)]
    Containers(#[from] strata_containers::ContainerError),
    #[error(transparent)]
    Images(#[from] strata_images::ImageError),
    #[error(transparent)]
    Network(#[from] strata_network::NetworkError),
    #[error(transparent)]
    Metadata(#[from] strata_metadata::MetadataError),
    #[error(transparent)]
    MissingProgram(#[from] strata_host_programs::Missing),
}

impl RuntimeError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            what: what.into(),
            source,
        }
    }

    pub fn kind(&self) -> strata_metadata::ErrorKind {
        use strata_metadata::ErrorKind;
        match self {
            RuntimeError::Invalid(_) => ErrorKind::Invalid,
            RuntimeError::Unsupported(_) => ErrorKind::NotImplemented,
            RuntimeError::Containers(e) => e.kind(),
            RuntimeError::Images(e) => e.kind(),
            RuntimeError::Network(e) => e.kind(),
            RuntimeError::Metadata(e) => e.kind(),
            _ => ErrorKind::Internal,
        }
    }

    /// The exit status a CLI should end with for this error (Docker's convention).
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Start { code, .. } => *code,
            _ => 125,
        }
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
