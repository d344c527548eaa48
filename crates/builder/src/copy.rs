//! COPY and ADD: sources from the context, another stage or image (`--from`), a heredoc,
//! a URL (ADD) or a local tar archive ADD unpacks; Docker's destination rules (a
//! trailing `/` or several sources mean a directory; a source directory's contents are
//! copied); `--chown`, `--chmod`, `--exclude`, `--parents`, `ADD --checksum` and
//! `ADD --unpack`; and the cache key from every entry's metadata and content digest.

use crate::builder::{Builder, Stage};
use crate::chmod::Chmod;
use crate::error::{BuildError, Result};
use crate::ignore::{elements, has_glob, Ignore};
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
        /// `--parents`: where under the destination it goes (its path from the context
        /// root, the `--from` root or the `/./` pivot).
        kept: Option<String>,
    },
    Bytes {
        name: String,
        bytes: Vec<u8>,
        /// A download ADD unpacks (`--unpack=true`) when it is an archive.
        unpack: bool,
        /// Its mode before `--chmod`.
        mode: u32,
    },
}

struct Options {
    owner: Option<(u64, u64)>,
    chmod: Option<Chmod>,
    epoch: Option<i64>,
    /// `--exclude` patterns, matched as `.dockerignore` lines on paths relative to
    /// the source (BuildKit uses the same pattern matcher for both).
    exclude: Option<Ignore>,
}

impl Options {
    fn mode(&self, current: u32, is_dir: bool) -> u32 {
        match &self.chmod {
            Some(chmod) => chmod.apply(current, is_dir),
            None => current,
        }
    }

    fn excluded(&self, rel: &str) -> bool {
        self.exclude.as_ref().is_some_and(|e| e.excludes(rel))
    }

    /// Whether `--exclude` leaves out a source `word` resolved to `rel`. BuildKit copies
    /// a `--parents` source from the root (or the `/./` pivot), so its kept path is
    /// what patterns see; otherwise a wildcard's match is seen from the directory
    /// before the wildcard (`--exclude=*.txt hom*` leaves home.txt out), and a source
    /// named in full is copied as named.
    fn excluded_source(&self, word: &str, rel: &str, kept: Option<&str>) -> bool {
        if let Some(kept) = kept {
            return !kept.is_empty() && self.excluded(kept);
        }
        let parts = elements(rel);
        match wildcard_base(word) {
            Some(n) => self.excluded(&parts[n.min(parts.len())..].join("/")),
            None => false,
        }
    }
}

/// A boolean flag as BuildKit takes it: `--flag` alone is true.
fn bool_flag(b: &Builder<'_>, ins: &Instruction, name: &str) -> Result<Option<bool>> {
    match ins.flag(name) {
        None => Ok(None),
        Some("") | Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(b.syntax(ins, format!("--{name}={other}: expected true or false"))),
    }
}

/// Whether ADD's source names a Git repository, as BuildKit tells them apart.
fn is_git_source(word: &str) -> bool {
    let base = word.split('#').next().unwrap_or(word);
    word.starts_with("git@")
        || word.starts_with("git://")
        || word.starts_with("ssh://")
        || word.starts_with("github.com/")
        || ((word.starts_with("http://") || word.starts_with("https://")) && base.ends_with(".git"))
}

fn is_url(word: &str) -> bool {
    word.starts_with("http://") || word.starts_with("https://")
}

