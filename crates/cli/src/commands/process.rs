//! `strata exec`, `logs`, `stop`, `kill`, `wait`

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::io::Write;
use strata_containers::Containers;
use strata_images::ImageStore;
use strata_runtime::attach::Ended;
use strata_runtime::exec::ExecOptions;
use strata_runtime::lifecycle;
use strata_runtime::logs::{LogEntry, LogOptions, LogStream};

#[derive(clap::Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables
    #[arg(short, long)]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    env_file: Vec<std::path::PathBuf>,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    detach_keys: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Give extended privileges to the command (every capability)
    #[arg(long)]
    privileged: bool,
    /// The container, then the command and its arguments: one list, so that everything
    /// after the container is the command's (`exec C ls -t`: `-t` is not `--tty` there).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        num_args = 2..,
        value_name = "CONTAINER COMMAND [ARG...]"
    )]
    invocation: Vec<String>,
}

#[derive(clap::Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all)
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Show extra details provided to logs (the log attributes, then a space)
    #[arg(long)]
    details: bool,
    /// Show logs since timestamp (RFC 3339, e.g. 2024-01-02T13:23:37Z, Unix seconds, or relative: 10m)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp (RFC 3339, Unix seconds, or relative: 10m)
    #[arg(long)]
    until: Option<String>,
    container: String,
}

#[derive(clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short, long, allow_hyphen_values = true)]
    time: Option<i64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short, long, allow_hyphen_values = true)]
    time: Option<i64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct WaitArgs {
    /// Wait until the container is not running, until its next exit, or until it is
    /// removed (strata's flag: docker's CLI has none; the Engine API's `condition`)
    #[arg(long, default_value = "not-running", value_parser = ["not-running", "next-exit", "removed"])]
    condition: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn exec(store: &ImageStore, args: ExecArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.invocation[0])?;
    let mut env = super::run::file_lines(&args.env_file, "env")?;
    env.extend(crate::caller_env::with_caller_values(&args.env));
    let keys = strata_runtime::detach_keys::DetachKeys::parse(
        args.detach_keys
            .as_deref()
            .unwrap_or(strata_runtime::detach_keys::DEFAULT),
    )?;
    let opts = ExecOptions {
        command: args.invocation[1..].to_vec(),
        env,
        workdir: args.workdir,
        user: args.user,
        tty: args.tty,
        interactive: args.interactive,
        privileged: args.privileged,
    };
    let outcome = run_exec(&containers, &record, &opts, args.detach, &keys);
    match outcome {
        Ok(code) => Ok(code.clamp(0, 255) as u8),
        // Docker: 126/127 when the command cannot run, 1 for anything else.
        Err(e) if matches!(*e, strata_runtime::RuntimeError::Start { .. }) => {
            eprintln!("Error: {e}");
            Ok(e.exit_code().clamp(1, 255) as u8)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            Ok(1)
        }
    }
}

/// Creates the exec and starts it: detached, or attached to this command's stdio.
fn run_exec(
    containers: &Containers<'_>,
    record: &strata_containers::ContainerRecord,
    opts: &ExecOptions,
    detach: bool,
    keys: &strata_runtime::detach_keys::DetachKeys,
) -> std::result::Result<i32, Box<strata_runtime::RuntimeError>> {
    let launcher = crate::fork_launcher::ForkLauncher::default();
    let exec = strata_runtime::exec::create(containers, record, opts)?;
    if detach {
        strata_runtime::exec::start_detached(containers, &exec, &launcher)?;
        return Ok(0);
    }
    let mut terminal = crate::terminal::Terminal::new(opts.tty, opts.interactive);
    let mut window = crate::terminal::resized;
    match strata_runtime::exec::start_attached(containers, &exec, &launcher, terminal.io(&mut window), keys)? {
        Ended::Exited(code) => Ok(code),
        Ended::Detached => Ok(0),
    }
}

