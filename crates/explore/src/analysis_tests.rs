use super::*;
use crate::entries::{read_layer, Change, Entry, Kind};

fn file(path: &str, content: &[u8]) -> Change {
    use sha2::Digest;
    Change::Put(Entry {
        path: path.as_bytes().into(),
        kind: Kind::File,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: content.len() as u64,
        digest: if content.is_empty() {
            [0; 32]
        } else {
            sha2::Sha256::digest(content).into()
        },
    })
}

fn node(path: &str, kind: Kind, link: Option<&str>) -> Change {
    use sha2::Digest;
    Change::Put(Entry {
        path: path.as_bytes().into(),
        kind,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        digest: link.map_or([0; 32], |l| sha2::Sha256::digest(l).into()),
    })
}

fn dir(path: &str) -> Change {
    node(path, Kind::Dir, None)
}

fn whiteout(path: &str) -> Change {
    Change::Whiteout(path.as_bytes().into())
}

fn opaque(path: &str) -> Change {
    Change::Opaque(path.as_bytes().into())
}

fn analyze(layers: Vec<Vec<Change>>, base: usize) -> Analysis {
    let mut a = Analyzer::new(base, 10);
    for (i, changes) in layers.into_iter().enumerate() {
        a.add_layer(LayerInput {
            digest: format!("layer{i}"),
            created_by: format!("step {i}"),
            changes,
        })
        .unwrap();
    }
    a.finish()
}

fn paths(a: &Analysis, list: &[FileChange]) -> Vec<String> {
    list.iter().map(|c| a.paths.escaped(c.path)).collect()
}

#[test]
fn each_copy_that_is_not_finally_visible_is_wasted_once() {
    // dive#684: a file rewritten twice counts its two hidden copies, not more.
    let a = analyze(
        vec![
            vec![dir("app"), file("app/data", &[1; 100]), file("app/keep", &[2; 10])],
            vec![dir("app"), file("app/data", &[3; 100])],
            vec![file("app/data", &[4; 40])],
        ],
        1,
    );
    assert_eq!(a.totals.stored_bytes, 250);
    assert_eq!(a.totals.visible_bytes, 50);
    assert_eq!(a.totals.wasted_bytes, 200);
    assert!((a.totals.efficiency - 0.2).abs() < 1e-9);
    assert_eq!(
        a.layers.iter().map(|l| l.wasted_bytes).collect::<Vec<_>>(),
        [100, 100, 0]
    );
    assert_eq!(
        paths(&a, &a.layers[1].modified),
        ["app/data"],
        "the directory listed again is not news"
    );
    assert_eq!(a.layers[2].shadowed[0].layer, 1);
    assert_eq!(a.wasted.len(), 1);
    assert_eq!((a.wasted[0].copies, a.wasted[0].wasted), (3, 200));
    // User figures: the layers above the base (1 and 2) store 140 bytes, waste 100.
    assert_eq!((a.totals.user_bytes, a.totals.user_wasted_bytes), (140, 100));
    assert!((a.totals.user_wasted_percent - 100.0 / 140.0).abs() < 1e-9);
}

#[test]
fn the_same_file_again_is_unchanged_but_still_wasted() {
    let a = analyze(vec![vec![file("f", b"same")], vec![file("f", b"same")]], 0);
    assert_eq!(paths(&a, &a.layers[1].unchanged), ["f"]);
    assert!(a.layers[1].modified.is_empty());
    assert_eq!(a.totals.wasted_bytes, 4);
}

#[test]
fn a_whiteout_removes_a_path_and_everything_below_it() {
    let a = analyze(
        vec![
            vec![
                dir("a"),
                dir("a/b"),
                file("a/b/c", b"123"),
                file("a/bb", b"4"),
                file("a/b-x", b"5"),
            ],
            vec![whiteout("a/b")],
        ],
        0,
    );
    assert_eq!(
        paths(&a, &a.layers[1].removed),
        ["a/b", "a/b/c"],
        "a/bb and a/b-x are not below a/b"
    );
    assert_eq!(a.totals.visible_bytes, 2);
    assert_eq!(a.totals.wasted_bytes, 3);
}

