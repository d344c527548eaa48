//! Build errors. Dockerfile errors carry the file and line; the others name the step.

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{file}:{line}: {message}")]
    Syntax { file: String, line: usize, message: String },
    #[error("{file}:{line}: {instruction}: {message}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        message: String,
    },
    /// A flag of `build` this build cannot apply, named, with the reason.
    #[error("{flag} is not supported by strata's build: {reason}")]
    Unsupported { flag: &'static str, reason: String },
    /// A platform other than this machine's (`--platform`, the Engine API's `platform`).
    #[error("{0}")]
    Platform(String),
    #[error("build context {path}: {message}")]
    Context { path: String, message: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Image(#[from] strata_images::ImageError),
    #[error(transparent)]
    Container(#[from] strata_containers::ContainerError),
    #[error(transparent)]
    Runtime(Box<strata_runtime::RuntimeError>),
    #[error(transparent)]
    Metadata(#[from] strata_images::MetadataError),
}

impl From<strata_runtime::RuntimeError> for BuildError {
    fn from(e: strata_runtime::RuntimeError) -> Self {
        BuildError::Runtime(Box::new(e))
    }
}

impl BuildError {
    /// The class of the error, as the Engine API answers it: the caller's input
    /// (Dockerfile, context, flags), or the library's own.
    pub fn kind(&self) -> strata_metadata::ErrorKind {
        use strata_metadata::ErrorKind;
        match self {
            BuildError::Syntax { .. }
            | BuildError::Step { .. }
            | BuildError::Unsupported { .. }
            | BuildError::Platform(_) => ErrorKind::Invalid,
            BuildError::Context { .. } => ErrorKind::Invalid,
            BuildError::Io { .. } => ErrorKind::Internal,
            BuildError::Image(e) => e.kind(),
            BuildError::Container(e) => e.kind(),
            BuildError::Runtime(e) => e.kind(),
            BuildError::Metadata(e) => e.kind(),
        }
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        BuildError::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;
