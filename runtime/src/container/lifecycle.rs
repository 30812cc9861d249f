//! The container lifecycle on the engine: run and start (through the shim), stop, kill,
//! wait, restart, rename, remove, prune, and the state as `inspect` and `ps` show it
//! (repaired when a shim died: the container shows as exited).

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::Error;
use super::attach::{self, AttachOptions};
use super::options::CreateOptions;
use super::record::Container;
use super::store::{MANUAL_RESTART, mark_manual_restart};
use crate::container::Ctx;
use crate::sandbox::RootfsSource;
use crate::shim::{self, Attach, proto};
use crate::snapshot::Rootfs;

/// Docker's default `stop` timeout.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl Ctx<'_> {
    /// The work of `Engine::run_container`.
    pub(crate) fn run_container(
        &self,
        opts: &CreateOptions,
        attach: AttachOptions,
    ) -> crate::container::Result<i32> {
        let c = self.create_container(opts)?;
        let (sock, _) = self.spawn_shim(&c, (&attach).into(), None)?;
        attach::relay(sock, attach, c.config.tty)
    }

    /// The work of `Engine::run_detached`.
    pub(crate) fn run_detached(&self, opts: &CreateOptions) -> crate::container::Result<Container> {
        let c = self.create_container(opts)?;
        self.spawn_shim(&c, Attach::default(), None)?;
        Ok(c)
    }

    /// The work of `Engine::start_container`.
    pub(crate) fn start_container(
        &self,
        name: &str,
        attach: AttachOptions,
    ) -> crate::container::Result<i32> {
        let c = self.container(name)?;
        if is_live(&c) {
            return Err(Error::Conflict(format!(
                "container {} is already running",
                c.short_name()
            )));
        }
        let (sock, _) = self.spawn_shim(&c, (&attach).into(), None)?;
        attach::relay(sock, attach, c.config.tty)
    }

    /// The work of `Engine::start_detached`.
    pub(crate) fn start_detached(&self, name: &str) -> crate::container::Result<Container> {
        let c = self.container(name)?;
        if !is_live(&c) {
            self.spawn_shim(&c, Attach::default(), None)?;
        }
        Ok(c)
    }

    /// Starts the shim of `c` (see `spawn_shim`), for the attached streams.
    pub(super) fn launch_shim_for(
        &self,
        c: &Container,
        attach: Attach,
        parked: Option<crate::shim::Parked>,
    ) -> crate::container::Result<(UnixStream, i32)> {
        self.spawn_shim(c, attach, parked)
    }

    /// Starts the shim of `c`; a `--rm` container whose shim could not even start is
    /// removed.
    fn spawn_shim(
        &self,
        c: &Container,
        attach: Attach,
        parked: Option<crate::shim::Parked>,
    ) -> crate::container::Result<(UnixStream, i32)> {
        self.restore_etc_files(c);
        match self.launch_shim(&c.id, attach, parked) {
            Ok(r) => Ok(r),
            Err(e) => {
                if c.host_config.auto_remove {
                    let store = self.container_store();
                    if let Ok(_lock) = store.lock(&c.id) {
                        let _ = store.remove(c);
                        self.release_networks(c);
                    }
                }
                Err(e)
            }
        }
    }

    /// The work of `Engine::attach_container`.
    pub(crate) fn attach_container(
        &self,
        name: &str,
        attach: AttachOptions,
    ) -> crate::container::Result<i32> {
        let c = self.container(name)?;
        let sock = self.connect_live(&c)?.ok_or_else(|| {
            Error::Conflict("You cannot attach to a stopped container, start it first".into())
        })?;
        let mut s = &sock;
        proto::write_frame(&mut s, proto::ATTACH, &[1, attach.stdin as u8])
            .map_err(|e| Error::Sys("attaching".into(), e))?;
        super::journal::emit(self.root(), &c, "attach", &[]);
        attach::relay(sock, attach, c.config.tty)
    }

    /// A connection to the shim of `c` if it runs.
    fn connect_live(&self, c: &Container) -> crate::container::Result<Option<UnixStream>> {
        if !is_live(c) {
            return Ok(None);
        }
        Ok(shim::connect(self.run_root(), &c.id).ok())
    }

    /// The work of `Engine::stop_container`.
    pub(crate) fn stop_container(
        &self,
        name: &str,
        timeout: Option<Duration>,
        signal: Option<&str>,
    ) -> crate::container::Result<Container> {
        let c = self.container(name)?;
        let Some(mut sock) = self.connect_live(&c)? else {
            return Ok(c);
        };
        let sig = match signal.or(c.config.stop_signal.as_deref()) {
            Some(s) => parse_signal(s)?,
            None => Signal::SIGTERM,
        };
        send(&mut sock, proto::STOP, sig as i32)?;
        // `-t`, else the container's `--stop-timeout` (negative: wait as long as it takes),
        // else Docker's 10 s.
        let limit = match (timeout, c.config.stop_timeout) {
            (Some(t), _) => Some(t),
            (None, Some(s)) if s < 0 => None,
            (None, Some(s)) => Some(Duration::from_secs(s as u64)),
            (None, None) => Some(DEFAULT_STOP_TIMEOUT),
        };
        super::journal::emit(
            self.root(),
            &c,
            "kill",
            &[("signal", (sig as i32).to_string())],
        );
        if wait_exit(&sock, limit).is_none() {
            super::journal::emit(self.root(), &c, "kill", &[("signal", "9".into())]);
            send(&mut sock, proto::STOP, Signal::SIGKILL as i32)?;
            wait_exit(&sock, None);
        }
        let c = match self.container(&c.id) {
            Ok(now) => now,
            // A `--rm` container is gone once stopped, as Docker's is: the stop
            // succeeded (the record as it was before).
            Err(Error::NotFound(_)) if c.host_config.auto_remove => c,
            Err(e) => return Err(e),
        };
        super::journal::emit(self.root(), &c, "stop", &[]);
        Ok(c)
    }

    /// The work of `Engine::kill_container`.
    pub(crate) fn kill_container(
        &self,
        name: &str,
        signal: Option<&str>,
    ) -> crate::container::Result<Container> {
        let c = self.container(name)?;
        let sig = signal
            .map(parse_signal)
            .transpose()?
            .unwrap_or(Signal::SIGKILL);
        let Some(mut sock) = self.connect_live(&c)? else {
            return Err(Error::Conflict(format!(
                "cannot kill container: {name}: container {} is not running",
                c.id
            )));
        };
        send(&mut sock, proto::KILL, sig as i32)?;
        super::journal::emit(
            self.root(),
            &c,
            "kill",
            &[("signal", (sig as i32).to_string())],
        );
        if sig == Signal::SIGKILL {
            wait_exit(&sock, Some(Duration::from_secs(2)));
        }
        Ok(c)
    }

    /// The work of `Engine::wait_container`.
    pub(crate) fn wait_container(&self, name: &str) -> crate::container::Result<i32> {
        let c = self.container(name)?;
        // A client that connects after the shim sent the exit sees the stream end instead
        // (-1): the shim wrote the final state before that, so the record has the code.
        if let Some(sock) = self.connect_live(&c)?
            && let Some(code) = wait_exit(&sock, None)
            && code >= 0
        {
            return Ok(code);
        }
        Ok(self.container(&c.id)?.state.exit_code)
    }

    /// The work of `Engine::restart_container`.
    pub(crate) fn restart_container(
        &self,
        name: &str,
        timeout: Option<Duration>,
    ) -> crate::container::Result<Container> {
        // A `--rm` container is restarted, not removed by the stop, as Docker does: its
        // shim sees the mark at the exit and records it as stopped.
        let c = self.container(name)?;
        let mark = if c.host_config.auto_remove {
            let dir = self.container_store().dir(&c.id);
            let m =
                mark_manual_restart(&dir).map_err(|e| Error::io(&dir.join(MANUAL_RESTART), e))?;
            Some(m)
        } else {
            None
        };
        let r = self
            .stop_container(&c.id, timeout, None)
            .and_then(|c| self.start_detached(&c.id));
        if let Some(m) = &mark {
            let _ = std::fs::remove_file(m);
        }
        let c = r?;
        super::journal::emit(self.root(), &c, "restart", &[]);
        Ok(c)
    }

    /// The work of `Engine::rename_container`.
    pub(crate) fn rename_container(
        &self,
        name: &str,
        new_name: &str,
    ) -> crate::container::Result<()> {
        let new_name = new_name.trim_start_matches('/');
        if !super::names::valid_name(new_name) {
            return Err(Error::Invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let store = self.container_store();
        let id = store.resolve(name)?;
        let _lock = store.lock(&id)?;
        let mut c = store.load(&id)?;
        let old = c.short_name().to_string();
        if old == new_name {
            return Err(Error::Invalid(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        store.reserve_name(new_name, &id)?;
        c.name = format!("/{new_name}");
        for ep in c.network_settings.networks.values_mut() {
            for n in ep.dns_names.iter_mut().flatten() {
                if *n == old {
                    *n = new_name.to_string();
                }
            }
        }
        if let Err(e) = store.save(&c, true) {
            store.release_name(new_name, &id);
            return Err(e);
        }
        store.release_name(&old, &id);
        drop(_lock);
        // Its peers find it by the new name from now on.
        let networks: Vec<String> = c.network_settings.networks.keys().cloned().collect();
        let net_store = self.network_store();
        for n in &networks {
            let _ = net_store.rename_endpoint(n, &id, new_name);
        }
        self.refresh_hosts(&networks, None);
        super::journal::emit(self.root(), &c, "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }

    /// Removes container `c`'s cgroup, if it is there (a shim that died left it).
    fn remove_cgroup(&self, c: &Container) {
        let _ = crate::sandbox::cgroups::open_for(
            &self.config().cgroup_root,
            self.root(),
            &c.id,
            &c.host_config.cgroup_parent,
        )
        .and_then(|m| m.remove());
    }

    /// The work of `Engine::remove_container`.
    pub(crate) fn remove_container(
        &self,
        name: &str,
        force: bool,
    ) -> crate::container::Result<Container> {
        let mut c = self.container(name)?;
        if force && !is_live(&c) {
            c = self.cancel_start(c);
        }
        if let Some(mut sock) = self.connect_live(&c)? {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"{}\": container is running: stop the container before removing or force remove",
                    c.name
                )));
            }
            // The shim removes the container itself at the exit (one rename, before its
            // clients hear of the exit; no durable exited state written first).
            proto::write_frame(&mut sock, proto::REMOVE, &[])
                .map_err(|e| Error::Sys("talking to the container's shim".into(), e))?;
            send(&mut sock, proto::STOP, Signal::SIGKILL as i32)?;
            wait_exit(&sock, Some(Duration::from_secs(10)));
        }
        let store = self.container_store();
        let _lock = match store.lock(&c.id) {
            Ok(l) => l,
            // Removed by its shim (`--rm`).
            Err(Error::NotFound(_)) => return Ok(c),
            Err(e) => return Err(e),
        };
        // Its shim removes the cgroup; if the shim died, it is removed here.
        self.remove_cgroup(&c);
        if c.state.error.starts_with("shim died") {
            super::net::repair_after_dead_shim(self, &c);
        }
        store.remove(&c)?;
        super::journal::emit(self.root(), &c, "destroy", &[]);
        self.release_networks(&c);
        let run_dir = shim::run_dir(self.run_root(), &c.id);
        let _ = std::fs::remove_file(run_dir.join(shim::SOCKET));
        let _ = std::fs::remove_dir(&run_dir);
        Ok(c)
    }

    /// A container whose start has not got it ready (its init stuck in its set-up: a
    /// `-v` source on a hung NFS or FUSE mount) has a shim, but its record is not live
    /// yet. Its removal asks that shim to give the start up (SIGTERM: it kills the init
    /// and undoes what the start made, its network among it) and waits for the shim to
    /// end, 10 s at most: an init that not even SIGKILL ends keeps the shim (and what it
    /// holds) until it does. The record as it is then, or `c` without a shim.
    fn cancel_start(&self, c: Container) -> Container {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        let Ok(sock) = shim::connect(self.run_root(), &c.id) else {
            return c;
        };
        // The process that listens on the socket: the shim (its socket is bound before
        // the start, and the shim's pid cannot be reused while it holds it).
        let Ok(pid) = getsockopt(&sock, PeerCredentials).map(|cred| cred.pid()) else {
            return c;
        };
        // SAFETY: pidfd_open takes a pid and flags by value and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return c;
        }
        // SAFETY: the kernel just returned this fd; nothing else owns it.
        let pidfd =
            unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
        drop(sock);
        // SAFETY: pidfd_send_signal takes the pidfd, a signal and flags by value.
        let sent = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                std::os::fd::AsRawFd::as_raw_fd(&pidfd),
                libc::SIGTERM,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if sent == 0 {
            // Done when the shim is gone, or earlier, once it has unlinked its socket
            // (after its record says how the start ended; it may linger on to remove an
            // idle bridge).
            use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
            let socket = shim::run_dir(self.run_root(), &c.id).join(shim::SOCKET);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && socket.exists() {
                let mut fds = [PollFd::new(
                    std::os::fd::AsFd::as_fd(&pidfd),
                    PollFlags::POLLIN,
                )];
                if let Ok(n) = poll(&mut fds, PollTimeout::from(5u8))
                    && n > 0
                {
                    break;
                }
            }
        }
        self.container(&c.id).unwrap_or(c)
    }

    /// The work of `Engine::prune_containers`.
    pub(crate) fn prune_containers(
        &self,
        keep: impl Fn(&Container) -> bool,
    ) -> crate::container::Result<(Vec<super::ContainerId>, u64)> {
        let mut ids = Vec::new();
        let mut reclaimed = 0;
        for c in self.containers()? {
            if is_live(&c) || !keep(&c) {
                continue;
            }
            let size = c
                .graph_driver
                .data
                .get("UpperDir")
                .or_else(|| c.graph_driver.data.get("Dir"))
                .map(|d| crate::fsutil::dir_size(std::path::Path::new(d)))
                .unwrap_or(0);
            match self.remove_container(&c.id, false) {
                Ok(_) => {
                    ids.push(c.id);
                    reclaimed += size;
                }
                Err(Error::NotFound(_) | Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // And what creates that died before writing their record left: never shown by
        // `ps`, so not listed either.
        self.container_store()
            .sweep_dead_creates(super::store::DEAD_CREATE_AGE)?;
        // And the temporary files of writers that died mid-write, in the dirs of records.
        let root = self.root();
        let mut dirs = vec![
            root.to_path_buf(),
            root.join("networks"),
            root.join("images"),
            root.join("images/.content-sizes"),
        ];
        for sub in ["containers", "volumes"] {
            if let Ok(rd) = std::fs::read_dir(root.join(sub)) {
                dirs.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
        }
        for d in dirs {
            crate::fsutil::sweep_stale(&d, super::store::DEAD_CREATE_AGE);
        }
        Ok((ids, reclaimed))
    }

    /// The work of `Engine::containers`.
    pub(crate) fn containers(&self) -> crate::container::Result<Vec<Container>> {
        let store = self.container_store();
        let mut out = Vec::new();
        for id in store.ids()? {
            match self.container(&id) {
                Ok(c) => out.push(c),
                // Removed while we looked.
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// The work of `Engine::container`.
    pub(crate) fn container(&self, name: &str) -> crate::container::Result<Container> {
        let store = self.container_store();
        let id = store.resolve(name)?;
        let mut c = store.load(&id)?;
        if is_live(&c) && !shim::is_alive(self.run_root(), &id) {
            c = self.repair_dead_shim(c)?;
        }
        let monitored = c.state.running && !c.state.paused;
        c.state.health = super::health::read_state(&store.dir(&id), monitored);
        Ok(c)
    }

    /// A container whose record says live but whose shim is gone (killed, or a reboot):
    /// recorded as exited (137), and what the shim held is released at once, as the shim
    /// would have at the exit: its cgroup (and any process left in it), its published
    /// ports and their DNAT table, its host veths; its peers stop resolving its name.
    /// Checked again under the container's lock, which the shim's own last write takes,
    /// so a shim that is merely exiting is never taken for dead. A container removed
    /// meanwhile (the shim of a `--rm` one moves its dir out as it ends) is not found:
    /// it must not be reported as killed (137) when it exited on its own.
    fn repair_dead_shim(&self, mut c: Container) -> crate::container::Result<Container> {
        let mark = |c: &mut Container| {
            c.state.set_exited(
                137,
                Some("shim died: the container's supervisor exited"),
                true,
            );
        };
        let store = self.container_store();
        let _lock = match store.lock(&c.id) {
            Ok(l) => l,
            Err(e @ Error::NotFound(_)) => return Err(e),
            Err(_) => {
                mark(&mut c);
                return Ok(c);
            }
        };
        match store.load(&c.id) {
            Ok(now) if is_live(&now) && !shim::is_alive(self.run_root(), &c.id) => c = now,
            // The shim recorded its own end meanwhile.
            Ok(now) => return Ok(now),
            Err(e @ Error::NotFound(_)) => return Err(e),
            Err(_) => {
                mark(&mut c);
                return Ok(c);
            }
        }
        self.remove_cgroup(&c);
        super::net::repair_after_dead_shim(self, &c);
        let networks: Vec<String> = c.network_settings.networks.keys().cloned().collect();
        mark(&mut c);
        c.network_settings.ports.clear();
        c.network_settings.sandbox_key.clear();
        let _ = store.save(&c, true);
        drop(_lock);
        self.refresh_hosts(&networks, None);
        Ok(c)
    }
}

/// Whether the record says a shim supervises the container (running, restarting or
/// paused).
fn is_live(c: &Container) -> bool {
    c.state.running || c.state.restarting || c.state.paused
}

fn send(sock: &mut UnixStream, kind: u8, n: i32) -> Result<(), Error> {
    proto::write_frame(sock, kind, &n.to_le_bytes())
        .map_err(|e| Error::Sys("talking to the container's shim".into(), e))
}

/// Reads frames until the exit (its code), the end of the stream (`Some(-1)`: the shim is
/// gone), or `timeout` (`None`).
fn wait_exit(sock: &UnixStream, timeout: Option<Duration>) -> Option<i32> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut s = sock;
    loop {
        let left = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                Some(left)
            }
            None => None,
        };
        let _ = sock.set_read_timeout(left);
        match proto::read_frame(&mut s) {
            Ok(Some((proto::EXIT, p))) => return Some(proto::payload_i32(&p)),
            Ok(Some(_)) => {}
            Ok(None) => return Some(-1),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(-1),
        }
    }
}

/// A signal as `-s` takes it: `SIGTERM`, `TERM`, `15`.
pub fn parse_signal(s: &str) -> Result<Signal, Error> {
    let bad = || Error::Invalid(format!("invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

/// How the container's rootfs is made, from its GraphDriver data.
pub(crate) fn rootfs_source(c: &Container) -> Result<RootfsSource, Error> {
    let get = |k: &str| {
        c.graph_driver
            .data
            .get(k)
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("container {}: no GraphDriver {k}", c.id)))
    };
    match c.graph_driver.name.as_str() {
        "vfs" => Ok(RootfsSource::Dir(PathBuf::from(get("Dir")?))),
        _ => {
            let lowers = get("LowerDir")?;
            Ok(RootfsSource::Overlay(Rootfs {
                lowers: lowers.split(':').rev().map(PathBuf::from).collect(),
                upper: get("UpperDir")?.into(),
                work: get("WorkDir")?.into(),
                volatile: false,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("hup").unwrap(), Signal::SIGHUP);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }

    /// A record read as running whose dir went before its shim was looked at (a `--rm`
    /// container's shim moves it out as it ends): the container is not found, and is
    /// never reported as killed (137) when it exited on its own.
    #[test]
    fn a_live_record_whose_dir_went_is_not_found_rather_than_killed() {
        let root = tempfile::tempdir().unwrap();
        let owned = crate::container::OwnedCtx::new(crate::EngineConfig::new(
            root.path().join("state"),
            root.path().join("run"),
        ));
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("testdata/container.json")).unwrap();
        v["Id"] = "ab".repeat(32).into();
        let mut c: Container = serde_json::from_value(v).unwrap();
        c.state.set_running(i32::MAX);
        assert!(is_live(&c));
        match owned.cx().repair_dead_shim(c) {
            Err(Error::NotFound(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}
