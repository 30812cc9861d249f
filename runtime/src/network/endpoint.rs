//! A running container's place on a bridge network: the bridge and the network's
//! nftables table (made when the first container comes, removed when the last goes), the
//! veth pair, the container end configured as `eth0`/`eth1`... inside its namespace, and
//! the DNAT table of its published ports.
//!
//! Who uses a bridge is read off the kernel (the veths enslaved to it), under a host-wide
//! lock per bridge (`/run/tug/bridges/<bridge>.lock`), so state roots and processes that
//! come and go concurrently never remove a bridge in use nor race its creation.

use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;

use super::Error;
use super::nft::PortMap;

/// One network interface of a container, as the start path asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The network's bridge device.
    pub bridge: String,
    /// The network's subnet and gateway (the bridge's address).
    pub subnet: super::cidr::Cidr,
    pub gateway: Ipv4Addr,
    /// `--internal`: no NAT out, no published ports.
    pub internal: bool,
    /// The interface's name inside the container (`eth0`, `eth1`...).
    pub iface: String,
    pub address: Ipv4Addr,
    pub mac: [u8; 6],
    /// Whether the default route goes through this interface (the first network only).
    pub default_route: bool,
}

/// Docker's MAC address for an IPv4 address: `02:42` and the address's four bytes.
pub fn mac_for(addr: Ipv4Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `--mac-address`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], Error> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || Error::Invalid(format!("invalid MAC address: {s:?}"));
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *m = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(mac)
}

/// The host end's name of container `id`'s veth on `bridge` (unique host-wide: derived
/// from the random container id and the bridge).
pub fn host_veth_name(id: &str, bridge: &str) -> String {
    let _ = (id, bridge);
    todo!("endpoint helper")
}

/// Connects the container whose network namespace is `netns` (container `id`) to one
/// network: under the bridge's lock, makes the bridge (with the gateway address and
/// route_localnet) and the network's nftables table when missing, a veth pair, enslaves
/// the host end, moves the other end into `netns` and configures it there (name, MAC,
/// address, lo up, default route when asked). Leaves nothing behind on failure.
pub fn up(netns: BorrowedFd<'_>, id: &str, a: &Attachment) -> Result<(), Error> {
    let _ = (netns, id, a);
    todo!("endpoint helper")
}

/// Disconnects container `id` from the network on `a.bridge`: deletes the host end of
/// its veth (the other end goes with it) and, when no veth is left on the bridge, the
/// network's table and the bridge. Missing devices are not an error (the container's
/// namespace may already be gone).
pub fn down(id: &str, a: &Attachment) -> Result<(), Error> {
    let _ = (id, a);
    todo!("endpoint helper")
}

/// The name of container `id`'s own nftables table of published ports (`tug_p` + 16 hex
/// of the id).
pub fn ports_table(id: &str) -> String {
    format!("tug_p{}", &id[..id.len().min(16)])
}

/// Installs (or replaces) the DNAT rules of container `id`'s published ports, from the
/// host's addresses (incl. 127.0.0.1) and from other containers.
pub fn publish(id: &str, ports: &[PortMap]) -> Result<(), Error> {
    let _ = (id, ports);
    todo!("endpoint helper")
}

/// Removes container `id`'s port table; a missing table is not an error.
pub fn unpublish(id: &str) -> Result<(), Error> {
    let _ = id;
    todo!("endpoint helper")
}