/// `sha256:` and 64 lower-case hex digits: the one digest BuildKit checks downloads with.
fn check_checksum(value: &str) -> std::result::Result<(), String> {
    match value.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) => Ok(()),
        Some(("sha256", _)) => Err(format!(
            "--checksum={value}: a sha256 digest has 64 lower-case hex digits"
        )),
        Some((algorithm, _)) => Err(format!(
            "--checksum={value}: unsupported digest algorithm {algorithm}; BuildKit checks sha256:<hex> only"
        )),
        None => Err(format!("--checksum={value}: expected sha256:<64 hex digits>")),
    }
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
    let chmod = match ins.flag("chmod") {
        Some(m) => Some(Chmod::parse(&b.expand(ins, m, vars)?).map_err(|e| b.syntax(ins, e))?),
        None => None,
    };
    let exclude: Vec<String> = ins
        .flags_named("exclude")
        .map(|p| b.expand(ins, p, vars))
        .collect::<Result<_>>()?;
    let options = Options {
        owner: match ins.flag("chown") {
            Some(spec) => Some(
                view.owner(&b.expand(ins, spec, vars)?)
                    .map_err(|e| b.syntax(ins, format!("--chown: {e}")))?,
            ),
            None => None,
        },
        chmod,
        epoch: b.opts.source_date_epoch,
        exclude: (!exclude.is_empty()).then(|| Ignore::parse(&exclude.join("\n"))),
    };
    let parents = bool_flag(b, ins, "parents")?.unwrap_or(false);
    let unpack = bool_flag(b, ins, "unpack")?;
    if is_add {
        if let Some(git) = words.iter().find(|w| is_git_source(w)) {
            return Err(b.syntax(
                ins,
                format!(
                    "ADD of a Git repository ({git}) is not supported by strata: it has no Git support and \
                     fetches no repository; clone it outside the build and COPY it, or RUN git clone"
                ),
            ));
        }
        if let Some(sum) = ins.flag("checksum") {
            if let Some(local) = words.iter().find(|w| !is_url(w)) {
                return Err(b.syntax(
                    ins,
                    format!("--checksum can't be specified for non-HTTP(S) sources ({local})"),
                ));
            }
            check_checksum(sum).map_err(|e| b.syntax(ins, e))?;
        }
    }
    let from_view = match ins.flag("from") {
        Some(from) => Some(stage_view(b, ins, &b.expand(ins, from, vars)?)?),
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
                unpack: false,
                mode: 0o644,
            });
        } else if is_add && is_url(word) {
            let mut fetched = fetch(b, ins, word)?;
            if let Origin::Bytes { unpack: u, .. } = &mut fetched {
                // BuildKit leaves a download packed unless told otherwise.
                *u = unpack == Some(true);
            }
            origins.push(fetched);
        } else if let Some(view) = &from_view {
            let found =
                view_sources(view, word).map_err(|e| b.syntax(ins, format!("{word} in the --from image: {e}")))?;
            if found.is_empty() {
                return Err(b.syntax(ins, format!("{word}: not found in the --from image")));
            }
            for (path, rel) in found {
                let kept = parents.then(|| kept_path(word, &rel));
                if options.excluded_source(word, &rel, kept.as_deref()) {
                    continue;
                }
                origins.push(Origin::Path {
                    path,
                    rel,
                    from_context: false,
                    kept,
                });
            }
        } else {
            let sources = b.context.resolve(word).map_err(|e| b.syntax(ins, e.to_string()))?;
            for s in sources {
                let kept = parents.then(|| kept_path(word, &s.rel));
                if options.excluded_source(word, &s.rel, kept.as_deref()) {
                    continue;
                }
                origins.push(Origin::Path {
                    path: s.path,
                    rel: s.rel,
                    from_context: true,
                    kept,
                });
            }
        }
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
        let unpack_local = is_add && unpack != Some(false);
        add_origin(
            b,
            ins,
            &mut layer,
            &view,
            origin,
            &dest,
            into_dir,
            unpack_local,
            &options,
        )?;
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

