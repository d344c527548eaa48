//! `save`: images to one archive that docker, podman and skopeo all read.

use crate::error::{ImageError, Result};
use crate::progress::{short_id, LayerEvent, Progress};
use crate::store::{digest, ImageStore};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use strata_archive::writer::{write_archive, BlobSource, SavedImage, SavedName};
use strata_content::{Digest, Hasher};
use strata_snapshots::ChainId;

struct StoreBlobs<'a> {
    store: &'a ImageStore,
    progress: &'a dyn Progress,
    /// Layer blobs by digest: the snapshot that can reassemble it, and its size.
    layers: HashMap<String, (ChainId, u64)>,
}

impl StoreBlobs<'_> {
    /// A blob's bytes: from the content store, or reassembled from a snapshot's
    /// tar-split (and checked against its digest as it streams).
    fn bytes(&self, digest: &Digest) -> io::Result<(u64, Box<dyn Read + '_>)> {
        let snapshot = self.layers.get(digest.as_ref()).map(|(chain, size)| (chain, *size));
        let (size, reader) = self.store.open_layer_blob(digest, snapshot)?;
        Ok((size, reader))
    }
}

impl ImageStore {
    /// A layer blob's bytes: from the content store, or reassembled from the tar-split
    /// of `snapshot` (its ChainID and the blob's size) and checked against its digest
    /// as it streams.
    pub fn open_layer_blob(
        &self,
        digest: &Digest,
        snapshot: Option<(&ChainId, u64)>,
    ) -> io::Result<(u64, Box<dyn Read + Send + '_>)> {
        if self.content().exists(digest) {
            let file = self.content().open_blob(digest).map_err(io::Error::other)?;
            let size = file.metadata()?.len();
            return Ok((size, Box::new(io::BufReader::with_capacity(1 << 20, file))));
        }
        let missing = || {
            io::Error::other(format!("blob {digest} is neither stored nor reassemblable; run \"strata system prune\" and load the image again"))
        };
        let (chain, size) = snapshot.ok_or_else(missing)?;
        let split = self.snapshots().layer_tar(chain)?.ok_or_else(missing)?;
        Ok((
            size,
            Box::new(Verified {
                inner: split,
                hasher: Some(Hasher::for_digest(digest).map_err(io::Error::other)?),
                expected: digest.clone(),
                remaining: size,
            }),
        ))
    }
}

impl BlobSource for StoreBlobs<'_> {
    fn open(&self, digest: &Digest) -> io::Result<(u64, Box<dyn Read + '_>)> {
        let (size, inner) = self.bytes(digest)?;
        let id = short_id(digest.as_ref()).to_string();
        self.progress.layer(&id, LayerEvent::Started { total: size });
        let reader = Reported {
            inner,
            id,
            progress: self.progress,
            done: 0,
            total: size,
        };
        Ok((size, Box::new(reader)))
    }
}

/// Fails the read that reaches the end if the bytes do not hash to `expected`: a
/// damaged snapshot never yields a layer with a wrong digest.
struct Verified<R> {
    inner: R,
    hasher: Option<Hasher>,
    expected: Digest,
    /// Bytes still to come: the check runs on the read that delivers the last one (the
    /// archive writer reads exactly the blob's size, never to EOF).
    remaining: u64,
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let Some(h) = &mut self.hasher else { return Ok(n) };
        h.update(&buf[..n]);
        self.remaining = self.remaining.saturating_sub(n as u64);
        if self.remaining == 0 || (n == 0 && !buf.is_empty()) {
            let actual = h.clone().finish();
            self.hasher = None;
            if actual != self.expected || n == 0 && self.remaining > 0 {
                return Err(io::Error::other(format!(
                    "layer {} reassembled to {actual}: its snapshot was changed; run \"strata system prune\" and load the image again",
                    self.expected
                )));
            }
        }
        Ok(n)
    }
}

/// Reports a blob's progress as the archive writer reads it, and its end.
struct Reported<'a, R> {
    inner: R,
    id: String,
    progress: &'a dyn Progress,
    done: u64,
    total: u64,
}

impl<R: Read> Read for Reported<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let before = self.done;
        self.done += n as u64;
        if self.done / (1 << 20) != before / (1 << 20) || self.done == self.total {
            self.progress.layer(&self.id, LayerEvent::Advanced { done: self.done });
        }
        if n > 0 && self.done == self.total {
            self.progress.layer(&self.id, LayerEvent::Finished);
        }
        Ok(n)
    }
}

