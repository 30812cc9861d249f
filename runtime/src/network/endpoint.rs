//! A running container's place on a bridge network: the bridge and the network's
//! nftables table (made when the first container comes, removed when the last goes), the
//! veth pair, the container end made and configured as `eth0`/`eth1`... inside its
//! namespace, and the DNAT table of its published ports.
//!
//! Who uses a bridge is read off the kernel (the veths enslaved to it), under a host-wide
//! lock per bridge (`/run/tug/bridges/<bridge>.lock`), so state roots and processes that
//! come and go concurrently never remove a bridge in use nor race its creation.

use std::fs::{self, File, OpenOptions};
use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest as _, Sha256};

use super::Error;
use super::firewall::Firewall;
use super::link::{ContainerIface, LinkError, Netlink, PremadeVeth, configure_in_netns};
use super::nft::{self, GroupPortMap, NatNetwork, PortMap};

/// The host side of an engine's networking, as its settings say: the firewall it picked
/// and the host-wide run dir that holds the bridge locks (`<run_dir>/bridges`).
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    pub firewall: &'a dyn Firewall,
    pub run_dir: &'a Path,
}

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
/// from the random container id and the bridge). `tugv` + 11 hex digits: 15 bytes, the
/// longest interface name, and never a bridge's name (those are `tug` + hex digits).
pub fn host_veth_name(id: &str, bridge: &str) -> String {
    format!("tugv{}", veth_suffix(id, bridge))
}

fn veth_suffix(id: &str, bridge: &str) -> String {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update([0]);
    h.update(bridge.as_bytes());
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..11]
        .to_string()
}

/// The host-wide lock of one bridge, held while its devices and network table change.
/// The holder that removes the bridge also unlinks the lock file (so `/run/tug/bridges`
/// does not fill up); whoever then gets a lock on the unlinked file sees that its inode is
/// no longer the path's and starts over.
struct BridgeLock {
    file: Flock<File>,
    path: PathBuf,
}

impl BridgeLock {
    fn take(host: Host<'_>, bridge: &str) -> Result<BridgeLock, Error> {
        let dir = host.run_dir.join("bridges");
        fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        let path = dir.join(format!("{bridge}.lock"));
        let err = |e| Error::io(path.display(), e);
        loop {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(err)?;
            let file = Flock::lock(f, FlockArg::LockExclusive)
                .map_err(|(_, e)| err(std::io::Error::from(e)))?;
            let held = file.metadata().map_err(err)?;
            match fs::metadata(&path) {
                Ok(m) if m.ino() == held.ino() && m.dev() == held.dev() => {
                    return Ok(BridgeLock { file, path });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(err(e)),
            }
        }
    }

    /// Marks the bridge as just joined: the lock file's modification time is the last
    /// attach (see [`gc`]).
    fn mark_attached(&self) {
        let _ = self.file.set_modified(std::time::SystemTime::now());
    }

    /// Whether a container attached to the bridge within `window` of now.
    fn attached_within(&self, window: std::time::Duration) -> bool {
        self.file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|ago| ago < window)
    }

    /// Unlinks the lock file (the bridge is gone); the lock is held until drop.
    fn remove_file(&self) {
        // A file left behind only costs an entry in a tmpfs directory.
        let _ = fs::remove_file(&self.path);
    }
}

/// Connects the container whose network namespace is `netns` (container `id`) to one
/// network: under the bridge's lock, makes the bridge (with the gateway address and
/// route_localnet) and the network's nftables table when missing, a veth pair whose
/// container end is made inside `netns` (name, MAC), enslaves the host end and configures
/// the container end (address, lo up, default route when asked). Leaves nothing behind on
/// failure.
///
/// Runs in the calling thread's network namespace (the host's).
pub fn up(
    host: Host<'_>,
    netns: BorrowedFd<'_>,
    id: &str,
    a: &Attachment,
    premade: Option<PremadeVeth>,
) -> Result<(), Error> {
    nft::check_bridge(&a.bridge)?;
    let lock = BridgeLock::take(host, &a.bridge)?;
    let mut nl = Netlink::open()?;
    let mut veth_made = false;
    let r = connect(
        host.firewall,
        &mut nl,
        netns,
        id,
        a,
        &mut veth_made,
        premade,
    );
    if r.is_ok() {
        lock.mark_attached();
    } else {
        // Best effort: the first error is the one to report.
        if veth_made {
            let _ = nl.delete_link(&host_veth_name(id, &a.bridge));
        }
        // A bridge exists only while a veth is on it: whether this call made it or found
        // it left from a crash, it goes when it has no port.
        let _ = remove_if_unused(host.firewall, &mut nl, &a.bridge, &lock);
    }
    r
}

