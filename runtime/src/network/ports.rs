//! Published ports: Docker's `-p`/`--expose` syntax, the bindings as `inspect` shows them
//! (`HostConfig.PortBindings`, `NetworkSettings.Ports`), their `ps`/`port` text, and the
//! host-wide reservation of host ports.
//!
//! A host port is reserved by binding a socket to it (without listening) for as long as
//! the container runs: no other process on the host, of tug or not, can take it, and a
//! port already in use fails the start at once. IPv4 traffic is forwarded by DNAT rules
//! (see `nft`), never through this socket. A port published on every address is also
//! published on IPv6's (`[::]:8080`, as Docker does) when the host has IPv6: the
//! container has only an IPv4 address, so that socket listens and the shim relays its
//! connections to the container ([`proxy`], Docker's userland proxy).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::Error;
pub use super::nft::Proto;

pub mod proxy;
mod reserve;
mod view;

pub use reserve::{Reserved, actual, host_has_ipv6, reserve, reserve_with};
pub use view::{port_lines, ps_column, publishers};

/// One `-p` value: `[ip:][host[-end]:]container[-end][/proto]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The host address to publish on; `None` for all (0.0.0.0, and :: when the host has
    /// IPv6).
    pub host_ip: Option<IpAddr>,
    /// Inclusive host port range; `None` for a free port picked at start.
    pub host_ports: Option<(u16, u16)>,
    /// Inclusive container port range.
    pub container_ports: (u16, u16),
    pub proto: Proto,
}

/// A host binding of one container port, as Docker's JSON has it (`HostPort` empty for
/// "pick one"; `"8000-8010"` for "the first free one of this range").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

/// A decimal port number, digits only (as Go's `ParseUint(s, 10, 16)`: no sign, no
/// spaces); the error says why in Go's words.
fn port_number(s: &str) -> Result<u16, crate::InvalidValue> {
    if s.is_empty() {
        return Err(crate::InvalidValue::new(s, "value is empty"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(crate::InvalidValue::new(
            s,
            format!("parsing {s:?}: invalid syntax"),
        ));
    }
    s.parse()
        .map_err(|_| crate::InvalidValue::new(s, format!("parsing {s:?}: value out of range")))
}

/// `80` or `8000-8010` (inclusive, start ≤ end).
fn port_range(s: &str) -> Result<(u16, u16), crate::InvalidValue> {
    if s.is_empty() {
        return Err(crate::InvalidValue::new(
            s,
            "empty string specified for ports",
        ));
    }
    let Some((a, b)) = s.split_once('-') else {
        let p = port_number(s)?;
        return Ok((p, p));
    };
    let (a, b) = (port_number(a)?, port_number(b)?);
    if b < a {
        return Err(crate::InvalidValue::new(
            s,
            format!("invalid range specified for port: {s}"),
        ));
    }
    Ok((a, b))
}

/// `tcp` or `udp`, any case; Docker's message for anything else.
fn parse_proto(s: &str) -> Result<Proto, Error> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "" | "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        "sctp" => Err(invalid("invalid proto: sctp (SCTP is not supported yet)")),
        _ => Err(invalid(format!("invalid proto: {lower}"))),
    }
}

/// The host address of a `-p` value, IPv4 or IPv6 (brackets allowed around an address).
fn parse_host_ip(ip: &str) -> Result<Option<IpAddr>, Error> {
    if ip.is_empty() {
        return Ok(None);
    }
    let bare = match ip.strip_prefix('[') {
        Some(rest) => rest
            .strip_suffix(']')
            .ok_or_else(|| invalid(format!("invalid IP address {ip}: missing ']' in address")))?,
        None => ip,
    };
    if let Ok(v4) = bare.parse::<Ipv4Addr>() {
        return Ok(Some(v4.into()));
    }
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return Ok(Some(v6.into()));
    }
    Err(invalid(format!("invalid IP address: {bare}")))
}

fn range_text((a, b): (u16, u16)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    }
}

/// Parses one `-p`/`--publish` value. Errors name the value and what is wrong, in
/// Docker's words (`invalid hostPort: 99999`).
pub fn parse_publish(s: &str) -> Result<PortSpec, Error> {
    if s.contains('=') {
        return parse_publish(&long_syntax(s)?);
    }
    // `ip:host:container`; an IPv6 address has colons of its own, so the last two
    // parts are the ports and everything before them is the address.
    let parts: Vec<&str> = s.split(':').collect();
    let n = parts.len();
    let (ip, host, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (container, proto) = container.split_once('/').unwrap_or((container, ""));
    if container.is_empty() {
        return Err(invalid(format!("no port specified: {s}<empty>")));
    }
    let proto = parse_proto(proto)?;
    let host_ip = parse_host_ip(&ip)?;
    let container_ports = port_range(container)
        .ok()
        .filter(|&(first, _)| first != 0)
        .ok_or_else(|| invalid(format!("invalid containerPort: {container}")))?;
    let host_ports = if host.is_empty() {
        None
    } else {
        Some(port_range(host).map_err(|_| invalid(format!("invalid hostPort: {host}")))?)
    };
    let spec = PortSpec {
        host_ip,
        host_ports,
        container_ports,
        proto,
    };
    check_ranges(&spec)?;
    Ok(spec)
}

/// Docker's long `-p` syntax (`target=80,published=8080,protocol=udp`) in the short one
/// (`8080:80/udp`), as Docker's CLI converts it.
fn long_syntax(s: &str) -> Result<String, Error> {
    let (mut published, mut target, mut protocol) = ("", "", "tcp");
    for param in s.split(',') {
        let (k, v) = param
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                ))
            })?;
        match k {
            "published" => published = v,
            "target" => target = v,
            "protocol" => protocol = v,
            // Docker ignores other names (mode=host is what it does anyway).
            _ => {}
        }
    }
    Ok(format!("{published}:{target}/{protocol}"))
}

