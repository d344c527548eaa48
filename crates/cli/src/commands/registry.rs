//! `strata pull`, `push`, `login`, `logout`, `search`

use crate::output;
use crate::progress::{LayerProgress, PullLines};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;
use strata_images::{ImageRef, ImageStore};
use strata_registry::{
    Client, ClientOptions, Credentials, Platform, PullPolicy, PushCompression, PushOptions, RegistrySettings,
};

/// Settings shared by the commands that talk to registries.
#[derive(clap::Args, Clone)]
pub struct ConnectArgs {
    /// Require HTTPS and verify certificates (false: accept any certificate)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    tls_verify: bool,
}

/// The registry settings the caller's environment gives: `STRATA_CONFIG` (else
/// `~/.strata`), `DOCKER_CONFIG` (else `~/.docker`), `STRATA_INSECURE_REGISTRIES` (Docker's
/// daemon flag, as an environment variable for a daemonless engine) and
/// `STRATA_REGISTRY_TIMEOUT` (seconds); the library has the defaults.
fn settings(connect: &ConnectArgs) -> RegistrySettings {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let config_dir = std::env::var_os("STRATA_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| RegistrySettings::default_config_dir(home.as_deref()));
    let mut settings = RegistrySettings::new(&config_dir);
    settings.docker_config_dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| RegistrySettings::default_docker_config_dir(home.as_deref()));
    settings.insecure =
        RegistrySettings::parse_insecure(&std::env::var("STRATA_INSECURE_REGISTRIES").unwrap_or_default());
    settings.tls_verify = connect.tls_verify;
    // An unparsable value keeps the default, as before.
    if let Some(secs) = std::env::var("STRATA_REGISTRY_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        settings.read_timeout = Duration::from_secs(secs);
    }
    settings
}

/// The registry settings of `strata system service`: the environment's, as the CLI's,
/// except that no credential file is read: an API client's credentials come with its
/// request (`X-Registry-Auth`).
pub fn service_client_options() -> ClientOptions {
    let mut settings = settings(&ConnectArgs { tls_verify: true });
    settings.docker_config_dir = None;
    settings.client_options()
}

fn client_options(connect: &ConnectArgs) -> ClientOptions {
    settings(connect).client_options()
}

/// A client of `reference`'s registry with the caller's settings (credentials, insecure
/// registries, timeouts), TLS verified.
pub fn connect(reference: &ImageRef) -> Result<Client> {
    Ok(Client::connect(
        reference.domain(),
        &client_options(&ConnectArgs { tls_verify: true }),
    )?)
}

#[derive(clap::Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long)]
    all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    quiet: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    /// NAME[:TAG|@DIGEST]
    name: String,
}

pub fn pull(store: &ImageStore, args: PullArgs) -> Result<u8> {
    let platform = match &args.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let given = ImageRef::parse_untagged(&args.name)?;
    let client = Client::connect(given.domain(), &client_options(&args.connect))?;
    let references = if args.all_tags {
        if given.tag().is_some() || given.digest().is_some() {
            bail!("tag can't be used with --all-tags/-a");
        }
        let tags = client.tags(given.path())?;
        if !args.quiet {
            println!("Pulling all tags of {}", given.familiar_repository());
        }
        tags.iter().map(|t| given.with_tag(t)).collect()
    } else {
        if given.tag().is_none() && given.digest().is_none() && !args.quiet {
            println!("Using default tag: latest");
        }
        vec![ImageRef::parse(&args.name)?]
    };
    for reference in &references {
        pull_one(store, &client, reference, &platform, args.quiet)?;
    }
    Ok(0)
}

fn pull_one(store: &ImageStore, client: &Client, reference: &ImageRef, platform: &Platform, quiet: bool) -> Result<()> {
    strata_registry::pull_reported(store, client, reference, platform, &PullLines::stdout(quiet))?;
    println!("{reference}");
    Ok(())
}

/// For `run`, `create` and `build`: the library's pull-if-missing, with `policy` as the
/// `--pull` flag gives it. Docker's messages go to stderr.
pub fn ensure_image(store: &ImageStore, name: &str, policy: &str) -> Result<()> {
    let policy: PullPolicy = policy.parse()?;
    let settings = settings(&ConnectArgs { tls_verify: true });
    strata_registry::ensure_image(store, name, policy, &settings, &PullLines::stderr())?;
    Ok(())
}

#[derive(clap::Args)]
pub struct PushArgs {
    /// Push all tags of the repository
    #[arg(short = 'a', long)]
    all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    quiet: bool,
    /// Compression for layers stored uncompressed: gzip or zstd
    #[arg(long, default_value = "gzip", value_parser = ["gzip", "zstd"])]
    compression_format: String,
    /// Compression level (gzip 1-9, zstd 1-19)
    #[arg(long)]
    compression_level: Option<u32>,
    #[command(flatten)]
    connect: ConnectArgs,
    /// NAME[:TAG]
    name: String,
}

