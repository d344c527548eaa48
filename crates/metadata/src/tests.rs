use super::*;

fn layer(n: u8) -> NewLayer {
    NewLayer {
        chain_id: format!("sha256:c{n}"),
        diff_id: format!("sha256:d{n}"),
        size: 100 * n as i64,
        blob_digest: format!("sha256:b{n}"),
        blob_media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        blob_size: 10,
    }
}

fn image(id: &str, layers: &[u8]) -> NewImage {
    NewImage {
        id: id.into(),
        manifest_digest: format!("{id}-manifest"),
        manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        created: Some("2024-01-01T00:00:00Z".into()),
        labels: "null".into(),
        layers: layers.iter().map(|n| layer(*n)).collect(),
    }
}

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("meta.db")).unwrap();
    (dir, db)
}

#[test]
fn a_fresh_database_is_at_the_current_schema_version() {
    let (dir, db) = db();
    assert_eq!(db.schema_version().unwrap(), schema::CURRENT);
    drop(db);
    // Reopening migrates nothing and keeps the version.
    assert_eq!(
        Db::open(&dir.path().join("meta.db")).unwrap().schema_version().unwrap(),
        schema::CURRENT
    );
}

#[test]
fn a_database_from_a_newer_strata_is_refused() {
    let (dir, db) = db();
    db.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(db);
    let err = Db::open(&dir.path().join("meta.db")).err().unwrap();
    assert!(err.to_string().contains("newer than this strata supports"), "{err}");
}

#[test]
fn shared_layers_are_counted_and_freed_only_when_unused() {
    let (_d, mut db) = db();
    db.insert_image(&image("sha256:base", &[1]), &["docker.io/library/base:1".into()], "t")
        .unwrap();
    db.insert_image(&image("sha256:app", &[1, 2]), &["docker.io/library/app:1".into()], "t")
        .unwrap();
    let counts: Vec<_> = db.layers().unwrap().into_iter().map(|(c, n, _)| (c, n)).collect();
    assert_eq!(counts, vec![("sha256:c1".to_string(), 2), ("sha256:c2".to_string(), 1)]);

    let removed = db.remove_image("sha256:app").unwrap();
    assert_eq!(removed.chains, vec!["sha256:c2".to_string()]);
    assert!(removed.blobs.contains(&"sha256:b2".to_string()));
    assert!(!removed.blobs.contains(&"sha256:b1".to_string()), "base still uses b1");
    assert_eq!(removed.untagged, vec!["docker.io/library/app:1".to_string()]);

    let removed = db.remove_image("sha256:base").unwrap();
    assert_eq!(removed.chains, vec!["sha256:c1".to_string()]);
    assert!(db.layers().unwrap().is_empty());
    assert!(db.referenced_blobs().unwrap().is_empty());
}

#[test]
fn retagging_moves_the_tag_and_reports_the_previous_image() {
    let (_d, mut db) = db();
    db.insert_image(&image("sha256:one", &[1]), &["r:t".into()], "t")
        .unwrap();
    let moved = db
        .insert_image(&image("sha256:two", &[2]), &["r:t".into()], "t")
        .unwrap();
    assert_eq!(moved, vec![("r:t".to_string(), "sha256:one".to_string())]);
    assert_eq!(db.resolve_tag("r:t").unwrap().as_deref(), Some("sha256:two"));
    assert!(db.image("sha256:one").unwrap().unwrap().tags.is_empty());
}

#[test]
fn inserting_an_existing_image_does_not_double_count_layers() {
    let (_d, mut db) = db();
    db.insert_image(&image("sha256:one", &[1]), &["a:1".into()], "t")
        .unwrap();
    db.insert_image(&image("sha256:one", &[1]), &["a:2".into()], "t")
        .unwrap();
    assert_eq!(db.layers().unwrap()[0].1, 1);
    assert_eq!(
        db.image("sha256:one").unwrap().unwrap().tags,
        vec!["a:1".to_string(), "a:2".to_string()]
    );
}

