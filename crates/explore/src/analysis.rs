//! The analysis: layers applied in order to one map of paths, as the union mount would
//! show them, recording what each layer adds, modifies, removes and shadows, and where
//! bytes are wasted.
//!
//! Definitions (the README's; they differ from dive's on purpose):
//! - a layer's entry is *added* where nothing was visible, *modified* where the visible
//!   entry differs in type, mode, owner, size, content or link target, and *unchanged*
//!   where it is the same again (a file or link: a directory listed again is not news);
//! - *removed*: a whiteout's path and everything below it, everything an opaque
//!   directory hides, and what a new entry of another type replaces (a directory's
//!   contents, a file where a directory is needed); whiteouts look up paths as written,
//!   never through symlinks;
//! - *shadowed*: the lower copies a layer's entries hide (modified, unchanged, removed);
//! - per path p, stored(p) is the sum of the sizes of every copy of p in any layer and
//!   visible(p) the size of the copy finally visible (0 if deleted);
//!   wasted = Σ stored(p) − visible(p), efficiency = Σ visible ÷ Σ stored. A hard link
//!   has no bytes of its own, so linked content counts once. Every copy that stops being
//!   visible is charged, once, to the layer that holds it.

use crate::display::escape;
use crate::entries::{Change, Entry, ImagePath, Kind};
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::Bound;

/// One layer to analyze.
pub struct LayerInput {
    /// Its DiffID (or `container` for a container's writable layer).
    pub digest: String,
    /// The history entry that made it.
    pub created_by: String,
    pub changes: Vec<Change>,
}

/// A path as its text (see [`crate::display::escape`]): held as the layer's bytes,
/// shared with the analysis' map, escaped only when written.
fn escaped<S: serde::Serializer>(path: &ImagePath, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&escape(path))
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    #[serde(serialize_with = "escaped")]
    pub path: ImagePath,
    pub kind: Kind,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Shadowed {
    #[serde(serialize_with = "escaped")]
    pub path: ImagePath,
    /// The index of the layer whose copy is hidden.
    pub layer: usize,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub index: usize,
    pub digest: String,
    pub created_by: String,
    /// Whether it is one of the base image's layers (see [`Totals::base_layers`]).
    pub base: bool,
    /// Bytes of file content it stores.
    pub bytes: u64,
    /// Bytes of its files that are not visible in the final image.
    pub wasted_bytes: u64,
    pub added: Vec<FileChange>,
    pub modified: Vec<FileChange>,
    pub removed: Vec<FileChange>,
    pub unchanged: Vec<FileChange>,
    pub shadowed: Vec<Shadowed>,
    /// Whiteouts of paths nothing below it had.
    pub orphan_whiteouts: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// Σ stored(p): bytes of file content over all layers.
    pub stored_bytes: u64,
    /// Σ visible(p): bytes of the files of the final image.
    pub visible_bytes: u64,
    pub wasted_bytes: u64,
    /// visible ÷ stored (1 for an image with no file content).
    pub efficiency: f64,
    /// Layers at the bottom that belong to the base image.
    pub base_layers: usize,
    /// Bytes of file content in the layers above the base.
    pub user_bytes: u64,
    /// Wasted bytes charged to the layers above the base.
    pub user_wasted_bytes: u64,
    /// user_wasted_bytes ÷ user_bytes (0 when there are none).
    pub user_wasted_percent: f64,
    /// Entries of the final image (files, directories, links, …).
    pub entries: usize,
}

/// A path with bytes wasted on it.
#[derive(Debug, Clone, Serialize)]
pub struct WastedPath {
    pub path: String,
    /// Copies of it over all layers.
    pub copies: u32,
    pub stored: u64,
    pub visible: u64,
    pub wasted: u64,
}

/// Identical content at different paths of the final image.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub digest: String,
    pub size: u64,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub layers: Vec<LayerReport>,
    pub totals: Totals,
    /// Every path with wasted bytes, most wasted first.
    pub wasted: Vec<WastedPath>,
    /// The largest files of the final image, largest first.
    pub largest: Vec<FileChange>,
    /// Content found at more than one path, most bytes first.
    pub duplicates: Vec<Duplicate>,
}

/// An entry of the final image, and the layer it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visible {
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// The content's digest (a link's: its target's).
    pub digest: [u8; 32],
    pub layer: usize,
}

impl Visible {
    /// The same entry, wherever it comes from.
    pub fn same_as(&self, other: &Visible) -> bool {
        Visible {
            layer: 0,
            ..self.clone()
        } == Visible {
            layer: 0,
            ..other.clone()
        }
    }
}

/// A path's state: its visible entry (if `present`) and what all its copies stored.
/// Kept small (a 200,000-file image holds 200,000 of them): a link's target is known by
/// its digest, owners by 32 bits (tar's larger IDs compare by their low bits).
struct Node {
    layer: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    copies: u32,
    kind: Kind,
    present: bool,
    size: u64,
    stored: u64,
    digest: [u8; 32],
}

