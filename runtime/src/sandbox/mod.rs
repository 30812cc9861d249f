//! The sandbox: the container's init process in its own namespaces, its mounts and
//! pivot_root, devices, user, capabilities, terminal and signals.
//!
//! The start path has named steps, which the per-container shim takes in turn:
//! 1. [`clone`]: `clone` the init with new namespaces; the init mounts the rootfs, /proc,
//!    /sys, /dev, the generated /etc files, pivots into the rootfs, and reports `Ready`
//!    over the sync socket (with the pty master when there is a terminal). It then waits.
//!    Meanwhile the shim makes its cgroup and interfaces, then [`Sandbox::wait_ready`].
//! 2. [`Sandbox::start`]: the supervisor releases the init, which resolves the user, sets
//!    capabilities and `execve`s the user's process; the sync socket closes on exec, or
//!    carries back the error of a failed exec.
//! 3. [`Sandbox::wait`]: the exit status, as Docker's exit code.

pub mod caps;
pub mod cgroups;
mod devices;
pub mod enter;
mod exec;
pub mod exeseal;
mod failure;
pub mod hygiene;
mod init;
pub mod mounts;
pub mod pid1;
mod rlimits;
pub mod seccomp;
pub mod signals;
pub mod special;
mod sync;
pub(crate) mod sysctl;
pub mod tty;
pub mod user;
mod volumes;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::rootfs::Rootfs;

pub use failure::InitFailure;
pub use volumes::{COPY_UP_ANNOTATION, CREATE_SOURCE_ANNOTATION};

/// An error of the `sandbox` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    /// The init failed to set up the container or to run its process; the kind says
    /// which exit code the CLI uses.
    #[error("{1}")]
    Init(InitFailure, String),
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// The CLI exit code for this error: 127 when the command is not found, 126 when it
    /// cannot be executed, 125 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Init(kind, _) => kind.exit_code(),
            _ => 125,
        }
    }

    pub(crate) fn sys(what: impl Into<String>, e: nix::Error) -> Error {
        Error::Io(what.into(), e.into())
    }
}

/// A step of setting a container's process up that failed (a mount, a device node, the
/// pty, a capability, the seccomp filter): what the step did, and the system's error, when
/// there is one, as its source. The init sends it to the shim as text ([`crate::report`]).
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct StepError {
    pub what: String,
    #[source]
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StepError {
    /// A step that failed with the system's error `cause`.
    pub fn new(
        what: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StepError {
        StepError {
            what: what.into(),
            cause: Some(cause.into()),
        }
    }

    /// A step refused for a reason of tug's own (no system error).
    pub fn msg(what: impl Into<String>) -> StepError {
        StepError {
            what: what.into(),
            cause: None,
        }
    }
}

/// The text the init sends the shim for a failed step: the step and its cause.
impl From<StepError> for String {
    fn from(e: StepError) -> String {
        crate::report(&e)
    }
}

/// How the container's root file system is made inside its mount namespace.
#[derive(Debug, Clone)]
pub enum RootfsSource {
    /// An overlayfs of the layer snapshots and the container's upper/work dirs.
    Overlay(Rootfs),
    /// A directory holding the complete rootfs (the `vfs` driver's copy), bind-mounted.
    Dir(PathBuf),
}

/// The stdio of the container's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// No terminal: a container's init inherits its supervisor's stdout and stderr (the
    /// shim's pipes), and its stdin when `stdin` (else /dev/null); an exec gets pipes
    /// that the caller relays (see [`enter::ExecPipes`]), never the caller's own fds.
    Inherit { stdin: bool },
    /// A pty made inside the container's devpts; the master goes to the supervisor.
    Tty,
}

/// Everything the init needs: the OCI runtime spec plus what the spec cannot say.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The runtime spec: process, hostname, mounts, namespaces, masked paths, root.
    pub spec: oci_spec::runtime::Spec,
    /// How to make the rootfs at `spec.root.path`.
    pub rootfs: RootfsSource,
    /// Docker's `--user` (`name|uid[:group|gid]`), resolved in the container's own
    /// /etc/passwd and /etc/group at start; `None` for the image default (root).
    pub user: Option<String>,
    /// The process's stdio.
    pub stdio: Stdio,
    /// The cgroup file system root (the engine's setting), where a v1 init joins its
    /// cgroups.
    pub cgroup_root: PathBuf,
    /// A network namespace made in advance (a zygote's spare: see `shim::zygote`) that
    /// the init enters first thing instead of making one in its clone. Only for a spec
    /// that asks for a new network namespace ([`makes_netns`]).
    pub netns: Option<std::sync::Arc<OwnedFd>>,
}

