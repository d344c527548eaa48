//! Random access to the members of a tar file, so an image archive can be read in any
//! order (manifest first, then layers in parallel) without extracting it anywhere.

use crate::path::normalize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("reading archive {archive}: {source}")]
    Read {
        archive: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("archive {archive}: member {member:?} {reason}")]
    Member {
        archive: PathBuf,
        member: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Symlink { target: Vec<u8> },
}

/// The members of a tar file by normalized name (no leading `./`).
#[derive(Debug)]
pub struct TarIndex {
    path: PathBuf,
    members: HashMap<String, Member>,
}

/// Symlinks inside archives (legacy `docker save` links duplicate layer.tar files) are
/// followed at most this many times.
const MAX_LINK_HOPS: usize = 8;

impl TarIndex {
    /// Reads every header of the tar file at `path`, skipping member data by seeking.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        let read_err = |source| IndexError::Read {
            archive: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(read_err)?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        for entry in archive.entries_with_seek().map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let raw = entry.path_bytes().into_owned();
            let name = match normalize(&raw) {
                Ok(p) => p.to_string_lossy().into_owned(),
                Err(problem) => {
                    return Err(IndexError::Member {
                        archive: path.to_path_buf(),
                        member: String::from_utf8_lossy(&raw).into_owned(),
                        reason: problem.to_string(),
                    })
                }
            };
            let member = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => Member::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                tar::EntryType::Symlink | tar::EntryType::Link => Member::Symlink {
                    target: entry.link_name_bytes().unwrap_or_default().into_owned(),
                },
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            members,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_ok()
    }

    /// Offset and size of a regular member, following links inside the archive.
    pub fn locate(&self, name: &str) -> Result<(u64, u64), IndexError> {
        self.resolve(name)
    }

    fn member_err(&self, name: &str, reason: &str) -> IndexError {
        IndexError::Member {
            archive: self.path.clone(),
            member: name.to_string(),
            reason: reason.to_string(),
        }
    }

    fn resolve(&self, name: &str) -> Result<(u64, u64), IndexError> {
        let mut current = normalize(name.as_bytes())
            .map_err(|p| self.member_err(name, &p.to_string()))?
            .to_string_lossy()
            .into_owned();
        for _ in 0..=MAX_LINK_HOPS {
            match self.members.get(&current) {
                None => return Err(self.member_err(name, "is missing from the archive")),
                Some(Member::File { offset, size }) => return Ok((*offset, *size)),
                Some(Member::Symlink { target }) => {
                    // Relative to the link's directory; hard links are relative to the root.
                    let base = Path::new(&current).parent().unwrap_or(Path::new(""));
                    let joined = base.join(String::from_utf8_lossy(target).as_ref());
                    current =
                        lexical_clean(&joined).ok_or_else(|| self.member_err(name, "links outside the archive"))?;
                }
            }
        }
        Err(self.member_err(name, "is a chain of links that is too long"))
    }

    /// A reader of one member's bytes. Each reader has its own file handle, so several
    /// members can be read at once from different threads.
    pub fn open_member(&self, name: &str) -> Result<(u64, impl Read + use<>), IndexError> {
        let (offset, size) = self.resolve(name)?;
        let read_err = |source| IndexError::Read {
            archive: self.path.clone(),
            source,
        };
        let mut file = File::open(&self.path).map_err(read_err)?;
        file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
        Ok((size, file.take(size)))
    }

    /// A whole member in memory, refusing members over `limit` bytes.
    pub fn read_member(&self, name: &str, limit: u64) -> Result<Vec<u8>, IndexError> {
        let (size, mut reader) = self.open_member(name)?;
        if size > limit {
            return Err(self.member_err(name, &format!("is too large ({size} bytes; the limit is {limit})")));
        }
        let mut buf = Vec::with_capacity(size as usize);
        reader.read_to_end(&mut buf).map_err(|source| IndexError::Read {
            archive: self.path.clone(),
            source,
        })?;
        if (buf.len() as u64) < size {
            return Err(self.member_err(name, "is truncated"));
        }
        Ok(buf)
    }
}

/// Resolves `.` and `..` lexically; None if the path climbs above the archive root.
fn lexical_clean(path: &Path) -> Option<String> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(p) => parts.push(p),
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>().join("/"))
}
