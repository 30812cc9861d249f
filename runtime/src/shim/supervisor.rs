//! The shim's supervisor: the state of one shim (the container's process, its clients,
//! execs, log, owner, restart timing) and the steps of the container's life: the first
//! start, an exit (restart after the back-off of [`super::restart::decide`], or the
//! end), a failed start, a signal. The container side is told of each step through
//! [`Supervised`]; the polling is in `event_loop`.

use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::client::Client;
use super::exec::{Event, Exec};
use super::health::Monitor;
use super::log::LogWriter;
use super::owner::Owner;
use super::process::Process;
use super::restart::{self, Decision, RestartPolicy};
use super::{Error, Settings, Supervised, proto};
use crate::sandbox::signals::SignalReader;

pub(super) struct Shim<'a> {
    pub side: &'a mut dyn Supervised,
    pub socket: PathBuf,
    pub run_dir: PathBuf,
    pub listener: UnixListener,
    _socket_dir: Option<OwnedFd>,
    pub clients: Vec<Client>,
    /// The id of the next client.
    pub next_client: u64,
    /// Processes exec'd into the container, running or being relayed.
    pub execs: Vec<Exec>,
    /// The healthcheck monitor, when the container has a check.
    pub health: Option<Monitor>,
    pub signals: SignalReader,
    pub log: LogWriter,
    pub owner: Option<Owner>,
    pub process: Option<Process>,
    policy: RestartPolicy,
    pub id: String,
    pub stdin_once: bool,
    pub restart_at: Option<Instant>,
    /// When the shim drops what the start needed from its resident set (see
    /// [`Shim::release_start_memory`]): a while after the start, so that a short-lived
    /// container's exit is not kept waiting behind it.
    pub trim_at: Option<Instant>,
    delay: Duration,
    pub last_code: i32,
    manual_stop: bool,
    pub remove: bool,
    pub finished: bool,
    /// The exited process's cgroup being removed on a thread of its own (see
    /// [`Shim::on_exit`]), joined by [`Shim::cgroup_removed`].
    cgroup_removal: Option<std::thread::JoinHandle<()>>,
}

/// Runs the shim of the container that `side` stands for until the container is done;
/// `first` is the spawning client's connection, which asked for `attach` (see
/// [`read_attach`]).
pub fn run(
    settings: Settings,
    side: &mut dyn Supervised,
    mut first: UnixStream,
    attach: super::Attach,
) -> Result<(), Error> {
    // The network set-up runs a short-lived thread; one malloc arena keeps it from
    // leaving a second arena's pages behind in a process that lives as long as its
    // container.
    // SAFETY: mallopt only sets an allocator parameter.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    let run_dir = settings.run_dir;
    let io = |what: &std::path::Path| {
        let what = what.display().to_string();
        move |e| Error::Io(what, e)
    };
    std::fs::create_dir_all(&run_dir).map_err(io(&run_dir))?;
    let socket = run_dir.join(super::SOCKET);
    if super::connect_dir(&run_dir).is_ok() {
        let failed = Event::Failed(125, "the container is already running".into());
        let _ = std::io::Write::write_all(&mut first, &failed.frame());
        return Ok(());
    }
    let _ = std::fs::remove_file(&socket);
    let (bind_path, socket_dir) = super::short_path(&socket).map_err(io(&socket))?;
    let listener = UnixListener::bind(&bind_path).map_err(io(&socket))?;
    listener.set_nonblocking(true).map_err(io(&socket))?;
    // Signals are blocked before the clone so that no SIGCHLD is lost.
    let signals =
        SignalReader::new().map_err(|e| Error::Io("blocking signals".into(), e.into()))?;
    let (output, stdin) = (attach.output, attach.stdin);
    let mut shim = Shim {
        side,
        socket,
        run_dir,
        listener,
        _socket_dir: socket_dir,
        clients: vec![Client::new(0, first, output, stdin)],
        next_client: 1,
        execs: Vec::new(),
        health: settings.health.map(Monitor::new),
        signals,
        log: LogWriter::open(settings.log, settings.rotation).with_attrs(settings.log_attrs),
        owner: settings.owner,
        process: None,
        policy: settings.policy,
        id: settings.id,
        stdin_once: settings.stdin_once,
        restart_at: None,
        trim_at: None,
        delay: Duration::ZERO,
        last_code: 0,
        manual_stop: false,
        remove: false,
        finished: false,
        cgroup_removal: None,
    };
    if shim.owner.as_ref().is_some_and(Owner::is_gone) {
        shim.remove = true;
        shim.fail(125, "the container's owner exited before the start".into());
        return Ok(());
    }
    match shim.side.start() {
        Ok(p) => {
            // The health state says `starting` before anyone hears of the start.
            if let Some(h) = &mut shim.health {
                h.start();
            }
            shim.broadcast(&Event::Started(p.pid()).frame(), false);
            shim.process = Some(p);
        }
        Err(e) => {
            shim.fail(e.exit_code(), crate::report(&e));
            shim.side.shim_exits();
            return Ok(());
        }
    }
    shim.trim_at = Some(Instant::now() + TRIM_AFTER);
    let result = shim.event_loop();
    // No client waits any more: the container side's last clean-up.
    shim.side.shim_exits();
    result
}

/// The start's request on the spawning client's connection `first`: how it attaches
/// ([`super::spawn`] sends it at once; a server that parked the shim at the create sends
/// it at the start, see [`super::park`]). `None` when the connection ends (or nothing
/// comes within `wait`) before it: nothing is to be started.
pub fn read_attach(first: &mut UnixStream, wait: Duration) -> Option<super::Attach> {
    first.set_read_timeout(Some(wait)).ok()?;
    let frame = proto::read_frame(first);
    first.set_read_timeout(None).ok()?;
    match frame {
        Ok(Some((proto::ATTACH, p))) => Some(super::Attach {
            output: p.first().copied().unwrap_or(0) != 0,
            stdin: p.get(1).copied().unwrap_or(0) != 0,
        }),
        Ok(Some(_)) => Some(super::Attach::default()),
        Ok(None) | Err(_) => None,
    }
}

