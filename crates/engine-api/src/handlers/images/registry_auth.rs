//! What a request to a registry needs: the service's registry settings and the
//! client's credentials, from `X-Registry-Auth` (base64 of Docker's `AuthConfig`
//! JSON). As dockerd's, the service never lends its own stored credentials to a
//! client: a request without the header is anonymous.

use crate::error::ApiError;
use crate::request::Call;
use base64::Engine;
use serde::Deserialize;
use strata_registry::{Client, ClientOptions, Credentials};

/// Docker's `AuthConfig`, as clients encode it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub username: String,
    pub password: String,
    /// base64 of `username:password`, as `config.json` files hold it.
    pub auth: String,
    pub serveraddress: String,
    pub identitytoken: String,
    pub registrytoken: String,
}

impl AuthConfig {
    /// The credentials it gives, if any. Tokens are refused by name: strata's client
    /// logs in with a user name and password only.
    pub fn credentials(&self) -> Result<Option<Credentials>, ApiError> {
        if !self.identitytoken.is_empty() || !self.registrytoken.is_empty() {
            return Err(ApiError::invalid(
                "identitytoken and registrytoken are not supported by strata: send username and password",
            ));
        }
        if !self.username.is_empty() || !self.password.is_empty() {
            return Ok(Some(Credentials {
                username: self.username.clone(),
                password: self.password.clone(),
            }));
        }
        if self.auth.is_empty() {
            return Ok(None);
        }
        let decoded = decode_base64(&self.auth)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| ApiError::invalid("invalid auth configuration: the auth field is not base64"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| ApiError::invalid("invalid auth configuration: the auth field is not user:password"))?;
        Ok(Some(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }))
    }
}

/// base64 in any of the forms clients send: URL-safe (Docker's) or standard, padded
/// or not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

/// The `X-Registry-Auth` header: none, or Docker's `AuthConfig`.
pub fn decode_header(header: Option<&str>) -> Result<AuthConfig, ApiError> {
    let text = header.unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(AuthConfig::default());
    }
    let bad = |why: String| ApiError::invalid(format!("invalid X-Registry-Auth header: {why}"));
    let json = decode_base64(text).ok_or_else(|| bad("not base64".into()))?;
    serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))
}

/// The `X-Registry-Config` header of a build: registry → `AuthConfig`, none when absent.
pub fn decode_config_header(header: Option<&str>) -> Result<std::collections::HashMap<String, AuthConfig>, ApiError> {
    let text = header.unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(Default::default());
    }
    let bad = |why: String| ApiError::invalid(format!("invalid X-Registry-Config header: {why}"));
    let json = decode_base64(text).ok_or_else(|| bad("not base64".into()))?;
    serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))
}

/// The request's credentials. `lenient`: an unreadable header is no credentials (a
/// pull, where moby defaults to none); otherwise it is refused (a push).
pub fn request_credentials(call: &Call, lenient: bool) -> Result<Option<Credentials>, ApiError> {
    match decode_header(call.header("X-Registry-Auth")) {
        Ok(config) => config.credentials(),
        Err(_) if lenient => Ok(None),
        Err(e) => Err(e),
    }
}

/// A client of `registry` with the request's credentials only.
pub fn connect(options: &ClientOptions, registry: &str, credentials: Option<Credentials>) -> Result<Client, ApiError> {
    Ok(Client::connect_as(registry, options, credentials)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};

    #[test]
    fn the_auth_header_decodes_in_every_base64_form() {
        // `?` and `>` encode differently in the URL-safe and the standard alphabets.
        let json = r#"{"username":"u?>","password":"p>>?","serveraddress":"127.0.0.1:5000"}"#;
        for encoded in [
            URL_SAFE.encode(json),
            URL_SAFE_NO_PAD.encode(json),
            STANDARD.encode(json),
        ] {
            let c = decode_header(Some(&encoded)).unwrap().credentials().unwrap().unwrap();
            assert_eq!((c.username.as_str(), c.password.as_str()), ("u?>", "p>>?"), "{encoded}");
        }
    }

    #[test]
    fn an_empty_header_or_config_is_anonymous() {
        assert!(decode_header(None).unwrap().credentials().unwrap().is_none());
        let empty = URL_SAFE.encode("{}");
        assert!(decode_header(Some(&empty)).unwrap().credentials().unwrap().is_none());
    }

    #[test]
    fn the_auth_field_and_tokens() {
        let auth = STANDARD.encode("alice:s3:cret");
        let json = format!(r#"{{"auth":"{auth}"}}"#);
        let c = decode_header(Some(&URL_SAFE.encode(json)))
            .unwrap()
            .credentials()
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "s3:cret"));
        let token = URL_SAFE.encode(r#"{"identitytoken":"t"}"#);
        let e = decode_header(Some(&token)).unwrap().credentials().unwrap_err();
        assert!(e.message.contains("identitytoken"), "{}", e.message);
        assert_eq!(
            decode_header(Some("%%%")).unwrap_err().status,
            hyper::StatusCode::BAD_REQUEST
        );
    }
}