impl ImageStore {
    /// Which snapshot can reassemble each layer blob of `images`, and the blob's size.
    fn layer_sources(&self, images: &[SavedImage]) -> Result<HashMap<String, (ChainId, u64)>> {
        let mut out = HashMap::new();
        for saved in images {
            let Some(image) = self.db().image(saved.config.as_ref())? else {
                continue;
            };
            for l in image.layers {
                if let Ok(chain) = ChainId::parse(&l.chain_id) {
                    out.insert(l.blob_digest.clone(), (chain, l.blob_size as u64));
                }
            }
        }
        Ok(out)
    }

    /// Describes the named images for the archive writer. Images named by tag are saved
    /// under that tag; images named by ID are saved without names, as Docker does.
    fn saved_images(&self, names: &[String]) -> Result<Vec<SavedImage>> {
        let mut out: Vec<SavedImage> = Vec::new();
        for name in names {
            let resolved = self.resolve(name)?;
            let image = &resolved.image;
            let saved_name = resolved.reference.as_ref().and_then(|r| {
                r.tag().map(|tag| SavedName {
                    full: r.to_string(),
                    familiar_repo: r.familiar_repository(),
                    tag: tag.to_string(),
                })
            });
            if let Some(existing) = out.iter_mut().find(|s| s.config.to_string() == image.id) {
                existing.names.extend(saved_name);
                continue;
            }
            let manifest_digest = digest(&image.manifest_digest)?;
            let manifest = self
                .content()
                .read_blob(&manifest_digest, crate::store::MAX_DOCUMENT_BYTES)?;
            out.push(SavedImage {
                manifest_digest,
                manifest_media_type: image.manifest_media_type.clone(),
                manifest,
                config: digest(&image.id)?,
                layers: image
                    .layers
                    .iter()
                    .map(|l| digest(&l.blob_digest))
                    .collect::<Result<_>>()?,
                names: saved_name.into_iter().collect(),
            });
        }
        Ok(out)
    }

    /// Writes the archive of `names` to `out`.
    pub fn save(&self, names: &[String], out: impl Write, progress: &dyn Progress) -> Result<()> {
        let images = self.saved_images(names)?;
        let mut out = write_archive(
            out,
            &images,
            &StoreBlobs {
                store: self,
                progress,
                layers: self.layer_sources(&images)?,
            },
        )
        .map_err(|e| ImageError::io("writing the archive", e))?;
        out.flush().map_err(|e| ImageError::io("writing the archive", e))?;
        self.emit_saves(&images);
        Ok(())
    }

    /// A `save` event per image written.
    fn emit_saves(&self, images: &[SavedImage]) {
        for image in images {
            let name = image.names.first().map(|n| n.full.as_str()).unwrap_or_default();
            let name = crate::reference::ImageRef::parse(name).map_or(name.to_string(), |r| r.familiar());
            self.emit_image("save", image.config.as_ref(), &name);
        }
    }

    /// Writes the archive to `path` atomically: a reader never sees a partial file, and
    /// a failed save leaves an existing file as it was.
    pub fn save_to_file(&self, names: &[String], path: &Path, progress: &dyn Progress) -> Result<()> {
        let images = self.saved_images(names)?;
        let blobs = StoreBlobs {
            store: self,
            progress,
            layers: self.layer_sources(&images)?,
        };
        write_file_atomically(path, |file| {
            let writer = io::BufWriter::with_capacity(1 << 20, file);
            let writer = write_archive(writer, &images, &blobs)?;
            writer.into_inner().map_err(|e| e.into_error())
        })?;
        self.emit_saves(&images);
        Ok(())
    }
}

/// Writes `path` through `write`: a regular file (or a new one) atomically, by a
/// temporary file beside it, fsync and rename, so no reader sees a partial file and a
/// failure leaves the old one; anything else (`/dev/null`, a FIFO, a terminal) directly,
/// since renaming over it would replace a device with a file.
pub fn write_file_atomically(path: &Path, write: impl FnOnce(File) -> io::Result<File>) -> Result<()> {
    let what = |verb: &str| format!("{verb} {}", path.display());
    if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let file = File::options()
            .write(true)
            .open(path)
            .map_err(|e| ImageError::io(what("opening"), e))?;
        write(file).map_err(|e| ImageError::io(what("writing"), e))?;
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile_in(dir, path)?;
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| ImageError::io(format!("creating {}", tmp.display()), e))?;
        let file = write(file).map_err(|e| ImageError::io(what("writing"), e))?;
        file.sync_all().map_err(|e| ImageError::io(what("syncing"), e))?;
        fs::rename(&tmp, path).map_err(|e| ImageError::io(what("renaming into"), e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn tempfile_in(dir: &Path, target: &Path) -> Result<std::path::PathBuf> {
    let name = target
        .file_name()
        .map_or("archive".into(), |n| n.to_string_lossy().into_owned());
    Ok(dir.join(format!(".{name}.strata-{:016x}.tmp", rand::random::<u64>())))
}
