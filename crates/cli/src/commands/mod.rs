//! One module per command, each parsing its flags and printing Docker's output.

mod build;
mod changes;
mod events;
mod explore;
mod history;
mod images;
mod import;
mod inspect;
mod load;
mod network;
mod process;
mod ps;
mod registry;
mod rm;
mod rmi;
mod run;
mod save;
mod service;
mod stats;
mod system;
mod volume;

use anyhow::Result;
use clap::Subcommand;
use std::path::Path;
use strata_images::ImageStore;

#[derive(Subcommand)]
pub enum Command {
    /// List images
    Images(images::Args),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Import the contents from a tarball to create a filesystem image
    Import(import::Args),
    /// Load an image from a tar archive or STDIN
    Load(load::Args),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(save::Args),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Build an image from a Dockerfile
    Build(Box<build::Args>),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out from a registry
    Logout(registry::LogoutArgs),
    /// Search a registry for images
    Search(registry::SearchArgs),
    /// Return low-level information on images
    Inspect(inspect::Args),
    /// Show the history of an image
    History(history::Args),
    /// Show what each layer adds, changes, removes and wastes (also `strata explore`)
    Explore(explore::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(rmi::TagArgs),
    /// Remove one or more images
    Rmi(rmi::Args),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::Command),
    /// Manage strata
    #[command(subcommand)]
    System(system::Command),
    /// Create and run a new container from an image
    Run(run::RunArgs),
    /// Create a new container
    Create(run::CreateArgs),
    /// Start one or more stopped containers
    Start(run::StartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(run::AttachArgs),
    /// List containers
    Ps(ps::Args),
    /// Remove one or more containers
    Rm(rm::Args),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(changes::DiffArgs),
    /// Create a new image from a container's changes
    Commit(changes::CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(changes::ExportArgs),
    /// Execute a command in a running container
    Exec(process::ExecArgs),
    /// Fetch the logs of a container
    Logs(process::LogsArgs),
    /// Stop one or more running containers
    Stop(process::StopArgs),
    /// Restart one or more containers
    Restart(process::RestartArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::Args),
    /// Kill one or more running containers
    Kill(process::KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(process::WaitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(process::CpArgs),
    /// Rename a container
    Rename(process::RenameArgs),
    /// Update configuration of one or more containers
    Update(process::UpdateArgs),
    /// Display the running processes of a container
    Top(process::TopArgs),
    /// Pause all processes within one or more containers
    Pause(process::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(process::PauseArgs),
    /// The monitor a detached container runs under (internal)
    #[command(name = "__monitor", hide = true)]
    Monitor {
        id: String,
        /// Start the container once the launcher has attached (`run -it`).
        #[arg(long)]
        attach_first: bool,
        /// Look after this exec of the container instead.
        #[arg(long)]
        exec: Option<String>,
    },
    /// The proxy of a container's published ports (internal)
    #[command(name = "__proxy", hide = true)]
    Proxy { pid: i32, relays: Vec<String> },
    /// Manage networks
    #[command(subcommand)]
    Network(network::Command),
    /// List port mappings or a specific mapping for the container
    Port(network::PortArgs),
    /// Show the strata version information
    Version,
    /// Display system-wide information
    Info(system::InfoArgs),
    /// Get real time events from the server
    Events(events::Args),
}

#[derive(Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(images::Args),
    /// Display detailed information on one or more images
    Inspect(inspect::Args),
    /// Import the contents from a tarball to create a filesystem image
    Import(import::Args),
    /// Load an image from a tar archive or STDIN
    Load(load::Args),
    /// Save one or more images to a tar archive
    Save(save::Args),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Build an image from a Dockerfile
    Build(Box<build::Args>),
    /// Show the history of an image
    History(history::Args),
    /// Show what each layer adds, changes, removes and wastes (also `strata explore`)
    Explore(explore::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(rmi::TagArgs),
    /// Remove one or more images
    Rm(rmi::Args),
    /// Remove unused images
    Prune(rmi::PruneArgs),
    /// Show the files that differ between two images and the layers they share
    Diff(explore::DiffArgs),
}

#[derive(Subcommand)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(build::PruneArgs),
}

#[derive(Subcommand)]
pub enum ContainerCommand {
    /// List containers
    #[command(alias = "list", alias = "ps")]
    Ls(ps::Args),
    /// Display detailed information on one or more containers
    Inspect(inspect::Args),
    /// Remove one or more containers
    Rm(rm::Args),
    /// Remove all stopped containers
    Prune(rm::PruneArgs),
}

/// The engine settings the global flags (or their environment variables) give.
pub struct Settings {
    pub max_layer_size: Option<String>,
    pub storage_driver: Option<String>,
    pub bridge_subnet: Option<String>,
}

fn open_store(root: &Path, settings: &Settings) -> Result<ImageStore> {
    let mut store = ImageStore::open(root)?;
    if let Some(size) = &settings.max_layer_size {
        store.set_max_layer_bytes(crate::output::parse_size(size)? as u64);
    }
    if let Some(driver) = &settings.storage_driver {
        store.set_storage_driver(driver)?;
    }
    store.set_default_bridge_subnet(settings.bridge_subnet.clone());
    Ok(store)
}

/// Runs a command; returns the process exit code.
pub fn run(root: &Path, settings: Settings, command: Command) -> Result<u8> {
    if let Command::Version = command {
        println!("strata version {}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    let command = match command {
        Command::Login(a) => return registry::login(a),
        Command::Logout(a) => return registry::logout(a),
        Command::Search(a) => return registry::search(a),
        other => other,
    };
    // A start is coming: the wait of its cgroup move begins now, before the store opens.
    let launcher = match command {
        Command::Run(_) | Command::Start(_) => crate::fork_launcher::ForkLauncher::warming_up(),
        _ => crate::fork_launcher::ForkLauncher::default(),
    };
    let store = open_store(root, &settings)?;
    match command {
        Command::System(system::Command::Service(a)) => service::run(store, a),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => registry::pull(&store, a),
        Command::Build(a) | Command::Image(ImageCommand::Build(a)) => build::run(&store, *a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => registry::push(&store, a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::run(&store, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => import::run(&store, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load::run(&store, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => save::run(&store, a),
        Command::Inspect(a) => inspect::run(&store, a),
        Command::Image(ImageCommand::Inspect(a)) => inspect::run(&store, a.only(inspect::Kind::Image)),
        Command::Container(ContainerCommand::Inspect(a)) => inspect::run(&store, a.only(inspect::Kind::Container)),
        Command::Container(ContainerCommand::Ls(a)) => ps::run(&store, a),
        Command::Container(ContainerCommand::Rm(a)) => rm::run(&store, a),
        Command::Container(ContainerCommand::Prune(a)) => rm::prune(&store, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => history::run(&store, a),
        Command::Explore(a) | Command::Image(ImageCommand::Explore(a)) => explore::run(&store, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => rmi::tag(&store, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::run(&store, a),
        Command::Image(ImageCommand::Prune(a)) => rmi::prune(&store, a),
        Command::Image(ImageCommand::Diff(a)) => explore::diff(&store, a),
        Command::Builder(BuilderCommand::Prune(a)) => build::prune(&store, a),
        Command::System(c) => system::run(&store, c),
        Command::Info(a) => system::info(&store, a),
        Command::Events(a) => events::run(&store, a),
        Command::Volume(c) => volume::run(&store, c),
        Command::Run(a) => run::run(&store, a, &launcher),
        Command::Create(a) => run::create(&store, a),
        Command::Start(a) => run::start(&store, a, &launcher),
        Command::Attach(a) => run::attach(&store, a),
        Command::Ps(a) => ps::run(&store, a),
        Command::Rm(a) => rm::run(&store, a),
        Command::Exec(a) => process::exec(&store, a),
        Command::Logs(a) => process::logs(&store, a),
        Command::Stop(a) => process::stop(&store, a),
        Command::Restart(a) => process::restart(&store, a),
        Command::Stats(a) => stats::run(&store, a),
        Command::Kill(a) => process::kill(&store, a),
        Command::Wait(a) => process::wait(&store, a),
        Command::Pause(a) => process::pause(&store, a, true),
        Command::Rename(a) => process::rename(&store, a),
        Command::Update(a) => process::update(&store, a),
        Command::Cp(a) => process::cp(&store, a),
        Command::Top(a) => process::top(&store, a),
        Command::Unpause(a) => process::pause(&store, a, false),
        Command::Monitor { id, attach_first, exec } => run::monitor(&store, &id, exec.as_deref(), attach_first),
        Command::Proxy { pid, relays } => network::proxy(pid, &relays),
        Command::Network(c) => network::run(&store, c),
        Command::Port(args) => network::port(&store, args),
        Command::Diff(a) => changes::diff(&store, a),
        Command::Commit(a) => changes::commit(&store, a),
        Command::Export(a) => changes::export(&store, a),
        Command::Version | Command::Login(_) | Command::Logout(_) | Command::Search(_) => {
            unreachable!("handled above")
        }
    }
}
