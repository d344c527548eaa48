use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InRootError {
    #[error(
        "this kernel has no openat2(2) (Linux 5.6 or newer is needed): strata will not work on \
         container files without it; upgrade the kernel"
    )]
    KernelTooOld,
    #[error("{path} does not exist in {root}", path = path.display(), root = root.display())]
    NotFound { root: PathBuf, path: PathBuf },
    #[error("resolving {path} inside {root}: {reason}", path = path.display(), root = root.display())]
    Resolve {
        root: PathBuf,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "{path} in {root} is not a regular file (a FIFO, device or directory there is not read)",
        path = path.display(),
        root = root.display()
    )]
    NotRegular { root: PathBuf, path: PathBuf },
    #[error("{path} in {root} is larger than {limit} bytes; not read", path = path.display(), root = root.display())]
    TooLarge { root: PathBuf, path: PathBuf, limit: u64 },
    #[error("reopening a resolved path: {0}")]
    Reopen(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl InRootError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        InRootError::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = InRootError> = std::result::Result<T, E>;
