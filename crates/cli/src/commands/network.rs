//! `strata network create|ls|inspect|rm|connect|disconnect|prune`, `port`, and the
//! hidden `__proxy` process of published ports.

use crate::output::{render, table, Format};
use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::json;
use strata_containers::Containers;
use strata_images::FilterArgs;
use strata_images::ImageStore;
use strata_network::NetworkOptions;
use strata_runtime::network_inspect::{find_network, list_networks};
use strata_runtime::networking;

#[derive(Subcommand)]
pub enum Command {
    /// Create a network
    Create {
        /// Driver to manage the network (bridge)
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR format, e.g. 10.90.0.0/24; one IPv4 and, with --ipv6, one IPv6
        #[arg(long)]
        subnet: Vec<String>,
        /// Gateway for a subnet (one per address family)
        #[arg(long)]
        gateway: Vec<String>,
        /// Enable IPv6 networking (needs an IPv6 --subnet)
        #[arg(long)]
        ipv6: bool,
        /// Restrict external access to the network
        #[arg(long)]
        internal: bool,
        /// Set metadata on a network
        #[arg(long)]
        label: Vec<String>,
        /// Set driver specific options (com.docker.network.driver.mtu=N)
        #[arg(short, long = "opt")]
        opt: Vec<String>,
        name: String,
    },
    /// List networks
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs
        #[arg(short, long)]
        quiet: bool,
        /// Do not truncate the output
        #[arg(long)]
        no_trunc: bool,
        /// Filter output based on conditions provided (driver, id, label, name, scope, type)
        #[arg(short, long)]
        filter: Vec<String>,
        /// Format output using a Go template, or "json"
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more networks
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network
    Connect {
        /// IPv4 address (e.g., 172.30.100.104)
        #[arg(long)]
        ip: Option<String>,
        /// IPv6 address (e.g., fd12:3456:789a:1::10), on a network with IPv6
        #[arg(long)]
        ip6: Option<String>,
        /// Add network-scoped alias for the container
        #[arg(long)]
        alias: Vec<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network
    Disconnect {
        /// Accepted for compatibility
        #[arg(short, long)]
        force: bool,
        network: String,
        container: String,
    },
    /// Remove all unused networks
    Prune {
        /// Do not prompt for confirmation
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (e.g. "until=24h", "label=KEY=VALUE")
        #[arg(long)]
        filter: Vec<String>,
    },
}

pub fn run(store: &ImageStore, command: Command) -> Result<u8> {
    let containers = Containers::new(store);
    let networks = strata_runtime::networking::networks(store);
    match command {
        Command::Create {
            driver,
            subnet,
            gateway,
            ipv6,
            internal,
            label,
            opt,
            name,
        } => {
            let pairs = |list: &[String]| -> Vec<(String, String)> {
                list.iter()
                    .map(|l| {
                        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
                        (k.to_string(), v.to_string())
                    })
                    .collect()
            };
            let opts = NetworkOptions {
                name,
                driver,
                subnets: subnet,
                gateways: gateway,
                ipv6,
                internal,
                labels: pairs(&label),
                options: pairs(&opt),
            };
            let record = networks.create(&mut store.db(), &opts)?;
            println!("{}", record.id);
        }
        Command::Ls {
            quiet,
            no_trunc,
            filter,
            format,
        } => {
            let all = list_networks(&containers, &FilterArgs::parse(&filter)?)?;
            let short = |id: &str| if no_trunc { id.to_string() } else { id[..12].to_string() };
            let rows: Vec<(String, String, String)> = all
                .iter()
                .map(|n| (short(&n.id), n.name.clone(), n.driver.clone()))
                .collect();
            match (quiet, format.as_deref().map(Format::parse)) {
                (true, _) => rows.iter().for_each(|r| println!("{}", r.0)),
                (false, Some(Format::Json)) => {
                    for r in &rows {
                        println!(
                            "{}",
                            json!({"ID": r.0, "Name": r.1, "Driver": r.2, "Scope": "local", "IPv6": "false", "Internal": "false", "Labels": ""})
                        );
                    }
                }
                (false, Some(Format::Template { text, .. })) => {
                    for r in &rows {
                        println!(
                            "{}",
                            render(&text, &json!({"ID": r.0, "Name": r.1, "Driver": r.2, "Scope": "local"}))?
                        );
                    }
                }
                (false, None) => {
                    let mut t = vec![["NETWORK ID", "NAME", "DRIVER", "SCOPE"].map(String::from).to_vec()];
                    t.extend(rows.into_iter().map(|r| vec![r.0, r.1, r.2, "local".into()]));
                    print!("{}", table(&t));
                }
            }
        }
        Command::Inspect {
            format,
            networks: names,
        } => {
            let mut docs = Vec::new();
            for name in &names {
                docs.push(serde_json::to_value(find_network(&containers, name)?)?);
            }
            match format.as_deref().map(Format::parse) {
                None | Some(Format::Json) => println!("{}", serde_json::to_string_pretty(&docs)?),
                Some(Format::Template { text, .. }) => {
                    for d in &docs {
                        println!("{}", render(&text, d)?);
                    }
                }
            }
        }
        Command::Rm { networks: names } => {
            let mut status = 0;
            for name in &names {
                match networking::remove_network(&containers, name) {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        eprintln!("Error response from daemon: {}", crate::output::error_chain(&e.into()));
                        status = 1;
                    }
                }
            }
            return Ok(status);
        }
        Command::Connect {
            ip,
            ip6,
            alias,
            network,
            container,
        } => {
            let record = containers.resolve(&container)?;
            networking::connect(&containers, &record, &network, ip.as_deref(), ip6.as_deref(), &alias)?;
        }
        Command::Disconnect {
            force: _,
            network,
            container,
        } => {
            let record = containers.resolve(&container)?;
            networking::disconnect(&containers, &record, &network)?;
        }
        Command::Prune { force: _, filter } => {
            let removed = networking::prune(&containers, &super::system::prune_filter(&filter)?)?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                removed.iter().for_each(|n| println!("{n}"));
            }
        }
    }
    Ok(0)
}

