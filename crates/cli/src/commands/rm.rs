//! `strata rm`

use anyhow::Result;
use strata_containers::Containers;
use strata_images::ImageStore;
use strata_runtime::lifecycle;

#[derive(clap::Args)]
pub struct Args {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let containers = Containers::new(store);
    lifecycle::reconcile(&containers)?;
    let mut status = 0;
    for name in &args.containers {
        let outcome = containers
            .resolve(name)
            .map_err(anyhow::Error::from)
            .and_then(|c| lifecycle::remove(&containers, &c, args.force, args.volumes).map_err(anyhow::Error::from));
        match outcome {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error: {}", crate::output::error_chain(&e));
                status = 1;
            }
        }
    }
    Ok(status)
}

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (e.g. "until=24h", "label=KEY=VALUE")
    #[arg(long)]
    filter: Vec<String>,
}

/// `container prune`: removes every container that is not running.
pub fn prune(store: &ImageStore, args: PruneArgs) -> Result<u8> {
    let _ = args.force; // strata never prompts.
    let filter = super::system::prune_filter(&args.filter)?;
    let pruned = lifecycle::prune_matching(&Containers::new(store), &filter)?;
    if !pruned.removed.is_empty() {
        println!("Deleted Containers:");
        pruned.removed.iter().for_each(|id| println!("{id}"));
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::output::human_size(pruned.bytes as i64)
    );
    Ok(0)
}
