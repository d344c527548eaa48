//! `strata system service [--time SECONDS] [--allow-tcp] [URI]`: the Docker Engine API
//! on a socket. The environment is read here (systemd's socket activation), never in
//! the service library.

use anyhow::{bail, Context, Result};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
use strata_engine_api::{ListenUri, Listener, ServeOptions, DEFAULT_URI};
use strata_images::ImageStore;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds without requests before the service exits (0: never)
    #[arg(short, long, default_value_t = 5)]
    time: u64,
    /// Allow a tcp:// URI (the API is unauthenticated: whoever reaches the port controls the host)
    #[arg(long)]
    allow_tcp: bool,
    /// unix:///PATH or tcp://IP:PORT (ignored when systemd passes the socket)
    #[arg(default_value = DEFAULT_URI)]
    uri: String,
}

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

pub fn run(store: ImageStore, args: Args) -> Result<u8> {
    let listener = match activated_socket()? {
        Some(fd) => Listener::from_fd(fd)?,
        None => {
            let uri = ListenUri::parse(&args.uri, args.allow_tcp)?;
            if let ListenUri::Tcp(address) = &uri {
                eprintln!(
                    "WARNING: serving the Engine API on tcp://{address} without authentication: \
                     anyone who can reach it controls this host"
                );
            }
            uri.bind()?
        }
    };
    let options = ServeOptions {
        idle_timeout: (args.time > 0).then(|| Duration::from_secs(args.time)),
        monitor_exe: std::env::current_exe().context("finding strata's binary, which monitors run as")?,
        registry: super::registry::service_client_options(),
    };
    strata_engine_api::serve(store, listener, options)?;
    Ok(0)
}

/// The socket systemd passed, if the variables are meant for this process
/// (sd_listen_fds(3)).
fn activated_socket() -> Result<Option<OwnedFd>> {
    let for_us = std::env::var("LISTEN_PID").is_ok_and(|pid| pid.trim() == std::process::id().to_string());
    if !for_us {
        return Ok(None);
    }
    let count: i32 = std::env::var("LISTEN_FDS")
        .context("LISTEN_PID is set without LISTEN_FDS")?
        .trim()
        .parse()
        .context("LISTEN_FDS is not a number")?;
    match count {
        0 => Ok(None),
        1 => {
            // Containers started later must not inherit the listening socket.
            nix::fcntl::fcntl(
                // SAFETY: systemd passed this descriptor to this process (LISTEN_PID).
                unsafe { std::os::fd::BorrowedFd::borrow_raw(LISTEN_FDS_START) },
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .context("marking the passed socket close-on-exec")?;
            // SAFETY: as above; nothing else in strata owns descriptor 3.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(LISTEN_FDS_START) }))
        }
        n => bail!("systemd passed {n} sockets; strata serves one (a .socket unit with one ListenStream=)"),
    }
}
