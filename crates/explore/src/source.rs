//! Where the layers come from: an image of the local store, read from its own layer
//! blobs (or their tar-splits), never extracted.

use crate::analysis::{Analysis, Analyzer, LayerInput};
use crate::entries::read_layer;
use crate::error::{ExploreError, Result};
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

/// Analyzes the local image `name` (a name, tag, ID or digest).
pub fn explore_image(store: &ImageStore, name: &str, opts: &ExploreOptions) -> Result<Analysis> {
    let image = store.resolve(name)?.image;
    let history = layer_history(store, &image)?;
    let mut analyzer = Analyzer::new(base_layers(store, &image)?, opts.largest);
    for (layer, created_by) in image.layers.iter().zip(history) {
        let digest = strata_images::parse_stored_digest(&layer.blob_digest)?;
        let chain = strata_snapshots::ChainId::parse(&layer.chain_id)
            .map_err(|e| ExploreError::BadLayer(format!("layer {}: {e}", layer.diff_id)))?;
        let (_, blob) = store
            .open_layer_blob(&digest, Some((&chain, layer.blob_size as u64)))
            .map_err(|e| ExploreError::io(format!("opening layer {}", layer.diff_id), e))?;
        let tar = strata_archive::compression::decompress_any(blob)
            .map_err(|e| ExploreError::io(format!("decompressing layer {}", layer.diff_id), e))?;
        analyzer.add_layer(LayerInput {
            digest: layer.diff_id.clone(),
            created_by,
            changes: read_layer(tar, store.max_layer_bytes())?,
        });
    }
    Ok(analyzer.finish())
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

/// The base image's layers: the most layers of `image` that another tagged local image
/// has as all of its own (the image it was built from), else the first, as dive takes it.
pub fn base_layers(store: &ImageStore, image: &ImageRecord) -> Result<usize> {
    let chains: Vec<&str> = image.layers.iter().map(|l| l.chain_id.as_str()).collect();
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
