use super::*;
use oci_spec::image::Digest;

fn d(s: &str) -> Digest {
    Digest::try_from(s).unwrap()
}

#[test]
fn chain_ids_follow_the_oci_definition() {
    let a = d("sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4");
    let b = d("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
    let chains = chain_ids(&[a.clone(), b.clone()]);
    assert_eq!(chains[0].as_str(), a.to_string());
    // echo -n "sha256:a3ed… sha256:5f70…" | sha256sum
    let expected = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(format!("{a} {b}")))
    };
    assert_eq!(chains[1].as_str(), format!("sha256:{expected}"));
}

#[test]
fn unpack_commits_atomically_and_a_second_commit_keeps_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = Snapshotter::open(dir.path()).unwrap();
    let chain = chain_ids(&[d(
        "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
    )])
    .remove(0);
    let first = s.begin_unpack().unwrap();
    fs::write(first.path().join("f"), "first").unwrap();
    let second = s.begin_unpack().unwrap();
    fs::write(second.path().join("f"), "second").unwrap();
    assert!(!s.exists(&chain));
    s.commit_unpack(first, &chain).unwrap();
    s.commit_unpack(second, &chain).unwrap();
    assert_eq!(fs::read_to_string(s.path(&chain).join("f")).unwrap(), "first");
    assert_eq!(fs::read_dir(dir.path().join("unpack")).unwrap().count(), 0);
    assert_eq!(s.list().unwrap(), vec![chain.clone()]);
    s.remove(&chain).unwrap();
    assert!(!s.exists(&chain));
    assert_eq!(fs::read_dir(dir.path().join("trash")).unwrap().count(), 0);
}

#[test]
fn abandoned_unpack_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Snapshotter::open(dir.path()).unwrap();
    {
        let u = s.begin_unpack().unwrap();
        fs::write(u.path().join("f"), "x").unwrap();
    }
    assert_eq!(fs::read_dir(dir.path().join("unpack")).unwrap().count(), 0);
}

#[test]
fn view_of_a_stack_is_an_overlay_with_the_top_layer_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = Snapshotter::open(dir.path()).unwrap();
    let chains = chain_ids(&[
        d("sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"),
        d("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"),
    ]);
    for c in &chains {
        let u = s.begin_unpack().unwrap();
        s.commit_unpack(u, c).unwrap();
    }
    let mounts = s.view_mounts(&chains).unwrap();
    let expected = format!(
        "lowerdir={}:{}",
        s.path(&chains[1]).display(),
        s.path(&chains[0]).display()
    );
    assert_eq!(mounts[0].kind, "overlay");
    assert_eq!(mounts[0].options, vec![expected]);
}
