//! What kind of failure an error is, so that each front end answers every error of a
//! kind the same way, decided in one place: the Engine API service with an HTTP status
//! (moby's `errdefs` classes), the CLI with its words and exit codes. No front end
//! decides a status by matching message text.
//!
//! It lives here because this is the lowest crate whose errors every service (images,
//! containers, networks, runtime) wraps.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing named does not exist.
    NotFound,
    /// The request contradicts the current state: a name taken, an object in use.
    Conflict,
    /// The request itself is wrong: a bad name, filter, option or value.
    Invalid,
    /// Something strata does not do (yet).
    NotImplemented,
    /// The engine cannot serve it now (the database stayed locked); a retry may pass.
    Unavailable,
    /// Anything else: the engine or the machine failed.
    Internal,
}

impl crate::MetadataError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            crate::MetadataError::Conflict(_) => ErrorKind::Conflict,
            crate::MetadataError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
            {
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        }
    }
}
