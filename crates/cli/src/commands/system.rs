//! `strata system df|info|prune`

use crate::output::{human_size, render, table, Format};
use anyhow::Result;
use clap::Subcommand;
use strata_images::{ImageStore, PruneFilter};
use strata_runtime::system_prune::{system_prune, SystemPruneOptions};

#[derive(Subcommand)]
pub enum Command {
    /// Show disk usage
    Df {
        /// Show detailed information on space usage (the build cache's mounts)
        #[arg(short, long)]
        verbose: bool,
    },
    /// Display system-wide information
    Info(InfoArgs),
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
        /// Provide filter values (until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE])
        #[arg(long)]
        filter: Vec<String>,
    },
    /// Serve the Docker Engine API on a socket (for the docker CLI, compose, the SDKs)
    Service(super::service::Args),
    /// Reset the root to its initial state: every container, network, volume and image goes
    Reset {
        /// Do not prompt for confirmation (required)
        #[arg(short, long)]
        force: bool,
    },
}

pub fn run(store: &ImageStore, command: Command) -> Result<u8> {
    match command {
        Command::Df { verbose } => df(store, verbose),
        Command::Check { quick, repair } => check(store, quick, repair),
        Command::Info(args) => info(store, args),
        Command::Prune {
            all,
            force: _,
            volumes,
            filter,
        } => prune(store, all, volumes, &filter),
        Command::Service(_) => unreachable!("the service takes the store: commands::run starts it"),
        Command::Reset { force } => {
            if !force {
                anyhow::bail!(
                    "system reset removes everything in {}: confirm with --force",
                    store.root().display()
                );
            }
            strata_runtime::lifecycle::reset(&strata_containers::Containers::new(store))?;
            super::volume::prune(store, true, &PruneFilter::default())?;
            store.prune(true)?;
            Ok(0)
        }
    }
}

/// Docker's prune filters (`until`, `label`, `label!`) as given on the command line.
pub fn prune_filter(given: &[String]) -> Result<PruneFilter> {
    let filters = strata_images::FilterArgs::parse(given)?;
    Ok(PruneFilter::parse(&filters, strata_metadata::events::now_nano())?)
}

fn prune(store: &ImageStore, all: bool, volumes: bool, filter: &[String]) -> Result<u8> {
    let options = SystemPruneOptions {
        all,
        volumes,
        filter: prune_filter(filter)?,
    };
    let pruned = system_prune(&strata_containers::Containers::new(store), &options)?;
    if !pruned.containers.is_empty() {
        println!("Deleted Containers:");
        pruned.containers.iter().for_each(|id| println!("{id}"));
        println!();
    }
    if !pruned.volumes.is_empty() {
        println!("Deleted Volumes:");
        pruned.volumes.iter().for_each(|n| println!("{n}"));
        println!();
    }
    for name in &pruned.networks {
        println!("Deleted Network: {name}");
    }
    pruned.images.iter().for_each(|e| super::rmi::print_event(e, true));
    if !pruned.build_cache.is_empty() {
        println!("Deleted build cache objects:");
        pruned.build_cache.iter().for_each(|key| println!("{key}"));
        println!();
    }
    println!("Total reclaimed space: {}", human_size(pruned.reclaimed as i64));
    Ok(0)
}

fn df(store: &ImageStore, verbose: bool) -> Result<u8> {
    let usage = store.disk_usage()?;
    let caches = store.cache_mounts()?;
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
        build_cache_row(&caches),
    ];
    print!("{}", table(&rows));
    if verbose {
        println!(
            "\nBuild cache usage: {}\n",
            human_size(caches.iter().map(|c| c.bytes).sum::<u64>() as i64)
        );
        let mut rows = vec![[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "CREATED",
            "LAST USED",
            "USAGE",
            "SHARED",
        ]
        .map(String::from)
        .to_vec()];
        for cache in &caches {
            let when = |t: Option<std::time::SystemTime>| {
                t.map(|t| crate::output::since(Some(&chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339())))
                    .unwrap_or_default()
            };
            rows.push(vec![
                cache.key[..12].to_string(),
                "exec.cachemount".into(),
                human_size(cache.bytes as i64),
                when(cache.created),
                when(cache.last_used),
                cache.uses.to_string(),
                "true".into(),
            ]);
        }
        print!("{}", table(&rows));
    }
    Ok(0)
}

