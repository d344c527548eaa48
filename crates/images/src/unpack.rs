//! The layer pipeline shared by import and load (and later pull): one pass over the
//! input stream stores the blob, computes the DiffID and unpacks the snapshot, with no
//! layer ever held in memory. Nothing becomes visible here: the caller commits the
//! returned ingest and unpack only after every layer of the operation was verified.

use crate::error::{ImageError, Result};
use crate::progress::{Counted, LayerEvent, Progress};
use crate::store::ImageStore;
use std::io::{self, BufRead, BufReader, Read, Write};
use strata_archive::compression::{decoder, decompress, Compression};
use strata_archive::{apply_layer, ApplyError, ApplyOptions, ApplyStats};
use strata_content::{Digest, Hasher, Ingest};
use strata_snapshots::Unpack;

/// Which bytes are kept as the layer's blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlobForm {
    /// The input exactly as given (load, pull): a later save or push re-sends it.
    AsGiven,
    /// The decompressed tar (import: xz or a user's gzip is no distributable layer form).
    Uncompressed,
}

pub(crate) struct LayerInput<'a, R> {
    pub reader: R,
    pub total: u64,
    /// Short ID for progress lines.
    pub id: &'a str,
    /// For errors: the archive or file, and which layer.
    pub archive: &'a str,
    pub what: String,
    pub expected_blob: Option<Digest>,
    /// Declared by the manifest; sniffed from the bytes when None.
    pub compression: Option<Compression>,
    pub form: BlobForm,
    pub options: &'a ApplyOptions,
}

/// A verified but not yet committed layer.
pub(crate) struct UnpackedLayer {
    pub blob: Digest,
    pub blob_size: u64,
    pub media_type: &'static str,
    pub diff_id: Digest,
    pub stats: ApplyStats,
    pub ingest: Ingest,
    pub unpack: Unpack,
}

/// Copies everything read from `inner` into `sink`.
struct Tee<'a, R> {
    inner: R,
    sink: &'a mut Ingest,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Hashes what is read through it (None: the caller knows the digest already).
struct Hashed<R> {
    inner: R,
    hasher: Option<Hasher>,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Runs one layer through the pipeline.
pub(crate) fn unpack_layer<R: Read>(
    store: &ImageStore,
    input: LayerInput<'_, R>,
    progress: &dyn Progress,
) -> Result<UnpackedLayer> {
    let LayerInput {
        reader,
        total,
        id,
        archive,
        what,
        expected_blob,
        compression,
        form,
        options,
    } = input;
    let layer_err = |source| ImageError::Layer {
        archive: archive.to_string(),
        what: what.clone(),
        source: Box::new(source),
    };
    let read_err = |e| layer_err(ApplyError::from_read(e));
    progress.layer(id, LayerEvent::Started { total });
    let mut ingest = store.content().ingest(expected_blob.as_ref())?;
    let unpack = store.snapshots().begin_unpack()?;
    let source = Counted::new(reader, id, progress);
    let (kind, diff_hasher, stats) = match form {
        BlobForm::AsGiven => {
            let mut tee = Tee {
                inner: source,
                sink: &mut ingest,
            };
            let mut buffered = BufReader::with_capacity(1 << 20, &mut tee);
            let kind = match compression {
                Some(c) => c,
                None => Compression::sniff(buffered.fill_buf().map_err(read_err)?),
            };
            // An uncompressed sha256 blob *is* the DiffID: skip the second hash pass.
            let blob_is_sha256 = expected_blob
                .as_ref()
                .is_none_or(|d| d.algorithm().as_ref() == "sha256");
            let hash_diff = kind != Compression::None || !blob_is_sha256;
            let mut decoded = Hashed {
                inner: decoder(kind, &mut buffered).map_err(read_err)?,
                hasher: hash_diff.then(Hasher::sha256),
            };
            let stats = apply_layer(&mut decoded, unpack.path(), options).map_err(layer_err)?;
            // Read to the end: trailing tar padding and the compressed stream's checksum.
            io::copy(&mut decoded, &mut io::sink()).map_err(read_err)?;
            let hasher = decoded.hasher.take();
            drop(decoded);
            io::copy(&mut buffered, &mut io::sink()).map_err(read_err)?;
            (kind, hasher, stats)
        }
        BlobForm::Uncompressed => {
            let (kind, decoded) = decompress(source).map_err(read_err)?;
            let mut tee = Tee {
                inner: decoded,
                sink: &mut ingest,
            };
            let stats = apply_layer(&mut tee, unpack.path(), options).map_err(layer_err)?;
            io::copy(&mut tee, &mut io::sink()).map_err(read_err)?;
            (kind, None, stats)
        }
    };
    let blob = ingest.digest();
    if let Some(expected) = &expected_blob {
        if &blob != expected {
            return Err(ImageError::Invalid {
                archive: archive.to_string(),
                what,
                reason: format!("digest mismatch: the archive names it {expected}, its bytes hash to {blob}"),
            });
        }
    }
    let diff_id = diff_hasher.map_or_else(|| blob.clone(), Hasher::finish);
    progress.layer(id, LayerEvent::Finished);
    Ok(UnpackedLayer {
        blob_size: ingest.size(),
        blob,
        media_type: match form {
            BlobForm::Uncompressed => Compression::None.layer_media_type(),
            BlobForm::AsGiven => kind.layer_media_type(),
        },
        diff_id,
        stats,
        ingest,
        unpack,
    })
}

/// Runs `jobs` on up to `threads` worker threads; results come back in job order.
pub(crate) fn run_parallel<T: Send, F: FnOnce() -> T + Send>(jobs: Vec<F>, threads: usize) -> Vec<T> {
    use std::sync::Mutex;
    let n = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>().into_iter());
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some((i, job)) = next else { break };
                let out = job();
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(out);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}
