//! NAT, forwarding and published-port rules in nftables.
//!
//! Each network gets its own table, `ip tug_<bridge>` (forwarding, masquerade out, the
//! hairpin and 127.0.0.1 masquerades), and each running container with published ports
//! its own, `ip tug_p<16 hex of its id>` (the DNAT rules), each replaced as a whole in one
//! transaction: written over nfnetlink (`nft_netlink.rs`, a fraction of a millisecond),
//! else by `nft -f -` (10-20 ms to spawn) with the script that `render*` writes, which
//! also documents the rules. Bridge names and container ids are unique on the host, so
//! tables of several state roots cannot clash, no shared table needs a reference count,
//! and removing a network's or a container's table removes all tug rules for it. The
//! host's own tables are never written. Whether a table exists is asked over nfnetlink.
//!
//! On a host without the `nft` program (or with `TUG_FIREWALL=iptables`) the same rules
//! go into tug's own iptables chains instead (see `iptables.rs`); the engine picks the
//! backend once (see [`super::Backend`]).

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// A failed rule change, naming the table and what was tried.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("bridge name {0:?} is not a valid interface name")]
    BadBridge(String),
    #[error("{0:?} is not a container's port table name")]
    BadTable(String),
    #[error("nft {op} table {table}")]
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
    #[error("nfnetlink: {op} table {table}")]
    Netlink {
        op: &'static str,
        table: String,
        #[source]
        source: io::Error,
    },
    #[error("net.ipv4.ip_forward")]
    Forward(#[source] io::Error),
    #[error("{0}")]
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

/// A host port shared by a group of replicas: new connections go to each running
/// member in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPortMap {
    pub proto: Proto,
    /// Only connections to this host address; `None` for every local address.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    /// The members' addresses (at least one).
    pub backends: Vec<Ipv4Addr>,
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
}

/// The table holding the rules of the network on `bridge`.
pub fn table_name(bridge: &str) -> String {
    format!("tug_{bridge}")
}

/// Interface names are at most 15 bytes; allowing only these characters also keeps the
/// name from ever being read as nft syntax.
pub(crate) fn check_bridge(bridge: &str) -> Result<()> {
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
    // Anything else into the bridge: other networks and the outside reach containers
    // only through published ports (Docker's network isolation).
    let _ = writeln!(s, "\t\toifname \"{br}\" drop");
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
    // The host's own connections to a published port on 127.0.0.1: the container must
    // see a source it can answer (needs route_localnet on the bridge).
    let _ = writeln!(s, "\t\toifname \"{br}\" ip saddr 127.0.0.0/8 masquerade");
    s.push_str("\t}\n}\n");
    Ok(s)
}

