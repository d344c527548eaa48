//! `strata load [-i FILE] [-q]`

use crate::progress::LayerProgress;
use anyhow::Result;
use std::path::PathBuf;
use strata_images::{ImageStore, LoadSource};

#[derive(clap::Args)]
pub struct Args {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let source = match &args.input {
        Some(p) => LoadSource::File(p),
        None => LoadSource::Reader {
            what: "archive from stdin",
            reader: Box::new(std::io::stdin().lock()),
        },
    };
    let progress = LayerProgress::new("Loading layer", args.quiet);
    let report = store.load(source, &progress)?;
    for (name, previous) in &report.renamed {
        println!("The image {name} already exists, renaming the old one with ID {previous} to empty string");
    }
    for (id, names) in &report.images {
        if names.is_empty() {
            println!("Loaded image ID: {id}");
        }
        for name in names {
            println!("Loaded image: {name}");
        }
    }
    if report.skipped_devices > 0 && !args.quiet {
        eprintln!(
            "note: {} device node(s) in the layers were not unpacked (containers get /dev from the runtime)",
            report.skipped_devices
        );
    }
    Ok(0)
}
