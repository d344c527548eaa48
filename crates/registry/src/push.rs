//! `push`: every layer the registry lacks (checked with HEAD, linked from another
//! repository of the same registry where possible), the config, then the manifest.
//! A pulled image is sent byte for byte, so its manifest digest is unchanged; layers
//! stored only uncompressed (commit, import, docker-archive loads) are compressed on
//! the fly on all cores (see `gzip`) and streamed to the registry.

use crate::client::{Client, Payload, Scope};
use crate::error::{RegistryError, Result};
use crate::manifest::DOCKER_MANIFEST;
use std::io::{self, Read, Write};
use strata_archive::compression::{from_media_type, Compression};
use strata_content::{Digest, Hasher};
use strata_images::progress::{short_id, Counted};
use strata_images::remote::LayerBlob;
use strata_images::{ImageRef, ImageStore, LayerEvent, Progress};

/// Layers uploaded at once.
const PARALLEL_LAYERS: usize = 3;

/// How layers stored uncompressed are compressed for the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushCompression {
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy)]
pub struct PushOptions {
    pub compression: PushCompression,
    /// gzip 1–9 (default 6), zstd 1–19 (default 3).
    pub level: Option<u32>,
}

impl PushOptions {
    /// The level used: the given one, clamped, or the format's default.
    pub fn level_or_default(&self) -> u32 {
        match self.compression {
            PushCompression::Gzip => self.level.unwrap_or(6).clamp(1, 9),
            PushCompression::Zstd => self.level.unwrap_or(3).clamp(1, 19),
        }
    }
}

/// What a push did: Docker's closing line `TAG: digest: DIGEST size: N`.
#[derive(Debug)]
pub struct Pushed {
    pub tag: String,
    pub digest: Digest,
    pub size: usize,
}

/// A layer as the pushed manifest describes it.
#[derive(Debug, Clone)]
struct Sent {
    digest: Digest,
    media_type: String,
    size: u64,
}

/// Pushes the local image `reference` to its registry.
pub fn push(
    store: &ImageStore,
    client: &Client,
    reference: &ImageRef,
    options: PushOptions,
    progress: &dyn Progress,
) -> Result<Pushed> {
    let pushed = push_image(store, client, reference, options, progress)?;
    store.emit_image("push", &reference.familiar(), &reference.familiar_repository());
    Ok(pushed)
}

fn push_image(
    store: &ImageStore,
    client: &Client,
    reference: &ImageRef,
    options: PushOptions,
    progress: &dyn Progress,
) -> Result<Pushed> {
    let resolved = store.resolve(&reference.to_string())?;
    let image = resolved.image;
    let repository = reference.path();
    let manifest_digest = strata_images::parse_stored_digest(&image.manifest_digest)?;
    let stored_manifest = store
        .content()
        .read_blob(&manifest_digest, crate::client::MAX_MANIFEST_BYTES)
        .map_err(strata_images::ImageError::from)?;
    let docker_types = image.manifest_media_type == DOCKER_MANIFEST;
    let layers = store.layer_blobs(&image)?;
    for l in &layers {
        progress.layer(short_id(l.digest.as_ref()), LayerEvent::Waiting);
    }
    let jobs: Vec<_> = layers
        .iter()
        .map(|layer| move || push_layer(store, client, repository, layer, options, docker_types, progress))
        .collect();
    let sent = strata_images::run_parallel(jobs, PARALLEL_LAYERS)
        .into_iter()
        .collect::<Result<Vec<Sent>>>()?;
    let config = strata_images::parse_stored_digest(&image.id)?;
    if client.blob_exists(repository, &config)?.is_none() {
        let (size, mut reader) = store
            .open_layer_blob(&config, None)
            .map_err(|e| RegistryError::io(format!("reading config {config}"), e))?;
        client.upload_blob(repository, &config, &mut reader, size)?;
    }
    let unchanged = layers
        .iter()
        .zip(&sent)
        .all(|(l, s)| l.digest == s.digest && l.media_type == s.media_type);
    let manifest = if unchanged {
        stored_manifest
    } else {
        with_layers(&stored_manifest, &sent)?
    };
    let tag = reference.tag().unwrap_or("latest").to_string();
    let digest = put_manifest(client, repository, &tag, &manifest, &image.manifest_media_type)?;
    let registry = client.registry();
    let mut db = store.db();
    for s in &sent {
        db.record_blob_source(s.digest.as_ref(), registry, repository)
            .map_err(strata_images::ImageError::from)?;
    }
    Ok(Pushed {
        tag,
        digest,
        size: manifest.len(),
    })
}

