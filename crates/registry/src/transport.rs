//! How a registry is reached: HTTPS with the system's roots plus the registry's own CA
//! files (`certs.d/HOST/*.crt`, Docker's layout), or plain HTTP for loopback addresses
//! and registries configured as insecure (like Docker's `insecure-registries`: HTTPS
//! is tried first).

use crate::client::ClientOptions;
use crate::error::{RegistryError, Result};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use ureq::http::Response;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::{Agent, Body};

pub struct Endpoint {
    /// `https://host:port` or `http://host:port`.
    pub base: String,
    pub agent: Agent,
}

/// The host the API is served from: Docker Hub's API lives on another name.
pub fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        other => other,
    }
}

/// Whether plain HTTP is allowed for `registry`: loopback addresses, `localhost`, and
/// registries listed as insecure.
pub fn is_insecure(registry: &str, insecure: &[String]) -> bool {
    if insecure.iter().any(|i| i == registry) {
        return true;
    }
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn agent(tls: TlsConfig, read_timeout: Duration) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_per_read(Some(read_timeout))
        .timeout_per_write(Some(read_timeout))
        .max_redirects(5)
        .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// The CA certificates configured for `host` (every `*.crt` in `DIR/HOST/`).
fn ca_certs(host: &str, dirs: &[std::path::PathBuf]) -> Result<Vec<Certificate<'static>>> {
    let mut certs = Vec::new();
    for dir in dirs {
        let dir = dir.join(host);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "crt")) {
            certs.extend(read_pem(path)?);
        }
    }
    Ok(certs)
}

fn read_pem(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let bad = |reason: String| RegistryError::invalid(format!("CA file {}", path.display()), reason);
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| bad(e.to_string()))? {
            out.push(c);
        }
    }
    if out.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(out)
}

fn tls_config(registry: &str, options: &ClientOptions) -> Result<TlsConfig> {
    let certs = ca_certs(registry, &options.cert_dirs)?;
    let mut builder = TlsConfig::builder().disable_verification(!options.tls_verify);
    if !certs.is_empty() {
        builder = builder.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(builder.build())
}

/// Pings `/v2/` over HTTPS, then (where allowed) plain HTTP. Returns the endpoint and
/// the ping's answer (200, or 401 with the auth challenge).
pub fn connect(registry: &str, options: &ClientOptions) -> Result<(Endpoint, Response<Body>)> {
    let host = api_host(registry);
    let agent = agent(tls_config(registry, options)?, options.read_timeout);
    let https = format!("https://{host}");
    let first = ping(&agent, &https);
    let (base, response) = match first {
        Ok(r) => (https, r),
        Err(tls_error) if is_insecure(registry, &options.insecure) => {
            let http = format!("http://{host}");
            match ping(&agent, &http) {
                Ok(r) if is_registry_answer(&r) => (http, r),
                other => {
                    let plain = match other {
                        Ok(r) => format!("answered {}", r.status().as_u16()),
                        Err(e) => e.to_string(),
                    };
                    return Err(RegistryError::Connect {
                        registry: registry.to_string(),
                        reason: format!(
                            "cannot reach the registry over HTTPS ({tls_error}) nor plain HTTP ({plain}); a private CA belongs in certs.d/{registry}/ca.crt, or pass --tls-verify=false"
                        ),
                    });
                }
            }
        }
        Err(e) => {
            return Err(RegistryError::Connect {
                registry: registry.to_string(),
                reason: format!(
                    "cannot reach the registry over HTTPS: {e}; a registry without TLS must be listed in STRATA_INSECURE_REGISTRIES, a private CA belongs in certs.d/{registry}/ca.crt"
                ),
            })
        }
    };
    match response.status().as_u16() {
        _ if is_registry_answer(&response) => Ok((Endpoint { base, agent }, response)),
        status => Err(RegistryError::Connect {
            registry: registry.to_string(),
            reason: format!("{base}/v2/ answered {status}: this is not an OCI distribution registry"),
        }),
    }
}

/// A registry answers its ping with success or an auth challenge.
fn is_registry_answer(response: &Response<Body>) -> bool {
    response.status().is_success() || response.status().as_u16() == 401
}

fn ping(agent: &Agent, base: &str) -> std::result::Result<Response<Body>, ureq::Error> {
    agent.get(format!("{base}/v2/")).call()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_may_use_plain_http() {
        assert!(is_insecure("127.0.0.1:5000", &[]));
        assert!(is_insecure("127.3.2.1", &[]));
        assert!(is_insecure("localhost:5000", &[]));
        assert!(is_insecure("[::1]:5000", &[]));
        assert!(!is_insecure("registry.example:5000", &[]));
        assert!(is_insecure("registry.example:5000", &["registry.example:5000".into()]));
        assert!(!is_insecure("10.0.0.1:5000", &[]));
    }
}
