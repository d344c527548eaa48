//! `strata build [OPTIONS] PATH | -`

use anyhow::{bail, Context as _, Result};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use strata_builder::{BuildOptions, Context};
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Name of the Dockerfile (default: PATH/Dockerfile; "-" reads it from stdin)
    #[arg(short, long)]
    file: Option<String>,
    /// Name and optionally a tag in the "name:tag" format (repeatable)
    #[arg(short, long)]
    tag: Vec<String>,
    /// Set build-time variables (NAME=VALUE, or NAME to take it from the environment)
    #[arg(long)]
    build_arg: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    no_cache: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    quiet: bool,
    /// Write the image ID to the file
    #[arg(long)]
    iidfile: Option<PathBuf>,
    /// Set metadata for an image (KEY=VALUE)
    #[arg(long)]
    label: Vec<String>,
    /// Networking mode for the RUN instructions: default, none or host
    #[arg(long)]
    network: Option<String>,
    /// Always attempt to pull a newer version of the base images
    #[arg(long)]
    pull: bool,
    /// Squash the layers this build adds into one
    #[arg(long)]
    squash: bool,
    /// Type of progress output: plain or tty (both print the classic step lines)
    #[arg(long, default_value = "auto")]
    progress: String,
    /// Build context: a directory, or "-" for a Dockerfile or a tar archive on stdin
    path: String,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    let mut dockerfile_name = "Dockerfile".to_string();
    let (context, dockerfile) = if args.path == "-" {
        let mut input = Vec::new();
        std::io::stdin().read_to_end(&mut input).context("reading stdin")?;
        if strata_builder::context::looks_like_archive(&input) {
            let dir = store.work_path("context", "");
            let context = Context::tar(&input[..], &dir)?;
            let name = args.file.clone().unwrap_or_else(|| "Dockerfile".into());
            let root = context.root().expect("tar contexts have a root").to_path_buf();
            let text = std::fs::read_to_string(root.join(&name))
                .with_context(|| format!("the context archive has no {name}"))?;
            dockerfile_name = name;
            (context, text)
        } else {
            dockerfile_name = "-".into();
            (
                Context::none(),
                String::from_utf8(input).context("the Dockerfile on stdin is not UTF-8")?,
            )
        }
    } else {
        let dir = Path::new(&args.path);
        match args.file.as_deref() {
            Some("-") => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the Dockerfile from stdin")?;
                dockerfile_name = "-".into();
                (Context::dir(dir, None)?, text)
            }
            file => {
                let path = match file {
                    Some(f) => PathBuf::from(f),
                    None => dir.join("Dockerfile"),
                };
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("unable to read the Dockerfile {}", path.display()))?;
                if let Some(f) = file {
                    dockerfile_name = f.to_string();
                }
                (Context::dir(dir, Some(&path))?, text)
            }
        }
    };
    if !matches!(args.progress.as_str(), "auto" | "plain" | "tty") {
        bail!("invalid --progress {:?}: plain or tty", args.progress);
    }
    let options = BuildOptions {
        dockerfile,
        dockerfile_name,
        tags: args.tag.clone(),
        build_args: parse_pairs(&args.build_arg, true)?,
        target: args.target.clone(),
        no_cache: args.no_cache,
        labels: parse_pairs(&args.label, false)?,
        network: args.network.clone(),
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse().ok()),
        quiet: args.quiet,
        squash: args.squash,
        pull: args.pull,
    };
    let mut stdout = std::io::stdout().lock();
    let fetch = |name: &str, always: bool| {
        super::registry::ensure_image(store, name, if always { "always" } else { "missing" })
            .map_err(|e| crate::output::error_chain(&e))
    };
    let built = strata_builder::build(store, &context, &options, Some(&fetch), &mut stdout)?;
    if args.quiet {
        writeln!(stdout, "{}", built.id)?;
    }
    if let Some(file) = &args.iidfile {
        std::fs::write(file, &built.id).with_context(|| format!("writing {}", file.display()))?;
    }
    let _ = std::io::stdout().is_terminal();
    Ok(0)
}

/// `NAME=VALUE` pairs; with `from_env`, a bare `NAME` takes the caller's value (and is
/// left out when the caller has none).
fn parse_pairs(items: &[String], from_env: bool) -> Result<Vec<(String, String)>> {
    let items = if from_env {
        crate::caller_env::with_caller_values(items)
    } else {
        items.to_vec()
    };
    let mut out = Vec::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) => out.push((k.to_string(), v.to_string())),
            None if from_env => {}
            None => out.push((item, String::new())),
        }
    }
    Ok(out)
}
