//! `image diff`: which files differ between two images' final trees (added, removed,
//! changed, with sizes) and which layers they share.

use crate::analysis::{Analyzer, Visible};
use crate::display::escape;
use crate::entries::Kind;
use crate::error::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use strata_images::{ImageRecord, ImageStore};

#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    /// `A` (only in the second image), `D` (only in the first), `C` (changed).
    pub change: char,
    pub path: String,
    pub kind: Kind,
    /// The size in the first image (None where it has no such path).
    pub size_before: Option<u64>,
    /// The size in the second image.
    pub size_after: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// DiffIDs of the layers both images have, bottom first.
    pub shared_layers: Vec<String>,
    /// How many bottom layers are the same stack (what the store keeps once).
    pub common_base: usize,
    pub files: Vec<FileDiff>,
}

fn final_tree(store: &ImageStore, image: &ImageRecord) -> Result<BTreeMap<Vec<u8>, Visible>> {
    let mut analyzer = Analyzer::new(0, 0);
    crate::source::add_image_layers(store, image, &mut analyzer)?;
    Ok(analyzer.visible().collect())
}

/// Compares the local images `first` and `second`.
pub fn compare_images(store: &ImageStore, first: &str, second: &str) -> Result<Comparison> {
    let a = store.resolve(first)?.image;
    let b = store.resolve(second)?.image;
    let common_base = a
        .layers
        .iter()
        .zip(&b.layers)
        .take_while(|(x, y)| x.chain_id == y.chain_id)
        .count();
    let in_b: std::collections::HashSet<&str> = b.layers.iter().map(|l| l.diff_id.as_str()).collect();
    let mut shared_layers: Vec<String> = a
        .layers
        .iter()
        .filter(|l| in_b.contains(l.diff_id.as_str()))
        .map(|l| l.diff_id.clone())
        .collect();
    shared_layers.dedup();
    let (before, after) = (final_tree(store, &a)?, final_tree(store, &b)?);
    let size = |v: &Visible| (v.kind == Kind::File).then_some(v.size).or(Some(0));
    let mut files = Vec::new();
    for (path, old) in &before {
        match after.get(path) {
            None => files.push(FileDiff {
                change: 'D',
                path: escape(path),
                kind: old.kind,
                size_before: size(old),
                size_after: None,
            }),
            Some(new) if !old.same_as(new) => files.push(FileDiff {
                change: 'C',
                path: escape(path),
                kind: new.kind,
                size_before: size(old),
                size_after: size(new),
            }),
            Some(_) => {}
        }
    }
    for (path, new) in &after {
        if !before.contains_key(path) {
            files.push(FileDiff {
                change: 'A',
                path: escape(path),
                kind: new.kind,
                size_before: None,
                size_after: size(new),
            });
        }
    }
    files.sort_by(|x, y| x.path.cmp(&y.path));
    Ok(Comparison {
        shared_layers,
        common_base,
        files,
    })
}
