//! `--output` (BuildKit's exporters): where a build's result goes. `image` (the default:
//! an image in the store, tagged), `local` (the result's files into a directory, as
//! BuildKit's local exporter: the merged root filesystem, no image metadata), `tar` (the
//! same files as one tar, to a file written atomically or to a stream the caller hands
//! in) and `cacheonly` (the build cache only, nothing tagged). With `local`, `tar` and
//! `cacheonly` no image is loaded, as with buildx: the result stays in the store as
//! build cache, untagged and hidden from `images`. `docker`, `oci` and `registry` are
//! refused by name with the commands that do the same.

use crate::error::{BuildError, Result};
use crate::view::ImageView;
use serde_json::{json, Value};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use strata_images::{ImageRecord, ImageStore};

/// Where a build's result goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Output {
    /// An image in the store, tagged with `--tag` and these `name=`s.
    #[default]
    Image,
    /// `type=image,name=a,b`: the default, with more names.
    ImageNamed(Vec<String>),
    /// `type=local,dest=DIR` (`-o DIR`): the result's files merged into `DIR`.
    Local(PathBuf),
    /// `type=tar,dest=FILE` (`-o -`: the caller's stream).
    Tar(TarDest),
    /// `type=cacheonly`: the build cache only.
    CacheOnly,
}

/// Where a `type=tar` output is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarDest {
    /// A file, written to a temporary name beside it and renamed.
    File(PathBuf),
    /// `dest=-`: the stream the caller lends the build ([`crate::Callbacks::output`]).
    Stream,
}

fn refused(reason: String) -> BuildError {
    BuildError::Unsupported {
        flag: "--output",
        reason,
    }
}

impl Output {
    /// `--output` flags as buildx reads them: `type=TYPE,dest=…,KEY=VALUE` or the
    /// shorthands `DIR` (local) and `-` (tar to the stream). A relative `dest` is taken
    /// against `base`, an absolute directory the caller names (its working directory).
    /// One output at most.
    pub fn parse_all(specs: &[String], base: &Path) -> Result<Output> {
        match specs {
            [] => Ok(Output::Image),
            [one] => Output::parse(one, base),
            [first, ..] => Err(refused(format!(
                "more than one output ({}, …): strata's build exports its result one way; give one --output",
                first
            ))),
        }
    }

    /// One `--output`.
    pub fn parse(spec: &str, base: &Path) -> Result<Output> {
        let path = |dest: &str| -> Result<PathBuf> {
            if dest.is_empty() {
                return Err(refused(format!("{spec}: dest= is empty")));
            }
            let dest = Path::new(dest);
            if dest.is_absolute() {
                return Ok(dest.to_path_buf());
            }
            if !base.is_absolute() {
                return Err(refused(format!(
                    "{spec}: the relative dest needs an absolute base directory"
                )));
            }
            Ok(base.join(dest))
        };
        if !spec.contains('=') {
            return match spec {
                "" => Err(refused("an empty --output: name a directory, `-`, or type=…".into())),
                "-" => Ok(Output::Tar(TarDest::Stream)),
                dir => Ok(Output::Local(path(dir)?)),
            };
        }
        let mut kind = None;
        let mut dest = None;
        let mut names = Vec::new();
        for field in spec.split(',').filter(|f| !f.is_empty()) {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| refused(format!("{spec}: {field:?} is not KEY=VALUE")))?;
            match key.trim().to_ascii_lowercase().as_str() {
                "type" => kind = Some(value.to_string()),
                "dest" => dest = Some(value.to_string()),
                "name" => names.push(value.to_string()),
                // One platform is built: there is nothing to split.
                "platform-split" if matches!(value, "true" | "false") => {}
                "push" if value == "false" => {}
                "push" => {
                    return Err(refused(format!(
                        "{spec}: push= is not supported by strata's build; build with -t NAME, then strata push NAME"
                    )))
                }
                other => {
                    return Err(refused(format!(
                        "{spec}: the attribute {other} is not supported by strata (it takes type, dest, and \
                         name for type=image)"
                    )))
                }
            }
        }
        let kind = kind.ok_or_else(|| refused(format!("{spec}: type= is required (local, tar, image, cacheonly)")))?;
        let needs_dest = |dest: Option<String>| dest.ok_or_else(|| refused(format!("{spec}: type={kind} needs dest=")));
        let only = |what: &str, given: bool| -> Result<()> {
            match given {
                true => Err(refused(format!("{spec}: {what} does not apply to type={kind}"))),
                false => Ok(()),
            }
        };
        match kind.as_str() {
            "local" => {
                only("name=", !names.is_empty())?;
                let dest = needs_dest(dest)?;
                if dest == "-" {
                    return Err(refused(format!(
                        "{spec}: type=local writes a directory, not a stream; use type=tar,dest=- (or -o -)"
                    )));
                }
                Ok(Output::Local(path(&dest)?))
            }
            "tar" => {
                only("name=", !names.is_empty())?;
                let dest = needs_dest(dest)?;
                Ok(Output::Tar(if dest == "-" {
                    TarDest::Stream
                } else {
                    TarDest::File(path(&dest)?)
                }))
            }
            "image" | "moby" => {
                only("dest=", dest.is_some())?;
                names.retain(|n| !n.is_empty());
                Ok(match names.is_empty() {
                    true => Output::Image,
                    false => Output::ImageNamed(names),
                })
            }
            "cacheonly" => {
                only("dest=", dest.is_some())?;
                only("name=", !names.is_empty())?;
                Ok(Output::CacheOnly)
            }
            "docker" | "oci" => Err(refused(format!(
                "type={kind} (an image archive) is not supported by strata's build: build with -t NAME, then \
                 `strata save -o FILE NAME` writes the image's archive"
            ))),
            "registry" => Err(refused(
                "type=registry is not supported by strata's build: build with -t NAME, then `strata push NAME`".into(),
            )),
            other => Err(refused(format!(
                "unknown output type {other:?} (local, tar, image, cacheonly; docker, oci and registry are refused)"
            ))),
        }
    }

    /// Whether the result is an image in the store, tagged and shown by `images`.
    pub fn is_image(&self) -> bool {
        matches!(self, Output::Image | Output::ImageNamed(_))
    }

    /// The extra names `type=image,name=` gives.
    pub fn names(&self) -> &[String] {
        match self {
            Output::ImageNamed(names) => names,
            _ => &[],
        }
    }

    /// The type, as `--output` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Output::Image | Output::ImageNamed(_) => "image",
            Output::Local(_) => "local",
            Output::Tar(_) => "tar",
            Output::CacheOnly => "cacheonly",
        }
    }
}

