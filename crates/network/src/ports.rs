//! Published ports: parsing `-p`, binding the host side before the container starts
//! (so a port in use is refused up front), and the proxy that relays each connection
//! or datagram to the container's address.

use crate::error::{NetworkError, Result};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::OwnedFd;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }

    fn parse(text: &str) -> Result<Protocol> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            other => Err(NetworkError::Invalid(format!(
                "invalid proto: {other} (strata publishes tcp and udp)"
            ))),
        }
    }
}

/// A port the user asked to publish; host port 0 means "any free port".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// Empty: every address of the host.
    pub host_ip: String,
    pub host_port: u16,
    /// `-p 8000-8010:80`: the last port of a host range for one container port, of
    /// which the first free one is bound (Docker's rule); 0 without a range.
    #[serde(default)]
    pub host_port_last: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortBinding {
    /// Docker's key for the container side: `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol.as_str())
    }
}

/// Parses `-p [ip:][hostPort:]containerPort[/proto]` where either side may be a range
/// (`8000-8010:80-90`, `80-90`): one binding per container port, host ports paired in
/// order (a container range without host ports gets free ones). A host range for one
/// container port (`8000-8010:80`) is one binding on the first free port of the range.
pub fn parse_publish_ranges(spec: &str) -> Result<Vec<PortBinding>> {
    let bad = |why: &str| NetworkError::Invalid(format!("invalid port specification {spec:?}: {why}"));
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p),
        None => (spec, "tcp"),
    };
    let (prefix, ports) = match rest.rsplit_once(':') {
        Some((before, container)) => (format!("{before}:"), container),
        None => (String::new(), rest),
    };
    let range = |text: &str| -> Result<Option<(u16, u16)>> {
        let Some((a, b)) = text.split_once('-') else {
            return Ok(None);
        };
        let (a, b): (u16, u16) = (
            a.parse().map_err(|_| bad("a range is FIRST-LAST"))?,
            b.parse().map_err(|_| bad("a range is FIRST-LAST"))?,
        );
        if a == 0 || a > b {
            return Err(bad("a range is FIRST-LAST, the first at least 1 and at most the last"));
        }
        Ok(Some((a, b)))
    };
    // The host side is what comes between the last colon but one and the last.
    let (ip_part, host_text) = match prefix.strip_suffix(':') {
        Some(p) => match p.rsplit_once(':') {
            Some((ip, host)) if !p.ends_with(']') => (format!("{ip}:"), host.to_string()),
            _ if p.starts_with('[') || p.parse::<IpAddr>().is_ok() => (format!("{p}:"), String::new()),
            _ => (String::new(), p.to_string()),
        },
        None => (String::new(), String::new()),
    };
    let containers = match range(ports)? {
        Some((a, b)) => (a..=b).collect::<Vec<u16>>(),
        None => match range(&host_text)? {
            Some((first, last)) => {
                let single = format!("{ip_part}{first}:{ports}/{protocol}");
                let mut binding = parse_publish(&single)?;
                binding.host_port_last = last;
                return Ok(vec![binding]);
            }
            None => return parse_publish(spec).map(|b| vec![b]),
        },
    };
    let hosts: Vec<String> = match range(&host_text)? {
        Some((a, b)) if usize::from(b - a) + 1 == containers.len() => (a..=b).map(|p| p.to_string()).collect(),
        Some(_) => {
            return Err(bad(
                "the host and container ranges differ in length (give a range of the same length, \
                 or a host range for one container port)",
            ))
        }
        None if host_text.is_empty() => vec![String::new(); containers.len()],
        None => return Err(bad("a container range needs a host range of the same length, or none")),
    };
    containers
        .iter()
        .zip(hosts)
        .map(|(c, h)| {
            let single = match (ip_part.is_empty(), h.is_empty()) {
                (true, true) => format!("{c}/{protocol}"),
                (true, false) => format!("{h}:{c}/{protocol}"),
                (false, _) => format!("{ip_part}{h}:{c}/{protocol}"),
            };
            parse_publish(&single)
        })
        .collect()
}

