//! Containers: the configuration from `run`/`create` flags and the image (Docker's
//! override rules), the OCI runtime spec made from it, the store of containers with
//! their metadata and state (Docker's field names), and the lifecycle (create, start in
//! the background through the per-container shim, attach, stop, kill, wait, restart,
//! rename, remove, prune, inspect), and the logs.

pub(crate) mod attach;
mod cgroup;
pub(crate) mod commit;
pub(crate) mod cp;
mod detach_keys;
pub use detach_keys::DetachKeys;
mod devices;
pub use devices::DeviceMapping;
mod create;
mod ctx;
pub(crate) use ctx::{Ctx, OwnedCtx};
pub(crate) mod etc;
pub(crate) mod exec;
mod id;
pub use id::{ContainerId, InvalidContainerId};
pub(crate) mod health;
pub(crate) mod journal;
mod lifecycle;
pub(crate) mod listen;
pub(crate) mod log_follow;
pub(crate) mod logs;
pub(crate) mod names;
pub(crate) mod namespaces;
pub(crate) mod net;
pub(crate) mod options;
pub(crate) mod published;
pub(crate) mod record;
pub(crate) mod security;
pub(crate) mod spec;
pub(crate) mod state_watch;
pub(crate) mod store;
mod stream;
mod supervised;
pub(crate) mod top;
pub(crate) mod ulimit;
pub(crate) mod update;

use std::path::Path;

pub use crate::duration::{format_go_duration, parse_go_duration};
pub use attach::AttachOptions;
pub(crate) use cgroup::net_io;
pub use cgroup::{ContainerStats, NetIo};
pub use exec::ExecOptions;
pub use health::{
    Health, HealthState, HealthStatus, Healthcheck, HealthcheckResult, shell_from_image_config,
};
pub(crate) use lifecycle::rootfs_source;
pub use lifecycle::{DEFAULT_STOP_TIMEOUT, parse_signal};
pub use listen::PortProbe;
pub use log_follow::{LogCursor, LogFollower};
pub use options::CreateOptions;
pub use published::PublishedPort;
pub use record::Container;
pub use state_watch::StateWatch;
pub use store::ContainerStore;
pub use stream::{StreamOutput, resize_message, split_output, stdin_close_message, stdin_message};
pub(crate) use supervised::{shim_main, zygote_shim_main};

// The types and parsers of the Engine's container methods, one level deep: a face names
// them `tug::container::X`, never through the submodule that defines them.
pub use crate::sandbox::cgroups::Resources;
pub use crate::sandbox::cgroups::resources::ThrottleDevice;
pub use crate::sandbox::cgroups::resources::{
    parse_bytes, parse_cpus, parse_cpuset, parse_pids_limit, parse_swap,
};
pub use commit::ContainerCommit;
pub use cp::{CopyIn, CopyOptions, CopyOut, PathStat};
pub use exec::ExecOutput;
pub use logs::{LogEntry, LogsOptions, parse_time as parse_log_time};
pub use options::{parse_env_file, resolve_env_arg};
pub use record::{RestartPolicy, State, Status};
pub use security::SecurityOptions;
pub use ulimit::Ulimit;
pub use update::UpdateOptions;

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
    // The failures of the modules the container work uses, as they say them (the
    // Engine's error has the same variants: `engine::Error::from` moves them there).
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error(transparent)]
    Network(#[from] crate::network::Error),
    #[error(transparent)]
    Volume(#[from] crate::volume::Error),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::Error),
    #[error(transparent)]
    Cgroup(#[from] crate::sandbox::cgroups::Error),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::Error),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::Error),
    #[error(transparent)]
    Layer(#[from] crate::layer::Error),
}

/// The result of the container module's work.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The CLI exit code for this error (125 unless the command could not be run).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Start(code, _) => *code,
            Error::Sandbox(e) => e.exit_code(),
            _ => 125,
        }
    }

    pub(crate) fn io(path: &Path, e: std::io::Error) -> Error {
        Error::Io(path.display().to_string(), e)
    }
}

impl Ctx<'_> {
    /// The work of `Engine::containers_using_image`.
    pub(crate) fn containers_using_image(
        &self,
        id: &crate::Digest,
    ) -> Result<Vec<crate::image::ImageUser>, Error> {
        let store = self.container_store();
        let wanted = id.to_string();
        let mut out = Vec::new();
        for cid in store.ids()? {
            match store.load(&cid) {
                Ok(c) if c.image == wanted => out.push(crate::image::ImageUser {
                    short_id: c.id.short().to_string(),
                    running: c.state.running,
                }),
                Ok(_) | Err(Error::NotFound(_)) => {}
                // Unreadable: in use for all we know.
                Err(_) => out.push(crate::image::ImageUser {
                    short_id: cid.short().to_string(),
                    running: false,
                }),
            }
        }
        // Docker names a running one first.
        out.sort_by_key(|u| !u.running);
        Ok(out)
    }
}
