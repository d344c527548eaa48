//! COPY and ADD: sources from the context, another stage or image (`--from`), a heredoc,
//! a URL (ADD) or a local tar archive ADD unpacks; Docker's destination rules (a
//! trailing `/` or several sources mean a directory; a source directory's contents are
//! copied); `--chown`, `--chmod`; and the cache key from every entry's metadata and
//! content digest.

use crate::builder::{Builder, Stage};
use crate::error::{BuildError, Result};
use crate::ignore::elements;
use crate::instruction::Instruction;
use crate::layer::{Content, Entry, Layer};
use crate::steps::{add_parents, file_digest, source_mtime};
use crate::view::ImageView;
use crate::words::Vars;
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Remote files ADD fetches are held in memory up to this size.
const MAX_URL_BYTES: u64 = 512 << 20;

/// Where a source's bytes come from.
enum Origin {
    Path {
        path: PathBuf,
        rel: String,
        from_context: bool,
    },
    Bytes {
        name: String,
        bytes: Vec<u8>,
    },
}

struct Options {
    owner: Option<(u64, u64)>,
    chmod: Option<u32>,
    epoch: Option<i64>,
}

/// Plans a COPY/ADD: the layer, the history text and the cache key text.
pub(crate) fn plan_copy(
    b: &mut Builder<'_>,
    state: &Stage,
    ins: &Instruction,
    vars: &Vars,
) -> Result<(Layer, String, String, Option<ImageView>)> {
    let is_add = ins.keyword == "ADD";
    let mut words = match &ins.json {
        Some(list) => list
            .iter()
            .map(|w| b.expand(ins, w, vars))
            .collect::<Result<Vec<_>>>()?,
        None => b.split(ins, &ins.args, vars)?,
    };
    if words.len() < 2 {
        return Err(b.syntax(ins, format!("{} requires at least two arguments", ins.keyword)));
    }
    let dest_word = words.pop().expect("two words");
    let workdir = state.workdir();
    let dest = if dest_word.starts_with('/') {
        dest_word.clone()
    } else {
        format!("{}/{dest_word}", workdir.trim_end_matches('/'))
    };
    let dest = format!("/{}", elements(&dest).join("/"));
    let view = b.view(state.image.as_ref())?;
    let options = Options {
        owner: match ins.flag("chown") {
            Some(spec) => Some(
                view.owner(&b.expand(ins, spec, vars)?)
                    .map_err(|e| b.syntax(ins, format!("--chown: {e}")))?,
            ),
            None => None,
        },
        chmod: match ins.flag("chmod") {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| b.syntax(ins, format!("--chmod={m}: expected an octal mode")))?,
            ),
            None => None,
        },
        epoch: b.opts.source_date_epoch,
    };
    let from_view = match ins.flag("from") {
        Some(from) => Some(stage_view(b, ins, &b.expand(ins, from, vars)?)?.1),
        None => None,
    };
    let mut origins = Vec::new();
    for word in &words {
        if let Some(doc) = word.strip_prefix("<<").and_then(|n| {
            let n = n.trim_start_matches('-').trim_matches(|c| c == '"' || c == '\'');
            ins.heredocs.iter().find(|h| h.name == n)
        }) {
            let body = if doc.expand {
                b.expand(ins, &doc.body, vars)?
            } else {
                doc.body.clone()
            };
            origins.push(Origin::Bytes {
                name: doc.name.clone(),
                bytes: body.into_bytes(),
            });
        } else if is_add && (word.starts_with("http://") || word.starts_with("https://")) {
            origins.push(fetch(b, ins, word)?);
        } else if let Some(view) = &from_view {
            let path = view
                .resolve(word)
                .map_err(|e| b.syntax(ins, format!("{word} in the --from image: {e}")))?
                .ok_or_else(|| b.syntax(ins, format!("{word}: not found in the --from image")))?;
            origins.push(Origin::Path {
                path,
                rel: word.clone(),
                from_context: false,
            });
        } else {
            let sources = b.context.resolve(word).map_err(|e| b.syntax(ins, e.to_string()))?;
            for s in sources {
                origins.push(Origin::Path {
                    path: s.path,
                    rel: s.rel,
                    from_context: true,
                });
            }
        }
    }
    if ins.flag("checksum").is_some() && !words.iter().all(|w| w.starts_with("http")) {
        return Err(b.syntax(ins, "--checksum applies to URL sources only"));
    }
    let dest_exists_as_dir = view.metadata(&dest).is_some_and(|m| m.is_dir());
    let into_dir = dest_word.ends_with('/') || dest_exists_as_dir || origins.len() > 1;
    if origins.len() > 1 && !(dest_word.ends_with('/') || dest_exists_as_dir) {
        return Err(b.syntax(
            ins,
            format!(
                "When using {} with more than one source file, the destination must be a directory and end with a /",
                ins.keyword
            ),
        ));
    }
    let mut layer = Layer::default();
    for origin in &origins {
        add_origin(b, ins, &mut layer, &view, origin, &dest, into_dir, is_add, &options)?;
    }
    let mut pending = Vec::new();
    let summary = summarize(b, &layer, &mut pending)?;
    if !pending.is_empty() {
        b.store.db().put_file_sums(&pending)?;
    }
    let kind = if origins.len() == 1 && matches!(origins[0], Origin::Path { .. }) {
        let is_dir = matches!(&origins[0], Origin::Path { path, .. } if path.is_dir());
        if is_dir {
            "dir"
        } else {
            "file"
        }
    } else {
        "multi"
    };
    let created_by = format!("/bin/sh -c #(nop) {} {kind}:{} in {dest} ", ins.keyword, &summary[7..]);
    let sources: Vec<String> = origins
        .iter()
        .map(|o| match o {
            Origin::Path { rel, .. } => rel.clone(),
            Origin::Bytes { name, .. } => name.clone(),
        })
        .collect();
    log::debug!("{} {} -> {dest}", ins.keyword, sources.join(" "));
    let key_text = format!("{created_by}\0{:?}\0{:?}", ins.flags, sources);
    // The layer reads --from files from the view when it is written: keep it mounted.
    Ok((layer, created_by, key_text, from_view))
}

