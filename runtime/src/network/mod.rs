//! Bridges, veths, IPAM, NAT, name resolution and the port proxy. Not built yet: see the
//! networking issue. Until then containers run with `--network none` (default) or `host`.

pub mod link;
pub mod nft;

#[cfg(test)]
mod testns;
