//! The OCI manifest strata records for images that arrived without one (import, and
//! docker-archive loads), so every image has a manifest to save and push.

use oci_spec::image::{Descriptor, DescriptorBuilder, ImageManifestBuilder, MediaType};
use strata_content::Digest;

fn descriptor(media_type: MediaType, digest: &Digest, size: u64) -> Descriptor {
    DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest.clone())
        .size(size)
        .build()
        .expect("descriptor fields are set")
}

/// The serialized OCI manifest of a config and its recorded layers.
pub fn manifest_for_layers(
    config: &Digest,
    config_size: u64,
    layers: &[strata_metadata::NewLayer],
) -> crate::Result<Vec<u8>> {
    let descriptors = layers
        .iter()
        .map(|l| {
            Ok(descriptor(
                MediaType::from(l.blob_media_type.as_str()),
                &crate::store::digest(&l.blob_digest)?,
                l.blob_size as u64,
            ))
        })
        .collect::<crate::Result<Vec<_>>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, config, config_size))
        .layers(descriptors)
        .build()
        .expect("manifest fields are set");
    Ok(serde_json::to_vec(&manifest).expect("manifests serialize"))
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
