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

use crate::entries::{Change, Entry, Kind};
use crate::error::{ExploreError, Result};
use crate::paths::{PathId, PathTable};
use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

/// One layer to analyze.
pub struct LayerInput {
    /// Its DiffID (or `container` for a container's writable layer).
    pub digest: String,
    /// The history entry that made it.
    pub created_by: String,
    pub changes: Vec<Change>,
}

/// Reports name paths by [`PathId`] (an image of 200,000 files holds its names once, in
/// [`Analysis::paths`]); they are written as text (see [`crate::display::escape`]) when
/// the analysis is serialized.
#[derive(Debug, Clone, Copy)]
pub struct FileChange {
    pub path: PathId,
    pub kind: Kind,
    pub size: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Shadowed {
    pub path: PathId,
    /// The index of the layer whose copy is hidden.
    pub layer: usize,
    pub size: u64,
}

#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
pub struct WastedPath {
    pub path: PathId,
    /// Copies of it over all layers.
    pub copies: u32,
    pub stored: u64,
    pub visible: u64,
    pub wasted: u64,
}

/// Identical content at different paths of the final image.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub digest: String,
    pub size: u64,
    pub paths: Vec<PathId>,
}

#[derive(Debug)]
pub struct Analysis {
    pub layers: Vec<LayerReport>,
    pub totals: Totals,
    /// Every path with wasted bytes, most wasted first.
    pub wasted: Vec<WastedPath>,
    /// The largest files of the final image, largest first.
    pub largest: Vec<FileChange>,
    /// Content found at more than one path, most bytes first.
    pub duplicates: Vec<Duplicate>,
    /// The names of every path the reports name.
    pub paths: PathTable,
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

/// A path's state: its visible entry (if `present`). Kept small (a 200,000-file image
/// holds 200,000 of them): a link's target is known by its digest, owners by 32 bits
/// (tar's larger IDs compare by their low bits), what its copies stored by its one copy's
/// size until a second comes (then [`Copies`] holds it). A directory no layer lists (only
/// its contents) has a node whose `kind` is None.
#[derive(Clone, Default)]
struct Node {
    digest: [u8; 32],
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    layer: u16,
    kind: Option<Kind>,
    present: bool,
}

/// Every copy of a path stored more than once.
#[derive(Clone, Copy)]
struct Copies {
    copies: u32,
    stored: u64,
}

/// Most layers an image may have for the explorer (Docker stops at 127, overlayfs at 500).
const MAX_LAYERS: usize = u16::MAX as usize;

impl Node {
    fn same_as(&self, e: &Entry) -> bool {
        self.kind == Some(e.kind)
            && self.mode == e.mode
            && self.uid == e.uid
            && self.gid == e.gid
            && self.size == e.size
            && self.digest == e.digest
    }

    fn kind(&self) -> Kind {
        self.kind.unwrap_or(Kind::Dir)
    }
}

/// Layers applied one at a time; [`Analyzer::finish`] gives the analysis.
pub struct Analyzer {
    paths: PathTable,
    /// By [`PathId::index`].
    nodes: Vec<Node>,
    /// The paths stored more than once, by [`PathId::index`].
    copies: std::collections::HashMap<u32, Copies>,
    layers: Vec<LayerReport>,
    base_layers: usize,
    largest: usize,
}

impl Analyzer {
    /// `base_layers`: how many bottom layers are the base image's; `largest`: how many
    /// of the largest files to list.
    pub fn new(base_layers: usize, largest: usize) -> Self {
        Analyzer {
            paths: PathTable::new(),
            nodes: Vec::new(),
            copies: std::collections::HashMap::new(),
            layers: Vec::new(),
            base_layers,
            largest,
        }
    }

