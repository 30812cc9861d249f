//! Throwaway containers for `#[test]`, in the spirit of testcontainers, on the tug
//! engine: no daemon, no reaper container.
//!
//! ```
//! use tug_testkit::{GenericImage, ImageExt, WaitFor};
//!
//! let box_ = GenericImage::new("busybox", "latest")
//!     .with_cmd(["sh", "-c", "echo started; exec sleep 60"])
//!     .with_network("none")
//!     .with_wait_for(WaitFor::stdout("started"))
//!     .start()
//!     .unwrap();
//! let out = box_.exec(["echo", "hi"]).unwrap();
//! assert_eq!(out.stdout, b"hi\n");
//! // Dropped: stopped and removed.
//! ```
//!
//! - A test builds a request from an [`Image`] ([`GenericImage`] or a module's) with the
//!   `with_*` methods of [`ImageExt`], and [`ImageExt::start`]s it: the container is
//!   created, started and waited for ([`WaitFor`]), then handed back as a [`Container`].
//! - Containers run through the engine in this process ([`tug::Engine`]); each one's shim
//!   is the `tug` binary, found by `TUG_BIN`, then beside the test binary (or one dir up:
//!   cargo puts test binaries in `target/<profile>/deps`), then on PATH.
//! - Clean-up: dropping a [`Container`] removes it; the test process is the owner of
//!   every container it starts, so a test binary killed by SIGKILL or a timeout leaves
//!   nothing running: each container's shim removes it.
//! - The API is blocking (tests are sync; the engine has no async runtime). An async
//!   face can sit beside it: every call is a short blocking operation that an async
//!   runner wraps in `spawn_blocking`, and [`Container`] is `Send + Sync`.
//! - The state root is `TUG_ROOT` (default `/var/lib/tug`), as for the `tug` CLI; a
//!   missing `busybox:latest` is made there once per process.

mod client;
mod container;
mod error;
mod image;
mod logs;
mod network;
mod request;
mod start;
mod wait;

pub use client::{Tug, find_tug_binary};
pub use container::{Container, ExecResult};
pub use error::{Error, Result};
pub use image::{GenericImage, Image, Mount};
pub use logs::{LogStream, Stream};
pub use network::Network;
pub use request::{ContainerRequest, DEFAULT_STARTUP_TIMEOUT, ImageExt};
pub use wait::{Pattern, WaitFor, healthcheck_command};
