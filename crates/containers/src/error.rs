#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Docker's words first (scripts match them), then the fix.
    #[error("remove {name}: volume is in use - [{containers}]; remove those containers first")]
    VolumeInUse { name: String, containers: String },
    #[error("get {0}: no such volume; try \"strata volume ls\" to list volumes")]
    NoSuchVolume(String),
    #[error(transparent)]
    Images(#[from] strata_images::ImageError),
    #[error(transparent)]
    Filter(#[from] strata_images::FilterError),
    #[error(transparent)]
    Metadata(#[from] strata_metadata::MetadataError),
    #[error(transparent)]
    Snapshot(#[from] strata_snapshots::SnapshotError),
    #[error(transparent)]
    MissingProgram(#[from] strata_host_programs::Missing),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl ContainerError {
    pub fn kind(&self) -> strata_metadata::ErrorKind {
        use strata_metadata::ErrorKind;
        match self {
            ContainerError::NotFound(_) | ContainerError::NoSuchVolume(_) => ErrorKind::NotFound,
            ContainerError::Invalid(_) | ContainerError::Filter(_) => ErrorKind::Invalid,
            ContainerError::Conflict(_) | ContainerError::VolumeInUse { .. } => ErrorKind::Conflict,
            ContainerError::Images(e) => e.kind(),
            ContainerError::Metadata(e) => e.kind(),
            _ => ErrorKind::Internal,
        }
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ContainerError::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = ContainerError> = std::result::Result<T, E>;
