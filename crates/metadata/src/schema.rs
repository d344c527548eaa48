//! Schema migrations. Append only: never edit a migration that has shipped.

use crate::{Db, MetadataError, Result};

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: images, their layers, tags.
    r#"
    CREATE TABLE layers (
        chain_id  TEXT PRIMARY KEY,
        diff_id   TEXT NOT NULL,
        parent    TEXT REFERENCES layers(chain_id),
        size      INTEGER NOT NULL,      -- bytes of file content in this layer
        refcount  INTEGER NOT NULL       -- images whose stack contains this layer
    );
    CREATE TABLE layer_blobs (
        digest     TEXT PRIMARY KEY,     -- the (possibly compressed) blob as distributed
        diff_id    TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size       INTEGER NOT NULL
    );
    CREATE TABLE images (
        id                  TEXT PRIMARY KEY,   -- config digest
        manifest_digest     TEXT NOT NULL,
        manifest_media_type TEXT NOT NULL,
        created             TEXT,               -- from the config
        size                INTEGER NOT NULL,   -- sum of layer sizes
        added_at            TEXT NOT NULL
    );
    CREATE TABLE image_layers (
        image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        chain_id    TEXT NOT NULL REFERENCES layers(chain_id),
        blob_digest TEXT NOT NULL,
        PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    CREATE INDEX image_layers_blob ON image_layers(blob_digest);
    CREATE TABLE tags (
        name     TEXT PRIMARY KEY,              -- fully qualified: docker.io/library/busybox:latest
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX tags_image ON tags(image_id);
    "#,
    // 2: containers: the writable layer over an image, and the process state.
    r#"
    CREATE TABLE containers (
        id          TEXT PRIMARY KEY,          -- 64 hex
        name        TEXT NOT NULL UNIQUE,
        image_id    TEXT NOT NULL REFERENCES images(id),
        image_name  TEXT NOT NULL,             -- as the user gave it
        config      TEXT NOT NULL,             -- JSON: command, env, mounts, ... (strata's container config)
        created     TEXT NOT NULL,
        state       TEXT NOT NULL,             -- created | running | exited
        pid         INTEGER,
        exit_code   INTEGER,
        started_at  TEXT,
        finished_at TEXT
    );
    CREATE INDEX containers_image ON containers(image_id);
    "#,
    // 3: compressed forms of uncompressed layers made for a push, so the next push can
    // ask the registry for the blob before compressing again (Docker's v2metadata).
    r#"
    CREATE TABLE pushed_blobs (
        diff_id     TEXT NOT NULL,
        media_type  TEXT NOT NULL,             -- the compressed form
        digest      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        PRIMARY KEY (diff_id, media_type)
    );
    -- Repositories a blob is known to exist in, for cross-repository mounts on push.
    CREATE TABLE blob_sources (
        digest      TEXT NOT NULL,
        registry    TEXT NOT NULL,
        repository  TEXT NOT NULL,
        PRIMARY KEY (digest, registry, repository)
    );
    "#,
    // 4: the build cache: a step's key (parent image, instruction, inputs) to the image
    // it made. Intermediate images are hidden from `images` unless `-a`.
    r#"
    CREATE TABLE build_cache (
        key          TEXT PRIMARY KEY,
        image_id     TEXT NOT NULL,
        intermediate INTEGER NOT NULL DEFAULT 1,
        created      TEXT NOT NULL
    );
    CREATE INDEX build_cache_image ON build_cache(image_id);
    -- Content digests of build-context files, trusted while the file's identity and
    -- change time stay the same (BuildKit keeps the same kind of cache).
    CREATE TABLE file_sums (
        path     TEXT PRIMARY KEY,
        identity TEXT NOT NULL,   -- dev:ino:size:mtime_ns:ctime_ns
        digest   TEXT NOT NULL
    );
    "#,
    // 5: networks (bridges strata made) and the addresses containers hold on them while
    // they run.
    r#"
    CREATE TABLE networks (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        driver   TEXT NOT NULL,
        subnet   TEXT NOT NULL UNIQUE,
        gateway  TEXT NOT NULL,
        bridge   TEXT NOT NULL UNIQUE,
        internal INTEGER NOT NULL DEFAULT 0,
        options  TEXT NOT NULL,
        created  TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        network_id   TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL,
        ip           TEXT NOT NULL,
        aliases      TEXT NOT NULL,
        PRIMARY KEY (network_id, container_id),
        UNIQUE (network_id, ip)
    );
    CREATE INDEX endpoints_container ON endpoints(container_id);
    "#,
    // 6: the events journal, read by row ID by any number of processes.
    r#"
    CREATE TABLE events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        time_nano  INTEGER NOT NULL,
        type       TEXT NOT NULL,
        action     TEXT NOT NULL,
        actor      TEXT NOT NULL,
        attributes TEXT NOT NULL
    );
    CREATE INDEX events_time ON events(time_nano);
    "#,
    // 7: IPv6 on bridge networks: a network's IPv6 subnet and gateway ('' without), and
    // a container's IPv6 address there, unique per network like the IPv4 one.
    r#"
    ALTER TABLE networks ADD COLUMN subnet6 TEXT NOT NULL DEFAULT '';
    ALTER TABLE networks ADD COLUMN gateway6 TEXT NOT NULL DEFAULT '';
    CREATE UNIQUE INDEX networks_subnet6 ON networks(subnet6) WHERE subnet6 != '';
    ALTER TABLE endpoints ADD COLUMN ip6 TEXT NOT NULL DEFAULT '';
    CREATE UNIQUE INDEX endpoints_ip6 ON endpoints(network_id, ip6) WHERE ip6 != '';
    "#,
    // 8: a container's own MAC address on a network (`--mac-address`); '' is the one
    // derived from its IPv4 address.
    r#"
    ALTER TABLE endpoints ADD COLUMN mac TEXT NOT NULL DEFAULT '';
    "#,
    // 9: an image's config labels (JSON), so that listings (`images`, the API's
    // images/json, label filters) need not read ten thousand configs. NULL: recorded
    // before this version; listings read the config instead.
    r#"
    ALTER TABLE images ADD COLUMN labels TEXT;
    "#,
    // 10: the images still without labels, which the image store fills in from their
    // configs when it opens the root: with this index, "is there any?" is free.
    r#"
    CREATE INDEX images_without_labels ON images(id) WHERE labels IS NULL;
    "#,
];

/// The schema version this build writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

pub(crate) fn migrate(db: &mut Db) -> Result<()> {
    let found = db.schema_version()?;
    if found > CURRENT {
        return Err(MetadataError::TooNew {
            path: db.path.clone(),
            found,
            supported: CURRENT,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        db.write(|tx| {
            // Re-check inside the write lock: another process may have migrated meanwhile.
            let now: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| crate_err(tx, e))?;
            if now >= version {
                return Ok(());
            }
            tx.execute_batch(sql).map_err(|e| crate_err(tx, e))?;
            tx.pragma_update(None, "user_version", version)
                .map_err(|e| crate_err(tx, e))
        })?;
    }
    Ok(())
}

fn crate_err(tx: &rusqlite::Transaction<'_>, source: rusqlite::Error) -> MetadataError {
    MetadataError::Sqlite {
        path: tx.path().map(Into::into).unwrap_or_default(),
        source,
    }
}
