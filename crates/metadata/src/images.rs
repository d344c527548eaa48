//! Image, layer and tag records.

use crate::{Db, MetadataError, Result};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::BTreeSet;

/// A layer of an image being recorded.
#[derive(Debug, Clone)]
pub struct NewLayer {
    pub chain_id: String,
    pub diff_id: String,
    /// Bytes of file content in this layer.
    pub size: i64,
    pub blob_digest: String,
    pub blob_media_type: String,
    pub blob_size: i64,
}

#[derive(Debug, Clone)]
pub struct NewImage {
    pub id: String,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub created: Option<String>,
    /// The config's `config.Labels` as JSON (`null` without labels), kept so that
    /// listings need not read every config.
    pub labels: String,
    /// Bottom layer first.
    pub layers: Vec<NewLayer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    pub chain_id: String,
    pub diff_id: String,
    pub size: i64,
    pub blob_digest: String,
    pub blob_media_type: String,
    pub blob_size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub id: String,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub created: Option<String>,
    pub size: i64,
    pub added_at: String,
    /// Fully qualified names, sorted.
    pub tags: Vec<String>,
    pub layers: Vec<LayerRecord>,
}

/// An image as listings show it: its row and names, without its layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedImage {
    pub id: String,
    pub created: Option<String>,
    pub size: i64,
    pub added_at: String,
    /// Fully qualified names, sorted.
    pub tags: Vec<String>,
    /// The config's `config.Labels` as JSON; `None` for an image recorded by a strata
    /// older than schema 9 (read its config instead).
    pub labels: Option<String>,
}

/// What removing an image freed: the caller deletes these files after the commit.
#[derive(Debug, Default, Clone)]
pub struct RemovedImage {
    pub untagged: Vec<String>,
    pub chains: Vec<String>,
    pub blobs: Vec<String>,
}

fn sql(db_path: &std::path::Path) -> impl Fn(rusqlite::Error) -> MetadataError + '_ {
    move |source| MetadataError::Sqlite {
        path: db_path.to_path_buf(),
        source,
    }
}

impl Db {
    /// Records an image with its layers, and points `tags` at it. Recording an image that
    /// already exists only moves the tags. Returns the tags that moved away from another
    /// image.
    pub fn insert_image(&mut self, image: &NewImage, tags: &[String], added_at: &str) -> Result<Vec<(String, String)>> {
        let path = self.path.clone();
        let e = sql(&path);
        self.write(|tx| {
            let exists: bool = tx
                .query_row("SELECT 1 FROM images WHERE id = ?1", [&image.id], |_| Ok(true))
                .optional()
                .map_err(&e)?
                .unwrap_or(false);
            if !exists {
                insert_new_image(tx, image, added_at).map_err(&e)?;
            }
            let mut moved = Vec::new();
            for tag in tags {
                if let Some(prev) = set_tag(tx, tag, &image.id).map_err(&e)? {
                    moved.push((tag.clone(), prev));
                }
            }
            Ok(moved)
        })
    }

    /// The image with exactly this ID.
    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>> {
        let e = sql(&self.path);
        let row = self
            .conn
            .prepare_cached(
                "SELECT id, manifest_digest, manifest_media_type, created, size, added_at FROM images WHERE id = ?1",
            )
            .and_then(|mut statement| {
                statement.query_row([id], |r| {
                    Ok(ImageRecord {
                        id: r.get(0)?,
                        manifest_digest: r.get(1)?,
                        manifest_media_type: r.get(2)?,
                        created: r.get(3)?,
                        size: r.get(4)?,
                        added_at: r.get(5)?,
                        tags: Vec::new(),
                        layers: Vec::new(),
                    })
                })
            })
            .optional()
            .map_err(&e)?;
        let Some(mut image) = row else {
            return Ok(None);
        };
        image.tags = self.tags_of(id)?;
        image.layers = self.layers_of(id)?;
        Ok(Some(image))
    }