/// How long after the start an idle shim shrinks (see [`Shim::release_start_memory`]).
const TRIM_AFTER: Duration = Duration::from_millis(200);

impl Shim<'_> {
    /// Drops the pages that only the start needed: the clean file pages it touched (clap,
    /// serde, the sandbox set-up: they stay in the page cache) and the free heap (the
    /// spec, the clone's stack). Reading `/proc/self/smaps` takes a millisecond or two,
    /// so it waits for a quiet moment after the start ([`TRIM_AFTER`]).
    pub fn release_start_memory(&mut self) {
        self.trim_at = None;
        super::memory::release_clean_file_pages();
        // SAFETY: malloc_trim only returns free heap memory to the kernel.
        unsafe { libc::malloc_trim(0) };
    }

    /// The first start failed: record why (or remove the container), tell the clients,
    /// and end.
    fn fail(&mut self, code: i32, msg: String) {
        self.side.ended(code, Some(&msg), false, self.remove);
        self.unlink_socket();
        self.broadcast(&Event::Failed(code, msg).frame(), false);
        self.flush_and_close();
    }

    fn unlink_socket(&self) {
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir(&self.run_dir);
    }

    /// Sends `frame` of the container's process to every client but the execs' (to the
    /// attached ones only with `output_only`).
    pub fn broadcast(&mut self, frame: &[u8], output_only: bool) {
        for c in self.clients.iter_mut().filter(|c| !c.exec) {
            if !output_only || c.output {
                c.send(frame);
            }
        }
        // What the step before replaced is freed now that its news is out.
        crate::fsutil::drop_replaced();
    }

    /// Sends what is queued (waiting at most a second per client) and ends.
    fn flush_and_close(&mut self) {
        for c in &mut self.clients {
            c.flush_blocking();
        }
        self.clients.clear();
        self.finished = true;
    }

    /// The process exited and its output is drained: restart it, or finish.
    pub fn on_exit(&mut self, code: i32) {
        self.log.flush();
        if let Some(h) = &mut self.health {
            h.stop(&mut [0u8; 4096]);
        }
        self.end_execs();
        let mut ran = Duration::ZERO;
        // The exited process's mount namespace, torn down when this returns: after the
        // clients heard of the exit (and of the removal).
        let mut _mnt_ns = None;
        if let Some(mut p) = self.process.take() {
            _mnt_ns = p.mnt_ns.take();
            // Its sockets close before its network goes.
            drop(p.service.take());
            drop(p.proxy.take());
            ran = p.started.elapsed();
            // Read before the cgroup goes: an OOM kill shows as State.OOMKilled.
            let oom_killed = p.oom_killed(code);
            // The cgroup's removal (a dozen rmdirs on v1: half a millisecond) runs
            // beside the network's and the record's steps. No client hears of the end,
            // and no restart clones again, before it is done (`cgroup_removed`).
            let cgroup = p.cgroup;
            self.cgroup_removal = std::thread::Builder::new()
                .name("cgroup-rm".into())
                .spawn(move || {
                    let _ = cgroup.remove();
                })
                .ok();
            self.side.stopped(oom_killed);
        }
        self.last_code = code;
        let restarts = self.side.restart_count();
        let stopped = self.remove || self.manual_stop;
        if let Some(p) = self.side.restart_policy() {
            self.policy = p;
        }
        let delay = match restart::decide(&self.policy, code, restarts, stopped, ran, self.delay) {
            Decision::Stop => return self.finish(code, None),
            Decision::RestartAfter(d) => d,
        };
        self.delay = delay;
        if !self.side.restarting(code) {
            return self.finish(code, None);
        }
        self.cgroup_removed();
        self.broadcast(&Event::Exit(code).frame(), false);
        self.restart_at = Some(Instant::now() + delay);
    }

    /// The restart delay passed: start again (a failed start counts as an exit).
    pub fn restart(&mut self) {
        self.restart_at = None;
        self.side.restart_begins();
        match self.side.start() {
            Ok(p) => {
                if let Some(h) = &mut self.health {
                    h.start();
                }
                self.broadcast(&Event::Started(p.pid()).frame(), false);
                self.process = Some(p);
            }
            Err(Error::Gone(_)) => self.finish(self.last_code, None),
            Err(e) => {
                self.side.restart_failed(&crate::report(&e));
                self.on_exit(e.exit_code());
            }
        }
    }

    /// The container is done: final state, the exit to every client, clean-up.
    pub fn finish(&mut self, code: i32, error: Option<&str>) {
        self.restart_at = None;
        self.side.ended(code, error, true, self.remove);
        self.cgroup_removed();
        // The socket goes before the clients hear of the exit, so that a `start` right
        // after a `stop` binds a new one that this shim does not remove.
        self.unlink_socket();
        self.broadcast(&Event::Exit(code).frame(), false);
        self.flush_and_close();
    }

    /// Waits for the exited process's cgroup to be gone (see [`Shim::on_exit`]): before
    /// the clients hear of the end (nothing of a container that `run --rm` saw end may
    /// be left), and before a restart's clone (a thread running at a raw clone() may
    /// hold the allocator's lock, which the init would wait for forever).
    fn cgroup_removed(&mut self) {
        if let Some(t) = self.cgroup_removal.take() {
            let _ = t.join();
        }
    }

    /// A signal for the container's process (`stop`: by a user, no restart after).
    pub fn signal(&mut self, sig: i32, stop: bool) {
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
}
