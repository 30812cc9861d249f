//! The per-container shim: the `tug` binary re-executed as `tug __shim <id>`, detached
//! from the CLI (setsid and a second fork, stdio on /dev/null, errors in
//! `<container>/shim.log`). It creates the container's init, writes the running state,
//! releases the init, relays stdio to the log (`log`) and to attached clients over a unix
//! socket (`proto`), forwards signals, reaps the exit, writes the final state, applies
//! the restart policy, watches the owner (`owner`) and cleans up (`supervisor`).
//!
//! The CLI side is [`spawn`]: it starts a shim with one end of a socket pair as the
//! shim's first client (attached before the process starts, so no output is lost), and
//! returns once the container's process runs, or with the start's error.

pub mod log;
mod memory;
pub mod owner;
pub mod proto;
mod supervisor;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::Engine;
use crate::container::Error;

/// The hidden subcommand that runs a shim.
pub const SUBCOMMAND: &str = "__shim";
/// The attach socket's file name, in the container's run dir.
pub const SOCKET: &str = "attach.sock";
/// The shim's own error log, in the container's dir.
pub const SHIM_LOG: &str = "shim.log";

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

/// Connects to the shim of container `id`; fails when no shim runs.
pub fn connect(run_root: &Path, id: &str) -> io::Result<UnixStream> {
    let (p, _dir) = short_path(&run_dir(run_root, id).join(SOCKET))?;
    UnixStream::connect(p)
}

/// Whether a shim supervises container `id` (its socket accepts connections).
pub fn is_alive(run_root: &Path, id: &str) -> bool {
    connect(run_root, id).is_ok()
}

/// The `tug` binary to run as the shim: `$TUG_BIN`, this process if it is `tug`, else a
/// `tug` beside it or one level up (a test binary in `target/<profile>/deps`), else `tug`
/// from PATH.
fn shim_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TUG_BIN") {
        return p.into();
    }
    if let Ok(exe) = std::env::current_exe() {
        if exe.file_name().is_some_and(|n| n == "tug") {
            return exe;
        }
        for dir in exe.ancestors().skip(1).take(2) {
            let p = dir.join("tug");
            if p.is_file() {
                return p;
            }
        }
    }
    PathBuf::from("tug")
}

/// How the spawning client attaches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attach {
    /// Receive the container's output.
    pub output: bool,
    /// Send stdin.
    pub stdin: bool,
}

/// Starts the shim of container `id` and waits until the container's process runs.
/// Returns the connection (attached as `attach` says) and the process's pid.
pub fn spawn(
    engine: &Engine,
    id: &crate::container::ContainerId,
    attach: Attach,
) -> Result<(UnixStream, i32), Error> {
    let (mut ours, theirs) =
        UnixStream::pair().map_err(|e| Error::Sys("socketpair for the shim".into(), e))?;
    let theirs_fd = theirs.as_raw_fd();
    // The fork saves an exec, but the shim (and so the container's init) then runs from
    // this process's binary: only when that cannot be written through /proc (it is
    // sealed, immutable or on a read-only mount) is it safe to hand to a container.
    if engine.tug_binary().is_none()
        && single_threaded()
        && crate::sandbox::exeseal::exe_is_protected()
    {
        fork_shim(engine, id, theirs)?;
    } else {
        exec_shim(engine, id, theirs_fd)?;
        drop(theirs);
    }
    proto::write_frame(
        &mut ours,
        proto::ATTACH,
        &[attach.output as u8, attach.stdin as u8],
    )
    .map_err(|e| Error::Sys("talking to the shim".into(), e))?;
    match proto::read_frame(&mut ours) {
        Ok(Some((proto::STARTED, p))) => Ok((ours, proto::payload_i32(&p))),
        Ok(Some((proto::FAILED, p))) => Err(Error::Start(
            proto::payload_i32(&p),
            String::from_utf8_lossy(p.get(4..).unwrap_or_default()).into_owned(),
        )),
        Ok(_) | Err(_) => Err(Error::Start(
            125,
            format!(
                "the shim of container {} exited before the container started: see {}",
                id.short(),
                engine.container_store().dir(id).join(SHIM_LOG).display()
            ),
        )),
    }
}

/// Whether this process has one thread only, so that a fork of it is safe to run Rust
/// code in (no lock another thread holds can be copied in its locked state).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .map(|n| n.trim() == "1")
        })
        .unwrap_or(false)
}

