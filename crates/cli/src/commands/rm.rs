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
    /// Remove anonymous volumes associated with the container (strata makes none yet)
    #[arg(short, long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let containers = Containers::new(store);
    let _ = args.volumes;
    lifecycle::reconcile(&containers)?;
    let mut status = 0;
    for name in &args.containers {
        let outcome = containers
            .resolve(name)
            .map_err(anyhow::Error::from)
            .and_then(|c| lifecycle::remove(&containers, &c, args.force).map_err(anyhow::Error::from));
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
