//! Bridges, veths, IPAM, NAT, name resolution and the port proxy. The pieces exist
//! (networks and their subnets and addresses, bridge and veth set-up over netlink, tug's
//! nftables tables) but are not wired into `run` yet: see the networking issue. Until
//! then containers run with `--network none` (default) or `host`.

pub mod cidr;
pub mod endpoint;
pub mod error;
pub mod ipam;
pub mod link;
pub mod nft;
pub mod ports;
pub mod record;
pub mod store;

pub use error::Error;

#[cfg(test)]
mod testns;
