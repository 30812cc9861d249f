//! The same rules as `nft.rs`, through `iptables` for hosts without the `nft` program.
//!
//! Each network gets the chains `TUG-<bridge>` in the filter table (jumped to from
//! FORWARD) and in the nat table (from POSTROUTING); each container with published ports
//! the nat chain `TUG-P-<16 hex of its id>` (from PREROUTING and OUTPUT). A chain's rules
//! are replaced as a whole by one `iptables-restore --noflush`; the jumps are added once
//! and removed with the chain. Nothing of the host's own chains but those jumps is
//! touched.

use std::process::{Command, Stdio};

use super::nft::{NatNetwork, NftError, PortMap, Result};

/// The chain of the network on `bridge` (in the filter and the nat table).
pub fn network_chain(bridge: &str) -> String {
    format!("TUG-{bridge}")
}

/// The nat chain of a container's published ports, from its nft table name
/// (`tug_p<hex>` → `TUG-P-<hex>`).
pub fn ports_chain(table: &str) -> String {
    format!("TUG-P-{}", table.trim_start_matches("tug_p"))
}

/// A program of the iptables family, found on `$PATH` or in the sbin directories.
fn program(name: &str) -> std::path::PathBuf {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| name.into())
}

/// Whether `iptables` is installed.
pub fn available() -> bool {
    program("iptables").is_file()
}

fn run(args: &[&str], op: &'static str, chain: &str) -> Result<bool> {
    let out = Command::new(program("iptables"))
        .arg("-w")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| NftError::Spawn {
            op,
            table: chain.to_string(),
            source,
        })?;
    Ok(out.status.success())
}

fn restore(script: &str, op: &'static str, chain: &str) -> Result<()> {
    super::nft::feed(
        &program("iptables-restore"),
        &["-w", "--noflush"],
        script,
        op,
        chain,
    )
}

/// Adds the jump `from` → `chain` in `table` unless it is there.
fn ensure_jump(table: &str, from: &str, chain: &str) -> Result<()> {
    if run(&["-t", table, "-C", from, "-j", chain], "check jump", chain)? {
        return Ok(());
    }
    if run(&["-t", table, "-I", from, "-j", chain], "add jump", chain)? {
        Ok(())
    } else {
        Err(NftError::Failed {
            op: "add jump",
            table: chain.to_string(),
            stderr: format!("iptables -t {table} -I {from} -j {chain} failed"),
        })
    }
}

/// Removes every jump `from` → `chain` in `table`, then the chain; missing ones are fine.
fn remove_chain(table: &str, froms: &[&str], chain: &str) -> Result<()> {
    for from in froms {
        while run(
            &["-t", table, "-D", from, "-j", chain],
            "remove jump",
            chain,
        )? {}
    }
    run(&["-t", table, "-F", chain], "flush", chain)?;
    run(&["-t", table, "-X", chain], "delete", chain)?;
    Ok(())
}

/// The `iptables-restore --noflush` input that (re)fills the network's chains.
pub fn render(net: &NatNetwork) -> String {
    let c = network_chain(&net.bridge);
    let br = &net.bridge;
    let subnet = format!("{}/{}", net.subnet, net.prefix);
    let mut s = format!("*filter\n:{c} - [0:0]\n");
    if net.internal {
        s.push_str(&format!(
            "-A {c} -i {br} -o {br} -j ACCEPT\n-A {c} -i {br} -j DROP\n-A {c} -o {br} -j DROP\nCOMMIT\n"
        ));
        return s;
    }
    s.push_str(&format!(
        "-A {c} -i {br} -j ACCEPT\n\
         -A {c} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A {c} -o {br} -m conntrack --ctstate DNAT -j ACCEPT\n\
         -A {c} -o {br} -j DROP\nCOMMIT\n"
    ));
    s.push_str(&format!(
        "*nat\n:{c} - [0:0]\n\
         -A {c} -s {subnet} ! -o {br} -j MASQUERADE\n\
         -A {c} -o {br} -s {subnet} -m conntrack --ctstate DNAT -j MASQUERADE\n\
         -A {c} -o {br} -s 127.0.0.0/8 -j MASQUERADE\nCOMMIT\n"
    ));
    s
}