impl Node {
    fn same_as(&self, e: &Entry) -> bool {
        self.kind == e.kind
            && self.mode == e.mode
            && self.uid == e.uid as u32
            && self.gid == e.gid as u32
            && self.size == e.size
            && self.digest == e.digest
    }
}

/// Layers applied one at a time; [`Analyzer::finish`] gives the analysis.
pub struct Analyzer {
    nodes: BTreeMap<ImagePath, Node>,
    layers: Vec<LayerReport>,
    base_layers: usize,
    largest: usize,
}

impl Analyzer {
    /// `base_layers`: how many bottom layers are the base image's; `largest`: how many
    /// of the largest files to list.
    pub fn new(base_layers: usize, largest: usize) -> Self {
        Analyzer {
            nodes: BTreeMap::new(),
            layers: Vec::new(),
            base_layers,
            largest,
        }
    }

    pub fn add_layer(&mut self, input: LayerInput) {
        let index = self.layers.len();
        self.layers.push(LayerReport {
            index,
            digest: input.digest,
            created_by: input.created_by,
            base: index < self.base_layers,
            bytes: 0,
            wasted_bytes: 0,
            added: Vec::new(),
            modified: Vec::new(),
            removed: Vec::new(),
            unchanged: Vec::new(),
            shadowed: Vec::new(),
            orphan_whiteouts: 0,
        });
        // Whiteouts and opaque markers apply to the layers below, whatever their place in
        // the tar: first them, then the entries.
        // Each path's first whiteout or opaque marker only: a layer repeating them (a
        // hostile one, thousands of times) would make each rescan the tree below.
        let mut applied = std::collections::HashSet::new();
        for change in &input.changes {
            let key = match change {
                Change::Whiteout(path) => (path, false),
                Change::Opaque(path) => (path, true),
                Change::Put(_) => continue,
            };
            if !applied.insert(key) {
                continue;
            }
            match change {
                Change::Whiteout(path) => {
                    let gone = self.remove(path, true, index);
                    if gone == 0 {
                        self.layers[index].orphan_whiteouts += 1;
                    }
                }
                Change::Opaque(dir) => {
                    self.remove(dir, false, index);
                }
                Change::Put(_) => {}
            }
        }
        for change in input.changes {
            if let Change::Put(entry) = change {
                self.put(entry, index);
            }
        }
    }

    /// Hides `path` (with `itself`) and every present path below it; returns how many.
    fn remove(&mut self, path: &[u8], itself: bool, index: usize) -> usize {
        let mut doomed: Vec<ImagePath> = Vec::new();
        if itself {
            if let Some((key, node)) = self.nodes.get_key_value(path) {
                if node.present {
                    doomed.push(key.clone());
                }
            }
        }
        let prefix: Vec<u8> = if path.is_empty() {
            Vec::new()
        } else {
            [path, b"/"].concat()
        };
        let below = self
            .nodes
            .range::<[u8], _>((Bound::Included(prefix.as_slice()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, n)| n.present)
            .map(|(k, _)| k.clone());
        doomed.extend(below);
        for key in &doomed {
            self.hide(key, index);
        }
        doomed.len()
    }

    /// The present `key` stops being visible because of layer `index`: its copy is
    /// wasted, and the layer lists it as removed and shadowed.
    fn hide(&mut self, key: &ImagePath, index: usize) {
        let Some(node) = self.nodes.get_mut(key) else { return };
        node.present = false;
        let (layer, size, kind) = (node.layer as usize, node.size, node.kind);
        self.layers[layer].wasted_bytes += size;
        let path = key.clone();
        let report = &mut self.layers[index];
        report.removed.push(FileChange {
            path: path.clone(),
            kind,
            size,
        });
        report.shadowed.push(Shadowed { path, layer, size });
    }

    fn put(&mut self, entry: Entry, index: usize) {
        // A path below a lower file or link makes that one a directory: it is replaced.
        let mut end = 0;
        while let Some(i) = entry.path[end..].iter().position(|b| *b == b'/') {
            end += i;
            let ancestor = &entry.path[..end];
            if let Some((key, node)) = self.nodes.get_key_value(ancestor) {
                if node.present && node.kind != Kind::Dir {
                    let key = key.clone();
                    self.hide(&key, index);
                }
            }
            end += 1;
        }
        let size = if entry.kind == Kind::File { entry.size } else { 0 };
        self.layers[index].bytes += size;
        let change = FileChange {
            path: entry.path.clone(),
            kind: entry.kind,
            size,
        };
        let previous = self
            .nodes
            .get(&entry.path)
            .filter(|n| n.present)
            .map(|n| (n.same_as(&entry), n.kind, n.layer as usize, n.size));
        match previous {
            None => self.layers[index].added.push(change),
            Some((same, kind, layer, old_size)) => {
                if kind == Kind::Dir && entry.kind != Kind::Dir {
                    self.remove(&entry.path, false, index);
                }
                if same && entry.kind == Kind::Dir {
                    // The same directory listed again: nothing to tell, nothing stored.
                    return;
                }
                self.layers[layer].wasted_bytes += old_size;
                let report = &mut self.layers[index];
                report.shadowed.push(Shadowed {
                    path: change.path.clone(),
                    layer,
                    size: old_size,
                });
                if same {
                    report.unchanged.push(change);
                } else {
                    report.modified.push(change);
                }
            }
        }
        let node = self.nodes.entry(entry.path).or_insert_with(|| Node {
            layer: 0,
            kind: Kind::Dir,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            digest: [0; 32],
            present: false,
            stored: 0,
            copies: 0,
        });
        node.layer = index as u32;
        node.kind = entry.kind;
        node.mode = entry.mode;
        node.uid = entry.uid as u32;
        node.gid = entry.gid as u32;
        node.size = size;
        node.digest = entry.digest;
        node.present = true;
        node.stored += size;
        node.copies += 1;
    }

    /// The final image's entries (what the union mount shows), by path.
    pub fn visible(&self) -> impl Iterator<Item = (&ImagePath, Visible)> + '_ {
        self.nodes.iter().filter(|(_, n)| n.present).map(|(path, n)| {
            (
                path,
                Visible {
                    kind: n.kind,
                    mode: n.mode,
                    uid: n.uid,
                    gid: n.gid,
                    size: n.size,
                    digest: n.digest,
                    layer: n.layer as usize,
                },
            )
        })
    }

