//! Where a build's Dockerfile and context come from, as a front end names them: a
//! directory of the caller's, a tar stream (`build - < ctx.tar`, the body of the Engine
//! API's `POST /build`), or a Dockerfile alone. Relative paths are taken against a base
//! directory the caller passes, and streams are readers it hands in: nothing here reads
//! the process's working directory or its stdin.

use crate::context::{looks_like_archive, Context};
use crate::error::{BuildError, Result};
use std::io::Read;
use std::path::Path;
use strata_images::ImageStore;

/// A Dockerfile and the context its COPY and ADD sources come from.
pub struct BuildInput {
    pub context: Context,
    pub dockerfile: String,
    /// The Dockerfile's name in errors: as the caller gave it, `Dockerfile` by default,
    /// `-` when it came from a stream.
    pub dockerfile_name: String,
}

/// The Dockerfile of a directory context.
pub enum DockerfileSource<'a> {
    /// `Dockerfile` at the context's root.
    Default,
    /// A file of the caller's: absolute, or relative to the base directory (Docker's
    /// `-f` names a path from where the caller is, not from the context).
    Path(&'a Path),
    /// Read from a stream (`-f -`); the context's own `.dockerignore` applies.
    Reader(&'a mut dyn Read),
}

/// Docker's name for a Dockerfile that is not given.
const DEFAULT_DOCKERFILE: &str = "Dockerfile";

/// How much of a stream `build -` looks at to tell a tar from Dockerfile text: one tar
/// header, whose `ustar` magic sits at byte 257.
const SNIFF_LEN: usize = 512;

impl BuildInput {
    /// The directory `dir` (relative to `base`, an absolute path, unless absolute
    /// itself) as the context.
    pub fn from_dir(base: &Path, dir: &Path, dockerfile: DockerfileSource<'_>) -> Result<Self> {
        if !base.is_absolute() {
            return Err(BuildError::Context {
                path: base.display().to_string(),
                message: "unable to prepare context: the base directory is not an absolute path".into(),
            });
        }
        let root = base.join(dir);
        let (path, shown, name) = match dockerfile {
            DockerfileSource::Reader(reader) => {
                return Ok(BuildInput {
                    dockerfile: read_text(reader, "the Dockerfile from stdin")?,
                    context: Context::dir(&root, None)?,
                    dockerfile_name: "-".into(),
                })
            }
            DockerfileSource::Default => (
                root.join(DEFAULT_DOCKERFILE),
                dir.join(DEFAULT_DOCKERFILE),
                DEFAULT_DOCKERFILE.to_string(),
            ),
            DockerfileSource::Path(p) => (base.join(p), p.to_path_buf(), p.display().to_string()),
        };
        let dockerfile = std::fs::read_to_string(&path)
            .map_err(|e| BuildError::io(format!("unable to read the Dockerfile {}", shown.display()), e))?;
        Ok(BuildInput {
            context: Context::dir(&root, Some(&path))?,
            dockerfile,
            dockerfile_name: name,
        })
    }

    /// A tar stream (plain, or gzip, bzip2, xz or zstd) unpacked under the store's `tmp/`
    /// as the context, which goes when the input is dropped. `dockerfile` is a path
    /// inside the context (`Dockerfile` when None), as the Engine API's `dockerfile`
    /// parameter: resolved inside it, never above it.
    pub fn from_tar(store: &ImageStore, reader: impl Read, dockerfile: Option<&str>) -> Result<Self> {
        in_tar(reader, &store.work_path("context", ""), dockerfile)
    }

    /// `build -`: a tar context (as [`BuildInput::from_tar`]) or a Dockerfile alone, told
    /// apart by the stream's first bytes.
    pub fn from_stream(store: &ImageStore, mut reader: impl Read, dockerfile: Option<&str>) -> Result<Self> {
        let mut head = Vec::with_capacity(SNIFF_LEN);
        (&mut reader)
            .take(SNIFF_LEN as u64)
            .read_to_end(&mut head)
            .map_err(|e| BuildError::io("reading the build input", e))?;
        let whole = (&head[..]).chain(reader);
        if looks_like_archive(&head) {
            Self::from_tar(store, whole, dockerfile)
        } else {
            Self::dockerfile_only(whole)
        }
    }

    /// A Dockerfile with no context: COPY and local ADD fail.
    pub fn dockerfile_only(mut reader: impl Read) -> Result<Self> {
        Ok(BuildInput {
            context: Context::none(),
            dockerfile: read_text(&mut reader, "the Dockerfile from stdin")?,
            dockerfile_name: "-".into(),
        })
    }
}

/// A tar context unpacked into `dir`, with its Dockerfile.
fn in_tar(reader: impl Read, dir: &Path, dockerfile: Option<&str>) -> Result<BuildInput> {
    let name = dockerfile.unwrap_or(DEFAULT_DOCKERFILE);
    let context = Context::tar(reader, dir, name)?;
    let missing = || BuildError::Context {
        path: "-".into(),
        message: format!("the context archive has no {name}"),
    };
    let bytes = context.read_file(name)?.ok_or_else(missing)?;
    let dockerfile = String::from_utf8(bytes).map_err(|_| BuildError::Context {
        path: "-".into(),
        message: format!("{name} is not UTF-8"),
    })?;
    Ok(BuildInput {
        context,
        dockerfile,
        dockerfile_name: name.to_string(),
    })
}

fn read_text(reader: &mut dyn Read, what: &str) -> Result<String> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|e| BuildError::io(format!("reading {what}"), e))?;
    Ok(text)
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
