//! Published ports: Docker's `-p`/`--expose` syntax, the bindings as `inspect` shows them
//! (`HostConfig.PortBindings`, `NetworkSettings.Ports`), their `ps`/`port` text, and the
//! host-wide reservation of host ports.
//!
//! A host port is reserved by binding a socket to it (without listening) for as long as
//! the container runs: no other process on the host, of tug or not, can take it, and a
//! port already in use fails the start at once. The traffic itself is forwarded by
//! DNAT rules (see `nft`), never through this socket.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize};

use super::Error;
pub use super::nft::Proto;

/// One `-p` value: `[ip:][host[-end]:]container[-end][/proto]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The host address to publish on; `None` for all (0.0.0.0).
    pub host_ip: Option<Ipv4Addr>,
    /// Inclusive host port range; `None` for a free port picked at start.
    pub host_ports: Option<(u16, u16)>,
    /// Inclusive container port range.
    pub container_ports: (u16, u16),
    pub proto: Proto,
}

/// A host binding of one container port, as Docker's JSON has it (`HostPort` empty for
/// "pick one"; `"8000-8010"` for "the first free one of this range").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// `HostConfig.PortBindings`: `"80/tcp"` → its requested bindings.
pub type PortBindings = BTreeMap<String, Vec<HostBinding>>;

/// `NetworkSettings.Ports`: `"80/tcp"` → the actual bindings, `None` (JSON null) for an
/// exposed port that is not published.
pub type PortMapJson = BTreeMap<String, Option<Vec<HostBinding>>>;

/// Parses one `-p`/`--publish` value. Errors name the value and what is wrong.
pub fn parse_publish(s: &str) -> Result<PortSpec, Error> {
    let _ = s;
    todo!("ports helper")
}

/// Parses one `--expose` value or an image's `ExposedPorts` key: `80`, `80/udp`,
/// `8000-8010/tcp`. Returns Docker's keys (`"80/tcp"`).
pub fn parse_expose(s: &str) -> Result<Vec<String>, Error> {
    let _ = s;
    todo!("ports helper")
}

/// Docker's port key: `"80/tcp"`.
pub fn port_key(port: u16, proto: Proto) -> String {
    format!("{port}/{}", proto.as_str())
}

/// Splits a port key (`"80/tcp"`, `"53/udp"`, `"80"` meaning tcp).
pub fn split_key(key: &str) -> Result<(u16, Proto), Error> {
    let _ = key;
    todo!("ports helper")
}

/// The `HostConfig.PortBindings` of some `-p` values (ranges expanded one port per key;
/// a host range with one container port stays a range to pick from), merged with `-P`:
/// every key of `exposed` without a binding gets a random host port when `publish_all`.
pub fn bindings(
    specs: &[PortSpec],
    exposed: &[String],
    publish_all: bool,
) -> Result<PortBindings, Error> {
    let _ = (specs, exposed, publish_all);
    todo!("ports helper")
}

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
    let _ = bindings;
    todo!("ports helper")
}

/// `NetworkSettings.Ports` for a running container: every exposed key (null when not
/// published) and every reserved port.
pub fn actual(reserved: &[Reserved], exposed: &[String]) -> PortMapJson {
    let _ = (reserved, exposed);
    todo!("ports helper")
}

/// The PORTS column of `ps`: `0.0.0.0:8080->80/tcp, 443/tcp` (consecutive ports folded
/// into ranges as Docker does).
pub fn ps_column(ports: &PortMapJson) -> String {
    let _ = ports;
    todo!("ports helper")
}

/// `tug port CONTAINER [PRIVATE_PORT[/PROTO]]`: the lines Docker prints
/// (`80/tcp -> 0.0.0.0:32768`, or `0.0.0.0:32768` with a port given). An error when
/// the given port is not published (`Error: No public port '80/tcp' published for web`).
pub fn port_lines(
    ports: &PortMapJson,
    private: Option<&str>,
    container: &str,
) -> Result<Vec<String>, Error> {
    let _ = (ports, private, container);
    todo!("ports helper")
}