/// A host range must be as long as the container range, unless there is one container
/// port (then it is a range to pick a free host port from).
fn check_ranges(spec: &PortSpec) -> Result<(), Error> {
    let (cs, ce) = spec.container_ports;
    if cs > ce || cs == 0 {
        return Err(invalid(format!(
            "invalid containerPort: {}",
            range_text(spec.container_ports)
        )));
    }
    if let Some((hs, he)) = spec.host_ports {
        if hs > he {
            return Err(invalid(format!("invalid hostPort: {hs}-{he}")));
        }
        if he - hs != ce - cs && cs != ce {
            return Err(invalid(format!(
                "invalid ranges specified for container and host Ports: {} and {}",
                range_text(spec.container_ports),
                range_text((hs, he))
            )));
        }
    }
    Ok(())
}

impl fmt::Display for PortSpec {
    /// The canonical `-p` text: `[ip:][host:]container/proto` (`127.0.0.1::80/tcp` for an
    /// address without a host port); `parse_publish` reads it back to the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host_ports.map(range_text).unwrap_or_default();
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:{host}:")?,
            Some(ip) => write!(f, "{ip}:{host}:")?,
            None if self.host_ports.is_some() => write!(f, "{host}:")?,
            None => {}
        }
        write!(
            f,
            "{}/{}",
            range_text(self.container_ports),
            self.proto.as_str()
        )
    }
}

/// Parses one `--expose` value or an image's `ExposedPorts` key: `80`, `80/udp`,
/// `8000-8010/tcp`. Returns Docker's keys (`"80/tcp"`), one per port.
pub fn parse_expose(s: &str) -> Result<Vec<String>, Error> {
    if s.contains(':') {
        return Err(invalid(format!("invalid port format for --expose: {s}")));
    }
    let (ports, proto) = s.split_once('/').unwrap_or((s, ""));
    let proto = parse_proto(proto)?;
    let (first, last) = port_range(ports)
        .and_then(|r| match r.0 {
            0 => Err(crate::InvalidValue::new(ports, "port 0 cannot be exposed")),
            _ => Ok(r),
        })
        .map_err(|why| {
            invalid(format!(
                "invalid range format for --expose: {s}, error: {why}"
            ))
        })?;
    Ok((first..=last).map(|p| port_key(p, proto)).collect())
}

/// Docker's port key: `"80/tcp"`.
pub fn port_key(port: u16, proto: Proto) -> String {
    format!("{port}/{}", proto.as_str())
}

/// Splits a port key (`"80/tcp"`, `"53/udp"`, `"80"` meaning tcp).
pub fn split_key(key: &str) -> Result<(u16, Proto), Error> {
    let (port, proto) = key.split_once('/').unwrap_or((key, ""));
    let port = port_number(port).map_err(|why| invalid(format!("invalid port {key:?}: {why}")))?;
    Ok((port, parse_proto(proto)?))
}

/// The `HostConfig.PortBindings` of some `-p` values (ranges expanded one port per key;
/// a host range with one container port stays a range to pick from), merged with `-P`:
/// every key of `exposed` without a binding gets a random host port when `publish_all`.
pub fn bindings(
    specs: &[PortSpec],
    exposed: &[String],
    publish_all: bool,
) -> Result<PortBindings, Error> {
    let mut out = PortBindings::new();
    for spec in specs {
        check_ranges(spec)?;
        let (cs, ce) = spec.container_ports;
        let host_ip = spec.host_ip.map(|ip| ip.to_string()).unwrap_or_default();
        for offset in 0..=(ce - cs) {
            let host_port = match spec.host_ports {
                None => String::new(),
                Some((hs, he)) if cs == ce && hs != he => format!("{hs}-{he}"),
                // check_ranges: the host range is as long as the container range here,
                // so hs + offset ≤ he.
                Some((hs, _)) => (hs + offset).to_string(),
            };
            out.entry(port_key(cs + offset, spec.proto))
                .or_default()
                .push(HostBinding {
                    host_ip: host_ip.clone(),
                    host_port,
                });
        }
    }
    if publish_all {
        for e in exposed {
            for key in parse_expose(e)? {
                out.entry(key)
                    .or_insert_with(|| vec![HostBinding::default()]);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
