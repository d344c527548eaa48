//! What a registry client needs from the store: layers unpacked from a stream as it
//! arrives, images recorded from a fetched manifest and config, and layer blobs read
//! back for a push. The protocol itself lives in `strata-registry`.

use crate::error::{ImageError, Result};
use crate::progress::Progress;
use crate::reference::ImageRef;
use crate::store::ImageStore;
use crate::unpack::{unpack_layer, BlobForm, LayerInput, UnpackedLayer};
use std::io::{self, Read};
use strata_archive::compression::from_media_type;
use strata_archive::DevicePolicy;
use strata_content::Digest;
use strata_metadata::NewImage;
use strata_snapshots::{chain_ids, ChainId};

/// A layer read from a remote stream: verified, unpacked, not yet visible.
pub struct FetchedLayer(UnpackedLayer);

/// One layer to fetch: its stream and what the manifest and config say of it.
pub struct RemoteLayer<'a, R> {
    pub reader: R,
    /// Bytes the manifest announces.
    pub size: u64,
    /// Short ID for progress lines.
    pub id: &'a str,
    /// For errors: where the layer comes from (`host/repository`).
    pub source: &'a str,
    pub blob: &'a Digest,
    pub media_type: &'a str,
    pub diff_id: &'a Digest,
    /// A resumed download whose bytes lead `reader` (see
    /// [`strata_content::ContentStore::resumable_ingest`]).
    pub resumed: Option<strata_content::Ingest>,
}

/// A layer of an image being recorded: fetched now, or already in the store.
pub struct RemoteImageLayer {
    pub blob: Digest,
    pub diff_id: Digest,
    pub fetched: Option<FetchedLayer>,
}

/// An image whose documents were fetched and verified, with its layers.
pub struct RemoteImage {
    pub config: Vec<u8>,
    pub created: Option<String>,
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    pub layers: Vec<RemoteImageLayer>,
    pub tags: Vec<ImageRef>,
}

/// What recording a remote image did.
#[derive(Debug)]
pub struct RecordedImage {
    pub id: String,
    /// False when the image was in the store already (only tags may have moved).
    pub new: bool,
}

/// A layer of a stored image, as a push sends it.
pub struct LayerBlob {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub diff_id: Digest,
    pub chain: ChainId,
}

impl ImageStore {
    /// The store-wide shared lock every adding operation holds while it decides which
    /// layers it can skip and until it recorded the image using them.
    pub fn lock_for_adding(&self) -> Result<crate::lock::StoreLock> {
        self.lock_shared()
    }

    /// Whether the layer `chain` is stored and its blob `blob` can be produced, so a
    /// pull can skip it ("Already exists").
    pub fn has_layer(&self, chain: &ChainId, diff_id: &Digest, blob: &Digest) -> Result<bool> {
        Ok(self.stored_layer(chain, diff_id, blob)?.is_some())
    }

    /// Streams one layer into the store: the blob is kept as given, verified against
    /// `blob`, and its content against `diff_id`. Nothing is visible until
    /// [`ImageStore::record_remote`].
    pub fn fetch_layer<R: Read>(&self, layer: RemoteLayer<'_, R>, progress: &dyn Progress) -> Result<FetchedLayer> {
        let what = format!("layer {}", layer.blob);
        let compression = from_media_type(layer.media_type).ok_or_else(|| ImageError::Invalid {
            archive: layer.source.to_string(),
            what: what.clone(),
            reason: format!("unsupported layer media type {:?}", layer.media_type),
        })?;
        let options = self.apply_options(DevicePolicy::Skip);
        let unpacked = unpack_layer(
            self,
            LayerInput {
                reader: layer.reader,
                total: layer.size,
                id: layer.id,
                archive: layer.source,
                what: what.clone(),
                expected_blob: Some(layer.blob.clone()),
                compression: Some(compression),
                form: BlobForm::AsGiven,
                options: &options,
                resumed: layer.resumed,
            },
            progress,
        )?;
        if &unpacked.diff_id != layer.diff_id {
            return Err(ImageError::Invalid {
                archive: layer.source.to_string(),
                what,
                reason: format!(
                    "diff ID mismatch: the config says {}, the layer's content hashes to {}",
                    layer.diff_id, unpacked.diff_id
                ),
            });
        }
        Ok(FetchedLayer(unpacked))
    }

    /// Publishes the fetched layers, then the config and manifest, then the record.
    pub fn record_remote(&self, image: RemoteImage) -> Result<RecordedImage> {
        let diff_ids: Vec<Digest> = image.layers.iter().map(|l| l.diff_id.clone()).collect();
        let chains = chain_ids(&diff_ids);
        let mut layers = Vec::new();
        for (layer, chain) in image.layers.into_iter().zip(&chains) {
            layers.push(match layer.fetched {
                Some(FetchedLayer(unpacked)) => unpacked.commit(self, chain)?,
                None => self.existing_layer(chain, &layer.diff_id, &layer.blob)?,
            });
        }
        crate::failpoint::hit("pull:layers-published");
        let id = self.put_document("config", &image.config)?;
        let mut ingest = self.content().ingest(Some(&image.manifest_digest))?;
        io::Write::write_all(&mut ingest, &image.manifest).map_err(|e| ImageError::io("storing manifest", e))?;
        ingest.commit(Some(&image.manifest_digest))?;
        let new = self.db().image(id.as_ref())?.is_none();
        let record = NewImage {
            id: id.to_string(),
            manifest_digest: image.manifest_digest.to_string(),
            manifest_media_type: image.manifest_media_type,
            created: image.created,
            labels: crate::config::labels_json(&image.config),
            layers,
        };
        let tags: Vec<String> = image.tags.iter().map(|t| t.to_string()).collect();
        crate::failpoint::hit("pull:before-record");
        self.db()
            .insert_image(&record, &tags, &crate::config::timestamp_now())?;
        Ok(RecordedImage { id: record.id, new })
    }

    /// The layers of a stored image, bottom first, as its manifest lists them.
    pub fn layer_blobs(&self, image: &strata_metadata::ImageRecord) -> Result<Vec<LayerBlob>> {
        image
            .layers
            .iter()
            .map(|l| {
                Ok(LayerBlob {
                    digest: crate::store::digest(&l.blob_digest)?,
                    media_type: l.blob_media_type.clone(),
                    size: l.blob_size as u64,
                    diff_id: crate::store::digest(&l.diff_id)?,
                    chain: ChainId::parse(&l.chain_id)
                        .map_err(|e| ImageError::Conflict(format!("layer record {} is damaged: {e}", l.chain_id)))?,
                })
            })
            .collect()
    }
}
