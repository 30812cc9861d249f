//! cgroups: one [`CgroupManager`] interface with a [`v1`] and a [`v2`] implementation side
//! by side (as youki's libcgroups), chosen by [`detect`](fn@detect)ing the host's set-up. A
//! container's cgroup is `<hierarchy>/tug/<hash of the state root>/<container id>`, so
//! that engines on different state roots (parallel test suites) never collide; the
//! `tug/<hash>` parents are removed again when the last container's cgroup goes.
//!
//! The start: [`setup_for`] (between `sandbox::clone` and `Sandbox::start`) makes the
//! cgroup and writes the limits; on v1 the released init moves itself in ([`join`],
//! 10 ms cheaper than a move by pid), on v2 the supervisor moves it. The init then
//! unshares its cgroup namespace and mounts a read-only /sys/fs/cgroup ([`mount`]).

mod container;
pub mod detect;
pub mod devices;
mod fs;
pub mod join;
pub mod mount;
pub mod resources;
pub mod v1;
pub mod v2;

use std::path::{Path, PathBuf};

pub use container::{
    ContainerCgroup, cgroup_path, check_parent, container_cgroup_path, open_for, setup_for,
    update_for,
};
pub use detect::{CgroupSetup, detect};
pub use resources::Resources;

/// Where cgroupfs is mounted on a normal host.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// An error of the `cgroups` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    #[error("writing {value:?} to {file}")]
    Write {
        file: String,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: cannot parse {1:?}")]
    Parse(String, String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

impl Error {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> Error {
        Error::Io(path.display().to_string(), e)
    }
}

/// What `stats` reads from a cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// CPU time used by every process, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Memory used, without the inactive file cache (as Docker's CLI counts it).
    pub memory_usage: u64,
    /// The memory limit; `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Bytes read from and written to block devices.
    pub block_read: u64,
    pub block_write: u64,
    /// The number of processes (tasks).
    pub pids: u64,
}

/// One cgroup of a container, in whichever hierarchy layout the host has.
pub trait CgroupManager: std::fmt::Debug + Send + Sync {
    /// The cgroup's path below the hierarchy root(s), such as `tug/1a2b3c4d5e6f/<id>`.
    fn path(&self) -> &Path;
    /// Makes the cgroup (and its missing parents) in every hierarchy it needs.
    fn create(&self) -> Result<(), Error>;
    /// Moves process `pid` into the cgroup.
    fn add_task(&self, pid: i32) -> Result<(), Error>;
    /// Writes the resource limits.
    fn apply(&self, resources: &Resources) -> Result<(), Error>;
    /// Restricts the devices the processes may open (see [`devices`]).
    fn apply_devices(&self, rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<(), Error>;
    /// Reads the usage counters.
    fn stats(&self) -> Result<Stats, Error>;
    /// Freezes every process and returns once they are frozen.
    fn freeze(&self) -> Result<(), Error>;
    /// Thaws the processes and returns once they run again.
    fn thaw(&self) -> Result<(), Error>;
    /// Whether the cgroup is frozen.
    fn is_frozen(&self) -> Result<bool, Error>;
    /// How many processes of this cgroup the kernel's OOM killer killed.
    fn oom_kills(&self) -> Result<u64, Error>;
    /// Whether the kernel's OOM killer killed a process of this cgroup.
    fn oom_killed(&self) -> Result<bool, Error> {
        Ok(self.oom_kills()? > 0)
    }
    /// The pids in the cgroup.
    fn pids(&self) -> Result<Vec<i32>, Error>;
    /// Kills what is left in the cgroup and removes it, retrying until a deadline while
    /// the processes exit; then removes the empty parents.
    fn remove(&self) -> Result<(), Error>;
}

/// The manager for cgroup `rel` under `root`, for the host's set-up. `resources` decides
/// which v1 hierarchies are made (v2 has one).
pub fn manager(
    root: &Path,
    setup: CgroupSetup,
    rel: PathBuf,
    resources: &Resources,
) -> Box<dyn CgroupManager> {
    match setup {
        CgroupSetup::Unified => Box::new(v2::V2Manager::new(root, rel)),
        CgroupSetup::Hybrid | CgroupSetup::Legacy => {
            Box::new(v1::V1Manager::new(root, rel, resources))
        }
    }
}

/// What the host's cgroups cannot do of `r`, as Docker's warnings, with `r` less those
/// settings (Docker discards them): OOM-killer control and swappiness exist on cgroup
/// v1 only, weights only with an I/O scheduler that has them.
pub fn discard_unsupported(root: &Path, r: &mut Resources) -> Vec<String> {
    let mut warnings = Vec::new();
    let v1 = detect(root).map(|s| s.is_v1()).unwrap_or(false);
    if r.oom_kill_disable == Some(true) {
        if !v1 || !root.join("memory/memory.oom_control").exists() {
            warnings.push(
                "Your kernel does not support OomKillDisable. OomKillDisable discarded.".into(),
            );
            r.oom_kill_disable = None;
        } else if r.memory == 0 {
            warnings.push(
                "Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous."
                    .into(),
            );
        }
    }
    if r.memory_swappiness.is_some() && (!v1 || !root.join("memory/memory.swappiness").exists()) {
        warnings.push(
            "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded."
                .into(),
        );
        r.memory_swappiness = None;
    }
    if r.blkio_weight > 0 {
        let files: &[&str] = if v1 {
            &["blkio/blkio.weight", "blkio/blkio.bfq.weight"]
        } else {
            &["io.weight", "io.bfq.weight"]
        };
        let base = if v1 {
            root.to_path_buf()
        } else {
            root.join("tug")
        };
        let has = files
            .iter()
            .any(|f| base.join(f).exists() || root.join(f).exists());
        if !has {
            warnings.push(
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                    .into(),
            );
            r.blkio_weight = 0;
        }
    }
    warnings
}

/// The host's memory in bytes (the limit `stats` shows for an unlimited container).
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
