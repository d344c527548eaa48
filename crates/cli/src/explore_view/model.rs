//! The interactive explorer's state, apart from the terminal: which layer, which tree
//! (the layer's own changes, or the whole image as of that layer), the filters, the
//! collapsed directories, the cursor; and the rows the tree pane shows. Keys change the
//! state; rows are made again only when what they depend on changes, so moving the
//! cursor costs no more than drawing a screen.

use std::collections::HashSet;
use strata_explore::entries::Kind;
use strata_explore::paths::PathId;
use strata_explore::Analysis;

/// How an entry stands in the selected layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Added,
    Modified,
    Removed,
    /// The same file written again.
    Unchanged,
    /// Hidden later: a later layer modifies or removes it (its bytes are wasted).
    Shadowed,
    /// Untouched by the selected layer (whole-image view), or a directory on the way.
    None,
}

impl Mark {
    pub fn letter(self) -> char {
        match self {
            Mark::Added => 'A',
            Mark::Modified => 'M',
            Mark::Removed => 'D',
            Mark::Unchanged => 'U',
            Mark::Shadowed => 'S',
            Mark::None => ' ',
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: Kind,
    size: u64,
    mark: Mark,
}

/// A row of the tree: its path by id (the analysis' table names it), so making 200,000
/// rows copies no names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub depth: usize,
    pub path: PathId,
    pub mark: Mark,
    pub is_dir: bool,
    pub collapsed: bool,
    pub size: u64,
}

/// The minimum sizes `s` cycles through.
pub const SIZE_STEPS: [u64; 5] = [0, 1_000, 100_000, 1_000_000, 10_000_000];

pub struct Model<'a> {
    pub analysis: &'a Analysis,
    pub layer: usize,
    /// The whole image as of the layer, not only the layer's changes.
    pub whole_image: bool,
    pub focus_tree: bool,
    pub changed_only: bool,
    pub min_size_step: usize,
    /// Matched against the paths' bytes (a name need not be UTF-8).
    pub pattern: Option<regex::bytes::Regex>,
    pub pattern_text: String,
    /// Typing a pattern (after `/`).
    pub editing: Option<String>,
    pub show_wasted: bool,
    pub show_help: bool,
    pub message: Option<String>,
    pub cursor: usize,
    pub scroll: usize,
    collapsed: HashSet<PathId>,
    rows: Vec<Row>,
    /// Every path of the analysis as a tree draws it (a directory, then what is in it),
    /// with its depth: made once, so a view is its entries picked in this order, never
    /// sorted again.
    order: Vec<(PathId, u32)>,
    /// The trees last made, by (layer, whole image): switching back and forth between
    /// two views, or changing a filter, makes no tree again.
    trees: Vec<((usize, bool), Tree)>,
    /// Per layer: the paths a later layer shadows.
    shadowed_later: Vec<HashSet<PathId>>,
    pub quit: bool,
}

/// A view's entries in tree order (with their depths), shared between the cache and a
/// rebuild.
type Tree = std::rc::Rc<Vec<(PathId, u32, Entry)>>;

