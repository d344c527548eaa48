//! Reading image archives: `docker save` output (legacy ≤ 24 and ≥ 25), `podman save`,
//! skopeo's `docker-archive:`/`oci-archive:`, and OCI image layouts in a tar.
//!
//! Reading only parses and checks the archive's own bookkeeping (JSON documents,
//! digests of the small documents, media types, cycles). Layer bytes are verified by
//! the importer while they stream into the store.

use crate::compression::{from_media_type, Compression};
use crate::tar_index::{IndexError, TarIndex};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;
use strata_content::{Digest, Hasher};

/// JSON documents (manifests, indexes, configs) larger than this are refused.
pub const MAX_JSON_BYTES: u64 = 4 << 20;
/// Nested indexes deeper than this are refused (also bounds cycles).
const MAX_INDEX_DEPTH: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{what} is not valid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("digest mismatch for {what}: the archive says {expected}, the bytes hash to {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{what} has unknown media type {media_type:?}; strata loads OCI and Docker image layers only")]
    MediaType { what: String, media_type: String },
    #[error("not an image archive: it has neither manifest.json (docker-archive) nor oci-layout and index.json (OCI layout)")]
    UnknownFormat,
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Invalid {
        what: what.into(),
        reason: reason.into(),
    }
}

/// Which kind of archive was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciLayout,
}

/// A blob inside the archive: its member name and, when the archive states it, digest.
#[derive(Debug, Clone)]
pub struct BlobSource {
    pub member: String,
    pub digest: Option<Digest>,
}

#[derive(Debug, Clone)]
pub struct LayerSource {
    pub blob: BlobSource,
    /// Declared by an OCI manifest; None in docker-archives (sniffed while reading).
    pub media_type: Option<String>,
    pub compression: Option<Compression>,
}

/// A manifest found in an OCI layout, kept byte for byte so its digest is preserved.
#[derive(Debug, Clone)]
pub struct ManifestSource {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// One image the archive holds.
#[derive(Debug, Clone)]
pub struct ArchiveImage {
    pub config: BlobSource,
    pub layers: Vec<LayerSource>,
    /// Names as the archive writes them (e.g. `busybox:latest`, `localhost/x:1`).
    pub names: Vec<String>,
    pub manifest: Option<ManifestSource>,
}

/// Reads the images an archive holds. docker-archive's `manifest.json` wins where an
/// archive (Docker ≥ 25) carries both forms, as `docker load` does.
pub fn read_archive(index: &TarIndex) -> Result<(Format, Vec<ArchiveImage>), ArchiveError> {
    if index.contains("manifest.json") {
        return Ok((Format::DockerArchive, read_docker_manifest(index)?));
    }
    if index.contains("index.json") && index.contains("oci-layout") {
        return Ok((Format::OciLayout, read_oci_layout(index)?));
    }
    Err(ArchiveError::UnknownFormat)
}

fn read_json_member<T: for<'de> Deserialize<'de>>(
    index: &TarIndex,
    member: &str,
) -> Result<(Vec<u8>, T), ArchiveError> {
    let bytes = index.read_member(member, MAX_JSON_BYTES).map_err(|e| match e {
        IndexError::Member { reason, .. } if reason.contains("too large") => {
            invalid(member, format!("is too large (over {MAX_JSON_BYTES} bytes)"))
        }
        other => other.into(),
    })?;
    let value = serde_json::from_slice(&bytes).map_err(|source| ArchiveError::Json {
        what: member.to_string(),
        source,
    })?;
    Ok((bytes, value))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn read_docker_manifest(index: &TarIndex) -> Result<Vec<ArchiveImage>, ArchiveError> {
    let (_, entries): (_, Vec<DockerManifestEntry>) = read_json_member(index, "manifest.json")?;
    if entries.is_empty() {
        return Err(invalid("manifest.json", "lists no images"));
    }
    entries
        .into_iter()
        .map(|entry| {
            let config = blob_source(index, &entry.config)?;
            let layers = entry
                .layers
                .iter()
                .map(|l| {
                    Ok(LayerSource {
                        blob: blob_source(index, l)?,
                        media_type: None,
                        compression: None,
                    })
                })
                .collect::<Result<_, ArchiveError>>()?;
            Ok(ArchiveImage {
                config,
                layers,
                names: entry.repo_tags.unwrap_or_default(),
                manifest: None,
            })
        })
        .collect()
}

/// A member that must exist; its digest is known when its name encodes one
/// (`blobs/sha256/<hex>`, or legacy `<hex>.json`).
fn blob_source(index: &TarIndex, member: &str) -> Result<BlobSource, ArchiveError> {
    if !index.contains(member) {
        return Err(invalid(
            format!("manifest.json entry {member:?}"),
            "is missing from the archive",
        ));
    }
    Ok(BlobSource {
        member: member.to_string(),
        digest: digest_from_member_name(member),
    })
}

fn digest_from_member_name(member: &str) -> Option<Digest> {
    if let Some(rest) = member.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return strata_content::parse_digest(&format!("{alg}:{hex}")).ok();
    }
    let hex = member.strip_suffix(".json")?;
    strata_content::parse_digest(&format!("sha256:{hex}")).ok()
}

fn blob_member(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.digest())
}

