//! The paths of an image, interned by directory: each name is kept once, under its
//! parent's index, so an image of 200,000 files costs a few bytes per path rather than a
//! string each, and a directory's subtree is reached through its children rather than by
//! scanning every path (a whiteout hides it).

use std::hash::{BuildHasher, RandomState};

/// A path of one analysis: an index into its [`PathTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(u32);

impl PathId {
    /// Its place in the table (paths are numbered from 0 as they are first seen).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// No node: the root's parent, the end of a list of children.
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Node {
    parent: u32,
    first_child: u32,
    next_sibling: u32,
    /// Where its name starts in `names`; it ends where the next node's starts (names
    /// are appended as nodes are).
    name_start: u32,
}

/// Every path an analysis has seen. The root (the empty path) is not a path of its own.
#[derive(Debug, Default)]
pub struct PathTable {
    nodes: Vec<Node>,
    names: Vec<u8>,
    /// The nodes by (parent, name). The hasher is keyed at random: the names come from
    /// images, which may be built to collide.
    index: hashbrown::HashTable<u32>,
    hasher: RandomState,
    first_top: u32,
    /// The directory of the last path interned: a layer lists a directory's entries
    /// together, so most paths skip the walk from the root.
    last_dir: Option<(Vec<u8>, u32)>,
}

/// The table is full: more than 4 billion paths or 4 GiB of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

impl PathTable {
    pub fn new() -> Self {
        PathTable {
            first_top: NONE,
            ..Default::default()
        }
    }

    /// How many paths it holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every path, in the order they were first seen.
    pub fn ids(&self) -> impl Iterator<Item = PathId> + use<> {
        (0..self.nodes.len() as u32).map(PathId)
    }

    fn hash(&self, parent: u32, name: &[u8]) -> u64 {
        self.hasher.hash_one((parent, name))
    }

    fn name_of(&self, id: u32) -> &[u8] {
        name_in(&self.nodes, &self.names, id)
    }

    fn find(&self, parent: u32, name: &[u8]) -> Option<u32> {
        let hash = self.hash(parent, name);
        self.index
            .find(hash, |&i| {
                self.nodes[i as usize].parent == parent && self.name_of(i) == name
            })
            .copied()
    }

    /// The path's id, if the table has it (`a/b`, relative, cleaned).
    pub fn lookup(&self, path: &[u8]) -> Option<PathId> {
        let mut at = NONE;
        for name in path.split(|b| *b == b'/') {
            at = self.find(at, name)?;
        }
        (at != NONE).then_some(PathId(at))
    }

    /// The path's id, added (with its directories) where the table lacks it.
    pub fn intern(&mut self, path: &[u8]) -> Result<PathId, TableFull> {
        let (dir, name) = crate::entries::split(path);
        let parent = match &self.last_dir {
            Some((last, id)) if !dir.is_empty() && last.as_slice() == dir => *id,
            _ => {
                let mut at = NONE;
                if !dir.is_empty() {
                    for part in dir.split(|b| *b == b'/') {
                        at = self.child(at, part)?;
                    }
                    self.last_dir = Some((dir.to_vec(), at));
                }
                at
            }
        };
        self.child(parent, name).map(PathId)
    }

    fn child(&mut self, parent: u32, name: &[u8]) -> Result<u32, TableFull> {
        if let Some(found) = self.find(parent, name) {
            return Ok(found);
        }
        let id = u32::try_from(self.nodes.len())
            .ok()
            .filter(|i| *i != NONE)
            .ok_or(TableFull)?;
        let name_start = u32::try_from(self.names.len()).map_err(|_| TableFull)?;
        u32::try_from(self.names.len() + name.len()).map_err(|_| TableFull)?;
        self.names.extend_from_slice(name);
        let next_sibling = match parent {
            NONE => std::mem::replace(&mut self.first_top, id),
            p => std::mem::replace(&mut self.nodes[p as usize].first_child, id),
        };
        self.nodes.push(Node {
            parent,
            first_child: NONE,
            next_sibling,
            name_start,
        });
        let hash = self.hash(parent, name);
        let (nodes, names, hasher) = (&self.nodes, &self.names, &self.hasher);
        self.index.insert_unique(hash, id, |&i| {
            hasher.hash_one((nodes[i as usize].parent, name_in(nodes, names, i)))
        });
        Ok(id)
    }

    /// The last component of the path.
    pub fn name(&self, id: PathId) -> &[u8] {
        self.name_of(id.0)
    }

    /// The directory it is in (None at the top).
    pub fn parent(&self, id: PathId) -> Option<PathId> {
        match self.nodes[id.index()].parent {
            NONE => None,
            p => Some(PathId(p)),
        }
    }

    /// The directories the path is in, innermost first.
    pub fn ancestors(&self, id: PathId) -> impl Iterator<Item = PathId> + '_ {
        std::iter::successors(self.parent(id), move |at| self.parent(*at))
    }