/// The steps of [`up`]; `veth_made` tells a failure whether the veth is this call's.
fn connect(
    fw: &dyn Firewall,
    nl: &mut Netlink,
    netns: BorrowedFd<'_>,
    id: &str,
    a: &Attachment,
    veth_made: &mut bool,
    premade: Option<PremadeVeth>,
) -> Result<(), Error> {
    // A bridge without ports and without the network's gateway address is a leftover (of
    // a crash, or of a network since removed and made again with another subnet): it is
    // made afresh, so that its address and table are the network's as it is now. A
    // portless bridge that has it is one whose last container just left (see [`gc`]).
    // One that has ports or the address is the network's as it is: only set up (again,
    // in case it was set down), not looked up and given its address once more.
    let mut ready = None;
    if let Some(index) = nl.link_index(&a.bridge)? {
        if nl.bridge_ports(index)?.is_empty()
            && !nl.has_ipv4(index, a.gateway, a.subnet.prefix())?
        {
            fw.remove(&a.bridge)?;
            nl.delete_link(&a.bridge)?;
        } else {
            nl.set_up(index, &a.bridge)?;
            ready = Some(index);
        }
    }
    let (bridge_index, created) = match ready {
        Some(index) => (index, false),
        None => {
            nl.ensure_bridge_with_mac(&a.bridge, a.gateway, a.subnet.prefix(), mac_for(a.gateway))?
        }
    };
    // A table deleted behind tug's back is made again.
    if created || !fw.exists(&a.bridge)? {
        nft::set_route_localnet(&a.bridge)?;
        fw.apply(&NatNetwork {
            bridge: a.bridge.clone(),
            subnet: a.subnet.network(),
            prefix: a.subnet.prefix(),
            internal: a.internal,
        })?;
    } else if !a.internal {
        // Someone may have turned it off since the table was made; reading is cheap.
        nft::enable_ip_forward()?;
    }

    let iface = ContainerIface {
        veth: a.iface.clone(),
        name: a.iface.clone(),
        mac: None,
        address: a.address,
        prefix: a.subnet.prefix(),
        gateway: a.default_route.then_some(a.gateway),
    };
    let host = host_veth_name(id, &a.bridge);
    // A pair made in advance with the namespace: its host end renamed, on the bridge and
    // up, its `eth0` given the MAC, address and route. The pair of this container's
    // previous run (a restart) may not be gone yet, as below.
    if let Some(mut p) = premade.filter(|_| a.iface == "eth0") {
        *veth_made = true;
        let with_mac = ContainerIface {
            mac: Some(a.mac),
            ..iface
        };
        return match p.adopt(nl, &host, bridge_index, &with_mac) {
            Err(LinkError::Op { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
                nl.delete_link(&host)?;
                Ok(p.adopt(nl, &host, bridge_index, &with_mac)?)
            }
            r => Ok(r?),
        };
    }
    // The container end is made inside the container, named and with its MAC already; the
    // host end on the bridge and up. A pair left by a start that died half-way went with
    // that container's namespace.
    let made = match nl.create_veth_on_bridge(&host, &a.iface, netns, a.mac, bridge_index) {
        // The pair of this container's previous run (a restart) may not be gone yet:
        // the kernel removes it with the old namespace, asynchronously.
        Err(LinkError::Op { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {
            nl.delete_link(&host)?;
            nl.create_veth_on_bridge(&host, &a.iface, netns, a.mac, bridge_index)
        }
        r => r,
    };
    // Also on an error: the pair may have been made before its hairpin was refused. The
    // name is this container's, so the caller's clean-up deletes whatever has it.
    *veth_made = true;
    made?;
    configure_in_netns(netns, &iface)?;
    Ok(())
}

/// Removes the network's table and the bridge when no port is left on it; `true` when
/// they are gone. The caller holds the bridge's lock.
fn remove_if_unused(
    fw: &dyn Firewall,
    nl: &mut Netlink,
    bridge: &str,
    lock: &BridgeLock,
) -> Result<bool, Error> {
    if let Some(index) = nl.link_index(bridge)?
        && !nl.bridge_ports(index)?.is_empty()
    {
        return Ok(false);
    }
    // The table first: a bridge without its table is repaired by the next `up`, a table
    // without its bridge would be found by nobody.
    fw.remove(bridge)?;
    nl.delete_link(bridge)?;
    lock.remove_file();
    Ok(true)
}

/// Disconnects container `id` from the network on `a.bridge`: deletes the host end of
/// its veth (the other end goes with it) and, when no veth is left on the bridge, the
/// network's table and the bridge. Missing devices are not an error (the container's
/// namespace may already be gone).
///
/// Under the lock the veth only leaves the bridge (a fraction of a millisecond); deleting
/// it waits for the kernel's RCU barrier (~15-20 ms), so that happens after the lock is
/// released, where the deletions of containers stopping together overlap.
pub fn down(host: Host<'_>, id: &str, a: &Attachment) -> Result<(), Error> {
    nft::check_bridge(&a.bridge)?;
    let veth = host_veth_name(id, &a.bridge);
    let mut nl = Netlink::open()?;
    {
        let lock = BridgeLock::take(host, &a.bridge)?;
        nl.detach_from_bridge(&veth)?;
        remove_if_unused(host.firewall, &mut nl, &a.bridge, &lock)?;
    }
    nl.delete_link(&veth)?;
    Ok(())
}

/// The container's process is gone: its veth leaves the bridge at once (the kernel
/// deletes the pair with the container's namespace, without making anyone wait for it).
/// The bridge stays for [`gc`] to remove when it is still unused a little later, so that
/// containers run one after another do not pay for removing and making it each time.
pub fn release(host: Host<'_>, id: &str, a: &Attachment) -> Result<(), Error> {
    nft::check_bridge(&a.bridge)?;
    let veth = host_veth_name(id, &a.bridge);
    let mut nl = Netlink::open()?;
    let _lock = BridgeLock::take(host, &a.bridge)?;
    nl.detach_from_bridge(&veth)?;
    Ok(())
}

/// Removes the network's table and bridge when no container uses it (see [`release`])
/// and none attached within `recent` (a container that came and went since: the bridge
/// is its shim's to remove, when it ends); `true` when they are gone.
pub fn gc(host: Host<'_>, bridge: &str, recent: std::time::Duration) -> Result<bool, Error> {
    nft::check_bridge(bridge)?;
    let mut nl = Netlink::open()?;
    let lock = BridgeLock::take(host, bridge)?;
    // Only a bridge that is there has a last attach: without it, the lock file may be
    // one `take` just made (another shim removed the bridge), which goes with it.
    if !recent.is_zero() && lock.attached_within(recent) && nl.link_index(bridge)?.is_some() {
        return Ok(false);
    }
    remove_if_unused(host.firewall, &mut nl, bridge, &lock)
}

/// The name of container `id`'s own nftables table of published ports (`tug_p` + 16 hex
/// of the id).
pub fn ports_table(id: &str) -> String {
    format!("tug_p{}", id.chars().take(16).collect::<String>())
}

/// Installs (or replaces, in one transaction) the DNAT rules of container `id`'s
/// published ports, from the host's addresses (incl. 127.0.0.1) and from other
/// containers; no ports removes the table.
pub fn publish(host: Host<'_>, id: &str, ports: &[PortMap]) -> Result<(), Error> {
    if ports.is_empty() {
        return unpublish(host, id);
    }
    host.firewall.apply_ports(&ports_table(id), ports)?;
    Ok(())
}

/// The nftables table of port group `group`'s shared host ports (`tug_g` + 16 hex of
/// its hash).
pub fn group_table(group: &str) -> String {
    format!("tug_g{}", &crate::Digest::of(group.as_bytes()).hex()[..16])
}

/// Installs (or replaces) the DNAT rules of port group `group`'s shared host ports over
/// its running members; no member removes the table.
pub fn publish_group(host: Host<'_>, group: &str, ports: &[GroupPortMap]) -> Result<(), Error> {
    let table = group_table(group);
    let dir = host.run_dir.join("port-groups");
    fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
    let lock = dir.join(".lock");
    let _lock = crate::fsutil::lock_exclusive(&lock).map_err(|e| Error::io(lock.display(), e))?;
    if ports.iter().all(|p| p.backends.is_empty()) {
        host.firewall.remove_ports(&table)?;
        release_group_ports(&dir, &table);
    } else {
        claim_group_ports(&dir, &table, ports)?;
        host.firewall.apply_group_ports(&table, ports)?;
    }
    Ok(())
}

/// Claims `ports` for group table `table`, host-wide: the groups of every state root hold
/// their ports with SO_REUSEPORT, so the kernel would let two groups share one. A port
/// whose claim names another group whose table still exists is taken.
fn claim_group_ports(dir: &Path, table: &str, ports: &[GroupPortMap]) -> Result<(), Error> {
    for p in ports {
        let claim = dir.join(format!("{}-{}", p.proto.as_str(), p.host_port));
        if let Ok(owner) = fs::read_to_string(&claim)
            && owner != table
            && nft::check_ports_table(&owner).is_ok()
            && nft::table_exists(&owner).unwrap_or(false)
        {
            let ip = p.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string());
            return Err(Error::PortInUse(format!("{ip}:{}", p.host_port)));
        }
        fs::write(&claim, table).map_err(|e| Error::io(claim.display(), e))?;
    }
    Ok(())
}

/// Removes the claims of group table `table` (its last member left).
fn release_group_ports(dir: &Path, table: &str) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if fs::read_to_string(e.path()).is_ok_and(|owner| owner == table) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Removes container `id`'s port table; a missing table is not an error (and costs no
/// `nft` run: it is deleted over nfnetlink).
pub fn unpublish(host: Host<'_>, id: &str) -> Result<(), Error> {
    host.firewall.remove_ports(&ports_table(id))?;
    Ok(())
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
