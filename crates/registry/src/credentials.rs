//! Registry credentials in Docker's `config.json` format (`{"auths": {HOST: {"auth":
//! base64("user:password")}}}`). strata writes its own file (mode 0600) and also reads
//! Docker's, so a `docker login` done earlier works. Passwords are never printed or
//! logged.

use crate::error::{RegistryError, Result};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The key Docker files Docker Hub credentials under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ username: {:?}, password: <hidden> }}", self.username)
    }
}

/// Where credentials are read from and written to.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    /// strata's own file: written by `login`, read first.
    pub own: PathBuf,
    /// Docker's file: only read.
    pub docker: Option<PathBuf>,
}

/// The key a registry's credentials are filed under.
pub fn registry_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY,
        other => other,
    }
}

impl CredentialStore {
    /// strata's file in `config_dir`, and Docker's in `docker_config_dir` (the caller's
    /// `$DOCKER_CONFIG` or `~/.docker`), read when strata's has no entry.
    pub fn new(config_dir: &Path, docker_config_dir: Option<&Path>) -> Self {
        CredentialStore {
            own: config_dir.join("config.json"),
            docker: docker_config_dir.map(|d| d.join("config.json")),
        }
    }

    /// The credentials for `registry`, from strata's file, else Docker's.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        let key = registry_key(registry);
        for path in std::iter::once(&self.own).chain(self.docker.as_ref()) {
            let doc = read_document(path)?;
            if let Some(entry) = doc.get("auths").and_then(|a| a.get(key)) {
                return decode_entry(path, key, entry).map(Some);
            }
        }
        Ok(None)
    }

    /// Stores credentials for `registry` in strata's file.
    pub fn store(&self, registry: &str, credentials: &Credentials) -> Result<()> {
        let mut doc = read_document(&self.own)?;
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", credentials.username, credentials.password));
        auths(&mut doc).insert(registry_key(registry).to_string(), json!({ "auth": token }));
        write_document(&self.own, &doc)
    }

    /// Removes the credentials for `registry` from strata's file. Returns whether there
    /// were any.
    pub fn erase(&self, registry: &str) -> Result<bool> {
        let mut doc = read_document(&self.own)?;
        let removed = auths(&mut doc).remove(registry_key(registry)).is_some();
        if removed {
            write_document(&self.own, &doc)?;
        }
        Ok(removed)
    }
}

fn auths(doc: &mut Value) -> &mut Map<String, Value> {
    if !doc.get("auths").is_some_and(Value::is_object) {
        doc["auths"] = json!({});
    }
    doc["auths"].as_object_mut().expect("auths is an object")
}

fn bad(path: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::Credentials {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn read_document(path: &Path) -> Result<Value> {
    match fs::read(path) {
        Ok(bytes) => {
            let doc: Value = serde_json::from_slice(&bytes).map_err(|e| bad(path, format!("not valid JSON: {e}")))?;
            if !doc.is_object() {
                return Err(bad(path, "not a JSON object"));
            }
            Ok(doc)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(bad(path, e.to_string())),
    }
}

fn decode_entry(path: &Path, key: &str, entry: &Value) -> Result<Credentials> {
    let token = entry.get("auth").and_then(Value::as_str).ok_or_else(|| {
        bad(
            path,
            format!("the entry for {key} has no \"auth\" field (credential helpers are not supported)"),
        )
    })?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| bad(path, format!("the \"auth\" of {key} is not base64")))?;
    let text = String::from_utf8(raw).map_err(|_| bad(path, format!("the \"auth\" of {key} is not UTF-8")))?;
    let (username, password) = text
        .split_once(':')
        .ok_or_else(|| bad(path, format!("the \"auth\" of {key} is not \"user:password\"")))?;
    Ok(Credentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// Writes the file atomically with mode 0600: it holds passwords.
fn write_document(path: &Path, doc: &Value) -> Result<()> {
    let dir = path.parent().ok_or_else(|| bad(path, "has no parent directory"))?;
    fs::create_dir_all(dir).map_err(|e| bad(path, format!("creating {}: {e}", dir.display())))?;
    let tmp = dir.join(format!(".config.json.{:016x}.tmp", rand::random::<u64>()));
    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&serde_json::to_vec_pretty(doc).expect("JSON values serialize"))?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        bad(path, e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store(dir: &Path) -> CredentialStore {
        CredentialStore {
            own: dir.join("strata/config.json"),
            docker: Some(dir.join("docker/config.json")),
        }
    }

    #[test]
    fn login_file_round_trips_with_mode_0600_and_keeps_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        fs::create_dir_all(dir.path().join("strata")).unwrap();
        fs::write(&s.own, r#"{"psFormat": "table {{.ID}}"}"#).unwrap();
        let creds = Credentials {
            username: "alice".into(),
            password: "p:ss".into(),
        };
        s.store("127.0.0.1:5000", &creds).unwrap();
        assert_eq!(s.get("127.0.0.1:5000").unwrap(), Some(creds));
        let mode = fs::metadata(&s.own).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let doc: Value = serde_json::from_slice(&fs::read(&s.own).unwrap()).unwrap();
        assert_eq!(doc["psFormat"], "table {{.ID}}");
        assert!(s.erase("127.0.0.1:5000").unwrap());
        assert_eq!(s.get("127.0.0.1:5000").unwrap(), None);
        assert!(!s.erase("127.0.0.1:5000").unwrap());
    }

    #[test]
    fn docker_login_is_read_and_docker_hub_uses_dockers_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        fs::create_dir_all(dir.path().join("docker")).unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode("bob:secret");
        fs::write(
            s.docker.as_ref().unwrap(),
            format!(r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{token}"}}}}}}"#),
        )
        .unwrap();
        let got = s.get("docker.io").unwrap().unwrap();
        assert_eq!(got.username, "bob");
        assert_eq!(got.password, "secret");
        assert!(!format!("{got:?}").contains("secret"));
    }

    #[test]
    fn damaged_credentials_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        fs::create_dir_all(dir.path().join("strata")).unwrap();
        fs::write(&s.own, "{not json").unwrap();
        let err = s.get("127.0.0.1:5000").unwrap_err().to_string();
        assert!(
            err.contains("strata/config.json") && err.contains("not valid JSON"),
            "{err}"
        );
    }
}
