//! The image store of one strata root: content, snapshots and metadata together.

use crate::error::{ImageError, Result};
use crate::lock::StoreLock;
use crate::reference::ImageRef;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use strata_content::{ContentStore, Digest};
use strata_metadata::{Db, ImageRecord};
use strata_snapshots::{ChainId, Snapshotter};

/// JSON documents read from the store (configs, manifests) are at most this large.
pub const MAX_DOCUMENT_BYTES: u64 = 4 << 20;

pub struct ImageStore {
    root: PathBuf,
    pub(crate) content: ContentStore,
    pub(crate) snapshots: Snapshotter,
    db: Mutex<Db>,
    /// The database file was closed for a fork: opened again on next use.
    reopen_pending: std::sync::atomic::AtomicBool,
    /// Most bytes of file content one layer may expand to (decompression bombs).
    max_layer_bytes: u64,
    /// Docker's `--bip`: the subnet the default bridge network gets when it is made.
    default_bridge_subnet: Option<String>,
}

/// How a user-supplied name resolved to an image.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub image: ImageRecord,
    /// The reference, when the user named the image by a tag rather than by ID.
    pub reference: Option<ImageRef>,
}

impl ImageStore {
    /// Opens the store at `root`, creating its layout (mode 0700) on first use.
    pub fn open(root: &Path) -> Result<Self> {
        let mk = |p: &Path| {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(p)
                .map_err(|e| ImageError::io(format!("creating store directory {}", p.display()), e))
        };
        mk(root)?;
        check_layout(root)?;
        mk(&root.join("tmp"))?;
        let content = ContentStore::open(root.join("content"))?;
        let snapshots = Snapshotter::open(root.join("snapshots"))?;
        let db = Db::open(&root.join("metadata.db"))?;
        let store = ImageStore {
            root: root.to_path_buf(),
            content,
            snapshots,
            db: Mutex::new(db),
            reopen_pending: std::sync::atomic::AtomicBool::new(false),
            max_layer_bytes: strata_archive::ApplyOptions::default().max_bytes,
            default_bridge_subnet: None,
        };
        store.fill_labels()?;
        Ok(store)
    }

    /// Records the config labels of images recorded before the database kept them
    /// (schema 9), once, so listings need not read their configs. Nothing to do (one
    /// lookup in an empty index) on a root without such images.
    fn fill_labels(&self) -> Result<()> {
        loop {
            let ids = self.db().images_without_labels(1000)?;
            if ids.is_empty() {
                return Ok(());
            }
            // A config that cannot be read is recorded as without labels, as a listing
            // that read it would show it; `system check` reports the missing blob.
            let labels: Vec<(String, String)> = ids
                .iter()
                .map(|id| {
                    let json = self.config_bytes_of(id).map_or_else(
                        |_| serde_json::Value::Null.to_string(),
                        |b| crate::config::labels_json(&b),
                    );
                    (id.clone(), json)
                })
                .collect();
            self.db().fill_labels(&labels)?;
        }
    }

    /// Another handle on the same store, with the same settings and a database
    /// connection of its own: for work that outlives its caller's borrow (an API
    /// answer streamed from a thread of its own).
    pub fn try_clone(&self) -> Result<Self> {
        let mut other = Self::open(&self.root)?;
        other.max_layer_bytes = self.max_layer_bytes;
        other.default_bridge_subnet = self.default_bridge_subnet.clone();
        Ok(other)
    }

    /// Sets the most bytes of file content a layer may expand to: a layer that expands
    /// further (a decompression bomb) is refused.
    pub fn set_max_layer_bytes(&mut self, bytes: u64) {
        self.max_layer_bytes = bytes;
    }

    /// Sets the subnet the default bridge network gets when it is first made (Docker's
    /// `--bip`); by default the first free one.
    pub fn set_default_bridge_subnet(&mut self, subnet: Option<String>) {
        self.default_bridge_subnet = subnet.filter(|s| !s.is_empty());
    }

    /// The most bytes of file content a layer may expand to.
    pub fn max_layer_bytes(&self) -> u64 {
        self.max_layer_bytes
    }

    pub fn default_bridge_subnet(&self) -> Option<&str> {
        self.default_bridge_subnet.as_deref()
    }

