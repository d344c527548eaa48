//! Content store: immutable blobs addressed by their digest.
//!
//! Layout under the store directory:
//! - `blobs/<algorithm>/<hex>`: committed blobs, read-only, never modified in place.
//! - `ingest/<random>`: writes in progress. A blob becomes visible only after its bytes
//!   were hashed, compared with the expected digest, fsync'ed and renamed into `blobs/`.
//!
//! Semantics (in the manner of containerd's content service):
//! - **Atomic**: a reader never sees a partial blob; a crash leaves at most a stale file
//!   in `ingest/`, which [`ContentStore::stale_ingests`] reports and GC removes.
//! - **Idempotent**: committing a blob that already exists succeeds and keeps the existing
//!   file; two processes writing the same blob at once both succeed.
//! - **Verified**: a blob whose bytes do not match the expected digest is never committed.

mod digest;
mod ingest;

pub use digest::{parse as parse_digest, sha256, Algorithm, DigestError, Hasher};
pub use ingest::{owner_is_gone, Ingest};
pub use oci_spec::image::Digest;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Errors of the content store.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("blob {digest} not found in the content store ({path})")]
    NotFound { digest: Digest, path: PathBuf },
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch { what: String, expected: u64, actual: u64 },
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("content store I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ContentError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ContentError::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the underlying cause is a full disk, so callers can say so plainly.
    pub fn is_no_space(&self) -> bool {
        matches!(self, ContentError::Io { source, .. } if source.raw_os_error() == Some(28))
    }
}

pub type Result<T, E = ContentError> = std::result::Result<T, E>;

/// Names of resumable downloads in `ingest/`.
const PARTIAL_PREFIX: &str = "partial-";

/// A content-addressed blob store rooted at one directory.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Opens (creating if needed) a content store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in [
            root.join("blobs/sha256"),
            root.join("blobs/sha512"),
            root.join("ingest"),
        ] {
            fs::create_dir_all(&dir).map_err(|e| ContentError::io(&dir, e))?;
        }
        Ok(ContentStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of a committed blob (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(digest.digest())
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Size in bytes of a committed blob.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ContentError::NotFound {
                digest: digest.clone(),
                path,
            }),
            Err(e) => Err(ContentError::io(path, e)),
        }
    }

    /// Opens a committed blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ContentError::NotFound {
                digest: digest.clone(),
                path,
            },
            _ => ContentError::io(path, e),
        })
    }

    /// Reads a whole (small) blob into memory, refusing blobs over `limit` bytes.
    pub fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        // One lookup of the path: the size is the open file's.
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ContentError::NotFound {
                    digest: digest.clone(),
                    path,
                })
            }
            Err(e) => return Err(ContentError::io(path, e)),
        };
        let size = file.metadata().map_err(|e| ContentError::io(path.clone(), e))?.len();
        if size > limit {
            return Err(ContentError::SizeMismatch {
                what: format!("blob {digest} (larger than the {limit}-byte limit)"),
                expected: limit,
                actual: size,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| ContentError::io(path, e))?;
        Ok(bytes)
    }

    /// Starts writing a new blob. The digest algorithm is sha256 unless `expected` names
    /// another supported one.
    pub fn ingest(&self, expected: Option<&Digest>) -> Result<Ingest> {
        Ingest::start(self.clone(), expected)
    }

    /// A download of `digest` that survives failures: its bytes so far stay in
    /// `ingest/partial-<alg>-<hex>` for the next attempt to continue from. None while
    /// another process writes it.
    pub fn resumable_ingest(&self, digest: &Digest) -> Result<Option<Ingest>> {
        Ingest::resume(self.clone(), digest)
    }

    pub(crate) fn partial_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("ingest").join(format!(
            "{PARTIAL_PREFIX}{}-{}",
            digest.algorithm().as_ref(),
            digest.digest()
        ))
    }

    /// Removes the partial download of `digest` unless someone is writing it.
    pub fn discard_partial(&self, digest: &Digest) -> Result<()> {
        if let Some(ingest) = self.resumable_ingest(digest)? {
            ingest.discard();
        }
        Ok(())
    }

    /// Partial downloads no process is writing now (`system prune` removes them).
    pub fn idle_partials(&self) -> Result<Vec<PathBuf>> {
        let dir = self.root.join("ingest");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| ContentError::io(&dir, e))? {
            let entry = entry.map_err(|e| ContentError::io(&dir, e))?;
            if !entry.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX) {
                continue;
            }
            let Ok(file) = File::open(entry.path()) else { continue };
            if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared).is_ok() {
                out.push(entry.path());
            }
        }
        Ok(out)
    }

    /// Writes `bytes` as a blob and returns its sha256 digest.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest> {
        let mut ingest = self.ingest(None)?;
        io::Write::write_all(&mut ingest, bytes).map_err(|e| ContentError::io(self.root.join("ingest"), e))?;
        ingest.commit(None)
    }

    /// Removes a committed blob. Removing a missing blob is not an error.
    pub fn delete(&self, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ContentError::io(path, e)),
        }
    }

    /// Every committed blob's digest.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for alg in ["sha256", "sha512"] {
            let dir = self.root.join("blobs").join(alg);
            let entries = fs::read_dir(&dir).map_err(|e| ContentError::io(&dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| ContentError::io(&dir, e))?;
                let name = entry.file_name();
                if let Ok(d) = Digest::try_from(format!("{alg}:{}", name.to_string_lossy())) {
                    out.push(d);
                }
            }
        }
        out.sort_by_key(|d| d.to_string());
        Ok(out)
    }

    /// Files left in the ingest area by writers that never finished (crashed or killed).
    pub fn stale_ingests(&self) -> Result<Vec<PathBuf>> {
        let dir = self.root.join("ingest");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| ContentError::io(&dir, e))? {
            let entry = entry.map_err(|e| ContentError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Partial downloads are kept for the next pull to resume.
            if !name.starts_with(PARTIAL_PREFIX) && owner_is_gone(&name, 0) {
                out.push(entry.path());
            }
        }
        Ok(out)
    }

    /// Recomputes a committed blob's digest from its bytes.
    pub fn verify(&self, digest: &Digest) -> Result<()> {
        let mut file = self.open_blob(digest)?;
        let mut hasher = Hasher::for_digest(digest)?;
        io::copy(&mut file, &mut hasher).map_err(|e| ContentError::io(self.blob_path(digest), e))?;
        let actual = hasher.finish();
        if &actual != digest {
            return Err(ContentError::DigestMismatch {
                what: format!("stored blob {}", self.blob_path(digest).display()),
                expected: digest.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// fsyncs a directory so a rename inside it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Starts writing `file`'s dirty pages to the disk, without waiting for them. What the
/// store keeps is made durable (fsync, syncfs) before it is published, and that wait
/// was the tail of every pull and load (0.3 s for a 185 MB image here); started as the
/// bytes come, the writeback runs beside the rest of the work and the final sync finds
/// little left. Advisory: a failure leaves the work to that sync, which reports real I/O
/// errors.
pub fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the call's duration; sync_file_range reads no
    // memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(test)]
mod tests;
