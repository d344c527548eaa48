//! `strata import FILE|- [REPO[:TAG]]`

use crate::progress::LayerProgress;
use anyhow::{bail, Result};
use std::io::IsTerminal;
use std::path::Path;
use strata_images::import::{ImportOptions, ImportSource};
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Tarball to import (plain, gzip, zstd or xz): a file, an http(s) URL, or - for stdin
    file: String,
    /// Name the image REPOSITORY[:TAG]
    reference: Option<String>,
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR)
    #[arg(short, long)]
    change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    message: Option<String>,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let source = if args.file == "-" {
        ImportSource::Reader(Box::new(std::io::stdin().lock()))
    } else if args.file.starts_with("http://") || args.file.starts_with("https://") {
        ImportSource::Url(&args.file)
    } else if args.file.contains("://") {
        bail!(
            "cannot import from {}: only http:// and https:// URLs, files and - (stdin) are supported",
            args.file
        );
    } else {
        ImportSource::File(Path::new(&args.file))
    };
    let options = ImportOptions {
        reference: args.reference,
        changes: args.change,
        message: args.message,
    };
    // Docker's import prints only the ID; the bar is shown on a terminal alone.
    let progress = LayerProgress::new("Importing", !std::io::stderr().is_terminal());
    let id = store.import(source, &options, &progress)?;
    println!("{id}");
    Ok(0)
}
