//! `strata ps`

use crate::output::{ellipsis, human_size, render, table, Format};
use anyhow::Result;
use chrono::Utc;
use serde_json::json;
use strata_containers::{ContainerRecord, Containers};
use strata_images::age::human_age;
use strata_images::{FilterArgs, ImageStore};
use strata_runtime::listing::{list_containers, ContainerListOptions, ContainerRow, PortEntry};

#[derive(clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    latest: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, default_value_t = -1)]
    last: i64,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Filter output based on conditions provided (status, name, id, ancestor, label, exited, before, since)
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a Go template, or "json"
    #[arg(long)]
    format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    size: bool,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let containers = Containers::new(store);
    let now = Utc::now();
    let limit = match (args.latest, args.last) {
        (true, _) => Some(1),
        (false, n) if n >= 0 => Some(n as usize),
        _ => None,
    };
    let options = ContainerListOptions {
        all: args.all,
        limit,
        filters: FilterArgs::parse(&args.filter)?,
    };
    let kept = list_containers(&containers, &options, now)?;
    let id = |c: &ContainerRecord| {
        if args.no_trunc {
            c.id.clone()
        } else {
            c.id[..12].to_string()
        }
    };
    if args.quiet {
        // One write for all the lines (println! writes each line on its own).
        let out: String = kept.iter().map(|r| id(&r.record) + "\n").collect();
        std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes())?;
        return Ok(0);
    }
    // As docker's: the sizes are computed with --size, or for a template that shows them.
    let format = args.format.as_deref().map(Format::parse);
    let sized = args.size || matches!(&format, Some(Format::Template { text, .. }) if text.contains(".Size"));
    let row = |r: &ContainerRow| {
        let (c, config) = (&r.record, &r.config);
        let command = config.args().join(" ");
        let command = if args.no_trunc {
            format!("\"{command}\"")
        } else {
            format!("\"{}\"", ellipsis(&command, 20))
        };
        json!({
            "ID": id(c),
            "Image": c.image_name,
            "Command": command,
            "CreatedAt": c.created,
            "RunningFor": format!("{} ago", human_age(&c.created, now).unwrap_or_else(|| "?".into())),
            "Status": r.status,
            "State": c.state.as_str(),
            "Ports": ports_text(&r.ports),
            "Names": c.name,
            "Labels": config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "Size": size_text(&containers, c, sized),
        })
    };
    match format {
        Some(Format::Json) => kept.iter().for_each(|k| println!("{}", row(k))),
        Some(Format::Template { text, .. }) => {
            for k in &kept {
                println!("{}", render(&text, &row(k))?);
            }
        }
        None => {
            let mut head = [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ]
            .map(String::from)
            .to_vec();
            if args.size {
                head.push("SIZE".into());
            }
            let mut lines = vec![head];
            for k in &kept {
                let r = row(k);
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                let mut line = vec![
                    s("ID"),
                    s("Image"),
                    s("Command"),
                    s("RunningFor"),
                    s("Status"),
                    s("Ports"),
                    s("Names"),
                ];
                if args.size {
                    line.push(s("Size"));
                }
                lines.push(line);
            }
            print!("{}", table(&lines));
        }
    }
    Ok(0)
}

/// Docker's SIZE (`{{.Size}}`): `12B (virtual 1.2MB)`, the writable layer and the
/// whole root; without `--size`, Docker's `0B` (the sizes are not computed).
fn size_text(containers: &Containers<'_>, record: &ContainerRecord, size: bool) -> String {
    if !size {
        return human_size(0);
    }
    let sizes = containers.sizes(record);
    match sizes.root_fs {
        0 => human_size(sizes.rw),
        root => format!("{} (virtual {})", human_size(sizes.rw), human_size(root)),
    }
}

/// Docker's PORTS column: `0.0.0.0:8080->80/tcp` for each published port of a running
/// container, and the exposed ones not published as `80/tcp`.
fn ports_text(ports: &[PortEntry]) -> String {
    let text = |p: &PortEntry| match p {
        PortEntry::Published(p) => format!("{}->{}/{}", p.host(), p.container_port, p.protocol.as_str()),
        PortEntry::Exposed(e) => e.clone(),
    };
    ports.iter().map(text).collect::<Vec<_>>().join(", ")
}
