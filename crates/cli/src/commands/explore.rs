//! `strata image explore IMAGE` (`strata explore`): what each layer adds, changes,
//! removes and wastes, as text, as JSON, or as a CI gate with dive's rules.

use crate::output::{human_size, table};
use anyhow::{bail, Context as _, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use strata_explore::ci::{Outcome, Rules};
use strata_explore::display::controls_escaped as shown;
use strata_explore::source::{explore, explore_archive, ExploreOptions};
use strata_explore::Analysis;
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Output format: the interactive view on a terminal (default), text, or json
    #[arg(long, default_value = "auto")]
    format: String,
    /// Judge the image with dive's rules and exit 1 if one fails
    #[arg(long)]
    ci: bool,
    /// The rules' file, dive's format (read when it exists)
    #[arg(long, default_value = ".dive-ci")]
    ci_config: PathBuf,
    /// (--ci) Lowest allowable image efficiency (0-1), or "disabled"
    #[arg(long)]
    lowest_efficiency: Option<String>,
    /// (--ci) Highest allowable bytes wasted (e.g. 20MB), or "disabled"
    #[arg(long)]
    highest_wasted_bytes: Option<String>,
    /// (--ci) Highest allowable share (0-1) of the user layers' bytes wasted, or "disabled"
    #[arg(long)]
    highest_user_wasted_percent: Option<String>,
    /// How many of the largest files and most wasted paths to show (text)
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Read the image from an archive (docker-archive or OCI layout, compressed or not)
    /// instead of the store; IMAGE then picks one of several by name
    #[arg(long)]
    input: Option<PathBuf>,
    /// Also write the picture: one self-contained HTML page (layers stacked, files on click)
    #[arg(long)]
    html: Option<PathBuf>,
    /// Read IMAGE from its registry, streaming the layers without storing them
    #[arg(long)]
    remote: bool,
    /// The platform of a multi-platform image to read (with --remote: any; else this
    /// machine's)
    #[arg(long)]
    platform: Option<String>,
    /// The image (a name, tag, ID or digest in the local store) or a container, whose
    /// writable layer is shown on top
    image: Option<String>,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    if !matches!(args.format.as_str(), "auto" | "text" | "json") {
        bail!("invalid --format {:?}: auto, text or json", args.format);
    }
    let rules = args.ci.then(|| rules(&args)).transpose()?;
    let opts = ExploreOptions {
        largest: args.top.max(20),
    };
    if !args.remote {
        strata_containers::check_platform(args.platform.as_deref())?;
    }
    let analysis = match (&args.input, &args.image, args.remote) {
        (Some(_), _, true) => bail!("--remote and --input name two sources: give one"),
        (Some(path), name, false) => explore_archive(store, path, name.as_deref(), &opts)?,
        (None, Some(name), true) => {
            let reference = strata_images::ImageRef::parse(name)?;
            let platform = match &args.platform {
                Some(p) => strata_registry::Platform::parse(p)?,
                None => strata_registry::Platform::host(),
            };
            let client = super::registry::connect(&reference)?;
            let target = reference.digest().or(reference.tag()).unwrap_or("latest");
            strata_explore::remote::explore_remote(
                &client,
                reference.path(),
                target,
                &platform,
                store.max_layer_bytes(),
                &opts,
            )?
        }
        (None, Some(name), false) => explore(store, name, &opts)?,
        (None, None, _) => bail!("explore needs an image or container, or --input FILE"),
    };
    let title = args
        .image
        .clone()
        .or_else(|| args.input.as_ref().map(|p| p.display().to_string()))
        .unwrap_or_default();
    if let Some(path) = &args.html {
        strata_explore::html::write_html_file(&analysis, &title, path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let interactive = args.format == "auto" && args.html.is_none() && !args.ci && std::io::stdout().is_terminal();
    if interactive {
        crate::explore_view::run(&analysis, &title)?;
        return Ok(0);
    }
    if args.format == "json" {
        // Streamed: the document of a large image is never held as one string.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        serde_json::to_writer_pretty(&mut out, &analysis)?;
        std::io::Write::write_all(&mut out, b"\n")?;
        std::io::Write::flush(&mut out)?;
    } else if !args.ci {
        print!("{}", text(&analysis, args.top));
    }
    let Some(rules) = rules else { return Ok(0) };
    let verdicts = rules.evaluate(&analysis);
    let t = &analysis.totals;
    let mut out = String::new();
    out.push_str(&format!("  efficiency: {:.4} %\n", t.efficiency * 100.0));
    out.push_str(&format!(
        "  wastedBytes: {} bytes ({})\n",
        t.wasted_bytes,
        human_size(t.wasted_bytes as i64)
    ));
    out.push_str(&format!(
        "  userWastedPercent: {:.4} %\n",
        t.user_wasted_percent * 100.0
    ));
    out.push_str("Results:\n");
    for v in &verdicts {
        match v.outcome {
            Outcome::Pass => out.push_str(&format!("  PASS: {}\n", v.rule)),
            Outcome::Fail => out.push_str(&format!("  FAIL: {}: {}\n", v.rule, v.detail)),
            Outcome::Skip => out.push_str(&format!("  SKIP: {}: {}\n", v.rule, v.detail)),
        }
    }
    let count = |o: Outcome| verdicts.iter().filter(|v| v.outcome == o).count();
    let failed = count(Outcome::Fail);
    out.push_str(&format!(
        "Result:{} [Total:{}] [Passed:{}] [Failed:{failed}] [Warn:0] [Skipped:{}]\n",
        if failed > 0 { "FAIL" } else { "PASS" },
        verdicts.len(),
        count(Outcome::Pass),
        count(Outcome::Skip),
    ));
    // With --format json the report goes to stdout alone; the verdicts to stderr.
    if args.format == "json" {
        eprint!("{out}");
    } else {
        print!("{out}");
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// The rules: dive's defaults, then the `.dive-ci` file, then the flags.
fn rules(args: &Args) -> Result<Rules> {
    let mut rules = Rules::default();
    match std::fs::read_to_string(&args.ci_config) {
        Ok(text) => rules
            .apply_dive_ci(&text)
            .with_context(|| format!("reading {}", args.ci_config.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", args.ci_config.display())),
    }
    for (rule, value) in [
        ("lowestEfficiency", &args.lowest_efficiency),
        ("highestWastedBytes", &args.highest_wasted_bytes),
        ("highestUserWastedPercent", &args.highest_user_wasted_percent),
    ] {
        if let Some(value) = value {
            rules.set(rule, value).map_err(anyhow::Error::msg)?;
        }
    }
    Ok(rules)
}

/// The layers bottom first, the totals, the most wasted paths and the largest files.
fn text(a: &Analysis, top: usize) -> String {
    let mut rows = vec![["LAYER", "SIZE", "WASTED", "ADDED", "CHANGED", "REMOVED", "COMMAND"]
        .map(String::from)
        .to_vec()];
    for l in &a.layers {
        let mut command: String = l.created_by.chars().filter(|c| !c.is_control()).take(70).collect();
        if l.base {
            command = format!("(base) {command}");
        }
        rows.push(vec![
            l.index.to_string(),
            human_size(l.bytes as i64),
            human_size(l.wasted_bytes as i64),
            l.added.len().to_string(),
            l.modified.len().to_string(),
            l.removed.len().to_string(),
            command,
        ]);
    }
    let t = &a.totals;
    let mut out = table(&rows);
    out.push_str(&format!(
        "\nImage: {} visible of {} stored, efficiency {:.2} %, wasted {}; above the {} base layer(s): {} wasted of {} ({:.2} %)\n",
        human_size(t.visible_bytes as i64),
        human_size(t.stored_bytes as i64),
        t.efficiency * 100.0,
        human_size(t.wasted_bytes as i64),
        t.base_layers,
        human_size(t.user_wasted_bytes as i64),
        human_size(t.user_bytes as i64),
        t.user_wasted_percent * 100.0,
    ));
    if !a.wasted.is_empty() {
        let mut rows = vec![["COPIES", "WASTED", "PATH"].map(String::from).to_vec()];
        for w in a.wasted.iter().take(top) {
            rows.push(vec![
                w.copies.to_string(),
                human_size(w.wasted as i64),
                shown(&a.paths.escaped(w.path)),
            ]);
        }
        out.push_str(&format!("\nWasted space:\n{}", table(&rows)));
    }
    if !a.largest.is_empty() {
        let mut rows = vec![["SIZE", "PATH"].map(String::from).to_vec()];
        for f in a.largest.iter().take(top) {
            rows.push(vec![
                human_size(f.size as i64),
                strata_explore::display::escape_controls(&a.paths.path(f.path)),
            ]);
        }
        out.push_str(&format!("\nLargest files:\n{}", table(&rows)));
    }
    out
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// Output format: text (default) or json
    #[arg(long, default_value = "text")]
    format: String,
    /// The first image
    first: String,
    /// The second image
    second: String,
}

/// `strata image diff A B`: the files that differ (A added, D deleted, C changed, as
/// seen going from the first image to the second) and the layers they share.
pub fn diff(store: &ImageStore, args: DiffArgs) -> Result<u8> {
    if !matches!(args.format.as_str(), "text" | "json") {
        bail!("invalid --format {:?}: text or json", args.format);
    }
    let c = strata_explore::compare::compare_images(store, &args.first, &args.second)?;
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(0);
    }
    println!(
        "Shared layers: {} ({} at the bottom, the same stack)",
        c.shared_layers.len(),
        c.common_base
    );
    let size = |s: Option<u64>| s.map(|s| human_size(s as i64)).unwrap_or_default();
    let mut rows = vec![["CHANGE", "BEFORE", "AFTER", "PATH"].map(String::from).to_vec()];
    for f in &c.files {
        rows.push(vec![
            f.change.to_string(),
            size(f.size_before),
            size(f.size_after),
            format!("/{}", shown(&f.path)),
        ]);
    }
    print!("{}", table(&rows));
    Ok(0)
}
