//! `system check`: is the store consistent? Every record points at data that exists
//! (and, in full mode, hashes to its digest); reference counts match; nothing on disk
//! is unaccounted for. `--repair` fixes what can be fixed without losing anything an
//! image needs: garbage is removed, counts are recomputed, and a damaged snapshot whose
//! blob is kept is unpacked again.

use crate::error::Result;
use crate::progress::Silent;
use crate::store::{digest, ImageStore};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use strata_content::Hasher;
use strata_snapshots::ChainId;

/// What a check found.
#[derive(Debug, Default, Clone)]
pub struct CheckReport {
    /// Inconsistencies: a record pointing at something missing or damaged.
    pub problems: Vec<String>,
    /// Unreferenced data and leftovers of killed commands (harmless; GC removes them).
    pub garbage: Vec<String>,
    /// What `--repair` did.
    pub repaired: Vec<String>,
    pub images: usize,
    pub layers: usize,
    pub blobs_verified: usize,
}

impl ImageStore {
    /// Checks the store; `full` also re-hashes every blob and reassembled layer.
    pub fn check(&self, full: bool, repair: bool) -> Result<CheckReport> {
        let _lock = self.lock_exclusive()?;
        let mut report = CheckReport::default();
        let integrity = self.db().integrity_check()?;
        if integrity != "ok" {
            report.problems.push(format!("metadata database: {integrity}"));
        }
        let images = self.db().images()?;
        report.images = images.len();
        let mut chain_users: BTreeMap<String, i64> = BTreeMap::new();
        for image in &images {
            self.check_image(image, full, repair, &mut report)?;
            for l in &image.layers {
                *chain_users.entry(l.chain_id.clone()).or_default() += 1;
            }
        }
        let layers = self.db().layers()?;
        report.layers = layers.len();
        for (chain, refcount, _) in &layers {
            let users = chain_users.get(chain).copied().unwrap_or(0);
            if *refcount != users {
                let msg = format!("layer {chain}: reference count {refcount}, but {users} images use it");
                if repair {
                    self.db().set_refcount(chain, users)?;
                    report.repaired.push(format!("{msg}: count set to {users}"));
                } else {
                    report.problems.push(msg);
                }
            }
        }
        self.find_garbage(&layers, &mut report)?;
        if repair && !report.garbage.is_empty() {
            drop(_lock);
            let gc = self.collect_garbage()?;
            report.repaired.push(format!(
                "removed {} unreferenced blobs, {} unreferenced snapshots, {} leftovers of killed commands",
                gc.blobs, gc.snapshots, gc.stale
            ));
        }
        Ok(report)
    }

    fn check_image(
        &self,
        image: &strata_metadata::ImageRecord,
        full: bool,
        repair: bool,
        report: &mut CheckReport,
    ) -> Result<()> {
        for (what, d) in [("config", &image.id), ("manifest", &image.manifest_digest)] {
            let d = digest(d)?;
            if !self.content().exists(&d) {
                report
                    .problems
                    .push(format!("image {}: {what} blob {d} is missing", image.id));
            } else if self
                .content()
                .size(&d)
                .is_ok_and(|n| n > crate::store::MAX_DOCUMENT_BYTES)
            {
                // Listed but unreadable: every command that reads it would refuse it.
                report.problems.push(format!(
                    "image {}: {what} blob {d} is over the {}-byte limit of a stored document; remove the image",
                    image.id,
                    crate::store::MAX_DOCUMENT_BYTES
                ));
            } else if full {
                report.blobs_verified += 1;
                if let Err(e) = self.content().verify(&d) {
                    report.problems.push(format!("image {}: {what}: {e}", image.id));
                }
            }
        }
        for l in &image.layers {
            let chain = ChainId::parse(&l.chain_id).map_err(crate::ImageError::Conflict)?;
            let blob = digest(&l.blob_digest)?;
            let snapshot_ok = self.snapshots().exists(&chain);
            let blob_kept = self.content().exists(&blob);
            let split = self.snapshots().has_split(&chain);
            let reproducible = blob_kept || (split && l.blob_digest == l.diff_id);
            if !reproducible {
                report.problems.push(format!(
                    "image {}: layer {} can be neither read nor reassembled (blob {blob})",
                    image.id, l.chain_id
                ));
            }
            if full && blob_kept {
                report.blobs_verified += 1;
                if let Err(e) = self.content().verify(&blob) {
                    report.problems.push(format!("layer {}: {e}", l.chain_id));
                }
            }
            let mut damaged = !snapshot_ok;
            if full && snapshot_ok && split && !blob_kept {
                report.blobs_verified += 1;
                if let Some(reason) = self.reassembly_problem(&chain, &blob) {
                    damaged = true;
                    report.problems.push(format!(
                        "layer {}: the unpacked files no longer match: {reason}",
                        l.chain_id
                    ));
                }
            }
            if damaged && !snapshot_ok {
                let msg = format!("layer {}: snapshot missing", l.chain_id);
                if repair && blob_kept {
                    self.unpack_again(&chain, &blob, &l.blob_media_type)?;
                    report.repaired.push(format!("{msg}: unpacked again from blob {blob}"));
                } else {
                    report.problems.push(if blob_kept {
                        format!("{msg} (--repair unpacks it again from its blob)")
                    } else {
                        format!(
                            "{msg}; its blob is not kept: remove image {} and load it again",
                            image.id
                        )
                    });
                }
            }
        }
        Ok(())
    }