pub fn push(store: &ImageStore, args: PushArgs) -> Result<u8> {
    let given = ImageRef::parse_untagged(&args.name)?;
    let references: Vec<ImageRef> = if args.all_tags {
        let repository = given.repository();
        let mut refs: Vec<ImageRef> = store
            .list()?
            .iter()
            .flat_map(|i| i.tags.clone())
            .filter_map(|t| ImageRef::parse(&t).ok())
            .filter(|r| r.repository() == repository)
            .collect();
        refs.sort_by(|a, b| a.tag().cmp(&b.tag()));
        if refs.is_empty() {
            bail!(
                "An image does not exist locally with the tag: {}",
                given.familiar_repository()
            );
        }
        refs
    } else {
        vec![ImageRef::parse(&args.name)?]
    };
    if given.domain() == strata_images::reference::DEFAULT_DOMAIN {
        log::info!("pushing to Docker Hub");
    }
    let client = Client::connect(given.domain(), &client_options(&args.connect))?;
    let options = PushOptions {
        compression: match args.compression_format.as_str() {
            "zstd" => PushCompression::Zstd,
            _ => PushCompression::Gzip,
        },
        level: args.compression_level,
    };
    if !args.quiet {
        println!("The push refers to repository [{}]", given.repository());
    }
    for reference in &references {
        let progress = LayerProgress::stdout("Pushing", args.quiet)
            .words("Preparing", "Pushed")
            .exists("Layer already exists");
        let pushed = match strata_registry::push(store, &client, reference, options, &progress) {
            Err(strata_registry::RegistryError::Image(strata_images::ImageError::NotFound { .. })) => {
                bail!("An image does not exist locally with the tag: {}", reference.familiar())
            }
            other => other?,
        };
        drop(progress);
        if args.quiet {
            println!("{reference}");
        } else {
            println!("{}: digest: {} size: {}", pushed.tag, pushed.digest, pushed.size);
        }
    }
    Ok(0)
}

#[derive(clap::Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    username: Option<String>,
    /// Password (prefer --password-stdin)
    #[arg(short, long)]
    password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Registry (default: Docker Hub)
    server: Option<String>,
}

pub fn login(args: LoginArgs) -> Result<u8> {
    let server = args.server.clone().unwrap_or_else(|| "docker.io".to_string());
    let server = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    if args.password.is_some() && args.password_stdin {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    let username = match args.username {
        Some(u) => u,
        None if args.password_stdin => bail!("Must provide --username with --password-stdin"),
        None => prompt("Username: ")?,
    };
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        (None, true) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => prompt("Password: ")?,
    };
    if username.is_empty() || password.is_empty() {
        bail!("Error: Username and password are required");
    }
    let options = client_options(&args.connect);
    let credentials = Credentials { username, password };
    let client = Client::connect_with(&server, &options, credentials.clone())?;
    client.check_login()?;
    options.credentials.store(&server, &credentials)?;
    println!("Login Succeeded");
    Ok(0)
}

fn prompt(label: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("Cannot perform an interactive login from a non TTY device; use --username and --password-stdin");
    }
    eprint!("{label}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

#[derive(clap::Args)]
pub struct LogoutArgs {
    /// Registry (default: Docker Hub)
    server: Option<String>,
}

pub fn logout(args: LogoutArgs) -> Result<u8> {
    let server = args.server.unwrap_or_else(|| "docker.io".to_string());
    let store = settings(&ConnectArgs { tls_verify: true }).credentials();
    if store.erase(&server)? {
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}

#[derive(clap::Args)]
pub struct SearchArgs {
    /// Max number of search results
    #[arg(long, default_value_t = 25)]
    limit: usize,
    /// Filter output based on conditions provided (stars=N, is-official=BOOL, is-automated=BOOL)
    #[arg(short, long)]
    filter: Vec<String>,
    /// Pretty-print search using a Go template, or json
    #[arg(long)]
    format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    #[command(flatten)]
    connect: ConnectArgs,
    /// [REGISTRY/]TERM
    term: String,
}

pub fn search(args: SearchArgs) -> Result<u8> {
    let (registry, term) = strata_registry::search::split_term(&args.term);
    let client = Client::connect(&registry, &client_options(&args.connect))?;
    let mut results = client.search(&term, args.limit)?;
    for filter in &args.filter {
        let (key, value) = filter
            .split_once('=')
            .with_context(|| format!("bad format of filter (expected name=value): {filter}"))?;
        match key {
            "stars" => {
                let min: u64 = value
                    .parse()
                    .with_context(|| format!("invalid filter 'stars={value}'"))?;
                results.retain(|r| r.stars >= min);
            }
            "is-official" => {
                let want: bool = value.parse().with_context(|| format!("invalid filter '{filter}'"))?;
                results.retain(|r| r.official == want);
            }
            "is-automated" => {
                let want: bool = value.parse().with_context(|| format!("invalid filter '{filter}'"))?;
                results.retain(|r| r.automated == want);
            }
            other => bail!("invalid filter '{other}'"),
        }
    }
    match args.format.as_deref() {
        Some("json") => {
            for r in &results {
                println!("{}", serde_json::to_string(&search_row(r))?);
            }
        }
        Some(template) => {
            for r in &results {
                println!("{}", output::render(template, &search_row(r))?);
            }
        }
        None => {
            let mut rows = vec![vec![
                "NAME".to_string(),
                "DESCRIPTION".to_string(),
                "STARS".to_string(),
                "OFFICIAL".to_string(),
                "AUTOMATED".to_string(),
            ]];
            for r in &results {
                let description = if args.no_trunc {
                    r.description.clone()
                } else {
                    output::ellipsis(&r.description, 45)
                };
                rows.push(vec![
                    r.name.clone(),
                    description,
                    r.stars.to_string(),
                    if r.official { "[OK]".into() } else { String::new() },
                    if r.automated { "[OK]".into() } else { String::new() },
                ]);
            }
            print!("{}", output::table(&rows));
        }
    }
    Ok(0)
}

/// A search result with Docker's template field names.
fn search_row(r: &strata_registry::SearchResult) -> serde_json::Value {
    serde_json::json!({
        "Name": r.name,
        "Description": r.description,
        "StarCount": r.stars,
        "IsOfficial": r.official,
        "IsAutomated": r.automated,
    })
}