#[derive(clap::Args)]
pub struct PortArgs {
    container: String,
    /// PRIVATE_PORT[/PROTO]
    port: Option<String>,
}

/// `port CONTAINER [PORT[/PROTO]]`, in Docker's words.
pub fn port(store: &ImageStore, args: PortArgs) -> Result<u8> {
    let containers = Containers::new(store);
    let record = containers.resolve(&args.container)?;
    let published = networking::published(&containers, &record.id);
    match args.port {
        None => {
            for p in &published {
                println!("{}/{} -> {}", p.container_port, p.protocol.as_str(), p.host());
            }
        }
        Some(spec) => {
            let (port, protocol) = strata_network::ports::parse_exposed(&spec)?;
            let matching: Vec<_> = published
                .iter()
                .filter(|p| p.container_port == port && p.protocol == protocol)
                .collect();
            if matching.is_empty() {
                bail!(
                    "No public port '{port}/{}' published for {}",
                    protocol.as_str(),
                    record.name
                );
            }
            for p in matching {
                println!("{}", p.host());
            }
        }
    }
    Ok(0)
}

/// The hidden `__proxy PID RELAY...` process; a relay is `tcp|udp:FD:IP:PORT`.
pub fn proxy(pid: i32, relays: &[String]) -> Result<u8> {
    use std::os::fd::FromRawFd;
    let mut parsed = Vec::new();
    for r in relays {
        let parts: Vec<&str> = r.splitn(3, ':').collect();
        let [proto, fd, target] = parts.as_slice() else {
            bail!("bad relay {r:?}");
        };
        let protocol = match *proto {
            "tcp" => strata_network::ports::Protocol::Tcp,
            "udp" => strata_network::ports::Protocol::Udp,
            other => bail!("bad relay protocol {other:?}"),
        };
        let fd: i32 = fd.parse()?;
        parsed.push(strata_network::proxy::Relay {
            protocol,
            // SAFETY: the launcher placed this socket at this number for us alone.
            socket: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
            target: target.parse()?,
        });
    }
    strata_network::proxy::run(pid, parsed)?;
    Ok(0)
}
