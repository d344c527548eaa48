//! One registry, spoken to over the OCI distribution API: `/v2/` ping, auth challenges
//! (basic, bearer tokens with or without credentials), manifests, blobs, uploads,
//! cross-repository mounts, the catalog and tag lists.

use crate::challenge::{self, Challenge};
use crate::credentials::{CredentialStore, Credentials};
use crate::error::{RegistryError, Result};
use crate::transport::{self, Endpoint};
use base64::Engine;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;
use ureq::http::{Response, StatusCode};
use ureq::{Body, SendBody};

/// Manifests and indexes are at most this large (the distribution spec's limit).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Attempts of an idempotent request that meets a 5xx answer or a broken connection.
const ATTEMPTS: u32 = 4;

pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1";

/// What a request needs access to, as a token scope: `repository:NAME:pull,push`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope(pub Vec<String>);

impl Scope {
    pub fn pull(repository: &str) -> Self {
        Scope(vec![format!("repository:{repository}:pull")])
    }
    pub fn push(repository: &str) -> Self {
        Scope(vec![format!("repository:{repository}:pull,push")])
    }
    pub fn catalog() -> Self {
        Scope(vec!["registry:catalog:*".to_string()])
    }
    /// This scope and pull access to `other` (a cross-repository mount source).
    pub fn and_pull(mut self, other: &str) -> Self {
        self.0.push(format!("repository:{other}:pull"));
        self
    }
}

/// A request body.
pub enum Payload<'a> {
    Empty,
    Bytes(&'a [u8], &'a str),
    /// A stream of known length (sent with Content-Length) or unknown (chunked).
    Stream(&'a mut dyn Read, Option<u64>),
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: HashMap<Scope, String>,
}

/// A connected registry.
pub struct Client {
    /// As users write it: `127.0.0.1:5000`, `docker.io`.
    registry: String,
    endpoint: Endpoint,
    credentials: Option<Credentials>,
    auth: Mutex<AuthState>,
}

/// Client settings: where credentials and CA certificates live, which registries may be
/// spoken to over plain HTTP, and the stall timeout.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub credentials: CredentialStore,
    /// Directories holding `HOST/ca.crt` (Docker's `/etc/docker/certs.d` layout).
    pub cert_dirs: Vec<std::path::PathBuf>,
    /// Registries (`host[:port]`) to reach over plain HTTP when HTTPS fails, besides
    /// loopback addresses.
    pub insecure: Vec<String>,
    pub tls_verify: bool,
    /// A read that waits longer than this fails (a stalled server).
    pub read_timeout: Duration,
}

impl Client {
    /// Pings `registry`'s `/v2/` and learns how it authenticates.
    pub fn connect(registry: &str, options: &ClientOptions) -> Result<Self> {
        let credentials = options.credentials.get(registry)?;
        Self::connect_as(registry, options, credentials)
    }

    /// Like [`Client::connect`], with these credentials or none, whatever the credential
    /// files hold: an API server's client sends its own (`X-Registry-Auth`), as dockerd's
    /// do, and never borrows the server's.
    pub fn connect_as(registry: &str, options: &ClientOptions, credentials: Option<Credentials>) -> Result<Self> {
        let (endpoint, ping) = transport::connect(registry, options)?;
        let client = Client {
            registry: registry.to_string(),
            endpoint,
            credentials,
            auth: Mutex::new(AuthState::default()),
        };
        client.learn_challenge(&ping);
        Ok(client)
    }