pub fn logs(store: &ImageStore, args: LogsArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    let now = chrono::Utc::now();
    let options = LogOptions {
        since: args.since.as_deref().map(|s| log_time(s, "--since", now)).transpose()?,
        until: args.until.as_deref().map(|s| log_time(s, "--until", now)).transpose()?,
        tail: match args.tail.as_str() {
            "all" => None,
            n => Some(n.parse().map_err(|_| anyhow::anyhow!("invalid --tail value {n:?}"))?),
        },
        follow: args.follow,
    };
    let (timestamps, details) = (args.timestamps, args.details);
    strata_runtime::logs::read_logs(&containers, &record, &options, &mut |entry| {
        print_entry(&entry, timestamps, details);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(0)
}

/// Docker's ways of naming a time: RFC 3339, Unix seconds, or a duration ago (`10m`).
fn log_time(text: &str, flag: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let unix = text.parse::<f64>().ok().filter(|s| *s >= 0.0);
    if let Some(t) = unix.and_then(|s| DateTime::from_timestamp(s.trunc() as i64, (s.fract() * 1e9) as u32)) {
        return Ok(t);
    }
    let ago = [("s", 1), ("m", 60), ("h", 3600)].iter().find_map(|(unit, scale)| {
        let n: i64 = text.strip_suffix(unit)?.parse().ok()?;
        Some(now - chrono::Duration::seconds(n * scale))
    });
    ago.with_context(|| {
        format!("invalid {flag} value {text:?}: use RFC 3339 (2024-01-02T13:23:37Z), Unix seconds or a duration such as 10m")
    })
}

/// An entry on the stream it came from, after its time with `-t` and its details with
/// `--details`.
fn print_entry(entry: &LogEntry, timestamps: bool, details: bool) {
    let mut text = Vec::with_capacity(entry.bytes.len() + 32);
    if timestamps {
        text.extend_from_slice(strata_images::config::go_rfc3339_nano(entry.time).as_bytes());
        text.push(b' ');
    }
    if details {
        text.extend_from_slice(entry.details_prefix());
    }
    text.extend_from_slice(&entry.bytes);
    match entry.stream {
        LogStream::Stderr => {
            let _ = std::io::stderr().write_all(&text);
        }
        LogStream::Stdout => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&text);
            // Followed logs show up as they come.
            let _ = out.flush();
        }
    }
}

fn each(
    store: &ImageStore,
    names: &[String],
    f: impl Fn(&Containers<'_>, &strata_containers::ContainerRecord) -> Result<()>,
) -> Result<u8> {
    let containers = Containers::new(store);
    let mut status = 0;
    for name in names {
        match containers
            .resolve(name)
            .map_err(anyhow::Error::from)
            .and_then(|c| f(&containers, &c))
        {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error: {}", crate::output::error_chain(&e));
                status = 1;
            }
        }
    }
    Ok(status)
}

pub fn stop(store: &ImageStore, args: StopArgs) -> Result<u8> {
    each(store, &args.containers, |c, r| {
        Ok(lifecycle::stop(c, r, lifecycle::stop_timeout(c, r, args.time))?)
    })
}

pub fn restart(store: &ImageStore, args: RestartArgs) -> Result<u8> {
    each(store, &args.containers, |c, r| {
        Ok(lifecycle::restart(
            c,
            r,
            lifecycle::stop_timeout(c, r, args.time),
            &crate::fork_launcher::ForkLauncher::default(),
        )?)
    })
}

pub fn kill(store: &ImageStore, args: KillArgs) -> Result<u8> {
    let signal = lifecycle::parse_signal(&args.signal)?;
    each(store, &args.containers, |c, r| Ok(lifecycle::kill(c, r, signal)?))
}

