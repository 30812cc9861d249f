//! Network devices over a blocking rtnetlink socket: the bridge, veth pairs, moving a veth
//! end into a container's network namespace and configuring it there.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkBuffer, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A failed netlink operation, naming the device and what was tried.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{op} {dev}")]
    Op {
        op: &'static str,
        dev: String,
        #[source]
        source: io::Error,
    },
    #[error("{op} {dev}: malformed netlink reply: {detail}")]
    Reply {
        op: &'static str,
        dev: String,
        detail: String,
    },
    #[error("network namespace: {what}")]
    Netns {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

pub type Result<T> = std::result::Result<T, LinkError>;

fn op_err(op: &'static str, dev: &str, source: io::Error) -> LinkError {
    LinkError::Op {
        op,
        dev: dev.to_string(),
        source,
    }
}

/// How the container end of a veth is set up inside its namespace.
#[derive(Debug, Clone)]
pub struct ContainerIface {
    /// The veth end's name as it arrives in the namespace.
    pub veth: String,
    /// Its name after configuration (`eth0`).
    pub name: String,
    pub mac: Option<[u8; 6]>,
    pub address: Ipv4Addr,
    pub prefix: u8,
    /// The default route's next hop; `None` for no default route.
    pub gateway: Option<Ipv4Addr>,
}

/// A veth pair made in advance with a spare network namespace (see
/// `shim::zygote`): the host end, down and on no bridge, named `host` in the maker's
/// namespace; `eth0`, down, in the spare, whose `lo` is up; and an rtnetlink socket in
/// the spare. A start takes it instead of making a pair: renaming, attaching and setting
/// up an end costs a fraction of making one (the two devices' registration).
pub struct PremadeVeth {
    pub host: String,
    pub host_index: u32,
    /// `eth0`'s index in the spare.
    pub inside_index: u32,
    pub inside: Netlink,
}

impl PremadeVeth {
    /// Makes the pair: `host` here, `eth0` in `netns`, where `inside` is a socket (and
    /// brings its `lo` up).
    pub fn make(
        nl: &mut Netlink,
        host: &str,
        netns: BorrowedFd<'_>,
        mut inside: Netlink,
    ) -> Result<PremadeVeth> {
        nl.new_veth(host, "eth0", Some(netns), None, None)?;
        let made = (|| {
            let host_index = nl.require_index(host)?;
            let lo = inside.require_index("lo")?;
            inside.set_up(lo, "lo")?;
            let inside_index = inside.require_index("eth0")?;
            Ok((host_index, inside_index))
        })();
        match made {
            Ok((host_index, inside_index)) => Ok(PremadeVeth {
                host: host.to_string(),
                host_index,
                inside_index,
                inside,
            }),
            Err(e) => {
                let _ = nl.delete_link(host);
                Err(e)
            }
        }
    }

    /// The raw fd of the socket in the spare (for a fork to keep).
    pub fn inside_fd(&self) -> std::os::fd::RawFd {
        self.inside.socket.as_raw_fd()
    }

    /// The pair with its socket on fd `fd` now (the same socket, moved by a fork).
    ///
    /// # Safety
    /// `fd` must be that socket, owned by nothing else.
    pub unsafe fn with_inside_fd(self, fd: std::os::fd::RawFd) -> PremadeVeth {
        use std::os::fd::FromRawFd;
        let PremadeVeth {
            host,
            host_index,
            inside_index,
            inside,
        } = self;
        // The old handle's fd is closed or reused: never close it through it.
        std::mem::forget(inside);
        PremadeVeth {
            host,
            host_index,
            inside_index,
            // SAFETY: the caller's promise.
            inside: Netlink {
                socket: unsafe { Socket::from_raw_fd(fd) },
                seq: 0,
            },
        }
    }

    /// Puts the pair to use for a container: the host end renamed `name`, a port of
    /// bridge `bridge` (with hairpin) and up; `eth0` given `iface`'s MAC, address and
    /// route, and up. An error leaves the caller to delete `name` (or the namespace's
    /// end takes the pair with it).
    pub fn adopt(
        &mut self,
        nl: &mut Netlink,
        name: &str,
        bridge: u32,
        iface: &ContainerIface,
    ) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = self.host_index;
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes.push(LinkAttribute::Controller(bridge));
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        nl.request(RouteNetlinkMessage::SetLink(msg), 0, "take the veth", name)?;
        nl.hairpin(self.host_index, name)?;
        let index = self.inside_index;
        if iface.mac.is_some() {
            self.inside.rename(index, "eth0", "eth0", iface.mac)?;
        }
        self.inside
            .add_address(index, "eth0", iface.address, iface.prefix)?;
        self.inside.set_up(index, "eth0")?;
        if let Some(gw) = iface.gateway {
            self.inside.add_default_route(index, "eth0", gw)?;
        }
        Ok(())
    }
}