#[test]
fn an_opaque_directory_hides_the_lower_contents_but_not_its_own_layers() {
    let a = analyze(
        vec![
            vec![
                dir("etc"),
                file("etc/old", b"old"),
                dir("etc/sub"),
                file("etc/sub/x", b"x"),
            ],
            // The marker may come after the layer's own entries in the tar.
            vec![dir("etc"), file("etc/new", b"new"), opaque("etc")],
        ],
        0,
    );
    assert_eq!(paths(&a, &a.layers[1].removed), ["etc/old", "etc/sub", "etc/sub/x"]);
    assert_eq!(paths(&a, &a.layers[1].added), ["etc/new"]);
    assert_eq!(a.totals.visible_bytes, 3);
    assert_eq!(a.totals.wasted_bytes, 4);
}

#[test]
fn whiteouts_for_paths_that_do_not_exist_below_are_counted_not_applied() {
    let a = analyze(
        vec![vec![file("a", b"1")], vec![whiteout("nothing/here"), opaque("nodir")]],
        0,
    );
    assert_eq!(a.layers[1].orphan_whiteouts, 1);
    assert!(a.layers[1].removed.is_empty());
    assert_eq!(a.totals.visible_bytes, 1);
}

#[test]
fn whiteouts_and_opaque_markers_under_symlinks_never_follow_them() {
    let a = analyze(
        vec![
            vec![
                dir("real"),
                file("real/f", b"data"),
                node("link", Kind::Symlink, Some("real")),
            ],
            vec![whiteout("link/f"), opaque("link")],
        ],
        0,
    );
    assert_eq!(a.layers[1].orphan_whiteouts, 1);
    assert!(
        a.layers[1].removed.is_empty(),
        "real/f stays: {:?}",
        a.layers[1].removed
    );
    assert_eq!(a.totals.visible_bytes, 4);
}

#[test]
fn hard_links_count_once_even_to_later_entries() {
    let a = analyze(
        vec![vec![
            // A link to an entry that only comes later: kept as a link, no bytes.
            node("early", Kind::Hardlink, Some("big")),
            file("big", &[7; 1000]),
            node("alias", Kind::Hardlink, Some("big")),
        ]],
        0,
    );
    assert_eq!(a.totals.stored_bytes, 1000);
    assert_eq!(a.totals.visible_bytes, 1000);
    assert_eq!(a.totals.entries, 3);
    assert!(a.duplicates.is_empty(), "links are not duplicates");
}

#[test]
fn types_replacing_each_other_remove_what_they_hide() {
    let a = analyze(
        vec![
            vec![dir("d"), file("d/inner", b"12345"), file("f", b"xy")],
            // A file where the directory was; a directory below where the file was.
            vec![file("d", b"now a file"), file("f/child", b"c")],
        ],
        0,
    );
    let removed = paths(&a, &a.layers[1].removed);
    assert!(
        removed.iter().any(|p| p == "d/inner") && removed.iter().any(|p| p == "f"),
        "{removed:?}"
    );
    assert_eq!(paths(&a, &a.layers[1].modified), ["d"]);
    assert_eq!(a.totals.visible_bytes, 11);
}

#[test]
fn duplicates_and_largest_files_come_from_the_final_image() {
    let a = analyze(
        vec![vec![
            file("a", &[1; 50]),
            file("b", &[1; 50]),
            file("c", &[2; 70]),
            file("tiny", b""),
        ]],
        0,
    );
    assert_eq!(a.duplicates.len(), 1);
    assert_eq!(
        a.duplicates[0]
            .paths
            .iter()
            .map(|p| a.paths.escaped(*p))
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(paths(&a, &a.largest), ["c", "a", "b"]);
}

#[test]
fn names_that_are_not_text_are_reported_escaped() {
    let changes = vec![Change::Put(Entry {
        path: b"bad\xff\nname".as_slice().into(),
        kind: Kind::File,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 1,
        digest: [1; 32],
    })];
    let a = analyze(vec![changes], 0);
    assert_eq!(a.paths.escaped(a.layers[0].added[0].path), "bad\\xff\nname");
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("bad\\\\xff\\nname"), "{json}");
}

#[test]
fn a_thousand_layers_are_analyzed() {
    let layers: Vec<Vec<Change>> = (0..1000)
        .map(|i| vec![file("counter", format!("{i}").as_bytes()), file(&format!("f{i}"), b"x")])
        .collect();
    let a = analyze(layers, 0);
    assert_eq!(a.layers.len(), 1000);
    assert_eq!(a.totals.entries, 1001);
    assert_eq!(a.wasted[0].copies, 1000);
}