/// Starts the shim by forking this (single-threaded) process, which saves the exec and
/// start-up of a second `tug` (a few milliseconds of every `tug run`). The child does what
/// `tug __shim` does: a session of its own, the socket on fd 3, nothing else open.
fn fork_shim(engine: &Engine, id: &str, theirs: UnixStream) -> Result<(), Error> {
    // SAFETY: the caller checked that this process has a single thread, so the child
    // inherits no lock in a locked state and may run ordinary Rust code.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(Error::Sys("forking the shim".into(), e.into())),
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(theirs);
            // The first child forks the shim and exits at once.
            let _ = nix::sys::wait::waitpid(child, None);
            Ok(())
        }
        Ok(nix::unistd::ForkResult::Child) => {
            let fd = theirs.as_raw_fd();
            // SAFETY: plain fd and process calls in the child, on fds it owns; the
            // socket ends up on fd 3 (as `tug __shim` expects) and every other fd
            // beyond stdio is closed, so the shim holds no lock or file of the CLI's.
            unsafe {
                if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0);
                } else if libc::dup2(fd, 3) < 0 {
                    libc::_exit(125);
                }
                libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    for target in 0..3 {
                        libc::dup2(null, target);
                    }
                    if null > 3 {
                        libc::close(null);
                    }
                }
                libc::setsid();
            }
            std::mem::forget(theirs);
            // SAFETY: still single-threaded: setting the environment races with nothing.
            // The shim's engine is made from it: the settings of this engine, not those
            // of the caller's environment.
            for (key, value) in engine.config().to_env() {
                unsafe { std::env::set_var(key, value) };
            }
            let code = main(id);
            // SAFETY: _exit skips the CLI's atexit work and stdio buffers, which belong to
            // the parent.
            unsafe { libc::_exit(code) }
        }
    }
}

/// The `tug` binary that `engine` runs as the shim: the one it was given, else
/// [`shim_binary`]'s choice.
pub fn tug_binary(engine: &Engine) -> PathBuf {
    engine
        .tug_binary()
        .map(Path::to_path_buf)
        .unwrap_or_else(shim_binary)
}

/// Starts the shim as `tug __shim <id>` from the sealed binary (see
/// `sandbox::exeseal`): the safe way from a multi-threaded process, and the way that
/// leaves no writable path to the host's binary in the container.
fn exec_shim(engine: &Engine, id: &str, theirs_fd: i32) -> Result<(), Error> {
    let bin = tug_binary(engine);
    let sealed = crate::sandbox::exeseal::seal(&bin, engine.run_root())
        .map_err(|e| Error::Sys(format!("sealing {}", bin.display()), io::Error::other(e)))?;
    let mut cmd = crate::sandbox::exeseal::sealed_command(&sealed);
    cmd.arg(SUBCOMMAND)
        .arg(id)
        .envs(engine.config().to_env())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: between fork and exec the closure calls only async-signal-safe functions
    // (dup2, fcntl, setsid) on fds this process owns.
    unsafe {
        cmd.pre_exec(move || {
            if theirs_fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(theirs_fd, 3) < 0 {
                return Err(io::Error::last_os_error());
            }
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Sys(format!("starting the shim {}", bin.display()), e))?;
    // The first process forks the shim and exits at once.
    let _ = child.wait();
    Ok(())
}

/// The shim's entry point (`tug __shim <id>`): forks once more so that the shim is not a
/// session leader, and runs the supervisor. Returns the exit code of the first process.
pub fn main(id: &str) -> i32 {
    // SAFETY: the process is single-threaded here (the CLI parsed its arguments only).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(_) => return 125,
    }
    // The shim's name in `ps -o comm` and /proc/<pid>/comm, also when it was forked from
    // the CLI (whose command line it keeps).
    let _ = nix::sys::prctl::set_name(c"tug-shim");
    let engine = match Engine::from_env() {
        Ok(e) => e,
        Err(_) => std::process::exit(125),
    };
    let store = engine.container_store();
    let dir = store.dir(id);
    // Errors go to the container's shim.log (fd 2); stdout and stdin stay /dev/null.
    if let Ok(f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(SHIM_LOG))
    {
        // SAFETY: dup2 onto fd 2, which no Rust object owns.
        unsafe { libc::dup2(f.as_raw_fd(), 2) };
    }
    // SAFETY: fd 3 was put there by `spawn` for us; nothing else owns it.
    let first = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(3) };
    let code = match supervisor::run(&engine, id, first.into()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "{} tug shim {id}: {}",
                crate::container::record::now(),
                crate::Report(&e)
            );
            1
        }
    };
    std::process::exit(code)
}
