//! `strata rmi`, `strata tag`, `strata image prune`

use crate::output::human_size;
use anyhow::Result;
use strata_images::remove::RemoveEvent;
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Force removal of the image
    #[arg(short, long)]
    force: bool,
    /// Do not delete untagged parents (strata keeps no parent images; accepted for compatibility)
    #[arg(long)]
    no_prune: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(clap::Args)]
pub struct TagArgs {
    source: String,
    target: String,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (e.g. "until=24h", "label=KEY=VALUE", "dangling=false")
    #[arg(long)]
    filter: Vec<String>,
}

pub fn print_event(e: &RemoveEvent, lowercase: bool) {
    match (e, lowercase) {
        (RemoveEvent::Untagged(n), false) => println!("Untagged: {n}"),
        (RemoveEvent::Deleted(d), false) => println!("Deleted: {d}"),
        (RemoveEvent::Untagged(n), true) => println!("untagged: {n}"),
        (RemoveEvent::Deleted(d), true) => println!("deleted: {d}"),
    }
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let _ = args.no_prune;
    let mut status = 0;
    // Like Docker: every name is tried; a failure is reported and the others go on.
    for name in &args.images {
        match store.remove(name, args.force) {
            Ok(events) => events.iter().for_each(|e| print_event(e, false)),
            Err(e) => {
                eprintln!("Error: {e}");
                status = 1;
            }
        }
    }
    Ok(status)
}

pub fn tag(store: &ImageStore, args: TagArgs) -> Result<u8> {
    store.tag(&args.source, &args.target)?;
    Ok(0)
}

pub fn prune(store: &ImageStore, args: PruneArgs) -> Result<u8> {
    let _ = args.force; // strata never prompts.
    let filters = strata_images::FilterArgs::parse(&args.filter)?;
    let (all, filter) = strata_images::PruneFilter::parse_image_prune(&filters, strata_metadata::events::now_nano())?;
    let (events, bytes) = store.prune_matching(args.all || all, &filter)?;
    if !events.is_empty() {
        println!("Deleted Images:");
        events.iter().for_each(|e| print_event(e, true));
        println!();
    }
    println!("Total reclaimed space: {}", human_size(bytes as i64));
    Ok(0)
}
