//! The container's process as the shim holds it: the sandbox, its cgroup and the shim's
//! ends of its stdio, made by [`create_with_pipes`] for the container side's
//! [`super::Supervised::start`].

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

use crate::sandbox::{self, Sandbox, SandboxConfig, Stdio, cgroups};

/// The shim's ends of the process's stdio: its stdout and stderr pipes and its stdin
/// pipe (`-i`), or the pty master.
#[derive(Debug, Default)]
pub struct ProcessIo {
    pub out: Option<OwnedFd>,
    pub err: Option<OwnedFd>,
    pub master: Option<OwnedFd>,
    pub stdin: Option<OwnedFd>,
}

/// The running container process.
pub struct Process {
    pub(super) sandbox: Sandbox,
    /// The container's cgroup, removed when the process is done.
    pub(super) cgroup: cgroups::ContainerCgroup,
    pub(super) io: ProcessIo,
    pub(super) started: Instant,
    pub(super) exit: Option<i32>,
    /// The cgroup's OOM kills that were execs' (each seen when an exec died of SIGKILL
    /// while this process ran on): they do not make `State.OOMKilled`.
    pub(super) exec_oom_kills: u64,
    /// What the shim serves for the process while it runs (the embedded DNS server).
    pub(super) service: Option<Box<dyn Service>>,
    /// The relay of its ports published on IPv6 (see `network::ports::proxy`).
    pub(super) proxy: Option<Box<dyn Service>>,
    /// The process's mount namespace, held open so that its exit does not tear down the
    /// namespace's mounts (the rootfs overlay, /proc, /sys, the binds, and an expedited
    /// RCU grace period: a few milliseconds) before the shim hears of it: the shim
    /// closes it after telling its clients (`Shim::on_exit`).
    pub(super) mnt_ns: Option<OwnedFd>,
}

/// A server the shim answers from its event loop while the container's process runs
/// (the container's embedded DNS server): its sockets are polled with the shim's other
/// fds, so the shim stays one thread, and they close when the process ends.
pub trait Service {
    /// The fds to poll for reading.
    fn fds(&self) -> Vec<RawFd>;
    /// The fds to poll for writing (none unless the service says so).
    fn write_fds(&self) -> Vec<RawFd> {
        Vec::new()
    }
    /// `fd` is readable or writable (or has an error or hang-up to read).
    fn on_ready(&mut self, fd: RawFd);
    /// When [`Service::tick`] is due (a deadline of its own), if ever.
    fn wake_at(&self) -> Option<Instant>;
    /// Called after every poll: the deadlines that passed.
    fn tick(&mut self, now: Instant);
    /// A service that relays to the container's address: relay to `address` from now on
    /// (`None`: to nothing). Others ignore it.
    fn retarget(&mut self, _address: Option<std::net::Ipv4Addr>) {}
}

impl Process {
    /// Whether the OOM killer killed this process (not an exec), as `State.OOMKilled`
    /// says it, Docker's way: it died of SIGKILL (`code` 137) and the cgroup counts an OOM
    /// kill that no exec's death explains. Call it once the process has exited.
    pub fn oom_killed(&self, code: i32) -> bool {
        code == 137 && self.cgroup.oom_kills() > self.exec_oom_kills
    }

    /// A process that runs now (released), in `cgroup`, with the shim's ends `io`.
    pub fn new(sandbox: Sandbox, cgroup: cgroups::ContainerCgroup, io: ProcessIo) -> Process {
        Process {
            mnt_ns: None,
            sandbox,
            cgroup,
            io,
            started: Instant::now(),
            exit: None,
            exec_oom_kills: 0,
            service: None,
            proxy: None,
        }
    }

    /// The process, with `service` answered while it runs.
    pub fn with_service(mut self, service: Option<Box<dyn Service>>) -> Process {
        self.service = service;
        self
    }

    /// The process, with `proxy` relaying its IPv6 ports while it runs.
    pub fn with_proxy(mut self, proxy: Option<Box<dyn Service>>) -> Process {
        self.proxy = proxy;
        self
    }

