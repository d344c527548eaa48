use super::*;
use crate::{chain_ids, Snapshotter};
use oci_spec::image::Digest;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::PermissionsExt;

fn whiteout(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::CharacterDevice,
        Mode::empty(),
        0,
    )
    .unwrap();
}

fn chown(path: &Path, uid: u32, gid: u32) {
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

fn ino(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

/// Every entry of a tree (relative paths, sorted), and whether any is a whiteout or
/// carries overlay metadata.
fn listing(root: &Path) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut overlay = false;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            overlay |= crate::is_whiteout(&meta) || xattr::list(&p).unwrap().any(|n| is_overlay_xattr(&n));
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if meta.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    (out, overlay)
}

#[test]
fn depth_keeps_every_mount_under_the_limit_in_steps() {
    for n in 0..=MAX_LOWERS {
        assert_eq!(depth(n), 0, "{n} layers mount as they are");
    }
    assert_eq!(depth(MAX_LOWERS + 1), STEP);
    for n in MAX_LOWERS + 1..3000 {
        let d = depth(n);
        assert_eq!(d % STEP, 0);
        assert!(d < n && n - d < MAX_LOWERS, "{n}: {d}");
        // The smallest such multiple: the top layers stay as they are.
        assert!(n - (d - STEP) + 1 > MAX_LOWERS, "{n}: {d}");
    }
    // A few more layers on top of an image keep its flattened bottom.
    assert_eq!(depth(500), depth(501));
}

#[test]
fn merge_applies_whiteouts_and_opaque_directories_and_links_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (l0, l1, l2, out) = (
        dir.path().join("l0"),
        dir.path().join("l1"),
        dir.path().join("l2"),
        dir.path().join("out"),
    );
    let outside = dir.path().join("outside");
    for d in [&l0, &l1, &l2, &out, &outside] {
        fs::create_dir(d).unwrap();
    }
    // Bottom: files, a hard link pair, a symlink out of the tree, a fifo, xattrs.
    fs::create_dir_all(l0.join("etc/sub")).unwrap();
    fs::write(l0.join("etc/passwd"), "root").unwrap();
    fs::write(l0.join("etc/sub/x"), "x").unwrap();
    fs::write(l0.join("gone"), "gone").unwrap();
    fs::create_dir(l0.join("tree")).unwrap();
    fs::write(l0.join("tree/a"), "a").unwrap();
    fs::write(l0.join("h1"), "h").unwrap();
    fs::hard_link(l0.join("h1"), l0.join("h2")).unwrap();
    std::os::unix::fs::symlink(&outside, l0.join("escape")).unwrap();
    std::os::unix::fs::symlink("../etc/passwd", l0.join("rel")).unwrap();
    rustix::fs::mkfifoat(rustix::fs::CWD, l0.join("fifo"), Mode::from_raw_mode(0o640)).unwrap();
    fs::write(l0.join("owned"), "o").unwrap();
    chown(&l0.join("owned"), 1000, 1001);
    fs::set_permissions(l0.join("owned"), fs::Permissions::from_mode(0o4750)).unwrap();
    xattr::set(l0.join("owned"), "user.note", b"kept").unwrap();
    fs::create_dir(l0.join("file-then-dir")).unwrap();
    fs::write(l0.join("file-then-dir/old"), "old").unwrap();
    fs::write(l0.join("dir-later"), "f").unwrap();
    // Middle: deletes /gone, makes /tree opaque, replaces a directory by a file.
    whiteout(&l1.join("gone"));
    fs::create_dir(l1.join("tree")).unwrap();
    xattr::set(l1.join("tree"), "trusted.overlay.opaque", b"y").unwrap();
    xattr::set(l1.join("tree"), "user.dir", b"d").unwrap();
    fs::set_permissions(l1.join("tree"), fs::Permissions::from_mode(0o710)).unwrap();
    fs::write(l1.join("tree/b"), "b").unwrap();
    fs::write(l1.join("file-then-dir"), "now a file").unwrap();
    // Top: a directory where a file was, written through the old symlink's name, and
    // a whiteout of a file below a directory that stays.
    fs::create_dir(l2.join("dir-later")).unwrap();
    fs::write(l2.join("dir-later/inside"), "i").unwrap();
    fs::create_dir(l2.join("escape")).unwrap();
    fs::write(l2.join("escape/planted"), "p").unwrap();
    fs::create_dir(l2.join("etc")).unwrap();
    fs::create_dir(l2.join("etc/sub")).unwrap();
    whiteout(&l2.join("etc/sub/x"));
    fs::write(l2.join("etc/new"), "new").unwrap();

    merge(&[l0.clone(), l1.clone(), l2.clone()], &out).unwrap();
    let (entries, overlay) = listing(&out);
    assert_eq!(
        entries,
        [
            "dir-later",
            "dir-later/inside",
            "escape",
            "escape/planted",
            "etc",
            "etc/new",
            "etc/passwd",
            "etc/sub",
            "fifo",
            "file-then-dir",
            "h1",
            "h2",
            "owned",
            "rel",
            "tree",
            "tree/b",
        ]
    );
    assert!(!overlay, "no whiteouts or overlay xattrs in a flattened snapshot");
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written through a symlink"
    );
    // Files are the layers' own (hard links); links among them stay links.
    assert_eq!(ino(&out.join("etc/passwd")), ino(&l0.join("etc/passwd")));
    assert_eq!(ino(&out.join("h1")), ino(&out.join("h2")));
    assert_eq!(fs::read_link(out.join("rel")).unwrap(), Path::new("../etc/passwd"));
    assert!(fs::symlink_metadata(out.join("fifo")).unwrap().file_type().is_fifo());
    let owned = fs::symlink_metadata(out.join("owned")).unwrap();
    assert_eq!((owned.uid(), owned.gid(), owned.mode() & 0o7777), (1000, 1001, 0o4750));
    assert_eq!(xattr::get(out.join("owned"), "user.note").unwrap().unwrap(), b"kept");
    assert_eq!(fs::read_to_string(out.join("file-then-dir")).unwrap(), "now a file");
    // Directories take the topmost layer's attributes, without overlay's.
    let tree = fs::symlink_metadata(out.join("tree")).unwrap();
    assert_eq!(tree.mode() & 0o7777, 0o710);
    assert_eq!(xattr::get(out.join("tree"), "user.dir").unwrap().unwrap(), b"d");
    assert_eq!(
        fs::symlink_metadata(out.join("etc")).unwrap().mtime(),
        fs::symlink_metadata(l2.join("etc")).unwrap().mtime()
    );
}

