//! `inspect` and `history`: Docker-shaped views of an image.

use crate::error::{ImageError, Result};
use crate::reference::ImageRef;
use crate::store::{ImageStore, Resolved};
use serde_json::{json, Map, Value};
use strata_metadata::ImageRecord;

/// One row of `history`, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// The image ID on the top row, `<missing>` below (as for any image not built here).
    pub id: String,
    pub created: Option<String>,
    pub created_by: String,
    pub size: i64,
    pub comment: String,
    pub empty_layer: bool,
}

fn config_json(store: &ImageStore, image: &ImageRecord) -> Result<Value> {
    let bytes = store.config_bytes(image)?;
    serde_json::from_slice(&bytes).map_err(|e| ImageError::Invalid {
        archive: "content store".into(),
        what: format!("config {}", image.id),
        reason: e.to_string(),
    })
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Docker's container-config shape: every field present, absent ones null or empty.
fn container_config(config: Option<&Value>) -> Value {
    let mut out: Map<String, Value> = serde_json::from_value(json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null
    }))
    .expect("literal object");
    if let Some(Value::Object(given)) = config {
        for (k, v) in given {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

impl ImageStore {
    /// `docker image inspect` for one image.
    pub fn inspect(&self, resolved: &Resolved) -> Result<Value> {
        let image = &resolved.image;
        let config = config_json(self, image)?;
        let tags: Vec<String> = image
            .tags
            .iter()
            .map(|t| ImageRef::parse(t).map_or_else(|_| t.clone(), |r| r.familiar()))
            .collect();
        let history = config
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let comment = match config.get("comment").and_then(Value::as_str) {
            Some(c) => c.to_string(),
            None => history.last().map(|h| text(h, "comment")).unwrap_or_default(),
        };
        let dirs: Vec<String> = self.layer_dirs(image).iter().map(|p| p.display().to_string()).collect();
        let mut graph = Map::new();
        if let Some((top, lower)) = dirs.split_last() {
            if !lower.is_empty() {
                graph.insert(
                    "LowerDir".into(),
                    json!(lower.iter().rev().cloned().collect::<Vec<_>>().join(":")),
                );
            }
            graph.insert("UpperDir".into(), json!(top));
        }
        Ok(json!({
            "Id": image.id,
            "RepoTags": tags,
            "RepoDigests": [],
            "Parent": "",
            "Comment": comment,
            "Created": image.created.clone().unwrap_or_default(),
            "DockerVersion": text(&config, "docker_version"),
            "Author": text(&config, "author"),
            "Config": container_config(config.get("config")),
            // API 1.41's field (gone in 1.45), which docker-compose 1.29 reads.
            "ContainerConfig": container_config(config.get("container_config")),
            "Architecture": text(&config, "architecture"),
            "Variant": config.get("variant").cloned().unwrap_or(Value::Null),
            "Os": text(&config, "os"),
            "Size": image.size,
            "GraphDriver": { "Name": "overlay", "Data": graph },
            "RootFS": {
                "Type": "layers",
                "Layers": image.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
            "Metadata": { "LastTagTime": image.added_at },
            "Descriptor": {
                "mediaType": image.manifest_media_type,
                "digest": image.manifest_digest,
            },
        }))
    }

    /// `docker history`: the config's history, newest first, with layer sizes.
    pub fn history(&self, image: &ImageRecord) -> Result<Vec<HistoryEntry>> {
        let config = config_json(self, image)?;
        let entries = config
            .get("history")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut sizes = image.layers.iter().map(|l| l.size);
        let mut rows: Vec<HistoryEntry> = if entries.is_empty() {
            // No history recorded: one anonymous row per layer.
            image
                .layers
                .iter()
                .map(|l| HistoryEntry {
                    id: "<missing>".into(),
                    created: None,
                    created_by: String::new(),
                    size: l.size,
                    comment: String::new(),
                    empty_layer: false,
                })
                .collect()
        } else {
            entries
                .iter()
                .map(|h| {
                    let empty = h.get("empty_layer").and_then(Value::as_bool).unwrap_or(false);
                    HistoryEntry {
                        id: "<missing>".into(),
                        created: h.get("created").and_then(Value::as_str).map(str::to_string),
                        created_by: text(h, "created_by"),
                        size: if empty { 0 } else { sizes.next().unwrap_or(0) },
                        comment: text(h, "comment"),
                        empty_layer: empty,
                    }
                })
                .collect()
        };
        rows.reverse();
        if let Some(top) = rows.first_mut() {
            top.id = image.id.clone();
        }
        Ok(rows)
    }
}