    pub fn add_layer(&mut self, input: LayerInput) -> Result<()> {
        let index = self.layers.len();
        if index >= MAX_LAYERS {
            return Err(ExploreError::BadLayer(format!(
                "the image has more than {MAX_LAYERS} layers (Docker allows 127)"
            )));
        }
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
                    let gone = match self.paths.lookup(path) {
                        Some(id) => self.remove(Some(id), true, index),
                        None => 0,
                    };
                    if gone == 0 {
                        self.layers[index].orphan_whiteouts += 1;
                    }
                }
                Change::Opaque(dir) if dir.is_empty() => {
                    self.remove(None, false, index);
                }
                Change::Opaque(dir) => {
                    if let Some(id) = self.paths.lookup(dir) {
                        self.remove(Some(id), false, index);
                    }
                }
                Change::Put(_) => {}
            }
        }
        drop(applied);
        // Most of a layer's entries are usually new: one list of that size, trimmed
        // after, rather than one that doubles (each copy leaves a hole in the heap).
        let puts = input.changes.iter().filter(|c| matches!(c, Change::Put(_))).count();
        self.layers[index].added.reserve_exact(puts);
        for change in input.changes {
            if let Change::Put(entry) = change {
                self.put(entry, index)?;
            }
        }
        let report = &mut self.layers[index];
        for list in [
            &mut report.added,
            &mut report.modified,
            &mut report.removed,
            &mut report.unchanged,
        ] {
            list.shrink_to_fit();
        }
        report.shadowed.shrink_to_fit();
        Ok(())
    }

    fn node(&self, id: PathId) -> &Node {
        &self.nodes[id.index()]
    }

    /// What every copy of the path stored: its one copy's size until a second came
    /// (a path no layer listed has none).
    fn copies_of(&self, id: PathId) -> Copies {
        let node = self.node(id);
        match self.copies.get(&(id.index() as u32)) {
            Some(c) => *c,
            None if node.kind.is_some() => Copies {
                copies: 1,
                stored: node.size,
            },
            None => Copies { copies: 0, stored: 0 },
        }
    }

    /// Hides `path` (with `itself`; the root for None) and every present path below it,
    /// in byte order of their paths; returns how many.
    fn remove(&mut self, path: Option<PathId>, itself: bool, index: usize) -> usize {
        let mut doomed: Vec<PathId> = Vec::new();
        if let Some(id) = path.filter(|id| itself && self.node(*id).present) {
            doomed.push(id);
        }
        doomed.extend(self.paths.below(path).into_iter().filter(|id| self.node(*id).present));
        if doomed.len() > 1 {
            doomed.sort_by_cached_key(|id| self.paths.path(*id));
        }
        for id in &doomed {
            self.hide(*id, index);
        }
        doomed.len()
    }

    /// The present `id` stops being visible because of layer `index`: its copy is
    /// wasted, and the layer lists it as removed and shadowed.
    fn hide(&mut self, id: PathId, index: usize) {
        let node = &mut self.nodes[id.index()];
        node.present = false;
        let (layer, size, kind) = (node.layer as usize, node.size, node.kind());
        self.layers[layer].wasted_bytes += size;
        let report = &mut self.layers[index];
        report.removed.push(FileChange { path: id, kind, size });
        report.shadowed.push(Shadowed { path: id, layer, size });
    }

    fn put(&mut self, entry: Entry, index: usize) -> Result<()> {
        let id = self
            .paths
            .intern(&entry.path)
            .map_err(|_| ExploreError::BadLayer("the image has more than 4 billion paths or 4 GiB of names".into()))?;
        self.nodes.resize(self.paths.len(), Node::default());
        // A path below a lower file or link makes that one a directory: it is replaced.
        let ancestors: Vec<PathId> = self.paths.ancestors(id).collect();
        for ancestor in ancestors.into_iter().rev() {
            let node = self.node(ancestor);
            if node.present && node.kind() != Kind::Dir {
                self.hide(ancestor, index);
            }
        }
        let size = if entry.kind == Kind::File { entry.size } else { 0 };
        self.layers[index].bytes += size;
        let change = FileChange {
            path: id,
            kind: entry.kind,
            size,
        };
        let node = self.node(id);
        let previous = node
            .present
            .then(|| (node.same_as(&entry), node.kind(), node.layer as usize, node.size));
        match previous {
            None => self.layers[index].added.push(change),
            Some((same, kind, layer, old_size)) => {
                if kind == Kind::Dir && entry.kind != Kind::Dir {
                    self.remove(Some(id), false, index);
                }
                if same && entry.kind == Kind::Dir {
                    // The same directory listed again: nothing to tell, nothing stored.
                    return Ok(());
                }
                self.layers[layer].wasted_bytes += old_size;
                let report = &mut self.layers[index];
                report.shadowed.push(Shadowed {
                    path: id,
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
        if self.node(id).kind.is_some() {
            let mut copies = self.copies_of(id);
            copies.copies += 1;
            copies.stored += size;
            self.copies.insert(id.index() as u32, copies);
        }
        let node = &mut self.nodes[id.index()];
        node.layer = index as u16;
        node.kind = Some(entry.kind);
        node.mode = entry.mode;
        node.uid = entry.uid;
        node.gid = entry.gid;
        node.size = size;
        node.digest = entry.digest;
        node.present = true;
        Ok(())
    }

    /// The final image's entries (what the union mount shows), with their paths' bytes.
    pub fn visible(&self) -> impl Iterator<Item = (Vec<u8>, Visible)> + '_ {
        self.paths.ids().filter(|id| self.node(*id).present).map(|id| {
            let n = self.node(id);
            (
                self.paths.path(id),
                Visible {
                    kind: n.kind(),
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
        let paths = &self.paths;
        let by_path = |a: PathId, b: PathId| paths.path(a).cmp(&paths.path(b));
        let mut wasted = Vec::new();
        // The largest files: a min-heap of at most `self.largest`; identical content:
        // ids sorted by digest, then grouped (no map of vectors for every file).
        let mut largest: std::collections::BinaryHeap<std::cmp::Reverse<(u64, PathId)>> =
            std::collections::BinaryHeap::new();
        let mut contents: Vec<PathId> = Vec::new();
        let (mut stored, mut visible, mut entries) = (0u64, 0u64, 0usize);
        for id in paths.ids() {
            let node = &self.nodes[id.index()];
            let shown = if node.present { node.size } else { 0 };
            let copies = self.copies_of(id);
            stored += copies.stored;
            visible += shown;
            if copies.stored > shown {
                wasted.push(WastedPath {
                    path: id,
                    copies: copies.copies,
                    stored: copies.stored,
                    visible: shown,
                    wasted: copies.stored - shown,
                });
            }
            if !node.present {
                continue;
            }
            entries += 1;
            if node.kind() == Kind::File && node.size > 0 {
                largest.push(std::cmp::Reverse((node.size, id)));
                if largest.len() > self.largest {
                    largest.pop();
                }
                contents.push(id);
            }
        }
        wasted.sort_by(|a, b| b.wasted.cmp(&a.wasted).then_with(|| by_path(a.path, b.path)));
        let mut largest: Vec<(u64, PathId)> = largest.into_iter().map(|r| r.0).collect();
        largest.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| by_path(a.1, b.1)));
        let largest = largest
            .into_iter()
            .map(|(size, path)| FileChange {
                path,
                kind: Kind::File,
                size,
            })
            .collect();
        let digest = |id: &PathId| &self.nodes[id.index()].digest;
        contents.sort_unstable_by(|a, b| digest(a).cmp(digest(b)));
        let mut duplicates: Vec<Duplicate> = contents
            .chunk_by(|a, b| digest(a) == digest(b))
            .filter(|group| group.len() > 1)
            .map(|group| {
                let mut ids = group.to_vec();
                ids.sort_by_cached_key(|id| paths.path(*id));
                Duplicate {
                    digest: format!("sha256:{}", hex::encode(digest(&group[0]))),
                    size: self.nodes[group[0].index()].size,
                    paths: ids,
                }
            })
            .collect();
        drop(contents);
        duplicates.sort_by(|a, b| {
            (b.size * (b.paths.len() as u64 - 1))
                .cmp(&(a.size * (a.paths.len() as u64 - 1)))
                .then_with(|| {
                    let (x, y) = (
                        a.paths.iter().map(|p| paths.path(*p)),
                        b.paths.iter().map(|p| paths.path(*p)),
                    );
                    x.cmp(y)
                })
        });
        let base_layers = self.base_layers.min(self.layers.len());
        let user = &self.layers[base_layers..];
        let user_bytes: u64 = user.iter().map(|l| l.bytes).sum();
        let user_wasted_bytes: u64 = user.iter().map(|l| l.wasted_bytes).sum();
        drop(self.nodes);
        drop(self.copies);
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
            paths: self.paths,
        }
    }
}

/// A report's part with the table that names its paths: what serializes it, paths as
/// text, with the field names the derived form would have (documented in the README).
struct Named<'a, T: ?Sized>(&'a PathTable, &'a T);

impl Serialize for Analysis {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let p = &self.paths;
        let mut st = s.serialize_struct("Analysis", 5)?;
        st.serialize_field("layers", &Named(p, &self.layers[..]))?;
        st.serialize_field("totals", &self.totals)?;
        st.serialize_field("wasted", &Named(p, &self.wasted[..]))?;
        st.serialize_field("largest", &Named(p, &self.largest[..]))?;
        st.serialize_field("duplicates", &Named(p, &self.duplicates[..]))?;
        st.end()
    }
}

impl<T> Serialize for Named<'_, [T]>
where
    for<'b> Named<'b, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.1.iter().map(|item| Named(self.0, item)))
    }
}