    /// The paths directly in `dir` (the top's, for None), in no particular order.
    pub fn children(&self, dir: Option<PathId>) -> impl Iterator<Item = PathId> + '_ {
        let mut next = dir.map_or(self.first_top, |d| self.nodes[d.index()].first_child);
        std::iter::from_fn(move || {
            (next != NONE).then(|| {
                let id = next;
                next = self.nodes[id as usize].next_sibling;
                PathId(id)
            })
        })
    }

    /// Every path below `dir` (below the root for None), not `dir` itself.
    pub fn below(&self, dir: Option<PathId>) -> Vec<PathId> {
        let mut found = Vec::new();
        let mut stack: Vec<PathId> = self.children(dir).collect();
        while let Some(id) = stack.pop() {
            found.push(id);
            stack.extend(self.children(Some(id)));
        }
        found
    }

    /// The path's bytes, appended to `out`.
    pub fn write_path(&self, id: PathId, out: &mut Vec<u8>) {
        let chain: Vec<PathId> = std::iter::once(id).chain(self.ancestors(id)).collect();
        for (i, part) in chain.iter().rev().enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(self.name(*part));
        }
    }

    /// The path's bytes.
    pub fn path(&self, id: PathId) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_path(id, &mut out);
        out
    }

    /// The path as text (see [`crate::display::escape`]).
    pub fn escaped(&self, id: PathId) -> String {
        crate::display::escape(&self.path(id))
    }

    /// Every path in the order a tree draws them: a directory, then what is in it, names
    /// in byte order (`a`, `a/b`, `a-b`). With each path's depth (0 at the top).
    pub fn tree_order(&self) -> Vec<(PathId, u32)> {
        let mut order = Vec::with_capacity(self.nodes.len());
        let sorted = |dir: Option<PathId>| {
            let mut kids: Vec<PathId> = self.children(dir).collect();
            // Reversed: the stack pops the first name first.
            kids.sort_unstable_by(|a, b| self.name(*b).cmp(self.name(*a)));
            kids
        };
        let mut stack: Vec<(PathId, u32)> = sorted(None).into_iter().map(|id| (id, 0)).collect();
        while let Some((id, depth)) = stack.pop() {
            order.push((id, depth));
            stack.extend(sorted(Some(id)).into_iter().map(|kid| (kid, depth + 1)));
        }
        order
    }
}

fn name_in<'a>(nodes: &[Node], names: &'a [u8], id: u32) -> &'a [u8] {
    let end = nodes
        .get(id as usize + 1)
        .map_or(names.len(), |n| n.name_start as usize);
    &names[nodes[id as usize].name_start as usize..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_interned_once_with_their_directories() {
        let mut t = PathTable::new();
        let f = t.intern(b"etc/ssl/certs").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.intern(b"etc/ssl/certs").unwrap(), f);
        let g = t.intern(b"etc/ssl/private").unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.path(g), b"etc/ssl/private");
        assert_eq!(t.lookup(b"etc/ssl"), t.parent(f));
        assert_eq!(t.lookup(b"etc/nothing"), None);
        assert_eq!(t.lookup(b"etc/ssl/certs"), Some(f));
        let below: Vec<Vec<u8>> = t.below(t.lookup(b"etc")).iter().map(|id| t.path(*id)).collect();
        assert_eq!(below.len(), 3);
        assert!(below.contains(&b"etc/ssl/private".to_vec()));
    }

    #[test]
    fn a_path_costs_sixteen_bytes_and_its_name() {
        assert_eq!(std::mem::size_of::<Node>(), 16);
    }

    #[test]
    fn the_tree_order_puts_a_directory_before_a_longer_sibling() {
        let mut t = PathTable::new();
        for p in [&b"a-b"[..], b"a/b", b"a", b"0", b"a/a/z"] {
            t.intern(p).unwrap();
        }
        let order: Vec<(Vec<u8>, u32)> = t.tree_order().iter().map(|(id, d)| (t.path(*id), *d)).collect();
        let expected: Vec<(Vec<u8>, u32)> = [("0", 0), ("a", 0), ("a/a", 1), ("a/a/z", 2), ("a/b", 1), ("a-b", 0)]
            .iter()
            .map(|(p, d)| (p.as_bytes().to_vec(), *d))
            .collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn names_that_are_not_text_and_names_that_collide_in_a_prefix_stay_apart() {
        let mut t = PathTable::new();
        let a = t.intern(b"d/\xff").unwrap();
        let b = t.intern(b"d\xff").unwrap();
        assert_ne!(a, b);
        assert_eq!(t.path(a), b"d/\xff");
        assert_eq!(t.path(b), b"d\xff");
        assert_eq!(t.escaped(a), "d/\\xff");
    }
}
