//! `system df` and `system info` figures.

use crate::error::Result;
use crate::store::ImageStore;
use std::collections::{HashMap, HashSet};
use strata_metadata::ImageRecord;

#[derive(Debug, Default, Clone)]
pub struct DiskUsage {
    pub images: usize,
    pub tagged_images: usize,
    pub layers: usize,
    /// Bytes of file content over all layers, each layer counted once.
    pub layer_bytes: u64,
    /// Bytes of layers that no tagged image uses.
    pub reclaimable_bytes: u64,
    pub blobs: usize,
    pub blob_bytes: u64,
}

/// Docker's `SharedSize` of each image, by ID: the bytes of its layers that another
/// image uses too (what removing the image alone would not free).
pub fn shared_sizes(images: &[ImageRecord]) -> HashMap<String, i64> {
    let mut users: HashMap<&str, usize> = HashMap::new();
    for image in images {
        let chains: HashSet<&str> = image.layers.iter().map(|l| l.chain_id.as_str()).collect();
        chains.into_iter().for_each(|c| *users.entry(c).or_default() += 1);
    }
    images
        .iter()
        .map(|image| {
            let mut seen = HashSet::new();
            let shared = image
                .layers
                .iter()
                .filter(|l| seen.insert(l.chain_id.as_str()) && users[l.chain_id.as_str()] > 1)
                .map(|l| l.size)
                .sum();
            (image.id.clone(), shared)
        })
        .collect()
}

impl ImageStore {
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let images = self.list()?;
        let tagged_chains: HashSet<&str> = images
            .iter()
            .filter(|i| !i.tags.is_empty())
            .flat_map(|i| i.layers.iter().map(|l| l.chain_id.as_str()))
            .collect();
        let layers = self.db().layers()?;
        let mut usage = DiskUsage {
            images: images.len(),
            tagged_images: images.iter().filter(|i| !i.tags.is_empty()).count(),
            layers: layers.len(),
            ..Default::default()
        };
        for (chain, _, size) in &layers {
            usage.layer_bytes += *size as u64;
            if !tagged_chains.contains(chain.as_str()) {
                usage.reclaimable_bytes += *size as u64;
            }
        }
        for blob in self.content().list()? {
            usage.blobs += 1;
            usage.blob_bytes += self.content().size(&blob).unwrap_or(0);
        }
        Ok(usage)
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.db().schema_version()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_metadata::LayerRecord;

    fn image(id: &str, layers: &[(&str, i64)]) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            manifest_digest: String::new(),
            manifest_media_type: String::new(),
            created: None,
            size: layers.iter().map(|l| l.1).sum(),
            added_at: String::new(),
            tags: Vec::new(),
            layers: layers
                .iter()
                .map(|(chain, size)| LayerRecord {
                    chain_id: chain.to_string(),
                    diff_id: String::new(),
                    size: *size,
                    blob_digest: String::new(),
                    blob_media_type: String::new(),
                    blob_size: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn shared_sizes_count_layers_other_images_use() {
        let images = [
            image("a", &[("base", 100), ("app", 10)]),
            image("b", &[("base", 100), ("tool", 5)]),
            image("c", &[("own", 7)]),
        ];
        let shared = shared_sizes(&images);
        assert_eq!((shared["a"], shared["b"], shared["c"]), (100, 100, 0));
    }
}
