//! `strata build [OPTIONS] PATH | -`

use anyhow::{bail, Context as _, Result};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use strata_builder::{BuildInput, BuildOptions, DockerfileSource};
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
    /// Images to consider as cache sources (refused: see the error)
    #[arg(long)]
    cache_from: Vec<String>,
    /// Cache export destinations (refused: see the error)
    #[arg(long)]
    cache_to: Vec<String>,
    /// Container isolation technology (default only)
    #[arg(long)]
    isolation: Option<String>,
    /// Skip image verification (content trust is never enabled in strata)
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", require_equals = true, action = clap::ArgAction::Set)]
    disable_content_trust: bool,
    /// Add a custom host-to-IP mapping (host:ip) for the RUN steps
    #[arg(long)]
    add_host: Vec<String>,
    /// Optional parent cgroup for the RUN steps' containers
    #[arg(long)]
    cgroup_parent: Option<String>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    cpu_period: Option<i64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long)]
    cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short, long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Size of /dev/shm
    #[arg(long)]
    shm_size: Option<String>,
    /// Ulimit options (NAME=SOFT[:HARD])
    #[arg(long)]
    ulimit: Vec<String>,
    /// Security options
    #[arg(long)]
    security_opt: Vec<String>,
    /// Remove intermediate containers after a successful build (default true)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    rm: bool,
    /// Always remove intermediate containers
    #[arg(long)]
    force_rm: bool,
    /// Compress the build context using gzip (nothing to do: strata reads the context
    /// in place, it is never sent anywhere)
    #[arg(long)]
    compress: bool,
    /// Secret to expose to RUN --mount=type=secret steps
    /// (id=ID[,src=FILE|,env=VAR]; ID alone reads the variable ID)
    #[arg(long)]
    secret: Vec<String>,
    /// SSH agent socket to expose to RUN --mount=type=ssh steps
    /// (default|ID[=SOCKET]; without SOCKET, $SSH_AUTH_SOCK)
    #[arg(long)]
    ssh: Vec<String>,
    /// Allow extra privileged entitlement (security.insecure, network.host)
    #[arg(long)]
    allow: Vec<String>,
    /// Set the target platform: this machine's only (strata has no emulation)
    #[arg(long)]
    platform: Option<String>,
    /// Output destination: type=local,dest=DIR, type=tar,dest=FILE, DIR, or "-" for a tar on stdout
    #[arg(short, long)]
    output: Vec<String>,
    /// Additional build contexts: NAME=DIR or NAME=docker-image://REF
    #[arg(long)]
    build_context: Vec<String>,
    /// Write build result metadata (buildx's JSON) to the file
    #[arg(long)]
    metadata_file: Option<PathBuf>,
    /// Build context: a directory, or "-" for a Dockerfile or a tar archive on stdin
    path: String,
}

