//! `strata diff`, `commit`, `export`

use anyhow::{bail, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use strata_containers::{CommitOptions, Containers};
use strata_images::ImageStore;
use strata_runtime::lifecycle;

#[derive(clap::Args)]
pub struct DiffArgs {
    container: String,
}

#[derive(clap::Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    author: Option<String>,
    /// Commit message
    #[arg(short, long)]
    message: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    change: Vec<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pause: bool,
    container: String,
    /// REPOSITORY[:TAG]
    reference: Option<String>,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<PathBuf>,
    container: String,
}

pub fn diff(store: &ImageStore, args: DiffArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    for change in containers.diff(&record)? {
        println!("{change}");
    }
    Ok(0)
}

pub fn commit(store: &ImageStore, args: CommitArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    let options = CommitOptions {
        author: args.author,
        message: args.message,
        changes: args.change,
        reference: args.reference,
    };
    let id = lifecycle::commit(&containers, &record, &options, args.pause)?;
    println!("{id}");
    Ok(0)
}

pub fn export(store: &ImageStore, args: ExportArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    match &args.output {
        Some(path) => strata_images::save::write_file_atomically(path, |file| {
            let out = lifecycle::export(&containers, &record, std::io::BufWriter::new(file))
                .map_err(std::io::Error::other)?;
            out.into_inner().map_err(|e| e.into_error())
        })?,
        None => {
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let out = lifecycle::export(&containers, &record, std::io::BufWriter::new(std::io::stdout().lock()))?;
            drop(out.into_inner().map_err(|e| e.into_error())?);
        }
    }
    Ok(0)
}