/// Parses `-p [ip:][hostPort:]containerPort[/proto]`.
pub fn parse_publish(spec: &str) -> Result<PortBinding> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, Protocol::parse(p)?),
        None => (spec, Protocol::Tcp),
    };
    let bad = |why: &str| NetworkError::Invalid(format!("invalid port specification {spec:?}: {why}"));
    // An IPv6 host address comes in brackets: [::1]:8080:80.
    let (host_ip, ports) = if let Some(stripped) = rest.strip_prefix('[') {
        let (ip, after) = stripped.split_once("]:").ok_or_else(|| bad("unclosed ["))?;
        (ip.to_string(), after.to_string())
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), rest.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => return Err(bad("too many colons")),
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
        return Err(bad("the host address is not an IP address"));
    }
    let port = |p: &str, what: &str| -> Result<u16> {
        if p.contains('-') {
            return Err(bad("port ranges are not supported; publish each port"));
        }
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0 || what == "host")
            .ok_or_else(|| bad(&format!("{what} port {p:?} is not a number from 1 to 65535")))
    };
    let (host_port, container_port) = match ports.split_once(':') {
        Some(("", c)) => (0, port(c, "container")?),
        Some((h, c)) => (port(h, "host")?, port(c, "container")?),
        None => (0, port(&ports, "container")?),
    };
    Ok(PortBinding {
        host_ip,
        host_port,
        host_port_last: 0,
        container_port,
        protocol,
    })
}

/// Parses an `--expose` entry that may be a range (`7000-7002/udp`): `port/proto` keys.
pub fn parse_exposed_ranges(spec: &str) -> Result<Vec<String>> {
    let (ports, protocol) = match spec.split_once('/') {
        Some((p, proto)) => (p, Protocol::parse(proto)?),
        None => (spec, Protocol::Tcp),
    };
    let bad = || NetworkError::Invalid(format!("invalid exposed port range {spec:?}: use FIRST-LAST"));
    let (first, last) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let (port, protocol) = parse_exposed(spec)?;
            return Ok(vec![format!("{port}/{}", protocol.as_str())]);
        }
    };
    if first == 0 || first > last {
        return Err(bad());
    }
    Ok((first..=last).map(|p| format!("{p}/{}", protocol.as_str())).collect())
}

/// Parses an `--expose`/EXPOSE entry: `80`, `80/udp`.
pub fn parse_exposed(spec: &str) -> Result<(u16, Protocol)> {
    let (port, protocol) = match spec.split_once('/') {
        Some((p, proto)) => (p, Protocol::parse(proto)?),
        None => (spec, Protocol::Tcp),
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| NetworkError::Invalid(format!("invalid exposed port {spec:?}")))?;
    Ok((port, protocol))
}

/// A published port with its host side bound.
#[derive(Debug)]
pub struct BoundPort {
    pub binding: PortBinding,
    /// The host port actually bound (chosen by the kernel for host port 0).
    pub host_port: u16,
    pub socket: OwnedFd,
    /// Without a host address, the same port on every IPv6 address too (`[::]`), as
    /// Docker does; none where the host has no IPv6.
    pub socket_v6: Option<OwnedFd>,
}

/// Binds the host side of every binding, failing (and binding nothing) if any address
/// is taken.
pub fn bind_all(bindings: &[PortBinding]) -> Result<Vec<BoundPort>> {
    bindings.iter().map(bind).collect()
}

fn bind(binding: &PortBinding) -> Result<BoundPort> {
    if binding.host_port_last == 0 || binding.host_port == 0 {
        return bind_port(binding);
    }
    // A host range for one container port: its first port free (on both families).
    let mut last_error = None;
    for port in binding.host_port..=binding.host_port_last {
        let one = PortBinding {
            host_port: port,
            host_port_last: 0,
            ..binding.clone()
        };
        match bind_port(&one) {
            Ok(mut bound) => {
                bound.binding = binding.clone();
                return Ok(bound);
            }
            Err(NetworkError::PortInUse { reason, .. }) => last_error = Some(reason),
            Err(e) => return Err(e),
        }
    }
    Err(NetworkError::PortRangeInUse {
        address: if binding.host_ip.is_empty() {
            "0.0.0.0".into()
        } else {
            binding.host_ip.clone()
        },
        first: binding.host_port,
        last: binding.host_port_last,
        reason: last_error.unwrap_or_default(),
    })
}