    /// Every image, newest first: three queries whatever the number of images (its
    /// rows, every tag, every layer), in one read transaction, so a thousand images
    /// list in milliseconds and as one consistent view.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let e = sql(&self.path);
        // (Inside a caller's transaction already, that one holds the view.)
        let read = match self.conn.is_autocommit() {
            true => Some(self.conn.unchecked_transaction().map_err(&e)?),
            false => None,
        };
        let mut images: Vec<ImageRecord> = self
            .conn
            .prepare_cached(
                "SELECT id, manifest_digest, manifest_media_type, created, size, added_at FROM images
                 ORDER BY created DESC, added_at DESC, id",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([], |r| {
                        Ok(ImageRecord {
                            id: r.get(0)?,
                            manifest_digest: r.get(1)?,
                            manifest_media_type: r.get(2)?,
                            created: r.get(3)?,
                            size: r.get(4)?,
                            added_at: r.get(5)?,
                            tags: Vec::new(),
                            layers: Vec::new(),
                        })
                    })?
                    .collect()
            })
            .map_err(&e)?;
        let at: std::collections::HashMap<String, usize> = images
            .iter()
            .enumerate()
            .map(|(i, image)| (image.id.clone(), i))
            .collect();
        let tags: Vec<(String, String)> = self
            .conn
            .prepare_cached("SELECT image_id, name FROM tags ORDER BY image_id, name")
            .and_then(|mut statement| statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(&e)?;
        for (image, tag) in tags {
            if let Some(&i) = at.get(&image) {
                images[i].tags.push(tag);
            }
        }
        let layers: Vec<(String, LayerRecord)> = self
            .conn
            .prepare_cached(
                "SELECT il.image_id, l.chain_id, l.diff_id, l.size, il.blob_digest, b.media_type, b.size
                 FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id
                 JOIN layer_blobs b ON b.digest = il.blob_digest
                 ORDER BY il.image_id, il.position",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([], |r| {
                        Ok((
                            r.get(0)?,
                            LayerRecord {
                                chain_id: r.get(1)?,
                                diff_id: r.get(2)?,
                                size: r.get(3)?,
                                blob_digest: r.get(4)?,
                                blob_media_type: r.get(5)?,
                                blob_size: r.get(6)?,
                            },
                        ))
                    })?
                    .collect()
            })
            .map_err(&e)?;
        for (image, layer) in layers {
            if let Some(&i) = at.get(&image) {
                images[i].layers.push(layer);
            }
        }
        if let Some(read) = read {
            read.commit().map_err(&e)?;
        }
        Ok(images)
    }

    /// Every image as listings show it, newest first (created, then added, then ID,
    /// as [`Db::images`] orders them): two scans (images, tags) in one read
    /// transaction, joined and sorted here. Without the layers, and without SQLite's
    /// sorter, which spills ten thousand rows to a temporary file.
    pub fn image_list(&self) -> Result<Vec<ListedImage>> {
        let e = sql(&self.path);
        let read = match self.conn.is_autocommit() {
            true => Some(self.conn.unchecked_transaction().map_err(&e)?),
            false => None,
        };
        let mut tags: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
        self.conn
            .prepare_cached("SELECT image_id, name FROM tags")
            .and_then(|mut statement| {
                let mut rows = statement.query([])?;
                while let Some(r) = rows.next()? {
                    tags.entry(r.get(0)?).or_default().push(r.get(1)?);
                }
                Ok(())
            })
            .map_err(&e)?;
        let mut images: Vec<ListedImage> = self
            .conn
            .prepare_cached("SELECT id, created, size, added_at, labels FROM images")
            .and_then(|mut statement| {
                statement
                    .query_map([], |r| {
                        Ok(ListedImage {
                            id: r.get(0)?,
                            created: r.get(1)?,
                            size: r.get(2)?,
                            added_at: r.get(3)?,
                            tags: Vec::new(),
                            labels: r.get(4)?,
                        })
                    })?
                    .collect()
            })
            .map_err(&e)?;
        if let Some(read) = read {
            read.commit().map_err(&e)?;
        }
        for image in &mut images {
            if let Some(mut names) = tags.remove(&image.id) {
                names.sort_unstable();
                image.tags = names;
            }
        }
        // SQLite's `ORDER BY created DESC, added_at DESC, id`: text compares as bytes
        // (BINARY), and NULL sorts first, so last when descending.
        images.sort_unstable_by(|a, b| {
            (&b.created, &b.added_at)
                .cmp(&(&a.created, &a.added_at))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(images)
    }

    /// Images recorded without their labels (before schema 9), at most `limit`.
    /// (One lookup in the partial index of schema 10 when there are none.)
    pub fn images_without_labels(&self, limit: usize) -> Result<Vec<String>> {
        let e = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM images INDEXED BY images_without_labels WHERE labels IS NULL LIMIT ?1")
            .map_err(&e)?;
        let ids = stmt
            .query_map([limit as i64], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(ids)
    }

    /// Records the labels (JSON) of images recorded without them; an image that has
    /// labels already keeps them.
    pub fn fill_labels(&mut self, labels: &[(String, String)]) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            for (id, json) in labels {
                tx.execute(
                    "UPDATE images SET labels = ?2 WHERE id = ?1 AND labels IS NULL",
                    params![id, json],
                )
                .map_err(|source| MetadataError::Sqlite {
                    path: path.clone(),
                    source,
                })?;
            }
            Ok(())
        })
    }

    fn tags_of(&self, id: &str) -> Result<Vec<String>> {
        let e = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name")
            .map_err(&e)?;
        let tags = stmt
            .query_map([id], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(tags)
    }

    fn layers_of(&self, id: &str) -> Result<Vec<LayerRecord>> {
        let e = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.chain_id, l.diff_id, l.size, il.blob_digest, b.media_type, b.size
                 FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id
                 JOIN layer_blobs b ON b.digest = il.blob_digest
                 WHERE il.image_id = ?1 ORDER BY il.position",
            )
            .map_err(&e)?;
        let layers = stmt
            .query_map([id], |r| {
                Ok(LayerRecord {
                    chain_id: r.get(0)?,
                    diff_id: r.get(1)?,
                    size: r.get(2)?,
                    blob_digest: r.get(3)?,
                    blob_media_type: r.get(4)?,
                    blob_size: r.get(5)?,
                })
            })
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(layers)
    }

    /// The image a fully qualified tag points at.
    pub fn resolve_tag(&self, name: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Image IDs whose hex part starts with `prefix` (which may carry `sha256:`).
    pub fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let e = sql(&self.path);
        let pattern = if prefix.contains(':') {
            format!("{prefix}%")
        } else {
            format!("%:{prefix}%")
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM images WHERE id LIKE ?1")
            .map_err(&e)?;
        let ids = stmt
            .query_map([pattern], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(ids)
    }

    /// Points `name` at image `id`. Returns the image it pointed at before, if another.
    pub fn tag(&mut self, name: &str, id: &str) -> Result<Option<String>> {
        let path = self.path.clone();
        self.write(|tx| set_tag(tx, name, id).map_err(sql(&path)))
    }

    /// Removes a tag. Returns the image it pointed at.
    pub fn untag(&mut self, name: &str) -> Result<Option<String>> {
        let path = self.path.clone();
        let e = sql(&path);
        self.write(|tx| {
            let id: Option<String> = tx
                .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| r.get(0))
                .optional()
                .map_err(&e)?;
            tx.execute("DELETE FROM tags WHERE name = ?1", [name]).map_err(&e)?;
            Ok(id)
        })
    }

    /// Deletes an image record, its tags and its share of each layer. Layers and blobs no
    /// other image uses are returned for the caller to delete from disk.
    pub fn remove_image(&mut self, id: &str) -> Result<RemovedImage> {
        let path = self.path.clone();
        let e = sql(&path);
        self.write(|tx| {
            let mut removed = RemovedImage::default();
            let mut stmt = tx
                .prepare_cached("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name")
                .map_err(&e)?;
            removed.untagged = stmt
                .query_map([id], |r| r.get(0))
                .map_err(&e)?
                .collect::<Result<_, _>>()
                .map_err(&e)?;
            drop(stmt);
            let manifest: Option<String> = tx
                .query_row("SELECT manifest_digest FROM images WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(&e)?;
            let Some(manifest) = manifest else {
                return Err(MetadataError::Conflict(format!("no such image: {id}")));
            };
            let mut stmt = tx
                .prepare_cached(
                    "SELECT chain_id, blob_digest FROM image_layers WHERE image_id = ?1 ORDER BY position DESC",
                )
                .map_err(&e)?;
            let layers: Vec<(String, String)> = stmt
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&e)?
                .collect::<Result<_, _>>()
                .map_err(&e)?;
            drop(stmt);
            tx.execute("DELETE FROM tags WHERE image_id = ?1", [id]).map_err(&e)?;
            tx.execute("DELETE FROM image_layers WHERE image_id = ?1", [id])
                .map_err(&e)?;
            tx.execute("DELETE FROM images WHERE id = ?1", [id]).map_err(&e)?;
            tx.execute("DELETE FROM build_cache WHERE image_id = ?1", [id])
                .map_err(&e)?;
            // Top layer first: a parent is deleted only after its children.
            for (chain, _) in &layers {
                tx.execute("UPDATE layers SET refcount = refcount - 1 WHERE chain_id = ?1", [chain])
                    .map_err(&e)?;
                let gone = tx
                    .execute("DELETE FROM layers WHERE chain_id = ?1 AND refcount <= 0", [chain])
                    .map_err(&e)?;
                if gone > 0 {
                    removed.chains.push(chain.clone());
                }
            }
            let candidates: BTreeSet<String> = layers
                .into_iter()
                .map(|(_, blob)| blob)
                .chain([id.to_string(), manifest])
                .collect();
            for blob in candidates {
                if !blob_in_use(tx, &blob).map_err(&e)? {
                    tx.execute("DELETE FROM layer_blobs WHERE digest = ?1", [&blob])
                        .map_err(&e)?;
                    removed.blobs.push(blob);
                }
            }
            Ok(removed)
        })
    }

    /// A stored blob of the layer with this DiffID: (digest, media type, size).
    pub fn blob_for_diff(&self, diff_id: &str) -> Result<Vec<(String, String, i64)>> {
        let e = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT digest, media_type, size FROM layer_blobs WHERE diff_id = ?1 ORDER BY digest")
            .map_err(&e)?;
        let rows = stmt
            .query_map([diff_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(rows)
    }

    /// The compressed form of an uncompressed layer made by an earlier push:
    /// (digest, size).
    pub fn pushed_blob(&self, diff_id: &str, media_type: &str) -> Result<Option<(String, i64)>> {
        self.conn
            .query_row(
                "SELECT digest, size FROM pushed_blobs WHERE diff_id = ?1 AND media_type = ?2",
                [diff_id, media_type],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Remembers the compressed form a push made of a layer.
    pub fn record_pushed_blob(&mut self, diff_id: &str, media_type: &str, digest: &str, size: i64) -> Result<()> {
        let path = self.path.clone();
        let e = sql(&path);
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO pushed_blobs (diff_id, media_type, digest, size) VALUES (?1, ?2, ?3, ?4)",
                params![diff_id, media_type, digest, size],
            )
            .map_err(&e)?;
            Ok(())
        })
    }

    /// Notes that `registry/repository` holds the blob `digest`.
    pub fn record_blob_source(&mut self, digest: &str, registry: &str, repository: &str) -> Result<()> {
        let path = self.path.clone();
        let e = sql(&path);
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO blob_sources (digest, registry, repository) VALUES (?1, ?2, ?3)",
                params![digest, registry, repository],
            )
            .map_err(&e)?;
            Ok(())
        })
    }

    /// Repositories of `registry` known to hold the blob `digest`.
    pub fn blob_sources(&self, digest: &str, registry: &str) -> Result<Vec<String>> {
        let e = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT repository FROM blob_sources WHERE digest = ?1 AND registry = ?2 ORDER BY repository",
            )
            .map_err(&e)?;
        let rows = stmt
            .query_map([digest, registry], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(rows)
    }

    /// The image a build step with this cache key made, if it is still stored.
    pub fn cache_get(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT c.image_id FROM build_cache c JOIN images i ON i.id = c.image_id WHERE c.key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records the image a build step made.
    pub fn cache_put(&mut self, key: &str, image_id: &str, created: &str) -> Result<()> {
        let path = self.path.clone();
        let e = sql(&path);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO build_cache (key, image_id, intermediate, created) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id",
                params![key, image_id, created],
            )
            .map_err(&e)?;
            Ok(())
        })
    }

    /// Marks an image as a build's result: `images` lists it even untagged.
    pub fn cache_mark_final(&mut self, image_id: &str) -> Result<()> {
        let path = self.path.clone();
        let e = sql(&path);
        self.write(|tx| {
            tx.execute(
                "UPDATE build_cache SET intermediate = 0 WHERE image_id = ?1",
                [image_id],
            )
            .map_err(&e)?;
            Ok(())
        })
    }

    /// The digest recorded for a context file with this identity.
    pub fn file_sum(&self, path: &str, identity: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT digest FROM file_sums WHERE path = ?1 AND identity = ?2",
                [path, identity],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a context file's digest for its current identity.
    pub fn put_file_sums(&mut self, sums: &[(String, String, String)]) -> Result<()> {
        let path = self.path.clone();
        let e = sql(&path);
        self.write(|tx| {
            for (p, identity, digest) in sums {
                tx.execute(
                    "INSERT OR REPLACE INTO file_sums (path, identity, digest) VALUES (?1, ?2, ?3)",
                    params![p, identity, digest],
                )
                .map_err(&e)?;
            }
            Ok(())
        })
    }

    /// Images that only exist as intermediate build steps.
    pub fn intermediate_images(&self) -> Result<BTreeSet<String>> {
        let e = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT image_id FROM build_cache GROUP BY image_id HAVING MIN(intermediate) = 1")
            .map_err(&e)?;
        let ids = stmt
            .query_map([], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(ids)
    }

    /// Content size of a recorded layer.
    pub fn layer_size(&self, chain_id: &str) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT size FROM layers WHERE chain_id = ?1", [chain_id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// SQLite's own integrity check ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Sets a layer's reference count (repair).
    pub fn set_refcount(&mut self, chain_id: &str, count: i64) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "UPDATE layers SET refcount = ?2 WHERE chain_id = ?1",
                params![chain_id, count],
            )
            .map_err(|source| MetadataError::Sqlite { path, source })?;
            Ok(())
        })
    }

    /// Every layer record: (chain ID, refcount, size).
    pub fn layers(&self) -> Result<Vec<(String, i64, i64)>> {
        let e = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT chain_id, refcount, size FROM layers ORDER BY chain_id")
            .map_err(&e)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(rows)
    }

    /// Every blob digest some image needs (configs, manifests, layer blobs).
    pub fn referenced_blobs(&self) -> Result<BTreeSet<String>> {
        let e = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id FROM images UNION SELECT manifest_digest FROM images
                 UNION SELECT blob_digest FROM image_layers",
            )
            .map_err(&e)?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        Ok(rows)
    }
}

