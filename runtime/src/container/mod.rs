//! Containers: the configuration from `run`/`create` flags and the image (Docker's
//! override rules), the OCI runtime spec made from it, the store of containers with
//! their metadata and state (Docker's field names), and the lifecycle (create, start in
//! the background through the per-container shim, attach, stop, kill, wait, restart,
//! rename, remove, prune, inspect), and the logs.

pub mod attach;
mod cgroup;
pub mod commit;
pub mod cp;
mod devices;
pub use devices::DeviceMapping;
mod create;
pub mod etc;
pub mod exec;
mod id;
pub use id::{ContainerId, InvalidContainerId};
pub mod health;
mod lifecycle;
pub mod listen;
pub mod log_follow;
pub mod logs;
pub mod names;
pub mod net;
pub mod options;
pub mod published;
pub mod record;
pub mod security;
pub mod spec;
pub mod store;
mod supervised;
pub mod top;
pub mod ulimit;

use std::path::Path;

pub use attach::AttachOptions;
pub use cgroup::ContainerStats;
pub use exec::ExecOptions;
pub use health::{Health, Healthcheck};
pub(crate) use lifecycle::rootfs_source;
pub use lifecycle::{DEFAULT_STOP_TIMEOUT, parse_signal};
pub use listen::PortProbe;
pub use log_follow::{LogCursor, LogFollower};
pub use options::CreateOptions;
pub use published::PublishedPort;
pub use record::Container;
pub use store::ContainerStore;
pub(crate) use supervised::shim_main;

// The types and parsers of the Engine's container methods, one level deep: a face names
// them `tug::container::X`, never through the submodule that defines them.
pub use crate::sandbox::cgroups::Resources;
pub use crate::sandbox::cgroups::resources::{
    parse_bytes, parse_cpus, parse_cpuset, parse_pids_limit, parse_swap,
};
pub use commit::ContainerCommit;
pub use cp::{CopyIn, CopyOptions, CopyOut};
pub use exec::ExecOutput;
pub use logs::{LogEntry, LogsOptions, parse_time as parse_log_time};
pub use options::{parse_env_file, resolve_env_arg};
pub use record::{RestartPolicy, State, Status};
pub use security::SecurityOptions;
pub use ulimit::Ulimit;

/// An error of the `container` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    #[error("{0}")]
    Sys(String, #[source] std::io::Error),
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("multiple containers match {0:?}: give more of the id")]
    Ambiguous(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unsupported(String),
    /// The container's process could not be started: the exit code (125, 126, 127) and
    /// why.
    #[error("{1}")]
    Start(i32, String),
}

impl Error {
    /// The CLI exit code for this error (125 unless the command could not be run).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Start(code, _) => *code,
            _ => 125,
        }
    }

    pub(crate) fn io(path: &Path, e: std::io::Error) -> Error {
        Error::Io(path.display().to_string(), e)
    }
}

impl crate::Engine {
    /// The names (or short ids) of the containers created from image `id`, so that `rmi`
    /// can refuse to remove an image in use.
    pub fn containers_using_image(&self, id: &crate::Digest) -> Result<Vec<String>, Error> {
        let store = self.container_store();
        let wanted = id.to_string();
        let mut out = Vec::new();
        for cid in store.ids()? {
            match store.load(&cid) {
                Ok(c) if c.image == wanted => out.push(c.short_name().to_string()),
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(_) => out.push(cid.short().to_string()),
            }
        }
        Ok(out)
    }
}
