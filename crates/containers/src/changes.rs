//! A container's changes: its writable layer (overlayfs upper directory) read back as
//! `diff` lines and as an OCI layer tar with whiteouts (`commit`).

use crate::error::{ContainerError, Result};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One `diff` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Changed(String),
    Deleted(String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(p) => write!(f, "A {p}"),
            Change::Changed(p) => write!(f, "C {p}"),
            Change::Deleted(p) => write!(f, "D {p}"),
        }
    }
}

use strata_snapshots::{is_opaque, is_whiteout};

/// Paths (container-absolute) that a commit and diff leave out: volume contents, bind
/// mount targets, and the files the runtime bind-mounts itself.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    pub files: Vec<String>,
    /// Directories whose contents are left out (the directory itself is kept).
    pub contents_of: Vec<String>,
}

impl Exclusions {
    fn excludes(&self, path: &str) -> bool {
        self.files.iter().any(|f| f == path)
            || self
                .contents_of
                .iter()
                .any(|d| path.len() > d.len() && path.starts_with(d.as_str()) && path.as_bytes()[d.len()] == b'/')
    }
}

/// Every entry of `upper`, sorted, as (container path, host path, metadata).
fn walk(upper: &Path) -> Result<Vec<(String, PathBuf, fs::Metadata)>> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), upper.to_path_buf())];
    while let Some((prefix, dir)) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .map_err(|e| ContainerError::io(format!("reading {}", dir.display()), e))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries.into_iter().rev() {
            let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
            let meta = fs::symlink_metadata(e.path())
                .map_err(|err| ContainerError::io(format!("stat {}", e.path().display()), err))?;
            if meta.is_dir() {
                stack.push((name.clone(), e.path()));
            }
            out.push((name, e.path(), meta));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Whether `path` exists in the image under the container (lower dirs, top first).
fn in_lowers(lowers: &[PathBuf], path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    for lower in lowers {
        let p = lower.join(rel);
        match fs::symlink_metadata(&p) {
            Ok(m) if is_whiteout(&m) => return false,
            Ok(_) => return true,
            Err(_) => {}
        }
        // An opaque parent hides everything below it in lower layers.
        let mut parent = Path::new(rel).parent();
        while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
            if is_opaque(&lower.join(dir)) {
                return false;
            }
            parent = dir.parent();
        }
    }
    false
}

/// Docker's `diff`: A added, C changed, D deleted, sorted by path.
pub fn diff(upper: &Path, lowers: &[PathBuf], skip: &Exclusions) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let entries = walk(upper)?;
    let kept: Vec<&str> = entries
        .iter()
        .map(|(p, _, _)| p.as_str())
        .filter(|p| !skip.excludes(p))
        .collect();
    for (path, _, meta) in &entries {
        let path = path.clone();
        if skip.excludes(&path) {
            continue;
        }
        // A directory that only holds left-out entries (/etc for the runtime's own
        // /etc/hosts mount point) is not a change of the user's.
        let prefix = format!("{path}/");
        let holds_excluded = entries
            .iter()
            .any(|(p, _, _)| p.starts_with(&prefix) && skip.excludes(p));
        if meta.is_dir() && holds_excluded && !kept.iter().any(|p| p.starts_with(&prefix)) && in_lowers(lowers, &path) {
            continue;
        }
        out.push(if is_whiteout(meta) {
            Change::Deleted(path)
        } else if in_lowers(lowers, &path) {
            Change::Changed(path)
        } else {
            Change::Added(path)
        });
    }
    Ok(out)
}

/// Writes the layer tar of the changes in `upper`: sorted entries, OCI whiteouts
/// (`.wh.NAME` for deletions, `.wh..wh..opq` for opaque directories), hard links kept,
/// `trusted.overlay.*` never exported. Returns the writer.
pub fn write_layer<W: Write>(upper: &Path, skip: &Exclusions, out: W) -> Result<W> {
    write_layer_clamped(upper, skip, None, out)
}

/// [`write_layer`], with every file time later than `clamp` set to `clamp` (a build
/// under `SOURCE_DATE_EPOCH` gives the same layer every time).
pub fn write_layer_clamped<W: Write>(upper: &Path, skip: &Exclusions, clamp: Option<u64>, out: W) -> Result<W> {
    let time = |m: &fs::Metadata| {
        let t = m.mtime().max(0) as u64;
        clamp.map_or(t, |c| t.min(c))
    };
    let mut tar = tar::Builder::new(out);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    let err = |p: &str| {
        let p = p.to_string();
        move |e: io::Error| ContainerError::io(format!("adding {p} to the layer"), e)
    };
    for (path, host, meta) in walk(upper)? {
        if skip.excludes(&path) {
            continue;
        }
        let rel = path.trim_start_matches('/');
        let mut header = tar::Header::new_gnu();
        header.set_uid(meta.uid() as u64);
        header.set_gid(meta.gid() as u64);
        header.set_mode(meta.mode() & 0o7777);
        header.set_mtime(time(&meta));
        if is_whiteout(&meta) {
            let (dir, name) = rel.rsplit_once('/').map_or(("", rel), |(d, n)| (d, n));
            let wh = if dir.is_empty() {
                format!(".wh.{name}")
            } else {
                format!("{dir}/.wh.{name}")
            };
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o600);
            header.set_size(0);
            tar.append_data(&mut header, &wh, io::empty()).map_err(err(&path))?;
            continue;
        }
        let ft = meta.file_type();
        if ft.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, format!("{rel}/"), io::empty())
                .map_err(err(&path))?;
            if is_opaque(&host) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o600);
                h.set_size(0);
                h.set_mtime(time(&meta));
                tar.append_data(&mut h, format!("{rel}/.wh..wh..opq"), io::empty())
                    .map_err(err(&path))?;
            }
        } else if ft.is_symlink() {
            let target = fs::read_link(&host).map_err(err(&path))?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            tar.append_link(&mut header, rel, &target).map_err(err(&path))?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_size(0);
                    tar.append_link(&mut header, rel, first).map_err(err(&path))?;
                    continue;
                }
                links.insert((meta.dev(), meta.ino()), rel.to_string());
            }
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            let file = fs::File::open(&host).map_err(err(&path))?;
            tar.append_data(&mut header, rel, file).map_err(err(&path))?;
        } else if ft.is_fifo() {
            header.set_entry_type(tar::EntryType::Fifo);
            header.set_size(0);
            tar.append_data(&mut header, rel, io::empty()).map_err(err(&path))?;
        }
        // Sockets and device nodes a container made are not part of an image.
    }
    tar.into_inner()
        .map_err(|e| ContainerError::io("finishing the layer tar", e))
}
