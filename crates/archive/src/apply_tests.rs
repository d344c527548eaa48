use super::*;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// Builds tars with arbitrary (including hostile) names, which `tar::Builder` refuses.
struct RawTar(tar::Builder<Vec<u8>>);

impl RawTar {
    fn new() -> Self {
        RawTar(tar::Builder::new(Vec::new()))
    }
    fn header(name: &str, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        h
    }
    fn file(mut self, name: &str, data: &[u8]) -> Self {
        let h = Self::header(name, tar::EntryType::Regular, data.len() as u64, 0o640);
        self.0.append(&h, data).unwrap();
        self
    }
    fn dir(mut self, name: &str) -> Self {
        let h = Self::header(name, tar::EntryType::Directory, 0, 0o750);
        self.0.append(&h, &[][..]).unwrap();
        self
    }
    fn link(mut self, kind: tar::EntryType, name: &str, target: &str) -> Self {
        let mut h = Self::header(name, kind, 0, 0o777);
        h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        self.0.append(&h, &[][..]).unwrap();
        self
    }
    fn symlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Symlink, name, target)
    }
    fn hardlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Link, name, target)
    }
    fn device(mut self, name: &str) -> Self {
        let mut h = Self::header(name, tar::EntryType::Char, 0, 0o666);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        h.set_cksum();
        self.0.append(&h, &[][..]).unwrap();
        self
    }
    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn apply(tar: Vec<u8>, opts: &ApplyOptions) -> (tempfile::TempDir, Result<ApplyStats, ApplyError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    let result = apply_layer(&tar[..], &dir.path().join("root"), opts);
    (dir, result)
}

fn expect_entry_error(tar: Vec<u8>, entry: &str, reason: &str) -> tempfile::TempDir {
    let (dir, result) = apply(tar, &ApplyOptions::default());
    let err = result.expect_err("hostile entry must be refused").to_string();
    assert!(err.contains(entry), "error should name {entry:?}: {err}");
    assert!(err.contains(reason), "error should say {reason:?}: {err}");
    assert!(
        !dir.path().join("evil").exists(),
        "nothing may be written outside the root"
    );
    dir
}

#[test]
fn files_dirs_links_keep_their_metadata() {
    let tar = RawTar::new()
        .dir("etc/")
        .file("etc/passwd", b"root:x:0:0\n")
        .symlink("etc/link", "/etc/passwd")
        .hardlink("etc/hard", "etc/passwd")
        .file("bin/implicit-parent", b"x")
        .bytes();
    let (dir, result) = apply(tar, &ApplyOptions::default());
    let stats = result.unwrap();
    assert_eq!(stats.entries, 5);
    let root = dir.path().join("root");
    let passwd = std::fs::metadata(root.join("etc/passwd")).unwrap();
    assert_eq!(passwd.permissions().mode() & 0o7777, 0o640);
    assert_eq!((passwd.uid(), passwd.gid()), (1000, 1001));
    assert_eq!(passwd.mtime(), 1_600_000_000);
    assert_eq!(passwd.nlink(), 2, "hard link must share the inode");
    assert_eq!(
        std::fs::read_link(root.join("etc/link")).unwrap(),
        PathBuf::from("/etc/passwd")
    );
    let etc = std::fs::metadata(root.join("etc")).unwrap();
    assert_eq!(etc.permissions().mode() & 0o7777, 0o750);
    assert_eq!(
        etc.mtime(),
        1_600_000_000,
        "directory mtime is restored after its children"
    );
    assert!(root.join("bin/implicit-parent").is_file());
}

#[test]
fn whiteouts_become_overlay_char_devices_and_opaque_xattrs() {
    let tar = RawTar::new()
        .dir("etc/")
        .file("etc/.wh.motd", b"")
        .dir("opt/")
        .file("opt/.wh..wh..opq", b"")
        .file("opt/new", b"n")
        .file("var/.wh..wh.plnk", b"")
        .bytes();
    let (dir, result) = apply(tar, &ApplyOptions::default());
    result.unwrap();
    let root = dir.path().join("root");
    let motd = std::fs::symlink_metadata(root.join("etc/motd")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&motd.file_type()));
    assert_eq!(motd.rdev(), 0);
    assert!(!root.join("etc/.wh.motd").exists());
    let opaque = xattr::get(root.join("opt"), "trusted.overlay.opaque").unwrap();
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert!(!root.join("opt/.wh..wh..opq").exists());
    assert!(!root.join("var/.wh..wh.plnk").exists());
}

#[test]
fn dotdot_entry_is_refused() {
    expect_entry_error(
        RawTar::new().file("../evil", b"x").bytes(),
        "../evil",
        "\"..\" component",
    );
    expect_entry_error(
        RawTar::new().file("a/../../evil", b"x").bytes(),
        "a/../../evil",
        "\"..\"",
    );
}

