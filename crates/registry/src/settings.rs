//! Registry settings: where credentials and CA certificates live, which registries may
//! be spoken to over plain HTTP, and the stall timeout. The defaults live here; front
//! ends only fill in what their caller configured (the CLI from its environment, an API
//! server from its own configuration), so the library reads no environment.

use crate::client::ClientOptions;
use crate::credentials::CredentialStore;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a registry read may stall before it fails, unless configured.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The system directories holding `HOST/ca.crt`, after strata's own `certs.d`.
pub const SYSTEM_CERT_DIRS: [&str; 2] = ["/etc/docker/certs.d", "/etc/containers/certs.d"];

/// Everything a registry connection needs besides the registry's name.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// strata's configuration directory: its `config.json` (credentials) and `certs.d`.
    pub config_dir: PathBuf,
    /// Docker's configuration directory, whose `config.json` is read for credentials.
    pub docker_config_dir: Option<PathBuf>,
    /// Directories holding `HOST/ca.crt` (Docker's `certs.d` layout).
    pub cert_dirs: Vec<PathBuf>,
    /// Registries (`host[:port]`) reachable over plain HTTP, besides loopback addresses.
    pub insecure: Vec<String>,
    /// false: accept any certificate.
    pub tls_verify: bool,
    pub read_timeout: Duration,
}

impl RegistrySettings {
    /// The defaults for a configuration directory: its `certs.d` and the system ones,
    /// no insecure registries, verified TLS, a 60 s stall timeout, no Docker directory.
    pub fn new(config_dir: &Path) -> Self {
        let mut cert_dirs = vec![config_dir.join("certs.d")];
        cert_dirs.extend(SYSTEM_CERT_DIRS.iter().map(PathBuf::from));
        RegistrySettings {
            config_dir: config_dir.to_path_buf(),
            docker_config_dir: None,
            cert_dirs,
            insecure: Vec::new(),
            tls_verify: true,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }

    /// strata's configuration directory for a user: `HOME/.strata`, or root's without
    /// a home.
    pub fn default_config_dir(home: Option<&Path>) -> PathBuf {
        home.unwrap_or(Path::new("/root")).join(".strata")
    }

    /// Docker's configuration directory for a user: `HOME/.docker`.
    pub fn default_docker_config_dir(home: Option<&Path>) -> Option<PathBuf> {
        home.map(|h| h.join(".docker"))
    }

    /// Docker's daemon flag `--insecure-registry`, as one comma-separated list.
    pub fn parse_insecure(list: &str) -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn credentials(&self) -> CredentialStore {
        CredentialStore::new(&self.config_dir, self.docker_config_dir.as_deref())
    }

    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            credentials: self.credentials(),
            cert_dirs: self.cert_dirs.clone(),
            insecure: self.insecure.clone(),
            tls_verify: self.tls_verify,
            read_timeout: self.read_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_put_own_certs_first_and_verify_tls() {
        let s = RegistrySettings::new(Path::new("/home/u/.strata"));
        assert_eq!(s.cert_dirs[0], Path::new("/home/u/.strata/certs.d"));
        assert_eq!(
            &s.cert_dirs[1..],
            [PathBuf::from("/etc/docker/certs.d"), "/etc/containers/certs.d".into()]
        );
        assert!(s.tls_verify && s.insecure.is_empty());
        assert_eq!(s.read_timeout, Duration::from_secs(60));
        assert_eq!(s.credentials().own, Path::new("/home/u/.strata/config.json"));
    }

    #[test]
    fn config_dirs_default_under_home() {
        assert_eq!(
            RegistrySettings::default_config_dir(Some(Path::new("/home/u"))),
            Path::new("/home/u/.strata")
        );
        assert_eq!(RegistrySettings::default_config_dir(None), Path::new("/root/.strata"));
        assert_eq!(RegistrySettings::default_docker_config_dir(None), None);
    }

    #[test]
    fn insecure_list_skips_blanks() {
        assert_eq!(RegistrySettings::parse_insecure(" a:5000, ,b "), ["a:5000", "b"]);
        assert!(RegistrySettings::parse_insecure("").is_empty());
    }
}