/// A view of the stage or image `--from` (or a `RUN --mount`'s `from=`) names, and the
/// image's ID.
pub(crate) fn stage_view(b: &Builder<'_>, ins: &Instruction, from: &str) -> Result<(String, ImageView)> {
    let lower = from.to_ascii_lowercase();
    let index = b
        .stage_names
        .iter()
        .position(|n| n.as_deref() == Some(lower.as_str()))
        .or_else(|| from.parse::<usize>().ok().filter(|i| *i < b.done.len()));
    let image = match index {
        Some(i) => b.done[i]
            .clone()
            .ok_or_else(|| b.syntax(ins, format!("--from={from}: that stage is not built before this one")))?,
        None => match b.store.resolve(from) {
            Ok(r) => r.image,
            Err(strata_images::ImageError::NotFound { .. }) => {
                return Err(b.syntax(ins, format!("--from={from}: no stage or local image of that name")))
            }
            Err(e) => return Err(e.into()),
        },
    };
    Ok((image.id.clone(), b.view(Some(&image))?))
}

/// Downloads an ADD URL (checked against `--checksum` when given).
fn fetch(b: &Builder<'_>, ins: &Instruction, url: &str) -> Result<Origin> {
    let fail = |m: String| b.syntax(ins, format!("{url}: {m}"));
    let response = ureq::get(url).call().map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_URL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_URL_BYTES {
        return Err(fail(format!("larger than {MAX_URL_BYTES} bytes")));
    }
    if let Some(expected) = ins.flag("checksum") {
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if actual != expected {
            return Err(fail(format!("checksum mismatch: expected {expected}, got {actual}")));
        }
    }
    let name = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("download")
        .to_string();
    Ok(Origin::Bytes { name, bytes })
}

