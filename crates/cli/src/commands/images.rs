//! `strata images [REPO[:TAG]]`

use crate::output::{human_size, render, since, table, Format};
use anyhow::{bail, Result};
use serde_json::json;
use strata_images::{ImageRecord, ImageRef, ImageStore};

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

/// One row: an image under one of its names (or `<none>`).
struct Row<'a> {
    image: &'a ImageRecord,
    repository: String,
    tag: String,
}

fn rows(images: &[ImageRecord]) -> Vec<Row<'_>> {
    let mut out = Vec::new();
    for image in images {
        if image.tags.is_empty() {
            out.push(Row {
                image,
                repository: "<none>".into(),
                tag: "<none>".into(),
            });
        }
        for t in &image.tags {
            let (repository, tag) = match ImageRef::parse(t) {
                Ok(r) => (r.familiar_repository(), r.tag().unwrap_or("<none>").to_string()),
                Err(_) => (t.clone(), "<none>".into()),
            };
            out.push(Row { image, repository, tag });
        }
    }
    out
}

/// Go's `path.Match` for the `*` and `?` wildcards that reference filters use.
fn glob(pattern: &str, text: &str) -> bool {
    fn m(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != '/')
                .any(|i| m(&p[1..], &t[i..])),
            (Some('?'), Some(c)) if *c != '/' => m(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &t[1..]),
            _ => false,
        }
    }
    m(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>())
}

struct Filters {
    dangling: Option<bool>,
    references: Vec<String>,
    before: Option<String>,
    since: Option<String>,
    labels: Vec<(String, Option<String>)>,
}

fn parse_filters(store: &ImageStore, specs: &[String]) -> Result<Filters> {
    let mut f = Filters {
        dangling: None,
        references: Vec::new(),
        before: None,
        since: None,
        labels: Vec::new(),
    };
    for spec in specs {
        let Some((key, value)) = spec.split_once('=') else {
            bail!("bad format of filter (expected name=value): {spec:?}");
        };
        match key {
            "dangling" => {
                f.dangling = Some(match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => bail!("invalid filter 'dangling={value}': use true or false"),
                })
            }
            "reference" => f.references.push(value.to_string()),
            "before" => f.before = store.resolve(value)?.image.created,
            "since" => f.since = store.resolve(value)?.image.created,
            "label" => f.labels.push(match value.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (value.to_string(), None),
            }),
            _ => bail!("invalid filter '{key}': images support dangling, reference, before, since and label"),
        }
    }
    Ok(f)
}

fn keep(store: &ImageStore, row: &Row<'_>, f: &Filters, wanted: Option<&ImageRef>) -> bool {
    if let Some(w) = wanted {
        let repo_ok = row.repository == w.familiar_repository() || row.repository == w.repository();
        if !repo_ok || w.tag().is_some_and(|t| t != row.tag) {
            return false;
        }
    }
    if f.dangling.is_some_and(|d| d != row.image.tags.is_empty()) {
        return false;
    }
    if !f.references.is_empty() {
        let name = format!("{}:{}", row.repository, row.tag);
        if !f.references.iter().any(|p| glob(p, &name) || glob(p, &row.repository)) {
            return false;
        }
    }
    let created = row.image.created.as_deref().unwrap_or("");
    if f.before.as_deref().is_some_and(|b| created >= b) || f.since.as_deref().is_some_and(|s| created <= s) {
        return false;
    }
    if !f.labels.is_empty() {
        let labels = store
            .config_bytes(row.image)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|c| c.pointer("/config/Labels").cloned())
            .unwrap_or_default();
        for (k, v) in &f.labels {
            match (labels.get(k).and_then(|x| x.as_str()), v) {
                (None, _) => return false,
                (Some(have), Some(want)) if have != want => return false,
                _ => {}
            }
        }
    }
    true
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        strata_images::progress::short_id(id).to_string()
    }
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let mut images = store.list()?;
    if !args.all {
        let intermediate = store.db().intermediate_images()?;
        images.retain(|i| !i.tags.is_empty() || !intermediate.contains(&i.id));
    }
    let filters = parse_filters(store, &args.filter)?;
    let wanted = args.repository.as_deref().map(ImageRef::parse_untagged).transpose()?;
    let rows: Vec<_> = rows(&images)
        .into_iter()
        .filter(|r| keep(store, r, &filters, wanted.as_ref()))
        .collect();
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            if seen.insert(&r.image.id) {
                println!("{}", short(&r.image.id, args.no_trunc));
            }
        }
        return Ok(0);
    }
    let as_json = |r: &Row<'_>| {
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

#[cfg(test)]
mod tests {
    #[test]
    fn glob_matches_like_go_path_match() {
        assert!(super::glob("busy*", "busybox"));
        assert!(super::glob("busybox:*", "busybox:latest"));
        assert!(!super::glob("busy*", "library/busybox"));
        assert!(super::glob("b?sybox", "busybox"));
    }
}