fn insert_new_image(tx: &Transaction<'_>, image: &NewImage, added_at: &str) -> rusqlite::Result<()> {
    let size: i64 = image.layers.iter().map(|l| l.size).sum();
    tx.execute(
        "INSERT INTO images (id, manifest_digest, manifest_media_type, created, size, added_at, labels)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            image.id,
            image.manifest_digest,
            image.manifest_media_type,
            image.created,
            size,
            added_at,
            image.labels
        ],
    )?;
    let mut parent: Option<&str> = None;
    for (position, layer) in image.layers.iter().enumerate() {
        tx.execute(
            "INSERT INTO layers (chain_id, diff_id, parent, size, refcount) VALUES (?1, ?2, ?3, ?4, 1)
             ON CONFLICT(chain_id) DO UPDATE SET refcount = refcount + 1",
            params![layer.chain_id, layer.diff_id, parent, layer.size],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO layer_blobs (digest, diff_id, media_type, size) VALUES (?1, ?2, ?3, ?4)",
            params![layer.blob_digest, layer.diff_id, layer.blob_media_type, layer.blob_size],
        )?;
        tx.execute(
            "INSERT INTO image_layers (image_id, position, chain_id, blob_digest) VALUES (?1, ?2, ?3, ?4)",
            params![image.id, position as i64, layer.chain_id, layer.blob_digest],
        )?;
        parent = Some(&layer.chain_id);
    }
    Ok(())
}

fn set_tag(tx: &Transaction<'_>, name: &str, id: &str) -> rusqlite::Result<Option<String>> {
    let prev: Option<String> = tx
        .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| r.get(0))
        .optional()?;
    tx.execute(
        "INSERT INTO tags (name, image_id) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        params![name, id],
    )?;
    Ok(prev.filter(|p| p != id))
}

fn blob_in_use(tx: &Transaction<'_>, digest: &str) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM images WHERE id = ?1 OR manifest_digest = ?1)
              OR EXISTS (SELECT 1 FROM image_layers WHERE blob_digest = ?1)",
        [digest],
        |r| r.get(0),
    )
}
