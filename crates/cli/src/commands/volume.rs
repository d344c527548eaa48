//! `strata volume create|ls|inspect|rm|prune`

use crate::output::{render, table, Format};
use anyhow::{bail, Result};
use clap::Subcommand;
use strata_containers::volume_use::{list_volumes, prune_volumes, remove_volume};
use strata_containers::volumes::{VolumeMeta, Volumes};
use strata_containers::Containers;
use strata_images::{FilterArgs, ImageStore};

#[derive(Subcommand)]
pub enum Command {
    /// Create a volume
    Create {
        /// Set metadata for a volume (KEY=VALUE)
        #[arg(short = 'l', long = "label")]
        label: Vec<String>,
        name: Option<String>,
    },
    /// List volumes
    #[command(alias = "list")]
    Ls {
        /// Only display volume names
        #[arg(short, long)]
        quiet: bool,
        /// Filter output based on conditions provided (dangling, driver, label, name)
        #[arg(short, long)]
        filter: Vec<String>,
        /// Format output using a Go template, or "json"
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more volumes
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm {
        /// Accepted for compatibility (volumes in use are never removed)
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove unused volumes (anonymous ones; all with -a)
    Prune {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (e.g. "label=KEY=VALUE")
        #[arg(long)]
        filter: Vec<String>,
    },
}

fn doc(volumes: &Volumes, v: &VolumeMeta) -> serde_json::Value {
    serde_json::to_value(volumes.document(v)).expect("volume documents serialize")
}

pub fn run(store: &ImageStore, command: Command) -> Result<u8> {
    let volumes = Volumes::new(store.root());
    match command {
        Command::Create { name, label } => println!(
            "{}",
            Containers::new(store)
                .create_labelled_volume(name.as_deref(), &label)?
                .name
        ),
        Command::Ls { quiet, filter, format } => {
            let all = list_volumes(&Containers::new(store), &FilterArgs::parse(&filter)?)?;
            if quiet {
                all.iter().for_each(|v| println!("{}", v.name));
            } else {
                match format.as_deref().map(Format::parse) {
                    Some(Format::Json) => all.iter().for_each(|v| println!("{}", doc(&volumes, v))),
                    Some(Format::Template { text, .. }) => {
                        for v in &all {
                            println!("{}", render(&text, &doc(&volumes, v))?);
                        }
                    }
                    None => {
                        let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".to_string()]];
                        rows.extend(all.iter().map(|v| vec!["local".to_string(), v.name.clone()]));
                        print!("{}", table(&rows));
                    }
                }
            }
        }
        Command::Inspect { format, names } => {
            let mut docs = Vec::new();
            for n in &names {
                match volumes.get(n)? {
                    Some(v) => docs.push(doc(&volumes, &v)),
                    None => bail!("get {n}: no such volume"),
                }
            }
            match format.as_deref().map(Format::parse) {
                None | Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&docs)?),
                Some(Format::Template { text, .. }) => {
                    for d in &docs {
                        println!("{}", render(&text, d)?);
                    }
                }
            }
        }
        Command::Rm { force: _, names } => {
            let containers = Containers::new(store);
            let mut status = 0;
            for n in &names {
                match remove_volume(&containers, n) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error: {e}");
                        status = 1;
                    }
                }
            }
            return Ok(status);
        }
        Command::Prune { all, force: _, filter } => prune(store, all, &super::system::prune_filter(&filter)?)?,
    }
    Ok(0)
}

/// Removes the volumes no container uses (anonymous ones, or all with `all`) and
/// prints them as Docker does.
pub fn prune(store: &ImageStore, all: bool, filter: &strata_images::PruneFilter) -> Result<()> {
    let pruned = prune_volumes(&Containers::new(store), all, filter)?;
    if !pruned.names.is_empty() {
        println!("Deleted Volumes:");
        pruned.names.iter().for_each(|n| println!("{n}"));
        println!();
    }
    Ok(())
}