#[test]
fn absolute_entry_is_refused() {
    expect_entry_error(
        RawTar::new().file("/tmp/evil", b"x").bytes(),
        "/tmp/evil",
        "absolute path",
    );
}

#[test]
fn write_through_symlink_parent_is_refused() {
    let dir = expect_entry_error(
        RawTar::new().symlink("escape", "..").file("escape/evil", b"x").bytes(),
        "escape/evil",
        "symlink",
    );
    assert!(!dir.path().join("evil").exists());
}

#[test]
fn symlink_chain_escape_is_refused() {
    let tar = RawTar::new()
        .symlink("a", "b")
        .symlink("b", "/tmp")
        .file("a/evil", b"x")
        .bytes();
    expect_entry_error(tar, "a/evil", "symlink");
}

#[test]
fn hard_link_escapes_are_refused() {
    expect_entry_error(
        RawTar::new().hardlink("h", "/etc/passwd").bytes(),
        "/etc/passwd",
        "absolute",
    );
    expect_entry_error(
        RawTar::new().hardlink("h", "../outside").bytes(),
        "../outside",
        "\"..\"",
    );
    expect_entry_error(
        RawTar::new().hardlink("h", "missing").bytes(),
        "h",
        "not an earlier entry",
    );
    let through_symlink = RawTar::new().symlink("s", "/etc").hardlink("h", "s/passwd").bytes();
    expect_entry_error(through_symlink, "s/passwd", "hard link");
}

#[test]
fn device_nodes_are_refused_or_skipped_never_created() {
    let tar = RawTar::new().device("dev/null").bytes();
    let opts = ApplyOptions {
        devices: DevicePolicy::Reject,
        ..Default::default()
    };
    let (_d, result) = apply(tar.clone(), &opts);
    let err = result.unwrap_err().to_string();
    assert!(err.contains("dev/null") && err.contains("device node"), "{err}");
    let (dir, result) = apply(tar, &ApplyOptions::default());
    assert_eq!(result.unwrap().skipped_devices, vec!["dev/null".to_string()]);
    assert!(!dir.path().join("root/dev/null").exists());
}

#[test]
fn duplicate_entries_are_refused() {
    expect_entry_error(RawTar::new().file("x", b"1").file("x", b"2").bytes(), "x", "duplicate");
    expect_entry_error(
        RawTar::new().file("a", b"1").symlink("a", "/").bytes(),
        "a",
        "duplicate",
    );
    expect_entry_error(
        RawTar::new().file("d/f", b"1").symlink("d", "/").bytes(),
        "d",
        "duplicate",
    );
    // Repeating a directory is what some tar writers do: allowed.
    let (_d, r) = apply(RawTar::new().dir("d/").dir("d/").bytes(), &ApplyOptions::default());
    r.unwrap();
}

/// A duplicate is found by the exclusive creation of the second entry (no lookup before
/// it), whatever kind either entry is; the first entry is left as it was.
#[test]
fn a_duplicate_of_any_kind_is_refused_by_its_creation() {
    let fifo = |t: RawTar, name: &str| {
        let mut t = t;
        let h = RawTar::header(name, tar::EntryType::Fifo, 0, 0o600);
        t.0.append(&h, &[][..]).unwrap();
        t
    };
    let cases: Vec<(&str, RawTar)> = vec![
        ("dir then file", RawTar::new().dir("x/").file("x", b"2")),
        ("file then dir", RawTar::new().file("x", b"1").dir("x/")),
        (
            "symlink to a dir then dir",
            RawTar::new().dir("d/").symlink("x", "d").dir("x/"),
        ),
        (
            "file then hard link",
            RawTar::new().file("t", b"1").file("x", b"1").hardlink("x", "t"),
        ),
        ("file then fifo", fifo(RawTar::new().file("x", b"1"), "x")),
        (
            "file then its whiteout",
            RawTar::new().file("x", b"1").file(".wh.x", b""),
        ),
        ("whiteout then file", RawTar::new().file(".wh.x", b"").file("x", b"1")),
    ];
    for (case, tar) in cases {
        let (dir, result) = apply(tar.bytes(), &ApplyOptions::default());
        let err = result.expect_err(case).to_string();
        assert!(err.contains("duplicate"), "{case}: {err}");
        assert!(
            dir.path().join("root/x").symlink_metadata().is_ok(),
            "{case}: the first entry stays"
        );
    }
}

