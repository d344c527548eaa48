//! `strata inspect [--format F] NAME...`

use crate::output::{render, Format};
use anyhow::Result;
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Format output using a Go template, or "json"
    #[arg(short, long)]
    format: Option<String>,
    /// Return JSON for the specified type only
    #[arg(long = "type", value_enum, default_value = "any")]
    kind: Kind,
    /// Containers or images to inspect
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Any,
    Container,
    Image,
}

impl Args {
    pub fn only(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let mut docs = Vec::new();
    let mut failed = false;
    let containers = strata_containers::Containers::new(store);
    for name in &args.names {
        // Like Docker: a container of that name or ID first, then an image.
        let container = match args.kind {
            Kind::Image => None,
            _ => containers.resolve(name).ok(),
        };
        let doc = match container {
            Some(c) => strata_runtime::inspect::container(&containers, &c).map_err(anyhow::Error::from),
            None if args.kind == Kind::Container => Err(anyhow::anyhow!("No such container: {name}")),
            None => store
                .resolve(name)
                .and_then(|r| store.inspect(&r))
                .map_err(anyhow::Error::from),
        };
        match doc {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("Error: {}", crate::output::error_chain(&e));
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