fn bind_port(binding: &PortBinding) -> Result<BoundPort> {
    // A port the kernel picks may be free on IPv4 and taken on IPv6: pick again.
    let attempts = if binding.host_port == 0 { 8 } else { 1 };
    for attempt in 1..=attempts {
        let (socket, port) = bind_one(binding)?;
        if !binding.host_ip.is_empty() {
            return Ok(BoundPort {
                binding: binding.clone(),
                host_port: port,
                socket,
                socket_v6: None,
            });
        }
        match bind_v6_any(binding.protocol, port) {
            Ok(socket_v6) => {
                return Ok(BoundPort {
                    binding: binding.clone(),
                    host_port: port,
                    socket,
                    socket_v6,
                })
            }
            Err(nix::errno::Errno::EADDRINUSE) if attempt < attempts => continue,
            Err(e) => {
                return Err(NetworkError::PortInUse {
                    address: "::".into(),
                    port,
                    reason: e.to_string(),
                })
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// The binding's own address (every IPv4 address without one): socket and port.
fn bind_one(binding: &PortBinding) -> Result<(OwnedFd, u16)> {
    let ip: IpAddr = if binding.host_ip.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        binding.host_ip.parse().expect("checked when parsed")
    };
    let address = SocketAddr::new(ip, binding.host_port);
    let in_use = |e: std::io::Error| NetworkError::PortInUse {
        address: ip.to_string(),
        port: binding.host_port,
        reason: e.to_string(),
    };
    Ok(match binding.protocol {
        Protocol::Tcp => {
            let l = TcpListener::bind(address).map_err(in_use)?;
            let port = l.local_addr().map_err(in_use)?.port();
            (l.into(), port)
        }
        Protocol::Udp => {
            let s = UdpSocket::bind(address).map_err(in_use)?;
            let port = s.local_addr().map_err(in_use)?.port();
            (s.into(), port)
        }
    })
}

/// `[::]:port`, IPv6 only (the IPv4 side is bound already). `None` if the host has no
/// IPv6; an error if the port is taken there.
fn bind_v6_any(protocol: Protocol, port: u16) -> nix::Result<Option<OwnedFd>> {
    use nix::sys::socket::{
        bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn6,
    };
    use std::os::fd::AsRawFd;
    let kind = match protocol {
        Protocol::Tcp => SockType::Stream,
        Protocol::Udp => SockType::Datagram,
    };
    let fd = match socket(AddressFamily::Inet6, kind, SockFlag::SOCK_CLOEXEC, None) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::EAFNOSUPPORT) => return Ok(None),
        Err(e) => return Err(e),
    };
    setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    let address = SockaddrIn6::from(std::net::SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, port, 0, 0));
    match bind(fd.as_raw_fd(), &address) {
        Ok(()) => {}
        Err(nix::errno::Errno::EADDRNOTAVAIL) => return Ok(None),
        Err(e) => return Err(e),
    }
    if protocol == Protocol::Tcp {
        listen(&fd, Backlog::new(128).expect("a valid backlog"))?;
    }
    Ok(Some(fd))
}

/// What `port` and `inspect` show of a published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub container_port: u16,
    pub protocol: Protocol,
    pub host_ip: String,
    pub host_port: u16,
}

impl PublishedPort {
    /// `0.0.0.0:8080`, `[::1]:8080`: the host side as Docker prints it.
    pub fn host(&self) -> String {
        if self.host_ip.contains(':') {
            format!("[{}]:{}", self.host_ip, self.host_port)
        } else {
            format!("{}:{}", self.host_ip, self.host_port)
        }
    }
}