#[test]
fn entries_with_overlay_metadata_are_copied_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (l0, out) = (dir.path().join("l0"), dir.path().join("out"));
    fs::create_dir(&l0).unwrap();
    fs::create_dir(&out).unwrap();
    fs::write(l0.join("a"), "data").unwrap();
    fs::hard_link(l0.join("a"), l0.join("b")).unwrap();
    xattr::set(l0.join("a"), "trusted.overlay.origin", b"x").unwrap();
    xattr::set(l0.join("a"), "user.k", b"v").unwrap();
    chown(&l0.join("a"), 7, 8);
    fs::set_permissions(l0.join("a"), fs::Permissions::from_mode(0o640)).unwrap();
    merge(std::slice::from_ref(&l0), &out).unwrap();
    let a = fs::symlink_metadata(out.join("a")).unwrap();
    assert_ne!(a.ino(), ino(&l0.join("a")), "copied, not linked");
    assert_eq!(a.ino(), ino(&out.join("b")), "the copy's names stay hard links");
    assert_eq!((a.uid(), a.gid(), a.mode() & 0o7777), (7, 8, 0o640));
    assert_eq!(a.mtime(), fs::symlink_metadata(l0.join("a")).unwrap().mtime());
    assert_eq!(fs::read_to_string(out.join("b")).unwrap(), "data");
    assert_eq!(xattr::get(out.join("a"), "user.k").unwrap().unwrap(), b"v");
    assert!(xattr::get(out.join("a"), "trusted.overlay.origin").unwrap().is_none());
}

