//! Address management: choosing a subnet no route of the host already covers, and the
//! lowest free address in a subnet; IPv4, and IPv6 for networks created with `--ipv6`.

use crate::error::{NetworkError, Result};
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Candidates for a new network's subnet, in order (Docker's default pools, /16 for
/// the default bridge and /24 for the others keep every range a private one).
pub fn candidates(default_bridge: bool) -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    if default_bridge {
        for b in 17..=31u8 {
            out.push(Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid"));
        }
    }
    for b in 0..=255u8 {
        out.push(Ipv4Net::new(Ipv4Addr::new(10, 89, b, 0), 24).expect("valid"));
    }
    for b in 0..=255u8 {
        out.push(Ipv4Net::new(Ipv4Addr::new(192, 168, b, 0), 24).expect("valid"));
    }
    out
}

/// The first candidate that overlaps none of `taken` (the host's routes and subnets of
/// strata's other networks). A default route (0.0.0.0/0) overlaps nothing.
pub fn choose(candidates: &[Ipv4Net], taken: &[Ipv4Net]) -> Result<Ipv4Net> {
    candidates
        .iter()
        .copied()
        .find(|c| !taken.iter().any(|t| t.prefix_len() > 0 && overlaps(c, t)))
        .ok_or_else(|| {
            NetworkError::Invalid(
                "no free private subnet for a new network: every candidate overlaps a route of this host; \
                 give one with --subnet"
                    .into(),
            )
        })
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The gateway of a subnet: its first host address.
pub fn gateway(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

/// The lowest host address of `subnet` that is neither the gateway nor `taken`.
/// Whether a container may be given `ip` on `subnet`: inside it, and neither its
/// network, broadcast nor gateway address. The reason if not.
pub fn check_static(subnet: &Ipv4Net, gateway: Ipv4Addr, ip: Ipv4Addr) -> std::result::Result<(), String> {
    if !subnet.contains(&ip) {
        return Err(format!("it is outside the network's subnet {subnet}"));
    }
    if ip == subnet.network() || ip == subnet.broadcast() {
        return Err(format!("it is the subnet {subnet}'s network or broadcast address"));
    }
    if ip == gateway {
        return Err("it is the network's gateway".into());
    }
    Ok(())
}

pub fn next_free(subnet: &Ipv4Net, gateway: Ipv4Addr, taken: &[String]) -> Option<Ipv4Addr> {
    let taken: std::collections::HashSet<Ipv4Addr> = taken.iter().filter_map(|t| t.parse().ok()).collect();
    subnet.hosts().find(|ip| *ip != gateway && !taken.contains(ip))
}

/// Parses a `--subnet`; it must be IPv4 and leave room for a gateway and a container.
pub fn parse_subnet(text: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = text.parse().map_err(|_| {
        NetworkError::Invalid(format!(
            "invalid subnet {text:?}: expected IPv4 CIDR such as 10.90.0.0/24"
        ))
    })?;
    if net.prefix_len() > 30 {
        return Err(NetworkError::Invalid(format!(
            "subnet {text} is too small: it needs room for a gateway and containers (/30 or larger)"
        )));
    }
    Ok(net.trunc())
}

/// Parses an IPv6 `--subnet`; it must leave room for a gateway and containers.
pub fn parse_subnet6(text: &str) -> Result<Ipv6Net> {
    let net: Ipv6Net = text.parse().map_err(|_| {
        NetworkError::Invalid(format!(
            "invalid subnet {text:?}: expected IPv6 CIDR such as fd12:3456:789a::/64"
        ))
    })?;
    if net.prefix_len() > 126 {
        return Err(NetworkError::Invalid(format!(
            "subnet {text} is too small: it needs room for a gateway and containers (/126 or larger)"
        )));
    }
    Ok(net.trunc())
}

pub fn overlaps6(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The gateway of an IPv6 subnet: its first address after the subnet-router anycast one.
pub fn gateway6(subnet: &Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(subnet.network()) + 1)
}

/// Whether a container may be given `ip` on the IPv6 `subnet`: inside it, and neither
/// its subnet-router anycast (network) address nor the gateway. The reason if not.
pub fn check_static6(subnet: &Ipv6Net, gateway: Ipv6Addr, ip: Ipv6Addr) -> std::result::Result<(), String> {
    if !subnet.contains(&ip) {
        return Err(format!("it is outside the network's IPv6 subnet {subnet}"));
    }
    if ip == subnet.network() {
        return Err(format!("it is the subnet {subnet}'s subnet-router anycast address"));
    }
    if ip == gateway {
        return Err("it is the network's IPv6 gateway".into());
    }
    Ok(())
}

/// The lowest address of the IPv6 `subnet` that is neither its network address, the
/// gateway nor `taken`.
pub fn next_free6(subnet: &Ipv6Net, gateway: Ipv6Addr, taken: &[String]) -> Option<Ipv6Addr> {
    let taken: std::collections::HashSet<Ipv6Addr> = taken.iter().filter_map(|t| t.parse().ok()).collect();
    subnet.hosts().skip(1).find(|ip| *ip != gateway && !taken.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_subnets_give_the_first_addresses_after_the_gateway() {
        let subnet = parse_subnet6("fd5e:1::7/64").unwrap();
        assert_eq!(subnet.to_string(), "fd5e:1::/64");
        let gw = gateway6(&subnet);
        assert_eq!(gw, "fd5e:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(next_free6(&subnet, gw, &[]), Some("fd5e:1::2".parse().unwrap()));
        let taken = vec!["fd5e:1::2".to_string()];
        assert_eq!(next_free6(&subnet, gw, &taken), Some("fd5e:1::3".parse().unwrap()));
        assert!(check_static6(&subnet, gw, "fd5e:1::10".parse().unwrap()).is_ok());
        for (ip, why) in [
            ("fd5e:2::10", "outside"),
            ("fd5e:1::", "anycast"),
            ("fd5e:1::1", "gateway"),
        ] {
            let e = check_static6(&subnet, gw, ip.parse().unwrap()).unwrap_err();
            assert!(e.contains(why), "{ip}: {e}");
        }
        assert!(parse_subnet6("10.0.0.0/24").is_err());
        assert!(parse_subnet6("fd00::/127").is_err());
        assert!(overlaps6(&subnet, &"fd5e::/16".parse().unwrap()));
        assert!(!overlaps6(&subnet, &"fd00::/64".parse().unwrap()));
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn choose_skips_subnets_the_host_routes_already() {
        let taken = [net("0.0.0.0/0"), net("172.17.0.0/16"), net("172.16.0.0/12")];
        // 172.16/12 covers all of 172.17–31, so the default bridge falls to 10.89.
        assert_eq!(choose(&candidates(true), &taken).unwrap(), net("10.89.0.0/24"));
        assert_eq!(
            choose(&candidates(true), &[net("172.17.5.0/24")]).unwrap(),
            net("172.18.0.0/16")
        );
    }

    #[test]
    fn static_addresses_must_be_usable_hosts_of_the_subnet() {
        let subnet = net("10.89.3.0/24");
        let gw = Ipv4Addr::new(10, 89, 3, 1);
        assert!(check_static(&subnet, gw, Ipv4Addr::new(10, 89, 3, 7)).is_ok());
        for (ip, why) in [
            ([10, 89, 4, 7], "outside"),
            ([10, 89, 3, 0], "network or broadcast"),
            ([10, 89, 3, 255], "network or broadcast"),
            ([10, 89, 3, 1], "gateway"),
        ] {
            let e = check_static(&subnet, gw, Ipv4Addr::from(ip)).unwrap_err();
            assert!(e.contains(why), "{ip:?}: {e}");
        }
    }

    #[test]
    fn next_free_skips_gateway_and_taken_addresses() {
        let subnet = net("10.89.3.0/29");
        let gw = gateway(&subnet);
        assert_eq!(gw, Ipv4Addr::new(10, 89, 3, 1));
        let taken = vec!["10.89.3.2".to_string(), "10.89.3.4".to_string()];
        assert_eq!(next_free(&subnet, gw, &taken), Some(Ipv4Addr::new(10, 89, 3, 3)));
        let full: Vec<String> = (2..=6).map(|i| format!("10.89.3.{i}")).collect();
        assert_eq!(next_free(&subnet, gw, &full), None);
    }

    #[test]
    fn parse_subnet_refuses_ipv6_and_tiny_subnets() {
        assert!(parse_subnet("fd00::/64").is_err());
        assert!(parse_subnet("10.0.0.0/31").is_err());
        assert_eq!(parse_subnet("10.90.0.7/24").unwrap(), net("10.90.0.0/24"));
    }
}
