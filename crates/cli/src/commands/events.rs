//! `strata events [--since T] [--until T] [--filter K=V] [--format F]`: what any
//! process did to this store, as Docker prints it, streaming until interrupted (or
//! until `--until`).

use crate::output::{render, Format};
use anyhow::Result;
use std::io::Write;
use strata_images::{EventFilter, EventQuery, ImageStore};
use strata_metadata::events::{now_nano, parse_time};

#[derive(clap::Args)]
pub struct Args {
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format the output using the given Go template
    #[arg(long)]
    format: Option<String>,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let now = now_nano();
    let time = |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now)).transpose();
    let query = EventQuery {
        since: time(&args.since).map_err(anyhow::Error::msg)?,
        until: time(&args.until).map_err(anyhow::Error::msg)?,
        filter: EventFilter::parse(&args.filter).map_err(anyhow::Error::msg)?,
    };
    let format = args.format.as_deref().map(Format::parse);
    let mut stdout = std::io::stdout().lock();
    let mut failed = None;
    store.follow_events(&query, &mut |event| {
        let line = match &format {
            Some(Format::Json) => Ok(event.to_docker_json().to_string()),
            Some(Format::Template { text, .. }) => render(text, &event.to_docker_json()),
            None => Ok(plain(event)),
        };
        // A closed pipe (`| head`) ends the stream quietly.
        match line.map(|l| writeln!(stdout, "{l}").and_then(|()| stdout.flush())) {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    failed.map_or(Ok(0), Err)
}

/// Docker's default line: `TIME TYPE ACTION ACTOR (k=v, …)`.
fn plain(event: &strata_images::Event) -> String {
    let time =
        chrono::DateTime::from_timestamp_nanos(event.time_nano).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let attributes: Vec<String> = event.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut line = format!("{time} {} {} {}", event.kind.as_str(), event.action, event.actor);
    if !attributes.is_empty() {
        line.push_str(&format!(" ({})", attributes.join(", ")));
    }
    line
}