    /// How layers are applied: `devices` as given, the layer size limit of this store.
    pub(crate) fn apply_options(&self, devices: strata_archive::DevicePolicy) -> strata_archive::ApplyOptions {
        strata_archive::ApplyOptions {
            devices,
            max_bytes: self.max_layer_bytes,
            unterminated_ok: false,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh path in the store's `tmp/` for a command's work file or directory:
    /// `KIND-<pid>-<random>SUFFIX`. The PID lets garbage collection tell a leftover of a
    /// killed command from the work of one still running.
    pub fn work_path(&self, kind: &str, suffix: &str) -> PathBuf {
        // The PID is the name's second dash-separated field: a kind with a dash would
        // make every such path look like a dead command's leftover to garbage collection.
        debug_assert!(!kind.contains('-'), "work path kind {kind:?} has a dash");
        self.root.join("tmp").join(format!(
            "{kind}-{}-{:016x}{suffix}",
            std::process::id(),
            rand::random::<u64>()
        ))
    }

    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    pub fn snapshots(&self) -> &Snapshotter {
        &self.snapshots
    }

    /// `--storage-driver`: overlay or vfs for containers' writable layers; a root keeps
    /// the one it started with.
    pub fn set_storage_driver(&mut self, name: &str) -> Result<()> {
        let driver = strata_snapshots::Driver::parse(name)?;
        Ok(self.snapshots.set_driver(driver)?)
    }

    /// The metadata database (shared with the containers service).
    pub fn db(&self) -> MutexGuard<'_, Db> {
        let mut db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        if self.reopen_pending.swap(false, std::sync::atomic::Ordering::SeqCst) {
            // It was open a moment ago; should it fail now, the queries that follow
            // fail on the placeholder and say so.
            if let Err(e) = db.reopen() {
                log::error!("opening {} again after a fork: {e}", db.path().display());
            }
        }
        db
    }

    /// Closes the store's database file for a fork (see `Db::close_file`): SQLite's
    /// per-process state must not be inherited. The parent's next use opens it again
    /// (a command that forks a monitor and only relays its output never does); the
    /// child calls [`ImageStore::reopen`].
    pub fn close_for_fork(&self) -> Result<()> {
        let mut db = self.db();
        db.close_file(false)?;
        self.reopen_pending.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Closes the store's database file for good, as a process does at its end: for a
    /// forked process that leaves through `_exit`, past every destructor.
    pub fn close_for_exit(&self) -> Result<()> {
        Ok(self.db().close_file(true)?)
    }

    /// Opens the database file again after [`ImageStore::close_for_fork`].
    pub fn reopen(&self) -> Result<()> {
        let mut db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        self.reopen_pending.store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(db.reopen()?)
    }

    /// Appends `event` to the store's events journal. A journal that cannot be written
    /// is logged, never fails the change the event describes (that change is done).
    pub fn emit(&self, event: strata_metadata::Event) {
        if let Err(e) = self.db().record_event(&event) {
            log::warn!("recording the {} {} event: {e}", event.kind.as_str(), event.action);
        }
    }

    pub(crate) fn lock_shared(&self) -> Result<StoreLock> {
        StoreLock::shared(&self.root)
    }

    pub(crate) fn lock_exclusive(&self) -> Result<StoreLock> {
        StoreLock::exclusive(&self.root)
    }

    pub(crate) fn not_found(&self, name: &str) -> ImageError {
        ImageError::NotFound {
            name: name.to_string(),
            root: self.root.clone(),
        }
    }

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<ImageRecord>> {
        Ok(self.db().images()?)
    }

    /// Finds an image by reference (`busybox`, `busybox:1`, `host/x@sha256:…`), by full
    /// ID (`sha256:…`) or by a unique ID prefix (`1a2b3c`), as Docker does.
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        if let Some(image) = self.by_id(name)? {
            return Ok(Resolved { image, reference: None });
        }
        let reference = ImageRef::parse(name)?;
        let id = self.db().resolve_tag(&reference.to_string())?;
        match id {
            Some(id) => {
                let image = self.db().image(&id)?.ok_or_else(|| self.not_found(name))?;
                Ok(Resolved {
                    image,
                    reference: Some(reference),
                })
            }
            None => Err(self.not_found(&reference.familiar())),
        }
    }

    fn by_id(&self, name: &str) -> Result<Option<ImageRecord>> {
        let is_hex = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        };
        let prefix = match name.strip_prefix("sha256:") {
            Some(hex) if is_hex(hex) => name,
            // A bare hex string is an ID prefix only if no tag by that name exists.
            None if is_hex(name) => {
                if let Ok(r) = ImageRef::parse(name) {
                    if self.db().resolve_tag(&r.to_string())?.is_some() {
                        return Ok(None);
                    }
                }
                name
            }
            _ => return Ok(None),
        };
        let ids = self.db().ids_with_prefix(prefix)?;
        match ids.len() {
            0 => Ok(None),
            1 => Ok(self.db().image(&ids[0])?),
            n => Err(ImageError::Ambiguous(format!(
                "image ID prefix {name:?} is ambiguous: it matches {n} images; give more characters"
            ))),
        }
    }

