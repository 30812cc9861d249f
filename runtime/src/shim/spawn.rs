//! Starting a shim: [`spawn`] on the CLI's side (a fork of a single-threaded CLI whose
//! binary is protected, else a fork of the process's zygote when it keeps one (see
//! `zygote`), else `tug __shim <id>` from the sealed binary), or [`park`] at the create
//! and [`start_parked`] at the start (the API server), and the first steps of the shim
//! process itself ([`daemonize`], [`log_errors_to`], [`first_client`]).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use super::{Error, SUBCOMMAND, proto};
use crate::sandbox::exeseal;

/// How the spawning client attaches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attach {
    /// Receive the container's output.
    pub output: bool,
    /// Send stdin.
    pub stdin: bool,
}

/// Where and how to start the shim of a container.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub id: &'a str,
    /// The run root (where the sealed binary is kept).
    pub run_root: &'a Path,
    /// The engine's settings as environment variables (`EngineConfig::to_env`: the roots,
    /// the firewall, the address pool...): the shim's engine is made from them, not from
    /// the caller's environment.
    pub env: Vec<(&'static str, std::ffi::OsString)>,
    /// The `tug` binary to run as the shim; `None`: a fork of this process when that is
    /// safe, else [`shim_binary`]'s choice.
    pub bin: Option<&'a Path>,
    /// The shim's error log, named when the shim dies before the start.
    pub shim_log: PathBuf,
}

/// The `tug` binary to run as the shim: `$TUG_BIN`, this process if it is `tug`, else a
/// `tug` beside it or one level up (a test binary in `target/<profile>/deps`), else `tug`
/// from PATH.
pub fn shim_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TUG_BIN") {
        return p.into();
    }
    if let Ok(exe) = std::env::current_exe() {
        let is_tug = super::RUNNING_AS_TUG.load(std::sync::atomic::Ordering::Relaxed);
        if is_tug || exe.file_name().is_some_and(|n| n == "tug") {
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

/// Starts the shim of container `launch.id` and waits until the container's process
/// runs. Returns the connection (attached as `attach` says) and the process's pid. When
/// the shim is a fork of this process, the child runs `forked` (the container side's
/// `tug __shim` entry) and exits with its code.
pub fn spawn(
    launch: &Launch,
    attach: Attach,
    forked: impl FnOnce() -> i32,
) -> Result<(UnixStream, i32), Error> {
    let (mut ours, theirs) =
        UnixStream::pair().map_err(|e| Error::Io("socketpair for the shim".into(), e))?;
    let theirs_fd = theirs.as_raw_fd();
    // The fork saves an exec, but the shim (and so the container's init) then runs from
    // this process's binary: only when that cannot be written through /proc (it is
    // sealed, immutable or on a read-only mount) is it safe to hand to a container.
    if launch.bin.is_none() && single_threaded() && exeseal::exe_is_protected() {
        fork_shim(launch, theirs, forked)?;
    } else if super::zygote::launch(
        launch.bin,
        launch.run_root,
        launch.id,
        &launch.env,
        theirs_fd,
    ) {
        // This process keeps a zygote (the API server): it forks the shim.
        drop(theirs);
    } else {
        exec_shim(launch, theirs_fd)?;
        drop(theirs);
    }
    proto::write_frame(
        &mut ours,
        proto::ATTACH,
        &[attach.output as u8, attach.stdin as u8],
    )
    .map_err(|e| Error::Io("talking to the shim".into(), e))?;
    started(ours, launch)
}

/// The shim's answer to the start on `ours`: its connection and the process's pid, or
/// why the start failed.
fn started(mut ours: UnixStream, launch: &Launch) -> Result<(UnixStream, i32), Error> {
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
                &launch.id[..12.min(launch.id.len())],
                launch.shim_log.display()
            ),
        )),
    }
}

/// How long a parked shim ([`park`]) waits for its start before it ends by itself.
pub const PARK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A shim forked for a created container before its start (see [`park`]): the
/// connection it waits on.
#[derive(Debug)]
pub struct Parked {
    sock: UnixStream,
}

/// Forks the shim of container `launch.id` from this process's zygote ahead of its
/// start, for a server that creates containers its clients start a few milliseconds
/// later (the docker CLI's attach and wait come between): the fork and the shim's
/// reading of the engine's settings and the container's record (about a millisecond)
/// are then off the start's path. The shim makes nothing meanwhile: no run dir, socket,
/// cgroup, namespace or file of the container; it waits for [`start_parked`] (and
/// reads the record again if it changed since: a rename, an update, a network connect),
/// or ends when the returned handle is dropped or after [`PARK_TIMEOUT`]. `None` when
/// this process keeps no zygote for the launch.
pub fn park(launch: &Launch) -> Option<Parked> {
    let (ours, theirs) = UnixStream::pair().ok()?;
    super::zygote::launch(
        launch.bin,
        launch.run_root,
        launch.id,
        &launch.env,
        theirs.as_raw_fd(),
    )
    .then_some(Parked { sock: ours })
}

