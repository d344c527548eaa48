//! Adding one layer on top of an image (what `commit`, and later `build`, do).

use crate::error::Result;
use crate::manifest::{manifest_for_layers, OCI_MANIFEST};
use crate::progress::Silent;
use crate::reference::ImageRef;
use crate::store::{digest, ImageStore};
use crate::unpack::{unpack_layer, BlobForm, LayerInput};
use std::io::Read;
use strata_archive::DevicePolicy;
use strata_metadata::{ImageRecord, NewImage, NewLayer};
use strata_snapshots::chain_ids;

impl ImageStore {
    /// Records a new image: `parent`'s layers plus the layer tar read from `layer`, with the
    /// image config `config` (whose `rootfs.diff_ids` gets the new layer appended).
    /// Returns the new image ID. The layer is stored and unpacked like any other.
    pub fn add_layer(
        &self,
        parent: &ImageRecord,
        layer: impl Read,
        mut config: serde_json::Value,
        reference: Option<&str>,
    ) -> Result<String> {
        let reference = reference.map(ImageRef::parse).transpose()?;
        let _lock = self.lock_shared()?;
        let options = self.apply_options(DevicePolicy::Skip);
        let label = "the new layer".to_string();
        let unpacked = unpack_layer(
            self,
            LayerInput {
                reader: layer,
                total: 0,
                id: "layer",
                archive: &label,
                what: "new layer".into(),
                expected_blob: None,
                compression: None,
                form: BlobForm::AsGiven,
                options: &options,
                resumed: None,
            },
            &Silent,
        )?;
        let mut diff_ids: Vec<_> = parent
            .layers
            .iter()
            .map(|l| digest(&l.diff_id))
            .collect::<Result<_>>()?;
        diff_ids.push(unpacked.diff_id.clone());
        let diff_strings: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
        config["rootfs"] = serde_json::json!({ "type": "layers", "diff_ids": diff_strings });
        let chains = chain_ids(&diff_ids);
        let top = chains.last().expect("at least the new layer");
        crate::failpoint::hit("commit:unpacked");
        let mut layers = parent_layers(parent);
        layers.push(unpacked.commit(self, top)?);
        self.record_config(layers, &config, reference.as_ref())
    }

    /// Records an image with `parent`'s layers and a new config (a build step that
    /// changes only metadata: ENV, CMD, LABEL, …). Returns the image ID. The config's
    /// `rootfs.diff_ids` are set to `parent`'s layers, whatever `config` had: a config
    /// carried from before a layer step would otherwise list too few, and `load`,
    /// Docker's pull and every reader of the config refuse such an image.
    pub fn add_config(&self, parent: &ImageRecord, mut config: serde_json::Value) -> Result<String> {
        let diff_ids: Vec<String> = parent
            .layers
            .iter()
            .map(|l| digest(&l.diff_id).map(|d| d.to_string()))
            .collect::<Result<_>>()?;
        config["rootfs"] = serde_json::json!({ "type": "layers", "diff_ids": diff_ids });
        let _lock = self.lock_shared()?;
        self.record_config(parent_layers(parent), &config, None)
    }

    fn record_config(
        &self,
        layers: Vec<NewLayer>,
        config: &serde_json::Value,
        reference: Option<&ImageRef>,
    ) -> Result<String> {
        let config_bytes = serde_json::to_vec(config).expect("configs serialize");
        let config_digest = self.put_document("config", &config_bytes)?;
        let manifest = manifest_for_layers(&config_digest, config_bytes.len() as u64, &layers)?;
        let manifest_digest = self.put_document("manifest", &manifest)?;
        let created = config.get("created").and_then(|c| c.as_str()).map(str::to_string);
        let record = NewImage {
            id: config_digest.to_string(),
            manifest_digest: manifest_digest.to_string(),
            manifest_media_type: OCI_MANIFEST.into(),
            created: created.clone(),
            labels: crate::config::labels_json(&config_bytes),
            layers,
        };
        let tags: Vec<String> = reference.iter().map(|r| r.to_string()).collect();
        crate::failpoint::hit("commit:before-record");
        self.db()
            .insert_image(&record, &tags, &created.unwrap_or_else(crate::config::timestamp_now))?;
        Ok(record.id)
    }
}

fn parent_layers(parent: &ImageRecord) -> Vec<NewLayer> {
    parent
        .layers
        .iter()
        .map(|l| NewLayer {
            chain_id: l.chain_id.clone(),
            diff_id: l.diff_id.clone(),
            size: l.size,
            blob_digest: l.blob_digest.clone(),
            blob_media_type: l.blob_media_type.clone(),
            blob_size: l.blob_size,
        })
        .collect()
}
