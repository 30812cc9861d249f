//! The [`Engine`]: the one library API that the CLI, the testkit and the workshop use.
//!
//! An engine is a pair of directories (the state root and the run root) plus settings; it
//! holds no open resources, so any number of engines (in threads or processes) may work on
//! the same root at once: every update takes a file lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::network::endpoint::Host;
use crate::network::firewall::Firewall;

mod build;
pub mod compose;
mod containers;
mod exec;
mod images;
mod logs;
mod networks;
mod registry;
mod system;
mod volumes;

pub use containers::ParkedShim;
pub use images::ImageSummary;
pub use system::{DiskUsage, HostInfo, Info};

pub use crate::defaults::{DEFAULT_ROOT, DEFAULT_RUN};

pub use crate::settings::{EngineConfig, StorageDriver};

/// The engine: every operation on images and containers starts here.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    /// The firewall of `config.firewall`, made once.
    firewall: Arc<dyn Firewall>,
    /// The `tug` binary to run as the shim (and for captured execs), when the caller
    /// chose one (the testkit does); else the shim finds it (see `shim`).
    tug_binary: Option<PathBuf>,
}

impl Engine {
    /// Opens (and creates if needed) the state and run roots.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        for dir in [&config.root, &config.run_root] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Io(format!("cannot create {}", dir.display()), e))?;
        }
        Ok(Engine {
            firewall: config.firewall.firewall(),
            config,
            tug_binary: None,
        })
    }

    /// This engine, starting shims as `<bin> __shim` (always by exec, never by a fork of
    /// the caller): for library callers such as the testkit, which find `tug` themselves.
    pub fn with_tug_binary(mut self, bin: impl Into<PathBuf>) -> Engine {
        self.tug_binary = Some(bin.into());
        self
    }

    /// Starts a zygote of shims for this process (`shim::zygote`): from then on this
    /// engine's container starts fork their shims from it instead of exec'ing `tug
    /// __shim` (a few milliseconds of each). For a long-lived process that starts many
    /// containers from many threads (the API server); the zygote ends with the process.
    pub fn keep_shim_zygote(&self) -> Result<()> {
        crate::shim::zygote::start(self.tug_binary(), &self.config.run_root).map_err(|e| {
            Error::Io(
                "starting the zygote of shims".into(),
                std::io::Error::other(e),
            )
        })
    }

    /// From now on, a state file this process replaces (a network's addresses, a record)
    /// is freed by a thread of its own a few milliseconds later, not by the write itself
    /// (see `fsutil::defer_replaced`): for a long-lived multi-threaded process whose
    /// answers wait on those writes (the API server).
    pub fn free_replaced_files_in_background(&self) {
        crate::fsutil::defer_replaced(true);
    }

    /// The `tug` binary set by [`Engine::with_tug_binary`].
    pub fn tug_binary(&self) -> Option<&Path> {
        self.tug_binary.as_deref()
    }

    /// [`Engine::open`] with [`EngineConfig::from_env`].
    pub fn from_env() -> Result<Engine> {
        Engine::open(EngineConfig::from_env()?)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// The run root.
    pub fn run_root(&self) -> &Path {
        &self.config.run_root
    }

    /// What the container module's work needs of this engine, borrowed.
    pub(crate) fn cx(&self) -> crate::container::Ctx<'_> {
        crate::container::Ctx {
            config: &self.config,
            firewall: &self.firewall,
            tug_binary: self.tug_binary.as_deref(),
        }
    }

    /// The host side of this engine's networking: its firewall and host-wide run dir.
    pub(crate) fn network_host(&self) -> Host<'_> {
        self.cx().network_host()
    }
}

/// Every error the engine returns: one variant per module, each with the context a user
/// needs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error(transparent)]
    Layer(#[from] crate::layer::Error),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::Error),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::Error),
    #[error(transparent)]
    Container(crate::container::Error),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::Error),
    #[error(transparent)]
    Registry(#[from] crate::registry::Error),
    #[error(transparent)]
    Volume(#[from] crate::volume::Error),
    #[error(transparent)]
    Cgroup(#[from] crate::sandbox::cgroups::Error),
    #[error(transparent)]
    Network(#[from] crate::network::Error),
    #[error(transparent)]
    Build(#[from] crate::build::Error),
    #[error(transparent)]
    Settings(#[from] crate::settings::Error),
    #[error(transparent)]
    Compose(#[from] crate::compose::Error),
}

/// A container error that carries another module's failure becomes that module's
/// variant, so a caller matches `Error::Image(..)` whichever operation met it.
impl From<crate::container::Error> for Error {
    fn from(e: crate::container::Error) -> Error {
        use crate::container::Error as C;
        match e {
            C::Image(e) => Error::Image(e),
            C::Network(e) => Error::Network(e),
            C::Volume(e) => Error::Volume(e),
            C::Sandbox(e) => Error::Sandbox(e),
            C::Cgroup(e) => Error::Cgroup(e),
            C::Snapshot(e) => Error::Snapshot(e),
            C::Rootfs(e) => Error::Rootfs(e),
            C::Layer(e) => Error::Layer(e),
            e => Error::Container(e),
        }
    }
}

impl Error {
    /// The exit code the CLI uses for this error, as Docker does: 125 for tug's own
    /// errors, 126 when the command cannot be executed, 127 when it is not found.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Container(e) => e.exit_code(),
            Error::Sandbox(e) => e.exit_code(),
            // `docker build` exits 1 when the build fails.
            Error::Build(_) => 1,
            _ => 125,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Error;
    use crate::{container, image};

    /// Another module's failure met by the container work reaches a caller as that
    /// module's variant (so `Error::Image(NotFound)` means a missing image whichever
    /// operation met it), with its own exit code; the container's own stay `Container`.
    #[test]
    fn container_errors_carrying_another_modules_become_its_variant() {
        let e: Error = container::Error::from(image::Error::NotFound("busybox".into())).into();
        assert!(
            matches!(e, Error::Image(image::Error::NotFound(_))),
            "{e:?}"
        );
        let e: Error = container::Error::Start(127, "not found".into()).into();
        assert!(matches!(e, Error::Container(_)), "{e:?}");
        assert_eq!(e.exit_code(), 127);
    }
}