/// Starts container `launch.id` through the shim [`park`] forked for it, as [`spawn`]
/// does; `Ok(None)` when that shim ends without a word: it was gone before it heard of
/// the start (it timed out, or failed to prepare), or it died in the start (a crash: its
/// init dies with it). The caller then spawns one, which tries once more and reports
/// what it meets.
pub fn start_parked(
    parked: Parked,
    attach: Attach,
    launch: &Launch,
) -> Result<Option<(UnixStream, i32)>, Error> {
    let mut ours = parked.sock;
    if proto::write_frame(
        &mut ours,
        proto::ATTACH,
        &[attach.output as u8, attach.stdin as u8],
    )
    .is_err()
    {
        return Ok(None);
    }
    // A shim that ends without a word never started anything that lives on: one that
    // failed its start says so.
    let mut peek = [0u8; 1];
    loop {
        match nix::sys::socket::recv(
            ours.as_raw_fd(),
            &mut peek,
            nix::sys::socket::MsgFlags::MSG_PEEK,
        ) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::Io("talking to the shim".into(), e.into())),
        }
    }
    started(ours, launch).map(Some)
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
fn fork_shim(
    launch: &Launch,
    theirs: UnixStream,
    forked: impl FnOnce() -> i32,
) -> Result<(), Error> {
    // SAFETY: the caller checked that this process has a single thread, so the child
    // inherits no lock in a locked state and may run ordinary Rust code.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(Error::Io("forking the shim".into(), e.into())),
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
            for (key, value) in &launch.env {
                // SAFETY: still single-threaded: setting the environment races with nothing.
                unsafe { std::env::set_var(key, value) };
            }
            let code = forked();
            // SAFETY: _exit skips the CLI's atexit work and stdio buffers, which belong to
            // the parent.
            unsafe { libc::_exit(code) }
        }
    }
}

/// Starts the shim as `tug __shim <id>` from the sealed binary (see
/// `sandbox::exeseal`): the safe way from a multi-threaded process, and the way that
/// leaves no writable path to the host's binary in the container.
fn exec_shim(launch: &Launch, theirs_fd: i32) -> Result<(), Error> {
    let bin = launch
        .bin
        .map(Path::to_path_buf)
        .unwrap_or_else(shim_binary);
    let sealed = exeseal::seal(&bin, launch.run_root)
        .map_err(|e| Error::Io(format!("sealing {}", bin.display()), io::Error::other(e)))?;
    // The child runs `/proc/self/fd/N` after its pre_exec has put the shim's socket on fd
    // 3: a sealed fd numbered 3 would be the socket by then, and exec would fail with
    // EACCES. Keep it above 3 (a free fd 3 happens in a process whose other threads
    // just closed theirs).
    let sealed = if sealed.as_raw_fd() <= 3 {
        rustix::io::fcntl_dupfd_cloexec(&sealed, 10)
            .map_err(|e| Error::Io(format!("sealing {}", bin.display()), e.into()))?
    } else {
        sealed
    };
    let mut cmd = exeseal::sealed_command(&sealed);
    cmd.arg(SUBCOMMAND)
        .arg(launch.id)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
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
        .map_err(|e| Error::Io(format!("starting the shim {}", bin.display()), e))?;
    // The first process forks the shim and exits at once.
    let _ = child.wait();
    Ok(())
}

/// The first step of `tug __shim`: forks once more so that the shim is not a session
/// leader, and names it `tug-shim`. `Ok(false)` in the parent, which exits at once.
pub fn daemonize() -> Result<bool, Error> {
    // SAFETY: the process is single-threaded here (the CLI parsed its arguments only).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => return Ok(false),
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => return Err(Error::Io("forking the shim".into(), e.into())),
    }
    name_process();
    Ok(true)
}

/// Names this process `tug-shim` in `ps -o comm` and /proc/<pid>/comm, also when it was
/// forked from the CLI or the zygote (whose command line it keeps).
pub fn name_process() {
    let _ = nix::sys::prctl::set_name(c"tug-shim");
}

/// Sends the shim's errors (fd 2) to `path`; stdout and stdin stay /dev/null.
pub fn log_errors_to(path: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // SAFETY: dup2 onto fd 2, which no Rust object owns.
        unsafe { libc::dup2(f.as_raw_fd(), 2) };
    }
}

/// The spawning client's connection, which [`spawn`] put on fd 3. Call it once.
pub fn first_client() -> UnixStream {
    // SAFETY: fd 3 was put there by `spawn` for us; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    fd.into()
}
