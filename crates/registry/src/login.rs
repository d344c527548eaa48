//! `login` as an API server answers it (`POST /auth`): the credentials checked against
//! the registry, nothing stored (the client keeps them, as Docker's CLI does).

use crate::client::{Client, ClientOptions};
use crate::credentials::Credentials;
use crate::error::{RegistryError, Result};

/// The registry a login names, as users and clients write it: `https://host:5000/`,
/// `host:5000`, Docker Hub's `https://index.docker.io/v1/` (which is `docker.io`).
pub fn registry_host(server: &str) -> String {
    let bare = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = bare.split('/').next().unwrap_or_default();
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        other => other.to_string(),
    }
}

/// Checks `credentials` against `server`'s registry. Refused credentials are
/// [`RegistryError::LoginRefused`], with Docker's words.
pub fn check_credentials(server: &str, options: &ClientOptions, credentials: Credentials) -> Result<()> {
    let registry = registry_host(server);
    let client = Client::connect_with(&registry, options, credentials)?;
    match client.check_login() {
        Err(RegistryError::Unauthorized { .. }) | Err(RegistryError::Denied { .. }) => {
            Err(RegistryError::LoginRefused {
                url: client.url("/v2/"),
            })
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_name_their_registry_host() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_host("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(registry_host(""), "docker.io");
    }
}
