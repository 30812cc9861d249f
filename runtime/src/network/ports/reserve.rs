//! Holding host ports for a running container: a bound, non-listening socket per port,
//! and the `NetworkSettings.Ports` that result.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn};

use super::{
    Error, HostBinding, PortBindings, PortMapJson, Proto, invalid, parse_expose, parse_host_ip,
    port_key, port_range, split_key,
};

/// A host port held for a running container.
#[derive(Debug)]
pub struct Reserved {
    pub proto: Proto,
    /// 0.0.0.0 for every address.
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
    /// The bound socket that holds the port (closed when dropped).
    pub socket: OwnedFd,
}

/// Reserves a host port for each binding: the given one, the first free one of a range,
/// or a free one picked by the kernel. Fails with Docker's message
/// (`Bind for 0.0.0.0:8080 failed: port is already allocated`) when one is taken; then
/// nothing stays reserved.
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
            held.push(reserve_one(proto, container_port, binding, shared)?);
        }
    }
    Ok(held)
}

fn reserve_one(
    proto: Proto,
    container_port: u16,
    b: &HostBinding,
    shared: bool,
) -> Result<Reserved, Error> {
    let host_ip = match b.host_ip.as_str() {
        "" => Ipv4Addr::UNSPECIFIED,
        ip => parse_host_ip(ip)?.unwrap_or(Ipv4Addr::UNSPECIFIED),
    };
    let (first, last) = match b.host_port.as_str() {
        "" => (0, 0),
        hp => port_range(hp).map_err(|why| invalid(format!("invalid hostPort: {hp}: {why}")))?,
    };
    for port in first..=last {
        match bind_port_with(proto, host_ip, port, shared) {
            Ok((socket, host_port)) => {
                return Ok(Reserved {
                    proto,
                    host_ip,
                    host_port,
                    container_port,
                    socket,
                });
            }
            Err(Errno::EADDRINUSE) => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("binding {} port {host_ip}:{port}", proto.as_str()),
                    e.into(),
                ));
            }
        }
    }
    let wanted = if b.host_port.is_empty() {
        "0"
    } else {
        &b.host_port
    };
    Err(Error::PortInUse(format!("{host_ip}:{wanted}")))
}

/// Binds (without listening) a close-on-exec socket to `ip:port` (port 0: the kernel
/// picks a free one) and returns it with the port it got. No SO_REUSEADDR: no other
/// socket can then bind the port, listening or not.
#[cfg(test)]
pub(super) fn bind_port(proto: Proto, ip: Ipv4Addr, port: u16) -> Result<(OwnedFd, u16), Errno> {
    bind_port_with(proto, ip, port, false)
}

/// [`bind_port`], with SO_REUSEPORT when `shared` (see [`reserve`]).
fn bind_port_with(
    proto: Proto,
    ip: Ipv4Addr,
    port: u16,
    shared: bool,
) -> Result<(OwnedFd, u16), Errno> {
    let ty = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let fd = nix::sys::socket::socket(AddressFamily::Inet, ty, SockFlag::SOCK_CLOEXEC, None)?;
    if shared {
        nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReusePort, &true)?;
    }
    let addr = SockaddrIn::from(SocketAddrV4::new(ip, port));
    nix::sys::socket::bind(fd.as_raw_fd(), &addr)?;
    let bound: SockaddrIn = nix::sys::socket::getsockname(fd.as_raw_fd())?;
    Ok((fd, bound.port()))
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
