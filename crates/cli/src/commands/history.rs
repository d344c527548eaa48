//! `strata history IMAGE`

use crate::output::{ellipsis, human_size, render, since, table, Format};
use anyhow::Result;
use serde_json::json;
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    human: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Format output using a Go template, or "json"
    #[arg(long)]
    format: Option<String>,
    image: String,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let image = store.resolve(&args.image)?.image;
    let rows = store.history(&image)?;
    let id = |s: &str| {
        if args.no_trunc || s == "<missing>" {
            s.to_string()
        } else {
            strata_images::progress::short_id(s).to_string()
        }
    };
    if args.quiet {
        for r in &rows {
            println!("{}", id(&r.id));
        }
        return Ok(0);
    }
    let fields = |r: &strata_images::inspect::HistoryEntry| {
        let created_by = if args.no_trunc {
            r.created_by.clone()
        } else {
            ellipsis(&r.created_by, 45)
        };
        json!({
            "ID": id(&r.id),
            "CreatedSince": if args.human { since(r.created.as_deref()) } else { r.created.clone().unwrap_or_default() },
            "CreatedAt": r.created.clone().unwrap_or_default(),
            "CreatedBy": created_by,
            "Size": if args.human { human_size(r.size) } else { r.size.to_string() },
            "Comment": r.comment,
        })
    };
    match args.format.as_deref().map(Format::parse) {
        Some(Format::Json) => rows.iter().for_each(|r| println!("{}", fields(r))),
        Some(Format::Template { text, .. }) => {
            for r in &rows {
                println!("{}", render(&text, &fields(r))?);
            }
        }
        None => {
            let mut lines = vec![vec![
                "IMAGE".into(),
                "CREATED".into(),
                "CREATED BY".into(),
                "SIZE".into(),
                "COMMENT".into(),
            ]];
            for r in &rows {
                let f = fields(r);
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                lines.push(vec![
                    s("ID"),
                    s("CreatedSince"),
                    s("CreatedBy"),
                    s("Size"),
                    s("Comment"),
                ]);
            }
            print!("{}", table(&lines));
        }
    }
    Ok(0)
}
