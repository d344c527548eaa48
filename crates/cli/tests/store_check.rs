//! `system check [--quick] [--repair]` finds each kind of damage, and repair fixes what
//! can be fixed without losing what an image needs.

mod harness;

use harness::images::{docker_archive, layer, noise, E};
use harness::TestRoot;
use std::path::{Path, PathBuf};

fn corpus_control(t: &TestRoot, name: &str) -> PathBuf {
    let out = t.path("corpus");
    if !out.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile/generate.py");
        harness::host("python3", &[script.to_str().unwrap(), out.to_str().unwrap()]);
    }
    out.join("controls").join(name)
}

fn check(t: &TestRoot, args: &[&str]) -> (i32, String) {
    let mut all = vec!["system", "check"];
    all.extend_from_slice(args);
    let out = t.run(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn snapshot_dirs(t: &TestRoot) -> Vec<PathBuf> {
    let dir = t.root().join("snapshots/committed/sha256");
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
}

#[test]
fn check_finds_damage_and_repair_fixes_it() {
    let t = TestRoot::new();
    // An uncompressed layer (kept as a tar-split) and a gzip one (blob kept).
    let src = t.path("a.tar");
    std::fs::write(
        &src,
        docker_archive(
            &[layer(&[E::File("data", &noise(100_000, 3))])],
            "split:1",
            "2024-01-01T00:00:00Z",
        ),
    )
    .unwrap();
    t.ok(&["load", "-i", src.to_str().unwrap()]);
    t.ok(&["load", "-i", corpus_control(&t, "load_oci.tar").to_str().unwrap()]);
    let (code, out) = check(&t, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the store is consistent") && out.contains("checked 2 images"),
        "{out}"
    );

    // 1. A missing snapshot whose blob is kept: repair unpacks it again.
    let gz_layer = snapshot_dirs(&t)
        .into_iter()
        .find(|d| !d.join("tar-split").exists())
        .unwrap();
    std::fs::rename(&gz_layer, t.path("moved-away")).unwrap();
    let (code, out) = check(&t, &["--quick"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("snapshot missing (--repair unpacks it again"), "{out}");
    let (code, out) = check(&t, &["--repair"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("repaired:") && gz_layer.join("fs").is_dir(), "{out}");

    // 2. A file of a split layer changed in place (same size): only the full check sees it.
    let split_layer = snapshot_dirs(&t)
        .into_iter()
        .find(|d| d.join("tar-split").exists())
        .unwrap();
    let data = split_layer.join("fs/data");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();
    assert_eq!(check(&t, &["--quick"]).0, 0, "a quick check does not re-hash");
    let (code, out) = check(&t, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the unpacked files no longer match"), "{out}");
    bytes[10] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();

    // 3. Garbage: an unreferenced blob and a killed command's ingest; repair removes both.
    let orphan = b"nobody refers to me";
    let orphan_path = t
        .root()
        .join("content/blobs/sha256")
        .join(&harness::images::sha256(orphan)[7..]);
    std::fs::write(&orphan_path, orphan).unwrap();
    std::fs::write(t.root().join("content/ingest/999999999-dead"), b"partial").unwrap();
    let (code, out) = check(&t, &["--quick"]);
    assert_eq!(code, 0, "garbage is no inconsistency: {out}");
    assert!(
        out.contains("garbage: unreferenced blob") && out.contains("garbage: half-finished ingest"),
        "{out}"
    );
    let (_, out) = check(&t, &["--quick", "--repair"]);
    assert!(out.contains("removed 1 unreferenced blobs"), "{out}");
    assert!(!orphan_path.exists());

    // 4. A wrong reference count is recomputed.
    let db = rusqlite::Connection::open(t.root().join("metadata.db")).unwrap();
    db.execute("UPDATE layers SET refcount = refcount + 5", []).unwrap();
    drop(db);
    let (code, out) = check(&t, &["--quick"]);
    assert_eq!(code, 1);
    assert!(out.contains("reference count"), "{out}");
    check(&t, &["--quick", "--repair"]);
    let (code, out) = check(&t, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("garbage"), "{out}");
    // The images still work.
    t.ok(&["save", "-o", "/dev/null", "split:1"]);
}
