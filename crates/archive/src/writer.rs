//! Writing image archives in the form Docker ≥ 25 saves: `manifest.json` and
//! `repositories` (docker-archive) *and* an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`) in one tar, so docker, podman and skopeo (`docker-archive:` and
//! `oci-archive:`) all read it. Entries are written in a fixed order with fixed
//! metadata, so saving the same images twice gives the same bytes.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};
use strata_content::Digest;

/// A name an image is saved under.
#[derive(Debug, Clone)]
pub struct SavedName {
    /// Fully qualified, e.g. `docker.io/library/busybox:latest`.
    pub full: String,
    /// As Docker prints it, e.g. `busybox:latest`.
    pub familiar_repo: String,
    pub tag: String,
}

/// One image to save. The manifest bytes are written unchanged (its digest is kept).
#[derive(Debug, Clone)]
pub struct SavedImage {
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    pub manifest: Vec<u8>,
    pub config: Digest,
    /// Layer blob digests, in manifest order.
    pub layers: Vec<Digest>,
    pub names: Vec<SavedName>,
}

/// Supplies blob bytes: (size, reader).
pub trait BlobSource {
    fn open(&self, digest: &Digest) -> io::Result<(u64, Box<dyn Read + '_>)>;
}

fn member(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.digest())
}

/// Writes `images` as one archive to `out`.
pub fn write_archive<W: Write>(out: W, images: &[SavedImage], blobs: &dyn BlobSource) -> io::Result<W> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut written = HashSet::new();
    add_dir(&mut tar, "blobs/")?;
    for alg in images
        .iter()
        .flat_map(|i| std::iter::once(&i.config).chain(&i.layers).chain([&i.manifest_digest]))
        .map(|d| d.algorithm().to_string())
        .collect::<std::collections::BTreeSet<_>>()
    {
        add_dir(&mut tar, &format!("blobs/{alg}/"))?;
    }
    for image in images {
        for digest in image.layers.iter().chain([&image.config]) {
            if written.insert(digest.clone()) {
                let (size, reader) = blobs.open(digest)?;
                add_file(&mut tar, &member(digest), size, reader)?;
            }
        }
        if written.insert(image.manifest_digest.clone()) {
            add_bytes(&mut tar, &member(&image.manifest_digest), &image.manifest)?;
        }
    }
    add_bytes(&mut tar, "index.json", &to_json(&oci_index(images)))?;
    add_bytes(&mut tar, "manifest.json", &to_json(&docker_manifest(images)))?;
    add_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    add_bytes(&mut tar, "repositories", &to_json(&repositories(images)))?;
    tar.into_inner()
}

fn to_json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON values serialize")
}

fn oci_index(images: &[SavedImage]) -> Value {
    let mut manifests = Vec::new();
    for image in images {
        let base = json!({
            "mediaType": image.manifest_media_type,
            "digest": image.manifest_digest.to_string(),
            "size": image.manifest.len(),
        });
        for name in &image.names {
            let mut d = base.clone();
            d["annotations"] = json!({
                "io.containerd.image.name": name.full,
                "org.opencontainers.image.ref.name": name.tag,
            });
            manifests.push(d);
        }
        if image.names.is_empty() {
            manifests.push(base);
        }
    }
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    })
}

fn docker_manifest(images: &[SavedImage]) -> Value {
    Value::Array(
        images
            .iter()
            .map(|image| {
                let tags: Vec<_> = image
                    .names
                    .iter()
                    .map(|n| format!("{}:{}", n.familiar_repo, n.tag))
                    .collect();
                json!({
                    "Config": member(&image.config),
                    "RepoTags": if tags.is_empty() { Value::Null } else { json!(tags) },
                    "Layers": image.layers.iter().map(member).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn repositories(images: &[SavedImage]) -> Value {
    let mut repos: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for image in images {
        let Some(top) = image.layers.last() else {
            continue;
        };
        for name in &image.names {
            repos
                .entry(name.familiar_repo.clone())
                .or_default()
                .insert(name.tag.clone(), json!(top.digest()));
        }
    }
    json!(repos)
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn add_dir<W: Write>(tar: &mut tar::Builder<W>, name: &str) -> io::Result<()> {
    let mut h = header(tar::EntryType::Directory, 0, 0o755);
    tar.append_data(&mut h, name, io::empty())
}

fn add_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> io::Result<()> {
    add_file(tar, name, bytes.len() as u64, bytes)
}

fn add_file<W: Write>(tar: &mut tar::Builder<W>, name: &str, size: u64, reader: impl Read) -> io::Result<()> {
    let mut h = header(tar::EntryType::Regular, size, 0o644);
    let mut limited = reader.take(size);
    tar.append_data(&mut h, name, &mut limited)?;
    Ok(())
}
