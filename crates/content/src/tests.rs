use super::*;
use std::io::Write;

fn store() -> (tempfile::TempDir, ContentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path().join("content")).unwrap();
    (dir, store)
}

#[test]
fn put_then_read_back_by_digest() {
    let (_d, s) = store();
    let digest = s.put(b"hello").unwrap();
    assert_eq!(
        digest.to_string(),
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(s.read_blob(&digest, 100).unwrap(), b"hello");
    assert_eq!(s.size(&digest).unwrap(), 5);
    s.verify(&digest).unwrap();
}

#[test]
fn wrong_expected_digest_is_rejected_and_leaves_nothing() {
    let (_d, s) = store();
    let wrong = sha256(b"other");
    let mut ingest = s.ingest(Some(&wrong)).unwrap();
    ingest.write_all(b"hello").unwrap();
    let err = ingest.commit(Some(&wrong)).unwrap_err();
    assert!(matches!(err, ContentError::DigestMismatch { .. }), "{err}");
    assert!(s.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(s.root().join("ingest")).unwrap().count(), 0);
}

#[test]
fn sha512_blobs_are_verified_with_sha512() {
    let (_d, s) = store();
    let expected = parse_digest(
        "sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
    )
    .unwrap();
    let mut ingest = s.ingest(Some(&expected)).unwrap();
    ingest.write_all(b"hello").unwrap();
    assert_eq!(ingest.commit(Some(&expected)).unwrap(), expected);
    assert!(s.exists(&expected));
}

#[test]
fn unsupported_algorithm_is_a_clear_error() {
    let err = parse_digest("md5:5d41402abc4b2a76b9719d911017c592").unwrap_err();
    assert!(err.to_string().contains("unsupported digest algorithm"), "{err}");
}

#[test]
fn concurrent_writers_of_one_blob_both_succeed() {
    let (_d, s) = store();
    let data = vec![7u8; 3 << 20];
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            let data = data.clone();
            std::thread::spawn(move || {
                let mut ingest = s.ingest(None).unwrap();
                ingest.write_all(&data).unwrap();
                ingest.commit(None).unwrap()
            })
        })
        .collect();
    let digests: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
    s.verify(&digests[0]).unwrap();
    assert_eq!(s.list().unwrap().len(), 1);
}

#[test]
fn abandoned_ingest_removes_its_temp_file() {
    let (_d, s) = store();
    {
        let mut ingest = s.ingest(None).unwrap();
        ingest.write_all(b"partial").unwrap();
    }
    assert_eq!(fs::read_dir(s.root().join("ingest")).unwrap().count(), 0);
}

#[test]
fn ingest_file_of_a_dead_process_is_stale() {
    let (_d, s) = store();
    fs::write(s.root().join("ingest/999999999-00"), b"x").unwrap();
    let live = s.ingest(None).unwrap();
    let stale = s.stale_ingests().unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    drop(live);
}

#[test]
fn resumable_ingest_keeps_its_bytes_and_continues_where_it_stopped() {
    let (_d, s) = store();
    let whole = b"0123456789abcdef".repeat(1000);
    let digest = crate::sha256(&whole);
    {
        let mut first = s.resumable_ingest(&digest).unwrap().unwrap();
        assert!(s.resumable_ingest(&digest).unwrap().is_none(), "one writer at a time");
        first.write_all(&whole[..7000]).unwrap();
    }
    assert!(
        s.stale_ingests().unwrap().is_empty(),
        "a partial download is not garbage"
    );
    assert_eq!(s.idle_partials().unwrap().len(), 1);
    let mut again = s.resumable_ingest(&digest).unwrap().unwrap();
    assert_eq!(again.resumed(), 7000);
    let mut prefix = Vec::new();
    std::io::Read::read_to_end(&mut again.resumed_bytes().unwrap(), &mut prefix).unwrap();
    assert_eq!(prefix, &whole[..7000]);
    again.write_all(&whole[7000..]).unwrap();
    assert_eq!(again.commit(Some(&digest)).unwrap(), digest);
    assert_eq!(fs::read(s.blob_path(&digest)).unwrap(), whole);
    assert_eq!(fs::read_dir(s.root().join("ingest")).unwrap().count(), 0);
}

#[test]
fn resumable_ingest_with_wrong_bytes_is_discarded_at_commit() {
    let (_d, s) = store();
    let digest = crate::sha256(b"right");
    let mut ingest = s.resumable_ingest(&digest).unwrap().unwrap();
    ingest.write_all(b"wrong").unwrap();
    assert!(ingest.commit(Some(&digest)).is_err());
    assert_eq!(fs::read_dir(s.root().join("ingest")).unwrap().count(), 0);
    assert!(!s.exists(&digest));
}