/// Installs or replaces the network's chains and their jumps.
pub fn apply(net: &NatNetwork) -> Result<()> {
    let c = network_chain(&net.bridge);
    restore(&render(net), "apply", &c)?;
    ensure_jump("filter", "FORWARD", &c)?;
    if net.internal {
        // An internal network has no nat chain; one left from before goes.
        remove_chain("nat", &["POSTROUTING"], &c)?;
    } else {
        ensure_jump("nat", "POSTROUTING", &c)?;
    }
    Ok(())
}

/// Removes the network's chains.
pub fn remove(bridge: &str) -> Result<()> {
    let c = network_chain(bridge);
    remove_chain("filter", &["FORWARD"], &c)?;
    remove_chain("nat", &["POSTROUTING"], &c)
}

/// Whether the network's filter chain exists.
pub fn exists(bridge: &str) -> Result<bool> {
    let c = network_chain(bridge);
    run(&["-t", "filter", "-S", &c], "look up", &c)
}

/// The `iptables-restore --noflush` input that (re)fills a container's port chain.
pub fn render_ports(chain: &str, ports: &[PortMap]) -> String {
    let mut s = format!("*nat\n:{chain} - [0:0]\n");
    for p in ports {
        let dst = match p.host_ip {
            Some(ip) => format!("-d {ip}/32"),
            None => "-m addrtype --dst-type LOCAL".to_string(),
        };
        s.push_str(&format!(
            "-A {chain} {dst} -p {proto} -m {proto} --dport {} -j DNAT --to-destination {}:{}\n",
            p.host_port,
            p.container_ip,
            p.container_port,
            proto = p.proto.as_str()
        ));
    }
    s.push_str("COMMIT\n");
    s
}

/// Installs or replaces a container's port chain and its jumps.
pub fn apply_ports(table: &str, ports: &[PortMap]) -> Result<()> {
    let c = ports_chain(table);
    restore(&render_ports(&c, ports), "apply", &c)?;
    ensure_jump("nat", "PREROUTING", &c)?;
    ensure_jump("nat", "OUTPUT", &c)
}

/// Removes a container's port chain.
pub fn remove_ports(table: &str) -> Result<()> {
    remove_chain("nat", &["PREROUTING", "OUTPUT"], &ports_chain(table))
}

/// tug's chains (for leak checks).
pub fn tug_chains() -> Result<Vec<String>> {
    let out = Command::new(program("iptables-save"))
        .output()
        .map_err(|source| NftError::Spawn {
            op: "list",
            table: "TUG-*".into(),
            source,
        })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| c.starts_with("TUG-"))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::nft::Proto;

    #[test]
    fn rules_render_as_iptables_restore_input() {
        let net = NatNetwork {
            bridge: "tug0".into(),
            subnet: "172.17.0.0".parse().unwrap(),
            prefix: 24,
            internal: false,
        };
        insta::assert_snapshot!("network", render(&net));
        let internal = NatNetwork {
            internal: true,
            ..net
        };
        insta::assert_snapshot!("internal", render(&internal));
        let ports = [
            PortMap {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8080,
                container_ip: "172.17.0.2".parse().unwrap(),
                container_port: 80,
            },
            PortMap {
                proto: Proto::Udp,
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 5353,
                container_ip: "172.17.0.2".parse().unwrap(),
                container_port: 53,
            },
        ];
        let chain = ports_chain("tug_p0123456789abcdef");
        assert_eq!(chain, "TUG-P-0123456789abcdef");
        assert!(
            chain.len() <= 28,
            "iptables chain names are at most 28 bytes"
        );
        insta::assert_snapshot!("ports", render_ports(&chain, &ports));
    }
}