/// Docker's "Build Cache" row: the `RUN --mount=type=cache` directories (the
/// intermediate images are counted with the images).
fn build_cache_row(caches: &[strata_images::cache_mounts::CacheMountUsage]) -> Vec<String> {
    let bytes: u64 = caches.iter().map(|c| c.bytes).sum();
    let idle: u64 = caches.iter().filter(|c| !c.in_use).map(|c| c.bytes).sum();
    vec![
        "Build Cache".into(),
        caches.len().to_string(),
        caches.iter().filter(|c| c.in_use).count().to_string(),
        human_size(bytes as i64),
        human_size(idle as i64),
    ]
}

#[derive(clap::Args)]
pub struct InfoArgs {
    /// Format output using a Go template, or "json"
    #[arg(short, long)]
    format: Option<String>,
}

/// `info` / `system info`: Docker's "Server:" section, or the fields through `--format`.
pub fn info(store: &ImageStore, args: InfoArgs) -> Result<u8> {
    let info = strata_runtime::info::info(&strata_containers::Containers::new(store))?;
    match args.format.as_deref().map(Format::parse) {
        Some(Format::Json) => println!("{}", serde_json::to_string(&info)?),
        Some(Format::Template { text, .. }) => println!("{}", render(&text, &info)?),
        None => {
            print!("{}", info_text(&info));
            // As Docker's CLI: after the text, on stderr.
            for warning in info["Warnings"].as_array().into_iter().flatten() {
                eprintln!("{}", warning.as_str().unwrap_or_default());
            }
        }
    }
    Ok(0)
}

fn info_text(info: &serde_json::Value) -> String {
    let s = |key: &str| match &info[key] {
        serde_json::Value::String(v) => v.clone(),
        other => other.to_string(),
    };
    let runtimes: Vec<&str> = info["Runtimes"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    // Binary units here, as Docker's info.
    let memory = info["MemTotal"].as_u64().unwrap_or(0) as f64 / (1u64 << 30) as f64;
    let mut lines: Vec<(usize, String, String)> = [
        (1, "Containers", s("Containers")),
        (2, "Running", s("ContainersRunning")),
        (2, "Paused", s("ContainersPaused")),
        (2, "Stopped", s("ContainersStopped")),
        (1, "Images", s("Images")),
        (1, "Layers", s("Layers")),
        (1, "Server Version", format!("strata {}", s("ServerVersion"))),
        (1, "Storage Driver", s("Driver")),
    ]
    .into_iter()
    .map(|(indent, label, value)| (indent, label.to_string(), value))
    .collect();
    for pair in info["DriverStatus"].as_array().into_iter().flatten() {
        let field = |i: usize| pair[i].as_str().unwrap_or("").to_string();
        lines.push((2, field(0), field(1)));
    }
    lines.extend(
        [
            ("Cgroup Driver", s("CgroupDriver")),
            ("Cgroup Version", s("CgroupVersion")),
            ("Runtimes", runtimes.join(" ")),
            ("Default Runtime", s("DefaultRuntime")),
            ("Kernel Version", s("KernelVersion")),
            ("Operating System", s("OperatingSystem")),
            ("OSType", s("OSType")),
            ("Architecture", s("Architecture")),
            ("CPUs", s("NCPU")),
            ("Total Memory", format!("{memory:.2}GiB")),
            ("Name", s("Name")),
            ("Root Dir", s("DockerRootDir")),
            ("Schema Version", s("SchemaVersion")),
        ]
        .into_iter()
        .map(|(label, value)| (1, label.to_string(), value)),
    );
    let mut out = String::from("Server:\n");
    for (indent, label, value) in lines {
        out.push_str(&format!("{:indent$}{label}: {value}\n", ""));
    }
    out
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
