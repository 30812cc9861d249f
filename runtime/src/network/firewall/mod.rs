//! tug's firewall rules (forwarding, NAT out, published ports) behind one trait, with two
//! backends side by side: nftables (`nft.rs`, tug's own tables) and iptables
//! (`iptables.rs`, tug's own chains) for hosts without the `nft` program. An engine picks
//! its backend once (`EngineConfig::firewall`, from `TUG_FIREWALL` or [`Backend::detect`])
//! and hands the same [`Firewall`] to every network operation, as `sandbox::cgroups`
//! picks v1 or v2 once.

pub mod iptables;
pub mod nft;

use std::sync::Arc;

pub use nft::{GroupPortMap, NatNetwork, NftError, PortMap, Proto, Result};

/// Which program writes tug's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Nft,
    /// `iptables` (iptables-nft or legacy), for hosts without the `nft` program.
    Iptables,
}

impl Backend {
    /// `nft` when its program is there, else `iptables` when that is (else `nft`, whose
    /// first rule change then says what to install).
    pub fn detect() -> Backend {
        if !nft::nft_program().is_file() && iptables::available() {
            Backend::Iptables
        } else {
            Backend::Nft
        }
    }

    /// The backend named `nft` or `iptables` (`TUG_FIREWALL`'s values).
    pub fn parse(s: &str) -> Option<Backend> {
        match s {
            "nft" => Some(Backend::Nft),
            "iptables" => Some(Backend::Iptables),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::Iptables => "iptables",
        }
    }

    /// The firewall that writes rules with this backend.
    pub fn firewall(self) -> Arc<dyn Firewall> {
        match self {
            Backend::Nft => Arc::new(Nft),
            Backend::Iptables => Arc::new(Iptables),
        }
    }
}

/// The rules of tug's networks and of containers' published ports. Every change replaces
/// the whole table (or chain) in one step; removing what is missing is not an error.
/// Names are checked before anything runs: a network is named by its bridge, a
/// container's ports by its port table name (`endpoint::ports_table`).
pub trait Firewall: std::fmt::Debug + Send + Sync {
    /// The backend this firewall writes with.
    fn backend(&self) -> Backend;

    /// Installs or replaces the network's rules; applying the same network twice changes
    /// nothing. Turns IP forwarding on for non-internal networks.
    fn apply(&self, net: &NatNetwork) -> Result<()>;

    /// Removes the network's rules.
    fn remove(&self, bridge: &str) -> Result<()>;

    /// Whether the network's rules exist (a table deleted behind tug's back is made
    /// again).
    fn exists(&self, bridge: &str) -> Result<bool>;

    /// Installs or replaces the DNAT rules of a container's published ports.
    fn apply_ports(&self, table: &str, ports: &[PortMap]) -> Result<()>;

    /// Removes a container's (or a port group's) published-port rules.
    fn remove_ports(&self, table: &str) -> Result<()>;

    /// Installs or replaces the DNAT rules of a port group's shared host ports. A backend
    /// that cannot balance takes groups of one member as plain published ports.
    fn apply_group_ports(&self, table: &str, ports: &[GroupPortMap]) -> Result<()> {
        if ports.iter().any(|p| p.backends.len() > 1) {
            return Err(NftError::Failed {
                op: "apply",
                table: table.to_string(),
                stderr: format!(
                    "replicas sharing a host port need nftables (the {} backend cannot balance)",
                    self.backend().as_str()
                ),
            });
        }
        let single: Vec<PortMap> = ports
            .iter()
            .filter_map(|p| {
                Some(PortMap {
                    proto: p.proto,
                    host_ip: p.host_ip,
                    host_port: p.host_port,
                    container_ip: *p.backends.first()?,
                    container_port: p.container_port,
                })
            })
            .collect();
        self.apply_ports(table, &single)
    }
}

/// nftables: one table per network and per container with published ports.
#[derive(Debug)]
struct Nft;

impl Firewall for Nft {
    fn backend(&self) -> Backend {
        Backend::Nft
    }

    fn apply(&self, net: &NatNetwork) -> Result<()> {
        nft::apply(net)
    }

    fn remove(&self, bridge: &str) -> Result<()> {
        nft::remove(bridge)
    }

    fn exists(&self, bridge: &str) -> Result<bool> {
        nft::check_bridge(bridge)?;
        nft::table_exists(&nft::table_name(bridge))
    }

    fn apply_ports(&self, table: &str, ports: &[PortMap]) -> Result<()> {
        nft::apply_ports(table, ports)
    }

    fn remove_ports(&self, table: &str) -> Result<()> {
        nft::remove_ports(table)
    }

    fn apply_group_ports(&self, table: &str, ports: &[GroupPortMap]) -> Result<()> {
        nft::apply_group_ports(table, ports)
    }
}

/// iptables: tug's own chains, jumped to from the host's.
#[derive(Debug)]
struct Iptables;

impl Firewall for Iptables {
    fn backend(&self) -> Backend {
        Backend::Iptables
    }

    fn apply(&self, net: &NatNetwork) -> Result<()> {
        nft::check_bridge(&net.bridge)?;
        iptables::apply(net)?;
        if !net.internal {
            nft::enable_ip_forward()?;
        }
        Ok(())
    }

    fn remove(&self, bridge: &str) -> Result<()> {
        nft::check_bridge(bridge)?;
        iptables::remove(bridge)
    }

    fn exists(&self, bridge: &str) -> Result<bool> {
        nft::check_bridge(bridge)?;
        iptables::exists(bridge)
    }

    fn apply_ports(&self, table: &str, ports: &[PortMap]) -> Result<()> {
        nft::check_ports_table(table)?;
        iptables::apply_ports(table, ports)
    }

    fn remove_ports(&self, table: &str) -> Result<()> {
        nft::check_ports_table(table)?;
        iptables::remove_ports(table)
    }
}