    /// Like [`Client::connect`], with explicit credentials (`login`).
    pub fn connect_with(registry: &str, options: &ClientOptions, credentials: Credentials) -> Result<Self> {
        Self::connect_as(registry, options, Some(credentials))
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Whether the registry is reached over HTTPS.
    pub fn is_tls(&self) -> bool {
        self.endpoint.base.starts_with("https://")
    }

    /// Checks that the credentials are accepted (`login`): a token for the catalog, or
    /// a `/v2/` request that no longer answers 401.
    pub fn check_login(&self) -> Result<()> {
        let response = self.send("GET", &self.url("/v2/"), &Scope(Vec::new()), &[], Payload::Empty)?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            _ => Err(self.status_error("login", response)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.endpoint.base, path)
    }

    /// Resolves an upload `Location`, which may be relative.
    pub fn location(&self, response: &Response<Body>, what: &str) -> Result<String> {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::invalid(what, "the registry sent no Location for the upload"))?;
        Ok(if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            self.url(location)
        })
    }

    fn learn_challenge(&self, response: &Response<Body>) {
        if response.status() != StatusCode::UNAUTHORIZED {
            return;
        }
        let parsed = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(challenge::parse);
        let mut auth = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        auth.challenge = parsed;
    }

    /// The Authorization header for `scope`, fetching a token when needed.
    fn authorization(&self, scope: &Scope, refresh: bool) -> Result<Option<String>> {
        let challenge = self.auth.lock().unwrap_or_else(|p| p.into_inner()).challenge.clone();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credentials.as_ref().map(basic)),
            Some(Challenge::Bearer { realm, service, .. }) => {
                if !refresh {
                    let auth = self.auth.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(token) = auth.tokens.get(scope) {
                        return Ok(Some(format!("Bearer {token}")));
                    }
                }
                let token = self.fetch_token(&realm, service.as_deref(), scope)?;
                let mut auth = self.auth.lock().unwrap_or_else(|p| p.into_inner());
                auth.tokens.insert(scope.clone(), token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &Scope) -> Result<String> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        for s in &scope.0 {
            query.push(("scope", s));
        }
        let mut request = self.endpoint.agent.get(realm).query_pairs(query);
        if let Some(c) = &self.credentials {
            request = request.header("Authorization", basic(c));
        }
        let connect_err = |e: ureq::Error| RegistryError::Connect {
            registry: self.registry.clone(),
            reason: format!("getting a token from {realm}: {e}"),
        };
        let mut response = request.call().map_err(connect_err)?;
        match response.status().as_u16() {
            200..=299 => {}
            401 | 403 => {
                return Err(RegistryError::Unauthorized {
                    registry: self.registry.clone(),
                    resource: scope_resource(&self.registry, scope),
                })
            }
            status => {
                return Err(RegistryError::Status {
                    what: format!("token service {realm}"),
                    status,
                    reason: error_reason(&mut response),
                })
            }
        }
        let doc: serde_json::Value = read_json(response.into_body(), 1 << 20, &format!("token service {realm}"))?;
        doc.get("token")
            .or_else(|| doc.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| RegistryError::invalid(format!("token service {realm}"), "the answer holds no token"))
    }

    /// Sends a request with the authorization `scope` needs. A 401 answer is followed by
    /// one new token (or the credentials) and one retry, never more; idempotent requests
    /// are retried with backoff on 5xx answers and broken connections.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        scope: &Scope,
        headers: &[(&str, &str)],
        mut payload: Payload<'_>,
    ) -> Result<Response<Body>> {
        let idempotent = matches!(payload, Payload::Empty) && matches!(method, "GET" | "HEAD");
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let authorization = self.authorization(scope, refreshed)?;
            let result = self.send_once(method, url, headers, authorization.as_deref(), &mut payload);
            let retry_later = match &result {
                Ok(r) => r.status().is_server_error(),
                Err(_) => true,
            };
            if idempotent && retry_later && attempt < ATTEMPTS {
                std::thread::sleep(Duration::from_millis(100 << attempt));
                continue;
            }
            let response = result.map_err(|e| RegistryError::Connect {
                registry: self.registry.clone(),
                reason: format!("{method} {url}: {e}"),
            })?;
            if response.status() == StatusCode::UNAUTHORIZED {
                self.learn_challenge(&response);
                let can_retry = matches!(payload, Payload::Empty | Payload::Bytes(..));
                if !refreshed && can_retry {
                    refreshed = true;
                    continue;
                }
                return Err(RegistryError::Unauthorized {
                    registry: self.registry.clone(),
                    resource: scope_resource(&self.registry, scope),
                });
            }
            return Ok(response);
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        authorization: Option<&str>,
        payload: &mut Payload<'_>,
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        if let Some(a) = authorization {
            builder = builder.header("Authorization", a);
        }
        let agent = &self.endpoint.agent;
        match payload {
            Payload::Empty => agent.run(builder.body(SendBody::none())?),
            Payload::Bytes(bytes, content_type) => {
                agent.run(builder.header("Content-Type", *content_type).body(*bytes)?)
            }
            Payload::Stream(reader, length) => {
                builder = builder.header("Content-Type", "application/octet-stream");
                if let Some(n) = length {
                    builder = builder.header("Content-Length", n.to_string());
                }
                agent.run(builder.body(SendBody::from_reader(*reader))?)
            }
        }
    }

    /// The error for an unexpected answer, with the registry's own explanation.
    pub fn status_error(&self, what: &str, mut response: Response<Body>) -> RegistryError {
        let status = response.status().as_u16();
        let reason = error_reason(&mut response);
        match status {
            403 => RegistryError::Denied {
                resource: format!("{} ({reason})", what),
            },
            404 => RegistryError::NotFound {
                what: what.to_string(),
                reason,
            },
            _ => RegistryError::Status {
                what: what.to_string(),
                status,
                reason,
            },
        }
    }
}

fn basic(c: &Credentials) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    format!("Basic {token}")
}

fn scope_resource(registry: &str, scope: &Scope) -> String {
    match scope.0.first().and_then(|s| s.split(':').nth(1)) {
        Some(name) if !name.is_empty() && name != "catalog" => format!("{registry}/{name}"),
        _ => registry.to_string(),
    }
}

/// The registry's explanation of an error: its `errors` list, else the start of the body.
pub fn error_reason(response: &mut Response<Body>) -> String {
    let text = response
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .unwrap_or_default();
    let parsed: Option<Vec<String>> = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|doc| {
        doc.get("errors")?.as_array().map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                    let message = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                    format!("{}: {}", code.to_ascii_lowercase().replace('_', " "), message)
                })
                .collect()
        })
    });
    match parsed {
        Some(list) if !list.is_empty() => list.join("; "),
        _ if text.trim().is_empty() => response
            .status()
            .canonical_reason()
            .unwrap_or("no explanation")
            .to_string(),
        _ => text.trim().chars().take(200).collect(),
    }
}

/// A JSON answer of at most `limit` bytes.
pub fn read_json<T: serde::de::DeserializeOwned>(mut body: Body, limit: u64, what: &str) -> Result<T> {
    let bytes = body
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| RegistryError::invalid(what, format!("reading the answer: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RegistryError::invalid(what, format!("the answer is not the expected JSON: {e}")))
}
