//! Where the layers come from: an image of the local store (its own layer blobs or their
//! tar-splits, never extracted), a container (its image's layers and, on top, the
//! writable layer `commit` would add), or an image archive (docker-archive or OCI
//! layout, compressed or not). Each layer is read once, streaming.

use crate::analysis::{Analysis, Analyzer, LayerInput};
use crate::entries::read_layer;
use crate::error::{ExploreError, Result};
use std::io::Read;
use std::path::Path;
use strata_images::{ImageRecord, ImageStore};

/// How to analyze.
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    /// How many of the largest files to list.
    pub largest: usize,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions { largest: 20 }
    }
}

/// Analyzes `name`: a local image (name, tag, ID or digest) or, failing that, a
/// container, whose writable layer is the top layer.
pub fn explore(store: &ImageStore, name: &str, opts: &ExploreOptions) -> Result<Analysis> {
    match store.resolve(name) {
        Ok(resolved) => explore_image(store, &resolved.image, opts),
        Err(strata_images::ImageError::NotFound { .. }) => {
            let containers = strata_containers::Containers::new(store);
            match containers.resolve(name) {
                Ok(record) => explore_container(store, &containers, &record, opts),
                Err(strata_containers::ContainerError::NotFound(_)) => Err(ExploreError::NotFound(name.to_string())),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Feeds the image's layers to `analyzer`.
pub(crate) fn add_image_layers(store: &ImageStore, image: &ImageRecord, analyzer: &mut Analyzer) -> Result<()> {
    let history = layer_history(store, image)?;
    let layers: Vec<_> = image.layers.iter().zip(history).collect();
    // Reading (decompressing, hashing) is the work: as many layers at once as there are
    // cores, each batch applied in order before the next is read, so at most one batch
    // of layers' entries is held.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    for batch in layers.chunks(workers) {
        let inputs: Vec<Result<LayerInput>> = std::thread::scope(|scope| {
            let readers: Vec<_> = batch
                .iter()
                .map(|(layer, created_by)| scope.spawn(move || read_stored_layer(store, layer, created_by.clone())))
                .collect();
            readers
                .into_iter()
                .map(|r| {
                    r.join()
                        .unwrap_or_else(|_| Err(ExploreError::Config("a layer reader panicked".into())))
                })
                .collect()
        });
        for input in inputs {
            analyzer.add_layer(input?)?;
        }
    }
    Ok(())
}

fn read_stored_layer(
    store: &ImageStore,
    layer: &strata_metadata::LayerRecord,
    created_by: String,
) -> Result<LayerInput> {
    let digest = strata_images::parse_stored_digest(&layer.blob_digest)?;
    let chain = strata_snapshots::ChainId::parse(&layer.chain_id)
        .map_err(|e| ExploreError::BadLayer(format!("layer {}: {e}", layer.diff_id)))?;
    let (_, blob) = store
        .open_layer_blob(&digest, Some((&chain, layer.blob_size as u64)))
        .map_err(|e| ExploreError::io(format!("opening layer {}", layer.diff_id), e))?;
    read_input(blob, &layer.diff_id, created_by, store.max_layer_bytes())
}

/// One layer's bytes (compressed or not) as the analyzer's input.
fn read_input(blob: impl Read, digest: &str, created_by: String, max_bytes: u64) -> Result<LayerInput> {
    let tar = strata_archive::compression::decompress_any(blob)
        .map_err(|e| ExploreError::io(format!("decompressing layer {digest}"), e))?;
    Ok(LayerInput {
        digest: digest.to_string(),
        created_by,
        changes: read_layer(tar, max_bytes)?,
    })
}

pub fn explore_image(store: &ImageStore, image: &ImageRecord, opts: &ExploreOptions) -> Result<Analysis> {
    let mut analyzer = Analyzer::new(base_layers(store, image)?, opts.largest);
    add_image_layers(store, image, &mut analyzer)?;
    Ok(analyzer.finish())
}

/// The container's image, then its changes as the top layer (the seeds' "container
/// layer"): what `commit` would add.
fn explore_container(
    store: &ImageStore,
    containers: &strata_containers::Containers<'_>,
    record: &strata_containers::ContainerRecord,
    opts: &ExploreOptions,
) -> Result<Analysis> {
    let image = store
        .db()
        .image(&record.image_id)
        .map_err(strata_images::ImageError::from)?
        .ok_or_else(|| ExploreError::Config(format!("the image of container {} is gone", record.name)))?;
    let mut analyzer = Analyzer::new(base_layers(store, &image)?, opts.largest);
    add_image_layers(store, &image, &mut analyzer)?;
    // The changes stream through a pipe from a writer thread: never spooled.
    let (reader, writer) = std::io::pipe().map_err(|e| ExploreError::io("creating a pipe", e))?;
    let max = store.max_layer_bytes();
    let top = std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            containers
                .write_changes(record, std::io::BufWriter::new(writer))
                .map(drop)
        });
        let read = read_input(
            reader,
            "container",
            format!("container {} (writable layer)", record.name),
            max,
        );
        let written = producer
            .join()
            .map_err(|_| ExploreError::Config("the changes' writer panicked".into()))?;
        written?;
        read
    })?;
    analyzer.add_layer(top)?;
    Ok(analyzer.finish())
}

