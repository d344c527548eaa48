//! Images deeper than one overlay mount takes (overlayfs stacks at most 500 lower
//! layers): their bottom layers are mounted as one flattened snapshot, made on first use,
//! shared, and removed with the layers. The images are busybox plus 500 or 1,000 small
//! layers (as 500 commits on busybox make), built as one docker-archive and loaded.

mod harness;

use harness::images::{busybox_rootfs, docker_archive};
use harness::TestRoot;
use std::path::{Path, PathBuf};

/// One entry of a deep image's layer.
enum Entry {
    Dir(String),
    File(String, String),
    /// A file with owner, mode and a user xattr.
    Owned(String, u64, u64, u32, &'static [u8]),
    Link(String, String),
    Symlink(String, String),
    Fifo(String),
    /// An OCI whiteout of `name` in `dir` (`dir/.wh.name`; "" for the root), or with
    /// `.wh..opq` an opaque marker.
    Whiteout(String, String),
}

fn layer_tar(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mode(0o644);
        h.set_size(0);
        match e {
            Entry::Dir(name) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                b.append_data(&mut h, format!("{name}/"), &[][..]).unwrap();
            }
            Entry::File(name, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, data.as_bytes()).unwrap();
            }
            Entry::Owned(name, uid, gid, mode, xattr) => {
                b.append_pax_extensions([("SCHILY.xattr.user.deep", *xattr)]).unwrap();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_uid(*uid);
                h.set_gid(*gid);
                h.set_mode(*mode);
                h.set_size(5);
                b.append_data(&mut h, name, &b"owned"[..]).unwrap();
            }
            Entry::Link(name, target) => {
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, name, target).unwrap();
            }
            Entry::Symlink(name, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                b.append_link(&mut h, name, target).unwrap();
            }
            Entry::Fifo(name) => {
                h.set_entry_type(tar::EntryType::Fifo);
                b.append_data(&mut h, name, &[][..]).unwrap();
            }
            Entry::Whiteout(dir, name) => {
                h.set_entry_type(tar::EntryType::Regular);
                let path = if dir.is_empty() {
                    format!(".wh.{name}")
                } else {
                    format!("{dir}/.wh.{name}")
                };
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Layer `i` (1 ≤ i ≤ n) of a deep image of `n` layers over busybox: it adds
/// `/deep/f{i}`, rewrites `/deep/current`, and every tenth layer deletes the file of
/// five layers before; a few layers add odd entries, and a late layer deletes a file
/// of the bottom and one of layer 3.
fn deep_layer(i: usize, n: usize) -> Vec<u8> {
    let s = |x: &str| x.to_string();
    let mut e = vec![
        Entry::Dir(s("deep")),
        Entry::File(format!("deep/f{i}"), format!("layer {i}\n")),
        Entry::File(s("deep/current"), format!("{i}\n")),
    ];
    if i >= 10 && i.is_multiple_of(10) {
        e.push(Entry::Whiteout(s("deep"), format!("f{}", i - 5)));
    }
    match i {
        10 => e.extend([Entry::Dir(s("opq")), Entry::File(s("opq/old"), s("old\n"))]),
        20 => e.extend([
            Entry::Dir(s("opq")),
            Entry::Whiteout(s("opq"), s(".wh..opq")),
            Entry::File(s("opq/new"), s("new\n")),
        ]),
        30 => e.extend([
            Entry::File(s("deep/h1"), s("linked\n")),
            Entry::Link(s("deep/h2"), s("deep/h1")),
            Entry::Owned(s("deep/owned"), 1000, 1001, 0o4750, b"yes"),
            Entry::Fifo(s("deep/fifo")),
            Entry::Symlink(s("deep/link"), s("f1")),
            Entry::Symlink(s("escape"), s("/etc")),
        ]),
        40 => e.extend([Entry::Dir(s("gone")), Entry::File(s("gone/a"), s("a\n"))]),
        41 => e.push(Entry::Whiteout(s(""), s("gone"))),
        50 => e.push(Entry::File(s("swap"), s("a file\n"))),
        51 => e.extend([Entry::Dir(s("swap")), Entry::File(s("swap/in"), s("now a directory\n"))]),
        _ => {}
    }
    if i == n - 1 {
        e.extend([
            Entry::Dir(s("etc")),
            Entry::Whiteout(s("etc"), s("group")),
            Entry::Whiteout(s("deep"), s("f3")),
        ]);
    }
    layer_tar(&e)
}

/// A docker-archive of an image of `n` small layers over busybox (`n + 1` in all).
fn deep_archive(t: &TestRoot, n: usize, tag: &str) -> PathBuf {
    let busybox = t.path("busybox-layer.tar");
    if !busybox.exists() {
        busybox_rootfs(&busybox);
    }
    let mut layers = vec![std::fs::read(&busybox).unwrap()];
    layers.extend((1..=n).map(|i| deep_layer(i, n)));
    let out = t.path(&format!("deep-{n}.tar"));
    std::fs::write(&out, docker_archive(&layers, tag, "2024-01-01T00:00:00Z")).unwrap();
    out
}

fn load_deep(t: &TestRoot, n: usize, tag: &str) {
    let archive = deep_archive(t, n, tag);
    t.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
}

/// What a container of the deep image of `n` layers sees.
const PROBE: &str = r#"
cat /deep/current /deep/f$TOP /deep/f$MID /deep/f250 /deep/f1 /var/www/index.html /opq/new /swap/in
for gone in /deep/f3 /deep/f5 /deep/f$WH /etc/group /opq/old /gone; do test -e $gone && echo "$gone still there"; done
test -e /etc/passwd -a -e /bin/busybox || echo "the bottom layer is missing"
test -p /deep/fifo || echo "no fifo"
readlink /deep/link
readlink /escape
stat -c '%a %u %g' /deep/owned
test "$(stat -c %i /deep/h1)" = "$(stat -c %i /deep/h2)" || echo "hard link broken"
ls /opq
"#;

fn expected(n: usize) -> String {
    let (top, mid) = (n, n - n / 5 + 1);
    format!(
        "{top}\nlayer {top}\nlayer {mid}\nlayer 250\nlayer 1\n<h1>hello</h1>\nnew\nnow a directory\nf1\n/etc\n4750 1000 1001\nnew\n"
    )
}

fn probe(t: &TestRoot, n: usize, image: &str) -> String {
    let (top, mid) = (n, n - n / 5 + 1);
    // A file deleted by a whiteout in the top part of the stack (not flattened).
    let wh = (n - 50) / 10 * 10 + 5;
    let script = format!("TOP={top} MID={mid} WH={wh}\n{PROBE}");
    let out = t.run(&["run", "--rm", image, "sh", "-c", &script]);
    assert!(
        out.status.success(),
        "run of the image of {n} layers over busybox failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The flattened snapshots of the store.
fn flattened(t: &TestRoot) -> Vec<PathBuf> {
    let dir = t.root().join("snapshots/flattened/sha256");
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn inode(p: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap())
}

/// `system check` exits 0 and reports neither problems nor garbage.
fn assert_clean(t: &TestRoot) {
    let out = t.ok(&["system", "check", "--quick"]);
    assert!(
        out.contains("the store is consistent") && !out.contains("garbage:") && !out.contains("problem:"),
        "{out}"
    );
}

fn xattr_of(path: &Path, name: &str) -> String {
    harness::host(
        "python3",
        &[
            "-c",
            "import os, sys; print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())",
            path.to_str().unwrap(),
            name,
        ],
    )
}

#[test]
fn an_image_of_busybox_and_500_layers_runs_and_reuses_its_flattened_bottom() {
    let t = TestRoot::new();
    load_deep(&t, 500, "deep:500");
    assert_eq!(probe(&t, 500, "deep:500"), expected(500));
    let made = flattened(&t);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(t.entries("snapshots/unpack"), 0);
    // The merged bottom holds no whiteouts (nothing lies under it), keeps xattrs.
    let bottom = made[0].join("fs");
    assert!(!bottom.join("deep/f5").exists() && !bottom.join("opq/old").exists());
    assert!(
        bottom.join("deep/f3").exists(),
        "deleted only above the flattened layers"
    );
    assert_eq!(xattr_of(&bottom.join("deep/owned"), "user.deep"), "yes\n");
    let built = inode(&made[0]);

    // Run again: the same flattened snapshot, not another.
    assert_eq!(probe(&t, 500, "deep:500"), expected(500));
    assert_eq!(flattened(&t), made);
    assert_eq!(inode(&made[0]), built);
    assert_clean(&t);

    // Image views of a stopped container (diff, export, cp) and commit see the stack.
    t.ok(&[
        "run",
        "--name",
        "keep",
        "deep:500",
        "sh",
        "-c",
        "echo added > /deep/added; rm /deep/f1",
    ]);
    let diff = t.ok(&["diff", "keep"]);
    assert!(diff.contains("A /deep/added") && diff.contains("D /deep/f1"), "{diff}");
    let exported = t.path("keep.tar");
    t.ok(&["export", "-o", exported.to_str().unwrap(), "keep"]);
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&exported).unwrap());
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        names.push(
            entry
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string(),
        );
    }
    for present in [
        "deep/added",
        "deep/f500",
        "deep/f250",
        "bin/busybox",
        "etc/passwd",
        "opq/new",
    ] {
        assert!(names.iter().any(|n| n == present), "{present} missing from the export");
    }
    for absent in ["deep/f1", "deep/f3", "deep/f5", "etc/group", "opq/old"] {
        assert!(!names.iter().any(|n| n == absent), "{absent} in the export");
    }
    let copied = t.path("copied");
    t.ok(&["cp", "keep:/deep/f250", copied.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&copied).unwrap(), "layer 250\n");
    t.ok(&["commit", "keep", "deep:501"]);
    let out = t.ok(&[
        "run",
        "--rm",
        "deep:501",
        "sh",
        "-c",
        "cat /deep/added /deep/current; test -e /deep/f1 && echo f1 came back; true",
    ]);
    assert_eq!(out, "added\n500\n", "committed on top of the deep image");
    assert_eq!(flattened(&t), made, "one layer more keeps the image's flattened bottom");
    t.ok(&["rm", "keep"]);
    assert_clean(&t);
}