/// A view of the stage or image `--from` names.
fn stage_view(b: &Builder<'_>, ins: &Instruction, from: &str) -> Result<ImageView> {
    let image = match b.stage_index(from) {
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
    b.view(Some(&image))
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
    // BuildKit writes downloads 0600.
    Ok(Origin::Bytes {
        name,
        bytes,
        unpack: false,
        mode: 0o600,
    })
}

/// The part of a source's path `--parents` keeps: after the `/./` pivot when the
/// source has one (as rsync's `--relative`), else all of it.
fn kept_path(word: &str, rel: &str) -> String {
    let rel = elements(rel);
    let skip = match word.split_once("/./") {
        Some((base, _)) => elements(base).len(),
        None => 0,
    };
    rel[skip.min(rel.len())..].join("/")
}

/// What a `--from` source names in the stage or image: the path, or every match of its
/// wildcards below the directory before them (resolved in the image by the kernel; the
/// walk below it follows no link), with their paths in the image.
fn view_sources(view: &ImageView, word: &str) -> std::result::Result<Vec<(PathBuf, String)>, String> {
    let parts = elements(word);
    let Some(n) = parts.iter().position(|p| has_glob(p)) else {
        return Ok(view.resolve(word)?.map(|p| (p, word.to_string())).into_iter().collect());
    };
    let Some(dir) = view.resolve(&format!("/{}", parts[..n].join("/")))? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    crate::context::walk(&dir, &mut Vec::new(), &mut |rel: &[String], path: &Path| {
        if crate::ignore::glob_elements(&parts[n..], rel) {
            let mut full = parts[..n].to_vec();
            full.extend(rel.iter().cloned());
            found.push((path.to_path_buf(), full.join("/")));
        }
    })
    .map_err(|e| e.to_string())?;
    Ok(found)
}

/// For a source with a wildcard, how many leading path elements come before it: the
/// base directory a match's `--exclude`d path is taken from.
fn wildcard_base(word: &str) -> Option<usize> {
    let parts = elements(word);
    parts.iter().position(|p| has_glob(p))
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
    unpack_local: bool,
    o: &Options,
) -> Result<()> {
    let (uid, gid) = o.owner.unwrap_or((0, 0));
    let (path, rel, from_context, kept) = match origin {
        Origin::Bytes {
            name,
            bytes,
            unpack,
            mode,
        } => {
            if *unpack && is_archive_bytes(bytes) {
                return unpack_archive(b, ins, layer, view, std::io::Cursor::new(bytes), name, dest, o);
            }
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
                    mode: o.mode(*mode, false),
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
            kept,
            ..
        } => (path, rel, *from_context, kept.as_deref().filter(|k| !k.is_empty())),
    };
    let meta = std::fs::symlink_metadata(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
    let dest = match kept {
        Some(kept) => {
            add_kept_parents(layer, view, dest, kept, path, o);
            format!("{dest}/{kept}")
        }
        None => dest.to_string(),
    };
    let dest = dest.as_str();
    if meta.is_dir() {
        let existing = view.metadata(dest).filter(|m| m.is_dir());
        add_parents(layer, view, &format!("{dest}/x"), o.epoch);
        let top = existing.as_ref().unwrap_or(&meta);
        layer.add(dest, entry_for(Content::Dir, top, o, existing.is_some()));
        return copy_tree(b, ins, layer, path, rel, kept.unwrap_or(""), dest, from_context, o);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if unpack_local && meta.is_file() && is_archive(path) {
        let file = std::fs::File::open(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
        return unpack_archive(b, ins, layer, view, file, &path.display().to_string(), dest, o);
    }
    let target = if into_dir && kept.is_none() {
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

/// `--parents`: the directories between the destination and a kept source, with the
/// metadata of the source's own parents (as BuildKit copies them), or the image's
/// where it has them already.
fn add_kept_parents(layer: &mut Layer, view: &ImageView, dest: &str, kept: &str, path: &Path, o: &Options) {
    add_parents(layer, view, &format!("{dest}/x"), o.epoch);
    let parts = elements(kept);
    for n in 1..parts.len() {
        let dir = format!("{dest}/{}", parts[..n].join("/"));
        if layer.contains(&dir) {
            continue;
        }
        let entry = match view.metadata(&dir).filter(|m| m.is_dir()) {
            Some(existing) => entry_for(Content::Dir, &existing, o, true),
            None => match path.ancestors().nth(parts.len() - n).map(std::fs::symlink_metadata) {
                Some(Ok(m)) if m.is_dir() => entry_for(Content::Dir, &m, o, false),
                _ => Entry {
                    content: Content::Dir,
                    mode: o.mode(0o755, true),
                    uid: o.owner.map_or(0, |(u, _)| u),
                    gid: o.owner.map_or(0, |(_, g)| g),
                    mtime: o.epoch.unwrap_or(0).max(0) as u64,
                },
            },
        };
        layer.add(&dir, entry);
    }
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
    let mode = meta.permissions().mode();
    Entry {
        mode: if is_link {
            0o777
        } else if o.chmod.is_some() {
            o.mode(mode, matches!(content, Content::Dir))
        } else {
            mode
        },
        content,
        uid,
        gid,
        mtime: source_mtime(meta, o.epoch),
    }
}

/// A source directory's contents under `dest`, minus what `.dockerignore` and
/// `--exclude` leave out (`inner`: the path `--exclude` patterns see, from the source,
/// or from the root or pivot with `--parents`).
#[allow(clippy::too_many_arguments)]
fn copy_tree(
    b: &Builder<'_>,
    ins: &Instruction,
    layer: &mut Layer,
    dir: &Path,
    rel: &str,
    inner: &str,
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
        let child_inner = if inner.is_empty() {
            name.clone()
        } else {
            format!("{inner}/{name}")
        };
        if o.excluded(&child_inner) {
            continue;
        }
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
            copy_tree(b, ins, layer, &path, &child_rel, &child_inner, &target, from_context, o)?;
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
            copy_tree(b, ins, layer, &path, &child_rel, &child_inner, &target, from_context, o)?;
        }
    }
    Ok(())
}

/// Whether ADD should unpack this file: a (possibly compressed) tar archive.
fn is_archive(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    is_archive_reader(std::io::BufReader::new(file))
}

fn is_archive_bytes(bytes: &[u8]) -> bool {
    is_archive_reader(bytes)
}

fn is_archive_reader(reader: impl std::io::BufRead) -> bool {
    let Ok((_, mut plain)) = strata_archive::compression::decompress(reader) else {
        return false;
    };
    let mut head = [0u8; 512];
    plain.read_exact(&mut head).is_ok() && &head[257..262] == b"ustar"
}

/// ADD of an archive: its entries under `dest`, paths kept inside `dest`. `--chown`
/// applies to every entry, `--chmod` to none: BuildKit unpacks with the owner it is
/// given and the archive's own modes.
#[allow(clippy::too_many_arguments)]
fn unpack_archive(
    b: &Builder<'_>,
    ins: &Instruction,
    layer: &mut Layer,
    view: &ImageView,
    reader: impl Read,
    what: &str,
    dest: &str,
    o: &Options,
) -> Result<()> {
    let bad = |m: String| b.syntax(ins, format!("{what}: {m}"));
    let (_, plain) =
        strata_archive::compression::decompress(std::io::BufReader::new(reader)).map_err(|e| bad(e.to_string()))?;
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
                mode: header.mode().unwrap_or(0o644),
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
