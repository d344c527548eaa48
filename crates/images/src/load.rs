//! `load`: images from an archive (docker-archive of any Docker version, podman's and
//! skopeo's archives, OCI layouts), plain or gzip/zstd/xz compressed.

use crate::config;
use crate::error::{ImageError, Result};
use crate::manifest::{manifest_for_layers, OCI_MANIFEST};
use crate::progress::{short_id, LayerEvent, Progress};
use crate::reference::ImageRef;
use crate::store::{ImageStore, MAX_DOCUMENT_BYTES};
use crate::unpack::{run_parallel, unpack_layer, BlobForm, LayerInput, UnpackedLayer};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use strata_archive::compression::{decompress, Compression};
use strata_archive::{read_archive, ArchiveImage, DevicePolicy, TarIndex};
use strata_content::{Digest, Hasher};
use strata_metadata::{NewImage, NewLayer};
use strata_snapshots::{chain_ids, ChainId};

/// Where the archive comes from.
pub enum LoadSource<'a> {
    File(&'a Path),
    /// An archive streamed by the caller (a command's stdin, a request body); named
    /// `what` in messages.
    Reader {
        what: &'a str,
        reader: Box<dyn Read + 'a>,
    },
}

/// What a load did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Per image: its ID and the names (as Docker prints them) now pointing at it.
    pub images: Vec<(String, Vec<String>)>,
    /// Tags that moved away from another image: (name, previous image ID).
    pub renamed: Vec<(String, String)>,
    /// Device nodes left out of the unpacked layers.
    pub skipped_devices: usize,
}

/// An archive as a seekable plain tar: the file itself, or a private copy made from a
/// compressed file or from stdin (removed on drop).
struct PlainArchive {
    path: PathBuf,
    temporary: bool,
}

impl Drop for PlainArchive {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn plain_archive(store: &ImageStore, source: LoadSource<'_>, label: &str) -> Result<PlainArchive> {
    let spool = |reader: Box<dyn Read + '_>| -> Result<PlainArchive> {
        let path = store.work_path("load", ".tar");
        let archive = PlainArchive {
            path: path.clone(),
            temporary: true,
        };
        let mut out = File::create(&path).map_err(|e| ImageError::io(format!("creating {}", path.display()), e))?;
        let (_, mut plain) = decompress(reader).map_err(|e| ImageError::io(format!("reading {label}"), e))?;
        io::copy(&mut plain, &mut out)
            .map_err(|e| ImageError::io(format!("reading {label} (truncated or corrupt?)"), e))?;
        Ok(archive)
    };
    match source {
        LoadSource::Reader { reader, .. } => spool(reader),
        LoadSource::File(path) => {
            let file = File::open(path).map_err(|e| ImageError::io(format!("opening {}", path.display()), e))?;
            let mut reader = BufReader::new(file);
            let head = reader
                .fill_buf()
                .map_err(|e| ImageError::io(format!("reading {}", path.display()), e))?;
            if Compression::sniff(head) == Compression::None {
                Ok(PlainArchive {
                    path: path.to_path_buf(),
                    temporary: false,
                })
            } else {
                spool(Box::new(reader))
            }
        }
    }
}

/// A layer of the archive to unpack, shared by every image that lists it.
struct LayerTask {
    member: String,
    expected_blob: Option<Digest>,
    compression: Option<Compression>,
    diff_id: Digest,
    chain: ChainId,
}

/// One image, checked and ready to record once its layers are in.
struct PlannedImage {
    config: Vec<u8>,
    config_digest: Digest,
    created: Option<String>,
    diff_ids: Vec<Digest>,
    names: Vec<ImageRef>,
    manifest: Option<strata_archive::image_archive::ManifestSource>,
    /// Per layer: task index, or None when the layer is already in the store.
    layer_tasks: Vec<Option<usize>>,
    /// Per layer: the blob the archive names (its DiffID when it names none).
    wanted_blobs: Vec<Digest>,
}

impl ImageStore {
    /// Loads every image of an archive. All or nothing: if any part of the archive is
    /// bad, nothing is recorded and no file is left behind.
    pub fn load(&self, source: LoadSource<'_>, progress: &dyn Progress) -> Result<LoadReport> {
        let label = match &source {
            LoadSource::File(p) => p.display().to_string(),
            LoadSource::Reader { what, .. } => what.to_string(),
        };
        let plain = plain_archive(self, source, &label)?;
        let index = TarIndex::open(&plain.path).map_err(|e| ImageError::Archive {
            archive: label.clone(),
            source: Box::new(e.into()),
        })?;
        let (_, images) = read_archive(&index).map_err(|source| ImageError::Archive {
            archive: label.clone(),
            source: Box::new(source),
        })?;
        let _lock = self.lock_shared()?;
        let mut tasks: Vec<LayerTask> = Vec::new();
        let mut planned = Vec::new();
        for image in &images {
            planned.push(self.plan_image(&index, &label, image, &mut tasks, progress)?);
        }
        let unpacked = self.unpack_tasks(&index, &label, &tasks, progress)?;
        self.commit_load(planned, tasks, unpacked)
    }

