//! The settings of an engine ([`EngineConfig`]), read from the environment once, and
//! handed down to the domains that need them (the container module's `Ctx`), so that
//! nothing below the engine reads the environment or names the engine. It sits with the
//! domains (it names the network's firewall backend and address pool) and is re-exported
//! at the crate's root.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::defaults::{DEFAULT_ROOT, DEFAULT_RUN};
use crate::network::firewall::Backend;
use crate::network::ipam::{DEFAULT_HOST_RUN, Pool};

/// A setting that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Network(#[from] crate::network::Error),
}

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
            StorageDriver::Overlay => "overlay2",
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
    /// The resolvers the embedded DNS server forwards outside names to, instead of the
    /// host's resolv.conf name servers (`$TUG_DNS_UPSTREAM`: `ip[:port]`, comma
    /// separated; empty: the host's). A container's `--dns` still comes first.
    pub dns_upstream: Vec<std::net::SocketAddr>,
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
            dns_upstream: Vec::new(),
        }
    }

    /// The settings from the environment (`TUG_ROOT`, `TUG_RUN`, `TUG_STORAGE_DRIVER`,
    /// `TUG_FIREWALL`, `TUG_ADDRESS_POOL`, `TUG_HOST_RUN`, `TUG_CGROUP_ROOT`,
    /// `TUG_DNS_UPSTREAM`), with the
    /// defaults where unset.
    pub fn from_env() -> Result<EngineConfig, Error> {
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
                return Err(Error::Invalid(format!(
                    "TUG_STORAGE_DRIVER={other:?} is not a storage driver: use overlay or vfs"
                )));
            }
        };
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let firewall = match std::env::var("TUG_FIREWALL") {
            Ok(s) if !s.is_empty() => Backend::parse(&s).ok_or_else(|| {
                Error::Invalid(format!(
                    "TUG_FIREWALL={s:?} is not a firewall backend: use nft or iptables"
                ))
            })?,
            _ => Backend::detect(),
        };
        let address_pool = match std::env::var("TUG_ADDRESS_POOL") {
            Ok(s) if !s.is_empty() => Pool::parse(&s)?,
            _ => Pool::default_pool(),
        };
        let dns_upstream = match std::env::var("TUG_DNS_UPSTREAM") {
            Ok(s) if !s.is_empty() => parse_upstreams(&s)?,
            _ => Vec::new(),
        };
        Ok(EngineConfig {
            storage_driver,
            dns_upstream,
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
            (
                "TUG_DNS_UPSTREAM",
                upstreams_text(&self.dns_upstream).into(),
            ),
        ]
    }
}

/// `$TUG_DNS_UPSTREAM`: `ip[:port]` (port 53 when left out), comma separated.
fn parse_upstreams(s: &str) -> Result<Vec<std::net::SocketAddr>, Error> {
    s.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse()
                .or_else(|_| a.parse::<std::net::IpAddr>().map(|ip| (ip, 53).into()))
                .map_err(|_| {
                    Error::Invalid(format!(
                        "TUG_DNS_UPSTREAM={s:?}: {a:?} is not an address (ip or ip:port)"
                    ))
                })
        })
        .collect()
}

fn upstreams_text(v: &[std::net::SocketAddr]) -> String {
    let parts: Vec<String> = v.iter().map(|a| a.to_string()).collect();
    parts.join(",")
}