#[test]
fn concurrent_writers_from_several_connections_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    Db::open(&path).unwrap();
    let threads: Vec<_> = (0..8u8)
        .map(|n| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut db = Db::open(&path).unwrap();
                for k in 0..10u8 {
                    let id = format!("sha256:img{n}-{k}");
                    db.insert_image(&image(&id, &[1, n + 10]), &[format!("r{n}:{k}")], "t")
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(db.images().unwrap().len(), 80);
    let base = db.layers().unwrap().into_iter().find(|l| l.0 == "sha256:c1").unwrap();
    assert_eq!(
        base.1, 80,
        "every image's share of the base layer is counted exactly once"
    );
}

#[test]
fn events_are_read_in_order_after_a_row_and_old_ones_are_pruned() {
    use crate::{Event, EventType};
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("metadata.db")).unwrap();
    assert_eq!(db.last_event_id().unwrap(), 0);
    let mut old = Event::new(EventType::Image, "pull", "busybox:latest");
    old.time_nano = 1;
    let first = db.record_event(&old).unwrap();
    let start = Event::new(EventType::Container, "start", "abc")
        .with("name", "web")
        .with("empty", "");
    let second = db.record_event(&start).unwrap();
    assert!(second > first);
    let read = db.events_after(first, 10).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].event, start);
    assert!(!read[0].event.attributes.contains_key("empty"));
    assert_eq!(
        db.event_id_before(2).unwrap(),
        first,
        "the first event at or after a time"
    );
    assert_eq!(db.event_id_before(i64::MAX).unwrap(), second, "none yet: the newest");
    // Pruning runs every 256th row and drops what is older than a week.
    for i in 0..256 {
        db.record_event(&Event::new(EventType::Volume, "create", format!("v{i}")))
            .unwrap();
    }
    let all = db.events_after(0, 1000).unwrap();
    assert!(all.iter().all(|e| e.id != first), "the week-old event was pruned");
    assert_eq!(all.len(), 257);
}

#[test]
fn the_wal_is_kept_empty_not_deleted_when_the_last_connection_closes() {
    let (dir, mut db) = db();
    let wal = dir.path().join("meta.db-wal");
    db.insert_image(&image("sha256:i1", &[1, 2]), &[], "2024-01-01T00:00:00Z")
        .unwrap();
    let before = std::fs::metadata(&wal).unwrap();
    assert!(before.len() > 0, "the insert went to the WAL");
    drop(db);
    let after = std::fs::metadata(&wal).expect("the WAL file is kept");
    assert_eq!(after.len(), 0, "checkpointed and truncated");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(after.ino(), before.ino(), "the same file, not one made again");
    let db = Db::open(&dir.path().join("meta.db")).unwrap();
    assert!(
        db.image("sha256:i1").unwrap().is_some(),
        "the checkpoint kept the image"
    );
}

