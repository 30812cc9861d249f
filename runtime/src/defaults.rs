//! The default roots, a leaf that the engine and the domain modules below it share (the
//! default state root's `bridge` network gets the fixed device name `tug0`).

/// Where the state lives when `TUG_ROOT` is not set.
pub const DEFAULT_ROOT: &str = "/var/lib/tug";
/// Where sockets and pids live when `TUG_RUN` is not set.
pub const DEFAULT_RUN: &str = "/run/tug";
