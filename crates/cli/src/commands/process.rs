//! `strata exec`, `logs`, `stop`, `kill`, `wait`

use anyhow::Result;
use std::io::{BufRead, Read, Seek, Write};
use std::time::Duration;
use strata_containers::{ContainerState, Containers};
use strata_images::ImageStore;
use strata_runtime::lifecycle::{self, ExecOptions};
use strata_runtime::monitor::log_path;

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
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
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
    /// Show logs since timestamp (RFC 3339, e.g. 2024-01-02T13:23:37Z)
    #[arg(long)]
    since: Option<String>,
    container: String,
}

#[derive(clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short, long, default_value_t = 10)]
    time: u64,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container
    #[arg(short, long, default_value_t = 10)]
    time: u64,
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
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn exec(store: &ImageStore, args: ExecArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    let _ = args.interactive;
    let opts = ExecOptions {
        command: args.command,
        env: crate::caller_env::with_caller_values(&args.env),
        workdir: args.workdir,
        user: args.user,
        detach: args.detach,
        tty: args.tty,
    };
    match lifecycle::exec(&containers, &record, &opts) {
        Ok(code) => Ok(code.clamp(0, 255) as u8),
        // Docker: 126/127 when the command cannot run, 1 for anything else.
        Err(e @ strata_runtime::RuntimeError::Start { .. }) => {
            eprintln!("Error: {e}");
            Ok(e.exit_code().clamp(1, 255) as u8)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            Ok(1)
        }
    }
}

/// One record of a json-file log.
#[derive(serde::Deserialize)]
struct LogRecord {
    log: String,
    stream: String,
    time: String,
}

fn print_record(line: &str, timestamps: bool, since: Option<&str>) {
    let Ok(r) = serde_json::from_str::<LogRecord>(line) else {
        return;
    };
    if since.is_some_and(|s| r.time.as_str() < s) {
        return;
    }
    let text = if timestamps {
        format!("{} {}", r.time, r.log)
    } else {
        r.log
    };
    if r.stream == "stderr" {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
}

pub fn logs(store: &ImageStore, args: LogsArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    let path = log_path(&containers, &record.id);
    let Ok(file) = std::fs::File::open(&path) else {
        return Ok(0);
    };
    let mut reader = std::io::BufReader::new(file);
    let lines: Vec<String> = reader.by_ref().lines().map_while(|l| l.ok()).collect();
    let skip = match args.tail.as_str() {
        "all" => 0,
        n => lines.len().saturating_sub(
            n.parse::<usize>()
                .map_err(|_| anyhow::anyhow!("invalid --tail value {n:?}"))?,
        ),
    };
    for line in &lines[skip..] {
        print_record(line, args.timestamps, args.since.as_deref());
    }
    let _ = std::io::stdout().flush();
    if args.follow {
        follow(&containers, &record.id, &mut reader, &args)?;
    }
    Ok(0)
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
        Ok(lifecycle::stop(c, r, Duration::from_secs(args.time))?)
    })
}

pub fn restart(store: &ImageStore, args: RestartArgs) -> Result<u8> {
    let exe = std::env::current_exe()?;
    each(store, &args.containers, |c, r| {
        Ok(lifecycle::restart(c, r, Duration::from_secs(args.time), &exe)?)
    })
}

pub fn kill(store: &ImageStore, args: KillArgs) -> Result<u8> {
    let signal = lifecycle::parse_signal(&args.signal)?;
    each(store, &args.containers, |c, r| Ok(lifecycle::kill(c, r, signal)?))
}

pub fn wait(store: &ImageStore, args: WaitArgs) -> Result<u8> {
    let containers = Containers::new(store);
    for name in &args.containers {
        let record = containers.resolve(name)?;
        let code = lifecycle::wait_exit(&containers, &record, None)?;
        println!("{}", code.unwrap_or(255));
    }
    Ok(0)
}

/// `logs -f`: prints records as the monitor appends them, until the container ends.
fn follow(
    containers: &Containers<'_>,
    id: &str,
    reader: &mut std::io::BufReader<std::fs::File>,
    args: &LogsArgs,
) -> Result<()> {
    loop {
        let mut line = String::new();
        let pos = reader.stream_position()?;
        if reader.read_line(&mut line)? > 0 && line.ends_with('\n') {
            print_record(line.trim_end(), args.timestamps, args.since.as_deref());
            let _ = std::io::stdout().flush();
            continue;
        }
        reader.seek(std::io::SeekFrom::Start(pos))?;
        let fresh = lifecycle::reconcile(containers)?.into_iter().find(|c| c.id == id);
        if fresh.is_none_or(|c| c.state != ContainerState::Running) {
            // Drain what the monitor wrote before recording the exit.
            for l in reader.by_ref().lines().map_while(|l| l.ok()) {
                print_record(&l, args.timestamps, args.since.as_deref());
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
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

/// `top`: the host's `ps` over the container's processes (its cgroup), as Docker does.
pub fn top(store: &ImageStore, args: TopArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    let fresh = lifecycle::reconcile(&containers)?
        .into_iter()
        .find(|c| c.id == record.id);
    if fresh.is_none_or(|c| c.state != ContainerState::Running) {
        anyhow::bail!("container {} is not running", record.name);
    }
    let pids: Vec<String> = strata_runtime::cgroups::Cgroup::new(&record.id)
        .pids()
        .iter()
        .map(|p| p.to_string())
        .collect();
    let mut ps = std::process::Command::new(strata_host_programs::PS.find()?);
    if args.ps_args.is_empty() {
        ps.arg("-f");
    } else {
        ps.args(&args.ps_args);
    }
    let status = ps.arg("-p").arg(pids.join(",")).status()?;
    Ok(if status.success() { 0 } else { 1 })
}

#[derive(clap::Args)]
pub struct CpArgs {
    /// CONTAINER:SRC_PATH or a host path
    source: String,
    /// CONTAINER:DEST_PATH or a host path
    destination: String,
}

/// `cp`: exactly one side names a container (`NAME:PATH`).
pub fn cp(store: &ImageStore, args: CpArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let split = |s: &str| -> Option<(String, String)> {
        let (name, path) = s.split_once(':')?;
        (!name.is_empty() && !name.contains('/')).then(|| (name.to_string(), path.to_string()))
    };
    match (split(&args.source), split(&args.destination)) {
        (Some((name, path)), None) => {
            let record = containers.resolve(&name)?;
            strata_runtime::copy::copy_out(&containers, &record, &path, std::path::Path::new(&args.destination))?;
        }
        (None, Some((name, path))) => {
            let record = containers.resolve(&name)?;
            strata_runtime::copy::copy_in(&containers, &record, std::path::Path::new(&args.source), &path)?;
        }
        _ => anyhow::bail!("copying between containers or between host paths is not supported: name exactly one side as CONTAINER:PATH"),
    }
    Ok(0)
}
