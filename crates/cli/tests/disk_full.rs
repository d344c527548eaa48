//! A full disk: import, load and commit on a small tmpfs fail with a clear "no space
//! left on device" error, and the store stays consistent (nothing partial listed,
//! `system check` clean) and usable once space is back.

mod harness;

use harness::images::{busybox_rootfs, docker_archive, layer, noise, E};
use harness::TestRoot;

/// Mounts a 12 MiB tmpfs as the store root (unmounted by the TestRoot's drop).
fn small_root() -> TestRoot {
    let t = TestRoot::new();
    std::fs::create_dir_all(t.root()).unwrap();
    harness::host(
        "mount",
        &["-t", "tmpfs", "-o", "size=12m", "tmpfs", t.root().to_str().unwrap()],
    );
    t
}

fn assert_no_space(err: &str) {
    assert!(
        err.to_lowercase().contains("no space left on device"),
        "not a clear disk-full error: {err}"
    );
}

fn assert_consistent(t: &TestRoot) {
    let check = t.run(&["system", "check", "--quick"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

#[test]
fn a_full_disk_fails_cleanly_and_leaves_the_store_consistent() {
    let t = small_root();
    let big = layer(&[E::File("big", &noise(16 << 20, 5))]);
    let rootfs = t.path("big.tar");
    std::fs::write(&rootfs, &big).unwrap();
    assert_no_space(&t.fails(&["import", rootfs.to_str().unwrap(), "big:1"]));
    assert_consistent(&t);
    assert!(t.image_ids().is_empty());

    let archive = t.path("big-image.tar");
    std::fs::write(&archive, docker_archive(&[big], "big:1", "2024-01-01T00:00:00Z")).unwrap();
    assert_no_space(&t.fails(&["load", "-i", archive.to_str().unwrap()]));
    assert_consistent(&t);
    assert!(t.image_ids().is_empty());

    // A container filling the disk, then committed: no space for the new layer.
    let bb = t.path("busybox.tar");
    busybox_rootfs(&bb);
    t.ok(&["import", bb.to_str().unwrap(), "busybox:small"]);
    let fill = t.run(&[
        "run",
        "--name",
        "filler",
        "busybox:small",
        "sh",
        "-c",
        "dd if=/dev/zero of=/fill bs=1M count=6 2>/dev/null; true",
    ]);
    assert!(fill.status.success());
    let before = t.image_ids();
    assert_no_space(&t.fails(&["commit", "filler", "filled:1"]));
    assert_consistent(&t);
    assert_eq!(t.image_ids(), before, "no partial image after a failed commit");
    // Space back (the container goes): the store works again.
    t.ok(&["rm", "filler"]);
    t.ok(&["system", "prune", "-f"]);
    t.ok(&["run", "--rm", "busybox:small", "true"]);
}

#[test]
fn pull_and_build_on_a_full_disk_fail_cleanly() {
    // The image comes from a store on the real disk, through a real registry.
    let source = TestRoot::new();
    let registry = harness::registry::Registry::start(&source.path("registry"), harness::registry::Setup::Plain);
    let big = layer(&[E::File("big", &noise(16 << 20, 9))]);
    let archive = source.path("big-image.tar");
    std::fs::write(&archive, docker_archive(&[big], "big:1", "2024-01-01T00:00:00Z")).unwrap();
    source.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    let remote = format!("{}/big:1", registry.addr);
    source.ok(&["tag", "big:1", &remote]);
    source.ok(&["push", "-q", &remote]);

    let t = small_root();
    assert_no_space(&t.fails(&["pull", &remote]));
    assert_consistent(&t);
    assert!(t.image_ids().is_empty());
    assert_eq!(
        t.entries("content/ingest"),
        0,
        "a failed write is not a download to resume"
    );

    let context = t.path("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("big"), noise(16 << 20, 10)).unwrap();
    std::fs::write(context.join("Dockerfile"), "FROM scratch\nCOPY big /big\n").unwrap();
    let err = t.fails(&["build", "-t", "big:built", context.to_str().unwrap()]);
    assert_no_space(&err);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert_consistent(&t);
    assert!(t.ok(&["images", "-aq"]).trim().is_empty());
    assert_eq!(t.entries("tmp"), 0, "the layer being written is removed");
}
