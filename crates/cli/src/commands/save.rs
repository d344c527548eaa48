//! `strata save [-o FILE] IMAGE...`

use crate::progress::LayerProgress;
use anyhow::{bail, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Images to save
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    // Bars on a terminal only: a piped save prints nothing but the archive.
    let progress = LayerProgress::new("Saving", !std::io::stderr().is_terminal());
    match &args.output {
        Some(path) => store.save_to_file(&args.images, path, &progress)?,
        None => {
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let stdout = std::io::stdout().lock();
            store.save(
                &args.images,
                std::io::BufWriter::with_capacity(1 << 20, stdout),
                &progress,
            )?;
        }
    }
    Ok(0)
}