    /// Its services: the DNS server (0) and the port proxy (1), those it has.
    pub(super) fn services(&self) -> impl Iterator<Item = (usize, &dyn Service)> {
        [&self.service, &self.proxy]
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_deref().map(|s| (i, s)))
    }

    /// Service `i` of [`Process::services`].
    pub(super) fn service_mut(&mut self, i: usize) -> Option<&mut (dyn Service + 'static)> {
        match i {
            0 => self.service.as_deref_mut(),
            _ => self.proxy.as_deref_mut(),
        }
    }

    /// The process, holding `mnt_ns` (see [`pin_mnt_ns`]) until it is done.
    pub fn with_mnt_ns(mut self, mnt_ns: Option<OwnedFd>) -> Process {
        self.mnt_ns = mnt_ns;
        self
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.sandbox.pid()
    }
}

/// The mount namespace of the init `pid`, opened right after its clone (it may exit
/// as soon as it is released, and a process that exited has none): held by the
/// [`Process`], it keeps the namespace's teardown out of the process's exit.
pub fn pin_mnt_ns(pid: i32) -> Option<OwnedFd> {
    std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(OwnedFd::from)
}

/// `sandbox::clone` with fresh pipes as the init's stdout and stderr (and stdin when
/// `stdin`): the init inherits the shim's fds 0-2, so they point at the pipes during the
/// clone and back at /dev/null and the shim log after. Returns the shim's ends; the init
/// sets the container up meanwhile, and [`wait_ready`] waits for it.
pub fn create_with_pipes(
    config: &SandboxConfig,
    stdin: bool,
) -> Result<(Sandbox, ProcessIo), sandbox::Error> {
    if config.stdio == Stdio::Tty {
        return Ok((sandbox::clone(config)?, ProcessIo::default()));
    }
    let pipe = || {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| sandbox::Error::Io("pipe for the container's stdio".into(), e.into()))
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let stdin_pipe = if stdin { Some(pipe()?) } else { None };
    let saved: Vec<RawFd> = (0..3)
        // SAFETY: dup of the shim's own stdio fds.
        .map(|fd| unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })
        .collect();
    // SAFETY: dup2 onto fds 0-2, which no Rust object owns; the shim is single-threaded.
    unsafe {
        if let Some((r, _)) = &stdin_pipe {
            libc::dup2(r.as_raw_fd(), 0);
        }
        libc::dup2(out_w.as_raw_fd(), 1);
        libc::dup2(err_w.as_raw_fd(), 2);
    }
    let result = sandbox::clone(config);
    for (fd, s) in saved.into_iter().enumerate() {
        if s >= 0 {
            // SAFETY: `s` is our duplicate of the old fd; it goes back and is closed.
            unsafe {
                libc::dup2(s, fd as i32);
                libc::close(s);
            }
        }
    }
    let sb = result?;
    let stdin_w = stdin_pipe.map(|(_, w)| w);
    if let Some(w) = &stdin_w {
        let _ = nix::fcntl::fcntl(
            w,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
    }
    let io = ProcessIo {
        out: Some(out_r),
        err: Some(err_r),
        master: None,
        stdin: stdin_w,
    };
    Ok((sb, io))
}

/// Waits until the init of `sb` (made by [`create_with_pipes`]) is ready to start; a
/// terminal's master goes into `io`.
///
/// A SIGTERM, SIGINT or SIGHUP (blocked in the shim, see `SignalReader`) gives the start
/// up: `rm -f` sends one to a shim whose container never got ready.
pub fn wait_ready(sb: &mut Sandbox, io: &mut ProcessIo) -> Result<(), sandbox::Error> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    // Reads only these: the shim's own signalfd keeps its SIGCHLDs.
    match SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(cancel) => sb.wait_ready_or_cancel(std::os::fd::AsFd::as_fd(&cancel))?,
        Err(_) => sb.wait_ready()?,
    }
    if let Some(master) = sb.take_pty_master() {
        io.master = Some(master);
    }
    Ok(())
}
