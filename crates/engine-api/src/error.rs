//! The API's error answer: Docker's status code for the error's kind, and its message
//! as `{"message": "…"}`. Library errors are classified by their `kind()`, here and
//! nowhere else, as moby's `httpstatus.FromError` does.

use hyper::StatusCode;
use strata_metadata::ErrorKind;

/// An error as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, message)
    }

    /// An error of a library, answered by its kind.
    fn classified(kind: ErrorKind, error: &dyn std::error::Error) -> Self {
        Self::new(status_of(kind), message_chain(error))
    }
}

/// Docker's status for each kind of error (moby's errdefs classes).
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The error and its causes, as `what: why: why`. thiserror's `transparent` and
/// `{source}` messages repeat their cause: echoes are left out.
pub fn message_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

macro_rules! from_library_error {
    ($($error:ty),*) => {$(
        impl From<$error> for ApiError {
            fn from(e: $error) -> Self {
                ApiError::classified(e.kind(), &e)
            }
        }
    )*};
}

from_library_error!(
    strata_images::ImageError,
    strata_containers::ContainerError,
    strata_network::NetworkError,
    strata_runtime::RuntimeError,
    strata_metadata::MetadataError,
    strata_registry::RegistryError,
    strata_builder::BuildError,
    strata_explore::ExploreError
);

/// An I/O failure of the service's own (writing a streamed answer, reading a body).
impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl From<strata_images::FilterError> for ApiError {
    fn from(e: strata_images::FilterError) -> Self {
        ApiError::classified(ErrorKind::Invalid, &e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_answer_with_dockers_statuses() {
        let missing = strata_containers::ContainerError::NotFound("web".into());
        assert_eq!(ApiError::from(missing).status, StatusCode::NOT_FOUND);
        let in_use = strata_containers::ContainerError::VolumeInUse {
            name: "data".into(),
            containers: "abc".into(),
        };
        assert_eq!(ApiError::from(in_use).status, StatusCode::CONFLICT);
        let wrapped = strata_runtime::RuntimeError::from(strata_network::NetworkError::NotFound("back".into()));
        let e = ApiError::from(wrapped);
        assert_eq!(
            (e.status, e.message.as_str()),
            (StatusCode::NOT_FOUND, "network back not found")
        );
        let filter = strata_images::FilterError::Format("x".into());
        assert_eq!(ApiError::from(filter).status, StatusCode::BAD_REQUEST);
    }
}
