//! What can go wrong while exploring an image.

#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error("reading the layer: {0}")]
    Tar(#[source] std::io::Error),
    #[error("a bad layer: {0}")]
    BadLayer(String),
    #[error("a layer expands past the store's limit of {limit} bytes (a decompression bomb?); raise it with --max-layer-size if the image is genuine")]
    TooBig { limit: u64 },
    #[error(transparent)]
    Image(#[from] strata_images::ImageError),
    #[error(transparent)]
    Container(#[from] strata_containers::ContainerError),
    #[error(transparent)]
    Registry(#[from] strata_registry::RegistryError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("No such image or container: {0}")]
    NotFound(String),
}

impl ExploreError {
    /// What kind of failure it is, for a front end's status code or exit.
    pub fn kind(&self) -> strata_metadata::ErrorKind {
        use strata_metadata::ErrorKind;
        match self {
            ExploreError::NotFound(_) => ErrorKind::NotFound,
            ExploreError::Tar(_) | ExploreError::BadLayer(_) | ExploreError::TooBig { .. } => ErrorKind::Invalid,
            ExploreError::Config(_) => ErrorKind::Invalid,
            ExploreError::Io { .. } => ErrorKind::Internal,
            ExploreError::Image(e) => e.kind(),
            ExploreError::Container(e) => e.kind(),
            ExploreError::Registry(e) => e.kind(),
        }
    }

    pub(crate) fn tar(e: std::io::Error) -> Self {
        ExploreError::Tar(e)
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ExploreError::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, ExploreError>;
