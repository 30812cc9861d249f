//! The shim's supervisor: one thread polling every fd (the signalfd for SIGCHLD, the
//! container's stdout/stderr pipes or pty master, the attach socket and its clients, the
//! owner's pidfd). It starts the container's process, relays its output to the log and
//! to attached clients, reaps the exit, applies the restart policy with Docker's back-off
//! (100 ms doubling, reset after 10 s of running), and writes the final state.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use super::log::{LogWriter, Rotation, Stream};
use super::owner::Owner;
use super::proto;
use crate::Engine;
use crate::container::net;
use crate::container::record::RestartPolicy;
use crate::container::{ContainerStore, Error};
use crate::sandbox::signals::SignalReader;
use crate::sandbox::{self, Sandbox, SandboxConfig, Stdio, cgroups, tty};

/// A client whose unsent output grows past this is dropped (it does not read).
const MAX_OUTBOX: usize = 4 << 20;
/// Docker's first restart delay, doubled on each restart, reset after 10 s of running.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
const RESET_AFTER: Duration = Duration::from_secs(10);

struct Client {
    sock: UnixStream,
    inbuf: Vec<u8>,
    outbox: Vec<u8>,
    output: bool,
    stdin: bool,
    gone: bool,
}

impl Client {
    fn new(sock: UnixStream, output: bool, stdin: bool) -> Client {
        let _ = sock.set_nonblocking(true);
        Client {
            sock,
            inbuf: Vec::new(),
            outbox: Vec::new(),
            output,
            stdin,
            gone: false,
        }
    }

    fn send(&mut self, frame: &[u8]) {
        if self.gone {
            return;
        }
        self.outbox.extend_from_slice(frame);
        self.flush();
        if self.outbox.len() > MAX_OUTBOX {
            self.gone = true;
        }
    }

    fn flush(&mut self) {
        while !self.outbox.is_empty() && !self.gone {
            match self.sock.write(&self.outbox) {
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.gone = true,
            }
        }
    }
}

/// The running container process and the shim's ends of its stdio.
struct Process {
    sandbox: Sandbox,
    /// The container's cgroup, removed when the process is done.
    cgroup: cgroups::ContainerCgroup,
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    master: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
    started: Instant,
    exit: Option<i32>,
    /// Its interfaces and host ports, undone when it exits.
    net: Option<net::LiveNetwork>,
}

struct Shim {
    engine: Engine,
    store: ContainerStore,
    /// The state root (the container's cgroup path depends on it).
    root: PathBuf,
    id: String,
    socket: PathBuf,
    run_dir: PathBuf,
    listener: UnixListener,
    _socket_dir: Option<OwnedFd>,
    clients: Vec<Client>,
    signals: SignalReader,
    log: LogWriter,
    owner: Option<Owner>,
    process: Option<Process>,
    policy: RestartPolicy,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    restart_at: Option<Instant>,
    delay: Duration,
    last_code: i32,
    manual_stop: bool,
    remove: bool,
    finished: bool,
    /// Bridges this container used: removed at the end when no one uses them.
    bridges: Vec<String>,
}

/// What one poll slot is.
#[derive(Clone, Copy)]
enum Slot {
    Signals,
    Listener,
    Output(Stream),
    Master,
    Client(usize),
    Owner,
}