/// `n` committed snapshots, layer `i` holding the file `f{i}`.
fn stack(s: &Snapshotter, n: usize, salt: u8) -> Vec<crate::ChainId> {
    let diffs: Vec<Digest> = (0..n)
        .map(|i| {
            use sha2::Digest as _;
            let hash = sha2::Sha256::digest(format!("{salt}-{i}"));
            Digest::try_from(format!("sha256:{}", hex::encode(hash)).as_str()).unwrap()
        })
        .collect();
    let chains = chain_ids(&diffs);
    for (i, c) in chains.iter().enumerate() {
        if !s.exists(c) {
            let u = s.begin_unpack().unwrap();
            fs::write(u.path().join(format!("f{i}")), format!("{i}")).unwrap();
            s.commit_unpack(u, c).unwrap();
        }
    }
    chains
}

#[test]
fn a_deep_stack_mounts_its_top_over_one_shared_flattened_bottom() {
    let dir = tempfile::tempdir().unwrap();
    let s = Snapshotter::open(dir.path()).unwrap();
    let shallow = stack(&s, MAX_LOWERS, 0);
    assert_eq!(s.lower_dirs(&shallow).unwrap().len(), MAX_LOWERS);
    assert!(
        s.list_flattened().unwrap().is_empty(),
        "a stack that fits is left alone"
    );

    let chains = stack(&s, 200, 1);
    let dirs = s.lower_dirs(&chains).unwrap();
    let d = depth(200);
    assert_eq!(dirs.len(), 200 - d + 1);
    assert_eq!(dirs[0], s.path(&chains[199]));
    let bottom = s.flattened_path(&chains[d - 1]);
    assert_eq!(dirs.last().unwrap(), &bottom);
    assert_eq!(fs::read_dir(&bottom).unwrap().count(), d, "f0..f{} merged", d - 1);
    assert_eq!(s.list_flattened().unwrap(), vec![chains[d - 1].clone()]);
    assert_eq!(fs::read_dir(dir.path().join("unpack")).unwrap().count(), 0);
    let mounts = s.view_mounts(&chains).unwrap();
    assert!(mounts[0].options[0].ends_with(&format!(":{}", bottom.display())));

    // Used again, by this stack or a deeper one on the same bottom: the same snapshot.
    let made = ino(&bottom);
    assert_eq!(s.lower_dirs(&chains).unwrap(), dirs);
    assert_eq!(s.lower_dirs(&chains[..199]).unwrap().last().unwrap(), &bottom);
    assert_eq!(ino(&bottom), made);

    // A deeper stack builds on the flattened snapshot it has.
    let deep = stack(&s, 300, 1);
    let dd = depth(300);
    assert!(dd > d);
    let deeper = s.lower_dirs(&deep).unwrap();
    assert_eq!(deeper.len(), 300 - dd + 1);
    let bottom2 = s.flattened_path(&deep[dd - 1]);
    assert_eq!(fs::read_dir(&bottom2).unwrap().count(), dd);
    assert_eq!(ino(&bottom2.join("f0")), ino(&s.path(&deep[0]).join("f0")));

    // Removing the layer a flattened snapshot is keyed by removes it too.
    s.remove(&deep[dd - 1]).unwrap();
    assert!(!bottom2.exists());
    assert_eq!(s.list_flattened().unwrap(), vec![chains[d - 1].clone()]);
    s.remove_flattened(&chains[d - 1]).unwrap();
    assert!(s.list_flattened().unwrap().is_empty());
    assert_eq!(fs::read_dir(dir.path().join("trash")).unwrap().count(), 0);
}