/// `wait`: each container in turn, as Docker's; one that cannot be waited for is
/// reported and the others still are (status 1 then).
pub fn wait(store: &ImageStore, args: WaitArgs) -> Result<u8> {
    let condition: strata_runtime::wait::WaitCondition = args.condition.parse()?;
    let containers = Containers::new(store);
    let mut status = 0;
    for name in &args.containers {
        let waited = containers
            .resolve(name)
            .map_err(anyhow::Error::from)
            .and_then(|record| Ok(strata_runtime::wait::wait(&containers, &record, condition)?));
        match waited {
            Ok(code) => println!("{code}"),
            Err(e) => {
                eprintln!("Error: {}", crate::output::error_chain(&e));
                status = 1;
            }
        }
    }
    Ok(status)
}

#[derive(clap::Args)]
pub struct PauseArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `pause` (freeze all processes of the container) and `unpause`.
pub fn pause(store: &ImageStore, args: PauseArgs, frozen: bool) -> Result<u8> {
    each(store, &args.containers, |c, r| Ok(lifecycle::pause(c, r, frozen)?))
}

#[derive(clap::Args)]
pub struct UpdateArgs {
    /// Memory limit
    #[arg(short, long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long)]
    cpu_quota: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    cpu_period: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `update`: resources and the restart policy, running or not (Docker's output: the
/// names given).
pub fn update(store: &ImageStore, args: UpdateArgs) -> Result<u8> {
    let size = |flag: &Option<String>| -> Result<Option<i64>> {
        Ok(match flag.as_deref() {
            Some("-1") => Some(-1),
            Some(s) => Some(crate::output::parse_size(s)?),
            None => None,
        })
    };
    let changes = lifecycle::UpdateOptions {
        memory: size(&args.memory)?,
        nano_cpus: args.cpus.map(|c| (c * 1e9) as i64),
        pids_limit: args.pids_limit,
        memory_swap: size(&args.memory_swap)?,
        memory_reservation: size(&args.memory_reservation)?,
        cpu_shares: args.cpu_shares,
        cpu_quota: args.cpu_quota,
        cpu_period: args.cpu_period,
        cpuset_cpus: args.cpuset_cpus.clone(),
        restart: args.restart.clone(),
    };
    each(store, &args.containers, |c, r| Ok(lifecycle::update(c, r, &changes)?))
}

#[derive(clap::Args)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

pub fn rename(store: &ImageStore, args: RenameArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    containers.rename(&record, &args.new_name)?;
    Ok(0)
}

#[derive(clap::Args)]
pub struct TopArgs {
    container: String,
    /// ps options (default: -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

/// `top`: the container's processes as the host's `ps` shows them, in Docker's table.
pub fn top(store: &ImageStore, args: TopArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    let top = strata_runtime::top::top(&containers, &record, &args.ps_args)?;
    let mut rows = vec![top.titles];
    rows.extend(top.processes);
    print!("{}", crate::output::table(&rows));
    Ok(0)
}

#[derive(clap::Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// CONTAINER:SRC_PATH or a host path
    source: String,
    /// CONTAINER:DEST_PATH or a host path
    destination: String,
}

/// `cp`: exactly one side names a container (`NAME:PATH`).
pub fn cp(store: &ImageStore, args: CpArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let options = strata_runtime::copy::CopyOptions {
        archive: args.archive,
        follow_link: args.follow_link,
    };
    let split = |s: &str| -> Option<(String, String)> {
        let (name, path) = s.split_once(':')?;
        (!name.is_empty() && !name.contains('/')).then(|| (name.to_string(), path.to_string()))
    };
    match (split(&args.source), split(&args.destination)) {
        (Some((name, path)), None) => {
            let record = containers.resolve(&name)?;
            strata_runtime::copy::copy_out(
                &containers,
                &record,
                &path,
                std::path::Path::new(&args.destination),
                &options,
            )?;
        }
        (None, Some((name, path))) => {
            let record = containers.resolve(&name)?;
            strata_runtime::copy::copy_in(
                &containers,
                &record,
                std::path::Path::new(&args.source),
                &path,
                &options,
            )?;
        }
        _ => anyhow::bail!("copying between containers or between host paths is not supported: name exactly one side as CONTAINER:PATH"),
    }
    Ok(0)
}
