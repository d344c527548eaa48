//! Real registries for the tests: Debian's `docker-registry` (distribution 2.8) on a
//! free port of 127.0.0.1 with private storage, plain HTTP, TLS with a CA the test
//! makes, or htpasswd basic auth.

use super::host;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub enum Setup {
    Plain,
    /// TLS with a certificate for 127.0.0.1 signed by a fresh CA (its file: `ca_cert`).
    Tls,
    /// htpasswd basic auth with one user.
    Basic {
        user: &'static str,
        password: &'static str,
    },
    /// Bearer tokens from tests/registry/token_server.py: anonymous pulls, the user pushes.
    Bearer {
        user: &'static str,
        password: &'static str,
    },
}

pub struct Registry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// The CA that signed the server certificate (TLS set-ups).
    pub ca_cert: Option<PathBuf>,
    dir: PathBuf,
    child: Child,
    token_server: Option<Child>,
}

impl Registry {
    /// Starts a registry in `dir` (its config, storage and log live there).
    pub fn start(dir: &Path, setup: Setup) -> Registry {
        std::fs::create_dir_all(dir).unwrap();
        let (mut http_extra, mut auth_extra) = (String::new(), String::new());
        let mut ca_cert = None;
        let mut token_server = None;
        match setup {
            Setup::Plain => {}
            Setup::Tls => {
                let (ca, cert, key) = make_certificates(dir);
                http_extra = format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                );
                ca_cert = Some(ca);
            }
            Setup::Basic { user, password } => {
                let file = dir.join("htpasswd");
                let line = host("htpasswd", &["-Bbn", user, password]);
                std::fs::write(&file, line.trim()).unwrap();
                auth_extra = format!(
                    "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
                    file.display()
                );
            }
            Setup::Bearer { user, password } => {
                let (port, child) = start_token_server(dir, user, password);
                token_server = Some(child);
                auth_extra = format!(
                    "auth:\n  token:\n    realm: http://127.0.0.1:{port}/token\n    service: strata-test-registry\n    issuer: strata-test-issuer\n    rootcertbundle: {}\n",
                    dir.join("token.crt").display()
                );
            }
        }
        for _ in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{http_extra}{auth_extra}",
                dir.join("data").display()
            );
            let config_path = dir.join("config.yml");
            std::fs::write(&config_path, config).unwrap();
            let log = std::fs::File::create(dir.join("registry.log")).unwrap();
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry is needed (scripts/test.sh installs it)");
            let mut registry = Registry {
                addr,
                ca_cert: ca_cert.clone(),
                dir: dir.to_path_buf(),
                child,
                token_server: None,
            };
            if registry.wait_ready() {
                registry.token_server = token_server;
                return registry;
            }
        }
        panic!(
            "docker-registry did not start; see {}",
            dir.join("registry.log").display()
        );
    }

    fn wait_ready(&mut self) -> bool {
        wait_listening(&mut self.child, &self.addr)
    }

    /// The registry's log, for failure messages.
    pub fn log(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(self.dir.join("registry.log")).and_then(|mut f| f.read_to_string(&mut s));
        s
    }

    /// Blobs the registry stores.
    pub fn blob_count(&self) -> usize {
        let blobs = self.dir.join("data/docker/registry/v2/blobs/sha256");
        let mut n = 0;
        for prefix in std::fs::read_dir(blobs).into_iter().flatten().flatten() {
            n += std::fs::read_dir(prefix.path()).map_or(0, |d| d.count());
        }
        n
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.token_server.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the token service with a fresh signing certificate (`DIR/token.crt`).
fn start_token_server(dir: &Path, user: &str, password: &str) -> (u16, Child) {
    let (key, crt) = (dir.join("token.key"), dir.join("token.crt"));
    host(
        "openssl",
        &[
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=strata test tokens",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            crt.to_str().unwrap(),
        ],
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/registry/token_server.py");
    let port = free_port();
    let mut child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(&key)
        .arg(&crt)
        .args([
            "strata-test-issuer",
            "strata-test-registry",
            &format!("{user}:{password}"),
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 is needed (scripts/test.sh installs it)");
    assert!(
        wait_listening(&mut child, &format!("127.0.0.1:{port}")),
        "token_server.py did not start"
    );
    (port, child)
}

/// Waits until `addr` accepts connections; false if `child` died first (port taken).
fn wait_listening(child: &mut Child, addr: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A CA and a server certificate for 127.0.0.1 it signed, made with the openssl tool.
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut args = vec!["req", "-x509", "-days", "2", "-subj", "/CN=strata test CA"];
    args.extend(ec);
    let (ca_key, ca_crt) = (p("ca.key"), p("ca.crt"));
    args.extend(["-keyout", &ca_key, "-out", &ca_crt]);
    host("openssl", &args);
    let (key, csr, crt, ext) = (p("server.key"), p("server.csr"), p("server.crt"), p("server.ext"));
    let mut args = vec!["req", "-subj", "/CN=127.0.0.1"];
    args.extend(ec);
    args.extend(["-keyout", &key, "-out", &csr]);
    host("openssl", &args);
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    host(
        "openssl",
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-extfile",
            &ext,
        ],
    );
    (dir.join("ca.crt"), dir.join("server.crt"), dir.join("server.key"))
}

/// `tests/registry/misbehaving.py`: a registry that breaks the protocol in one way.
pub struct Misbehaving {
    pub addr: String,
    pub log: PathBuf,
    port: u16,
    child: Child,
}

impl Misbehaving {
    pub fn start(dir: &Path, mode: &str) -> Misbehaving {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.join(format!("{mode}.log"));
        for _ in 0..5 {
            let port = free_port();
            let child = Self::spawn(port, &log, mode);
            let mut server = Misbehaving {
                addr: format!("127.0.0.1:{port}"),
                log: log.clone(),
                port,
                child,
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("misbehaving.py did not start");
    }

    fn spawn(port: u16, log: &Path, mode: &str) -> Child {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/registry/misbehaving.py");
        Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(log)
            .arg(mode)
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 is needed (scripts/test.sh installs it)")
    }

    fn wait_ready(&mut self) -> bool {
        wait_listening(&mut self.child, &self.addr)
    }

    /// Waits for the server to exit by itself (mode `die`), then starts it again on the
    /// same port in `mode`.
    pub fn restart(&mut self, mode: &str) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(self.port, &self.log, mode);
        assert!(self.wait_ready(), "misbehaving.py did not restart");
    }

    /// The requests it received: `METHOD PATH range=R auth=yes|no`.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Misbehaving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
