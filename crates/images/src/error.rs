//! The image service's errors. Each names the thing, the reason and, where there is
//! one, the fix.

use crate::reference::ReferenceError;
use std::path::PathBuf;
use strata_metadata::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("No such image: {name} (local store: {root}); try \"strata images\" to list images")]
    NotFound { name: String, root: PathBuf },
    #[error("{0}")]
    Ambiguous(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Filter(#[from] crate::filter_args::FilterError),
    #[error(transparent)]
    Content(#[from] strata_content::ContentError),
    #[error(transparent)]
    Snapshot(#[from] strata_snapshots::SnapshotError),
    #[error(transparent)]
    Metadata(#[from] strata_metadata::MetadataError),
    #[error("{archive}: {source}")]
    Archive {
        archive: String,
        #[source]
        source: Box<strata_archive::ArchiveError>,
    },
    #[error("{archive}: {what}: {source}")]
    Layer {
        archive: String,
        what: String,
        #[source]
        source: Box<strata_archive::ApplyError>,
    },
    #[error("{archive}: {what}: {reason}")]
    Invalid {
        archive: String,
        what: String,
        reason: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the image's {what} would be {size} bytes, over the {limit}-byte limit of a stored JSON document; \
         make it smaller (fewer or shorter LABEL, ENV or other settings)",
        limit = crate::store::MAX_DOCUMENT_BYTES
    )]
    TooLarge { what: String, size: u64 },
    #[error("invalid --change {change:?}: {reason}")]
    Change { change: String, reason: String },
}

impl ImageError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ImageError::Io {
            what: what.into(),
            source,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            ImageError::NotFound { .. } => ErrorKind::NotFound,
            ImageError::Conflict(_) => ErrorKind::Conflict,
            ImageError::Ambiguous(_)
            | ImageError::Reference(_)
            | ImageError::Filter(_)
            | ImageError::TooLarge { .. }
            | ImageError::Change { .. } => ErrorKind::Invalid,
            ImageError::Metadata(e) => e.kind(),
            _ => ErrorKind::Internal,
        }
    }

    /// True when the root cause is a full disk ("no space left on device").
    pub fn is_no_space(&self) -> bool {
        match self {
            ImageError::Io { source, .. } => source.raw_os_error() == Some(28),
            ImageError::Content(e) => e.is_no_space(),
            ImageError::Layer { source, .. } => source.is_no_space(),
            _ => false,
        }
    }
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
