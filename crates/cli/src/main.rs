//! `strata`: the command line. It parses arguments, calls the `strata-images` library
//! and prints what Docker would print. No engine logic lives here.

mod caller_env;
mod cgroup_warmup;
mod closed_stdout;
mod commands;
mod explore_view;
mod fork_launcher;
mod output;
mod progress;
mod sig_proxy;
mod terminal;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// A daemonless, Docker-compatible container image and container engine.
#[derive(Parser)]
#[command(name = "strata", version, propagate_version = true, disable_help_subcommand = false)]
struct Cli {
    /// Root directory of the store.
    #[arg(long, global = true, env = "STRATA_ROOT", default_value = "/var/lib/strata")]
    root: PathBuf,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    /// Most bytes of file content one image layer may expand to (decompression bombs), e.g. 20g
    #[arg(long, global = true, env = "STRATA_MAX_LAYER_SIZE")]
    max_layer_size: Option<String>,
    /// Storage driver for containers' writable layers: overlay, or vfs (full copies, where overlayfs is unavailable)
    #[arg(long, global = true, env = "STRATA_STORAGE_DRIVER")]
    storage_driver: Option<String>,
    /// Subnet of the default bridge network when it is made (Docker's --bip), e.g. 10.99.0.0/24
    #[arg(long, global = true, env = "STRATA_BRIDGE_SUBNET")]
    bridge_subnet: Option<String>,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // Docker's CLI exits 125 on usage errors.
                _ => 125,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    env_logger::Builder::new().parse_filters(&cli.log_level).init();
    closed_stdout::quiet_print_panics();
    let settings = commands::Settings {
        max_layer_size: cli.max_layer_size,
        storage_driver: cli.storage_driver,
        bridge_subnet: cli.bridge_subnet,
    };
    match commands::run(&cli.root, settings, cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) if closed_stdout::is_broken_pipe(&e) && closed_stdout::is_closed() => closed_stdout::die_of_sigpipe(),
        Err(e) => {
            eprintln!("Error: {}", output::error_chain(&e));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
