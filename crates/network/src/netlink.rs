//! A small synchronous rtnetlink client: the handful of link, address and route
//! requests container networking needs, each acknowledged by the kernel.

use crate::error::{NetworkError, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

const RT_TABLE_LOCAL: u8 = 255;

/// A route-netlink socket, bound to the network namespace it was opened in.
pub struct Netlink {
    socket: Socket,
    sequence: u32,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        let io = |e| NetworkError::io("opening a route netlink socket", e);
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(io)?;
        socket.bind_auto().map_err(io)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(io)?;
        Ok(Netlink { socket, sequence: 0 })
    }

    /// Sends one request and collects the replies up to the ACK (or the end of a dump).
    fn request(&mut self, what: &str, message: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>> {
        self.sequence += 1;
        let mut packet = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(message));
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = self.sequence;
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .map_err(|e| NetworkError::io(format!("netlink: {what}"), e))?;
        let mut replies = Vec::new();
        let mut receive = vec![0u8; 1 << 16];
        loop {
            let size = self
                .socket
                .recv(&mut &mut receive[..], 0)
                .map_err(|e| NetworkError::io(format!("netlink: {what}"), e))?;
            let mut offset = 0;
            while offset < size {
                let reply: NetlinkMessage<RouteNetlinkMessage> = NetlinkMessage::deserialize(&receive[offset..size])
                    .map_err(|e| NetworkError::Netlink {
                        what: what.to_string(),
                        reason: e.to_string(),
                    })?;
                let length = reply.header.length as usize;
                if reply.header.sequence_number != self.sequence {
                    offset += length.max(1);
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(code) => Err(NetworkError::Netlink {
                                what: what.to_string(),
                                reason: std::io::Error::from_raw_os_error(-code.get()).to_string(),
                            }),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
                if length == 0 {
                    break;
                }
                offset += length;
            }
        }
    }

    /// The index of the link called `name`, if there is one.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.links()?.into_iter().find(|(_, n)| n == name).map(|(i, _)| i))
    }

    /// Every link: (index, name).
    pub fn links(&mut self) -> Result<Vec<(u32, String)>> {
        let replies = self.request(
            "listing links",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some((l.header.index, n.clone())),
                    _ => None,
                }),
                _ => None,
            })
            .collect())
    }

    /// Creates a bridge with the given MTU.
    pub fn add_bridge(&mut self, name: &str, mtu: u32) -> Result<()> {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.into()));
        link.attributes.push(LinkAttribute::Mtu(mtu));
        link.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.request(
            &format!("creating bridge {name}"),
            RouteNetlinkMessage::NewLink(link),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Creates a veth pair: `host` here, attached to bridge `master`, and `peer` created
    /// directly in the network namespace `netns` with hardware address `mac`.
    pub fn add_veth(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        mac: [u8; 6],
        mtu: u32,
        netns: BorrowedFd<'_>,
    ) -> Result<()> {
        let mut peer_link = LinkMessage::default();
        peer_link.attributes.push(LinkAttribute::IfName(peer.into()));
        peer_link.attributes.push(LinkAttribute::Mtu(mtu));
        peer_link.attributes.push(LinkAttribute::Address(mac.to_vec()));
        peer_link.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        let mut link = LinkMessage::default();
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        link.attributes.push(LinkAttribute::IfName(host.into()));
        link.attributes.push(LinkAttribute::Mtu(mtu));
        link.attributes.push(LinkAttribute::Controller(master));
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_link))),
        ]));
        self.request(
            &format!("creating veth pair {host}"),
            RouteNetlinkMessage::NewLink(link),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Brings a link up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        self.request("bringing a link up", RouteNetlinkMessage::SetLink(link), NLM_F_ACK)
            .map(drop)
    }

    /// Deletes a link (deleting one end of a veth pair deletes both).
    pub fn delete_link(&mut self, index: u32) -> Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        self.request("deleting a link", RouteNetlinkMessage::DelLink(link), NLM_F_ACK)
            .map(drop)
    }

    /// Adds `address/prefix` to a link.
    pub fn add_address(&mut self, index: u32, address: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = prefix;
        message.header.index = index;
        message.attributes.push(AddressAttribute::Local(address.into()));
        message.attributes.push(AddressAttribute::Address(address.into()));
        let broadcast = u32::from(address) | (u32::MAX >> prefix.min(31));
        if prefix < 31 {
            message
                .attributes
                .push(AddressAttribute::Broadcast(Ipv4Addr::from(broadcast)));
        }
        self.request(
            &format!("adding address {address}/{prefix}"),
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Adds the IPv6 `address/prefix` to a link, usable at once: strata hands out each
    /// address once per network, so duplicate address detection would only delay it.
    pub fn add_address6(&mut self, index: u32, address: Ipv6Addr, prefix: u8) -> Result<()> {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet6;
        message.header.prefix_len = prefix;
        message.header.index = index;
        message.header.flags = AddressHeaderFlags::Nodad;
        message.attributes.push(AddressAttribute::Local(address.into()));
        message.attributes.push(AddressAttribute::Address(address.into()));
        message.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        self.request(
            &format!("adding address {address}/{prefix}"),
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// The IPv4 addresses of a link.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<(Ipv4Addr, u8)>> {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        let replies = self.request(
            "listing addresses",
            RouteNetlinkMessage::GetAddress(message),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => {
                    a.attributes.iter().find_map(|attr| match attr {
                        AddressAttribute::Local(std::net::IpAddr::V4(ip)) => Some((*ip, a.header.prefix_len)),
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Adds the default route through `gateway`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot;
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        route
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.request(
            &format!("adding the default route via {gateway}"),
            RouteNetlinkMessage::NewRoute(route),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Adds the IPv6 default route through `gateway`.
    pub fn add_default_route6(&mut self, gateway: Ipv6Addr) -> Result<()> {
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet6;
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot;
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        route
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet6(gateway)));
        self.request(
            &format!("adding the IPv6 default route via {gateway}"),
            RouteNetlinkMessage::NewRoute(route),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// The IPv6 destinations of the main and local routing tables, as `routes` gives
    /// the IPv4 ones.
    pub fn routes6(&mut self) -> Result<Vec<(Ipv6Addr, u8)>> {
        self.route_destinations(
            AddressFamily::Inet6,
            "listing IPv6 routes",
            |a| match a {
                RouteAddress::Inet6(ip) => Some(*ip),
                _ => None,
            },
            Ipv6Addr::UNSPECIFIED,
        )
    }

    /// The IPv4 destinations of the main and local routing tables (the local one holds
    /// 127.0.0.0/8 and the host's own addresses): (network, prefix length).
    pub fn routes(&mut self) -> Result<Vec<(Ipv4Addr, u8)>> {
        self.route_destinations(
            AddressFamily::Inet,
            "listing routes",
            |a| match a {
                RouteAddress::Inet(ip) => Some(*ip),
                _ => None,
            },
            Ipv4Addr::UNSPECIFIED,
        )
    }

    /// The destinations of one family's routes in the main and local tables; a route
    /// without one (the default) is `unspecified`.
    fn route_destinations<A: Copy>(
        &mut self,
        family: AddressFamily,
        what: &str,
        address: impl Fn(&RouteAddress) -> Option<A>,
        unspecified: A,
    ) -> Result<Vec<(A, u8)>> {
        let mut route = RouteMessage::default();
        route.header.address_family = family;
        let replies = self.request(what, RouteNetlinkMessage::GetRoute(route), NLM_F_DUMP)?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r)
                    if r.header.table == RouteHeader::RT_TABLE_MAIN || r.header.table == RT_TABLE_LOCAL =>
                {
                    let dest = r.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Destination(d) => address(d),
                        _ => None,
                    });
                    Some((dest.unwrap_or(unspecified), r.header.destination_prefix_length))
                }
                _ => None,
            })
            .collect())
    }
}