fn put_manifest(client: &Client, repository: &str, tag: &str, manifest: &[u8], media_type: &str) -> Result<Digest> {
    let url = client.url(&format!("/v2/{repository}/manifests/{tag}"));
    let response = client.send(
        "PUT",
        &url,
        &Scope::push(repository),
        &[],
        Payload::Bytes(manifest, media_type),
    )?;
    if response.status().as_u16() != 201 {
        return Err(client.status_error(&format!("pushing the manifest of {repository}:{tag}"), response));
    }
    Ok(strata_content::sha256(manifest))
}

/// The stored manifest with its layer descriptors replaced by what was sent.
fn with_layers(stored: &[u8], sent: &[Sent]) -> Result<Vec<u8>> {
    let mut doc: serde_json::Value =
        serde_json::from_slice(stored).map_err(|e| RegistryError::invalid("stored manifest", e.to_string()))?;
    let layers = doc
        .get_mut("layers")
        .and_then(|l| l.as_array_mut())
        .filter(|l| l.len() == sent.len())
        .ok_or_else(|| RegistryError::invalid("stored manifest", "its layers do not match the image's"))?;
    for (desc, s) in layers.iter_mut().zip(sent) {
        desc["mediaType"] = s.media_type.clone().into();
        desc["digest"] = s.digest.to_string().into();
        desc["size"] = s.size.into();
    }
    Ok(serde_json::to_vec(&doc).expect("JSON values serialize"))
}

/// The media type of a compressed form of an uncompressed layer.
fn compressed_type(compression: PushCompression, docker_types: bool) -> &'static str {
    match (compression, docker_types) {
        (PushCompression::Gzip, true) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        (PushCompression::Gzip, false) => Compression::Gzip.layer_media_type(),
        (PushCompression::Zstd, _) => Compression::Zstd.layer_media_type(),
    }
}

fn push_layer(
    store: &ImageStore,
    client: &Client,
    repository: &str,
    layer: &LayerBlob,
    options: PushOptions,
    docker_types: bool,
    progress: &dyn Progress,
) -> Result<Sent> {
    let id = short_id(layer.digest.as_ref()).to_string();
    let compressed = from_media_type(&layer.media_type).is_some_and(|c| c != Compression::None);
    if compressed {
        let sent = Sent {
            digest: layer.digest.clone(),
            media_type: layer.media_type.clone(),
            size: layer.size,
        };
        if let Some(event) = already_there(store, client, repository, &sent.digest)? {
            progress.layer(&id, event);
            return Ok(sent);
        }
        let (size, reader) = store
            .open_layer_blob(&layer.digest, Some((&layer.chain, layer.size)))
            .map_err(|e| RegistryError::io(format!("reading layer {}", layer.digest), e))?;
        progress.layer(&id, LayerEvent::Started { total: size });
        let mut counted = Counted::new(reader, &id, progress);
        client.upload_blob(repository, &layer.digest, &mut counted, size)?;
        progress.layer(&id, LayerEvent::Finished);
        return Ok(sent);
    }
    let media_type = compressed_type(options.compression, docker_types);
    // A remembered compressed form is reused only for the same format and level.
    let form = format!("{media_type};level={}", options.level_or_default());
    let remembered = store
        .db()
        .pushed_blob(layer.diff_id.as_ref(), &form)
        .map_err(strata_images::ImageError::from)?;
    if let Some((digest, size)) = remembered {
        let digest = strata_images::parse_stored_digest(&digest)?;
        if let Some(event) = already_there(store, client, repository, &digest)? {
            progress.layer(&id, event);
            return Ok(Sent {
                digest,
                media_type: media_type.to_string(),
                size: size as u64,
            });
        }
    }
    let (size, reader) = store
        .open_layer_blob(&layer.digest, Some((&layer.chain, layer.size)))
        .map_err(|e| RegistryError::io(format!("reading layer {}", layer.digest), e))?;
    progress.layer(&id, LayerEvent::Started { total: size });
    let counted = Counted::new(reader, &id, progress);
    let sent = upload_compressed(client, repository, counted, options, media_type)?;
    progress.layer(&id, LayerEvent::Finished);
    store
        .db()
        .record_pushed_blob(layer.diff_id.as_ref(), &form, sent.digest.as_ref(), sent.size as i64)
        .map_err(strata_images::ImageError::from)?;
    Ok(sent)
}

