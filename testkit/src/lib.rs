//! Throwaway containers for `#[test]`, with testcontainers-rs's API (its blocking
//! runner), on the tug engine: no daemon, no reaper container. A test written for
//! testcontainers moves here by changing its `use` lines (see
//! `tests/testcontainers_compat.rs`).
//!
//! ```
//! use tug_testkit::core::{ExecCommand, WaitFor};
//! use tug_testkit::runners::SyncRunner;
//! use tug_testkit::{GenericImage, ImageExt};
//!
//! let box_ = GenericImage::new("busybox", "latest")
//!     .with_wait_for(WaitFor::message_on_stdout("started"))
//!     .with_cmd(["sh", "-c", "echo started; exec sleep 60"])
//!     .with_network("none")
//!     .start()
//!     .unwrap();
//! let mut out = box_.exec(ExecCommand::new(["echo", "hi"])).unwrap();
//! assert_eq!(out.stdout_to_vec().unwrap(), b"hi\n");
//! // Dropped: stopped and removed.
//! ```
//!
//! - A test builds a request from an [`Image`] ([`GenericImage`] or a module's) with the
//!   `with_*` methods of [`ImageExt`], and starts it with [`runners::SyncRunner::start`]:
//!   the image is made sure of (pulled if missing; `busybox` is made from the host's
//!   busybox-static), the container is created, started and waited for
//!   ([`core::WaitFor`]), then handed back as a [`Container`].
//! - tug's extras beside testcontainers' names: [`core::WaitFor::port`] (a listener seen
//!   inside the container), regex log waits, resource limits
//!   ([`ImageExt::with_memory_limit`]...), network aliases, [`Network`].
//! - Containers run through the engine in this process ([`tug::Engine`]), through its
//!   public API only; each one's shim is the `tug` binary, found by `TUG_BIN`, then
//!   beside the test binary (or one dir up: cargo puts test binaries in
//!   `target/<profile>/deps`), then on PATH.
//! - Clean-up: dropping a [`Container`] removes it; the test process is the owner of
//!   every container it starts, so a test binary killed by SIGKILL or a timeout leaves
//!   nothing running: each container's shim removes it.
//! - A whole compose project: [`Compose`] brings a `docker-compose.yml` up under a
//!   unique project name, with per-service wait strategies, and down with its volumes on
//!   drop (or, if the test binary is killed, by a reaper process).
//! - The API is blocking (tests are sync; the engine has no async runtime). An async
//!   face can sit beside it: every call is a short blocking operation that an async
//!   runner wraps in `spawn_blocking`, and [`Container`] is `Send + Sync`.
//! - The state root is `TUG_ROOT` (default `/var/lib/tug`), as for the `tug` CLI.

mod buildable;
mod client;
mod compose;
mod container;
mod copy;
mod error;
mod exec;
mod image;
mod logs;
pub mod modules;
mod mounts;
mod network;
mod ports;
mod request;
pub mod runners;
mod spare;
mod start;
mod wait;

/// The names testcontainers keeps under `testcontainers::core`.
pub mod core {
    pub use crate::copy::{CopyDataSource, CopyTargetOptions, CopyToContainer};
    pub use crate::exec::{ExecCommand, ExecResult};
    pub use crate::image::{ContainerState, Image};
    pub use crate::mounts::{AccessMode, Mount, MountType};
    pub use crate::ports::{ContainerPort, Host, IntoContainerPort, Ports};
    pub use crate::request::{Healthcheck, ImageExt, PullPolicy, ReuseDirective};
    pub use crate::wait::{CmdWaitFor, WaitFor};

    /// The errors.
    pub mod error {
        pub use crate::error::{Error, Result, TestcontainersError};
    }

    /// Output of containers, for log consumers.
    pub mod logs {
        pub use crate::logs::{LogFrame, LogSource};

        pub mod consumer {
            pub use crate::logs::LogConsumer;
        }
    }

    /// The wait strategies.
    pub mod wait {
        pub use crate::wait::{
            CmdWaitFor, ExitWaitStrategy, HealthWaitStrategy, HttpWaitStrategy, LogWaitStrategy,
            Pattern, WaitFor,
        };
    }
}

pub use buildable::GenericBuildableImage;
pub use client::{Tug, find_tug_binary};
pub use compose::{Compose, ComposeRequest};
pub use container::Container;
pub use copy::{CopyDataSource, CopyTargetOptions, CopyToContainer};
pub use error::{Error, Result, TestcontainersError};
pub use image::{GenericImage, Image};
pub use network::Network;
pub use request::{
    ContainerRequest, DEFAULT_STARTUP_TIMEOUT, Healthcheck, ImageExt, PullPolicy, ReuseDirective,
    Ulimit,
};
