//! The host ports a running container's ports are published on, typed
//! ([`PublishedPort`]), as `tug port` lists them.

use std::net::IpAddr;

use crate::container::Ctx;
use crate::network::ports::{PortMapJson, Proto};

/// One container port published on one host address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPort {
    pub container_port: u16,
    pub proto: Proto,
    /// The host address it is published on (`0.0.0.0`: every address).
    pub host_ip: IpAddr,
    pub host_port: u16,
}

impl Ctx<'_> {
    /// The work of `Engine::published_ports`.
    pub(crate) fn published_ports(
        &self,
        name: &str,
    ) -> crate::container::Result<Vec<PublishedPort>> {
        Ok(self.container(name)?.published_ports())
    }
}

impl super::Container {
    /// The published ports of this record (see
    /// [`Engine::published_ports`](crate::Engine::published_ports)), for a caller that
    /// has just read it.
    pub fn published_ports(&self) -> Vec<PublishedPort> {
        published(&self.network_settings.ports)
    }
}

/// The bindings of `NetworkSettings.Ports` with a host port (an exposed port that is not
/// published has none).
fn published(ports: &PortMapJson) -> Vec<PublishedPort> {
    let mut out = Vec::new();
    for (key, bindings) in ports {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let proto = match proto {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            _ => continue,
        };
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        for b in bindings.iter().flatten() {
            let (Ok(host_port), host_ip) = (
                b.host_port.parse::<u16>(),
                b.host_ip.parse::<IpAddr>().unwrap_or([0, 0, 0, 0].into()),
            ) else {
                continue;
            };
            out.push(PublishedPort {
                container_port,
                proto,
                host_ip,
                host_port,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ports::HostBinding;

    #[test]
    fn bindings_with_a_host_port_are_published() {
        let b = |ip: &str, port: &str| HostBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        };
        let mut map = PortMapJson::new();
        map.insert("80/tcp".into(), Some(vec![b("127.0.0.1", "32768")]));
        map.insert("53/udp".into(), Some(vec![b("", "32769")]));
        map.insert("443/tcp".into(), None);
        map.insert("81/tcp".into(), Some(vec![b("127.0.0.1", "")]));
        let got = published(&map);
        assert_eq!(
            got,
            [
                PublishedPort {
                    container_port: 53,
                    proto: Proto::Udp,
                    host_ip: [0, 0, 0, 0].into(),
                    host_port: 32769
                },
                PublishedPort {
                    container_port: 80,
                    proto: Proto::Tcp,
                    host_ip: [127, 0, 0, 1].into(),
                    host_port: 32768
                },
            ]
        );
    }
}
