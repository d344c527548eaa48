//! `info` on the store's filesystem: an ext4 without a journal (like this VM's root,
//! where file creation right after a mass deletion crawls) gets a Docker-style warning,
//! on stderr after the text and in the JSON's `Warnings`; a journaled ext4 gets none.

mod harness;

use harness::TestRoot;

/// A store root on a fresh 64 MiB ext4 on a loop file, with or without a journal
/// (unmounted by the TestRoot's drop, which frees the loop device).
fn ext4_root(journal: bool) -> TestRoot {
    let t = TestRoot::new();
    std::fs::create_dir_all(t.root()).unwrap();
    let image = t.path("fs.img");
    std::fs::File::create(&image).unwrap().set_len(64 << 20).unwrap();
    let features = if journal { "has_journal" } else { "^has_journal" };
    let image = image.to_str().unwrap();
    harness::host("mkfs.ext4", &["-q", "-F", "-O", features, image]);
    harness::host("mount", &["-o", "loop", image, t.root().to_str().unwrap()]);
    t
}

fn warnings(t: &TestRoot) -> (String, Vec<String>) {
    let text = t.run(&["info"]);
    assert!(text.status.success());
    let json: serde_json::Value = serde_json::from_str(&t.ok(&["info", "--format", "json"])).unwrap();
    let listed = json["Warnings"]
        .as_array()
        .expect("Warnings is a list")
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    (String::from_utf8(text.stderr).unwrap(), listed)
}

#[test]
fn info_warns_about_a_store_on_an_ext4_without_a_journal() {
    let t = ext4_root(false);
    let (stderr, listed) = warnings(&t);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].starts_with("WARNING: ") && listed[0].contains("has no journal"),
        "{listed:?}"
    );
    assert!(
        listed[0].contains("tune2fs -O has_journal"),
        "the fix is named: {listed:?}"
    );
    assert!(stderr.contains(&listed[0]), "printed after the text: {stderr}");
    assert!(t.ok(&["info"]).contains("Backing Filesystem: extfs"));
}

#[test]
fn info_has_no_warning_for_a_journaled_ext4() {
    let t = ext4_root(true);
    let (stderr, listed) = warnings(&t);
    assert!(listed.is_empty(), "{listed:?}");
    assert!(!stderr.contains("WARNING"), "{stderr}");
}
