use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("netlink: {what}: {reason}")]
    Netlink { what: String, reason: String },
    #[error("nft: {what}: {reason}")]
    Nft { what: String, reason: String },
    #[error("network {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "Bind for {address}:{port} failed: port is already allocated ({reason}); \
         choose another host port or stop what listens there"
    )]
    PortInUse { address: String, port: u16, reason: String },
    #[error(
        "Bind for {address}:{first}-{last} failed: every port of the range is already allocated \
         (the last: {reason}); choose another host port range or stop what listens there"
    )]
    PortRangeInUse {
        address: String,
        first: u16,
        last: u16,
        reason: String,
    },
    #[error(transparent)]
    Metadata(#[from] strata_metadata::MetadataError),
    #[error(transparent)]
    MissingProgram(#[from] strata_host_programs::Missing),
}

impl NetworkError {
    pub fn kind(&self) -> strata_metadata::ErrorKind {
        use strata_metadata::ErrorKind;
        match self {
            NetworkError::NotFound(_) => ErrorKind::NotFound,
            NetworkError::Invalid(_) => ErrorKind::Invalid,
            NetworkError::Conflict(_) | NetworkError::PortInUse { .. } | NetworkError::PortRangeInUse { .. } => {
                ErrorKind::Conflict
            }
            NetworkError::Metadata(e) => e.kind(),
            _ => ErrorKind::Internal,
        }
    }

    pub fn io(what: impl Display, source: std::io::Error) -> NetworkError {
        NetworkError::Io {
            what: what.to_string(),
            source,
        }
    }

    pub fn sys(what: impl Display, source: nix::errno::Errno) -> NetworkError {
        NetworkError::Sys {
            what: what.to_string(),
            source,
        }
    }
}

pub type Result<T, E = NetworkError> = std::result::Result<T, E>;