/// Whether the repository has the blob (`Exists`), linking it from another repository
/// of the same registry when one is known to hold it (`Mounted`); `None` if neither.
fn already_there(store: &ImageStore, client: &Client, repository: &str, digest: &Digest) -> Result<Option<LayerEvent>> {
    if client.blob_exists(repository, digest)?.is_some() {
        return Ok(Some(LayerEvent::Exists));
    }
    let sources = store
        .db()
        .blob_sources(digest.as_ref(), client.registry())
        .map_err(strata_images::ImageError::from)?;
    for from in sources.iter().filter(|s| *s != repository) {
        if client.mount_blob(repository, digest, from)? {
            return Ok(Some(LayerEvent::Mounted { from: from.clone() }));
        }
    }
    Ok(None)
}

/// Compresses `reader` on a feeder thread into a pipe that one streamed upload reads,
/// hashing what is sent.
fn upload_compressed(
    client: &Client,
    repository: &str,
    mut reader: impl Read + Send,
    options: PushOptions,
    media_type: &str,
) -> Result<Sent> {
    let (pipe_reader, pipe_writer) = io::pipe().map_err(|e| RegistryError::io("creating a pipe", e))?;
    let location = client.start_upload(repository)?;
    let (uploaded, fed, digest, count) = std::thread::scope(|s| {
        let feeder = s.spawn(move || compress(&mut reader, pipe_writer, options));
        let mut hashed = Hashing {
            inner: pipe_reader,
            hasher: Hasher::sha256(),
            count: 0,
        };
        let uploaded = client.upload_stream(repository, &location, &mut hashed);
        // Closing our end stops a feeder still writing after a failed upload.
        let Hashing { inner, hasher, count } = hashed;
        drop(inner);
        let fed = feeder.join().expect("compressor thread does not panic");
        (uploaded, fed, hasher.finish(), count)
    });
    fed.map_err(|e| RegistryError::io("compressing a layer for the push", e))?;
    let location = uploaded?;
    client.finish_upload(repository, &location, &digest, None)?;
    Ok(Sent {
        digest,
        media_type: media_type.to_string(),
        size: count,
    })
}

fn compress(reader: &mut dyn Read, out: io::PipeWriter, options: PushOptions) -> io::Result<()> {
    match options.compression {
        PushCompression::Gzip => {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            let mut out = out;
            crate::gzip::compress(reader, &mut out, options.level_or_default(), threads)?;
        }
        PushCompression::Zstd => {
            let level = options.level_or_default() as i32;
            let mut writer = zstd::stream::write::Encoder::new(out, level)?;
            io::copy(reader, &mut writer)?;
            writer.finish()?.flush()?;
        }
    }
    Ok(())
}

struct Hashing<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}
