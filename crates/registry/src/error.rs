//! Registry errors. Each names the registry or repository, the reason and, where there
//! is one, the fix.

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{registry}: {reason}")]
    Connect { registry: String, reason: String },
    #[error("unauthorized: authentication required for {resource}; run \"strata login {registry}\" with an account that may access it")]
    Unauthorized { registry: String, resource: String },
    #[error("denied: requested access to {resource} is denied")]
    Denied { resource: String },
    #[error("{what} not found: {reason}")]
    NotFound { what: String, reason: String },
    #[error("{what}: the registry answered {status}: {reason}")]
    Status { what: String, status: u16, reason: String },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("credentials file {path}: {reason}")]
    Credentials { path: String, reason: String },
    #[error("invalid pull option: {given:?}: must be one of \"always\", \"missing\" or \"never\"")]
    InvalidPullPolicy { given: String },
    #[error(transparent)]
    Image(#[from] strata_images::ImageError),
}

impl RegistryError {
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        RegistryError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        RegistryError::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
