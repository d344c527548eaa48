//! `strata inspect [--format F] NAME...`

use crate::output::{render, Format};
use anyhow::Result;
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Format output using a Go template, or "json"
    #[arg(short, long)]
    format: Option<String>,
    /// Images to inspect
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &args.names {
        match store.resolve(name).and_then(|r| store.inspect(&r)) {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    match args.format.as_deref().map(Format::parse) {
        None | Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&docs)?),
        Some(Format::Template { text, .. }) => {
            for doc in &docs {
                println!("{}", render(&text, doc)?);
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}