#[test]
fn image_list_orders_and_names_images_as_the_full_records_do() {
    let (_dir, mut db) = db();
    // Same and missing creation times, so the tie-breakers (added, then ID) decide.
    let mut newest = image("sha256:n", &[1]);
    newest.created = Some("2025-01-01T00:00:00Z".into());
    newest.labels = r#"{"team":"web"}"#.into();
    let mut unknown = image("sha256:u", &[2]);
    unknown.created = None;
    db.insert_image(&newest, &["r/b:1".into(), "r/a:1".into()], "2026-01-01T00:00:00Z")
        .unwrap();
    db.insert_image(&unknown, &[], "2026-01-01T00:00:00Z").unwrap();
    db.insert_image(&image("sha256:y", &[1]), &["r/y:1".into()], "2026-01-02T00:00:00Z")
        .unwrap();
    db.insert_image(&image("sha256:x", &[1]), &[], "2026-01-02T00:00:00Z")
        .unwrap();
    db.insert_image(&image("sha256:o", &[1]), &[], "2026-01-01T00:00:00Z")
        .unwrap();
    let full: Vec<(String, Vec<String>)> = db.images().unwrap().into_iter().map(|i| (i.id, i.tags)).collect();
    let listed = db.image_list().unwrap();
    let short: Vec<(String, Vec<String>)> = listed.iter().map(|i| (i.id.clone(), i.tags.clone())).collect();
    assert_eq!(short, full);
    let ids: Vec<&str> = listed.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["sha256:n", "sha256:x", "sha256:y", "sha256:o", "sha256:u"]);
    assert_eq!(listed[0].tags, ["r/a:1", "r/b:1"]);
    assert_eq!(listed[0].labels.as_deref(), Some(r#"{"team":"web"}"#));
    assert_eq!(listed[0].size, 100);
}

#[test]
fn a_schema_8_store_migrates_and_lists_its_images_without_recorded_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        // A root written by a strata before labels were kept.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &schema::MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 8;
             INSERT INTO images (id, manifest_digest, manifest_media_type, created, size, added_at)
             VALUES ('sha256:old', 'sha256:m', 'x', '2024-01-01T00:00:00Z', 5, '2024-01-01T00:00:00Z');
             INSERT INTO tags (name, image_id) VALUES ('docker.io/library/old:1', 'sha256:old');",
        )
        .unwrap();
    }
    let mut db = Db::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), schema::CURRENT);
    let listed = db.image_list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].tags, ["docker.io/library/old:1"]);
    assert_eq!(listed[0].labels, None, "unknown, not 'no labels'");
    assert_eq!(db.images_without_labels(10).unwrap(), ["sha256:old"]);
    db.fill_labels(&[("sha256:old".into(), r#"{"a":"b"}"#.into())]).unwrap();
    assert!(db.images_without_labels(10).unwrap().is_empty());
    assert_eq!(db.image_list().unwrap()[0].labels.as_deref(), Some(r#"{"a":"b"}"#));
    // Filling in never overwrites what is recorded.
    db.fill_labels(&[("sha256:old".into(), "null".into())]).unwrap();
    assert_eq!(db.image_list().unwrap()[0].labels.as_deref(), Some(r#"{"a":"b"}"#));
    db.insert_image(&image("sha256:new", &[1]), &[], "2026-01-01T00:00:00Z")
        .unwrap();
    let new = db
        .image_list()
        .unwrap()
        .into_iter()
        .find(|i| i.id == "sha256:new")
        .unwrap();
    assert_eq!(new.labels.as_deref(), Some("null"));
}

/// Container `c1` of image `sha256:i1`, in `state`.
fn container_c1(state: ContainerState) -> ContainerRecord {
    ContainerRecord {
        id: "c1".into(),
        name: "one".into(),
        image_id: "sha256:i1".into(),
        image_name: "i".into(),
        config: "{}".into(),
        created: "2024-01-01T00:00:00Z".into(),
        state,
        pid: None,
        exit_code: None,
        started_at: None,
        finished_at: None,
    }
}

#[test]
fn a_run_state_change_is_committed_and_the_connection_is_durable_again_after_it() {
    let (dir, mut db) = db();
    let record = container_c1(ContainerState::Created);
    db.insert_image(&image("sha256:i1", &[1]), &[], "2024-01-01T00:00:00Z")
        .unwrap();
    db.insert_container(&record).unwrap();
    db.set_container_state("c1", ContainerState::Running, Some(42), None, "2024-01-01T00:00:01Z")
        .unwrap();
    let synchronous: i64 = db.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!(synchronous, 2, "FULL again after the transient write");
    let other = Db::open(&dir.path().join("meta.db")).unwrap();
    let seen = other.container("c1").unwrap().unwrap();
    assert_eq!((seen.state, seen.pid), (ContainerState::Running, Some(42)), "committed");
}

#[test]
fn a_removed_container_is_gone_for_every_connection_before_the_sync_that_makes_it_durable() {
    let (dir, mut db) = db();
    let record = container_c1(ContainerState::Exited);
    db.insert_image(&image("sha256:i1", &[1]), &[], "2024-01-01T00:00:00Z")
        .unwrap();
    db.insert_container(&record).unwrap();
    db.remove_container("c1").unwrap();
    let other = Db::open(&dir.path().join("meta.db")).unwrap();
    assert!(other.container("c1").unwrap().is_none(), "visible before the sync");
    db.sync().unwrap();
    let synchronous: i64 = db.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!(synchronous, 2, "FULL again after the transient write");
    drop(other);
    drop(db);
    let reopened = Db::open(&dir.path().join("meta.db")).unwrap();
    assert!(reopened.container("c1").unwrap().is_none());
    assert!(reopened.sync().is_ok(), "a sync with nothing to take is fine");
}
