//! Bridges, veths, IPAM, NAT, published ports. Networks and their subnets and addresses
//! live on disk (`store`, `ipam`); a running container's interfaces and DNAT rules are
//! made by its shim (`endpoint`, `ports`, called from `container::net`), with bridge
//! devices and nftables tables that exist while a container uses them. Names resolve
//! through hosts files that `container::net` keeps current.

pub mod cidr;
pub mod endpoint;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod ports;
pub mod record;
pub mod store;

pub use error::Error;
pub use firewall::{iptables, nft};

// The types and parsers of the Engine's network methods, one level deep
// (`tug::network::X`).
pub use ports::{PortSpec, Proto, parse_publish, port_lines, ps_column};
pub use store::{CreateOptions, Network};

#[cfg(test)]
mod testns;
