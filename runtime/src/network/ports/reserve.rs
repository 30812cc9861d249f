//! Holding host ports for a running container: a bound, non-listening socket per port
//! and address family, and the `NetworkSettings.Ports` that result.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrStorage};

use super::{
    Error, HostBinding, PortBindings, PortMapJson, Proto, invalid, parse_expose, parse_host_ip,
    port_key, port_range, split_key,
};

/// A host port held for a running container.
#[derive(Debug)]
pub struct Reserved {
    pub proto: Proto,
    /// 0.0.0.0 or :: for every address (of its family).
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    /// The bound socket that holds the port (closed when dropped). An IPv6 one is
    /// IPv6-only, and becomes the proxy's listening socket ([`super::proxy`]).
    pub socket: OwnedFd,
}

/// Reserves a host port for each binding: the given one, the first free one of a range,
/// or a free one picked by the kernel. A binding without an address holds the port on
/// 0.0.0.0 and, when the host has IPv6, on `::` too (the same number, as Docker does).
/// Fails with Docker's message (`Bind for 0.0.0.0:8080 failed: port is already
/// allocated`) when one is taken; then nothing stays reserved.
pub fn reserve(bindings: &PortBindings) -> Result<Vec<Reserved>, Error> {
    reserve_with(bindings, false)
}

/// [`reserve`]; with `shared` (a port group's replicas), the ports are bound with
/// SO_REUSEPORT, so that every member of the group holds them together (and no one else
/// without it).
pub fn reserve_with(bindings: &PortBindings, shared: bool) -> Result<Vec<Reserved>, Error> {
    let mut held = Vec::new();
    for (key, list) in bindings {
        let (container_port, proto) = split_key(key)?;
        for binding in list {
            // On an error, `held` is dropped on return: every socket bound so far closes.
            held.extend(reserve_one(proto, container_port, binding, shared)?);
        }
    }
    Ok(held)
}

/// Whether this host has IPv6 (an address on some interface): then a port published on
/// every address is published on IPv6's too. Asked once per process.
pub fn host_has_ipv6() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        std::fs::read_to_string("/proc/net/if_inet6").is_ok_and(|s| !s.trim().is_empty())
    })
}

fn reserve_one(
    proto: Proto,
    container_port: u16,
    b: &HostBinding,
    shared: bool,
) -> Result<Vec<Reserved>, Error> {
    let (host_ip, dual) = match b.host_ip.as_str() {
        "" => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), host_has_ipv6()),
        ip => (
            parse_host_ip(ip)?.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            false,
        ),
    };
    let (first, last) = match b.host_port.as_str() {
        "" => (0, 0),
        hp => port_range(hp).map_err(|why| invalid(format!("invalid hostPort: {hp}: {why}")))?,
    };
    let held = |ip: IpAddr, socket: OwnedFd, host_port: u16| Reserved {
        proto,
        host_ip: ip,
        host_port,
        container_port,
        socket,
    };
    let v6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    // A port the kernel picks may be free on IPv4 and taken on IPv6: a few more tries.
    let tries = if first == 0 && dual { 16 } else { 1 };
    for port in (first..=last).flat_map(|p| std::iter::repeat_n(p, tries)) {
        let (socket, host_port) = match bind_port_with(proto, host_ip, port, shared) {
            Ok(bound) => bound,
            Err(Errno::EADDRINUSE) => continue,
            Err(e) => return Err(bind_error(proto, host_ip, port, e)),
        };
        if !dual {
            return Ok(vec![held(host_ip, socket, host_port)]);
        }
        match bind_port_with(proto, v6, host_port, shared) {
            Ok((socket6, _)) => {
                return Ok(vec![
                    held(host_ip, socket, host_port),
                    held(v6, socket6, host_port),
                ]);
            }
            // Taken on IPv6 alone: as taken as on both (the IPv4 socket closes here).
            Err(Errno::EADDRINUSE) if first != last || first == 0 => continue,
            Err(Errno::EADDRINUSE) => {
                return Err(Error::PortInUse(format!("[::]:{host_port}")));
            }
            Err(e) => return Err(bind_error(proto, v6, host_port, e)),
        }
    }
    let wanted = if b.host_port.is_empty() {
        "0"
    } else {
        &b.host_port
    };
    Err(Error::PortInUse(format!("{}:{wanted}", bracketed(host_ip))))
}

/// An address as Go's `JoinHostPort` writes it before a port: IPv6 in brackets.
pub(super) fn bracketed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

fn bind_error(proto: Proto, ip: IpAddr, port: u16, e: Errno) -> Error {
    Error::io(
        format!("binding {} port {}:{port}", proto.as_str(), bracketed(ip)),
        e.into(),
    )
}

/// Binds (without listening) a close-on-exec socket to `ip:port` (port 0: the kernel
/// picks a free one) and returns it with the port it got. No SO_REUSEADDR: no other
/// socket can then bind the port, listening or not.
#[cfg(test)]
pub(super) fn bind_port(proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(OwnedFd, u16), Errno> {
    bind_port_with(proto, ip.into(), port, false)
}

/// [`bind_port`], for either family (an IPv6 socket IPv6-only), with SO_REUSEPORT when
/// `shared` (see [`reserve`]).
fn bind_port_with(
    proto: Proto,
    ip: IpAddr,
    port: u16,
    shared: bool,
) -> Result<(OwnedFd, u16), Errno> {
    use nix::sys::socket::{setsockopt, sockopt};
    let ty = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let family = match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = nix::sys::socket::socket(family, ty, SockFlag::SOCK_CLOEXEC, None)?;
    if shared {
        setsockopt(&fd, sockopt::ReusePort, &true)?;
    }
    if ip.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    let addr = SockaddrStorage::from(SocketAddr::new(ip, port));
    nix::sys::socket::bind(fd.as_raw_fd(), &addr)?;
    let bound: SockaddrStorage = nix::sys::socket::getsockname(fd.as_raw_fd())?;
    let got = bound
        .as_sockaddr_in()
        .map(|a| a.port())
        .or_else(|| bound.as_sockaddr_in6().map(|a| a.port()))
        .unwrap_or(port);
    Ok((fd, got))
}

/// `NetworkSettings.Ports` for a running container: every exposed key (null when not
/// published) and every reserved port.
pub fn actual(reserved: &[Reserved], exposed: &[String]) -> PortMapJson {
    let mut out = PortMapJson::new();
    for e in exposed {
        // A key that does not parse is shown as it is rather than lost.
        for key in parse_expose(e).unwrap_or_else(|_| vec![e.clone()]) {
            out.entry(key).or_insert(None);
        }
    }
    for r in reserved {
        out.entry(port_key(r.container_port, r.proto))
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(HostBinding {
                host_ip: r.host_ip.to_string(),
                host_port: r.host_port.to_string(),
            });
    }
    out
}
