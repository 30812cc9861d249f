//! Bridges, veths, IPAM, NAT, name resolution and the port proxy. Not built yet: see the
//! networking issue. Until then containers run with `--network none` (default) or `host`.

pub mod cidr;
pub mod error;
pub mod ipam;
pub mod record;
pub mod store;

pub use error::Error;