    pub fn finish(self) -> Analysis {
        let mut wasted = Vec::new();
        // The largest files: a min-heap of at most `self.largest`; identical content:
        // (digest, path) pairs sorted, then grouped (no map of vectors for every file).
        let mut largest: std::collections::BinaryHeap<std::cmp::Reverse<(u64, &ImagePath)>> =
            std::collections::BinaryHeap::new();
        let mut contents: Vec<(&[u8; 32], &ImagePath)> = Vec::new();
        let (mut stored, mut visible, mut entries) = (0u64, 0u64, 0usize);
        for (path, node) in &self.nodes {
            let shown = if node.present { node.size } else { 0 };
            stored += node.stored;
            visible += shown;
            if node.stored > shown {
                wasted.push(WastedPath {
                    path: escape(path),
                    copies: node.copies,
                    stored: node.stored,
                    visible: shown,
                    wasted: node.stored - shown,
                });
            }
            if !node.present {
                continue;
            }
            entries += 1;
            if node.kind == Kind::File && node.size > 0 {
                largest.push(std::cmp::Reverse((node.size, path)));
                if largest.len() > self.largest {
                    largest.pop();
                }
                contents.push((&node.digest, path));
            }
        }
        wasted.sort_by(|a, b| b.wasted.cmp(&a.wasted).then_with(|| a.path.cmp(&b.path)));
        let mut largest: Vec<(u64, &ImagePath)> = largest.into_iter().map(|r| r.0).collect();
        largest.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let largest = largest
            .into_iter()
            .map(|(size, path)| FileChange {
                path: path.clone(),
                kind: Kind::File,
                size,
            })
            .collect();
        contents.sort_unstable();
        let mut duplicates: Vec<Duplicate> = contents
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|group| group.len() > 1)
            .map(|group| Duplicate {
                digest: format!("sha256:{}", hex::encode(group[0].0)),
                size: self.nodes[group[0].1].size,
                paths: group.iter().map(|(_, p)| escape(p)).collect(),
            })
            .collect();
        drop(contents);
        duplicates.sort_by(|a, b| {
            (b.size * (b.paths.len() as u64 - 1))
                .cmp(&(a.size * (a.paths.len() as u64 - 1)))
                .then_with(|| a.paths.cmp(&b.paths))
        });
        let base_layers = self.base_layers.min(self.layers.len());
        let user = &self.layers[base_layers..];
        let user_bytes: u64 = user.iter().map(|l| l.bytes).sum();
        let user_wasted_bytes: u64 = user.iter().map(|l| l.wasted_bytes).sum();
        Analysis {
            totals: Totals {
                stored_bytes: stored,
                visible_bytes: visible,
                wasted_bytes: stored - visible,
                efficiency: if stored == 0 {
                    1.0
                } else {
                    visible as f64 / stored as f64
                },
                base_layers,
                user_bytes,
                user_wasted_bytes,
                user_wasted_percent: if user_bytes == 0 {
                    0.0
                } else {
                    user_wasted_bytes as f64 / user_bytes as f64
                },
                entries,
            },
            layers: self.layers,
            wasted,
            largest,
            duplicates,
        }
    }
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