/// A container's port table name is `tug_p` (a port group's: `tug_g`) and 1 to 16
/// lowercase hex digits; checked so that it can never be read as nft syntax.
pub(crate) fn check_ports_table(table: &str) -> Result<()> {
    let hex = table
        .strip_prefix("tug_p")
        .or_else(|| table.strip_prefix("tug_g"));
    let ok = hex.is_some_and(|h| {
        (1..=16).contains(&h.len()) && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if ok {
        Ok(())
    } else {
        Err(NftError::BadTable(table.to_string()))
    }
}

/// The `nft -f` script that replaces a container's port table `table` with the DNAT
/// rules of `ports`, in one transaction.
pub fn render_ports(table: &str, ports: &[PortMap]) -> Result<String> {
    check_ports_table(table)?;
    let mut rules = String::new();
    for p in ports {
        // Writing to a String cannot fail.
        let _ = writeln!(
            rules,
            "\t\t{} {proto} dport {} dnat to {}:{}",
            match_destination(p.host_ip),
            p.host_port,
            p.container_ip,
            p.container_port,
            proto = p.proto.as_str()
        );
    }
    Ok(nat_table_script(table, &rules))
}

/// The match of a published port's destination: one host address, or any local one.
fn match_destination(host_ip: Option<Ipv4Addr>) -> String {
    match host_ip {
        Some(ip) => format!("ip daddr {ip}"),
        None => "fib daddr type local".to_string(),
    }
}

/// The script that replaces NAT table `table` with `rules` in its prerouting chain (from
/// other hosts and containers) and its output chain (from the host itself).
fn nat_table_script(table: &str, rules: &str) -> String {
    format!(
        "add table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n\
         \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{rules}\t}}\n\
         \tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{rules}\t}}\n}}\n"
    )
}

/// The `nft -f` script that replaces a port group's table `table`: each port DNATs new
/// connections to the group's members in turn (`numgen inc`), as Swarm's routing mesh
/// spreads a published port over a service's tasks.
pub fn render_group_ports(table: &str, ports: &[GroupPortMap]) -> Result<String> {
    check_ports_table(table)?;
    let mut rules = String::new();
    for p in ports.iter().filter(|p| !p.backends.is_empty()) {
        let map: Vec<String> = p
            .backends
            .iter()
            .enumerate()
            .map(|(i, ip)| format!("{i} : {ip}"))
            .collect();
        // Writing to a String cannot fail.
        let _ = writeln!(
            rules,
            "\t\t{} {proto} dport {} dnat to numgen inc mod {} map {{ {} }} : {}",
            match_destination(p.host_ip),
            p.host_port,
            p.backends.len(),
            map.join(", "),
            p.container_port,
            proto = p.proto.as_str()
        );
    }
    Ok(nat_table_script(table, &rules))
}

/// Installs or replaces a port group's table (see [`render_group_ports`]).
pub fn apply_group_ports(table: &str, ports: &[GroupPortMap]) -> Result<()> {
    run_nft(&render_group_ports(table, ports)?, "apply", table)
}

/// Installs or replaces a container's port table (the rules of [`render_ports`]), over
/// nfnetlink; through `nft -f` where that fails (a kernel that refuses an expression as
/// encoded here would say why through `nft` too).
pub fn apply_ports(table: &str, ports: &[PortMap]) -> Result<()> {
    let script = render_ports(table, ports)?;
    match netlink::replace_ports_table(table, ports) {
        Ok(()) => Ok(()),
        Err(_) => run_nft(&script, "apply", table),
    }
}

/// The `nft` program: found on `$PATH`, else in the sbin directories a shim started from
/// a user's shell may lack on its `$PATH`.
pub(super) fn nft_program() -> &'static std::path::Path {
    static PROGRAM: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PROGRAM.get_or_init(|| {
        let dirs = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&dirs)
            .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/local/sbin".into()])
            .map(|d| d.join("nft"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| "nft".into())
    })
}

fn run_nft(script: &str, op: &'static str, table: &str) -> Result<()> {
    match feed(nft_program(), &["-f", "-"], script, op, table) {
        Err(NftError::Spawn { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Err(NftError::Failed {
                op,
                table: table.to_string(),
                stderr: "neither nft nor iptables is installed: install nftables (Debian: \
                         apt-get install nftables), or run with --network none or host"
                    .into(),
            })
        }
        r => r,
    }
}

/// Runs `program args` with `script` on its stdin (`nft -f -`, `iptables-restore`); its
/// stderr is the error when it fails. `op` and `table` name what was tried.
pub(crate) fn feed(
    program: &std::path::Path,
    args: &[&str],
    script: &str,
    op: &'static str,
    table: &str,
) -> Result<()> {
    let spawn = |source| NftError::Spawn {
        op,
        table: table.to_string(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
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

/// Installs or replaces the network's rules (those of [`render`]) over nfnetlink, through
/// `nft -f` where that fails; applying the same network twice changes nothing. Turns IP
/// forwarding on for non-internal networks.
pub fn apply(net: &NatNetwork) -> Result<()> {
    let script = render(net)?;
    let table = table_name(&net.bridge);
    if netlink::replace_nat_table(&table, net).is_err() {
        run_nft(&script, "apply", &table)?;
    }
    if !net.internal {
        enable_ip_forward()?;
    }
    Ok(())
}

/// Lets the bridge carry packets from and to 127.0.0.0/8: without it the kernel drops
/// them, so published ports would not answer on 127.0.0.1. The bridge must exist.
pub fn set_route_localnet(bridge: &str) -> Result<()> {
    check_bridge(bridge)?;
    let path = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    std::fs::write(&path, "1\n").map_err(|e| NftError::Sysctl(path, e))
}

/// Removes the network's table; a missing table is not an error (nor an `nft` run).
pub fn remove(bridge: &str) -> Result<()> {
    check_bridge(bridge)?;
    delete_table(&table_name(bridge))
}

/// Removes a container's port table; a missing table is not an error.
pub fn remove_ports(table: &str) -> Result<()> {
    check_ports_table(table)?;
    delete_table(table)
}

/// Deletes `table` (a checked name) over nfnetlink.
fn delete_table(table: &str) -> Result<()> {
    netlink::delete_table(table)
        .map(drop)
        .map_err(|source| NftError::Netlink {
            op: "delete",
            table: table.to_string(),
            source,
        })
}

/// Whether the `ip` table `table` exists in the calling thread's network namespace,
/// asked over nfnetlink without spawning `nft`.
pub fn table_exists(table: &str) -> Result<bool> {
    netlink::table_exists(table).map_err(|source| NftError::Netlink {
        op: "look up",
        table: table.to_string(),
        source,
    })
}

/// The names of tug's tables in this network namespace (for leak checks).
pub fn tug_tables() -> Result<Vec<String>> {
    let out = Command::new(nft_program())
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

#[path = "nft_netlink.rs"]
mod netlink;

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;