#[test]
fn an_image_of_busybox_and_1000_layers_runs() {
    let t = TestRoot::new();
    load_deep(&t, 1000, "deep:1000");
    assert_eq!(probe(&t, 1000, "deep:1000"), expected(1000));
    assert_eq!(flattened(&t).len(), 1);
    assert_clean(&t);
}

#[test]
fn flattened_snapshots_are_shared_and_removed_with_their_layers() {
    let t = TestRoot::new();
    load_deep(&t, 500, "deep:500");
    // Another image on the same 501 layers plus one (a separate load).
    let archive = {
        let busybox = t.path("busybox-layer.tar");
        let mut layers = vec![std::fs::read(&busybox).unwrap()];
        layers.extend((1..=500).map(|i| deep_layer(i, 500)));
        layers.push(layer_tar(&[Entry::File("extra".into(), "extra\n".into())]));
        let out = t.path("deep-more.tar");
        std::fs::write(&out, docker_archive(&layers, "deep:more", "2024-01-01T00:00:00Z")).unwrap();
        out
    };
    t.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    assert_eq!(probe(&t, 500, "deep:500"), expected(500));
    let made = flattened(&t);
    assert_eq!(made.len(), 1);
    let out = t.ok(&["run", "--rm", "deep:more", "cat", "/extra", "/deep/f500"]);
    assert_eq!(out, "extra\nlayer 500\n");
    assert_eq!(flattened(&t), made, "the second image shares the flattened bottom");
    assert_clean(&t);

    // Removing one image keeps the layers (and the bottom) the other still uses.
    t.ok(&["rmi", "deep:500"]);
    assert_eq!(flattened(&t), made);
    assert_clean(&t);
    assert_eq!(t.ok(&["run", "--rm", "deep:more", "cat", "/deep/current"]), "500\n");

    // Leftovers of killed commands: a half-built flattened snapshot (in unpack/, by a
    // dead process) and one whose layer is gone.
    let half = t.root().join("snapshots/unpack/999999999-0000000000000001/fs/deep");
    std::fs::create_dir_all(&half).unwrap();
    let orphan = t
        .root()
        .join(format!("snapshots/flattened/sha256/{}/fs", "ab".repeat(32)));
    std::fs::create_dir_all(&orphan).unwrap();
    let report = t.ok(&["system", "check", "--quick"]);
    assert!(
        report.contains("garbage: unreferenced flattened snapshot sha256:abab")
            && report.contains("garbage: half-finished unpack")
            && report.contains("the store is consistent"),
        "{report}"
    );
    t.ok(&["system", "prune", "-f"]);
    assert_eq!(flattened(&t), made);
    assert_eq!(t.entries("snapshots/unpack"), 0);
    assert_clean(&t);

    // The last image goes: its layers, and the flattened snapshot with them.
    t.ok(&["rmi", "deep:more"]);
    assert!(flattened(&t).is_empty(), "{:?}", flattened(&t));
    t.ok(&["system", "prune", "-f"]);
    assert!(flattened(&t).is_empty());
    assert_eq!(t.entries("snapshots/committed/sha256"), 0);
    assert_clean(&t);
}