    /// Reassembles a split layer and compares its digest.
    fn reassembly_problem(&self, chain: &ChainId, blob: &strata_content::Digest) -> Option<String> {
        let mut reader = match self.snapshots().layer_tar(chain) {
            Ok(Some(r)) => r,
            Ok(None) => return Some("its tar-split is missing".into()),
            Err(e) => return Some(e.to_string()),
        };
        let mut hasher = Hasher::for_digest(blob).ok()?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) => return Some(e.to_string()),
            }
        }
        let actual = hasher.finish();
        (&actual != blob).then(|| format!("they reassemble to {actual}, not {blob}"))
    }

    /// Unpacks a kept blob into the snapshot `chain` again.
    fn unpack_again(&self, chain: &ChainId, blob: &strata_content::Digest, media_type: &str) -> Result<()> {
        let file = self.content().open_blob(blob)?;
        let options = self.apply_options(strata_archive::DevicePolicy::Skip);
        let label = format!("blob {blob}");
        let layer = crate::unpack::unpack_layer(
            self,
            crate::unpack::LayerInput {
                reader: file,
                total: 0,
                id: "repair",
                archive: &label,
                what: "layer".into(),
                expected_blob: Some(blob.clone()),
                compression: strata_archive::compression::from_media_type(media_type),
                form: crate::unpack::BlobForm::AsGiven,
                options: &options,
                resumed: None,
            },
            &Silent,
        )?;
        layer.commit(self, chain).map(drop)
    }

    fn find_garbage(&self, layers: &[(String, i64, i64)], report: &mut CheckReport) -> Result<()> {
        let referenced = self.db().referenced_blobs()?;
        for blob in self.content().list()? {
            if !referenced.contains(&blob.to_string()) {
                report.garbage.push(format!("unreferenced blob {blob}"));
            }
        }
        let known: BTreeSet<&str> = layers.iter().map(|(c, _, _)| c.as_str()).collect();
        for chain in self.snapshots().list()? {
            if !known.contains(chain.as_str()) {
                report.garbage.push(format!("unreferenced snapshot {chain}"));
            }
        }
        // A flattened snapshot belongs to the layer it is keyed by (the top of the bottom
        // layers it merges): kept while that layer is.
        for chain in self.snapshots().list_flattened()? {
            if !known.contains(chain.as_str()) {
                report.garbage.push(format!("unreferenced flattened snapshot {chain}"));
            }
        }
        for path in self.content().stale_ingests()? {
            report.garbage.push(format!("half-finished ingest {}", path.display()));
        }
        for path in self.snapshots().stale_unpacks()? {
            report.garbage.push(format!("half-finished unpack {}", path.display()));
        }
        Ok(())
    }
}