/// Reads a blob named by a descriptor and checks its digest and size.
fn read_descriptor(index: &TarIndex, desc: &Descriptor, what: &str) -> Result<Vec<u8>, ArchiveError> {
    let digest = desc.digest();
    strata_content::Algorithm::of(digest).map_err(|e| invalid(what, e.to_string()))?;
    let member = blob_member(digest);
    if !index.contains(&member) {
        return Err(invalid(what, format!("blob {digest} is missing from the archive")));
    }
    let bytes = index.read_member(&member, MAX_JSON_BYTES).map_err(|e| match e {
        IndexError::Member { reason, .. } if reason.contains("too large") => invalid(what, "is too large"),
        other => other.into(),
    })?;
    let mut hasher = Hasher::for_digest(digest).map_err(|e| invalid(what, e.to_string()))?;
    hasher.update(&bytes);
    let actual = hasher.finish();
    if &actual != digest {
        return Err(ArchiveError::DigestMismatch {
            what: what.to_string(),
            expected: digest.clone(),
            actual,
        });
    }
    if bytes.len() as u64 != desc.size() {
        return Err(invalid(
            what,
            format!("is {} bytes, the descriptor says {}", bytes.len(), desc.size()),
        ));
    }
    Ok(bytes)
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, ArchiveError> {
    serde_json::from_slice(bytes).map_err(|source| ArchiveError::Json {
        what: what.to_string(),
        source,
    })
}

fn read_oci_layout(index: &TarIndex) -> Result<Vec<ArchiveImage>, ArchiveError> {
    let (_, top): (_, ImageIndex) = read_json_member(index, "index.json")?;
    let mut images = Vec::new();
    for desc in top.manifests() {
        let names = descriptor_names(desc);
        collect_manifests(index, desc, names, 0, &mut images)?;
    }
    if images.is_empty() {
        return Err(invalid("index.json", "lists no image manifests for this platform"));
    }
    Ok(images)
}

fn descriptor_names(desc: &Descriptor) -> Vec<String> {
    let Some(ann) = desc.annotations() else {
        return Vec::new();
    };
    if let Some(full) = ann.get("io.containerd.image.name") {
        return vec![full.clone()];
    }
    match ann.get("org.opencontainers.image.ref.name") {
        // A bare tag ("latest") names no repository: the image loads untagged.
        Some(r) if r.contains('/') || r.contains(':') => vec![r.clone()],
        _ => Vec::new(),
    }
}

fn collect_manifests(
    index: &TarIndex,
    desc: &Descriptor,
    names: Vec<String>,
    depth: usize,
    out: &mut Vec<ArchiveImage>,
) -> Result<(), ArchiveError> {
    if depth > MAX_INDEX_DEPTH {
        return Err(invalid(
            "index.json",
            format!("nested image indexes deeper than {MAX_INDEX_DEPTH} (or a cycle of indexes)"),
        ));
    }
    let what = format!("manifest {}", desc.digest());
    match desc.media_type() {
        MediaType::ImageIndex | MediaType::Other(_) if is_index(desc.media_type()) => {
            let bytes = read_descriptor(index, desc, &format!("image index {}", desc.digest()))?;
            let nested: ImageIndex = parse_json(&bytes, &format!("image index {}", desc.digest()))?;
            let chosen = select_platform(nested.manifests());
            if chosen.is_empty() {
                return Err(invalid(
                    format!("image index {}", desc.digest()),
                    "has no manifest for linux/amd64",
                ));
            }
            for child in chosen {
                collect_manifests(index, child, names.clone(), depth + 1, out)?;
            }
            Ok(())
        }
        MediaType::ImageManifest | MediaType::Other(_) if is_manifest(desc.media_type()) => {
            let bytes = read_descriptor(index, desc, &what)?;
            out.push(manifest_image(index, desc, bytes, names)?);
            Ok(())
        }
        other => Err(ArchiveError::MediaType {
            what: format!("index.json entry {}", desc.digest()),
            media_type: other.to_string(),
        }),
    }
}

fn is_index(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageIndex) || mt.to_string() == "application/vnd.docker.distribution.manifest.list.v2+json"
}

fn is_manifest(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageManifest) || mt.to_string() == "application/vnd.docker.distribution.manifest.v2+json"
}

/// The host's platform in OCI terms.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn select_platform(manifests: &[Descriptor]) -> Vec<&Descriptor> {
    let matching: Vec<_> = manifests
        .iter()
        .filter(|d| match d.platform() {
            None => true,
            Some(p) => p.os().to_string() == "linux" && p.architecture().to_string() == host_architecture(),
        })
        .collect();
    matching.into_iter().take(1).collect()
}

fn manifest_image(
    index: &TarIndex,
    desc: &Descriptor,
    bytes: Vec<u8>,
    names: Vec<String>,
) -> Result<ArchiveImage, ArchiveError> {
    let what = format!("manifest {}", desc.digest());
    let manifest: ImageManifest = parse_json(&bytes, &what)?;
    let config_member = blob_member(manifest.config().digest());
    if !index.contains(&config_member) {
        return Err(invalid(
            &what,
            format!("config blob {} is missing from the archive", manifest.config().digest()),
        ));
    }
    let layers = manifest
        .layers()
        .iter()
        .map(|layer| {
            let media_type = layer.media_type().to_string();
            let compression = from_media_type(&media_type).ok_or_else(|| ArchiveError::MediaType {
                what: format!("layer {} of {what}", layer.digest()),
                media_type: media_type.clone(),
            })?;
            let member = blob_member(layer.digest());
            if !index.contains(&member) {
                return Err(invalid(
                    &what,
                    format!("layer blob {} is missing from the archive", layer.digest()),
                ));
            }
            Ok(LayerSource {
                blob: BlobSource {
                    member,
                    digest: Some(layer.digest().clone()),
                },
                media_type: Some(media_type),
                compression: Some(compression),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ArchiveImage {
        config: BlobSource {
            member: config_member,
            digest: Some(manifest.config().digest().clone()),
        },
        layers,
        names,
        manifest: Some(ManifestSource {
            digest: desc.digest().clone(),
            media_type: desc.media_type().to_string(),
            bytes,
        }),
    })
}