/// Writes the files of `image` where `output` says (`local` and `tar` only). The files
/// are read from a read-only view of the image's layers; a directory is written through
/// descriptors, its host symlinks replaced rather than followed (see
/// [`strata_runtime::copy::copy_contents_out`]).
pub(crate) fn export<'w>(
    store: &ImageStore,
    image: &ImageRecord,
    output: &Output,
    stream: Option<&mut (dyn Write + 'w)>,
) -> Result<()> {
    let view = ImageView::mount(store, Some(image))?;
    match output {
        Output::Local(dest) => {
            std::fs::create_dir_all(dest).map_err(|e| BuildError::io(format!("creating {}", dest.display()), e))?;
            let root =
                std::fs::File::open(view.dir()).map_err(|e| BuildError::io("opening the built image's files", e))?;
            strata_runtime::copy::copy_contents_out(root.as_fd(), dest)?;
            Ok(())
        }
        Output::Tar(TarDest::File(path)) => {
            strata_images::save::write_file_atomically(path, |file| {
                let out =
                    strata_containers::write_layer(view.dir(), &Default::default(), std::io::BufWriter::new(file))
                        .map_err(std::io::Error::other)?;
                out.into_inner().map_err(|e| e.into_error())
            })?;
            Ok(())
        }
        Output::Tar(TarDest::Stream) => {
            let stream = stream.ok_or_else(|| {
                refused("type=tar,dest=- writes to a stream, and the caller lent the build none".into())
            })?;
            let out = strata_containers::write_layer(view.dir(), &Default::default(), stream)?;
            out.flush().map_err(|e| BuildError::io("writing the output tar", e))?;
            Ok(())
        }
        Output::Image | Output::ImageNamed(_) | Output::CacheOnly => Ok(()),
    }
}

/// buildx's `--metadata-file` JSON for a result: for an image, its config digest
/// (`containerimage.config.digest`), manifest digest (`containerimage.digest`), the
/// manifest's descriptor and its names (`image.name`, comma-joined); for the other
/// outputs (no image exported) an empty object, as BuildKit's local and tar exporters
/// return nothing.
pub(crate) fn metadata(store: &ImageStore, image: &ImageRecord, output: &Output, names: &[String]) -> Value {
    if !output.is_image() {
        return json!({});
    }
    let mut meta = json!({ "containerimage.config.digest": image.id });
    if !image.manifest_digest.is_empty() {
        meta["containerimage.digest"] = image.manifest_digest.clone().into();
        let size = strata_content::parse_digest(&image.manifest_digest)
            .ok()
            .and_then(|d| store.content().size(&d).ok());
        if let Some(size) = size {
            meta["containerimage.descriptor"] = json!({
                "mediaType": image.manifest_media_type,
                "digest": image.manifest_digest,
                "size": size,
            });
        }
    }
    if !names.is_empty() {
        meta["image.name"] = names.join(",").into();
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_parse_as_buildx_reads_them() {
        let base = Path::new("/work");
        let parse = |s: &str| Output::parse(s, base);
        assert_eq!(parse("out").unwrap(), Output::Local("/work/out".into()));
        assert_eq!(parse("-").unwrap(), Output::Tar(TarDest::Stream));
        assert_eq!(parse("type=local,dest=/x").unwrap(), Output::Local("/x".into()));
        assert_eq!(
            parse("type=tar,dest=r.tar").unwrap(),
            Output::Tar(TarDest::File("/work/r.tar".into()))
        );
        assert_eq!(parse("type=tar,dest=-").unwrap(), Output::Tar(TarDest::Stream));
        assert_eq!(parse("type=image").unwrap(), Output::Image);
        assert_eq!(
            parse("type=image,name=a:1").unwrap(),
            Output::ImageNamed(vec!["a:1".into()])
        );
        assert_eq!(parse("type=cacheonly").unwrap(), Output::CacheOnly);
        assert_eq!(Output::parse_all(&[], base).unwrap(), Output::Image);
        for (spec, words) in [
            (
                "type=docker,dest=x.tar",
                "type=docker (an image archive) is not supported",
            ),
            ("type=oci,dest=x.tar", "type=oci (an image archive) is not supported"),
            ("type=registry", "type=registry is not supported"),
            ("type=image,push=true", "push= is not supported"),
            ("type=local", "needs dest="),
            ("type=local,dest=-", "not a stream"),
            (
                "type=local,dest=x,compression=gzip",
                "the attribute compression is not supported",
            ),
            ("dest=x", "type= is required"),
            ("type=weird,dest=x", "unknown output type"),
        ] {
            let e = parse(spec).unwrap_err().to_string();
            assert!(e.contains("--output") && e.contains(words), "{spec}: {e}");
        }
        let e = Output::parse_all(&["a".into(), "b".into()], base)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than one output"), "{e}");
    }
}
