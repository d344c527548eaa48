//! A running `strata system service` on a test root, the docker CLI pointed at it, and
//! a raw HTTP client for what the CLI does not show (status codes, error shapes).
#![allow(dead_code)]

use super::images::busybox_rootfs;
use super::TestRoot;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const DOCKER: &str = "/usr/local/bin/docker";
/// How long a service may take to come up, or to go down by itself: generous, so a
/// slow machine never fails a test.
pub const BOUND: Duration = Duration::from_secs(60);

pub fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t
}

/// A running `strata system service`, killed when dropped.
pub struct Service {
    pub child: Child,
    pub socket: PathBuf,
    /// The docker CLI `docker_*` run: the docker 28 client unless told (`using`).
    pub client: &'static str,
    pub log: PathBuf,
    pub docker_config: PathBuf,
}

impl Service {
    /// Serves `t`'s root on `t/api.sock`, never exiting by itself.
    pub fn start(t: &TestRoot) -> Service {
        Self::start_with(t, &["--time", "0"])
    }

    pub fn start_with(t: &TestRoot, flags: &[&str]) -> Service {
        let socket = t.path("api.sock");
        let uri = format!("unix://{}", socket.display());
        let mut cmd = t.cmd();
        cmd.args(["system", "service"]).args(flags).arg(&uri);
        Self::spawn(t, cmd, socket)
    }

    pub fn spawn(t: &TestRoot, mut cmd: Command, socket: PathBuf) -> Service {
        let log = t.path("service.log");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut service = Service {
            child,
            socket,
            client: DOCKER,
            log,
            docker_config: t.path("docker-config"),
        };
        service.wait_until_serving();
        service
    }

    pub fn wait_until_serving(&mut self) {
        let start = Instant::now();
        while UnixStream::connect(&self.socket).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the service exited ({status}) before serving: {}", self.log_text());
            }
            assert!(
                start.elapsed() < BOUND,
                "no socket after {BOUND:?}: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// This service, driven by `client`'s docker CLI.
    pub fn using(mut self, client: &'static str) -> Service {
        self.client = client;
        self
    }

    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        self.client_cmd(self.client, args)
    }

    /// `client` (a docker CLI binary) with `args`, pointed at this service.
    pub fn client_cmd(&self, client: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(client);
        cmd.args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", &self.docker_config)
            .stdin(Stdio::null());
        cmd
    }

    /// `docker login SERVER` with the password on stdin: the credentials stay in the
    /// client's config, and go out with the requests that need them.
    pub fn docker_login(&self, server: &str, user: &str, password: &str) -> Output {
        let mut child = self
            .docker_cmd(&["login", server, "-u", user, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args)
            .output()
            .unwrap_or_else(|e| panic!("the docker CLI at {}: {e}", self.client))
    }

    /// Runs docker; panics with its output unless it exits 0.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\nstdout: {}\nstderr: {}\nservice log: {}",
            self.client,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn docker_json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.docker_ok(args)).unwrap()
    }

    pub fn http(&self, method: &str, path: &str) -> HttpReply {
        self.send(&request(method, path, &[], b""))
    }

    pub fn send(&self, raw: &[u8]) -> HttpReply {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream.set_read_timeout(Some(BOUND)).unwrap();
        let _ = stream.write_all(raw);
        HttpReply::read(stream)
    }

    /// Waits for the service to exit by itself; returns when it did.
    pub fn wait_for_exit(&mut self) -> Instant {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the service failed ({status}): {}", self.log_text());
                return Instant::now();
            }
            assert!(start.elapsed() < BOUND, "the service did not exit within {BOUND:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/1.1 request that closes its connection after the answer.
/// `GET /` over HTTP/1.0 from 127.0.0.1:`port`: the whole answer, or None when nothing
/// answers (yet).
pub fn http_get(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: strata\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    [head.as_bytes(), body].concat()
}

pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    /// Reads one answer to the end of the connection (skipping `100 Continue`). A
    /// service that answers before it read the whole body (413) closes with that body
    /// unread, and the kernel then resets the connection once its answer is read.
    pub fn read(mut stream: impl Read) -> HttpReply {
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => break,
                Err(e) => panic!("reading the answer: {e}"),
            }
        }
        let text = String::from_utf8_lossy(&raw).into_owned();
        let text = text.strip_prefix("HTTP/1.1 100 Continue\r\n\r\n").unwrap_or(&text);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no answer: {text:?}"));
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let mut reply = HttpReply {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        };
        if reply.header("Transfer-Encoding") == Some("chunked") {
            reply.body = dechunk(&reply.body);
        }
        reply
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Docker's error document: `{"message": …}` and nothing else.
    pub fn message(&self) -> String {
        let doc: Value = serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body));
        });
        let object = doc.as_object().unwrap();
        assert_eq!(object.len(), 1, "{doc}");
        assert_eq!(self.header("Content-Type"), Some("application/json"));
        object["message"].as_str().unwrap().to_string()
    }
}

/// The docker clients on this machine: the docker 28 binary always, Debian's docker.io
/// (API 1.41) where the test command installed it.
pub fn clients() -> Vec<&'static str> {
    [DOCKER, "/usr/bin/docker"]
        .into_iter()
        .filter(|c| std::path::Path::new(c).exists())
        .collect()
}

/// The data of a chunked body.
pub fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut rest = raw;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&rest[..line_end]).unwrap().trim();
        let size = usize::from_str_radix(size_text, 16).unwrap_or_else(|_| panic!("not a chunk size: {size_text:?}"));
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
        rest = &rest[line_end + 2 + size + 2..];
    }
    body
}

pub fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}
