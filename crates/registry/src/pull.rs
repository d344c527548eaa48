//! `pull`: a manifest (through an index to this platform's), the config, then the
//! layers not yet stored, several at once, each streamed through digest verification,
//! decompression and unpacking as its bytes arrive. Nothing is listed as an image until
//! every layer was verified.

use crate::blobs::{verify, BlobReader};
use crate::client::{Client, Payload, Scope, ACCEPT_MANIFESTS, MAX_MANIFEST_BYTES};
use crate::error::{RegistryError, Result};
use crate::manifest::{classify, select, Document, Platform};
use oci_spec::image::ImageManifest;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use strata_archive::compression::{from_media_type, Compression};
use strata_content::Digest;
use strata_images::progress::short_id;
use strata_images::remote::{FetchedLayer, RemoteImage, RemoteImageLayer, RemoteLayer};
use strata_images::ImageError;
use strata_images::{ImageRef, ImageStore, LayerEvent, Progress};
use strata_snapshots::chain_ids;

/// Layers downloaded at once.
const PARALLEL_LAYERS: usize = 3;

/// What a pull did.
#[derive(Debug)]
pub struct Pulled {
    pub id: String,
    /// The manifest digest (`Digest:` in Docker's output).
    pub digest: Digest,
    /// False when the image was already stored ("Image is up to date").
    pub new: bool,
}

/// A manifest as fetched: bytes, media type and digest.
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
    pub document: Document,
}

