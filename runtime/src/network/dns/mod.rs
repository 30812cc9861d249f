//! The embedded DNS server of containers on user networks, as Docker's at 127.0.0.11:
//! the message codec (`message`), the names it answers and the decision per query
//! (`names`), and the sockets served from the container's shim (`server`).

pub mod message;
pub mod names;
pub mod server;

pub use server::{ADDRESS, DnsServer, upstreams};
