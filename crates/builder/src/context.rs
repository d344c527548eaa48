//! The build context: a directory (or a tar read into one), `.dockerignore`, and COPY
//! source resolution that never leaves the context (`..` is refused, symlinks on the way
//! resolve inside it as in a chroot, a source that is a symlink is copied as one).

use crate::error::{BuildError, Result};
use crate::ignore::{elements, glob_elements, has_glob, Ignore};
use std::path::{Path, PathBuf};

/// A file or directory of the context named by a COPY/ADD source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Relative to the context root, `/`-separated ("" for the root itself).
    pub rel: String,
    pub path: PathBuf,
}

pub struct Context {
    root: Option<PathBuf>,
    ignore: Ignore,
    /// A directory this context unpacked itself (from a tar), removed on drop.
    owned: bool,
}

impl Drop for Context {
    fn drop(&mut self) {
        if let (true, Some(root)) = (self.owned, &self.root) {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

fn context_error(path: &Path, message: impl Into<String>) -> BuildError {
    BuildError::Context {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// The most of a `.dockerignore` or a Dockerfile read from inside a context: both are
/// read whole, and a tar context is untrusted.
pub(crate) const CONTROL_FILE_LIMIT: u64 = 16 << 20;

impl Context {
    /// The directory `root` (an absolute path). `.dockerignore` comes from
    /// `DOCKERFILE.dockerignore` beside the Dockerfile when there is one, else from the
    /// context root.
    pub fn dir(root: &Path, dockerfile: Option<&Path>) -> Result<Self> {
        if !root.is_absolute() {
            return Err(context_error(root, "unable to prepare context: not an absolute path"));
        }
        let root = root
            .canonicalize()
            .map_err(|e| context_error(root, format!("unable to prepare context: {e}")))?;
        if !root.is_dir() {
            return Err(context_error(&root, "unable to prepare context: not a directory"));
        }
        let specific = dockerfile
            .map(|d| PathBuf::from(format!("{}.dockerignore", d.display())))
            .filter(|p| p.is_file());
        let mut context = Context {
            root: Some(root),
            ignore: Ignore::default(),
            owned: false,
        };
        context.ignore = match specific {
            Some(file) => {
                let text = std::fs::read_to_string(&file).map_err(|e| context_error(&file, e.to_string()))?;
                Ignore::parse(&text)
            }
            None => context.ignore_file(".dockerignore")?.unwrap_or_default(),
        };
        Ok(context)
    }

    /// A tar archive (plain, or compressed as Docker takes it) unpacked into `dir`, which
    /// becomes the context and is removed with it. Entries that would land outside `dir`
    /// (`..`, absolute paths, writes through symlinks) fail the unpack. `.dockerignore`
    /// comes from `DOCKERFILE.dockerignore` when the archive has one, else from its root.
    pub fn tar(reader: impl std::io::Read, dir: &Path, dockerfile: &str) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| BuildError::io(format!("creating {}", dir.display()), e))?;
        let mut context = Context {
            root: Some(dir.to_path_buf()),
            ignore: Ignore::default(),
            owned: true,
        };
        let plain = strata_archive::compression::decompress_any(reader)
            .map_err(|e| context_error(dir, format!("reading the context archive: {e}")))?;
        // Unterminated: the docker CLI sends a context with a Dockerfile from outside it
        // without the end-of-archive blocks (and the last padding).
        let options = strata_archive::ApplyOptions {
            unterminated_ok: true,
            ..Default::default()
        };
        strata_archive::apply_layer(plain, dir, &options)
            .map_err(|e| context_error(dir, format!("unpacking the context archive: {e}")))?;
        let specific = context.ignore_file(&format!("{dockerfile}.dockerignore"))?;
        context.ignore = match specific {
            Some(ignore) => ignore,
            None => context.ignore_file(".dockerignore")?.unwrap_or_default(),
        };
        Ok(context)
    }

    /// The regular file `rel` of the context, resolved inside it (symlinks cannot lead
    /// out, a FIFO is refused rather than waited on); None when there is no such file.
    pub fn read_file(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let root = self.root.as_deref().ok_or_else(no_context)?;
        if escapes(rel) {
            return Err(context_error(
                root,
                format!("forbidden path outside the build context: {rel}"),
            ));
        }
        let inside = strata_inroot::Root::open(root).map_err(|e| context_error(root, e.to_string()))?;
        inside
            .read_regular(Path::new(rel), CONTROL_FILE_LIMIT)
            .map_err(|e| context_error(root, e.to_string()))
    }

    fn ignore_file(&self, rel: &str) -> Result<Option<Ignore>> {
        Ok(self
            .read_file(rel)?
            .map(|bytes| Ignore::parse(&String::from_utf8_lossy(&bytes))))
    }

    /// No context (a Dockerfile from stdin): COPY and local ADD fail.
    pub fn none() -> Self {
        Context {
            root: None,
            ignore: Ignore::default(),
            owned: false,
        }
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    pub fn excludes(&self, rel: &str) -> bool {
        !rel.is_empty() && self.ignore.excludes(rel)
    }

    /// Whether an excluded directory must still be walked: a `.dockerignore` exception
    /// may re-include something below it.
    pub fn may_reinclude_under(&self, rel: &str) -> bool {
        self.ignore.may_reinclude_under(rel)
    }

    /// The host path a `RUN --mount=type=bind,source=…` binds: resolved inside the
    /// context by the kernel (its symlinks cannot lead out), read back from the
    /// descriptor so the path names no link; a source with `.dockerignore`d files in it
    /// is refused (a bind would show what the context leaves out).
    pub fn bind_source(&self, source: &str) -> Result<PathBuf> {
        let root = self.root.as_deref().ok_or_else(no_context)?;
        let rel = elements(source).join("/");
        if escapes(source) {
            return Err(context_error(
                root,
                format!("forbidden path outside the build context: {source}"),
            ));
        }
        let not_found = || {
            context_error(
                root,
                format!("{source}: not found in build context or excluded by .dockerignore"),
            )
        };
        if self.excludes(&rel) {
            return Err(not_found());
        }
        let canonical_root = root
            .canonicalize()
            .map_err(|e| BuildError::io("resolving the context", e))?;
        let path = if rel.is_empty() {
            canonical_root.clone()
        } else {
            let opened = strata_inroot::Root::open(root).map_err(|e| context_error(root, e.to_string()))?;
            let handle = opened
                .find(Path::new(&rel))
                .map_err(|e| context_error(root, format!("{source}: {e}")))?
                .ok_or_else(not_found)?;
            std::fs::read_link(handle.proc_path()).map_err(|e| BuildError::io(format!("resolving {source}"), e))?
        };
        if !path.starts_with(&canonical_root) {
            return Err(context_error(
                root,
                format!("forbidden path outside the build context: {source}"),
            ));
        }
        if path.is_dir() {
            let prefix = path
                .strip_prefix(&canonical_root)
                .unwrap_or(Path::new(""))
                .to_path_buf();
            let mut excluded = None;
            walk(&path, &mut Vec::new(), &mut |inner: &[String], _| {
                let mut full: Vec<String> = prefix.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                full.extend(inner.iter().cloned());
                let rel = full.join("/");
                if excluded.is_none() && self.excludes(&rel) {
                    excluded = Some(rel);
                }
            })
            .map_err(|e| BuildError::io(format!("reading {source}"), e))?;
            if let Some(hidden) = excluded {
                return Err(context_error(
                    root,
                    format!(
                        "RUN --mount source {source} holds {hidden}, which .dockerignore leaves out of the \
                         context: bind a directory without excluded files"
                    ),
                ));
            }
        }
        Ok(path)
    }

    /// The context entries a COPY source names (a path or a glob).
    pub fn resolve(&self, pattern: &str) -> Result<Vec<Source>> {
        let root = self.root.as_deref().ok_or_else(no_context)?;
        if escapes(pattern) {
            return Err(context_error(
                root,
                format!("forbidden path outside the build context: {pattern}"),
            ));
        }
        let parts = elements(pattern);
        let not_found = || {
            context_error(
                root,
                format!("{pattern}: not found in build context or excluded by .dockerignore"),
            )
        };
        if !has_glob(pattern) {
            let rel = parts.join("/");
            let path = inside(root, &parts).ok_or_else(not_found)?;
            if self.excludes(&rel) || std::fs::symlink_metadata(&path).is_err() {
                return Err(not_found());
            }
            return Ok(vec![Source { rel, path }]);
        }
        let mut found = Vec::new();
        walk(root, &mut Vec::new(), &mut |rel: &[String], path: &Path| {
            if glob_elements(&parts, rel) {
                let rel = rel.join("/");
                if !self.excludes(&rel) {
                    found.push(Source {
                        rel,
                        path: path.to_path_buf(),
                    });
                }
            }
        })
        .map_err(|e| context_error(root, e.to_string()))?;
        if found.is_empty() {
            return Err(not_found());
        }
        found.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(found)
    }
}

fn no_context() -> BuildError {
    BuildError::Context {
        path: "-".into(),
        message: "there is no build context (the Dockerfile came from stdin); COPY and ADD of local files need one"
            .into(),
    }
}

/// Whether the start of an input is an archive (compressed, or a tar's `ustar` header)
/// rather than Dockerfile text: `build -` reads either from stdin.
pub fn looks_like_archive(head: &[u8]) -> bool {
    strata_archive::compression::is_compressed(head) || head.get(257..262) == Some(b"ustar")
}

/// Whether a relative path climbs above its start (`../x`, `a/../../x`).
fn escapes(pattern: &str) -> bool {
    let mut depth: i64 = 0;
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// `root` joined with `parts`, symlinks on the way (not the last part) resolved inside
/// `root` as if it were `/`. None when a link loop or a missing directory is met.
fn inside(root: &Path, parts: &[String]) -> Option<PathBuf> {
    let mut resolved: Vec<String> = Vec::new();
    let mut queue: std::collections::VecDeque<String> = parts.iter().cloned().collect();
    let mut links = 0;
    while let Some(part) = queue.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(resolved.join("/")).join(&part);
        let is_last = queue.is_empty();
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() && !is_last => {
                links += 1;
                if links > 40 {
                    return None;
                }
                let target = std::fs::read_link(&candidate).ok()?;
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    resolved.clear();
                }
                for p in elements_keep_parent(&target).into_iter().rev() {
                    queue.push_front(p);
                }
            }
            _ => resolved.push(part),
        }
    }
    Some(root.join(resolved.join("/")))
}

/// Path elements with `..` kept (resolved against the walk, never above the root).
fn elements_keep_parent(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect()
}

/// Visits every entry under `dir` (not following symlinks), with its relative elements.
pub(crate) fn walk(dir: &Path, rel: &mut Vec<String>, visit: &mut dyn FnMut(&[String], &Path)) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        rel.push(entry.file_name().to_string_lossy().into_owned());
        visit(rel, &entry.path());
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), rel, visit)?;
        }
        rel.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn context() -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ctx");
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join("b.txt"), "b").unwrap();
        std::fs::write(root.join("skip.log"), "x").unwrap();
        std::fs::write(root.join("src/deep/c.txt"), "c").unwrap();
        std::fs::write(dir.path().join("outside"), "secret").unwrap();
        symlink("../outside", root.join("up")).unwrap();
        symlink("/etc", root.join("etc")).unwrap();
        std::fs::write(root.join(".dockerignore"), "*.log\n").unwrap();
        let c = Context::dir(&root, None).unwrap();
        (dir, c)
    }

    #[test]
    fn globs_paths_and_ignores() {
        let (_d, c) = context();
        let rels = |p: &str| c.resolve(p).unwrap().into_iter().map(|s| s.rel).collect::<Vec<_>>();
        assert_eq!(rels("*.txt"), ["a.txt", "b.txt"]);
        assert_eq!(rels("./src/deep/c.txt"), ["src/deep/c.txt"]);
        assert_eq!(rels("src/*/c.txt"), ["src/deep/c.txt"]);
        assert!(c.resolve("skip.log").is_err(), "excluded by .dockerignore");
        assert!(c.resolve("nothing*").is_err());
    }

    #[test]
    fn sources_never_leave_the_context() {
        let (d, c) = context();
        let err = c.resolve("../outside").unwrap_err().to_string();
        assert!(err.contains("forbidden path outside the build context"), "{err}");
        // The link itself is a source (copied as a link); through it nothing escapes.
        assert_eq!(c.resolve("up").unwrap()[0].path, d.path().join("ctx/up"));
        assert!(c.resolve("etc/passwd").is_err(), "/etc means the context's etc");
        assert!(
            c.resolve("/a.txt").is_ok(),
            "absolute sources are relative to the context"
        );
        let through = inside(&d.path().join("ctx"), &elements("up/x"));
        assert!(through.unwrap().starts_with(d.path().join("ctx")));
    }
}