#[allow(clippy::too_many_arguments)]
fn add_origin(
    b: &Builder<'_>,
    ins: &Instruction,
    layer: &mut Layer,
    view: &ImageView,
    origin: &Origin,
    dest: &str,
    into_dir: bool,
    is_add: bool,
    o: &Options,
) -> Result<()> {
    let (uid, gid) = o.owner.unwrap_or((0, 0));
    let (path, rel, from_context) = match origin {
        Origin::Bytes { name, bytes } => {
            let target = if into_dir {
                format!("{dest}/{name}")
            } else {
                dest.to_string()
            };
            add_parents(layer, view, &target, o.epoch);
            layer.add(
                &target,
                Entry {
                    content: Content::Bytes(bytes.clone()),
                    mode: o.chmod.unwrap_or(if is_add { 0o600 } else { 0o644 }),
                    uid,
                    gid,
                    mtime: o.epoch.unwrap_or(0).max(0) as u64,
                },
            );
            return Ok(());
        }
        Origin::Path {
            path,
            rel,
            from_context,
        } => (path, rel, *from_context),
    };
    let meta = std::fs::symlink_metadata(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
    if meta.is_dir() {
        let existing = view.metadata(dest).filter(|m| m.is_dir());
        add_parents(layer, view, &format!("{dest}/x"), o.epoch);
        let top = existing.as_ref().unwrap_or(&meta);
        layer.add(dest, entry_for(Content::Dir, top, o, existing.is_some()));
        return copy_tree(b, ins, layer, path, rel, dest, from_context, o);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if is_add && meta.is_file() && is_archive(path) {
        return unpack_archive(b, ins, layer, view, path, dest, o);
    }
    let target = if into_dir {
        format!("{dest}/{name}")
    } else {
        dest.to_string()
    };
    add_parents(layer, view, &target, o.epoch);
    let content = content_of(
        path,
        &meta,
        &Source {
            b,
            ins,
            rel,
            from_context,
        },
    )?;
    layer.add(&target, entry_for(content, &meta, o, false));
    Ok(())
}

/// A source as the user named it: in the build context, or in the `--from` stage or
/// image (never the store's path of its view).
struct Source<'a, 'b> {
    b: &'a Builder<'b>,
    ins: &'a Instruction,
    rel: &'a str,
    from_context: bool,
}

impl Source<'_, '_> {
    fn refused(&self, why: &str) -> BuildError {
        let place = if self.from_context {
            "in the build context"
        } else {
            "in the --from stage or image"
        };
        let rel = self.rel.trim_start_matches('/');
        self.b.syntax(self.ins, format!("/{rel} {place}: {why}"))
    }
}

fn content_of(path: &Path, meta: &std::fs::Metadata, source: &Source<'_, '_>) -> Result<Content> {
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
        return Ok(Content::Symlink(target.to_string_lossy().into_owned()));
    }
    if meta.is_file() {
        return Ok(Content::File(path.to_path_buf()));
    }
    if meta.is_dir() {
        return Ok(Content::Dir);
    }
    Err(source.refused("device nodes, sockets and FIFOs cannot be copied into an image"))
}

/// A tar entry for a source: its mode (or `--chmod`), the owner (root or `--chown`),
/// its time (or `SOURCE_DATE_EPOCH`). `keep` keeps an existing directory's metadata.
fn entry_for(content: Content, meta: &std::fs::Metadata, o: &Options, keep: bool) -> Entry {
    if keep {
        return Entry {
            content,
            mode: meta.permissions().mode(),
            uid: meta.uid() as u64,
            gid: meta.gid() as u64,
            mtime: meta.mtime().max(0) as u64,
        };
    }
    let (uid, gid) = o.owner.unwrap_or((0, 0));
    let is_link = matches!(content, Content::Symlink(_));
    Entry {
        content,
        mode: if is_link {
            0o777
        } else {
            o.chmod.unwrap_or(meta.permissions().mode())
        },
        uid,
        gid,
        mtime: source_mtime(meta, o.epoch),
    }
}

/// A source directory's contents under `dest`, minus what `.dockerignore` excludes.
#[allow(clippy::too_many_arguments)]
fn copy_tree(
    b: &Builder<'_>,
    ins: &Instruction,
    layer: &mut Layer,
    dir: &Path,
    rel: &str,
    dest: &str,
    from_context: bool,
    o: &Options,
) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .and_then(|d| d.collect::<std::io::Result<Vec<_>>>())
        .map_err(|e| BuildError::io(format!("reading {}", dir.display()), e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let excluded = from_context && b.context.excludes(&child_rel);
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if excluded && !(is_dir && b.context.may_reinclude_under(&child_rel)) {
            continue;
        }
        let path = entry.path();
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
        let target = format!("{dest}/{name}");
        if excluded {
            // As Docker: an excluded directory an exception reaches into is walked, and
            // is in the copy only if something below it is.
            let before = layer.entries.len();
            copy_tree(b, ins, layer, &path, &child_rel, &target, from_context, o)?;
            if layer.entries.len() > before {
                let source = Source {
                    b,
                    ins,
                    rel: &child_rel,
                    from_context,
                };
                layer.add(&target, entry_for(content_of(&path, &meta, &source)?, &meta, o, false));
            }
            continue;
        }
        let source = Source {
            b,
            ins,
            rel: &child_rel,
            from_context,
        };
        layer.add(&target, entry_for(content_of(&path, &meta, &source)?, &meta, o, false));
        if meta.is_dir() {
            copy_tree(b, ins, layer, &path, &child_rel, &target, from_context, o)?;
        }
    }
    Ok(())
}

/// Whether ADD should unpack this file: a (possibly compressed) tar archive.
fn is_archive(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok((_, mut plain)) = strata_archive::compression::decompress(std::io::BufReader::new(file)) else {
        return false;
    };
    let mut head = [0u8; 512];
    plain.read_exact(&mut head).is_ok() && &head[257..262] == b"ustar"
}

/// ADD of a local archive: its entries under `dest`, paths kept inside `dest`.
fn unpack_archive(
    b: &Builder<'_>,
    ins: &Instruction,
    layer: &mut Layer,
    view: &ImageView,
    path: &Path,
    dest: &str,
    o: &Options,
) -> Result<()> {
    let bad = |m: String| b.syntax(ins, format!("{}: {m}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let (_, plain) =
        strata_archive::compression::decompress(std::io::BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    let mut archive = tar::Archive::new(plain);
    add_parents(layer, view, &format!("{dest}/x"), o.epoch);
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let inner = elements(&name).join("/");
        if inner.is_empty() {
            continue;
        }
        let target = format!("{dest}/{inner}");
        let header = entry.header().clone();
        let content = match header.entry_type() {
            tar::EntryType::Directory => Content::Dir,
            tar::EntryType::Symlink => Content::Symlink(
                entry
                    .link_name()
                    .map_err(|e| bad(e.to_string()))?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(|e| bad(e.to_string()))?
                    .map(|l| elements(&l.to_string_lossy()).join("/"))
                    .unwrap_or_default();
                Content::Link(format!("{}/{link}", dest.trim_start_matches('/')))
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(|e| bad(e.to_string()))?;
                Content::Bytes(bytes)
            }
            _ => continue, // devices and FIFOs are not created by a build
        };
        add_parents(layer, view, &target, o.epoch);
        let (uid, gid) = o
            .owner
            .unwrap_or((header.uid().unwrap_or(0), header.gid().unwrap_or(0)));
        layer.add(
            &target,
            Entry {
                content,
                mode: o.chmod.unwrap_or(header.mode().unwrap_or(0o644)),
                uid,
                gid,
                mtime: o.epoch.map_or(header.mtime().unwrap_or(0), |e| e.max(0) as u64),
            },
        );
    }
    Ok(())
}

/// One digest over every entry's path, metadata and content: the cache key's input.
fn summarize(b: &Builder<'_>, layer: &Layer, pending: &mut Vec<(String, String, String)>) -> Result<String> {
    let mut h = Sha256::new();
    for (path, e) in &layer.entries {
        let content = match &e.content {
            Content::Dir => "dir".to_string(),
            Content::File(p) => file_digest(b, p, pending)?,
            Content::Bytes(bytes) => format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
            Content::Symlink(t) => format!("symlink:{t}"),
            Content::Link(t) => format!("link:{t}"),
        };
        h.update(format!("{path}\0{:o}\0{}\0{}\0{}\0{content}\n", e.mode, e.uid, e.gid, e.mtime).as_bytes());
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}
