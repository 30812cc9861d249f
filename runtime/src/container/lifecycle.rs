//! The container lifecycle on the engine after create: start in the foreground (sandbox
//! create → sync → start → attach → wait), remove, inspect.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Error;
use super::attach::{self, AttachOptions};
use super::options::CreateOptions;
use super::record::{Container, now};
use super::store::ContainerStore;
use crate::Engine;
use crate::sandbox::{self, RootfsSource, SandboxConfig, Stdio, cgroups};
use crate::snapshot::Rootfs;

impl Engine {
    /// `tug run` in the foreground: create, start attached, wait (and remove with `--rm`).
    /// Returns the container's exit code.
    pub fn run_container(&self, opts: &CreateOptions, attach: AttachOptions) -> crate::Result<i32> {
        // The spec just made is used as it is, not read back.
        let (c, spec) = self.create_with_spec(opts)?;
        self.start_loaded(c, spec, attach)
    }

    /// `tug start -a`: starts a created (or exited) container attached, and waits for it.
    pub fn start_container(&self, name: &str, attach: AttachOptions) -> crate::Result<i32> {
        let store = self.container_store();
        let id = store.resolve(name)?;
        let c = {
            let _lock = store.lock(&id)?;
            let c = store.load(&id)?;
            if is_running(&c) {
                return Err(Error::Conflict(format!(
                    "container {} is already running",
                    c.short_name()
                ))
                .into());
            }
            c
        };
        let spec = store.load_spec(&id)?;
        self.start_loaded(c, spec, attach)
    }

    /// The named steps of a start: sandbox create → running state → sandbox start →
    /// supervise → final state (or removal with `--rm`).
    fn start_loaded(
        &self,
        mut c: Container,
        spec: oci_spec::runtime::Spec,
        attach: AttachOptions,
    ) -> crate::Result<i32> {
        let store = self.container_store();
        let auto_remove = c.host_config.auto_remove;
        let result = self.start_and_wait(&store, &mut c, spec, attach);
        if auto_remove {
            let _lock = store.lock(&c.id);
            store.remove(&c)?;
        } else {
            let code = match &result {
                Ok(code) => *code,
                Err(e) => e.exit_code(),
            };
            if let Err(e) = &result {
                c.state.error = e.to_string();
            }
            c.state.exit_code = code;
            c.state.running = false;
            c.state.pid = 0;
            if result.is_ok() || c.state.status == "running" {
                c.state.status = "exited".into();
                c.state.finished_at = now();
            }
            save_if_present(&store, &c)?;
        }
        result
    }

    fn start_and_wait(
        &self,
        store: &ContainerStore,
        c: &mut Container,
        spec: oci_spec::runtime::Spec,
        attach: AttachOptions,
    ) -> crate::Result<i32> {
        let tty = c.config.tty;
        let rootfs = rootfs_source(c)?;
        let config = SandboxConfig {
            spec,
            rootfs,
            user: (!c.config.user.is_empty()).then(|| c.config.user.clone()),
            stdio: if tty {
                Stdio::Tty
            } else {
                Stdio::Inherit {
                    stdin: attach.stdin,
                }
            },
        };
        // Signals are blocked before the clone so that none is lost.
        let mut signals = sandbox::signals::SignalReader::new()
            .map_err(|e| Error::Sys("blocking signals".into(), e.into()))?;
        let mut sb = sandbox::create(&config)?;
        let cgroup = cgroups::setup_for(self.root(), &c.id, &c.host_config.resources, sb.pid())?;
        let master = sb.take_pty_master();
        if let Some(m) = &master {
            sandbox::tty::copy_window_size(std::os::fd::AsFd::as_fd(m));
        }
        let raw = (tty && attach.stdin)
            .then(sandbox::tty::RawModeGuard::stdin)
            .flatten();
        sb.start()?;
        c.state.status = "running".into();
        c.state.running = true;
        c.state.pid = sb.pid();
        c.state.started_at = now();
        c.state.error.clear();
        c.state.oom_killed = false;
        save_if_present(store, c)?;
        let code = attach::supervise(&mut sb, master, &mut signals, attach);
        drop(raw);
        c.state.oom_killed = cgroup.oom_killed();
        cgroup.remove()?;
        code
    }

    /// Removes a container (`tug rm`); a running one only with `force` (SIGKILL first).
    pub fn remove_container(&self, name: &str, force: bool) -> crate::Result<Container> {
        let store = self.container_store();
        let id = store.resolve(name)?;
        let _lock = store.lock(&id)?;
        let c = store.load(&id)?;
        if is_running(&c) {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"{}\": container is running: stop the container before removing or force remove",
                    c.name
                ))
                .into());
            }
            let pid = Pid::from_raw(c.state.pid);
            let _ = kill(pid, Signal::SIGKILL);
            // A frozen (paused) process dies of SIGKILL only once thawed (cgroup v1).
            if c.state.paused {
                let _ = cgroups::open_for(self.root(), &c.id).and_then(|m| m.thaw());
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while kill(pid, None).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // The cgroup is gone when its supervisor cleaned up; if the supervisor died, here.
        let _ = cgroups::open_for(self.root(), &c.id).and_then(|m| m.remove());
        store.remove(&c)?;
        Ok(c)
    }

    /// Every container, as `inspect` shows them (for `ps` and the testkit).
    pub fn containers(&self) -> crate::Result<Vec<Container>> {
        let store = self.container_store();
        let mut out = Vec::new();
        for id in store.ids()? {
            match self.container(&id) {
                Ok(c) => out.push(c),
                // Removed while we looked.
                Err(crate::Error::Container(Error::NotFound(_))) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// The container `name` names (a name, an id or an id prefix), as `inspect` shows it.
    pub fn container(&self, name: &str) -> crate::Result<Container> {
        let store = self.container_store();
        let id = store.resolve(name)?;
        let mut c = store.load(&id)?;
        if c.state.running && !is_running(&c) {
            // Its supervisor died without writing the end: show it as exited.
            c.state.running = false;
            c.state.status = "exited".into();
            c.state.pid = 0;
            c.state.exit_code = 137;
            c.state.error = "the container's supervisor exited".into();
        }
        Ok(c)
    }
}

/// Whether the container's process is alive.
pub(crate) fn is_running(c: &Container) -> bool {
    c.state.running && c.state.pid > 0 && is_namespace_init(c.state.pid)
}

/// Whether `pid` is alive and the init (pid 1) of a pid namespace of its own: a pid the
/// kernel reused for an unrelated process is never taken for the container (and never
/// killed by `rm -f`).
fn is_namespace_init(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|ids| {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            ids.len() >= 2 && ids.last() == Some(&"1")
        })
        .unwrap_or(false)
}

/// Writes the record if the container still exists (a concurrent `rm -f` may have removed
/// it).
fn save_if_present(store: &ContainerStore, c: &Container) -> Result<(), Error> {
    let Ok(_lock) = store.lock(&c.id) else {
        return Ok(());
    };
    if !store.dir(&c.id).exists() {
        return Ok(());
    }
    store.save(c, !c.host_config.auto_remove)
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
            }))
        }
    }
}
