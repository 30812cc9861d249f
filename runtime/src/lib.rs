//! tug: a minimal, complete, daemonless Linux container engine.
//!
//! Everything a user can do goes through the [`Engine`]; the `tug` CLI, the testkit and the
//! workshop grader are thin faces over it. The core is synchronous: no async runtime.
//!
//! The CLI is not part of this library: it is the `tug` binary's own modules
//! (`src/cli`, declared from `src/main.rs`), built with the default `cli` feature, which
//! brings in its crates (clap, tabwriter, gotmpl, indicatif). A library user depends on
//! `tug` with `default-features = false` and compiles none of them.
//!
//! The public API is the [`Engine`] (its methods live in `engine/`: containers, exec,
//! logs, images, networks, volumes, registry, build, system; each hands the work to its
//! domain, which never names the Engine: `runtime/tests/layering.rs`), [`EngineConfig`], [`Error`] (its `Display` says
//! what failed at its own level; [`Report`] shows it with its causes), and the types in the
//! methods' signatures, re-exported at the root of their domain module
//! (`tug::container::CreateOptions`, `tug::image::Reference`, `tug::network::PortSpec`):
//! a face names a type there, never through the submodule that defines it. [`entry`]
//! holds the few process-level entry points the `tug` binary needs (the shim mode, the
//! clean-up of an interrupted command). Internals are `pub(crate)`; `runtime/tests/public_api.rs` checks that
//! the CLI and the testkit use nothing else.
//!
//! One module per domain, named in the domain's own words (see `ARCHITECTURE.md`):
//! [`image`] (references, the OCI layout store, import, save/load), `layer` (applying tar
//! layers safely), [`snapshot`] (unpacked layer chains), `rootfs` (a container's rootfs
//! from them: overlay or copy), [`container`] (config, state, lifecycle), [`sandbox`]
//! (namespaces, mounts, users, capabilities), [`network`], [`volume`], [`registry`],
//! [`build`] (the Dockerfile parser). `layer`, `rootfs`, `snapshot` and `sandbox` are
//! public only for this package's own integration tests and the e2e tests' checks of
//! kernel state; no face uses them.

pub mod build;
pub mod compose;
pub mod container;
pub(crate) mod defaults;
pub(crate) mod digest;
pub(crate) mod duration;
pub mod engine;
pub mod entry;
pub mod events;
pub(crate) mod fsutil;
pub mod image;
mod invalid;
/// The bytes layer (tar in and out): not a face's door; public only for this package's
/// own integration tests (runtime/tests).
#[doc(hidden)]
pub mod layer;
pub mod network;
pub mod registry;
mod report;
/// A container's rootfs from layer dirs (overlay mount or copy): not a face's door; public
/// only for this package's own integration tests (through `snapshot::Rootfs`).
#[doc(hidden)]
pub mod rootfs;
pub mod sandbox;
mod settings;
pub(crate) mod shim;
pub mod snapshot;
pub mod volume;

pub use digest::Digest;
pub use duration::human_duration;
pub use engine::{
    DiskUsage, Engine, EngineConfig, Error, HostInfo, ImageSummary, Info, ParkedShim, Result,
    StorageDriver,
};
pub use invalid::InvalidValue;
pub use report::{Report, report};