/// Whether the init of `spec` gets a network namespace of its own (none is joined by
/// path, nor is the host's kept) that one made in advance can stand for: not when it also
/// gets a user namespace, which must own its network namespace.
pub fn makes_netns(spec: &oci_spec::runtime::Spec) -> bool {
    let flags = init::clone_flags(spec);
    flags.contains(nix::sched::CloneFlags::CLONE_NEWNET)
        && !flags.contains(nix::sched::CloneFlags::CLONE_NEWUSER)
}

/// The means to tell a created init its cgroup is ready, usable from another thread
/// while the [`Sandbox`] it came from lives and is not yet released.
#[derive(Debug, Clone, Copy)]
pub struct CgroupReady(std::os::fd::RawFd);

impl CgroupReady {
    /// Sends the notice (an init already gone is not an error here: the start's other
    /// steps see it).
    pub fn send(self) {
        let _ = sync::send_cgroup_ready(self.0);
    }
}

/// A created container init, waiting to be started, running, or exited.
#[derive(Debug)]
pub struct Sandbox {
    pid: Pid,
    sync: Option<OwnedFd>,
    /// The sync socket after `release`, until the process's answer is read.
    releasing: Option<OwnedFd>,
    pty_master: Option<OwnedFd>,
    /// An exec's stdio pipes (the caller's ends), when it has no terminal.
    pipes: Option<enter::ExecPipes>,
    exit_code: Option<i32>,
}

/// Step 1 of the start: clones the init in its namespaces; it sets up the container
/// (mounts, devices, pivot_root) while the caller works on the outside of it (its
/// cgroup, its interfaces: the init's pid and namespaces exist from here on), and
/// [`Sandbox::wait_ready`] then waits until it waits to be started.
pub fn clone(config: &SandboxConfig) -> Result<Sandbox, Error> {
    let filter = seccomp_filter(&config.spec)?;
    let (parent_end, child_end) = sync::pair()?;
    let pid = match init::pid_namespace_to_join(&config.spec) {
        Some(path) => in_pid_namespace(&path, || {
            init::clone_init(config, filter.as_ref(), &child_end, &parent_end)
        })?,
        None => init::clone_init(config, filter.as_ref(), &child_end, &parent_end)?,
    };
    drop(child_end);
    let sandbox = Sandbox {
        pid,
        sync: Some(parent_end),
        releasing: None,
        pty_master: None,
        pipes: None,
        exit_code: None,
    };
    Ok(sandbox)
}

/// Runs `clone` with this thread's children in the PID namespace at `path` (`--pid
/// container:<id>`), then puts the thread's children back in its own namespace.
fn in_pid_namespace<T>(
    path: &std::path::Path,
    clone: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let open = |p: &std::path::Path| {
        std::fs::File::open(p).map_err(|e| Error::Io(format!("opening {}", p.display()), e))
    };
    let own = open(std::path::Path::new("/proc/thread-self/ns/pid"))?;
    let target = open(path)?;
    nix::sched::setns(&target, nix::sched::CloneFlags::CLONE_NEWPID)
        .map_err(|e| Error::sys(format!("joining the PID namespace {}", path.display()), e))?;
    let r = clone();
    // Back to the thread's own namespace, so that later children (execs go through
    // setns) are not made in the other container's.
    let back = nix::sched::setns(&own, nix::sched::CloneFlags::CLONE_NEWPID);
    let value = r?;
    back.map_err(|e| Error::sys("returning to the shim's PID namespace", e))?;
    Ok(value)
}

