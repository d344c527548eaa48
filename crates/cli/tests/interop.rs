//! Interoperability with the real clients: skopeo and podman read what strata saves,
//! and strata loads what they write, with the image ID (config digest) unchanged.

mod harness;

use harness::images::{busybox_rootfs, sha256};
use harness::{host, podman, TestRoot};
use std::process::Command;

fn saved_busybox(t: &TestRoot) -> (String, std::path::PathBuf) {
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    let id = t
        .ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:interop"])
        .trim()
        .to_string();
    let saved = t.path("saved.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "busybox:interop"]);
    (id, saved)
}

fn skopeo_config_digest(transport: &str) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--config", transport])
        .output()
        .expect("skopeo (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "skopeo inspect {transport}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sha256(&out.stdout)
}

#[test]
fn skopeo_reads_strata_archives_as_docker_archive_and_oci_archive() {
    let t = TestRoot::new();
    let (id, saved) = saved_busybox(&t);
    let s = saved.to_str().unwrap();
    assert_eq!(skopeo_config_digest(&format!("docker-archive:{s}")), id);
    assert_eq!(skopeo_config_digest(&format!("oci-archive:{s}")), id);
    let inspect: serde_json::Value =
        serde_json::from_str(&host("skopeo", &["inspect", &format!("docker-archive:{s}")])).unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
    let oci_dir = t.path("oci");
    host(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("docker-archive:{s}"),
            &format!("oci:{}:copied", oci_dir.display()),
        ],
    );
    assert!(oci_dir.join("index.json").exists());
}

#[test]
fn strata_loads_what_skopeo_writes() {
    let t = TestRoot::new();
    let (id, saved) = saved_busybox(&t);
    let s = saved.to_str().unwrap();
    for (transport, file) in [
        ("docker-archive", "skopeo-docker.tar"),
        ("oci-archive", "skopeo-oci.tar"),
    ] {
        let out = t.path(file);
        let dest = format!("{transport}:{}:example.com/copied/busybox:v1", out.display());
        host("skopeo", &["copy", "-q", &format!("docker-archive:{s}"), &dest]);
        let fresh = TestRoot::new();
        let loaded = fresh.ok(&["load", "-i", out.to_str().unwrap()]);
        assert_eq!(
            loaded.trim(),
            "Loaded image: example.com/copied/busybox:v1",
            "{transport}"
        );
        assert_eq!(
            fresh
                .ok(&["inspect", "-f", "{{.Id}}", "example.com/copied/busybox:v1"])
                .trim(),
            id,
            "{transport}: skopeo sees config {}",
            skopeo_config_digest(&format!("{transport}:{}", out.display()))
        );
    }
    // A gzip-compressed OCI layout (skopeo --dest-compress): layers keep their bytes.
    let gz = t.path("skopeo-oci-gz.tar");
    host(
        "skopeo",
        &[
            "copy",
            "-q",
            "--dest-compress",
            &format!("docker-archive:{s}"),
            &format!("oci-archive:{}:gz:1", gz.display()),
        ],
    );
    let fresh = TestRoot::new();
    fresh.ok(&["load", "-i", gz.to_str().unwrap()]);
    assert_eq!(fresh.ok(&["inspect", "-f", "{{.Id}}", "gz:1"]).trim(), id);
    let resaved = fresh.path("resaved.tar");
    fresh.ok(&["save", "-o", resaved.to_str().unwrap(), "gz:1"]);
    // The compressed blob was kept: the manifest skopeo wrote is re-sent unchanged.
    let original = host(
        "skopeo",
        &["inspect", "--raw", &format!("oci-archive:{}", gz.display())],
    );
    let again = host(
        "skopeo",
        &["inspect", "--raw", &format!("oci-archive:{}", resaved.display())],
    );
    assert_eq!(
        sha256(original.as_bytes()),
        sha256(again.as_bytes()),
        "manifest digest preserved"
    );
}

#[test]
fn podman_loads_strata_archives_and_strata_loads_podman_saves() {
    let t = TestRoot::new();
    let (id, saved) = saved_busybox(&t);
    let out = podman(&t, &["load", "-i", saved.to_str().unwrap()]);
    assert!(out.contains("Loaded image: docker.io/library/busybox:interop"), "{out}");
    let pid = podman(
        &t,
        &[
            "image",
            "inspect",
            "--format",
            "{{.ID}}",
            "docker.io/library/busybox:interop",
        ],
    );
    assert_eq!(format!("sha256:{}", pid.trim()), id);

    for format in ["docker-archive", "oci-archive"] {
        let file = t.path(&format!("podman-{format}.tar"));
        podman(
            &t,
            &[
                "save",
                "--format",
                format,
                "-o",
                file.to_str().unwrap(),
                "docker.io/library/busybox:interop",
            ],
        );
        let fresh = TestRoot::new();
        fresh.ok(&["load", "-i", file.to_str().unwrap()]);
        assert_eq!(fresh.image_ids(), vec![id.clone()], "{format}");
    }
}