#[test]
fn a_layer_tar_is_read_with_its_whiteouts() {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        if let Some(link) = link {
            h.set_link_name(link).unwrap();
        }
        b.append_data(&mut h, path, data).unwrap();
    };
    add("./etc/", tar::EntryType::Directory, b"", None);
    add("etc/hosts", tar::EntryType::Regular, b"127.0.0.1\n", None);
    add("etc/.wh.old", tar::EntryType::Regular, b"", None);
    add("var/.wh..wh..opq", tar::EntryType::Regular, b"", None);
    add("etc/alias", tar::EntryType::Link, b"", Some("./etc/hosts"));
    let tar = b.into_inner().unwrap();
    let changes = read_layer(tar.as_slice(), u64::MAX).unwrap();
    assert_eq!(changes.len(), 5);
    assert_eq!(changes[2], Change::Whiteout(b"etc/old".as_slice().into()));
    assert_eq!(changes[3], Change::Opaque(b"var".as_slice().into()));
    let Change::Put(alias) = &changes[4] else { panic!() };
    use sha2::Digest;
    let target: [u8; 32] = sha2::Sha256::digest(b"etc/hosts").into();
    assert_eq!(
        (alias.kind, alias.digest),
        (Kind::Hardlink, target),
        "the cleaned target's digest"
    );
    let e = read_layer(tar.as_slice(), 5).unwrap_err();
    assert!(e.to_string().contains("past the store's limit of 5 bytes"), "{e}");
}

#[test]
fn hostile_whiteouts_and_names_are_bounded() {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        b.append_data(
            &mut h,
            std::path::Path::new(std::ffi::OsStr::new(std::str::from_utf8(path).unwrap())),
            &[][..],
        )
        .unwrap();
    };
    // A root-level `.wh.` names nothing; the same opaque marker a thousand times counts once.
    add(b".wh.");
    for _ in 0..1000 {
        add(b"d/.wh..wh..opq");
    }
    let tar = b.into_inner().unwrap();
    let changes = read_layer(tar.as_slice(), u64::MAX).unwrap();
    assert!(!changes.iter().any(|c| *c == Change::Whiteout(b"".as_slice().into())));
    let a = analyze(vec![vec![dir("d"), file("d/f", b"x"), file("top", b"y")], changes], 0);
    assert_eq!(
        paths(&a, &a.layers[1].removed),
        ["d/f"],
        "the root is not removed, d/f once"
    );
    // A name longer than PATH_MAX is refused.
    let mut long = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    long.append_data(&mut h, "x".repeat(5000), &[][..]).unwrap();
    let e = read_layer(long.into_inner().unwrap().as_slice(), u64::MAX).unwrap_err();
    assert!(e.to_string().contains("5000 bytes long"), "{e}");
}

#[test]
fn a_hard_link_whose_target_climbs_out_is_refused() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "escape", "../../etc/shadow").unwrap();
    let e = read_layer(b.into_inner().unwrap().as_slice(), u64::MAX).unwrap_err();
    assert!(
        e.to_string().contains("hard link escape climbs out of the image"),
        "{e}"
    );
}

#[test]
fn the_state_kept_per_path_stays_small() {
    // Issue 21's bar is 200 bytes per file of a 200,000-file image, the binary's own
    // memory included: these are most of it.
    assert!(std::mem::size_of::<Node>() <= 56, "{}", std::mem::size_of::<Node>());
    assert!(std::mem::size_of::<FileChange>() <= 16);
    assert!(std::mem::size_of::<Change>() <= 72, "a layer waiting for the analysis");
}

#[test]
fn an_image_of_more_layers_than_the_explorer_counts_is_refused_by_name() {
    // Layers are numbered in 16 bits: the 65,536th would wrap to layer 0 unnoticed.
    let mut a = Analyzer::new(0, 0);
    for i in 0..MAX_LAYERS {
        a.add_layer(LayerInput {
            digest: format!("layer{i}"),
            created_by: String::new(),
            changes: Vec::new(),
        })
        .unwrap();
    }
    let e = a
        .add_layer(LayerInput {
            digest: "one too many".into(),
            created_by: String::new(),
            changes: vec![file("f", b"x")],
        })
        .unwrap_err();
    assert!(e.to_string().contains("more than 65535 layers"), "{e}");
}