/// Analyzes an image archive (docker-archive, OCI layout; gzip, zstd, xz or plain):
/// the image named `name` (or the only one) for this machine's platform. A compressed
/// archive is decompressed to a work file of the store first (it must be seekable).
pub fn explore_archive(store: &ImageStore, path: &Path, name: Option<&str>, opts: &ExploreOptions) -> Result<Analysis> {
    let plain = PlainArchive::open(store, path)?;
    let index = strata_archive::tar_index::TarIndex::open(&plain.path)
        .map_err(|e| ExploreError::Config(format!("{}: {e}", path.display())))?;
    let (_, images) = strata_archive::image_archive::read_archive(&index)
        .map_err(|e| ExploreError::Config(format!("{}: {e}", path.display())))?;
    let image = match name {
        None if images.len() == 1 => &images[0],
        None => {
            return Err(ExploreError::Config(format!(
                "{} holds {} images: name one ({})",
                path.display(),
                images.len(),
                images
                    .iter()
                    .flat_map(|i| i.names.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
        Some(name) => images
            .iter()
            .find(|i| {
                i.names
                    .iter()
                    .any(|n| n == name || n.trim_start_matches("docker.io/library/") == name)
            })
            .ok_or_else(|| ExploreError::Config(format!("{} holds no image named {name}", path.display())))?,
    };
    let config: serde_json::Value = serde_json::from_slice(
        &index
            .read_member(&image.config.member, strata_archive::image_archive::MAX_JSON_BYTES)
            .map_err(|e| ExploreError::Config(format!("{}: {e}", path.display())))?,
    )
    .map_err(|e| ExploreError::Config(format!("{}: the image config: {e}", path.display())))?;
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut made_by = history_of(&config);
    made_by.resize(image.layers.len(), String::new());
    let mut analyzer = Analyzer::new(1.min(image.layers.len()), opts.largest);
    for (i, (layer, created_by)) in image.layers.iter().zip(made_by).enumerate() {
        let (_, reader) = index
            .open_member(&layer.blob.member)
            .map_err(|e| ExploreError::Config(format!("{}: {e}", path.display())))?;
        let Some(diff_id) = diff_ids.get(i) else {
            return Err(ExploreError::BadLayer(format!(
                "{}: the image config lists fewer layers than its manifest",
                path.display()
            )));
        };
        analyzer.add_layer(read_verified(reader, diff_id, created_by, store.max_layer_bytes())?)?;
    }
    Ok(analyzer.finish())
}

/// An archive's layer: its uncompressed stream hashed as it is read and checked against
/// the DiffID the config names before the layer is trusted.
fn read_verified(blob: impl Read, diff_id: &str, created_by: String, max_bytes: u64) -> Result<LayerInput> {
    let expected = strata_content::parse_digest(diff_id)
        .map_err(|e| ExploreError::BadLayer(format!("DiffID {diff_id:?}: {e}")))?;
    let tar = strata_archive::compression::decompress_any(blob)
        .map_err(|e| ExploreError::io(format!("decompressing layer {diff_id}"), e))?;
    let mut hashed = crate::checked::Checked::new(tar, &expected)?;
    let changes = read_layer(&mut hashed, max_bytes)?;
    hashed.finish(&format!("layer {diff_id}"), "the archive is damaged or forged")?;
    Ok(LayerInput {
        digest: diff_id.to_string(),
        created_by,
        changes,
    })
}

/// An archive as a plain tar file: itself, or a decompressed work copy removed on drop.
struct PlainArchive {
    path: std::path::PathBuf,
    temporary: bool,
}

impl PlainArchive {
    fn open(store: &ImageStore, path: &Path) -> Result<Self> {
        let what = || format!("reading {}", path.display());
        let mut file = std::io::BufReader::new(std::fs::File::open(path).map_err(|e| ExploreError::io(what(), e))?);
        let head = std::io::BufRead::fill_buf(&mut file).map_err(|e| ExploreError::io(what(), e))?;
        if !strata_archive::compression::is_compressed(head) {
            return Ok(PlainArchive {
                path: path.to_path_buf(),
                temporary: false,
            });
        }
        let plain = PlainArchive {
            path: store.work_path("explore", ".tar"),
            temporary: true,
        };
        let mut out = std::fs::File::create(&plain.path).map_err(|e| ExploreError::io(what(), e))?;
        let mut reader = strata_archive::compression::decompress_any(file).map_err(|e| ExploreError::io(what(), e))?;
        std::io::copy(&mut reader, &mut out).map_err(|e| ExploreError::io(what(), e))?;
        Ok(plain)
    }
}

impl Drop for PlainArchive {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The `created_by` of each layer-making history entry of an image config.
pub(crate) fn history_of(config: &serde_json::Value) -> Vec<String> {
    config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| !e["empty_layer"].as_bool().unwrap_or(false))
                .map(|e| e["created_by"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The `created_by` of each layer, from the history entries that made a layer.
fn layer_history(store: &ImageStore, image: &ImageRecord) -> Result<Vec<String>> {
    let mut rows = store.history(image)?;
    rows.reverse();
    let mut made: Vec<String> = rows
        .into_iter()
        .filter(|h| !h.empty_layer)
        .map(|h| h.created_by)
        .collect();
    made.resize(image.layers.len(), String::new());
    Ok(made)
}

/// The annotation OCI names for the manifest of the image this one was built from.
const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// The base image's layers: those of the local image whose manifest the image's
/// `org.opencontainers.image.base.digest` annotation names; else the most layers of
/// `image` that another tagged local image has as all of its own (the image it was
/// built from); else the first, as dive takes it.
pub fn base_layers(store: &ImageStore, image: &ImageRecord) -> Result<usize> {
    let chains: Vec<&str> = image.layers.iter().map(|l| l.chain_id.as_str()).collect();
    if let Some(base) = annotation(store, image, BASE_DIGEST) {
        let images = store.list()?;
        if let Some(named) = images.iter().find(|i| i.manifest_digest == base && i.id != image.id) {
            return Ok(named.layers.len().min(chains.len()));
        }
    }
    let shared = store
        .list()?
        .iter()
        // Tagged images only: a build's intermediate images share every layer but one.
        .filter(|other| other.id != image.id && !other.tags.is_empty())
        .filter(|other| !other.layers.is_empty() && other.layers.len() < chains.len())
        .filter(|other| {
            // A ChainID names a whole stack: the same top one means the same layers below.
            other.layers.last().map(|l| l.chain_id.as_str()) == Some(chains[other.layers.len() - 1])
        })
        .map(|other| other.layers.len())
        .max();
    Ok(shared.unwrap_or(1.min(chains.len())))
}

/// An annotation of the image's manifest, when the store keeps the manifest.
fn annotation(store: &ImageStore, image: &ImageRecord, key: &str) -> Option<String> {
    let digest = strata_images::parse_stored_digest(&image.manifest_digest).ok()?;
    let bytes = store
        .content()
        .read_blob(&digest, strata_archive::image_archive::MAX_JSON_BYTES)
        .ok()?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    manifest["annotations"][key].as_str().map(str::to_string)
}