/// Runs the shim of container `id` until the container is done; `first` is the spawning
/// client's connection.
pub(super) fn run(engine: &Engine, id: &str, mut first: UnixStream) -> Result<(), Error> {
    // The network set-up runs a short-lived thread; one malloc arena keeps it from
    // leaving a second arena's pages behind in a process that lives as long as its
    // container.
    // SAFETY: mallopt only sets an allocator parameter.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    let store = engine.container_store();
    let c = store.load(id)?;
    let run_dir = super::run_dir(engine.run_root(), id);
    std::fs::create_dir_all(&run_dir).map_err(|e| Error::io(&run_dir, e))?;
    let socket = run_dir.join(super::SOCKET);
    if super::connect(engine.run_root(), id).is_ok() {
        let _ = proto::write_frame(
            &mut first,
            proto::FAILED,
            &[
                &125i32.to_le_bytes()[..],
                b"the container is already running",
            ]
            .concat(),
        );
        return Ok(());
    }
    let _ = std::fs::remove_file(&socket);
    let (bind_path, socket_dir) = super::short_path(&socket).map_err(|e| Error::io(&socket, e))?;
    let listener = UnixListener::bind(&bind_path).map_err(|e| Error::io(&socket, e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io(&socket, e))?;
    // Signals are blocked before the clone so that no SIGCHLD is lost.
    let signals =
        SignalReader::new().map_err(|e| Error::Sys("blocking signals".into(), e.into()))?;
    let (output, stdin) = match proto::read_frame(&mut first) {
        Ok(Some((proto::ATTACH, p))) => (
            p.first().copied().unwrap_or(0) != 0,
            p.get(1).copied().unwrap_or(0) != 0,
        ),
        _ => (false, false),
    };
    let dir = store.dir(id);
    let rotation = Rotation::from_opts(
        c.host_config
            .log_config
            .config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .unwrap_or(Rotation {
        max_size: 0,
        max_files: 1,
    });
    let mut shim = Shim {
        engine: engine.clone(),
        store: store.clone(),
        root: engine.root().to_path_buf(),
        id: id.to_string(),
        socket,
        run_dir,
        listener,
        _socket_dir: socket_dir,
        clients: vec![Client::new(first, output, stdin)],
        signals,
        log: LogWriter::open(dir.join(format!("{id}-json.log")), rotation),
        owner: Owner::load(&dir),
        process: None,
        policy: c.host_config.restart_policy.clone(),
        tty: c.config.tty,
        open_stdin: c.config.open_stdin,
        stdin_once: c.config.stdin_once,
        restart_at: None,
        delay: Duration::ZERO,
        last_code: 0,
        manual_stop: false,
        remove: false,
        finished: false,
        bridges: Vec::new(),
    };
    drop(c);
    if shim.owner.as_ref().is_some_and(Owner::is_gone) {
        shim.remove = true;
        shim.fail(125, "the container's owner exited before the start".into());
        return Ok(());
    }
    match shim.start_process() {
        Ok(pid) => shim.broadcast(&proto::frame_i32(proto::STARTED, pid), false),
        Err(e) => {
            shim.fail(e.exit_code(), crate::report(&e));
            net::gc_bridges(&shim.engine, &shim.bridges);
            return Ok(());
        }
    }
    super::memory::release_clean_file_pages();
    // What the start needed (the spec, the clone's stack) goes back to the system.
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    shim.event_loop()
}

/// `sandbox::create` with fresh pipes as the init's stdout and stderr (and stdin when
/// `stdin`): the init inherits the shim's fds 0-2, so they point at the pipes during the
/// clone and back at /dev/null and the shim log after. Returns the shim's ends.
#[allow(clippy::type_complexity)]
fn create_with_pipes(
    config: &SandboxConfig,
    stdin: bool,
) -> crate::Result<(Sandbox, Option<OwnedFd>, Option<OwnedFd>, Option<OwnedFd>)> {
    if config.stdio == Stdio::Tty {
        return Ok((sandbox::create(config)?, None, None, None));
    }
    let pipe = || {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| {
            crate::Error::from(Error::Sys(
                "pipe for the container's stdio".into(),
                e.into(),
            ))
        })
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
    let result = sandbox::create(config);
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
    Ok((sb, Some(out_r), Some(err_r), stdin_w))
}

impl Shim {
    /// Creates the sandbox, writes the running state, and releases the init; returns the
    /// process's pid.
    fn start_process(&mut self) -> Result<i32, Error> {
        let c = self.store.load(&self.id)?;
        let mut spec = self.store.load_spec(&self.id)?;
        if let Some(path) = net::joined_netns(&self.engine, &c).map_err(start_error)? {
            join_netns(&mut spec, path)?;
        }
        // A taken host port fails the start before anything is made.
        let reserved = net::reserve_ports(&c).map_err(start_error)?;
        let rootfs = crate::container::rootfs_source(&c)?;
        let config = SandboxConfig {
            spec,
            rootfs,
            user: (!c.config.user.is_empty()).then(|| c.config.user.clone()),
            stdio: if self.tty {
                Stdio::Tty
            } else {
                Stdio::Inherit {
                    stdin: self.open_stdin,
                }
            },
            cgroup_root: self.engine.config().cgroup_root.clone(),
        };
        let resources = c.host_config.resources.clone();
        let devices = config
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.devices().clone())
            .unwrap_or_default();
        let (mut sb, out, err, stdin) =
            create_with_pipes(&config, self.open_stdin).map_err(start_error)?;
        let cgroup = cgroups::setup_for(
            &self.engine.config().cgroup_root,
            &self.root,
            &self.id,
            &resources,
            &devices,
            sb.pid(),
        )
        .map_err(|e| start_error(e.into()))?;
        drop(config);
        let live = net::up(&self.engine, &c, sb.pid(), reserved).map_err(start_error)?;
        let ports = live.ports(&net::exposed_keys(&c));
        drop(c);
        let master = sb.take_pty_master();
        let pid = sb.pid();
        let log_path = self
            .store
            .dir(&self.id)
            .join(format!("{}-json.log", self.id));
        let updated = self.store.update(&self.id, |c| {
            c.state.set_running(pid);
            c.log_path = log_path.display().to_string();
            c.network_settings.ports = ports.clone();
            c.network_settings.sandbox_key = format!("/proc/{pid}/ns/net");
        });
        let updated = match updated {
            Ok(Some(c)) => c,
            failed => {
                // The record is gone or cannot be written: nothing of the start stays.
                drop(sb);
                let (used, _) = net::down(&self.engine, &self.id, live);
                net::gc_bridges(&self.engine, &used);
                return Err(failed.err().unwrap_or(Error::NotFound(self.id.clone())));
            }
        };
        // A container alone on the default bridge keeps the hosts file `create` wrote.
        if net::names_peers(&updated) {
            self.engine
                .refresh_hosts(live.networks(), Some((&self.id, true)));
        }
        if let Err(e) = sb.start() {
            drop(sb);
            self.net_down(live);
            return Err(start_error(e.into()));
        }
        self.process = Some(Process {
            sandbox: sb,
            cgroup,
            out,
            err,
            master,
            stdin,
            started: Instant::now(),
            exit: None,
            net: Some(live),
        });
        Ok(pid)
    }

    /// The first start failed: record why (or remove the container), tell the clients,
    /// and end.
    fn fail(&mut self, code: i32, msg: String) {
        self.record_end(code, Some(&msg), false);
        self.unlink_socket();
        let payload = [&code.to_le_bytes()[..], msg.as_bytes()].concat();
        self.broadcast(&proto::frame(proto::FAILED, &payload), false);
        self.flush_and_close();
    }

    /// Writes the end of a run into the record (or removes the container with `--rm` or
    /// a dead owner). `exited`: the process ran (status exited), else it never started.
    fn record_end(&mut self, code: i32, error: Option<&str>, exited: bool) {
        let auto_remove = self
            .store
            .load(&self.id)
            .map(|c| c.host_config.auto_remove)
            .unwrap_or(false);
        if auto_remove || self.remove {
            if let Ok(_lock) = self.store.lock(&self.id)
                && let Ok(c) = self.store.load(&self.id)
            {
                let _ = self.store.remove(&c);
                self.engine.release_networks(&c);
                // `--rm` takes the container's anonymous volumes with it, as Docker does.
                let _ = self.engine.remove_anonymous_volumes(&c.mounts);
            }
            return;
        }
        let _ = self.store.update(&self.id, |c| {
            clear_network_state(c);
            c.state.set_exited(code, error, exited);
        });
    }

    fn unlink_socket(&self) {
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir(&self.run_dir);
    }

    fn broadcast(&mut self, frame: &[u8], output_only: bool) {
        for c in &mut self.clients {
            if !output_only || c.output {
                c.send(frame);
            }
        }
    }

    /// Sends what is queued (waiting at most a second per client) and ends.
    fn flush_and_close(&mut self) {
        for c in &mut self.clients {
            let _ = c.sock.set_nonblocking(false);
            let _ = c.sock.set_write_timeout(Some(Duration::from_secs(1)));
            if !c.gone {
                let _ = c.sock.write_all(&c.outbox);
            }
        }
        self.clients.clear();
        self.finished = true;
    }

    /// The process is gone: its ports and interfaces go, its names leave the hosts files
    /// of its networks, and the record shows no host port.
    fn net_down(&mut self, live: net::LiveNetwork) {
        let (bridges, networks) = net::down(&self.engine, &self.id, live);
        for b in bridges {
            if !self.bridges.contains(&b) {
                self.bridges.push(b);
            }
        }
        // The record's ports and sandbox key are cleared with the state change that
        // follows (see `clear_network_state`), in the same write.
        if !networks.is_empty() {
            self.engine
                .refresh_hosts(&networks, Some((&self.id, false)));
        }
    }

    /// The process exited and its output is drained: restart it, or finish.
    fn on_exit(&mut self, code: i32) {
        self.log.flush();
        let mut ran = Duration::ZERO;
        if let Some(p) = self.process.take() {
            ran = p.started.elapsed();
            // Read before the cgroup goes: an OOM kill shows as State.OOMKilled.
            if p.cgroup.oom_killed() {
                let _ = self.store.update(&self.id, |c| c.state.oom_killed = true);
            }
            let _ = p.cgroup.remove();
            if let Some(live) = p.net {
                self.net_down(live);
            }
        }
        self.last_code = code;
        let restarts = self
            .store
            .load(&self.id)
            .map(|c| c.restart_count)
            .unwrap_or(0);
        if self.remove || !self.policy.should_restart(code, restarts, self.manual_stop) {
            return self.finish(code, None);
        }
        self.delay = if ran >= RESET_AFTER || self.delay.is_zero() {
            FIRST_DELAY
        } else {
            (self.delay * 2).min(MAX_DELAY)
        };
        let gone = self
            .store
            .update(&self.id, |c| {
                c.state.set_restarting(code);
                clear_network_state(c);
            })
            .map(|c| c.is_none())
            .unwrap_or(true);
        if gone {
            return self.finish(code, None);
        }
        self.broadcast(&proto::frame_i32(proto::EXIT, code), false);
        self.restart_at = Some(Instant::now() + self.delay);
    }

    /// The restart delay passed: start again (a failed start counts as an exit).
    fn restart(&mut self) {
        self.restart_at = None;
        let _ = self.store.update(&self.id, |c| c.restart_count += 1);
        match self.start_process() {
            Ok(pid) => self.broadcast(&proto::frame_i32(proto::STARTED, pid), false),
            Err(Error::NotFound(_)) => self.finish(self.last_code, None),
            Err(e) => {
                let code = e.exit_code();
                let _ = self
                    .store
                    .update(&self.id, |c| c.state.error = crate::report(&e));
                self.on_exit(code);
            }
        }
    }

    /// The container is done: final state, the exit to every client, clean-up.
    fn finish(&mut self, code: i32, error: Option<&str>) {
        self.restart_at = None;
        self.record_end(code, error, true);
        // The socket goes before the clients hear of the exit, so that a `start` right
        // after a `stop` binds a new one that this shim does not remove.
        self.unlink_socket();
        self.broadcast(&proto::frame_i32(proto::EXIT, code), false);
        self.flush_and_close();
    }

    fn signal(&mut self, sig: i32, stop: bool) {
        if stop || sig == Signal::SIGKILL as i32 {
            self.manual_stop = true;
        }
        if let Some(p) = &self.process {
            if let Ok(s) = Signal::try_from(sig) {
                let _ = p.sandbox.signal(s);
            }
            // A paused (frozen) process acts on SIGKILL only once thawed (cgroup v1).
            if sig == Signal::SIGKILL as i32 && p.cgroup.manager().is_frozen().unwrap_or(false) {
                let _ = p.cgroup.manager().thaw();
            }
        } else if self.manual_stop && self.restart_at.is_some() {
            // Stopped while waiting to restart.
            let code = self.last_code;
            self.finish(code, None);
        }
    }

    fn event_loop(mut self) -> Result<(), Error> {
        let mut buf = [0u8; 16 * 1024];
        while !self.finished {
            let mut slots: Vec<(Slot, RawFd, PollFlags)> = Vec::with_capacity(8);
            let r = PollFlags::POLLIN;
            slots.push((Slot::Signals, self.signals.fd().as_fd().as_raw_fd(), r));
            slots.push((Slot::Listener, self.listener.as_raw_fd(), r));
            if let Some(p) = &self.process {
                if let Some(f) = &p.out {
                    slots.push((Slot::Output(Stream::Stdout), f.as_raw_fd(), r));
                }
                if let Some(f) = &p.err {
                    slots.push((Slot::Output(Stream::Stderr), f.as_raw_fd(), r));
                }
                if let Some(f) = &p.master {
                    slots.push((Slot::Master, f.as_raw_fd(), r));
                }
            }
            for (i, c) in self.clients.iter().enumerate() {
                let mut ev = r;
                if !c.outbox.is_empty() {
                    ev |= PollFlags::POLLOUT;
                }
                slots.push((Slot::Client(i), c.sock.as_raw_fd(), ev));
            }
            if let Some(fd) = self.owner.as_ref().and_then(|o| o.pidfd.as_ref()) {
                slots.push((Slot::Owner, fd.as_raw_fd(), r));
            }
            let mut timeout = self
                .restart_at
                .map(|t| t.saturating_duration_since(Instant::now()));
            if self.owner.as_ref().is_some_and(|o| o.pidfd.is_none()) {
                let poll_owner = Duration::from_millis(100);
                timeout = Some(timeout.map_or(poll_owner, |t| t.min(poll_owner)));
            }
            let timeout = match timeout {
                None => PollTimeout::NONE,
                Some(t) => PollTimeout::try_from(t.as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(PollTimeout::MAX),
            };
            let ready: Vec<(Slot, PollFlags)> = {
                let mut fds: Vec<PollFd> = slots
                    .iter()
                    // SAFETY: every fd is owned by `self` and stays open across the poll.
                    .map(|(_, fd, ev)| PollFd::new(unsafe { BorrowedFd::borrow_raw(*fd) }, *ev))
                    .collect();
                match poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(nix::Error::EINTR) => continue,
                    Err(e) => return Err(Error::Sys("poll".into(), e.into())),
                }
                fds.iter()
                    .zip(&slots)
                    .filter_map(|(f, (s, _, _))| {
                        f.revents().filter(|r| !r.is_empty()).map(|r| (*s, r))
                    })
                    .collect()
            };
            for (slot, revents) in ready {
                if self.finished {
                    break;
                }
                match slot {
                    Slot::Signals => self.on_signals(),
                    Slot::Listener => self.accept(),
                    Slot::Output(s) => self.on_output(Some(s), &mut buf),
                    Slot::Master => self.on_output(None, &mut buf),
                    Slot::Client(i) => self.on_client(i, revents, &mut buf),
                    Slot::Owner => {}
                }
            }
            if self.finished {
                break;
            }
            if self.owner.as_ref().is_some_and(Owner::is_gone) {
                self.owner = None;
                self.remove = true;
                self.signal(Signal::SIGKILL as i32, true);
                if self.process.is_none() && !self.finished {
                    self.finish(self.last_code, None);
                }
            }
            self.clients.retain(|c| !c.gone);
            if let Some(p) = &self.process
                && let Some(code) = p.exit
                && p.out.is_none()
                && p.err.is_none()
                && p.master.is_none()
            {
                self.on_exit(code);
            }
            if let Some(t) = self.restart_at
                && Instant::now() >= t
            {
                self.restart();
            }
        }
        // No client waits any more: the bridges this container leaves unused can go.
        net::gc_bridges(&self.engine, &self.bridges);
        Ok(())
    }

    fn on_signals(&mut self) {
        while let Some(sig) = self.signals.read() {
            if sig == Signal::SIGCHLD
                && let Some(p) = &mut self.process
                && p.exit.is_none()
                && let Ok(Some(code)) = p.sandbox.try_wait()
            {
                p.exit = Some(code);
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((s, _)) => self.clients.push(Client::new(s, false, false)),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Output from the container (`None`: the pty master).
    fn on_output(&mut self, stream: Option<Stream>, buf: &mut [u8]) {
        let Some(p) = &mut self.process else { return };
        let fd = match stream {
            Some(Stream::Stdout) => &mut p.out,
            Some(Stream::Stderr) => &mut p.err,
            None => &mut p.master,
        };
        let Some(f) = fd else { return };
        match nix::unistd::read(f.as_fd(), buf) {
            Ok(0) | Err(nix::Error::EIO) => *fd = None,
            Ok(n) => {
                let s = stream.unwrap_or(Stream::Stdout);
                self.log.write(s, &buf[..n]);
                let kind = match s {
                    Stream::Stdout => proto::STDOUT,
                    Stream::Stderr => proto::STDERR,
                };
                self.broadcast(&proto::frame(kind, &buf[..n]), true);
            }
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
            Err(_) => *fd = None,
        }
    }

    fn on_client(&mut self, i: usize, revents: PollFlags, buf: &mut [u8]) {
        if revents.contains(PollFlags::POLLOUT) {
            self.clients[i].flush();
        }
        if !revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return;
        }
        let n = match self.clients[i].sock.read(buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return;
            }
            Err(_) => 0,
        };
        if n == 0 {
            let c = &mut self.clients[i];
            c.gone = true;
            if c.stdin && self.stdin_once {
                self.close_stdin();
            }
            return;
        }
        self.clients[i].inbuf.extend_from_slice(&buf[..n]);
        let frames = match proto::split_frames(&mut self.clients[i].inbuf) {
            Ok(f) => f,
            Err(_) => {
                self.clients[i].gone = true;
                return;
            }
        };
        for (kind, payload) in frames {
            match kind {
                proto::ATTACH => {
                    let c = &mut self.clients[i];
                    c.output = true;
                    c.stdin = payload.get(1).copied().unwrap_or(0) != 0;
                }
                proto::STDIN => {
                    if let Some(w) = self.process.as_ref().and_then(|p| p.stdin.as_ref()) {
                        let _ = nix::unistd::write(w, &payload);
                    }
                    if let Some(m) = self.process.as_ref().and_then(|p| p.master.as_ref()) {
                        let mut data = &payload[..];
                        while !data.is_empty() {
                            match nix::unistd::write(m, data) {
                                Ok(n) => data = &data[n..],
                                Err(nix::Error::EINTR) => {}
                                Err(_) => break,
                            }
                        }
                    }
                }
                proto::STDIN_CLOSE if self.stdin_once || !self.clients[i].output => {
                    self.close_stdin();
                }
                proto::RESIZE if payload.len() >= 4 => {
                    if let Some(m) = self.process.as_ref().and_then(|p| p.master.as_ref()) {
                        let ws = libc::winsize {
                            ws_row: u16::from_le_bytes([payload[0], payload[1]]),
                            ws_col: u16::from_le_bytes([payload[2], payload[3]]),
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        tty::set_window_size(m.as_fd(), &ws);
                    }
                }
                proto::KILL => self.signal(proto::payload_i32(&payload), false),
                proto::STOP => self.signal(proto::payload_i32(&payload), true),
                _ => {}
            }
            if self.finished {
                return;
            }
        }
    }

    fn close_stdin(&mut self) {
        if let Some(p) = &mut self.process {
            p.stdin = None;
        }
    }
}

/// A sandbox error as a start error with Docker's exit code (125, 126, 127).
/// What a stopped container's record shows of its network: no host ports (Docker
/// clears them, so `ps -a` shows no PORTS) and no sandbox.
fn clear_network_state(c: &mut crate::container::Container) {
    c.network_settings.ports.clear();
    c.network_settings.sandbox_key.clear();
}

/// Puts the path of the network namespace to join into the spec (`--network
/// container:<id>`; the init joins it).
fn join_netns(spec: &mut oci_spec::runtime::Spec, path: String) -> Result<(), Error> {
    use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType};
    let Some(linux) = spec.linux_mut() else {
        return Ok(());
    };
    let mut nss = linux.namespaces().clone().unwrap_or_default();
    nss.retain(|n| n.typ() != LinuxNamespaceType::Network);
    nss.push(
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Network)
            .path(path)
            .build()
            .map_err(|e| Error::Invalid(format!("spec: {e}")))?,
    );
    linux.set_namespaces(Some(nss));
    Ok(())
}

fn start_error(e: crate::Error) -> Error {
    Error::Start(e.exit_code(), crate::report(&e))
}
