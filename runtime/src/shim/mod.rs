//! The per-container shim: the `tug` binary re-executed as `tug __shim <id>`, detached
//! from the CLI (setsid and a second fork, or a child of the API server's zygote: see
//! `zygote`; stdio on /dev/null, errors in
//! `<container>/shim.log`). It starts the container's process, relays its stdio to the
//! log (`log`) and to attached clients over a unix socket (`proto`, `client`), forwards
//! signals, reaps the exit, applies the restart policy (`restart`), watches the owner
//! (`owner`), runs execs (`exec`) and the healthcheck (`health`), and ends (`supervisor`,
//! `event_loop`).
//!
//! The shim knows nothing of container records, networks or stores: the container side
//! implements [`Supervised`] (make and record the process, undo its network, record the
//! end) and gives the shim its [`Settings`]; the shim calls it at each step. So
//! `container` uses `shim`, never the other way round.
//!
//! The CLI side is [`spawn`]: it starts a shim with one end of a socket pair as the
//! shim's first client (attached before the process starts, so no output is lost), and
//! returns once the container's process runs, or with the start's error.

mod client;
mod event_loop;
mod exec;
pub mod health;
pub mod log;
mod memory;
pub mod owner;

/// Set by [`crate::entry::running_as_tug`]: the running executable is the `tug` binary.
pub(crate) static RUNNING_AS_TUG: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
mod process;
pub mod proto;
pub mod restart;
mod spawn;
mod supervisor;
pub mod zygote;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

pub use process::{Process, ProcessIo, Service, create_with_pipes, pin_mnt_ns, wait_ready};
pub use restart::RestartPolicy;
pub use spawn::{
    Attach, Launch, PARK_TIMEOUT, Parked, daemonize, first_client, log_errors_to, name_process,
    park, spawn, start_parked,
};
pub use supervisor::{read_attach, run};

/// The hidden subcommand that runs a shim.
pub const SUBCOMMAND: &str = "__shim";
/// The attach socket's file name, in the container's run dir.
pub const SOCKET: &str = "attach.sock";
/// The shim's own error log, in the container's dir.
pub const SHIM_LOG: &str = "shim.log";

/// An error of the shim.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] io::Error),
    /// The container's process could not be started: Docker's exit code (125, 126, 127)
    /// and why.
    #[error("{1}")]
    Start(i32, String),
    /// The container's record is gone (removed while the shim ran).
    #[error("No such container: {0}")]
    Gone(String),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// The CLI exit code for this error (125 unless the command could not be run).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Start(code, _) => *code,
            _ => 125,
        }
    }
}

/// What the shim needs to know of its container, read once by the container side.
#[derive(Debug)]
pub struct Settings {
    /// The container's id (for messages).
    pub id: String,
    /// The run-time dir holding the socket ([`run_dir`]).
    pub run_dir: PathBuf,
    /// The json-file log and its rotation.
    pub log: PathBuf,
    pub rotation: log::Rotation,
    /// The attributes of each log entry (`--log-opt labels=`, `env=`).
    pub log_attrs: std::collections::BTreeMap<String, String>,
    /// The owner whose death stops and removes the container.
    pub owner: Option<owner::Owner>,
    pub policy: RestartPolicy,
    /// Its stdin closes when the first attached client leaves (`--attach stdin` once).
    pub stdin_once: bool,
    /// The healthcheck to run while the process runs (`health`), if any.
    pub health: Option<health::HealthSettings>,
}

/// The container side of a shim: what the shim asks at each step of the container's
/// life. Only the shim calls it, from its single thread.
pub trait Supervised {
    /// Makes the container's process (with [`create_with_pipes`] and [`wait_ready`]),
    /// records it running, and releases it: the process runs when this returns. A
    /// record that is gone is [`Error::Gone`].
    fn start(&mut self) -> Result<Process, Error>;
    /// The process was reaped (`oom_killed`: its cgroup saw an OOM kill): undo what its
    /// start made outside its cgroup (interfaces, ports, names in hosts files).
    fn stopped(&mut self, oom_killed: bool);
    /// How often the process was restarted (the record's RestartCount).
    fn restart_count(&self) -> u32;
    /// Records the container restarting after `code`; false when its record is gone.
    fn restarting(&mut self, code: i32) -> bool;
    /// A restart begins: counts it.
    fn restart_begins(&mut self);
    /// A restart's start failed with `error`.
    fn restart_failed(&mut self, error: &str);
    /// The container is done: records the end (`exited`: the process ran; else it never
    /// started, and `error` says why), or removes the container (`remove`: its owner
    /// went; `--rm` is the container side's to know).
    fn ended(&mut self, code: i32, error: Option<&str>, exited: bool, remove: bool);
    /// The container is to be removed at its end on a client's request (`rm -f`): its
    /// anonymous volumes stay, unless `--rm` takes them.
    fn removal_keeps_volumes(&mut self) {}
    /// The shim exits next (no client waits any more): last clean-up.
    fn shim_exits(&mut self);
    /// The restart policy as it is now (`tug update --restart` changes it while the
    /// shim runs); `None`: the one the shim started with.
    fn restart_policy(&self) -> Option<RestartPolicy> {
        None
    }
    /// Exec `exec_id` (a client's, not a healthcheck's) started (`action`
    /// `exec_start: CMD ARGS`) or died (`exec_die`, with its exit code): the events
    /// journal's to know.
    fn exec_event(&mut self, _exec_id: &str, _action: &str, _exit_code: Option<i32>) {}
    /// The embedded DNS server of the process `pid` (asked for with [`proto::DNS`]);
    /// `None`: it has none.
    fn start_dns(&mut self, _pid: i32) -> Result<Option<Box<dyn Service>>, String> {
        Ok(None)
    }
}

/// The run-time dir of container `id`: `$TUG_RUN/containers/<id>`.
pub fn run_dir(run_root: &Path, id: &str) -> PathBuf {
    run_root.join("containers").join(id)
}

/// The longest path a `sockaddr_un` holds (108 bytes with the NUL).
const SUN_PATH_MAX: usize = 107;

/// A socket path usable in bind/connect: the path itself when short enough; else the
/// path through `/proc/self/fd/<n>` of the opened dir (returned, to keep it open).
fn short_path(path: &Path) -> io::Result<(PathBuf, Option<OwnedFd>)> {
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return Ok((path.to_path_buf(), None));
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().unwrap_or_default();
    let fd: OwnedFd = std::fs::File::open(dir)?.into();
    let p = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())).join(name);
    Ok((p, Some(fd)))
}

/// Connects to the shim whose run dir is `run_dir`; fails when no shim runs.
fn connect_dir(run_dir: &Path) -> io::Result<UnixStream> {
    let (p, _dir) = short_path(&run_dir.join(SOCKET))?;
    UnixStream::connect(p)
}

/// Connects to the shim of container `id`; fails when no shim runs.
pub fn connect(run_root: &Path, id: &str) -> io::Result<UnixStream> {
    connect_dir(&run_dir(run_root, id))
}

/// Whether a shim supervises container `id` (its socket accepts connections). Only a
/// socket that is gone or that nobody listens on says no: a failure of this process's
/// own (no file descriptor left, say) must not get a live container taken for dead.
pub fn is_alive(run_root: &Path, id: &str) -> bool {
    match connect(run_root, id) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.raw_os_error(),
            Some(libc::ENOENT | libc::ECONNREFUSED | libc::ENOTDIR)
        ),
    }
}
