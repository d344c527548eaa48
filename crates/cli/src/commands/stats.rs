//! `strata stats [-a] [--no-stream] [--format F] [CONTAINER...]`: Docker's live table of
//! CPU, memory, network, block I/O and PIDs, redrawn each second (once with --no-stream).

use crate::output::{bytes_size, human_size, render, table, Format};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::time::Duration;
use strata_containers::{ContainerRecord, Containers};
use strata_images::ImageStore;
use strata_runtime::stats::{sample, usage, Usage};

#[derive(clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Format output using a Go template, or "json"
    #[arg(long)]
    format: Option<String>,
    containers: Vec<String>,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let containers = Containers::new(store);
    let chosen = |containers: &Containers<'_>| -> Result<Vec<ContainerRecord>> {
        if !args.containers.is_empty() {
            return args
                .containers
                .iter()
                .map(|n| containers.resolve(n).map_err(Into::into))
                .collect();
        }
        let all = strata_runtime::lifecycle::reconcile(containers)?;
        Ok(all
            .into_iter()
            .filter(|c| args.all || strata_runtime::lifecycle::is_running(containers, c))
            .collect())
    };
    let redraw = std::io::stdout().is_terminal() && !args.no_stream;
    loop {
        let records = chosen(&containers)?;
        let before: Vec<_> = records.iter().map(|r| sample(&containers, r)).collect();
        // Docker's first figures come a moment after the first reading too.
        std::thread::sleep(Duration::from_millis(if args.no_stream { 500 } else { 1000 }));
        let rows: Vec<Value> = records
            .iter()
            .zip(&before)
            .map(|(r, b)| {
                let figures = b.as_ref().zip(sample(&containers, r)).map(|(b, a)| usage(b, &a));
                row(r, figures.as_ref(), args.no_trunc)
            })
            .collect();
        if redraw {
            print!("\x1b[2J\x1b[H");
        }
        print_rows(&rows, args.format.as_deref())?;
        if args.no_stream {
            return Ok(0);
        }
    }
}

/// Docker's fields: figures for a running container, zeros and "--" otherwise.
fn row(record: &ContainerRecord, figures: Option<&Usage>, no_trunc: bool) -> Value {
    let id = if no_trunc {
        record.id.clone()
    } else {
        record.id[..12].to_string()
    };
    let pair = |a: u64, b: u64| format!("{} / {}", human_size(a as i64), human_size(b as i64));
    match figures {
        Some(u) => json!({
            "Container": id,
            "ID": id,
            "Name": record.name,
            "CPUPerc": format!("{:.2}%", u.cpu_percent),
            "MemUsage": format!("{} / {}", bytes_size(u.memory), bytes_size(u.memory_limit)),
            "MemPerc": format!("{:.2}%", u.memory_percent),
            "NetIO": pair(u.net_rx, u.net_tx),
            "BlockIO": pair(u.block_read, u.block_write),
            "PIDs": u.pids.to_string(),
        }),
        None => json!({
            "Container": id,
            "ID": id,
            "Name": record.name,
            "CPUPerc": "0.00%",
            "MemUsage": "0B / 0B",
            "MemPerc": "0.00%",
            "NetIO": "0B / 0B",
            "BlockIO": "0B / 0B",
            "PIDs": "0",
        }),
    }
}

fn print_rows(rows: &[Value], format: Option<&str>) -> Result<()> {
    match format.map(Format::parse) {
        Some(Format::Json) => rows.iter().for_each(|r| println!("{r}")),
        Some(Format::Template { text, .. }) => {
            for r in rows {
                println!("{}", render(&text, r)?);
            }
        }
        None => {
            let columns = [
                ("CONTAINER ID", "ID"),
                ("NAME", "Name"),
                ("CPU %", "CPUPerc"),
                ("MEM USAGE / LIMIT", "MemUsage"),
                ("MEM %", "MemPerc"),
                ("NET I/O", "NetIO"),
                ("BLOCK I/O", "BlockIO"),
                ("PIDS", "PIDs"),
            ];
            let mut lines = vec![columns.iter().map(|(h, _)| h.to_string()).collect::<Vec<_>>()];
            for r in rows {
                lines.push(
                    columns
                        .iter()
                        .map(|(_, k)| r[k].as_str().unwrap_or("").to_string())
                        .collect(),
                );
            }
            print!("{}", table(&lines));
        }
    }
    Ok(())
}
