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
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
}

impl ExploreError {
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
