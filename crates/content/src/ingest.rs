//! A blob being written: hashed as it is written, committed by rename.

use crate::{sync_dir, ContentError, ContentStore, Digest, Hasher, Result};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;

/// Bytes between two starts of the writeback of a blob being written.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// A blob write in progress. Bytes are hashed as they are written; [`Ingest::commit`]
/// verifies, fsyncs and renames the file into place. Dropping an uncommitted ingest
/// removes its temporary file.
pub struct Ingest {
    store: ContentStore,
    file: Option<io::BufWriter<File>>,
    path: PathBuf,
    hasher: Hasher,
    size: u64,
    /// Bytes that were already there when a resumable ingest was reopened.
    resumed: u64,
    /// Drop leaves the path alone: a resumable ingest keeps its bytes for the next
    /// attempt, and a committed or already removed one has nothing left there.
    keep: bool,
}

impl Ingest {
    pub(crate) fn start(store: ContentStore, expected: Option<&Digest>) -> Result<Self> {
        let hasher = match expected {
            Some(d) => Hasher::for_digest(d)?,
            None => Hasher::sha256(),
        };
        let name = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        let path = store.root().join("ingest").join(name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ContentError::io(&path, e))?;
        Ok(Ingest {
            store,
            file: Some(io::BufWriter::with_capacity(1 << 20, file)),
            path,
            hasher,
            size: 0,
            resumed: 0,
            keep: false,
        })
    }

    /// Reopens (or starts) the resumable ingest of `digest`: its bytes so far are hashed
    /// again and new bytes are appended. None while another process holds it (the lock
    /// dies with its holder).
    pub(crate) fn resume(store: ContentStore, digest: &Digest) -> Result<Option<Self>> {
        let path = store.partial_path(digest);
        let Some(mut file) = lock_partial(&path)? else {
            return Ok(None);
        };
        let mut hasher = Hasher::for_digest(digest)?;
        let size = io::copy(&mut file, &mut hasher).map_err(|e| ContentError::io(&path, e))?;
        Ok(Some(Ingest {
            store,
            file: Some(io::BufWriter::with_capacity(1 << 20, file)),
            path,
            hasher,
            size,
            resumed: size,
            keep: true,
        }))
    }

    /// Bytes a resumed ingest already held when it was reopened.
    pub fn resumed(&self) -> u64 {
        self.resumed
    }

    /// The bytes a resumed ingest already held, to feed again to whatever consumes the
    /// blob as it arrives.
    pub fn resumed_bytes(&self) -> Result<io::Take<File>> {
        let file = File::open(&self.path).map_err(|e| ContentError::io(&self.path, e))?;
        Ok(io::Read::take(file, self.resumed))
    }

    /// Abandons the ingest and its bytes, even a resumable one (they proved wrong).
    pub fn discard(mut self) {
        self.keep = false;
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Verifies the bytes against `expected` (if given), makes them durable and publishes
    /// the blob. Returns the blob's digest. Committing a blob that already exists is a
    /// success that keeps the existing file.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<Digest> {
        let writer = self.file.take().expect("ingest committed once");
        let file = writer
            .into_inner()
            .map_err(|e| ContentError::io(&self.path, e.into_error()))?;
        let actual = self.hasher.clone().finish();
        if let Some(expected) = expected {
            if &actual != expected {
                self.remove_while_held(file);
                return Err(ContentError::DigestMismatch {
                    what: "blob being written".into(),
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let target = self.store.blob_path(&actual);
        if target.exists() {
            self.remove_while_held(file);
            return Ok(actual);
        }
        file.sync_all().map_err(|e| ContentError::io(&self.path, e))?;
        // Renamed while still open: a resumable ingest's lock lives on this handle, and
        // nobody may take the path's lock before the file has left it.
        fs::rename(&self.path, &target).map_err(|e| ContentError::io(&target, e))?;
        self.keep = true; // nothing of ours is left at the path
        drop(file);
        let dir = target.parent().expect("blob path has a parent");
        sync_dir(dir).map_err(|e| ContentError::io(dir, e))?;
        Ok(actual)
    }

    /// Removes our file from the ingest area before closing it (and so before a
    /// resumable ingest's lock is released: the path may be someone else's after).
    fn remove_while_held(&mut self, file: File) {
        let _ = fs::remove_file(&self.path);
        self.keep = true; // Drop must not touch the path again
        drop(file);
    }

    /// Digest of the bytes written so far.
    pub fn digest(&self) -> Digest {
        self.hasher.clone().finish()
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let writer = self.file.as_mut().expect("ingest not committed");
        let n = writer.write(buf)?;
        self.hasher.update(&buf[..n]);
        let before = self.size;
        self.size += n as u64;
        if before / WRITEBACK_EVERY != self.size / WRITEBACK_EVERY {
            // Beside the download, not all at the commit's fsync.
            crate::start_writeback(writer.get_ref());
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("ingest not committed").flush()
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if self.keep {
            if let Some(mut writer) = self.file.take() {
                let _ = writer.flush();
            }
            return;
        }
        // An abandoned ingest removes its file (before its handle closes).
        let _ = fs::remove_file(&self.path);
    }
}

/// Opens and locks the partial download at `path`. The file a lock is won on must still
/// be the one the path names: its previous holder may have committed (renamed) it or
/// discarded it between our open and our lock. None while another process holds it.
fn lock_partial(path: &std::path::Path) -> Result<Option<File>> {
    use std::os::unix::fs::MetadataExt;
    for _ in 0..10 {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| ContentError::io(path, e))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(ContentError::io(path, e.into())),
        }
        let held = file.metadata().map_err(|e| ContentError::io(path, e))?;
        match fs::metadata(path) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => return Ok(Some(file)),
            _ => continue, // renamed or removed under us: open the path again
        }
    }
    Ok(None)
}

/// Whether the process that named a work file or directory no longer runs. Work names
/// carry the owner's PID as their `field`-th `-`-separated part (`<pid>-<random>`,
/// `load-<pid>-<random>.tar`); a name without one counts as abandoned.
pub fn owner_is_gone(name: &str, field: usize) -> bool {
    let Some(pid) = name.split('-').nth(field).and_then(|p| p.parse::<u32>().ok()) else {
        return true;
    };
    !PathBuf::from(format!("/proc/{pid}")).exists()
}
