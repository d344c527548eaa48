//! The interactive explorer's state, apart from the terminal: which layer, which tree
//! (the layer's own changes, or the whole image as of that layer), the filters, the
//! collapsed directories, the cursor; and the rows the tree pane shows. Keys change the
//! state; rows are made again only when what they depend on changes, so moving the
//! cursor costs no more than drawing a screen.

use std::collections::{BTreeMap, HashSet};
use strata_explore::entries::Kind;
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

#[derive(Debug, Clone)]
struct Entry {
    kind: Kind,
    size: u64,
    mark: Mark,
}

/// A row of the tree; its path borrowed from the analysis (a directory on the way is a
/// prefix of an entry's path), so making 200,000 rows copies no names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    pub depth: usize,
    pub path: &'a [u8],
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
    collapsed: HashSet<Vec<u8>>,
    rows: Vec<Row<'a>>,
    /// The trees last made, by (layer, whole image): switching back and forth between
    /// two views, or changing a filter, makes no tree again.
    trees: Vec<((usize, bool), Tree<'a>)>,
    /// Per layer: the paths a later layer shadows.
    shadowed_later: Vec<HashSet<&'a [u8]>>,
    pub quit: bool,
}

/// A view's entries in tree order, shared between the cache and a rebuild.
type Tree<'a> = std::rc::Rc<BTreeMap<TreeKey<'a>, Entry>>;

/// A path in tree order: component by component (`a/b` before `a-b`), so a map of them
/// iterates as the tree is drawn, with no sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TreeKey<'a>(&'a [u8]);

impl Ord for TreeKey<'_> {
    /// Bytes compared with `/` as the smallest (names never hold a NUL): the same order
    /// as comparing component by component, without splitting.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |b: &u8| if *b == b'/' { 0 } else { *b as u16 + 1 };
        self.0.iter().map(rank).cmp(other.0.iter().map(rank))
    }
}

impl PartialOrd for TreeKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> Model<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        let mut shadowed_later: Vec<HashSet<&[u8]>> = vec![HashSet::new(); analysis.layers.len()];
        for layer in &analysis.layers {
            for s in &layer.shadowed {
                if let Some(set) = shadowed_later.get_mut(s.layer) {
                    set.insert(&s.path);
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
            trees: Vec::new(),
            shadowed_later,
            quit: false,
        };
        model.rebuild();
        model
    }

    pub fn rows(&self) -> &[Row<'a>] {
        &self.rows
    }

    /// The selected layer's entries, or the whole image's as of it.
    fn entries(&self) -> BTreeMap<TreeKey<'a>, Entry> {
        let mut map = BTreeMap::new();
        let layers = &self.analysis.layers;
        let first = if self.whole_image { 0 } else { self.layer };
        for (i, layer) in layers.iter().enumerate().take(self.layer + 1).skip(first) {
            let here = i == self.layer;
            let mark = |m: Mark| if here { m } else { Mark::None };
            for path in &layer.removed {
                map.remove(&TreeKey(&path.path));
                if here {
                    map.insert(
                        TreeKey(&path.path),
                        Entry {
                            kind: path.kind,
                            size: path.size,
                            mark: Mark::Removed,
                        },
                    );
                }
            }
            for (list, m) in [
                (&layer.added, Mark::Added),
                (&layer.modified, Mark::Modified),
                (&layer.unchanged, Mark::Unchanged),
            ] {
                for c in list {
                    map.insert(
                        TreeKey(&c.path),
                        Entry {
                            kind: c.kind,
                            size: c.size,
                            mark: mark(m),
                        },
                    );
                }
            }
        }
        // What a later layer hides of this one's is marked, where nothing else is.
        if let Some(later) = self.shadowed_later.get(self.layer) {
            for (path, entry) in map.iter_mut() {
                if matches!(entry.mark, Mark::Added | Mark::Modified | Mark::Unchanged) && later.contains(path.0) {
                    entry.mark = Mark::Shadowed;
                }
            }
        }
        map
    }

    fn keeps(&self, path: &[u8], e: &Entry) -> bool {
        (!self.changed_only || e.mark != Mark::None)
            && e.size >= SIZE_STEPS[self.min_size_step]
            && self.pattern.as_ref().is_none_or(|p| p.is_match(path))
    }

    /// Makes the rows again: entries in tree order, the directories on their way, the
    /// filters applied (a directory stays while something below it does), collapsed
    /// directories' contents left out.
    /// The current view's tree, from the cache or made (and cached, the last 3 kept).
    fn tree(&mut self) -> Tree<'a> {
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

    pub fn rebuild(&mut self) {
        let entries = self.tree();
        let filtering = self.changed_only || self.min_size_step > 0 || self.pattern.is_some();
        let mut rows: Vec<Row<'a>> = Vec::with_capacity(entries.len());
        // The directories of the last row's path, as (start, end) of its components.
        let mut open: Vec<&'a [u8]> = Vec::new();
        let mut hidden_below: Option<&'a [u8]> = None;
        for (key, entry) in entries.iter() {
            let path = key.0;
            if filtering && !self.keeps(path, entry) {
                continue;
            }
            let parts: Vec<usize> = path
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'/')
                .map(|(i, _)| i)
                .collect();
            let depth = parts.len();
            // Directories on the way that no row shows yet.
            let mut common = 0;
            while common < open.len() && common < depth && open[common] == &path[..parts[common]] {
                common += 1;
            }
            open.truncate(common);
            for (d, end) in parts.iter().enumerate().skip(common) {
                open.push(&path[..*end]);
                self.push_row(&mut rows, &mut hidden_below, d, &path[..*end], None);
            }
            self.push_row(&mut rows, &mut hidden_below, depth, path, Some(entry));
            if entry.kind == Kind::Dir {
                open.push(path);
            }
        }
        self.rows = rows;
        self.cursor = self.cursor.min(self.rows.len().saturating_sub(1));
        self.scroll = self.scroll.min(self.cursor);
    }

    fn push_row(
        &self,
        rows: &mut Vec<Row<'a>>,
        hidden_below: &mut Option<&'a [u8]>,
        depth: usize,
        path: &'a [u8],
        entry: Option<&Entry>,
    ) {
        if let Some(top) = hidden_below {
            if path.starts_with(top) && path.get(top.len()) == Some(&b'/') {
                return;
            }
            *hidden_below = None;
        }
        let is_dir = entry.is_none_or(|e| e.kind == Kind::Dir);
        let collapsed = is_dir && self.collapsed.contains(path);
        if collapsed {
            *hidden_below = Some(path);
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
        let path = row.path.to_vec();
        if !self.collapsed.remove(&path) {
            self.collapsed.insert(path);
        }
        self.rebuild();
    }
}