#[test]
fn truncated_stream_is_reported_as_truncated() {
    let mut tar = RawTar::new().file("big", &[1u8; 10_000]).bytes();
    tar.truncate(2048);
    let (_d, result) = apply(tar, &ApplyOptions::default());
    let err = result.unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn an_unterminated_stream_is_whole_only_where_asked_and_only_between_entries() {
    let lenient = ApplyOptions {
        unterminated_ok: true,
        ..Default::default()
    };
    let whole = RawTar::new().file("a", b"0123456789").file("b", b"last").bytes();
    // The docker CLI's context: the last entry's content, then nothing (no padding,
    // no end-of-archive blocks).
    let unpadded = whole[..512 * 3 + 4].to_vec();
    let (d, r) = apply(unpadded.clone(), &lenient);
    r.unwrap();
    assert_eq!(std::fs::read(d.path().join("root/b")).unwrap(), b"last");
    let (_d, r) = apply(unpadded, &ApplyOptions::default());
    assert!(r.unwrap_err().to_string().contains("truncated"));
    // Without the end-of-archive blocks only.
    let (_d, r) = apply(whole[..512 * 4].to_vec(), &lenient);
    r.unwrap();
    // Cut inside an entry's content or header: truncated either way.
    for cut in [512 * 3 + 2, 512 * 2 + 100] {
        let (_d, r) = apply(whole[..cut].to_vec(), &lenient);
        assert!(r.unwrap_err().to_string().contains("truncated"), "cut at {cut}");
    }
}

#[test]
fn expansion_over_the_limit_is_refused() {
    let tar = RawTar::new().file("a", &[0u8; 4096]).file("b", &[0u8; 4096]).bytes();
    let opts = ApplyOptions {
        max_bytes: 5000,
        ..Default::default()
    };
    let (_d, result) = apply(tar, &opts);
    assert!(matches!(result, Err(ApplyError::TooLarge { limit: 5000 })));
}

#[test]
fn trusted_xattrs_from_the_tar_are_not_applied() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path("f").unwrap();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_pax_extensions([
        ("SCHILY.xattr.trusted.overlay.redirect", &b"/etc"[..]),
        ("SCHILY.xattr.user.note", &b"kept"[..]),
    ])
    .unwrap();
    b.append(&h, &[][..]).unwrap();
    let (dir, result) = apply(b.into_inner().unwrap(), &ApplyOptions::default());
    result.unwrap();
    let f = dir.path().join("root/f");
    assert_eq!(xattr::get(&f, "trusted.overlay.redirect").unwrap(), None);
    assert_eq!(xattr::get(&f, "user.note").unwrap().as_deref(), Some(&b"kept"[..]));
}

#[test]
fn tar_split_reassembles_the_identical_stream() {
    let long_name = format!("deep/{}/file", "d".repeat(150));
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("a.txt", b"alpha");
    add(&long_name, &vec![7u8; 70_000]);
    add("etc/.wh.gone", b"");
    add("empty", b"");
    let mut bytes = b.into_inner().unwrap();
    // Trailing bytes after the end-of-archive blocks belong to the blob too.
    bytes.extend_from_slice(&[0u8; 2048]);
    let tar_with_links = RawTar::new()
        .dir("x/")
        .file("x/data", b"linked")
        .hardlink("x/alias", "x/data")
        .symlink("x/sym", "/etc")
        .bytes();
    for (input, big) in [(bytes, true), (tar_with_links, false)] {
        let (_dir, root, split_path) = apply_with_split(&input);
        let mut again = Vec::new();
        crate::tar_split::SplitReader::open(&split_path, &root)
            .unwrap()
            .read_to_end(&mut again)
            .unwrap();
        assert_eq!(again.len(), input.len());
        assert!(again == input, "reassembled bytes differ");
        if big {
            // Far smaller than the layer when it holds file data.
            assert!(std::fs::metadata(&split_path).unwrap().len() < input.len() as u64 / 4);
        }
    }
}

#[test]
fn tar_split_notices_a_changed_file() {
    let input = RawTar::new().file("f", b"original").bytes();
    let (_dir, root, split_path) = apply_with_split(&input);
    std::fs::write(root.join("f"), b"longer than before").unwrap();
    let mut out = Vec::new();
    let err = crate::tar_split::SplitReader::open(&split_path, &root)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap_err();
    assert!(err.to_string().contains("changed size"), "{err}");
}

/// Applies `input` into a fresh directory with its tar-split beside it; returns
/// (the temporary directory, the applied root, the tar-split's path).
fn apply_with_split(input: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fs");
    std::fs::create_dir(&root).unwrap();
    let split_path = dir.path().join("split");
    let writer = crate::tar_split::SplitWriter::create(&split_path).unwrap();
    let (_, writer) = apply_layer_split(input, &root, &ApplyOptions::default(), writer).unwrap();
    writer.finish().unwrap();
    (dir, root, split_path)
}
