//! A layer's tar stream as the explorer sees it: each entry's path, type, mode, owner,
//! size and content digest, and the whiteouts (`.wh.NAME`) and opaque markers
//! (`.wh..wh..opq`) of the OCI layer format. Read once, streaming; nothing is written.

use crate::error::{ExploreError, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;

/// A path inside the image, relative, as the layer's bytes name it (maybe not UTF-8).
pub type ImagePath = Arc<[u8]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A hard link to an earlier entry: no bytes of its own.
    Hardlink,
    /// A device node, fifo or socket.
    Special,
}

/// One entry a layer puts in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: ImagePath,
    pub kind: Kind,
    pub mode: u32,
    /// Owners by their low 32 bits (tar allows larger IDs; no kernel has them).
    pub uid: u32,
    pub gid: u32,
    /// Bytes of content (files only).
    pub size: u64,
    /// SHA-256 of the content (files with content), of the target (links, a hard
    /// link's cleaned); zeros otherwise. A layer of 10,000 entries is held whole while it
    /// waits for the analysis, so the target itself is not kept.
    pub digest: [u8; 32],
}

/// What a layer does to one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put(Entry),
    /// `.wh.NAME`: the path (and all below it) is deleted.
    Whiteout(ImagePath),
    /// `.wh..wh..opq` in a directory: everything the layers below had in it is hidden.
    Opaque(ImagePath),
}

const WHITEOUT: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// The changes of one uncompressed layer tar, in its order. Paths are made relative and
/// cleaned (`./a//b` is `a/b`); an entry whose path climbs out (`..`) is refused, as the
/// store's applier refuses it. More than `max_bytes` of content (a decompression bomb)
/// is an error.
pub fn read_layer(reader: impl Read, max_bytes: u64) -> Result<Vec<Change>> {
    // Headers and long names are bytes of the stream too: the whole stream is bounded
    // (the contents by `max_bytes`, and as much again for headers), so a layer of
    // endless headers or a gigabyte-long name is refused like a content bomb.
    let limit = max_bytes.saturating_mul(2).saturating_add(64 << 20);
    let mut archive = tar::Archive::new(Bounded {
        inner: reader,
        left: limit,
        limit,
    });
    let mut changes = Vec::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    for entry in archive.entries().map_err(ExploreError::tar)? {
        let mut entry = entry.map_err(ExploreError::tar)?;
        let raw = entry.path_bytes().into_owned();
        if raw.len() > MAX_PATH {
            return Err(ExploreError::BadLayer(format!(
                "an entry's name is {} bytes long (at most {MAX_PATH})",
                raw.len()
            )));
        }
        let Some(path) = clean(&raw) else {
            return Err(ExploreError::BadLayer(format!(
                "entry {} climbs out of the image",
                crate::display::escape(&raw)
            )));
        };
        if path.is_empty() {
            continue;
        }
        let (parent, name) = split(&path);
        if name == OPAQUE {
            changes.push(Change::Opaque(parent.into()));
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT).filter(|h| !h.is_empty()) {
            let mut target = parent.to_vec();
            if !target.is_empty() {
                target.push(b'/');
            }
            target.extend_from_slice(hidden);
            changes.push(Change::Whiteout(target.into()));
            continue;
        }
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => Kind::File,
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink,
            tar::EntryType::Link => Kind::Hardlink,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Kind::Special,
            // PAX and GNU long-name headers are consumed by the tar reader; anything else
            // carries no file.
            _ => continue,
        };
        let mode = header.mode().unwrap_or(0);
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        let link: Option<Vec<u8>> = match kind {
            Kind::Symlink => entry.link_name_bytes().map(|l| l.into_owned()),
            Kind::Hardlink => match entry.link_name_bytes() {
                Some(target) => Some(clean(&target).ok_or_else(|| {
                    ExploreError::BadLayer(format!(
                        "hard link {} climbs out of the image",
                        crate::display::escape(&path)
                    ))
                })?),
                None => None,
            },
            _ => None,
        };
        let mut size = 0;
        // A link is known by its target's digest (the analysis keeps no targets).
        let mut digest = link.as_deref().map_or([0u8; 32], |l| Sha256::digest(l).into());
        if kind == Kind::File {
            let mut hasher = Sha256::new();
            loop {
                let n = entry.read(&mut buf).map_err(ExploreError::tar)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                size += n as u64;
                total += n as u64;
                if total > max_bytes {
                    return Err(ExploreError::TooBig { limit: max_bytes });
                }
            }
            if size > 0 {
                digest = hasher.finalize().into();
            }
        }
        changes.push(Change::Put(Entry {
            path: path.into(),
            kind,
            mode,
            uid,
            gid,
            size,
            digest,
        }));
    }
    Ok(changes)
}

/// Longest entry name or link target taken (Linux's PATH_MAX).
const MAX_PATH: usize = 4096;

/// A reader that fails once more than `limit` bytes were read.
struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other(format!(
                "the layer's tar stream is longer than {} bytes (headers or names without end?)",
                self.limit
            )));
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// `./a//b/` → `a/b`; None if a `..` component would climb out.
fn clean(raw: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join(&b'/'))
}

/// (`a/b`, `c`) of `a/b/c`; (``, `c`) of `c`.
pub(crate) fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_climbing_ones_refused() {
        assert_eq!(clean(b"./a//b/").unwrap(), b"a/b");
        assert_eq!(clean(b"/etc/passwd").unwrap(), b"etc/passwd");
        assert_eq!(clean(b"a/../b").unwrap(), b"b");
        assert_eq!(clean(b"../x"), None);
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
    }
}
