//! `--remote REF`: an image of a registry, its layers streamed through the analysis and
//! never stored. Each blob is hashed as it streams and the analysis is given only once
//! every digest matched: a registry's bytes are not trusted before.

use crate::analysis::{Analysis, Analyzer, LayerInput};
use crate::checked::Checked;
use crate::error::{ExploreError, Result};
use crate::source::ExploreOptions;
use strata_content::Digest;
use strata_registry::client::Client;
use strata_registry::manifest::Platform;

/// Analyzes `repository:reference` of `client`'s registry for `platform` (any platform:
/// nothing runs; an index's attestation manifests name none and are never chosen).
pub fn explore_remote(
    client: &Client,
    repository: &str,
    reference: &str,
    platform: &Platform,
    max_layer_bytes: u64,
    opts: &ExploreOptions,
) -> Result<Analysis> {
    let (_, manifest) = client.fetch_image_manifest(repository, reference, platform)?;
    let config_desc = manifest.config();
    let config_digest = parse(config_desc.digest().as_ref())?;
    let config = client.fetch_document(
        repository,
        &config_digest,
        config_desc.size(),
        strata_archive::image_archive::MAX_JSON_BYTES,
    )?;
    let config: serde_json::Value = serde_json::from_slice(&config)
        .map_err(|e| ExploreError::BadLayer(format!("the image config {config_digest}: {e}")))?;
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut made_by = crate::source::history_of(&config);
    made_by.resize(manifest.layers().len(), String::new());
    let mut analyzer = Analyzer::new(1.min(manifest.layers().len()), opts.largest);
    for (i, (layer, created_by)) in manifest.layers().iter().zip(made_by).enumerate() {
        let digest = parse(layer.digest().as_ref())?;
        let mut blob = Checked::new(
            strata_registry::BlobReader::new(client, repository, &digest, layer.size()),
            &digest,
        )?;
        let changes = {
            let tar = strata_archive::compression::decompress_any(&mut blob)
                .map_err(|e| ExploreError::io(format!("reading layer {digest}"), e))?;
            crate::entries::read_layer(tar, max_layer_bytes)?
        };
        blob.finish(&format!("layer {digest} of {repository}:{reference}"), "refused")?;
        analyzer.add_layer(LayerInput {
            digest: diff_ids.get(i).cloned().unwrap_or_else(|| digest.to_string()),
            created_by,
            changes,
        })?;
    }
    Ok(analyzer.finish())
}

fn parse(text: &str) -> Result<Digest> {
    strata_content::parse_digest(text).map_err(|e| ExploreError::BadLayer(format!("digest {text:?}: {e}")))
}