impl<'a> Model<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        let mut shadowed_later: Vec<HashSet<PathId>> = vec![HashSet::new(); analysis.layers.len()];
        for layer in &analysis.layers {
            for s in &layer.shadowed {
                if let Some(set) = shadowed_later.get_mut(s.layer) {
                    set.insert(s.path);
                }
            }
        }
        let mut model = Model {
            analysis,
            layer: 0,
            whole_image: false,
            focus_tree: false,
            changed_only: false,
            min_size_step: 0,
            pattern: None,
            pattern_text: String::new(),
            editing: None,
            show_wasted: false,
            show_help: false,
            message: None,
            cursor: 0,
            scroll: 0,
            collapsed: HashSet::new(),
            rows: Vec::new(),
            order: analysis.paths.tree_order(),
            trees: Vec::new(),
            shadowed_later,
            quit: false,
        };
        model.rebuild();
        model
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The selected layer's entries, or the whole image's as of it: the layers' changes
    /// replayed into one slot per path, then picked in tree order.
    fn entries(&self) -> Vec<(PathId, u32, Entry)> {
        let mut slots: Vec<Option<Entry>> = vec![None; self.analysis.paths.len()];
        let layers = &self.analysis.layers;
        let first = if self.whole_image { 0 } else { self.layer };
        for (i, layer) in layers.iter().enumerate().take(self.layer + 1).skip(first) {
            let here = i == self.layer;
            let mark = |m: Mark| if here { m } else { Mark::None };
            for c in &layer.removed {
                slots[c.path.index()] = here.then_some(Entry {
                    kind: c.kind,
                    size: c.size,
                    mark: Mark::Removed,
                });
            }
            for (list, m) in [
                (&layer.added, Mark::Added),
                (&layer.modified, Mark::Modified),
                (&layer.unchanged, Mark::Unchanged),
            ] {
                for c in list {
                    slots[c.path.index()] = Some(Entry {
                        kind: c.kind,
                        size: c.size,
                        mark: mark(m),
                    });
                }
            }
        }
        // What a later layer hides of this one's is marked, where nothing else is.
        if let Some(later) = self.shadowed_later.get(self.layer) {
            for id in later {
                if let Some(entry) = &mut slots[id.index()] {
                    if matches!(entry.mark, Mark::Added | Mark::Modified | Mark::Unchanged) {
                        entry.mark = Mark::Shadowed;
                    }
                }
            }
        }
        self.order
            .iter()
            .filter_map(|(id, depth)| slots[id.index()].map(|e| (*id, *depth, e)))
            .collect()
    }

    fn keeps(&self, path: PathId, e: &Entry, buf: &mut Vec<u8>) -> bool {
        if self.changed_only && e.mark == Mark::None || e.size < SIZE_STEPS[self.min_size_step] {
            return false;
        }
        let Some(pattern) = &self.pattern else { return true };
        buf.clear();
        self.analysis.paths.write_path(path, buf);
        pattern.is_match(buf)
    }

    /// The current view's tree, from the cache or made (and cached, the last 3 kept).
    fn tree(&mut self) -> Tree {
        let key = (self.layer, self.whole_image);
        if let Some((_, tree)) = self.trees.iter().find(|(k, _)| *k == key) {
            return tree.clone();
        }
        let tree = std::rc::Rc::new(self.entries());
        self.trees.push((key, tree.clone()));
        if self.trees.len() > 3 {
            self.trees.remove(0);
        }
        tree
    }

    /// Makes the rows again: entries in tree order, the directories on their way, the
    /// filters applied (a directory stays while something below it does), collapsed
    /// directories' contents left out.
    pub fn rebuild(&mut self) {
        let entries = self.tree();
        let filtering = self.changed_only || self.min_size_step > 0 || self.pattern.is_some();
        let mut rows: Vec<Row> = Vec::with_capacity(entries.len());
        // The last row's path: the ids of its directories and itself, top first.
        let mut open: Vec<PathId> = Vec::new();
        let mut chain: Vec<PathId> = Vec::new();
        let mut buf = Vec::new();
        // A collapsed directory's (depth, id), while the rows are below it.
        let mut hidden_below: Option<(usize, PathId)> = None;
        let paths = &self.analysis.paths;
        for &(path, depth, entry) in entries.iter() {
            if filtering && !self.keeps(path, &entry, &mut buf) {
                continue;
            }
            let depth = depth as usize;
            chain.clear();
            chain.extend(paths.ancestors(path));
            chain.reverse();
            // Directories on the way that no row shows yet.
            let common = open.iter().zip(&chain).take_while(|(a, b)| a == b).count();
            open.truncate(common);
            for (d, dir) in chain.iter().enumerate().skip(common) {
                open.push(*dir);
                self.push_row(&mut rows, &mut hidden_below, &chain, d, *dir, None);
            }
            self.push_row(&mut rows, &mut hidden_below, &chain, depth, path, Some(&entry));
            open.push(path);
        }
        self.rows = rows;
        self.cursor = self.cursor.min(self.rows.len().saturating_sub(1));
        self.scroll = self.scroll.min(self.cursor);
    }

    /// `chain`: the directories of the path, top first.
    fn push_row(
        &self,
        rows: &mut Vec<Row>,
        hidden_below: &mut Option<(usize, PathId)>,
        chain: &[PathId],
        depth: usize,
        path: PathId,
        entry: Option<&Entry>,
    ) {
        if let Some((d, top)) = *hidden_below {
            if chain.get(d) == Some(&top) && depth > d {
                return;
            }
            *hidden_below = None;
        }
        let is_dir = entry.is_none_or(|e| e.kind == Kind::Dir);
        let collapsed = is_dir && self.collapsed.contains(&path);
        if collapsed {
            *hidden_below = Some((depth, path));
        }
        rows.push(Row {
            depth,
            path,
            mark: entry.map_or(Mark::None, |e| e.mark),
            is_dir,
            collapsed,
            size: entry.map_or(0, |e| e.size),
        });
    }

    fn select_layer(&mut self, layer: usize) {
        if layer < self.analysis.layers.len() && layer != self.layer {
            self.layer = layer;
            self.cursor = 0;
            self.scroll = 0;
            self.rebuild();
        }
    }

    fn move_cursor(&mut self, delta: isize) {
        if self.focus_tree {
            let last = self.rows.len().saturating_sub(1) as isize;
            self.cursor = (self.cursor as isize + delta).clamp(0, last.max(0)) as usize;
        } else {
            let last = self.analysis.layers.len().saturating_sub(1) as isize;
            self.select_layer((self.layer as isize + delta).clamp(0, last.max(0)) as usize);
        }
    }

    /// Keeps the cursor inside a window of `height` rows.
    pub fn follow(&mut self, height: usize) {
        let height = height.max(1);
        if self.cursor < self.scroll {
            self.scroll = self.cursor;
        } else if self.cursor >= self.scroll + height {
            self.scroll = self.cursor + 1 - height;
        }
    }

    /// One key, as crossterm names it.
    pub fn key(&mut self, key: crossterm::event::KeyEvent) {
        use crossterm::event::{KeyCode, KeyModifiers};
        self.message = None;
        if let Some(text) = &mut self.editing {
            match key.code {
                KeyCode::Enter => {
                    let text = std::mem::take(text);
                    self.editing = None;
                    if text.is_empty() {
                        self.pattern = None;
                        self.pattern_text.clear();
                    } else {
                        match regex::bytes::Regex::new(&text) {
                            Ok(re) => {
                                self.pattern = Some(re);
                                self.pattern_text = text;
                            }
                            Err(e) => self.message = Some(format!("bad pattern: {e}")),
                        }
                    }
                    self.rebuild();
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return;
        }
        if self.show_help {
            self.show_help = false;
            return;
        }
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => self.quit = true,
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Tab | KeyCode::BackTab => self.focus_tree = !self.focus_tree,
            KeyCode::Left | KeyCode::Char('h') => self.focus_tree = false,
            KeyCode::Right | KeyCode::Char('l') => self.focus_tree = true,
            KeyCode::Up | KeyCode::Char('k') => self.move_cursor(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_cursor(1),
            KeyCode::PageUp => self.move_cursor(-20),
            KeyCode::PageDown => self.move_cursor(20),
            KeyCode::Home | KeyCode::Char('g') => self.move_cursor(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_cursor(isize::MAX / 2),
            KeyCode::Enter | KeyCode::Char(' ') if self.focus_tree => self.toggle_collapse(),
            KeyCode::Char('a') => {
                self.whole_image = !self.whole_image;
                self.rebuild();
            }
            KeyCode::Char('c') => {
                self.changed_only = !self.changed_only;
                self.rebuild();
            }
            KeyCode::Char('s') => {
                self.min_size_step = (self.min_size_step + 1) % SIZE_STEPS.len();
                self.rebuild();
            }
            KeyCode::Char('/') => self.editing = Some(String::new()),
            KeyCode::Char('w') => self.show_wasted = !self.show_wasted,
            KeyCode::Char('?') => self.show_help = true,
            _ => {}
        }
    }

    fn toggle_collapse(&mut self) {
        let Some(row) = self.rows.get(self.cursor) else { return };
        if !row.is_dir {
            return;
        }
        let path = row.path;
        if !self.collapsed.remove(&path) {
            self.collapsed.insert(path);
        }
        self.rebuild();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_explore::entries::{Change, Entry};
    use strata_explore::{Analyzer, LayerInput};

    fn put(path: &str, kind: Kind) -> Change {
        Change::Put(Entry {
            path: path.as_bytes().into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: if kind == Kind::File { 10 } else { 0 },
            digest: [path.len() as u8; 32],
        })
    }

    fn analysis(layers: Vec<Vec<Change>>) -> Analysis {
        let mut a = Analyzer::new(0, 5);
        for (i, changes) in layers.into_iter().enumerate() {
            a.add_layer(LayerInput {
                digest: format!("layer{i}"),
                created_by: String::new(),
                changes,
            })
            .unwrap();
        }
        a.finish()
    }

    fn shown(model: &Model) -> Vec<String> {
        model
            .rows()
            .iter()
            .map(|r| {
                let name = String::from_utf8_lossy(model.analysis.paths.name(r.path));
                format!("{}{}{}", "  ".repeat(r.depth), r.mark.letter(), name)
            })
            .collect()
    }

    #[test]
    fn rows_are_in_tree_order_with_the_directories_on_their_way() {
        let a = analysis(vec![
            vec![
                put("a-b", Kind::File),
                put("a/z/f", Kind::File),
                put("a/b", Kind::File),
                put("0", Kind::File),
            ],
            vec![put("a/z/g", Kind::File), Change::Whiteout("a/b".as_bytes().into())],
        ]);
        let mut m = Model::new(&a);
        // The first layer never listed a/ or a/z/: they are drawn as the way there; a/b
        // is shadowed (the next layer removes it).
        assert_eq!(shown(&m), ["A0", " a", "  Sb", "   z", "    Af", "Aa-b"]);
        m.select_layer(1);
        assert_eq!(shown(&m), [" a", "  Db", "   z", "    Ag"]);
        m.whole_image = true;
        m.rebuild();
        assert_eq!(shown(&m), [" 0", " a", "  Db", "   z", "     f", "    Ag", " a-b"]);
    }

    #[test]
    fn a_collapsed_directory_hides_what_is_below_it_and_nothing_else() {
        let a = analysis(vec![vec![
            put("a", Kind::Dir),
            put("a/z", Kind::Dir),
            put("a/z/f", Kind::File),
            put("a/y", Kind::File),
            put("a-b", Kind::File),
        ]]);
        let mut m = Model::new(&a);
        m.focus_tree = true;
        assert_eq!(shown(&m), ["Aa", "  Ay", "  Az", "    Af", "Aa-b"]);
        m.cursor = 2;
        m.toggle_collapse();
        assert_eq!(shown(&m), ["Aa", "  Ay", "  Az", "Aa-b"]);
        m.cursor = 0;
        m.toggle_collapse();
        assert_eq!(shown(&m), ["Aa", "Aa-b"]);
        m.pattern = Some(regex::bytes::Regex::new("^a/z/f$").unwrap());
        m.toggle_collapse();
        // a/ is open again, a/z/ still collapsed; neither matches, both are on the way.
        assert_eq!(shown(&m), [" a", "   z"], "a filter keeps the directories on the way");
    }
}
