//! The layer a COPY, ADD or WORKDIR step makes: a tar written in path order with
//! normalized owners, so the same inputs give the same bytes (and digest). File times
//! are kept from the context unless `SOURCE_DATE_EPOCH` sets them all.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Content {
    Dir,
    File(PathBuf),
    Bytes(Vec<u8>),
    Symlink(String),
    /// A hard link to an earlier entry of this layer (path without leading `/`).
    Link(String),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub content: Content,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

/// Entries by path inside the image (no leading `/`); a BTreeMap keeps them sorted, so
/// parents come before their children.
#[derive(Debug, Default)]
pub struct Layer {
    pub entries: BTreeMap<String, Entry>,
}

impl Layer {
    pub fn add(&mut self, path: &str, entry: Entry) {
        let path = path.trim_start_matches('/').trim_end_matches('/');
        if !path.is_empty() {
            self.entries.insert(path.to_string(), entry);
        }
    }

    pub fn contains(&self, path: &str) -> bool {
        self.entries
            .contains_key(path.trim_start_matches('/').trim_end_matches('/'))
    }

    /// Writes the tar.
    pub fn write(&self, out: impl Write) -> io::Result<()> {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        for (path, e) in &self.entries {
            let mut header = tar::Header::new_ustar();
            header.set_mode(e.mode & 0o7777);
            header.set_uid(e.uid);
            header.set_gid(e.gid);
            header.set_mtime(e.mtime);
            match &e.content {
                Content::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{path}/"), io::empty())?;
                }
                Content::File(source) => {
                    let file = std::fs::File::open(source)?;
                    let size = file.metadata()?.len();
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(size);
                    // A file that changes size while being read fails the build rather
                    // than writing a tar whose header lies.
                    let mut exact = Exact {
                        inner: file.take(size),
                        left: size,
                    };
                    tar.append_data(&mut header, path, &mut exact)?;
                    if exact.left != 0 {
                        return Err(io::Error::other(format!(
                            "{} shrank while it was copied",
                            source.display()
                        )));
                    }
                }
                Content::Bytes(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(bytes.len() as u64);
                    tar.append_data(&mut header, path, &bytes[..])?;
                }
                Content::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    tar.append_link(&mut header, path, target)?;
                }
                Content::Link(target) => {
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_size(0);
                    tar.append_link(&mut header, path, target)?;
                }
            }
        }
        tar.into_inner()?.flush()
    }
}

struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_entries_give_the_same_bytes_in_path_order() {
        let entry = |content| Entry {
            content,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1,
        };
        let mut a = Layer::default();
        a.add("/b/file", entry(Content::Bytes(b"x".to_vec())));
        a.add("b", entry(Content::Dir));
        a.add("a", entry(Content::Symlink("b".into())));
        let mut b = Layer::default();
        b.add("a", entry(Content::Symlink("b".into())));
        b.add("b/", entry(Content::Dir));
        b.add("b/file", entry(Content::Bytes(b"x".to_vec())));
        let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
        a.write(&mut out_a).unwrap();
        b.write(&mut out_b).unwrap();
        assert_eq!(out_a, out_b);
        let mut archive = tar::Archive::new(&out_a[..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a", "b/", "b/file"]);
    }
}
