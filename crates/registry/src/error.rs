//! Registry errors. Each names the registry or repository, the reason and, where there
//! is one, the fix.

use strata_images::ErrorKind;

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
    /// A login's credentials were refused (Docker's words).
    #[error("login attempt to {url} failed with status: 401 Unauthorized")]
    LoginRefused { url: String },
    /// The caller went away ([`strata_images::Progress::cancelled`]): nothing was stored.
    #[error("cancelled: the caller went away; nothing was stored")]
    Cancelled,
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

    /// What kind of failure this is, for the front ends' status codes. A repository
    /// the registry denies or wants credentials for is not found, as moby answers a
    /// pull it may not make ("pull access denied …, repository does not exist or may
    /// require 'docker login'"); an unreachable registry or a failing one is the
    /// engine's failure (moby's 500).
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::NotFound { .. } | RegistryError::Unauthorized { .. } | RegistryError::Denied { .. } => {
                ErrorKind::NotFound
            }
            RegistryError::Status { status: 404, .. } => ErrorKind::NotFound,
            RegistryError::Invalid { .. } | RegistryError::InvalidPullPolicy { .. } => ErrorKind::Invalid,
            RegistryError::Image(e) => e.kind(),
            RegistryError::Connect { .. }
            | RegistryError::Status { .. }
            | RegistryError::Io { .. }
            | RegistryError::Credentials { .. }
            | RegistryError::Cancelled => ErrorKind::Internal,
            // No kind says "unauthorized": the front end that logs in answers it.
            RegistryError::LoginRefused { .. } => ErrorKind::Invalid,
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
