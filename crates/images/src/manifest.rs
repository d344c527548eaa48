//! The OCI manifest strata records for images that arrived without one (import, and
//! docker-archive loads), so every image has a manifest to save and push.

use oci_spec::image::{Descriptor, DescriptorBuilder, ImageManifestBuilder, MediaType};
use strata_content::Digest;

/// A layer blob as a manifest describes it.
pub struct LayerBlob<'a> {
    pub digest: &'a Digest,
    pub media_type: &'a str,
    pub size: u64,
}

fn descriptor(media_type: MediaType, digest: &Digest, size: u64) -> Descriptor {
    DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest.clone())
        .size(size)
        .build()
        .expect("descriptor fields are set")
}

/// Serialized OCI image manifest for a config and its layers.
pub fn oci_manifest(config: &Digest, config_size: u64, layers: &[LayerBlob<'_>]) -> Vec<u8> {
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, config, config_size))
        .layers(
            layers
                .iter()
                .map(|l| descriptor(MediaType::from(l.media_type), l.digest, l.size))
                .collect::<Vec<_>>(),
        )
        .build()
        .expect("manifest fields are set");
    serde_json::to_vec(&manifest).expect("manifests serialize")
}

/// The manifest of a config and its recorded layers.
pub fn manifest_for_layers(
    config: &Digest,
    config_size: u64,
    layers: &[strata_metadata::NewLayer],
) -> crate::Result<Vec<u8>> {
    let blobs: Vec<(Digest, &str, u64)> = layers
        .iter()
        .map(|l| {
            Ok((
                crate::store::digest(&l.blob_digest)?,
                l.blob_media_type.as_str(),
                l.blob_size as u64,
            ))
        })
        .collect::<crate::Result<_>>()?;
    let refs: Vec<LayerBlob<'_>> = blobs
        .iter()
        .map(|(d, m, s)| LayerBlob {
            digest: d,
            media_type: m,
            size: *s,
        })
        .collect();
    Ok(oci_manifest(config, config_size, &refs))
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
