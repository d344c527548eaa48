//! `strata system df|info|prune`

use crate::output::{human_size, table};
use anyhow::Result;
use clap::Subcommand;
use strata_images::ImageStore;

#[derive(Subcommand)]
pub enum Command {
    /// Show disk usage
    Df,
    /// Display system-wide information
    Info,
    /// Verify the store: records, blobs (re-hashed), snapshots, reference counts, leftovers
    Check {
        /// Skip re-hashing blobs and reassembling layers
        #[arg(long)]
        quick: bool,
        /// Fix what can be fixed: remove garbage, recount, unpack damaged layers again
        #[arg(long)]
        repair: bool,
    },
    /// Remove unused data (dangling images, or all with -a; stale files of killed commands)
    Prune {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        force: bool,
        /// Prune anonymous volumes no container uses
        #[arg(long)]
        volumes: bool,
    },
    /// Reset the root to its initial state: every container, network, volume and image goes
    Reset {
        /// Do not prompt for confirmation (required)
        #[arg(short, long)]
        force: bool,
    },
}

pub fn run(store: &ImageStore, command: Command) -> Result<u8> {
    match command {
        Command::Df => df(store),
        Command::Check { quick, repair } => check(store, quick, repair),
        Command::Info => info(store),
        Command::Prune { all, force: _, volumes } => {
            if volumes {
                super::volume::prune(store, false)?;
            }
            let containers = strata_containers::Containers::new(store);
            for name in strata_runtime::networking::prune(&containers)? {
                println!("Deleted Network: {name}");
            }
            let (events, mut bytes) = store.prune(all)?;
            bytes += store.remove_partial_downloads()?;
            events.iter().for_each(|e| super::rmi::print_event(e, true));
            println!("Total reclaimed space: {}", human_size(bytes as i64));
            Ok(0)
        }
        Command::Reset { force } => {
            if !force {
                anyhow::bail!(
                    "system reset removes everything in {}: confirm with --force",
                    store.root().display()
                );
            }
            strata_runtime::lifecycle::reset(&strata_containers::Containers::new(store))?;
            super::volume::prune(store, true)?;
            store.prune(true)?;
            Ok(0)
        }
    }
}

fn df(store: &ImageStore) -> Result<u8> {
    let usage = store.disk_usage()?;
    let pct = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    let rows = vec![
        vec![
            "TYPE".into(),
            "TOTAL".into(),
            "ACTIVE".into(),
            "SIZE".into(),
            "RECLAIMABLE".into(),
        ],
        vec![
            "Images".into(),
            usage.images.to_string(),
            usage.tagged_images.to_string(),
            human_size(usage.layer_bytes as i64),
            format!(
                "{} ({}%)",
                human_size(usage.reclaimable_bytes as i64),
                pct(usage.reclaimable_bytes, usage.layer_bytes)
            ),
        ],
        vec![
            "Layers".into(),
            usage.layers.to_string(),
            usage.layers.to_string(),
            human_size(usage.layer_bytes as i64),
            "0B (0%)".into(),
        ],
        vec![
            "Blobs".into(),
            usage.blobs.to_string(),
            usage.blobs.to_string(),
            human_size(usage.blob_bytes as i64),
            "0B (0%)".into(),
        ],
    ];
    print!("{}", table(&rows));
    Ok(0)
}

fn info(store: &ImageStore) -> Result<u8> {
    let usage = store.disk_usage()?;
    println!("Server Version: strata {}", env!("CARGO_PKG_VERSION"));
    println!("Storage Driver: {}", store.snapshots().driver().as_str());
    println!(" Backing Filesystem: {}", store.backing_filesystem());
    println!(" Supports d_type: true");
    println!("Images: {}", usage.images);
    println!("Layers: {}", usage.layers);
    println!("Root Dir: {}", store.root().display());
    println!("Schema Version: {}", store.schema_version()?);
    println!(
        "Kernel Version: {}",
        rustix::system::uname().release().to_string_lossy()
    );
    println!("Operating System: linux");
    println!("Architecture: {}", std::env::consts::ARCH);
    println!("CPUs: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
    Ok(0)
}

fn check(store: &ImageStore, quick: bool, repair: bool) -> Result<u8> {
    let report = store.check(!quick, repair)?;
    println!(
        "checked {} images, {} layers; {} blobs and layers re-hashed",
        report.images, report.layers, report.blobs_verified
    );
    report.problems.iter().for_each(|p| println!("problem: {p}"));
    report.garbage.iter().for_each(|g| println!("garbage: {g}"));
    report.repaired.iter().for_each(|r| println!("repaired: {r}"));
    if report.problems.is_empty() {
        println!("the store is consistent");
        Ok(0)
    } else {
        println!("{} problem(s) found", report.problems.len());
        Ok(1)
    }
}
