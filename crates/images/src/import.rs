//! `import`: a single-layer image from a root filesystem tarball (plain, gzip, zstd or
//! xz), with Docker's `--change` instructions and `--message`.

use crate::config::import_config;
use crate::error::{ImageError, Result};
use crate::manifest::{manifest_for_layers, OCI_MANIFEST};
use crate::progress::Progress;
use crate::reference::ImageRef;
use crate::store::ImageStore;
use crate::unpack::{unpack_layer, BlobForm, LayerInput};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use strata_archive::DevicePolicy;
use strata_metadata::NewImage;
use strata_snapshots::chain_ids;

pub enum ImportSource<'a> {
    File(&'a Path),
    /// A tarball streamed by the caller (its stdin, a request body); named `-` in
    /// messages and in the image's comment, as Docker names stdin.
    Reader(Box<dyn Read + 'a>),
    /// An http(s) URL, streamed (never saved whole) through the import.
    Url(&'a str),
}

#[derive(Debug, Default, Clone)]
pub struct ImportOptions {
    /// `REPO[:TAG]` to tag the image with.
    pub reference: Option<String>,
    pub changes: Vec<String>,
    pub message: Option<String>,
}

impl ImageStore {
    /// Imports a rootfs tarball as a new image and returns its ID. All or nothing: a
    /// tarball with a hostile or damaged entry leaves the store as it was.
    pub fn import(&self, source: ImportSource<'_>, options: &ImportOptions, progress: &dyn Progress) -> Result<String> {
        let reference = options.reference.as_deref().map(ImageRef::parse).transpose()?;
        // Validate --change before reading anything.
        crate::config::validate_changes(&options.changes)?;
        let (label, reader, total): (String, Box<dyn Read + '_>, u64) = match source {
            ImportSource::Reader(reader) => ("-".into(), reader, 0),
            ImportSource::Url(url) => {
                let (total, reader) = fetch(url)?;
                (url.to_string(), reader, total)
            }
            ImportSource::File(path) => {
                let file = File::open(path).map_err(|e| ImageError::io(format!("opening {}", path.display()), e))?;
                let total = file.metadata().map_or(0, |m| m.len());
                (path.display().to_string(), Box::new(file), total)
            }
        };
        let _lock = self.lock_shared()?;
        // OS templates (OpenVZ, debootstrap) carry /dev nodes: kept in the layer, never made on
        // the host (the runtime provides /dev), as for a loaded image.
        let apply = self.apply_options(DevicePolicy::Skip);
        let layer = unpack_layer(
            self,
            LayerInput {
                reader,
                total,
                id: "rootfs",
                archive: &label,
                what: "rootfs tarball".into(),
                expected_blob: None,
                compression: None,
                form: BlobForm::Uncompressed,
                options: &apply,
                resumed: None,
            },
            progress,
        )?;
        let created = crate::config::timestamp_now();
        // Docker's comment names the URL, and "-" for a file or stdin (its CLI streams both).
        let from = if label.contains("://") { label.as_str() } else { "-" };
        let comment = options
            .message
            .clone()
            .unwrap_or_else(|| format!("Imported from {from}"));
        let config = import_config(layer.diff_id.as_ref(), &options.changes, &comment, &created)?;
        let config_bytes = serde_json::to_vec(&config).expect("configs serialize");
        let chain = chain_ids(std::slice::from_ref(&layer.diff_id)).remove(0);

        crate::failpoint::hit("import:unpacked");
        let layers = vec![layer.commit(self, &chain)?];
        crate::failpoint::hit("import:layer-published");
        let config_digest = self.put_document("config", &config_bytes)?;
        let manifest = manifest_for_layers(&config_digest, config_bytes.len() as u64, &layers)?;
        let manifest_digest = self.put_document("manifest", &manifest)?;
        crate::failpoint::hit("import:config-stored");
        let record = NewImage {
            id: config_digest.to_string(),
            manifest_digest: manifest_digest.to_string(),
            manifest_media_type: OCI_MANIFEST.into(),
            created: Some(created.clone()),
            labels: crate::config::labels_json(&config_bytes),
            layers,
        };
        let tags: Vec<String> = reference.iter().map(|r| r.to_string()).collect();
        self.db().insert_image(&record, &tags, &created)?;
        let name = reference.as_ref().map(|r| r.familiar()).unwrap_or_default();
        self.emit_image("import", &record.id, &name);
        Ok(record.id)
    }
}

/// Opens an http(s) URL for streaming, with its length when the server states it.
fn fetch(url: &str) -> Result<(u64, Box<dyn Read>)> {
    let response = ureq::get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => ImageError::io(
            format!("downloading {url}"),
            io::Error::other(format!("the server answered HTTP {code}")),
        ),
        other => ImageError::io(format!("downloading {url}"), io::Error::other(other.to_string())),
    })?;
    let total = response.body().content_length().unwrap_or(0);
    Ok((total, Box::new(response.into_body().into_reader())))
}