pub fn run(store: &ImageStore, args: Args) -> Result<u8> {
    if !args.disable_content_trust {
        bail!(
            "--disable-content-trust=false is not supported: strata cannot verify image signatures \
             (Docker Content Trust, Notary); leave it at true"
        );
    }
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let output = strata_builder::Output::parse_all(&args.output, &cwd)?;
    let named_contexts = args
        .build_context
        .iter()
        .map(|spec| Ok(strata_builder::NamedContext::parse(spec, &cwd)?))
        .collect::<Result<Vec<_>>>()?;
    let to_stdout = output == strata_builder::Output::Tar(strata_builder::TarDest::Stream);
    if to_stdout && std::io::stdout().is_terminal() {
        bail!("--output -: refusing to write a tar to a terminal; redirect stdout, or give type=tar,dest=FILE");
    }
    let input = input(store, &args)?;
    if !matches!(args.progress.as_str(), "auto" | "plain" | "tty") {
        bail!("invalid --progress {:?}: plain or tty", args.progress);
    }
    let options = BuildOptions {
        dockerfile: input.dockerfile,
        dockerfile_name: input.dockerfile_name,
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
        run: run_settings(&args)?,
        keep_intermediate: !args.rm,
        force_remove: args.force_rm,
        cache_from: args.cache_from.clone(),
        secrets: args.secret.iter().map(|s| secret(s)).collect::<Result<_>>()?,
        ssh: args.ssh.iter().map(|s| ssh_agent(s)).collect::<Result<_>>()?,
        allow: args.allow.clone(),
        cache_to: args.cache_to.clone(),
        platform: args.platform.clone(),
        output,
        named_contexts,
    };
    // --compress: docker's CLI gzips the context it sends a daemon; strata's build
    // reads the context where it is, so there is nothing to compress (the image is the
    // same either way, as docker's).
    let _ = args.compress;
    let mut stdout = std::io::stdout().lock();
    // Not locked: a base image pulled during the build writes its progress to stderr
    // from another thread.
    let mut stderr = std::io::stderr();
    // With the tar on stdout, the progress goes to stderr (as buildx's always does).
    let (progress, stream): (&mut dyn Write, Option<&mut dyn Write>) = match to_stdout {
        true => (&mut stderr, Some(&mut stdout)),
        false => (&mut stdout, None),
    };
    let fetch = |name: &str, always: bool| {
        super::registry::ensure_image(store, name, if always { "always" } else { "missing" })
            .map_err(|e| crate::output::error_chain(&e))
    };
    let callbacks = strata_builder::Callbacks {
        fetch: Some(&fetch),
        launcher: &crate::fork_launcher::ForkLauncher::default(),
        output: stream,
    };
    let built = strata_builder::build(store, &input.context, &options, callbacks, progress)?;
    if args.quiet {
        match to_stdout {
            true => writeln!(std::io::stderr(), "{}", built.id)?,
            false => writeln!(std::io::stdout(), "{}", built.id)?,
        }
    }
    if let Some(file) = &args.iidfile {
        std::fs::write(file, &built.id).with_context(|| format!("writing {}", file.display()))?;
    }
    if let Some(file) = &args.metadata_file {
        let text = serde_json::to_vec_pretty(&built.metadata)?;
        strata_images::save::write_file_atomically(file, |mut f| {
            f.write_all(&text)?;
            Ok(f)
        })?;
    }
    let _ = std::io::stdout().is_terminal();
    Ok(0)
}

