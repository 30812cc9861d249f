//! The error of the network state (store and IPAM), with Docker's messages where a user
//! sees them.

/// What can go wrong with networks and their addresses.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    /// A bad flag or value (bad CIDR, gateway outside the subnet, bad name).
    #[error("{0}")]
    Invalid(String),
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network {0} is ambiguous ({1} matches found based on ID prefix)")]
    Ambiguous(String, usize),
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    /// Containers (running or not) still have endpoints on the network: (name, id).
    #[error("error while removing network: network {0} id {1} has active endpoints")]
    InUse(String, String),
    /// The subnet asked for overlaps one another network (of any state root) holds.
    #[error("invalid pool request: Pool overlaps with other one on this address space ({0})")]
    Overlap(String),
    #[error(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
    )]
    PoolExhausted,
    #[error("no available IPv4 addresses on network {0}")]
    AddressesExhausted(String),
    #[error("address {0} is already in use on network {1}")]
    AddressInUse(String, String),
    /// A host port is taken (Docker's message: `Bind for 0.0.0.0:8080 failed: port is
    /// already allocated`).
    #[error("Bind for {0} failed: port is already allocated")]
    PortInUse(String),
    #[error(transparent)]
    Link(#[from] super::link::LinkError),
    #[error(transparent)]
    Nft(#[from] super::nft::NftError),
}

impl Error {
    pub(crate) fn io(what: impl std::fmt::Display, e: std::io::Error) -> Error {
        Error::Io(what.to_string(), e)
    }
}
