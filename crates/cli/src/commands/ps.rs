//! `strata ps`

use crate::output::{ellipsis, human_duration, render, table, Format};
use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use serde_json::json;
use strata_containers::{ContainerConfig, ContainerRecord, ContainerState, Containers};
use strata_images::ImageStore;
use strata_runtime::lifecycle;

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
    /// Filter output based on conditions provided (status, name, id, ancestor)
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a Go template, or "json"
    #[arg(long)]
    format: Option<String>,
}

fn ago(t: Option<&str>) -> String {
    match t.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => human_duration((Utc::now() - t.with_timezone(&Utc)).num_seconds()),
        None => "?".into(),
    }
}

/// Docker's STATUS column.
pub fn status(c: &ContainerRecord) -> String {
    match c.state {
        ContainerState::Created => "Created".into(),
        ContainerState::Running if strata_runtime::cgroups::Cgroup::new(&c.id).is_frozen() => {
            format!("Up {} (Paused)", ago(c.started_at.as_deref()))
        }
        ContainerState::Running => format!("Up {}", ago(c.started_at.as_deref())),
        ContainerState::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code.unwrap_or(0),
            ago(c.finished_at.as_deref())
        ),
    }
}

fn keep(c: &ContainerRecord, config: &ContainerConfig, filters: &[(String, String)]) -> Result<bool> {
    for (k, v) in filters {
        let ok = match k.as_str() {
            // label=KEY or label=KEY=VALUE
            "label" => match v.split_once('=') {
                Some((key, value)) => config.labels.get(key).is_some_and(|x| x == value),
                None => config.labels.contains_key(v.as_str()),
            },
            "status" => c.state.as_str() == v,
            "name" => c.name.contains(v.as_str()),
            "id" => c.id.starts_with(v.as_str()),
            "ancestor" => c.image_name == *v || c.image_id.contains(v.as_str()),
            other => bail!("invalid filter '{other}': ps supports status, name, id, ancestor and label"),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let containers = Containers::new(store);
    let mut all = lifecycle::reconcile(&containers)?;
    let filters: Vec<(String, String)> = args
        .filter
        .iter()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("bad format of filter (expected name=value): {f:?}"))
        })
        .collect::<Result<_>>()?;
    let show_all = args.all || args.latest || args.last >= 0;
    let mut kept = Vec::new();
    for c in all.drain(..) {
        let config = containers.config(&c).ok().unwrap_or_default();
        if (show_all || c.state == ContainerState::Running) && keep(&c, &config, &filters)? {
            kept.push((c, config));
        }
    }
    if args.latest {
        kept.truncate(1);
    } else if args.last >= 0 {
        kept.truncate(args.last as usize);
    }
    let id = |c: &ContainerRecord| {
        if args.no_trunc {
            c.id.clone()
        } else {
            c.id[..12].to_string()
        }
    };
    if args.quiet {
        kept.iter().for_each(|(c, _)| println!("{}", id(c)));
        return Ok(0);
    }
    let row = |(c, config): &(ContainerRecord, ContainerConfig)| {
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
            "RunningFor": format!("{} ago", ago(Some(&c.created))),
            "Status": status(c),
            "State": c.state.as_str(),
            "Ports": ports(&containers, c, config),
            "Names": c.name,
            "Labels": config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        })
    };
    match args.format.as_deref().map(Format::parse) {
        Some(Format::Json) => kept.iter().for_each(|k| println!("{}", row(k))),
        Some(Format::Template { text, .. }) => {
            for k in &kept {
                println!("{}", render(&text, &row(k))?);
            }
        }
        None => {
            let mut lines = vec![[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ]
            .map(String::from)
            .to_vec()];
            for k in &kept {
                let r = row(k);
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                lines.push(vec![
                    s("ID"),
                    s("Image"),
                    s("Command"),
                    s("RunningFor"),
                    s("Status"),
                    s("Ports"),
                    s("Names"),
                ]);
            }
            print!("{}", table(&lines));
        }
    }
    Ok(0)
}

/// Docker's PORTS column: `0.0.0.0:8080->80/tcp` for each published port of a running
/// container, and the exposed ones not published as `80/tcp`.
fn ports(containers: &Containers<'_>, c: &ContainerRecord, config: &strata_containers::ContainerConfig) -> String {
    if c.state != strata_containers::ContainerState::Running {
        return String::new();
    }
    let published = strata_runtime::networking::published(containers, &c.id);
    let mut out: Vec<String> = published
        .iter()
        .map(|p| format!("{}->{}/{}", p.host(), p.container_port, p.protocol.as_str()))
        .collect();
    for e in &config.exposed {
        if !published
            .iter()
            .any(|p| format!("{}/{}", p.container_port, p.protocol.as_str()) == *e)
        {
            out.push(e.clone());
        }
    }
    out.join(", ")
}