/// `--secret id=ID,src=FILE`, `id=ID,env=VAR`, `id=ID` (the variable ID), buildx's
/// forms (`type=file|env`, `source=`); read here, at the edge, into memory.
fn secret(spec: &str) -> Result<strata_builder::BuildSecret> {
    let (mut id, mut kind, mut src, mut env) = (None, None, None, None);
    for field in spec.split(',') {
        match field.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("type", v)) => kind = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(v.to_string()),
            Some(("env", v)) => env = Some(v.to_string()),
            _ => bail!("--secret {spec:?}: unknown field {field:?} (id=ID, src=FILE or env=VAR, type=file|env)"),
        }
    }
    let id = id
        .filter(|i| !i.is_empty())
        .or_else(|| {
            src.as_deref()
                .and_then(|s| Path::new(s).file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .ok_or_else(|| anyhow::anyhow!("--secret {spec:?}: an id is required (id=ID)"))?;
    let data = match (kind.as_deref(), src, env) {
        (Some("file") | None, Some(src), None) => {
            std::fs::read(&src).with_context(|| format!("--secret id={id}: reading {src}"))?
        }
        (Some("env") | None, None, env) => {
            let var = env.unwrap_or_else(|| id.clone());
            std::env::var_os(&var)
                .ok_or_else(|| anyhow::anyhow!("--secret id={id}: the environment variable {var} is not set"))?
                .into_encoded_bytes()
        }
        (Some("env"), Some(src), None) => std::env::var_os(&src)
            .ok_or_else(|| anyhow::anyhow!("--secret id={id}: the environment variable {src} is not set"))?
            .into_encoded_bytes(),
        (Some(other), _, _) if other != "file" && other != "env" => {
            bail!("--secret {spec:?}: type={other} is not a secret type (file, env)")
        }
        _ => bail!("--secret {spec:?}: give src=FILE or env=VAR, not both"),
    };
    Ok(strata_builder::BuildSecret { id, data })
}

/// `--ssh default`, `--ssh ID=SOCKET`: an agent's socket (buildx also takes key files,
/// which need an agent strata does not run: refused).
fn ssh_agent(spec: &str) -> Result<strata_builder::SshAgent> {
    let (id, path) = match spec.split_once('=') {
        Some((id, path)) => (id.to_string(), PathBuf::from(path)),
        None => {
            let sock = std::env::var_os("SSH_AUTH_SOCK").ok_or_else(|| {
                anyhow::anyhow!("--ssh {spec}: SSH_AUTH_SOCK is not set (start ssh-agent, or give {spec}=SOCKET)")
            })?;
            (spec.to_string(), PathBuf::from(sock))
        }
    };
    if path.to_string_lossy().contains(',') {
        bail!(
            "--ssh {id}: only one agent socket per id is supported, not a list ({})",
            path.display()
        );
    }
    let meta = std::fs::metadata(&path).with_context(|| format!("--ssh {id}: {}", path.display()))?;
    if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
        bail!(
            "--ssh {id}={}: not an agent socket; strata forwards an ssh agent, not key files \
             (run ssh-agent, ssh-add the key, and give its $SSH_AUTH_SOCK)",
            path.display()
        );
    }
    let socket = std::fs::canonicalize(&path).with_context(|| format!("--ssh {id}: {}", path.display()))?;
    Ok(strata_builder::SshAgent { id, socket })
}

/// The RUN steps' settings, as `run`'s flags of the same names give them.
fn run_settings(args: &Args) -> Result<strata_builder::RunSettings> {
    use strata_containers::resources::{Resources, Ulimit};
    let size = |flag: &Option<String>| flag.as_deref().map(crate::output::parse_size).transpose();
    Ok(strata_builder::RunSettings {
        extra_hosts: args.add_host.clone(),
        memory: size(&args.memory)?,
        security_opt: args.security_opt.clone(),
        resources: Resources {
            memory_swap: match args.memory_swap.as_deref() {
                Some("-1") => Some(-1),
                other => other.map(crate::output::parse_size).transpose()?,
            },
            cpu_shares: args.cpu_shares.filter(|s| *s != 0),
            cpu_quota: args.cpu_quota.filter(|q| *q != 0),
            cpu_period: args.cpu_period.filter(|p| *p != 0),
            cpuset_cpus: args.cpuset_cpus.clone(),
            cpuset_mems: args.cpuset_mems.clone(),
            cgroup_parent: args.cgroup_parent.clone().filter(|p| !p.is_empty()),
            shm_size: size(&args.shm_size)?,
            ulimits: args
                .ulimit
                .iter()
                .map(|u| Ulimit::parse(u))
                .collect::<std::result::Result<_, _>>()?,
            ..Default::default()
        },
        isolation: args.isolation.clone(),
    })
}

/// The context and Dockerfile the flags name: PATH against this process's working
/// directory, and "-" (as PATH or as -f) for its stdin.
fn input(store: &ImageStore, args: &Args) -> Result<BuildInput> {
    let mut stdin = std::io::stdin().lock();
    if args.path == "-" {
        return Ok(BuildInput::from_stream(store, stdin, args.file.as_deref())?);
    }
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let dockerfile = match args.file.as_deref() {
        Some("-") => DockerfileSource::Reader(&mut stdin),
        Some(file) => DockerfileSource::Path(Path::new(file)),
        None => DockerfileSource::Default,
    };
    Ok(BuildInput::from_dir(&cwd, Path::new(&args.path), dockerfile)?)
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

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Remove all build cache (strata's cache is the intermediate images of builds:
    /// they all go either way)
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation (strata never prompts)
    #[arg(short, long)]
    force: bool,
}

/// `builder prune`: the library call `POST /build/prune` makes.
pub fn prune(store: &ImageStore, args: PruneArgs) -> Result<u8> {
    let _ = (args.all, args.force);
    let pruned = store.prune_build_cache()?;
    if !pruned.removed.is_empty() {
        println!("Deleted build cache objects:");
        pruned.removed.iter().for_each(|id| println!("{id}"));
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::output::human_size(pruned.bytes as i64)
    );
    Ok(0)
}
