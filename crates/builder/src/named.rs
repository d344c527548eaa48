//! `--build-context NAME=VALUE` (BuildKit's named contexts): a directory of the caller's
//! or `docker-image://REF`, used where the Dockerfile names `NAME` — `FROM NAME` (for a
//! directory: its files as the root filesystem, one layer on scratch), `COPY
//! --from=NAME` and `RUN --mount=type=bind,from=NAME` (through [`Builder::resolve_from`])
//! — in place of a stage or an image of that name, as BuildKit does. A directory context
//! honours its own `.dockerignore` (BuildKit reads it from the named context's root),
//! and its files are resolved inside it as the main context's are. `oci-layout://`,
//! URLs and git contexts are refused by name.

use crate::builder::{Builder, Stage};
use crate::context::Context;
use crate::error::{BuildError, Result};
use crate::instruction::Instruction;
use crate::layer::Layer;
use crate::view::ImageView;
use crate::words::Vars;
use std::path::{Path, PathBuf};
use strata_images::ImageRecord;

/// A named context as the caller gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A directory (absolute).
    Dir(PathBuf),
    /// `docker-image://REF`: an image, pulled when the store has none of that name.
    Image(String),
}

fn refused(reason: String) -> BuildError {
    BuildError::Unsupported {
        flag: "--build-context",
        reason,
    }
}

impl NamedContext {
    /// `NAME=VALUE` as buildx reads it: `NAME=DIR` (relative to `base`, an absolute
    /// directory the caller names) or `NAME=docker-image://REF`.
    pub fn parse(spec: &str, base: &Path) -> Result<(String, NamedContext)> {
        let (name, value) = spec.split_once('=').ok_or_else(|| {
            refused(format!(
                "{spec}: expected NAME=VALUE (a directory or docker-image://REF)"
            ))
        })?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(refused(format!("{spec}: the context needs a name without spaces")));
        }
        if value.is_empty() {
            return Err(refused(format!(
                "{spec}: the value is empty (a directory or docker-image://REF)"
            )));
        }
        if let Some(reference) = value.strip_prefix("docker-image://") {
            strata_images::ImageRef::parse(reference)
                .map_err(|e| refused(format!("{spec}: {reference:?} is not an image reference: {e}")))?;
            return Ok((name.to_ascii_lowercase(), NamedContext::Image(reference.to_string())));
        }
        let scheme_refusal = if value.starts_with("oci-layout://") {
            Some("an OCI layout (oci-layout://) is not supported by strata: `strata load` the image, then name it with docker-image://REF")
        } else if value.starts_with("http://") || value.starts_with("https://") {
            Some("a URL context (a tarball or a git repository over http) is not supported by strata: download or clone it, then name the directory")
        } else if value.starts_with("git@") || value.starts_with("git://") || value.starts_with("ssh://") {
            Some("a git context is not supported by strata: clone the repository, then name the directory")
        } else if value.starts_with("target:") {
            Some("target: contexts are Bake's, not build's: build that target first with -t NAME, then name it with docker-image://NAME")
        } else if value.starts_with("input:") || (value.contains("://") && !value.starts_with('/')) {
            Some("only a directory or docker-image://REF can be a named context in strata")
        } else {
            None
        };
        if let Some(why) = scheme_refusal {
            return Err(refused(format!("{name}={value}: {why}")));
        }
        let dir = Path::new(value);
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else if base.is_absolute() {
            base.join(dir)
        } else {
            return Err(refused(format!(
                "{spec}: the relative directory needs an absolute base directory"
            )));
        };
        Ok((name.to_ascii_lowercase(), NamedContext::Dir(dir)))
    }
}

/// A named context opened for a build.
pub(crate) struct Named {
    /// Lower case, as stage names are compared.
    pub name: String,
    pub source: NamedSource,
}

pub(crate) enum NamedSource {
    Dir(Context),
    Image(String),
}

/// Opens the directory contexts (each with its own `.dockerignore`), so a missing one
/// fails the build before its first step.
pub(crate) fn open(contexts: &[(String, NamedContext)]) -> Result<Vec<Named>> {
    let mut opened: Vec<Named> = Vec::new();
    for (name, context) in contexts {
        let name = name.to_ascii_lowercase();
        if opened.iter().any(|n| n.name == name) {
            return Err(refused(format!("the context {name} is named twice")));
        }
        let source = match context {
            NamedContext::Dir(dir) => NamedSource::Dir(
                Context::dir(dir, None).map_err(|e| refused(format!("{name}={}: {e}", dir.display())))?,
            ),
            NamedContext::Image(reference) => NamedSource::Image(reference.clone()),
        };
        opened.push(Named { name, source });
    }
    Ok(opened)
}

