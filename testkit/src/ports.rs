//! Container ports as testcontainers names them ([`ContainerPort`], `8080.tcp()`), the
//! host ports they are published on ([`Ports`]), and the [`Host`] to reach them on.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A port of the container, with its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerPort {
    Tcp(u16),
    Udp(u16),
    /// Named for testcontainers' sake; tug publishes tcp and udp only.
    Sctp(u16),
}

impl ContainerPort {
    /// The port number.
    pub fn as_u16(self) -> u16 {
        match self {
            ContainerPort::Tcp(p) | ContainerPort::Udp(p) | ContainerPort::Sctp(p) => p,
        }
    }

    pub(crate) fn proto(self) -> &'static str {
        match self {
            ContainerPort::Tcp(_) => "tcp",
            ContainerPort::Udp(_) => "udp",
            ContainerPort::Sctp(_) => "sctp",
        }
    }
}

impl fmt::Display for ContainerPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.as_u16(), self.proto())
    }
}

/// A bare number is a tcp port.
impl From<u16> for ContainerPort {
    fn from(port: u16) -> ContainerPort {
        ContainerPort::Tcp(port)
    }
}

/// `8080.tcp()`, `53.udp()`.
pub trait IntoContainerPort {
    fn tcp(self) -> ContainerPort;
    fn udp(self) -> ContainerPort;
    fn sctp(self) -> ContainerPort;
}

impl IntoContainerPort for u16 {
    fn tcp(self) -> ContainerPort {
        ContainerPort::Tcp(self)
    }
    fn udp(self) -> ContainerPort {
        ContainerPort::Udp(self)
    }
    fn sctp(self) -> ContainerPort {
        ContainerPort::Sctp(self)
    }
}

/// The host ports a container's ports are published on, by address family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ports {
    ipv4: HashMap<ContainerPort, u16>,
    ipv6: HashMap<ContainerPort, u16>,
}

impl Ports {
    /// The engine's published ports, by family of the host address.
    pub(crate) fn from_published(published: &[tug::container::PublishedPort]) -> Ports {
        let mut ports = Ports::default();
        for p in published {
            let cp = match p.proto {
                tug::network::Proto::Tcp => ContainerPort::Tcp(p.container_port),
                tug::network::Proto::Udp => ContainerPort::Udp(p.container_port),
            };
            let map = match p.host_ip {
                IpAddr::V4(_) => &mut ports.ipv4,
                IpAddr::V6(_) => &mut ports.ipv6,
            };
            map.entry(cp).or_insert(p.host_port);
        }
        ports
    }

    /// The IPv4 host port of `container_port`.
    pub fn map_to_host_port_ipv4(&self, container_port: impl Into<ContainerPort>) -> Option<u16> {
        self.ipv4.get(&container_port.into()).copied()
    }

    /// The IPv6 host port of `container_port` (tug publishes on IPv4 only: none).
    pub fn map_to_host_port_ipv6(&self, container_port: impl Into<ContainerPort>) -> Option<u16> {
        self.ipv6.get(&container_port.into()).copied()
    }

    /// The published container ports, in order.
    pub(crate) fn container_ports(&self) -> Vec<ContainerPort> {
        let mut v: Vec<ContainerPort> = self.ipv4.keys().chain(self.ipv6.keys()).copied().collect();
        v.sort();
        v.dedup();
        v
    }
}

/// A host to connect to, as `url::Host` (which testcontainers returns) has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

impl From<Ipv4Addr> for Host {
    fn from(a: Ipv4Addr) -> Host {
        Host::Ipv4(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_read_as_testcontainers_has_them() {
        assert_eq!(8080.tcp(), ContainerPort::from(8080));
        assert_eq!(53.udp().to_string(), "53/udp");
        assert_eq!(Host::Ipv4(Ipv4Addr::LOCALHOST).to_string(), "127.0.0.1");
        let published = [tug::container::PublishedPort {
            container_port: 80,
            proto: tug::network::Proto::Tcp,
            host_ip: [127, 0, 0, 1].into(),
            host_port: 32768,
        }];
        let p = Ports::from_published(&published);
        assert_eq!(p.map_to_host_port_ipv4(80), Some(32768));
        assert_eq!(p.map_to_host_port_ipv4(80.udp()), None);
        assert_eq!(p.map_to_host_port_ipv6(80), None);
        assert_eq!(p.container_ports(), [80.tcp()]);
    }
}
