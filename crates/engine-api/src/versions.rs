//! API versions: the one strata speaks, the oldest it answers, and the `/v1.N` prefix
//! of a request's path. strata advertises 1.41 (as podman does) and no higher until a
//! later version's semantics are implemented; clients negotiate down from `/_ping`.

use crate::error::ApiError;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

/// The version strata speaks: what `/_ping` and `/version` advertise.
pub const API_VERSION: ApiVersion = ApiVersion { major: 1, minor: 41 };
/// The oldest version strata answers (Docker 20.10's minimum too).
pub const MIN_API_VERSION: ApiVersion = ApiVersion { major: 1, minor: 24 };

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl ApiVersion {
    /// `1.41`; moby's route takes `[0-9.]+`, and compares numbers part by part, an
    /// empty part counting as 0.
    fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        Some(ApiVersion {
            major: parts.next().unwrap_or(0),
            minor: parts.next().unwrap_or(0),
        })
    }
}

/// Splits `/v1.41/images/json` into the version asked for and the rest of the path; an
/// unversioned path is asked at strata's version. A version strata does not answer is
/// refused in moby's words (400).
pub fn split(path: &str) -> Result<(ApiVersion, &str), ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((API_VERSION, path));
    };
    let (asked, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some(version) = ApiVersion::parse(asked) else {
        // Not a version prefix (`/volumes/…`): the path as it is.
        return Ok((API_VERSION, path));
    };
    if version < MIN_API_VERSION {
        return Err(ApiError::invalid(format!(
            "client version {asked} is too old. Minimum supported API version is {MIN_API_VERSION}, \
             please upgrade your client to a newer version"
        )));
    }
    if version > API_VERSION {
        return Err(ApiError::invalid(format!(
            "client version {asked} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok((version, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_and_unversioned_paths() {
        assert_eq!(split("/v1.41/images/json").unwrap(), (API_VERSION, "/images/json"));
        let v = ApiVersion { major: 1, minor: 24 };
        assert_eq!(split("/v1.24/_ping").unwrap(), (v, "/_ping"));
        assert_eq!(split("/_ping").unwrap(), (API_VERSION, "/_ping"));
        assert_eq!(split("/volumes/x").unwrap(), (API_VERSION, "/volumes/x"));
        assert_eq!(split("/v1.30").unwrap().1, "");
    }

    #[test]
    fn versions_out_of_range_are_refused_in_mobys_words() {
        let high = split("/v1.52/info").unwrap_err();
        assert_eq!(high.status, hyper::StatusCode::BAD_REQUEST);
        assert_eq!(
            high.message,
            "client version 1.52 is too new. Maximum supported API version is 1.41"
        );
        let low = split("/v1.12/info").unwrap_err();
        assert!(low
            .message
            .starts_with("client version 1.12 is too old. Minimum supported API version is 1.24"));
        // 1.5 is older than 1.24, part by part.
        assert!(split("/v1.5/info").is_err());
    }
}