/// What `--from=NAME` names.
pub(crate) enum FromSource<'a> {
    /// A named directory context: resolve sources with [`Context::resolve`] or
    /// [`Context::bind_source`] (inside it, its `.dockerignore` applied).
    Context(&'a Context),
    /// An image (a named `docker-image://` context, a stage's result, or an image of
    /// the store, pulled when missing): mount it with [`ImageView::mount`].
    Image(ImageRecord),
}

impl<'a> Builder<'a> {
    /// The stage `name` names (by its name, in lower case, or its number), by position.
    pub(crate) fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stage_names
            .iter()
            .position(|n| n.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().filter(|i| *i < self.done.len()))
    }

    /// The named context called `name` (compared in lower case), by position.
    pub(crate) fn named_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.named.iter().position(|n| n.name == lower)
    }

    /// The image of the named `docker-image://` context at `index`, pulled (through the
    /// build's fetch callback, as a base image) when missing; resolved once a build.
    pub(crate) fn named_image(&mut self, ins: &Instruction, index: usize) -> Result<ImageRecord> {
        let named: &'a [Named] = self.named;
        let entry = &named[index];
        self.used_named.insert(entry.name.clone());
        if let Some(image) = self.named_images.get(&entry.name) {
            return Ok(image.clone());
        }
        let NamedSource::Image(reference) = &entry.source else {
            return Err(self.syntax(
                ins,
                format!("the build context {} is a directory, not an image", entry.name),
            ));
        };
        let image = self.base_image(ins, reference)?;
        self.named_images.insert(entry.name.clone(), image.clone());
        Ok(image)
    }

    /// What `--from=NAME` of a step names, in BuildKit's order: a named context
    /// (`--build-context`), then a stage built before this one (by name or number),
    /// then an image (pulled through the fetch callback when the store has none).
    /// `RUN --mount=type=bind,from=NAME` resolves its source root with this.
    pub(crate) fn resolve_from(&mut self, ins: &Instruction, name: &str) -> Result<FromSource<'a>> {
        if let Some(index) = self.named_index(name) {
            let named: &'a [Named] = self.named;
            if let NamedSource::Dir(context) = &named[index].source {
                self.used_named.insert(named[index].name.clone());
                return Ok(FromSource::Context(context));
            }
            return Ok(FromSource::Image(self.named_image(ins, index)?));
        }
        if let Some(i) = self.stage_index(name) {
            return self.done[i]
                .clone()
                .map(FromSource::Image)
                .ok_or_else(|| self.syntax(ins, format!("--from={name}: that stage is not built before this one")));
        }
        Ok(FromSource::Image(self.base_image(ins, name)?))
    }
}

/// COPY and ADD, with `--from` naming a named context: a directory context's files are
/// copied as the main context's are (globs, its `.dockerignore`), an image context's
/// from a view of its image. Anything else goes to COPY's own planning unchanged.
pub(crate) fn plan_copy(
    b: &mut Builder<'_>,
    state: &Stage,
    ins: &Instruction,
    vars: &Vars,
) -> Result<(Layer, String, String, Option<ImageView>)> {
    let from = match ins.flag("from") {
        Some(from) => b.expand(ins, from, vars)?,
        None => return crate::copy::plan_copy(b, state, ins, vars),
    };
    if b.named_index(&from).is_none() {
        return crate::copy::plan_copy(b, state, ins, vars);
    }
    match b.resolve_from(ins, &from)? {
        FromSource::Context(context) => {
            let mut plain = ins.clone();
            plain.flags.retain(|(k, _)| k != "from");
            let main = std::mem::replace(&mut b.context, context);
            let planned = crate::copy::plan_copy(b, state, &plain, vars);
            b.context = main;
            planned
        }
        FromSource::Image(image) => {
            let mut pinned = ins.clone();
            for flag in pinned.flags.iter_mut().filter(|(k, _)| k == "from") {
                flag.1 = image.id.clone();
            }
            crate::copy::plan_copy(b, state, &pinned, vars)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_contexts_parse_and_the_rest_is_refused_by_name() {
        let base = Path::new("/work");
        assert_eq!(
            NamedContext::parse("src=lib", base).unwrap(),
            ("src".into(), NamedContext::Dir("/work/lib".into()))
        );
        assert_eq!(
            NamedContext::parse("Base=docker-image://busybox:test", base).unwrap(),
            ("base".into(), NamedContext::Image("busybox:test".into()))
        );
        for (spec, words) in [
            ("x=oci-layout:///tmp/layout", "(oci-layout://) is not supported"),
            ("x=https://example.com/repo.git", "a URL context"),
            ("x=git@github.com:a/b.git", "a git context is not supported"),
            ("x=target:base", "Bake's"),
            ("noequals", "expected NAME=VALUE"),
            ("=dir", "needs a name"),
            ("x=", "the value is empty"),
        ] {
            let e = NamedContext::parse(spec, base).unwrap_err().to_string();
            assert!(e.contains("--build-context") && e.contains(words), "{spec}: {e}");
        }
    }
}
