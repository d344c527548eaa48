//! Volumes: directories under `volumes/<name>/_data` that outlive containers and are
//! never part of an image. A named volume (`-v name:/path`) is created on first use; an
//! anonymous one (`-v /path`, or an image's VOLUME) gets a random name and goes with
//! `rm -v`. A new, empty volume is filled from the image's content at its path, as
//! Docker does.

use crate::error::{ContainerError, Result};
use crate::names::valid_name;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMeta {
    pub name: String,
    pub created: String,
    pub anonymous: bool,
    /// Whether the image's content was copied in (only a new, empty volume gets it).
    pub populated: bool,
    /// `volume create --label`, as given.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The label Docker gives a volume made without a name.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// A volume as Docker shows it (`volume inspect`, the Engine API's `Volume`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeDocument {
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    #[serde(rename = "Driver")]
    pub driver: &'static str,
    #[serde(rename = "Labels")]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(rename = "Mountpoint")]
    pub mountpoint: PathBuf,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Options")]
    pub options: std::collections::BTreeMap<String, String>,
    #[serde(rename = "Scope")]
    pub scope: &'static str,
    /// Only where asked for (`system df`): measuring walks the volume.
    #[serde(rename = "UsageData", skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<VolumeUsage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VolumeUsage {
    /// Bytes of the volume's data.
    #[serde(rename = "Size")]
    pub size: i64,
    /// How many containers use it.
    #[serde(rename = "RefCount")]
    pub ref_count: i64,
}

impl VolumeMeta {
    /// The volume's labels, with Docker's mark of an anonymous volume.
    pub fn labels(&self) -> std::collections::BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        if self.anonymous {
            labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
        }
        labels
    }
}

/// The volumes of one store root.
pub struct Volumes {
    root: PathBuf,
}

impl Volumes {
    pub fn new(store_root: &Path) -> Self {
        Volumes {
            root: store_root.join("volumes"),
        }
    }

    pub fn data(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    /// The volume's document, without usage data.
    pub fn document(&self, meta: &VolumeMeta) -> VolumeDocument {
        VolumeDocument {
            created_at: meta.created.clone(),
            driver: "local",
            labels: meta.labels(),
            mountpoint: self.data(&meta.name),
            name: meta.name.clone(),
            options: Default::default(),
            scope: "local",
            usage_data: None,
        }
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.root.join(name).join("meta.json")
    }

    pub fn get(&self, name: &str) -> Result<Option<VolumeMeta>> {
        match fs::read(self.meta_path(name)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ContainerError::Invalid(format!("volume {name}: {e}"))),
            Err(_) => Ok(None),
        }
    }

    fn save(&self, meta: &VolumeMeta) -> Result<()> {
        let path = self.meta_path(&meta.name);
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, serde_json::to_vec(meta).expect("volume meta serializes"))
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| ContainerError::io(format!("writing {}", path.display()), e))
    }

    /// Creates a volume (idempotent for an existing name, like `docker volume create`:
    /// an existing volume keeps its labels).
    pub fn create(
        &self,
        name: Option<&str>,
        anonymous: bool,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<VolumeMeta> {
        let name = match name {
            Some(n) if !valid_name(n) => {
                return Err(ContainerError::Invalid(format!(
                    "invalid volume name {n:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )))
            }
            Some(n) => n.to_string(),
            None => (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect(),
        };
        if let Some(existing) = self.get(&name)? {
            return Ok(existing);
        }
        let data = self.data(&name);
        fs::create_dir_all(&data).map_err(|e| ContainerError::io(format!("creating {}", data.display()), e))?;
        let meta = VolumeMeta {
            name,
            created: strata_images::config::timestamp_now(),
            anonymous,
            populated: false,
            labels: labels.clone(),
        };
        self.save(&meta)?;
        Ok(meta)
    }

    pub fn list(&self) -> Result<Vec<VolumeMeta>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).into_iter().flatten().flatten() {
            if let Some(meta) = self.get(&entry.file_name().to_string_lossy())? {
                out.push(meta);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        if self.get(name)?.is_none() {
            return Err(ContainerError::NotFound(format!("volume {name}")));
        }
        let dir = self.root.join(name);
        fs::remove_dir_all(&dir).map_err(|e| ContainerError::io(format!("removing {}", dir.display()), e))
    }

    /// Fills a new, empty volume from `source` (the image's content at the mount path),
    /// once. Later mounts keep what the volume holds.
    pub fn populate(&self, name: &str, source: Option<&Path>) -> Result<()> {
        let Some(mut meta) = self.get(name)? else { return Ok(()) };
        let data = self.data(name);
        let empty = fs::read_dir(&data).map(|mut d| d.next().is_none()).unwrap_or(false);
        if meta.populated || !empty {
            return Ok(());
        }
        if let Some(source) = source.filter(|s| s.is_dir()) {
            copy_tree(source, &data).map_err(|e| ContainerError::io(format!("filling volume {name}"), e))?;
        }
        meta.populated = true;
        self.save(&meta)
    }
}

/// Copies a directory tree with modes, owners and symlinks (no device nodes) into the
/// existing directory `to`. `from` must be a tree nothing changes meanwhile (an image's
/// read-only view): its paths are walked by name, links never followed.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::symlink_metadata(from)?;
    fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let m = fs::symlink_metadata(&src)?;
        if m.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
            std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        } else if m.is_dir() {
            fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if m.is_file() {
            fs::copy(&src, &dst)?;
            std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        }
    }
    Ok(())
}
