//! `strata images [REPO[:TAG]]`

use crate::output::{human_size, render, since, table, Format};
use anyhow::Result;
use serde_json::json;
use strata_images::{FilterArgs, ImageListOptions, ImageRef, ImageRow, ImageStore};

#[derive(clap::Args)]
pub struct Args {
    /// Only images of this repository (and tag)
    repository: Option<String>,
    /// Show all images (default hides intermediate images of builds)
    #[arg(short, long)]
    all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Filter output based on conditions provided (dangling, reference, before, since, label)
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a Go template, or "json"
    #[arg(long)]
    format: Option<String>,
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        strata_images::progress::short_id(id).to_string()
    }
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let options = ImageListOptions {
        all: args.all,
        repository: args.repository.as_deref().map(ImageRef::parse_untagged).transpose()?,
        filters: FilterArgs::parse(&args.filter)?,
    };
    let rows = strata_images::list_images(store, &options)?;
    if args.quiet {
        // One write for all the lines (println! writes each line: 10,000 system calls).
        let mut out = String::with_capacity(rows.len() * 13);
        let mut last: Option<&str> = None;
        for r in &rows {
            // An image's rows are adjacent: it is shown once.
            if last != Some(r.image.id.as_str()) {
                out.push_str(&short(&r.image.id, args.no_trunc));
                out.push('\n');
            }
            last = Some(&r.image.id);
        }
        std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes())?;
        return Ok(0);
    }
    let as_json = |r: &ImageRow| {
        json!({
            "Containers": "N/A",
            "CreatedAt": r.image.created.clone().unwrap_or_default(),
            "CreatedSince": since(r.image.created.as_deref()),
            "Digest": "<none>",
            "ID": short(&r.image.id, args.no_trunc),
            "Repository": r.repository,
            "SharedSize": "N/A",
            "Size": human_size(r.image.size),
            "Tag": r.tag,
            "UniqueSize": "N/A",
            "VirtualSize": human_size(r.image.size),
        })
    };
    match args.format.as_deref().map(Format::parse) {
        Some(Format::Json) => {
            for r in &rows {
                println!("{}", as_json(r));
            }
        }
        Some(Format::Template {
            text,
            table: with_header,
        }) => {
            let mut lines: Vec<Vec<String>> = Vec::new();
            if with_header {
                let header = json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
                    "CreatedAt": "CREATED AT", "Size": "SIZE", "Digest": "DIGEST", "VirtualSize": "SIZE"});
                lines.push(render(&text, &header)?.split('\t').map(str::to_string).collect());
            }
            for r in &rows {
                lines.push(render(&text, &as_json(r))?.split('\t').map(str::to_string).collect());
            }
            if with_header {
                print!("{}", table(&lines));
            } else {
                lines.iter().for_each(|l| println!("{}", l.join("\t")));
            }
        }
        None => {
            let mut header = vec!["REPOSITORY".to_string(), "TAG".into()];
            if args.digests {
                header.push("DIGEST".into());
            }
            header.extend(["IMAGE ID".into(), "CREATED".into(), "SIZE".into()]);
            let mut lines = vec![header];
            for r in &rows {
                let mut line = vec![r.repository.clone(), r.tag.clone()];
                if args.digests {
                    line.push("<none>".into());
                }
                line.extend([
                    short(&r.image.id, args.no_trunc),
                    since(r.image.created.as_deref()),
                    human_size(r.image.size),
                ]);
                lines.push(line);
            }
            print!("{}", table(&lines));
        }
    }
    Ok(0)
}
