//! Bridges, veths, IPAM, NAT, published ports. Networks and their subnets and addresses
//! live on disk (`store`, `ipam`); a running container's interfaces and DNAT rules are
//! made by its shim (`endpoint`, `ports`, called from `container::net`), with bridge
//! devices and nftables tables that exist while a container uses them. Names resolve
//! through hosts files that `container::net` keeps current and, on user networks, through
//! the embedded DNS server at 127.0.0.11 that each container's shim serves (`dns`).

pub mod cidr;
pub mod dns;
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
pub use ports::{PortSpec, Proto, parse_publish, port_lines, ps_column, publishers};
pub use store::{CreateOptions, Network};

#[cfg(test)]
mod testns;
