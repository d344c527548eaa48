//! A small harness in the manner of ripgrep's: every test gets its own store root in a
//! temporary directory and drives the real `strata` binary against it.
#![allow(dead_code)]

pub mod images;
pub mod race;
pub mod registry;
pub mod service;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary store root. Dropping it unmounts anything a test left mounted inside.
pub struct TestRoot {
    pub dir: tempfile::TempDir,
}

impl TestRoot {
    pub fn new() -> Self {
        // Under /var/tmp (a real disk filesystem), not /tmp (maybe tmpfs): overlay and
        // xattr behaviour should be what users get.
        std::fs::create_dir_all("/var/tmp/strata-tests").unwrap();
        let dir = tempfile::Builder::new()
            .prefix("t")
            .tempdir_in("/var/tmp/strata-tests")
            .unwrap();
        TestRoot { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
        c.arg("--root").arg(self.root());
        // Registry credentials and CA files of this test only; never the host's.
        c.env("STRATA_CONFIG", self.path("config"));
        c.env("DOCKER_CONFIG", self.path("docker-config"));
        c.stdin(Stdio::null());
        c
    }

    /// Runs strata with `args`; panics with its output unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs strata with `args`, expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "strata {args:?} should have failed:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs strata with `args`, writing `input` to its stdin.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Everything the store holds on disk, as sorted relative paths (for "unchanged").
    pub fn store_listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root(), &self.root(), &mut out);
        out.retain(|p| !p.starts_with("metadata.db") && p != "lock");
        out.sort();
        out
    }

    /// How many entries a directory of the store holds (e.g. "snapshots/active").
    pub fn entries(&self, rel: &str) -> usize {
        std::fs::read_dir(self.root().join(rel)).unwrap().count()
    }

    /// The image IDs `strata images -q --no-trunc` lists.
    pub fn image_ids(&self) -> Vec<String> {
        self.ok(&["images", "-q", "--no-trunc"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Bytes the store occupies (blocks actually allocated, hard links counted once).
    pub fn disk_bytes(&self) -> u64 {
        let out = Command::new("du")
            .args(["-s", "-B1"])
            .arg(self.root())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        // A failed test may leave detached containers: kill their monitors' children
        // (the containers) and the monitors, found by the root on their command line.
        let root = self.root().to_string_lossy().into_owned();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if (cmdline.contains("__monitor") || cmdline.contains("__proxy")) && cmdline.contains(&root) {
                let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
                for child in children.split_whitespace().chain([pid.as_str()]) {
                    let _ = Command::new("kill").args(["-9", child]).status();
                }
            }
        }
        // Bridges, rules and namespaces live outside the root: give them back.
        if self.root().join("metadata.db").exists() {
            let _ = self.cmd().args(["system", "reset", "--force"]).output();
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let base = self.dir.path().to_string_lossy().into_owned();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&base))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").arg("-l").arg(p).status();
        }
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        out.push(p.strip_prefix(base).unwrap().display().to_string());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk(base, &p, out);
        }
    }
}

/// A port of 127.0.0.1 free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The host bridge of a network as `network inspect` shows it: Docker shows its name
/// for the default network only; a user network's bridge is the link holding its
/// gateway address.
pub fn bridge_of(net: &serde_json::Value) -> String {
    if let Some(name) = net["Options"]["com.docker.network.bridge.name"].as_str() {
        return name.to_string();
    }
    let gateway = net["IPAM"]["Config"][0]["Gateway"].as_str().expect("a gateway");
    let links = host("ip", &["-o", "-4", "addr", "show"]);
    links
        .lines()
        .find(|l| l.contains(&format!(" inet {gateway}/")))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no link holds {gateway}: {links}"))
        .to_string()
}

/// Runs a program from the host, panicking with its output on failure.
pub fn host(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed by this test ({e}); scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// podman with a private store under the test directory. Its containers run on runc:
/// crun refuses this machine's hybrid cgroups while the unified hierarchy owns a
/// controller (hugetlb, on a fresh machine), and the tests should not remount the host's.
pub fn podman(t: &TestRoot, args: &[&str]) -> String {
    let root = t.path("podman-root");
    let runroot = t.path("podman-run");
    let mut all = vec![
        "--root",
        root.to_str().unwrap(),
        "--runroot",
        runroot.to_str().unwrap(),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
        "--runtime",
        "runc",
    ];
    all.extend_from_slice(args);
    host("podman", &all)
}

/// The parent of process `pid` (a container's process: its monitor).
pub fn parent_of(pid: i64) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command name, which ends at the last ')': state, then the parent.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(1).unwrap().parse().unwrap()
}