    /// Stores a JSON document (an image config or manifest), refusing one the store
    /// could not read back: the same limit as `config_bytes`.
    pub(crate) fn put_document(&self, what: &str, bytes: &[u8]) -> Result<Digest> {
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(ImageError::TooLarge {
                what: what.to_string(),
                size: bytes.len() as u64,
            });
        }
        Ok(self.content.put(bytes)?)
    }

    /// The raw config bytes of an image.
    pub fn config_bytes(&self, image: &ImageRecord) -> Result<Vec<u8>> {
        self.config_bytes_of(&image.id)
    }

    /// The config document of the image with this ID.
    pub fn config_bytes_of(&self, id: &str) -> Result<Vec<u8>> {
        Ok(self.content.read_blob(&digest(id)?, MAX_DOCUMENT_BYTES)?)
    }

    /// The directories of an image's layers, bottom first.
    pub fn layer_dirs(&self, image: &ImageRecord) -> Vec<PathBuf> {
        image
            .layers
            .iter()
            .filter_map(|l| ChainId::parse(&l.chain_id).ok())
            .map(|c| self.snapshots.path(&c))
            .collect()
    }

    /// Points `target` at the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let image = self.resolve(source)?.image;
        let target = ImageRef::parse(target)?;
        if target.digest().is_some() {
            return Err(ImageError::Reference(crate::reference::ReferenceError::Invalid {
                input: target.familiar(),
                reason: "a tag cannot carry a digest".into(),
            }));
        }
        crate::failpoint::hit("tag:before-record");
        self.db().tag(&target.to_string(), &image.id)?;
        self.emit_image("tag", &image.id, &target.familiar());
        Ok(())
    }
}

/// The on-disk layout this strata writes (snapshots with `fs/` and tar-splits).
const LAYOUT: &str = "strata-store-layout 2\n";

/// Refuses a root written in another layout instead of misreading it.
fn check_layout(root: &Path) -> Result<()> {
    let marker = root.join("LAYOUT");
    match fs::read_to_string(&marker) {
        Ok(found) if found == LAYOUT => Ok(()),
        Ok(found) => Err(ImageError::Conflict(format!(
            "the store at {} has layout {:?}, this strata uses {:?}; use another --root",
            root.display(),
            found.trim(),
            LAYOUT.trim()
        ))),
        Err(_) if root.join("metadata.db").exists() => Err(ImageError::Conflict(format!(
            "the store at {} was written by an older strata (layout 1); remove it or use another --root",
            root.display()
        ))),
        Err(_) => {
            let tmp = root.join(format!(".LAYOUT.{:016x}", rand::random::<u64>()));
            fs::write(&tmp, LAYOUT)
                .and_then(|()| fs::rename(&tmp, &marker))
                .map_err(|e| ImageError::io(format!("writing {}", marker.display()), e))
        }
    }
}

/// Parses a digest stored by strata itself.
pub fn digest(s: &str) -> Result<Digest> {
    strata_content::parse_digest(s).map_err(|e| ImageError::Invalid {
        archive: "metadata".into(),
        what: format!("stored digest {s:?}"),
        reason: e.to_string(),
    })
}
