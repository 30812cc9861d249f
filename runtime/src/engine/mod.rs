//! The [`Engine`]: the one library API that the CLI, the testkit and the workshop use.
//!
//! An engine is a pair of directories (the state root and the run root) plus settings; it
//! holds no open resources, so any number of engines (in threads or processes) may work on
//! the same root at once: every update takes a file lock.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::network::endpoint::Host;
use crate::network::firewall::{Backend, Firewall};
use crate::network::ipam::{DEFAULT_HOST_RUN, Pool};

mod containers;
mod images;
mod networks;
mod registry;
mod system;
mod volumes;

pub use images::ImageSummary;
pub use system::{DiskUsage, HostInfo, Info};

pub use crate::defaults::{DEFAULT_ROOT, DEFAULT_RUN};

/// How a container's rootfs is assembled from the layer snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDriver {
    /// overlayfs: the layer dirs as lowerdirs plus the container's upper/work.
    Overlay,
    /// A full copy of the layer chain into the container's dir, for file systems without
    /// overlayfs. Slow, but works everywhere.
    Vfs,
}

impl StorageDriver {
    /// The driver's name as `info` and `image inspect` print it.
    pub fn name(self) -> &'static str {
        match self {
            StorageDriver::Overlay => "overlay",
            StorageDriver::Vfs => "vfs",
        }
    }
}

/// The settings of an engine. The environment is read once, by [`EngineConfig::from_env`];
/// nothing below the engine reads it, so two engines in one process may differ. The
/// engine's shims get the same settings (see [`EngineConfig::to_env`]).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The state root (`$TUG_ROOT`): images, snapshots, containers, volumes.
    pub root: PathBuf,
    /// The run root (`$TUG_RUN`): sockets, pid files, host-wide locks.
    pub run_root: PathBuf,
    /// The storage driver (`$TUG_STORAGE_DRIVER`: `overlay` or `vfs`).
    pub storage_driver: StorageDriver,
    /// The program that writes the firewall rules (`$TUG_FIREWALL`: `nft` or `iptables`;
    /// else `nft` when installed, else `iptables` when that is).
    pub firewall: Backend,
    /// Where automatic network subnets come from (`$TUG_ADDRESS_POOL`:
    /// `BASE/PREFIX,SIZE`, e.g. `10.200.0.0/16,24`; default 172.17.0.0/16 up in /24s).
    pub address_pool: Pool,
    /// The host-wide run dir (`$TUG_HOST_RUN`, default `/run/tug`): the subnet registry
    /// and the bridge locks, shared by every state root on the host.
    pub host_run: PathBuf,
    /// The cgroup file system root (`$TUG_CGROUP_ROOT`, default `/sys/fs/cgroup`; a test
    /// may point it at another mount).
    pub cgroup_root: PathBuf,
}

impl EngineConfig {
    /// The settings of an engine on `root` and `run_root`, with the defaults for the rest.
    pub fn new(root: impl Into<PathBuf>, run_root: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            root: root.into(),
            run_root: run_root.into(),
            storage_driver: StorageDriver::Overlay,
            firewall: Backend::detect(),
            address_pool: Pool::default_pool(),
            host_run: DEFAULT_HOST_RUN.into(),
            cgroup_root: crate::sandbox::cgroups::DEFAULT_ROOT.into(),
        }
    }

    /// The settings from the environment (`TUG_ROOT`, `TUG_RUN`, `TUG_STORAGE_DRIVER`,
    /// `TUG_FIREWALL`, `TUG_ADDRESS_POOL`, `TUG_HOST_RUN`, `TUG_CGROUP_ROOT`), with the
    /// defaults where unset.
    pub fn from_env() -> Result<EngineConfig> {
        let root = std::env::var_os("TUG_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| DEFAULT_ROOT.into());
        let run_root = std::env::var_os("TUG_RUN")
            .map(PathBuf::from)
            .unwrap_or_else(|| DEFAULT_RUN.into());
        let storage_driver = match std::env::var("TUG_STORAGE_DRIVER").as_deref() {
            Err(_) | Ok("") | Ok("overlay") | Ok("overlay2") => StorageDriver::Overlay,
            Ok("vfs") => StorageDriver::Vfs,
            Ok(other) => {
                return Err(Error::Config(format!(
                    "TUG_STORAGE_DRIVER={other:?} is not a storage driver: use overlay or vfs"
                )));
            }
        };
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let firewall = match std::env::var("TUG_FIREWALL") {
            Ok(s) if !s.is_empty() => Backend::parse(&s).ok_or_else(|| {
                Error::Config(format!(
                    "TUG_FIREWALL={s:?} is not a firewall backend: use nft or iptables"
                ))
            })?,
            _ => Backend::detect(),
        };
        let address_pool = match std::env::var("TUG_ADDRESS_POOL") {
            Ok(s) if !s.is_empty() => Pool::parse(&s)?,
            _ => Pool::default_pool(),
        };
        Ok(EngineConfig {
            storage_driver,
            firewall,
            address_pool,
            host_run: set("TUG_HOST_RUN").map_or_else(|| DEFAULT_HOST_RUN.into(), PathBuf::from),
            cgroup_root: set("TUG_CGROUP_ROOT").map_or_else(
                || crate::sandbox::cgroups::DEFAULT_ROOT.into(),
                PathBuf::from,
            ),
            ..EngineConfig::new(root, run_root)
        })
    }

    /// The settings as the environment that [`EngineConfig::from_env`] reads: how an
    /// engine's shim (another process) gets the engine's settings, whatever the caller's
    /// own environment says.
    pub fn to_env(&self) -> Vec<(&'static str, OsString)> {
        let pool = format!(
            "{}/{},{}",
            self.address_pool.range.network(),
            self.address_pool.range.prefix(),
            self.address_pool.size
        );
        vec![
            ("TUG_ROOT", self.root.clone().into()),
            ("TUG_RUN", self.run_root.clone().into()),
            ("TUG_STORAGE_DRIVER", self.storage_driver.name().into()),
            ("TUG_FIREWALL", self.firewall.as_str().into()),
            ("TUG_ADDRESS_POOL", pool.into()),
            ("TUG_HOST_RUN", self.host_run.clone().into()),
            ("TUG_CGROUP_ROOT", self.cgroup_root.clone().into()),
        ]
    }
}

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

    /// The host side of this engine's networking: its firewall and host-wide run dir.
    pub fn network_host(&self) -> Host<'_> {
        Host {
            firewall: self.firewall.as_ref(),
            run_dir: &self.config.host_run,
        }
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
    Container(#[from] crate::container::Error),
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
}

impl Error {
    /// The exit code the CLI uses for this error, as Docker does: 125 for tug's own
    /// errors, 126 when the command cannot be executed, 127 when it is not found.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Container(e) => e.exit_code(),
            Error::Sandbox(e) => e.exit_code(),
            _ => 125,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