impl Serialize for Named<'_, PathId> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.escaped(*self.1))
    }
}

impl Serialize for Named<'_, FileChange> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let c = self.1;
        let mut st = s.serialize_struct("FileChange", 3)?;
        st.serialize_field("path", &Named(self.0, &c.path))?;
        st.serialize_field("kind", &c.kind)?;
        st.serialize_field("size", &c.size)?;
        st.end()
    }
}

impl Serialize for Named<'_, Shadowed> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let c = self.1;
        let mut st = s.serialize_struct("Shadowed", 3)?;
        st.serialize_field("path", &Named(self.0, &c.path))?;
        st.serialize_field("layer", &c.layer)?;
        st.serialize_field("size", &c.size)?;
        st.end()
    }
}

impl Serialize for Named<'_, LayerReport> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let (p, l) = (self.0, self.1);
        let mut st = s.serialize_struct("LayerReport", 12)?;
        st.serialize_field("index", &l.index)?;
        st.serialize_field("digest", &l.digest)?;
        st.serialize_field("created_by", &l.created_by)?;
        st.serialize_field("base", &l.base)?;
        st.serialize_field("bytes", &l.bytes)?;
        st.serialize_field("wasted_bytes", &l.wasted_bytes)?;
        st.serialize_field("added", &Named(p, &l.added[..]))?;
        st.serialize_field("modified", &Named(p, &l.modified[..]))?;
        st.serialize_field("removed", &Named(p, &l.removed[..]))?;
        st.serialize_field("unchanged", &Named(p, &l.unchanged[..]))?;
        st.serialize_field("shadowed", &Named(p, &l.shadowed[..]))?;
        st.serialize_field("orphan_whiteouts", &l.orphan_whiteouts)?;
        st.end()
    }
}

impl Serialize for Named<'_, WastedPath> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let w = self.1;
        let mut st = s.serialize_struct("WastedPath", 5)?;
        st.serialize_field("path", &Named(self.0, &w.path))?;
        st.serialize_field("copies", &w.copies)?;
        st.serialize_field("stored", &w.stored)?;
        st.serialize_field("visible", &w.visible)?;
        st.serialize_field("wasted", &w.wasted)?;
        st.end()
    }
}

impl Serialize for Named<'_, Duplicate> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let d = self.1;
        let mut st = s.serialize_struct("Duplicate", 3)?;
        st.serialize_field("digest", &d.digest)?;
        st.serialize_field("size", &d.size)?;
        st.serialize_field("paths", &Named(self.0, &d.paths[..]))?;
        st.end()
    }
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