    fn plan_image(
        &self,
        index: &TarIndex,
        label: &str,
        image: &ArchiveImage,
        tasks: &mut Vec<LayerTask>,
        progress: &dyn Progress,
    ) -> Result<PlannedImage> {
        let invalid = |what: &str, reason: String| ImageError::Invalid {
            archive: label.to_string(),
            what: what.to_string(),
            reason,
        };
        let config_bytes = index
            .read_member(&image.config.member, MAX_DOCUMENT_BYTES)
            .map_err(|e| ImageError::Archive {
                archive: label.to_string(),
                source: Box::new(e.into()),
            })?;
        let config_digest = strata_content::sha256(&config_bytes);
        if let Some(expected) = &image.config.digest {
            let actual = match expected.algorithm().as_ref() {
                "sha256" => config_digest.clone(),
                _ => {
                    let mut h =
                        Hasher::for_digest(expected).map_err(|e| invalid(&image.config.member, e.to_string()))?;
                    h.update(&config_bytes);
                    h.finish()
                }
            };
            if &actual != expected {
                return Err(invalid(
                    &format!("config {}", image.config.member),
                    format!("digest mismatch: the archive names it {expected}, its bytes hash to {actual}"),
                ));
            }
        }
        let what = format!("config {}", image.config.member);
        let parsed = config::parse(&config_bytes, label, &what)?;
        let diff_ids = parsed
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| strata_content::parse_digest(d).map_err(|e| invalid(&what, format!("rootfs.diff_ids: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        if diff_ids.len() != image.layers.len() {
            return Err(invalid(
                &what,
                format!(
                    "rootfs.diff_ids lists {} layers but the manifest has {}",
                    diff_ids.len(),
                    image.layers.len()
                ),
            ));
        }
        let names = image
            .names
            .iter()
            .map(|n| ImageRef::parse(n).map_err(|e| invalid("image name", e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let chains = chain_ids(&diff_ids);
        let mut layer_tasks = Vec::new();
        let mut wanted_blobs = Vec::new();
        for ((layer, diff_id), chain) in image.layers.iter().zip(&diff_ids).zip(&chains) {
            let wanted = layer.blob.digest.clone().unwrap_or_else(|| diff_id.clone());
            wanted_blobs.push(wanted.clone());
            if self.stored_layer(chain, diff_id, &wanted)?.is_some() {
                progress.layer(short_id(diff_id.digest()), LayerEvent::Exists);
                layer_tasks.push(None);
                continue;
            }
            // One unpack per ChainID, however many images of the archive share it.
            let existing = tasks.iter().position(|t| &t.chain == chain);
            let task = existing.unwrap_or_else(|| {
                tasks.push(LayerTask {
                    member: layer.blob.member.clone(),
                    expected_blob: layer.blob.digest.clone(),
                    compression: layer.compression,
                    diff_id: diff_id.clone(),
                    chain: chain.clone(),
                });
                tasks.len() - 1
            });
            layer_tasks.push(Some(task));
        }
        Ok(PlannedImage {
            config: config_bytes,
            config_digest,
            created: parsed.created().clone(),
            diff_ids,
            names,
            manifest: image.manifest.clone(),
            layer_tasks,
            wanted_blobs,
        })
    }

    /// The stored form of a layer, when its snapshot exists and the exact blob `wanted`
    /// can be produced: as a blob in the content store, or (an uncompressed layer, whose
    /// blob is its DiffID) reassembled from the snapshot's tar-split.
    /// Returns (blob digest, media type, blob size, content size).
    pub(crate) fn stored_layer(
        &self,
        chain: &strata_snapshots::ChainId,
        diff_id: &Digest,
        wanted: &Digest,
    ) -> Result<Option<(Digest, String, u64, i64)>> {
        if !self.snapshots().exists(chain) {
            return Ok(None);
        }
        let db = self.db();
        let size = db.layer_size(chain.as_str())?.unwrap_or(0);
        let rows = db.blob_for_diff(diff_id.as_ref())?;
        drop(db);
        for (d, media_type, blob_size) in rows {
            if d != wanted.as_ref() {
                continue;
            }
            let producible = self.content().exists(wanted) || (wanted == diff_id && self.snapshots().has_split(chain));
            if producible {
                return Ok(Some((wanted.clone(), media_type, blob_size as u64, size)));
            }
        }
        Ok(None)
    }

    fn unpack_tasks(
        &self,
        index: &TarIndex,
        label: &str,
        tasks: &[LayerTask],
        progress: &dyn Progress,
    ) -> Result<Vec<UnpackedLayer>> {
        let options = self.apply_options(DevicePolicy::Skip);
        let jobs: Vec<_> = tasks
            .iter()
            .enumerate()
            .map(|(i, task)| {
                let options = &options;
                move || -> Result<UnpackedLayer> {
                    let (total, reader) = index.open_member(&task.member).map_err(|e| ImageError::Archive {
                        archive: label.to_string(),
                        source: Box::new(e.into()),
                    })?;
                    let id = short_id(task.diff_id.digest()).to_string();
                    let layer = unpack_layer(
                        self,
                        LayerInput {
                            reader,
                            total,
                            id: &id,
                            archive: label,
                            what: format!("layer {} ({})", i + 1, task.member),
                            expected_blob: task.expected_blob.clone(),
                            compression: task.compression,
                            form: BlobForm::AsGiven,
                            options,
                            resumed: None,
                        },
                        progress,
                    )?;
                    if layer.diff_id != task.diff_id {
                        return Err(ImageError::Invalid {
                            archive: label.to_string(),
                            what: format!("layer {} ({})", i + 1, task.member),
                            reason: format!(
                                "diff ID mismatch: the config says {}, the layer's content hashes to {}",
                                task.diff_id, layer.diff_id
                            ),
                        });
                    }
                    Ok(layer)
                }
            })
            .collect();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
        run_parallel(jobs, threads).into_iter().collect()
    }

    /// Publishes the verified layers, then the documents, then the records.
    fn commit_load(
        &self,
        planned: Vec<PlannedImage>,
        tasks: Vec<LayerTask>,
        unpacked: Vec<UnpackedLayer>,
    ) -> Result<LoadReport> {
        let mut report = LoadReport::default();
        let mut published: HashMap<usize, NewLayer> = HashMap::new();
        for (i, layer) in unpacked.into_iter().enumerate() {
            report.skipped_devices += layer.stats.skipped_devices.len();
            crate::failpoint::hit("load:unpacked");
            published.insert(i, layer.commit(self, &tasks[i].chain)?);
            crate::failpoint::hit("load:layer-published");
        }
        let added_at = crate::config::timestamp_now();
        for image in planned {
            let chains = chain_ids(&image.diff_ids);
            let mut layers = Vec::new();
            for (pos, task) in image.layer_tasks.iter().enumerate() {
                layers.push(match task {
                    Some(t) => published[t].clone(),
                    None => self.existing_layer(&chains[pos], &image.diff_ids[pos], &image.wanted_blobs[pos])?,
                });
            }
            let config_digest = self.put_document("config", &image.config)?;
            debug_assert_eq!(config_digest, image.config_digest);
            let (manifest_digest, manifest_media_type) = match &image.manifest {
                Some(m) => {
                    let mut ingest = self.content().ingest(Some(&m.digest))?;
                    io::Write::write_all(&mut ingest, &m.bytes).map_err(|e| ImageError::io("storing manifest", e))?;
                    (ingest.commit(Some(&m.digest))?, m.media_type.clone())
                }
                None => {
                    let bytes = manifest_for_layers(&config_digest, image.config.len() as u64, &layers)?;
                    (self.put_document("manifest", &bytes)?, OCI_MANIFEST.to_string())
                }
            };
            let record = NewImage {
                id: config_digest.to_string(),
                manifest_digest: manifest_digest.to_string(),
                manifest_media_type,
                created: image.created.clone(),
                labels: crate::config::labels_json(&image.config),
                layers,
            };
            let tags: Vec<String> = image.names.iter().map(|n| n.to_string()).collect();
            crate::failpoint::hit("load:before-record");
            let moved = self.db().insert_image(&record, &tags, &added_at)?;
            report.renamed.extend(moved.into_iter().map(|(name, prev)| {
                let familiar = ImageRef::parse(&name).map_or(name.clone(), |r| r.familiar());
                (familiar, prev)
            }));
            report
                .images
                .push((record.id, image.names.iter().map(|n| n.familiar()).collect()));
        }
        for (id, names) in &report.images {
            self.emit_image("load", id, names.first().map_or("", String::as_str));
        }
        Ok(report)
    }

    /// The record of a layer already in the store, as an image using it lists it.
    pub(crate) fn existing_layer(
        &self,
        chain: &strata_snapshots::ChainId,
        diff_id: &Digest,
        wanted: &Digest,
    ) -> Result<NewLayer> {
        let (blob, media_type, blob_size, size) = self.stored_layer(chain, diff_id, wanted)?.ok_or_else(|| {
            ImageError::Conflict(format!(
                "layer {chain} vanished while it was being used; run the command again"
            ))
        })?;
        Ok(NewLayer {
            chain_id: chain.to_string(),
            diff_id: diff_id.to_string(),
            size,
            blob_digest: blob.to_string(),
            blob_media_type: media_type,
            blob_size: blob_size as i64,
        })
    }
}