/// A blocking rtnetlink socket in the network namespace of the thread that opened it.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(|e| op_err("open", "rtnetlink", e))?;
        socket
            .bind_auto()
            .map_err(|e| op_err("bind", "rtnetlink", e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| op_err("connect", "rtnetlink", e))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends one request with an ACK flag and collects the replies up to the ACK.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: &'static str,
        dev: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0).map_err(|e| op_err(op, dev, e))?;

        let mut out = Vec::new();
        loop {
            let (data, _) = self
                .socket
                .recv_from_full()
                .map_err(|e| op_err(op, dev, e))?;
            let mut rest = &data[..];
            while !rest.is_empty() {
                let len = NetlinkBuffer::new_checked(rest)
                    .map(|b| b.length() as usize)
                    .map_err(|e| reply_err(op, dev, e))?;
                // Netlink messages are 4-byte aligned; the last one may lack padding.
                let aligned = (len + 3) & !3;
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..len])
                    .map_err(|e| reply_err(op, dev, e))?;
                rest = &rest[aligned.min(rest.len())..];
                if msg.header.sequence_number != self.seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => {
                                Err(op_err(op, dev, io::Error::from_raw_os_error(-code.get())))
                            }
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }

    /// The index of the link named `name`, or `None` when there is none.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0, "look up", name) {
            Ok(replies) => Ok(replies.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(LinkError::Op { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The names of every link in this namespace (for leak checks).
    pub fn link_names(&mut self) -> Result<Vec<String>> {
        let replies = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "list",
            "links",
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => l.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                }),
                _ => None,
            })
            .collect())
    }

    fn require_index(&mut self, name: &str) -> Result<u32> {
        self.link_index(name)?
            .ok_or_else(|| op_err("look up", name, io::Error::from_raw_os_error(libc::ENODEV)))
    }

    /// Creates the bridge `name` if missing, gives it `gateway/prefix` and sets it up.
    /// Running it again changes nothing. Returns the bridge's index.
    pub fn ensure_bridge(&mut self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32> {
        if self.link_index(name)?.is_none() {
            let mut msg = LinkMessage::default();
            msg.attributes.push(LinkAttribute::IfName(name.to_string()));
            msg.attributes
                .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                    InfoKind::Bridge,
                )]));
            match self.request(
                RouteNetlinkMessage::NewLink(msg),
                NLM_F_CREATE | NLM_F_EXCL,
                "create bridge",
                name,
            ) {
                // Another process created it between our look-up and our request.
                Err(LinkError::Op { source, .. })
                    if source.raw_os_error() == Some(libc::EEXIST) => {}
                r => {
                    r?;
                }
            }
        }
        let index = self.require_index(name)?;
        self.add_address(index, name, gateway, prefix)?;
        self.set_up(index, name)?;
        Ok(index)
    }

    /// Makes sure the bridge `name` exists with `gateway/prefix`, is up, and, when this
    /// call creates it, has the fixed MAC `mac` (a bridge whose MAC was never set takes
    /// the lowest of its ports', so it would change as containers come and go and stale
    /// the ARP caches of the others). Returns its index and whether this call created it.
    pub fn ensure_bridge_with_mac(
        &mut self,
        name: &str,
        gateway: Ipv4Addr,
        prefix: u8,
        mac: [u8; 6],
    ) -> Result<(u32, bool)> {
        let mut created = false;
        if self.link_index(name)?.is_none() {
            let mut msg = LinkMessage::default();
            msg.attributes.push(LinkAttribute::IfName(name.to_string()));
            msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
            msg.attributes
                .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                    InfoKind::Bridge,
                )]));
            match self.request(
                RouteNetlinkMessage::NewLink(msg),
                NLM_F_CREATE | NLM_F_EXCL,
                "create bridge",
                name,
            ) {
                Ok(_) => created = true,
                // Another process created it between our look-up and our request.
                Err(LinkError::Op { source, .. })
                    if source.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        let index = self.require_index(name)?;
        self.add_address(index, name, gateway, prefix)?;
        self.set_up(index, name)?;
        Ok((index, created))
    }

    /// Whether link `index` has the IPv4 address `addr/prefix`.
    pub fn has_ipv4(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<bool> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.index = index;
        let replies = self.request(
            RouteNetlinkMessage::GetAddress(msg),
            NLM_F_DUMP,
            "list addresses of",
            "link",
        )?;
        Ok(replies.into_iter().any(|m| match m {
            RouteNetlinkMessage::NewAddress(a) => a.header.index == index
                && a.header.prefix_len == prefix
                && a.attributes.iter().any(
                    |x| matches!(x, AddressAttribute::Local(std::net::IpAddr::V4(v)) if *v == addr),
                ),
            _ => false,
        }))
    }

    /// The names of the links enslaved to the bridge with index `bridge` (its ports).
    pub fn bridge_ports(&mut self, bridge: u32) -> Result<Vec<String>> {
        let mut msg = LinkMessage::default();
        // The kernel filters the dump by controller; the check below keeps the answer
        // right on a kernel that ignores the filter.
        msg.attributes.push(LinkAttribute::Controller(bridge));
        let replies = self.request(
            RouteNetlinkMessage::GetLink(msg),
            NLM_F_DUMP,
            "list ports of",
            "bridge",
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => {
                    let mut name = None;
                    let mut on_bridge = false;
                    for a in l.attributes {
                        match a {
                            LinkAttribute::IfName(n) => name = Some(n),
                            LinkAttribute::Controller(c) => on_bridge = c == bridge,
                            _ => {}
                        }
                    }
                    name.filter(|_| on_bridge)
                }
                _ => None,
            })
            .collect())
    }

    /// Deletes the link `name`; `false` when it did not exist.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        let Some(index) = self.link_index(name)? else {
            return Ok(false);
        };
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.request(RouteNetlinkMessage::DelLink(msg), 0, "delete", name) {
            Ok(_) => Ok(true),
            Err(LinkError::Op { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a veth pair `host` <-> `peer` in this namespace.
    pub fn create_veth(&mut self, host: &str, peer: &str) -> Result<()> {
        self.new_veth(host, peer, None, None, None)
    }

    /// A veth pair whose `host` end is made a port of the bridge with index `bridge`
    /// and set up by the request that creates it (as `ip link add ... master BR up`
    /// does), then given hairpin mode ([`Netlink::set_hairpin`]); its `peer` end is made
    /// directly inside `netns` with its final name and `mac` (moving a link between
    /// namespaces waits for an RCU grace period, ~15 ms; creating it there does not).
    /// Two requests where making, attaching and raising took six.
    pub fn create_veth_on_bridge(
        &mut self,
        host: &str,
        peer: &str,
        netns: BorrowedFd<'_>,
        mac: [u8; 6],
        bridge: u32,
    ) -> Result<()> {
        self.new_veth(host, peer, Some(netns), Some(mac), Some(bridge))?;
        self.hairpin(0, host)
    }

    /// A veth pair; its `peer` end made in `netns` (else here) with `mac` (else random),
    /// its host end made a port of bridge `bridge` (if any) and up.
    fn new_veth(
        &mut self,
        host: &str,
        peer: &str,
        netns: Option<BorrowedFd<'_>>,
        mac: Option<[u8; 6]>,
        bridge: Option<u32>,
    ) -> Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        if let Some(ns) = netns {
            peer_msg
                .attributes
                .push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        }
        if let Some(mac) = mac {
            peer_msg
                .attributes
                .push(LinkAttribute::Address(mac.to_vec()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        if let Some(bridge) = bridge {
            msg.attributes.push(LinkAttribute::Controller(bridge));
            msg.header.flags = LinkFlags::Up;
            msg.header.change_mask = LinkFlags::Up;
        }
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "create veth",
            host,
        )?;
        Ok(())
    }

    /// Makes `name` a port of `bridge` and sets it up.
    pub fn attach_to_bridge(&mut self, name: &str, bridge: &str) -> Result<()> {
        let bridge_index = self.require_index(bridge)?;
        let index = self.require_index(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Controller(bridge_index));
        self.request(
            RouteNetlinkMessage::SetLink(msg),
            0,
            "attach to bridge",
            name,
        )?;
        self.set_up(index, name)
    }

    /// Turns on hairpin mode of the bridge port `name`: frames may leave by the port they
    /// came in. With br_netfilter's hooks on bridged traffic, a container's connection to
    /// its own published port is DNATed back to itself in the bridge, and needs it.
    pub fn set_hairpin(&mut self, name: &str) -> Result<()> {
        let index = self.require_index(name)?;
        self.hairpin(index, name)
    }

    /// [`Netlink::set_hairpin`] of the port with index `index`, or, for 0, by its name.
    fn hairpin(&mut self, index: u32, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        if index == 0 {
            msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ]));
        // Port data is applied by NEWLINK on an existing link, not by SETLINK.
        self.request(RouteNetlinkMessage::NewLink(msg), 0, "set hairpin", name)?;
        Ok(())
    }

    /// Takes `name` off its bridge; `false` when there is no such link.
    pub fn detach_from_bridge(&mut self, name: &str) -> Result<bool> {
        let Some(index) = self.link_index(name)? else {
            return Ok(false);
        };
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Controller(0));
        match self.request(
            RouteNetlinkMessage::SetLink(msg),
            0,
            "detach from bridge",
            name,
        ) {
            Ok(_) => Ok(true),
            Err(LinkError::Op { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Moves `name` into the network namespace `netns` (an fd of `/proc/<pid>/ns/net`,
    /// or a bind-mounted netns such as `/run/netns/<name>`).
    pub fn move_to_netns(&mut self, name: &str, netns: BorrowedFd<'_>) -> Result<()> {
        let index = self.require_index(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes
            .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        self.request(RouteNetlinkMessage::SetLink(msg), 0, "move to netns", name)?;
        Ok(())
    }

    /// Sets the link up.
    pub fn set_up(&mut self, index: u32, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(msg), 0, "set up", name)?;
        Ok(())
    }

    /// Renames a (down) link and optionally sets its MAC address.
    pub fn rename(&mut self, index: u32, old: &str, new: &str, mac: Option<[u8; 6]>) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::IfName(new.to_string()));
        if let Some(mac) = mac {
            msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        self.request(RouteNetlinkMessage::SetLink(msg), 0, "rename", old)?;
        Ok(())
    }

    /// Adds `addr/prefix` to the link, with its subnet's broadcast address (as `ip addr
    /// add ... brd +` and Docker set it); an address already there is not an error.
    pub fn add_address(
        &mut self,
        index: u32,
        name: &str,
        addr: Ipv4Addr,
        prefix: u8,
    ) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(addr.into()));
        msg.attributes.push(AddressAttribute::Address(addr.into()));
        if prefix < 31 {
            let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let broadcast = Ipv4Addr::from(u32::from(addr) | host_bits);
            msg.attributes.push(AddressAttribute::Broadcast(broadcast));
        }
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "add address",
            name,
        ) {
            Err(LinkError::Op { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    /// Adds a default route via `gateway` out of the link.
    pub fn add_default_route(&mut self, index: u32, name: &str, gateway: Ipv4Addr) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        msg.attributes.push(RouteAttribute::Oif(index));
        match self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "add default route",
            name,
        ) {
            Err(LinkError::Op { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    /// Removes the main table's IPv4 default route, if there is one.
    pub fn delete_default_route(&mut self) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        // Any scope and kind: what `ip route del default` asks.
        msg.header.scope = RouteScope::NoWhere;
        match self.request(
            RouteNetlinkMessage::DelRoute(msg),
            0,
            "delete default route",
            "default",
        ) {
            Err(LinkError::Op { source, .. }) if source.raw_os_error() == Some(libc::ESRCH) => {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    /// Inside the container's namespace: renames the veth end, sets its MAC, adds its
    /// address, brings `lo` and it up and adds the default route.
    pub fn configure_container_iface(&mut self, iface: &ContainerIface) -> Result<()> {
        let index = self.require_index(&iface.veth)?;
        if iface.veth != iface.name || iface.mac.is_some() {
            self.rename(index, &iface.veth, &iface.name, iface.mac)?;
        }
        self.add_address(index, &iface.name, iface.address, iface.prefix)?;
        let lo = self.require_index("lo")?;
        self.set_up(lo, "lo")?;
        self.set_up(index, &iface.name)?;
        if let Some(gw) = iface.gateway {
            self.add_default_route(index, &iface.name, gw)?;
        }
        Ok(())
    }
}

fn reply_err(op: &'static str, dev: &str, e: impl std::fmt::Display) -> LinkError {
    LinkError::Reply {
        op,
        dev: dev.to_string(),
        detail: e.to_string(),
    }
}

/// Inside a container's namespace `netns`: the default route goes via `gateway` out of
/// the interface that has `address/prefix`, in place of the one there was; with `via`
/// `None` there is none. For a running container whose network that carried its default
/// route left (Docker moves the route to its new gateway endpoint).
pub fn set_default_route_in(
    netns: BorrowedFd<'_>,
    via: Option<(Ipv4Addr, u8, Ipv4Addr)>,
) -> Result<()> {
    run_in_netns(netns, move || {
        let mut nl = Netlink::open()?;
        nl.delete_default_route()?;
        let Some((address, prefix, gateway)) = via else {
            return Ok(());
        };
        for name in nl.link_names()? {
            if let Some(index) = nl.link_index(&name)?
                && nl.has_ipv4(index, address, prefix)?
            {
                return nl.add_default_route(index, &name, gateway);
            }
        }
        Ok(())
    })
    .and_then(|r| r)
}

/// Runs `f` on a new thread that joined the network namespace `netns`, so the caller's
/// threads keep their namespace. Sockets `f` opens belong to `netns`, and processes it
/// spawns start in `netns`.
pub fn run_in_netns<T: Send>(netns: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // The thread's own namespace, to return to before it ends.
            let own =
                File::open("/proc/thread-self/ns/net").map_err(|source| LinkError::Netns {
                    what: "open own netns",
                    source,
                })?;
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                LinkError::Netns {
                    what: "setns",
                    source: e.into(),
                }
            })?;
            let out = f();
            nix::sched::setns(own.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                LinkError::Netns {
                    what: "setns back",
                    source: e.into(),
                }
            })?;
            Ok(out)
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Sets `lo` up inside `netns` (a container on no network: its loopback only, up, as
/// Docker's).
pub fn loopback_up_in(netns: BorrowedFd<'_>) -> Result<()> {
    run_in_netns(netns, || {
        let mut nl = Netlink::open()?;
        let lo = nl.require_index("lo")?;
        nl.set_up(lo, "lo")
    })?
}

/// Configures the container end of a veth inside `netns` (see
/// [`Netlink::configure_container_iface`]).
pub fn configure_in_netns(netns: BorrowedFd<'_>, iface: &ContainerIface) -> Result<()> {
    run_in_netns(netns, || Netlink::open()?.configure_container_iface(iface))?
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
