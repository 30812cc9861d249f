//! tug: a minimal, complete, daemonless Linux container engine.
//!
//! Everything a user can do goes through the [`Engine`]; the `tug` CLI, the testkit and the
//! workshop grader are thin faces over it. The core is synchronous: no async runtime.
//!
//! One module per domain, named in the domain's own words (see `ARCHITECTURE.md`):
//! [`image`] (references, the OCI layout store, import, save/load), [`layer`] (applying tar
//! layers safely), [`snapshot`] (unpacked layer chains and a container's rootfs),
//! [`container`] (config, state, lifecycle), [`sandbox`] (namespaces, mounts, users,
//! capabilities), and the modules that later issues fill in.

pub mod build;
pub mod cli;
pub mod compose;
pub mod container;
pub mod digest;
pub mod engine;
pub mod fsutil;
pub mod image;
pub mod invalid;
pub mod layer;
pub mod network;
pub mod registry;
pub mod report;
pub mod sandbox;
pub mod shim;
pub mod snapshot;
pub mod volume;

pub use digest::Digest;
pub use invalid::InvalidValue;
pub use engine::{Engine, EngineConfig, Error, Result, StorageDriver};
pub use report::{Report, report};
