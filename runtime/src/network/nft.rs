//! NAT, forwarding and published-port rules in nftables, driven through the `nft` program.
//!
//! Each network gets its own table, `ip tug_<bridge>`, replaced as a whole in one `nft -f -`
//! transaction. Bridge names are already unique on the host (every state root allocates
//! them under the host-wide lock), so tables of several state roots cannot clash, no
//! shared table needs a reference count or a lock, and removing a network's table removes
//! all tug rules for it: the last network going leaves no tug table behind. The host's own
//! tables are never read or written.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// A failed rule change, naming the table and what was tried.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("bridge name {0:?} is not a valid interface name")]
    BadBridge(String),
    #[error("nft {op} table {table}: {source}")]
    Spawn {
        op: &'static str,
        table: String,
        #[source]
        source: io::Error,
    },
    #[error("nft {op} table {table}: {stderr}")]
    Failed {
        op: &'static str,
        table: String,
        stderr: String,
    },
    #[error("net.ipv4.ip_forward: {0}")]
    Forward(#[source] io::Error),
    #[error("{0}: {1}")]
    Sysctl(String, #[source] io::Error),
}

pub type Result<T> = std::result::Result<T, NftError>;

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A host port forwarded to a container's address and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMap {
    pub proto: Proto,
    /// Only connections to this host address; `None` for every local address.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// What one network needs from nftables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatNetwork {
    pub bridge: String,
    pub subnet: Ipv4Addr,
    pub prefix: u8,
    /// No masquerade and no forwarding between the bridge and anything else.
    pub internal: bool,
    /// Ignored on internal networks (as Docker does): nothing may reach them from outside.
    pub ports: Vec<PortMap>,
}

/// The table holding the rules of the network on `bridge`.
pub fn table_name(bridge: &str) -> String {
    format!("tug_{bridge}")
}

/// Interface names are at most 15 bytes; allowing only these characters also keeps the
/// name from ever being read as nft syntax.
fn check_bridge(bridge: &str) -> Result<()> {
    let ok = !bridge.is_empty()
        && bridge.len() <= 15
        && bridge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && bridge.as_bytes()[0].is_ascii_alphabetic();
    if ok {
        Ok(())
    } else {
        Err(NftError::BadBridge(bridge.to_string()))
    }
}

/// The `nft -f` script that replaces the network's table in one transaction (creating the
/// table first makes the delete succeed when it is missing).
pub fn render(net: &NatNetwork) -> Result<String> {
    check_bridge(&net.bridge)?;
    let t = table_name(&net.bridge);
    let br = &net.bridge;
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(s, "add table ip {t}\ndelete table ip {t}\ntable ip {t} {{");
    s.push_str("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
    if net.internal {
        let _ = writeln!(s, "\t\tiifname \"{br}\" oifname \"{br}\" accept");
        let _ = writeln!(s, "\t\tiifname \"{br}\" drop");
        let _ = writeln!(s, "\t\toifname \"{br}\" drop");
        s.push_str("\t}\n}\n");
        return Ok(s);
    }
    let _ = writeln!(s, "\t\tiifname \"{br}\" accept");
    let _ = writeln!(
        s,
        "\t\toifname \"{br}\" ct state established,related accept"
    );
    let _ = writeln!(s, "\t\toifname \"{br}\" ct status dnat accept");
    s.push_str("\t}\n");
    s.push_str(
        "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
    );
    let _ = writeln!(
        s,
        "\t\tip saddr {}/{} oifname != \"{br}\" masquerade",
        net.subnet, net.prefix
    );
    // Hairpin: a container reaching a published port of another container on the same
    // bridge; without it the reply would go straight back over the bridge, unNATed.
    let _ = writeln!(
        s,
        "\t\toifname \"{br}\" ip saddr {}/{} ct status dnat masquerade",
        net.subnet, net.prefix
    );
    if !net.ports.is_empty() {
        // The host's own connections to 127.0.0.1: the container must see a source it
        // can answer (needs route_localnet on the bridge, set by `apply`).
        let _ = writeln!(s, "\t\toifname \"{br}\" ip saddr 127.0.0.0/8 masquerade");
    }
    s.push_str("\t}\n");
    if !net.ports.is_empty() {
        let mut rules = String::new();
        for p in &net.ports {
            let dst = match p.host_ip {
                Some(ip) => format!("ip daddr {ip}"),
                None => "fib daddr type local".to_string(),
            };
            let _ = writeln!(
                rules,
                "\t\t{dst} {proto} dport {} dnat to {}:{}",
                p.host_port,
                p.container_ip,
                p.container_port,
                proto = p.proto.as_str()
            );
        }
        // prerouting: from other hosts and containers; output: from the host itself.
        let _ = write!(
            s,
            "\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{rules}\t}}\n\
             \tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{rules}\t}}\n"
        );
    }
    s.push_str("}\n");
    Ok(s)
}

fn run_nft(script: &str, op: &'static str, table: &str) -> Result<()> {
    let spawn = |source| NftError::Spawn {
        op,
        table: table.to_string(),
        source,
    };
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    // stdin was set to piped above.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let written = stdin.write_all(script.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().map_err(spawn)?;
    if !out.status.success() {
        return Err(NftError::Failed {
            op,
            table: table.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    written.map_err(spawn)
}

/// Installs or replaces the network's rules; applying the same network twice changes
/// nothing. Turns IP forwarding on for non-internal networks. With published ports the
/// bridge must exist (its route_localnet is set).
pub fn apply(net: &NatNetwork) -> Result<()> {
    let script = render(net)?;
    if !net.internal && !net.ports.is_empty() {
        // Without it the kernel drops packets to or from 127.0.0.0/8 on the bridge, so
        // published ports would not answer on 127.0.0.1. Turned on before the rules.
        let path = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", net.bridge);
        std::fs::write(&path, "1\n").map_err(|e| NftError::Sysctl(path, e))?;
    }
    run_nft(&script, "apply", &table_name(&net.bridge))?;
    if !net.internal {
        enable_ip_forward()?;
    }
    Ok(())
}

/// Removes the network's table; a missing table is not an error.
pub fn remove(bridge: &str) -> Result<()> {
    check_bridge(bridge)?;
    let t = table_name(bridge);
    run_nft(
        &format!("add table ip {t}\ndelete table ip {t}\n"),
        "remove",
        &t,
    )
}

/// The names of tug's tables in this network namespace (for leak checks).
pub fn tug_tables() -> Result<Vec<String>> {
    let out = Command::new("nft")
        .args(["list", "tables", "ip"])
        .output()
        .map_err(|source| NftError::Spawn {
            op: "list",
            table: "tug_*".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(NftError::Failed {
            op: "list",
            table: "tug_*".into(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("table ip "))
        .filter(|t| t.starts_with("tug_"))
        .map(str::to_string)
        .collect())
}

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// Turns on IPv4 forwarding if it is off; `true` when this call changed it. The old value
/// is not restored when networks go: other state roots and the host's own software may
/// rely on forwarding by then, and nothing tells who turned it on.
pub fn enable_ip_forward() -> Result<bool> {
    let cur = std::fs::read_to_string(IP_FORWARD).map_err(NftError::Forward)?;
    if cur.trim() == "1" {
        return Ok(false);
    }
    std::fs::write(IP_FORWARD, "1\n").map_err(NftError::Forward)?;
    Ok(true)
}

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;
