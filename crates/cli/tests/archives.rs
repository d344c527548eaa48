//! save and load: identity across round trips, the Docker ≥ 25 archive layout, layer
//! sharing on disk, and whiteouts that a real overlay mount honours.

mod harness;

use harness::images::{docker_archive, layer, noise, sha256, E};
use harness::TestRoot;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

fn tar_members(path: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name, data);
    }
    out
}

fn two_layer_archive(t: &TestRoot, name: &str, tag: &str, seed: u64) -> std::path::PathBuf {
    let base = layer(&[
        E::Dir("etc/"),
        E::File("etc/motd", b"welcome\n"),
        E::Dir("opt/"),
        E::File("opt/a", b"a"),
        E::File("opt/b", b"b"),
    ]);
    let top = layer(&[
        E::Dir("etc/"),
        E::File("etc/.wh.motd", b""),
        E::Dir("opt/"),
        E::File("opt/.wh..wh..opq", b""),
        E::File("opt/new", &noise(1000, seed)),
    ]);
    let path = t.path(name);
    std::fs::write(&path, docker_archive(&[base, top], tag, "2024-05-01T10:00:00Z")).unwrap();
    path
}

#[test]
fn save_then_load_keeps_ids_and_bytes_and_saves_deterministically() {
    let t = TestRoot::new();
    let src = two_layer_archive(&t, "in.tar", "app:1", 1);
    let out = t.ok(&["load", "-i", src.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: app:1");
    let id = t.ok(&["inspect", "-f", "{{.Id}}", "app:1"]).trim().to_string();
    let layers = t.ok(&["inspect", "-f", "{{json .RootFS.Layers}}", "app:1"]);

    let saved = t.path("saved.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "app:1"]);
    let again = t.path("again.tar");
    t.ok(&["save", "-o", again.to_str().unwrap(), "app:1"]);
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(&again).unwrap(),
        "save is deterministic"
    );
    let stdout = t.cmd().args(["save", "app:1"]).stdout(Stdio::piped()).output().unwrap();
    assert_eq!(
        stdout.stdout,
        std::fs::read(&saved).unwrap(),
        "save to stdout writes the same bytes"
    );

    let other = TestRoot::new();
    assert_eq!(
        other.ok(&["load", "-q", "-i", saved.to_str().unwrap()]).trim(),
        "Loaded image: app:1"
    );
    assert_eq!(other.ok(&["inspect", "-f", "{{.Id}}", "app:1"]).trim(), id);
    assert_eq!(other.ok(&["inspect", "-f", "{{json .RootFS.Layers}}", "app:1"]), layers);
    let resaved = other.path("resaved.tar");
    other.ok(&["save", "-o", resaved.to_str().unwrap(), "app:1"]);
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(&resaved).unwrap(),
        "a loaded image saves to identical bytes"
    );
}

#[test]
fn saved_archive_is_docker_archive_and_oci_layout_at_once() {
    let t = TestRoot::new();
    let src = two_layer_archive(&t, "in.tar", "app:1", 2);
    t.ok(&["load", "-i", src.to_str().unwrap()]);
    t.ok(&["tag", "app:1", "127.0.0.1:5000/team/app:v2"]);
    let saved = t.path("saved.tar");
    t.ok(&[
        "save",
        "-o",
        saved.to_str().unwrap(),
        "app:1",
        "127.0.0.1:5000/team/app:v2",
    ]);
    let m = tar_members(&saved);
    assert_eq!(m["oci-layout"], br#"{"imageLayoutVersion":"1.0.0"}"#);
    // Every blob is named by its own digest.
    for (name, data) in m.iter().filter(|(n, _)| n.starts_with("blobs/sha256/") && n.len() > 13) {
        assert_eq!(sha256(data)[7..], name[13..], "{name}");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&m["manifest.json"]).unwrap();
    assert_eq!(manifest.as_array().unwrap().len(), 1, "one image, two names");
    let tags = manifest[0]["RepoTags"].as_array().unwrap();
    assert_eq!(tags.len(), 2, "{manifest}");
    let config = manifest[0]["Config"].as_str().unwrap();
    let id = t.ok(&["inspect", "-f", "{{.Id}}", "app:1"]).trim().to_string();
    assert_eq!(config, format!("blobs/sha256/{}", &id[7..]));
    for l in manifest[0]["Layers"].as_array().unwrap() {
        assert!(m.contains_key(l.as_str().unwrap()), "{l}");
    }
    let index: serde_json::Value = serde_json::from_slice(&m["index.json"]).unwrap();
    let names: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["annotations"]["io.containerd.image.name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["docker.io/library/app:1", "127.0.0.1:5000/team/app:v2"]);
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let oci: serde_json::Value =
        serde_json::from_slice(&m[&format!("blobs/sha256/{}", &manifest_digest[7..])]).unwrap();
    assert_eq!(oci["config"]["digest"], id);
    let repositories: serde_json::Value = serde_json::from_slice(&m["repositories"]).unwrap();
    assert!(repositories["app"]["1"].is_string(), "{repositories}");
}

#[test]
fn loaded_layers_stack_on_a_real_overlay_mount_with_whiteouts() {
    let t = TestRoot::new();
    let src = two_layer_archive(&t, "in.tar", "app:1", 3);
    t.ok(&["load", "-i", src.to_str().unwrap()]);
    let upper = t.ok(&["inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "app:1"]);
    let lower = t.ok(&["inspect", "-f", "{{.GraphDriver.Data.LowerDir}}", "app:1"]);
    let mnt = t.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let opts = format!("lowerdir={}:{}", upper.trim(), lower.trim());
    harness::host(
        "mount",
        &["-t", "overlay", "overlay", "-o", &opts, mnt.to_str().unwrap()],
    );
    let motd_gone = !mnt.join("etc/motd").exists();
    let opt: Vec<String> = std::fs::read_dir(mnt.join("opt"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    harness::host("umount", &[mnt.to_str().unwrap()]);
    assert!(motd_gone, "the whiteout hides /etc/motd");
    assert_eq!(opt, ["new"], "the opaque /opt hides the lower layer's files");
}

#[test]
fn a_shared_base_layer_is_stored_once_and_not_read_again() {
    let t = TestRoot::new();
    let base = layer(&[E::File("big", &noise(4 << 20, 7))]);
    let one = t.path("one.tar");
    std::fs::write(
        &one,
        docker_archive(std::slice::from_ref(&base), "base:1", "2024-01-01T00:00:00Z"),
    )
    .unwrap();
    let two = t.path("two.tar");
    std::fs::write(
        &two,
        docker_archive(
            &[base.clone(), layer(&[E::File("small", b"s")])],
            "app:1",
            "2024-01-02T00:00:00Z",
        ),
    )
    .unwrap();
    t.ok(&["load", "-i", one.to_str().unwrap()]);
    let before = t.disk_bytes();
    let out = t.cmd().args(["load", "-i", two.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    let grew = t.disk_bytes() - before;
    assert!(
        grew < 1 << 20,
        "loading an image on a present 4 MiB base grew the store by {grew} bytes"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Already exists"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(t.entries("snapshots/committed/sha256"), 2);
    // Removing the base image keeps the layer the app image still uses.
    t.ok(&["rmi", "base:1"]);
    assert_eq!(t.entries("snapshots/committed/sha256"), 2);
    let saved = t.path("app.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "app:1"]);
}

#[test]
fn load_reads_compressed_archives_and_stdin() {
    let t = TestRoot::new();
    let src = two_layer_archive(&t, "in.tar", "app:1", 4);
    let raw = std::fs::read(&src).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz_path = t.path("in.tar.gz");
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    assert_eq!(
        t.ok(&["load", "-i", gz_path.to_str().unwrap()]).trim(),
        "Loaded image: app:1"
    );

    let other = TestRoot::new();
    let mut child = other
        .cmd()
        .args(["load"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&zstd::encode_all(&raw[..], 1).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Loaded image: app:1");
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.Id}}", "app:1"]),
        other.ok(&["inspect", "-f", "{{.Id}}", "app:1"])
    );
    // The spooled copy of stdin is gone.
    assert_eq!(std::fs::read_dir(other.root().join("tmp")).unwrap().count(), 0);
}

#[test]
fn loading_over_a_tag_renames_the_old_image_like_docker() {
    let t = TestRoot::new();
    let a = two_layer_archive(&t, "a.tar", "app:1", 5);
    let b = two_layer_archive(&t, "b.tar", "app:1", 6);
    t.ok(&["load", "-i", a.to_str().unwrap()]);
    let old = t.ok(&["inspect", "-f", "{{.Id}}", "app:1"]).trim().to_string();
    let out = t.ok(&["load", "-i", b.to_str().unwrap()]);
    assert!(
        out.contains(&format!(
            "The image app:1 already exists, renaming the old one with ID {old} to empty string"
        )),
        "{out}"
    );
    let dangling = t.ok(&["images", "-q", "--no-trunc", "-f", "dangling=true"]);
    assert_eq!(dangling.trim(), old);
}

#[test]
fn save_by_id_writes_no_names_and_loads_untagged() {
    let t = TestRoot::new();
    let src = two_layer_archive(&t, "in.tar", "app:1", 8);
    t.ok(&["load", "-i", src.to_str().unwrap()]);
    let id = t.ok(&["inspect", "-f", "{{.Id}}", "app:1"]).trim().to_string();
    let saved = t.path("byid.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), &id[7..19]]);
    let other = TestRoot::new();
    assert_eq!(
        other.ok(&["load", "-i", saved.to_str().unwrap()]).trim(),
        format!("Loaded image ID: {id}")
    );
}

#[test]
fn a_failed_save_leaves_no_partial_file() {
    let t = TestRoot::new();
    let out = t.path("out.tar");
    std::fs::write(&out, b"previous").unwrap();
    let err = t.fails(&["save", "-o", out.to_str().unwrap(), "missing:1"]);
    assert!(err.contains("No such image"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    let leftovers = Command::new("sh")
        .arg("-c")
        .arg(format!("ls -a {} | grep -c strata", t.dir.path().display()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&leftovers.stdout).trim(), "0");
}

#[test]
fn an_uncompressed_layer_is_stored_once_and_reassembled_exactly() {
    let t = TestRoot::new();
    let big = layer(&[E::File("big", &noise(8 << 20, 11)), E::File("small", b"s")]);
    let src = t.path("one.tar");
    std::fs::write(
        &src,
        docker_archive(std::slice::from_ref(&big), "once:1", "2024-01-01T00:00:00Z"),
    )
    .unwrap();
    t.ok(&["load", "-i", src.to_str().unwrap()]);
    let stored = t.disk_bytes();
    assert!(
        stored < (8 << 20) * 3 / 2,
        "an 8 MiB layer took {stored} bytes: it is kept twice"
    );
    // save reassembles the layer tar from the snapshot: the same bytes, so the same digest.
    let saved = t.path("saved.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "once:1"]);
    let m = tar_members(&saved);
    assert_eq!(m[&format!("blobs/sha256/{}", &sha256(&big)[7..])], big);
}

#[test]
fn a_damaged_snapshot_fails_save_cleanly() {
    let t = TestRoot::new();
    let src = t.path("one.tar");
    std::fs::write(
        &src,
        docker_archive(&[layer(&[E::File("f", b"original")])], "dmg:1", "2024-01-01T00:00:00Z"),
    )
    .unwrap();
    t.ok(&["load", "-i", src.to_str().unwrap()]);
    let upper = t.ok(&["inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "dmg:1"]);
    // Same size, other bytes: only the digest check can notice.
    std::fs::write(std::path::Path::new(upper.trim()).join("f"), b"tampered").unwrap();
    let out = t.path("out.tar");
    let err = t.fails(&["save", "-o", out.to_str().unwrap(), "dmg:1"]);
    assert!(err.contains("its snapshot was changed"), "{err}");
    assert!(!out.exists(), "no partial archive");
}

// Regression: `save -o /dev/null` once renamed a regular file over /dev/null.
#[test]
fn save_and_export_to_a_device_write_through_it_and_keep_it() {
    let t = TestRoot::new();
    let src = two_layer_archive(&t, "in.tar", "app:1", 12);
    t.ok(&["load", "-i", src.to_str().unwrap()]);
    let node = t.path("null-device");
    harness::host("mknod", &["-m", "666", node.to_str().unwrap(), "c", "1", "3"]);
    let is_char_device = |p: &std::path::Path| {
        std::os::unix::fs::FileTypeExt::is_char_device(&std::fs::metadata(p).unwrap().file_type())
    };
    t.ok(&["save", "-o", node.to_str().unwrap(), "app:1"]);
    assert!(is_char_device(&node), "save replaced the device with a file");
    t.ok(&["create", "--name", "exp", "app:1", "true"]);
    t.ok(&["export", "-o", node.to_str().unwrap(), "exp"]);
    assert!(is_char_device(&node), "export replaced the device with a file");
    assert!(std::fs::read_dir(t.dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains(".tmp")));
}