impl Client {
    /// Fetches a manifest or index by tag or digest, checking its digest and shape.
    pub fn fetch_manifest(&self, repository: &str, reference: &str) -> Result<FetchedManifest> {
        let what = format!("manifest for {}/{repository}:{reference}", self.registry()).replace(":sha256:", "@sha256:");
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"));
        let response = self.send(
            "GET",
            &url,
            &Scope::pull(repository),
            &[("Accept", ACCEPT_MANIFESTS)],
            Payload::Empty,
        )?;
        if !response.status().is_success() {
            return Err(self.status_error(&what, response));
        }
        let content_type = header(&response, "content-type");
        let announced = header(&response, "docker-content-digest");
        let mut bytes = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::io(what.clone(), e))?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(RegistryError::invalid(
                &what,
                format!("it is larger than {MAX_MANIFEST_BYTES} bytes; refused"),
            ));
        }
        let digest = match strata_content::parse_digest(reference) {
            Ok(pinned) => {
                verify(&bytes, &pinned, &what)?;
                pinned
            }
            Err(_) => {
                let computed = strata_content::sha256(&bytes);
                if let Some(claimed) = announced.as_deref().and_then(|a| strata_content::parse_digest(a).ok()) {
                    if claimed.algorithm() == computed.algorithm() && claimed != computed {
                        return Err(RegistryError::invalid(
                            &what,
                            format!("digest mismatch: the registry names it {claimed}, its bytes hash to {computed}"),
                        ));
                    }
                }
                computed
            }
        };
        let (document, media_type) = classify(&bytes, content_type.as_deref(), &what)?;
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest,
            document,
        })
    }

    /// The image manifest for `platform`: the one named, or the index's entry.
    pub fn fetch_image_manifest(
        &self,
        repository: &str,
        reference: &str,
        platform: &Platform,
    ) -> Result<(FetchedManifest, ImageManifest)> {
        let first = self.fetch_manifest(repository, reference)?;
        let chosen = match &first.document {
            Document::Image(_) => first,
            Document::Index(index) => {
                let entry = select(index, platform).ok_or_else(|| RegistryError::NotFound {
                    what: format!("{}/{repository}:{reference}", self.registry()),
                    reason: format!(
                        "no matching manifest for {platform} in the manifest list entries (it has: {})",
                        index
                            .manifests()
                            .iter()
                            .filter_map(|d| d
                                .platform()
                                .as_ref()
                                .map(|p| format!("{}/{}", p.os(), p.architecture())))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
                let inner = self.fetch_manifest(repository, entry.digest().as_ref())?;
                if matches!(inner.document, Document::Index(_)) {
                    return Err(RegistryError::invalid(
                        format!("manifest {}", entry.digest()),
                        "an index entry points at another index; refused",
                    ));
                }
                inner
            }
        };
        let Document::Image(manifest) = &chosen.document else {
            unreachable!("chosen is an image manifest")
        };
        let manifest = (**manifest).clone();
        Ok((chosen, manifest))
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Pulls `reference` into the store.
pub fn pull(
    store: &ImageStore,
    client: &Client,
    reference: &ImageRef,
    platform: &Platform,
    progress: &dyn Progress,
) -> Result<Pulled> {
    let pulled = pull_image(store, client, reference, platform, progress)?;
    store.emit_image("pull", &reference.familiar(), &reference.familiar_repository());
    Ok(pulled)
}

fn pull_image(
    store: &ImageStore,
    client: &Client,
    reference: &ImageRef,
    platform: &Platform,
    progress: &dyn Progress,
) -> Result<Pulled> {
    let repository = reference.path();
    let target = reference.digest().or(reference.tag()).unwrap_or("latest");
    let (fetched, manifest) = client.fetch_image_manifest(repository, target, platform)?;
    let config_desc = manifest.config();
    let config_digest = strata_content::parse_digest(config_desc.digest().as_ref())
        .map_err(|e| RegistryError::invalid("manifest config", e.to_string()))?;
    let config = client.fetch_document(
        repository,
        &config_digest,
        config_desc.size(),
        strata_images::store::MAX_DOCUMENT_BYTES,
    )?;
    let source = format!("{}/{repository}", client.registry());
    let what = format!("config {config_digest}");
    let parsed = strata_images::config::parse(&config, &source, &what)?;
    let diff_ids = parsed
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| strata_content::parse_digest(d).map_err(|e| RegistryError::invalid(&what, e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    if diff_ids.len() != manifest.layers().len() {
        return Err(RegistryError::invalid(
            &what,
            format!(
                "rootfs.diff_ids lists {} layers but the manifest has {}",
                diff_ids.len(),
                manifest.layers().len()
            ),
        ));
    }
    let blobs = manifest
        .layers()
        .iter()
        .map(|l| {
            strata_content::parse_digest(l.digest().as_ref())
                .map_err(|e| RegistryError::invalid(format!("manifest {}", fetched.digest), e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let _lock = store.lock_for_adding()?;
    let chains = chain_ids(&diff_ids);
    let mut missing = Vec::new();
    for (i, (chain, blob)) in chains.iter().zip(&blobs).enumerate() {
        if store.has_layer(chain, &diff_ids[i], blob)? {
            progress.layer(short_id(blob.as_ref()), LayerEvent::Exists);
        } else {
            progress.layer(short_id(blob.as_ref()), LayerEvent::Waiting);
            missing.push(i);
        }
    }
    let jobs: Vec<_> = missing
        .iter()
        .map(|&i| {
            let (blob, diff_id, source) = (&blobs[i], &diff_ids[i], &source);
            let desc = &manifest.layers()[i];
            move || fetch_one(store, client, repository, blob, diff_id, desc, source, progress)
        })
        .collect();
    let mut fetched_layers = strata_images::run_parallel(jobs, PARALLEL_LAYERS).into_iter();
    strata_images::failpoint::hit("pull:layers-fetched");
    let mut layers = Vec::new();
    for (i, (blob, diff_id)) in blobs.into_iter().zip(diff_ids).enumerate() {
        let fetched_layer = if missing.contains(&i) {
            Some(fetched_layers.next().expect("one result per job")?)
        } else {
            None
        };
        layers.push(RemoteImageLayer {
            blob,
            diff_id,
            fetched: fetched_layer,
        });
    }
    // The last moment to give up: after this the image is listed.
    if progress.cancelled() {
        return Err(RegistryError::Cancelled);
    }
    let recorded = store.record_remote(RemoteImage {
        config,
        created: parsed.created().clone(),
        manifest: fetched.bytes,
        manifest_digest: fetched.digest.clone(),
        manifest_media_type: fetched.media_type,
        layers,
        tags: reference.tag().map(|_| reference.clone()).into_iter().collect(),
    })?;
    // Remember where the blobs live, so a push to another repository of this registry
    // can mount them instead of sending them.
    let mut db = store.db();
    for layer in manifest.layers() {
        db.record_blob_source(layer.digest().as_ref(), client.registry(), repository)
            .map_err(ImageError::from)?;
    }
    drop(db);
    Ok(Pulled {
        id: recorded.id,
        digest: fetched.digest,
        new: recorded.new,
    })
}

/// Downloads one layer into the store. A compressed blob is downloaded resumably: a pull
/// that dies on the network leaves its bytes for the next pull, which continues with a
/// Range request; any other failure discards them.
#[allow(clippy::too_many_arguments)]
fn fetch_one(
    store: &ImageStore,
    client: &Client,
    repository: &str,
    blob: &Digest,
    diff_id: &Digest,
    desc: &oci_spec::image::Descriptor,
    source: &str,
    progress: &dyn Progress,
) -> Result<FetchedLayer> {
    let id = short_id(blob.as_ref()).to_string();
    let media_type = desc.media_type().to_string();
    let compressed = from_media_type(&media_type).is_some_and(|c| c != Compression::None);
    let mut resumed = match compressed {
        true => store.content().resumable_ingest(blob).map_err(ImageError::from)?,
        false => None,
    };
    if resumed.as_ref().is_some_and(|i| i.resumed() > desc.size()) {
        resumed.take().expect("checked").discard();
        resumed = store.content().resumable_ingest(blob).map_err(ImageError::from)?;
    }
    let offset = resumed.as_ref().map_or(0, |i| i.resumed());
    if offset > 0 {
        log::info!("{blob}: resuming the download at byte {offset}");
    }
    let prefix: Box<dyn Read + Send> = match &resumed {
        Some(i) => Box::new(i.resumed_bytes().map_err(ImageError::from)?),
        None => Box::new(std::io::empty()),
    };
    let gave_up = AtomicBool::new(false);
    let network = BlobReader::new(client, repository, blob, desc.size())
        .starting_at(offset)
        .reporting(&gave_up);
    let result = store.fetch_layer(
        RemoteLayer {
            reader: prefix.chain(network),
            size: desc.size(),
            id: &id,
            source,
            blob,
            media_type: &media_type,
            diff_id,
            resumed,
        },
        progress,
    );
    if result.is_err() && compressed && !gave_up.load(Ordering::Relaxed) {
        store.content().discard_partial(blob).map_err(ImageError::from)?;
    }
    Ok(result?)
}
