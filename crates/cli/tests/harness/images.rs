//! Test inputs made in-process: rootfs tarballs and docker-archives.

use sha2::{Digest, Sha256};
use std::path::Path;

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An entry of a test layer.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    /// An executable file (mode 0755).
    Exec(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// A layer tar with fixed metadata (mtime 1600000000, uid/gid 0).
pub fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::File(name, data) | E::Exec(name, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(if matches!(e, E::Exec(..)) { 0o755 } else { 0o644 });
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, *data).unwrap();
            }
            E::Dir(name) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, name, &[][..]).unwrap();
            }
            E::Symlink(name, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, name, target).unwrap();
            }
            E::HardLink(name, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, name, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Deterministic pseudo-random bytes (incompressible test data without a RNG crate).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A legacy (Docker ≤ 24) docker-archive of one image made of `layers`.
pub fn docker_archive(layers: &[Vec<u8>], tag: &str, created: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let history: Vec<_> = layers
        .iter()
        .enumerate()
        .map(|(i, _)| serde_json::json!({"created": created, "created_by": format!("layer {i}")}))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap();
    let config_hex = sha256(&config)[7..].to_string();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut layer_paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let path = format!("layer{i}/layer.tar");
        add(&path, l);
        layer_paths.push(path);
    }
    add(&format!("{config_hex}.json"), &config);
    let manifest =
        serde_json::json!([{"Config": format!("{config_hex}.json"), "RepoTags": [tag], "Layers": layer_paths}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap()
}

/// A busybox root filesystem tarball from the host's static busybox (busybox-static).
pub fn busybox_rootfs(out: &Path) {
    let busybox = std::fs::read("/bin/busybox")
        .expect("/bin/busybox is needed (Debian busybox-static; scripts/test.sh installs it)");
    let mut entries = vec![
        E::Dir("bin/"),
        E::Dir("etc/"),
        E::Dir("tmp/"),
        E::Dir("var/"),
        E::Dir("var/www/"),
    ];
    entries.push(E::Exec("bin/busybox", &busybox));
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    let applets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|a| *a != "busybox")
        .map(str::to_string)
        .collect();
    let links: Vec<String> = applets.iter().map(|a| format!("bin/{a}")).collect();
    for l in &links {
        entries.push(E::Symlink(l, "busybox"));
    }
    entries.push(E::File(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    ));
    entries.push(E::File("etc/group", b"root:x:0:\nnobody:x:65534:\n"));
    entries.push(E::File("var/www/index.html", b"<h1>hello</h1>\n"));
    std::fs::write(out, layer(&entries)).unwrap();
}
