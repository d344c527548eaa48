//! The layer pipeline shared by import and load (and later pull): one pass over the
//! input stream stores the blob, computes the DiffID and unpacks the snapshot, with no
//! layer ever held in memory; the reading and the unpacking run on two threads (see
//! `relay`). Nothing becomes visible here: the caller commits the
//! returned ingest and unpack only after every layer of the operation was verified.

use crate::error::{ImageError, Result};
use crate::progress::{Counted, LayerEvent, Progress};
use crate::relay::relayed;
use crate::store::ImageStore;
use std::io::{self, BufReader, Read, Write};
use strata_archive::compression::{decoder, Compression};
use strata_archive::tar_split::SplitWriter;
use strata_archive::{apply_layer, apply_layer_split, ApplyError, ApplyOptions, ApplyStats};
use strata_content::{Digest, Hasher, Ingest};
use strata_metadata::NewLayer;
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
    /// A resumed download: its bytes so far lead `reader` and are not written again.
    pub resumed: Option<Ingest>,
}

/// How a layer's exact bytes are kept for save and push.
pub(crate) enum Kept {
    /// The blob as given (compressed layers: their bytes cannot be made again).
    Blob(Box<Ingest>),
    /// Only the tar-split beside the snapshot: the uncompressed tar is reassembled from
    /// it and the unpacked files, so the layer is on disk once.
    Split,
}

/// A verified but not yet committed layer.
pub(crate) struct UnpackedLayer {
    pub blob: Digest,
    pub blob_size: u64,
    pub media_type: &'static str,
    pub diff_id: Digest,
    pub stats: ApplyStats,
    pub kept: Kept,
    pub unpack: Unpack,
}

impl UnpackedLayer {
    /// Publishes the blob (when kept) and the snapshot as `chain`; returns the layer's
    /// record for the image that uses it.
    pub fn commit(self, store: &ImageStore, chain: &strata_snapshots::ChainId) -> Result<NewLayer> {
        let record = NewLayer {
            chain_id: chain.to_string(),
            diff_id: self.diff_id.to_string(),
            size: self.stats.bytes as i64,
            blob_digest: self.blob.to_string(),
            blob_media_type: self.media_type.into(),
            blob_size: self.blob_size as i64,
        };
        if let Kept::Blob(ingest) = self.kept {
            ingest.commit(Some(&self.blob))?;
        }
        store.snapshots().commit_unpack(self.unpack, chain)?;
        Ok(record)
    }
}

/// Copies what is read from `inner` into `sink`, except the first `skip` bytes (a
/// resumed ingest holds them already).
struct Tee<'a, R> {
    inner: R,
    sink: &'a mut Ingest,
    skip: u64,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let held = self.skip.min(n as u64) as usize;
        self.skip -= held as u64;
        self.sink.write_all(&buf[held..n])?;
        Ok(n)
    }
}

/// Hashes and counts what is read through it.
struct Hashed<R> {
    inner: R,
    hasher: Option<Hasher>,
    count: u64,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
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
        resumed,
    } = input;
    let layer_err = |source| ImageError::Layer {
        archive: archive.to_string(),
        what: what.clone(),
        source: Box::new(source),
    };
    let read_err = |e| layer_err(ApplyError::from_read(e));
    progress.layer(id, LayerEvent::Started { total });
    let unpack = store.snapshots().begin_unpack()?;
    let mut source = Counted::new(reader, id, progress);
    // Peek at the magic bytes to learn the compression, then put them back in front.
    let mut head = [0u8; 6];
    let mut seen = 0;
    while seen < head.len() {
        match source.read(&mut head[seen..]).map_err(read_err)? {
            0 => break,
            n => seen += n,
        }
    }
    let kind = match (form, compression) {
        (BlobForm::AsGiven, Some(c)) => c,
        _ => Compression::sniff(&head[..seen]),
    };
    let stream = io::Cursor::new(head[..seen].to_vec()).chain(source);
    let blob_is_sha256 = expected_blob
        .as_ref()
        .is_none_or(|d| d.algorithm().as_ref() == "sha256");
    let split = form == BlobForm::Uncompressed || (kind == Compression::None && blob_is_sha256);
    let (blob, blob_size, diff_id, stats, kept) = if split {
        // The uncompressed tar is both the blob and the DiffID: hash it once, keep its
        // tar-split, write no blob.
        let decoded = decoder(kind, BufReader::with_capacity(1 << 20, stream)).map_err(read_err)?;
        let mut hashed = Hashed {
            inner: decoded,
            hasher: Some(Hasher::sha256()),
            count: 0,
        };
        let writer =
            SplitWriter::create(&unpack.split_path()).map_err(|e| ImageError::io("creating the tar-split", e))?;
        let root = unpack.path();
        let (stats, writer) = relayed(&mut hashed, |layer| {
            let applied = apply_layer_split(&mut *layer, root, options, writer).map_err(layer_err)?;
            io::copy(layer, &mut io::sink()).map_err(read_err)?;
            Ok::<_, ImageError>(applied)
        })?;
        writer
            .finish()
            .map_err(|e| ImageError::io("writing the tar-split", e))?;
        let digest = hashed.hasher.take().expect("hashing").finish();
        (digest.clone(), hashed.count, digest, stats, Kept::Split)
    } else {
        let mut ingest = match resumed {
            Some(i) => i,
            None => store.content().ingest(expected_blob.as_ref())?,
        };
        let skip = ingest.resumed();
        let mut tee = Tee {
            inner: stream,
            sink: &mut ingest,
            skip,
        };
        let mut buffered = BufReader::with_capacity(1 << 20, &mut tee);
        let mut decoded = Hashed {
            inner: decoder(kind, &mut buffered).map_err(read_err)?,
            hasher: Some(Hasher::sha256()),
            count: 0,
        };
        let root = unpack.path();
        let stats = relayed(&mut decoded, |layer| {
            let stats = apply_layer(&mut *layer, root, options).map_err(layer_err)?;
            // Read to the end: the compressed stream's checksum, and anything after it.
            io::copy(layer, &mut io::sink()).map_err(read_err)?;
            Ok::<_, ImageError>(stats)
        })?;
        let diff = decoded.hasher.take().expect("hashing").finish();
        drop(decoded);
        io::copy(&mut buffered, &mut io::sink()).map_err(read_err)?;
        drop(buffered);
        (
            ingest.digest(),
            ingest.size(),
            diff,
            stats,
            Kept::Blob(Box::new(ingest)),
        )
    };
    if let Some(expected) = &expected_blob {
        if &blob != expected {
            if let Kept::Blob(ingest) = kept {
                ingest.discard();
            }
            return Err(ImageError::Invalid {
                archive: archive.to_string(),
                what,
                reason: format!("digest mismatch: the archive names it {expected}, its bytes hash to {blob}"),
            });
        }
    }
    progress.layer(id, LayerEvent::Finished);
    let media_type = if split {
        Compression::None.layer_media_type()
    } else {
        kind.layer_media_type()
    };
    Ok(UnpackedLayer {
        blob,
        blob_size,
        media_type,
        diff_id,
        stats,
        kept,
        unpack,
    })
}

/// Runs `jobs` on up to `threads` worker threads; results come back in job order.
pub fn run_parallel<T: Send, F: FnOnce() -> T + Send>(jobs: Vec<F>, threads: usize) -> Vec<T> {
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