/// The spec's `linux.seccomp` compiled (on the host, before anything enters the
/// container); `None` when the spec has none (unconfined).
pub fn seccomp_filter(spec: &oci_spec::runtime::Spec) -> Result<Option<seccomp::Program>, Error> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(seccomp::compile)
        .transpose()
        .map_err(|e| Error::Unsupported(crate::report(&e)))
}

impl Sandbox {
    /// Waits until the cloned init has set up the container (mounts, devices,
    /// pivot_root) and waits to be started; its pty master (a container with a terminal)
    /// is then [`Sandbox::take_pty_master`]'s. On error the init is gone once the
    /// sandbox is dropped (its Drop kills and reaps it).
    pub fn wait_ready(&mut self) -> Result<(), Error> {
        let sock = self.sync.as_ref().map(|s| s.as_raw_fd()).unwrap_or(-1);
        match sync::recv(sock)? {
            sync::Message::Ready(master) => {
                self.pty_master = master;
                Ok(())
            }
            sync::Message::Failed(kind, msg) => Err(Error::Init(kind, msg)),
            sync::Message::Closed => Err(Error::Init(
                InitFailure::Setup,
                "the container init exited during setup".into(),
            )),
        }
    }

    /// As [`Sandbox::wait_ready`], given up if `cancel` becomes readable first (a
    /// signalfd of the signals that end a start): an init stuck in its set-up (a `-v`
    /// source on a hung NFS or FUSE mount) is then killed and reaped when the sandbox
    /// is dropped. A ready init wins over a cancel that comes at the same time.
    pub fn wait_ready_or_cancel(&mut self, cancel: BorrowedFd<'_>) -> Result<(), Error> {
        if let Some(sock) = self.sync.as_ref() {
            loop {
                let mut fds = [
                    PollFd::new(sock.as_fd(), PollFlags::POLLIN),
                    PollFd::new(cancel, PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(nix::Error::EINTR) => continue,
                    Err(e) => return Err(Error::sys("waiting for the container init", e)),
                }
                if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                    break;
                }
                if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                    return Err(Error::Init(
                        InitFailure::Setup,
                        "the start was cancelled before the container was set up (it is being removed)"
                            .into(),
                    ));
                }
            }
        }
        self.wait_ready()
    }

    /// The init's pid (in the caller's pid namespace).
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The pty master, when the container has a terminal (taken once).
    pub fn take_pty_master(&mut self) -> Option<OwnedFd> {
        self.pty_master.take()
    }

    /// An exec's stdio pipes, when it has no terminal (taken once).
    pub fn take_pipes(&mut self) -> Option<enter::ExecPipes> {
        self.pipes.take()
    }

    /// The means to tell the init, from any thread, that its cgroup is ready (the sync
    /// socket's "cgroup ready"): it then joins it and enters its cgroup namespace while
    /// the caller finishes the rest. Before [`Sandbox::release`] only.
    pub fn cgroup_ready_notice(&self) -> Option<CgroupReady> {
        self.sync.as_ref().map(|s| CgroupReady(s.as_raw_fd()))
    }

    /// Step 2: releases the init to exec the user's process, and returns once the exec
    /// succeeded, or with its error (not found: 127, not executable: 126).
    pub fn start(&mut self) -> Result<(), Error> {
        self.release()?;
        self.started()
    }

    /// Step 2 without the wait: releases the process to exec. Its answer comes on
    /// [`Sandbox::start_fd`] (readable once it exec'd or failed), read with
    /// [`Sandbox::started`]; a supervisor that must not block (the shim, while the
    /// process resolves its user in files the container controls) polls it.
    pub fn release(&mut self) -> Result<(), Error> {
        let Some(sock) = self.sync.take() else {
            return Err(Error::Unsupported(
                "the container was already started".into(),
            ));
        };
        if let Err(e) = sync::send_start(sock.as_raw_fd()) {
            // The init may have failed after its Ready (its cgroup steps can run then):
            // its own message says why.
            return match sync::recv(sock.as_raw_fd()) {
                Ok(sync::Message::Failed(kind, msg)) => Err(Error::Init(kind, msg)),
                _ => Err(e),
            };
        }
        self.releasing = Some(sock);
        Ok(())
    }

    /// The fd that becomes readable when a released process exec'd or failed.
    pub fn start_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.releasing.as_ref().map(std::os::fd::AsFd::as_fd)
    }

    /// The answer of a released process (blocks until it comes): `Ok` once it exec'd.
    pub fn started(&mut self) -> Result<(), Error> {
        let Some(sock) = self.releasing.take() else {
            return Err(Error::Unsupported("the container was not released".into()));
        };
        match sync::recv(sock.as_raw_fd())? {
            sync::Message::Closed => Ok(()),
            sync::Message::Failed(kind, msg) => Err(Error::Init(kind, msg)),
            sync::Message::Ready(_) => Err(Error::Init(
                InitFailure::Setup,
                "unexpected message from the container init".into(),
            )),
        }
    }

    /// Sends `signal` to the container's process.
    pub fn signal(&self, signal: Signal) -> Result<(), Error> {
        if self.exit_code.is_some() {
            return Ok(());
        }
        kill(self.pid, signal).map_err(|e| Error::sys(format!("kill {}", self.pid), e))
    }

    /// Sends `signal` to the process and to its process group: an exec'd process leads
    /// its own session (setsid), so what it started goes too (a healthcheck's shell and
    /// its children, on a timeout). Until reaped, the leader's pid keeps the group's id
    /// from being reused.
    pub fn signal_group(&self, signal: Signal) -> Result<(), Error> {
        if self.exit_code.is_some() {
            return Ok(());
        }
        // No group yet (the process has not called setsid): ESRCH, and `kill` below acts.
        let _ = nix::sys::signal::killpg(self.pid, signal);
        kill(self.pid, signal).map_err(|e| Error::sys(format!("kill {}", self.pid), e))
    }

    /// Reaps the process if it has exited, without blocking: its Docker exit code.
    pub fn try_wait(&mut self) -> Result<Option<i32>, Error> {
        self.reap(Some(WaitPidFlag::WNOHANG))
    }

    /// Step 3: waits for the process to exit and returns its Docker exit code (the
    /// process's own, or 128+n when killed by signal n).
    pub fn wait(&mut self) -> Result<i32, Error> {
        loop {
            if let Some(code) = self.reap(None)? {
                return Ok(code);
            }
        }
    }

    fn reap(&mut self, flags: Option<WaitPidFlag>) -> Result<Option<i32>, Error> {
        if let Some(code) = self.exit_code {
            return Ok(Some(code));
        }
        let code = match waitpid(self.pid, flags) {
            Ok(WaitStatus::Exited(_, code)) => code,
            Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
            Ok(_) => return Ok(None),
            Err(nix::Error::EINTR) => return Ok(None),
            Err(e) => return Err(Error::sys(format!("waitpid {}", self.pid), e)),
        };
        self.exit_code = Some(code);
        Ok(Some(code))
    }
}

impl Drop for Sandbox {
    /// A sandbox dropped before its process exited (setup failed, or the supervisor
    /// bails out) is killed and reaped: nothing is left behind.
    fn drop(&mut self) {
        if self.exit_code.is_none() {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = self.wait();
        }
    }
}