impl BoundPort {
    /// How it is shown: one entry per address family bound.
    pub fn published(&self) -> Vec<PublishedPort> {
        let entry = |host_ip: &str| PublishedPort {
            container_port: self.binding.container_port,
            protocol: self.binding.protocol,
            host_ip: host_ip.to_string(),
            host_port: self.host_port,
        };
        if !self.binding.host_ip.is_empty() {
            return vec![entry(&self.binding.host_ip)];
        }
        let mut out = vec![entry("0.0.0.0")];
        if self.socket_v6.is_some() {
            out.push(entry("::"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_publish_one_port_each_paired_in_order() {
        let all = parse_publish_ranges("8000-8002:80-82").unwrap();
        let pairs: Vec<(u16, u16)> = all.iter().map(|b| (b.host_port, b.container_port)).collect();
        assert_eq!(pairs, [(8000, 80), (8001, 81), (8002, 82)]);
        let udp = parse_publish_ranges("127.0.0.1:8000-8001:80-81/udp").unwrap();
        assert!(udp
            .iter()
            .all(|b| b.host_ip == "127.0.0.1" && b.protocol == Protocol::Udp));
        assert_eq!(udp[1].host_port, 8001);
        let free = parse_publish_ranges("90-91").unwrap();
        assert!(free.iter().all(|b| b.host_port == 0) && free.len() == 2);
        let free_on_ip = parse_publish_ranges("127.0.0.1::90-91").unwrap();
        assert_eq!(
            (free_on_ip[0].host_ip.as_str(), free_on_ip[0].host_port),
            ("127.0.0.1", 0)
        );
        let one = parse_publish_ranges("[::1]:8000-8005:80/udp").unwrap();
        assert_eq!(
            (
                one.len(),
                one[0].host_ip.as_str(),
                one[0].host_port,
                one[0].host_port_last
            ),
            (1, "::1", 8000, 8005)
        );
        assert_eq!(one[0].protocol, Protocol::Udp);
        assert!(parse_publish_ranges("8000-8001:80-82").is_err());
        assert!(parse_publish_ranges("82-80").is_err());
        assert_eq!(parse_publish_ranges("8080:80").unwrap().len(), 1);
        assert_eq!(
            parse_exposed_ranges("7000-7002/udp").unwrap(),
            ["7000/udp", "7001/udp", "7002/udp"]
        );
    }

    #[test]
    fn publish_specs_parse_like_dockers() {
        let p = parse_publish("8080:80").unwrap();
        assert_eq!((p.host_ip.as_str(), p.host_port, p.container_port), ("", 8080, 80));
        let p = parse_publish("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(
            (p.host_ip.as_str(), p.host_port, p.container_port, p.protocol),
            ("127.0.0.1", 5353, 53, Protocol::Udp)
        );
        let p = parse_publish("80").unwrap();
        assert_eq!((p.host_port, p.container_port), (0, 80));
        let p = parse_publish("127.0.0.1::80").unwrap();
        assert_eq!((p.host_ip.as_str(), p.host_port), ("127.0.0.1", 0));
        assert_eq!(p.key(), "80/tcp");
    }

    #[test]
    fn bad_publish_specs_are_refused_with_the_reason() {
        for bad in ["", "0", "70000:80", "80/sctp", "1:2:3:4", "host:80:80", "8000-8010:80"] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
        assert!(parse_publish("8000-8010:80")
            .unwrap_err()
            .to_string()
            .contains("ranges"));
    }

    #[test]
    fn a_taken_port_is_refused_before_anything_starts() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = bind_all(&[parse_publish(&format!("127.0.0.1:{port}:80")).unwrap()]).unwrap_err();
        assert!(err.to_string().contains("port is already allocated"), "{err}");
        let err = bind_all(&parse_publish_ranges(&format!("127.0.0.1:{port}-{port}:80")).unwrap()).unwrap_err();
        assert!(err.to_string().contains(&format!("{port}-{port}")), "{err}");
    }
}
