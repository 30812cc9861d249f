//! The container's side of its shim: [`shim_main`] (`tug __shim <id>`) reads the
//! container's record once for the shim's [`Settings`], and [`ContainerShim`] does for
//! the shim what needs the container's record, spec, network and store: make and record
//! the process, take its network down, record restarts and the end, remove a `--rm`
//! container. The shim itself knows nothing of containers.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use oci_spec::runtime::LinuxNamespaceType;

use super::namespaces::{SHM_DIR, join_namespace};
use super::record::Container;
use super::{ContainerStore, Error, net};
use crate::container::{Ctx, OwnedCtx};
use crate::sandbox::{SandboxConfig, Stdio, cgroups};
use crate::shim::{self, Process, Settings, Supervised, log::Rotation, owner::Owner};

impl From<shim::Error> for Error {
    fn from(e: shim::Error) -> Error {
        match e {
            shim::Error::Io(what, e) => Error::Sys(what, e),
            shim::Error::Start(code, msg) => Error::Start(code, msg),
            shim::Error::Gone(id) => Error::NotFound(id),
            shim::Error::Invalid(msg) => Error::Invalid(msg),
        }
    }
}

/// A container error as the shim reports it: a gone record, else a failed start with
/// the error's exit code.
fn to_shim(e: Error) -> shim::Error {
    match e {
        Error::NotFound(id) => shim::Error::Gone(id),
        other => shim::Error::Start(other.exit_code(), crate::report(&other)),
    }
}

fn start_error(e: Error) -> shim::Error {
    shim::Error::Start(e.exit_code(), crate::report(&e))
}

impl Ctx<'_> {
    /// Starts the shim of container `id` (see `shim::spawn`), or the one `parked` for
    /// it (`shim::start_parked`) while that one is still there.
    pub(super) fn launch_shim(
        &self,
        id: &str,
        attach: shim::Attach,
        parked: Option<shim::Parked>,
    ) -> Result<(UnixStream, i32), Error> {
        let launch = self.shim_launch(id);
        if let Some(p) = parked
            && let Some(started) = shim::start_parked(p, attach, &launch)?
        {
            return Ok(started);
        }
        Ok(shim::spawn(&launch, attach, || shim_main(id))?)
    }

    /// Forks container `id`'s shim ahead of its start (see `shim::park`); `None` in a
    /// process without a zygote.
    pub(crate) fn park_shim(&self, id: &str) -> Option<shim::Parked> {
        shim::park(&self.shim_launch(id))
    }

    fn shim_launch<'a>(&'a self, id: &'a str) -> shim::Launch<'a> {
        shim::Launch {
            id,
            run_root: self.run_root(),
            env: self.config().to_env(),
            bin: self.tug_binary(),
            shim_log: self.container_store().dir(id).join(shim::SHIM_LOG),
        }
    }
}

/// The shim's entry point (`tug __shim <id>`, or the fork of a CLI): runs the shim of
/// container `id` until the container is done. Returns the exit code of the first
/// process (which exits at once).
pub fn shim_main(id: &str) -> i32 {
    match shim::daemonize() {
        Ok(true) => {}
        Ok(false) => return 0,
        Err(_) => return 125,
    }
    shim_body(id)
}

/// The shim's entry point in a process forked by the zygote, which is already a daemon
/// (a session of its own, reaped by the zygote): [`shim_main`] without its fork.
pub fn zygote_shim_main(id: &str) -> i32 {
    shim::name_process();
    shim_body(id)
}

/// The shim of container `id`, in its own process: runs until the container is done.
fn shim_body(id: &str) -> i32 {
    // Replaced state files are freed after each message to the clients (`broadcast`),
    // not on the way to it.
    crate::fsutil::defer_replaced(false);
    let cx = match crate::settings::EngineConfig::from_env() {
        Ok(config) => OwnedCtx::new(config),
        Err(_) => std::process::exit(125),
    };
    shim::log_errors_to(&cx.cx().container_store().dir(id).join(shim::SHIM_LOG));
    let first = shim::first_client();
    let code = match run_shim(&cx.cx(), id, first) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "{} tug shim {id}: {}",
                super::record::now(),
                crate::Report(&e)
            );
            1
        }
    };
    crate::fsutil::drop_replaced();
    std::process::exit(code)
}

fn run_shim(cx: &Ctx<'_>, id: &str, mut first: UnixStream) -> Result<(), Error> {
    let store = cx.container_store();
    let stamp = record_stamp(&store, id);
    let mut prepared = prepare(cx, &store, id)?;
    // A start sends its request at once; a server that parked this shim at the create
    // (`shim::park`) sends it at the start, or closes the connection: then nothing is
    // started (nothing was made).
    let Some(attach) = shim::read_attach(&mut first, shim::PARK_TIMEOUT) else {
        return Ok(());
    };
    // The record changed while the shim waited (a rename, an update, a network
    // connected): its settings are read again.
    if record_stamp(&store, id) != stamp {
        prepared = prepare(cx, &store, id)?;
    }
    let (settings, mut side) = prepared;
    Ok(shim::run(settings, &mut side, first, attach)?)
}

/// Which version of container `id`'s record is on disk: every write replaces the file.
fn record_stamp(store: &ContainerStore, id: &str) -> Option<(u64, i64, i64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(store.dir(id).join(super::store::RECORD)).ok()?;
    Some((m.ino(), m.mtime(), m.mtime_nsec(), m.len()))
}

/// The shim's settings and its container side, from container `id`'s record.
fn prepare(
    cx: &Ctx<'_>,
    store: &ContainerStore,
    id: &str,
) -> Result<(Settings, ContainerShim), Error> {
    let c = store.load(id)?;
    // Read here rather than in the first start: a parked shim has read it when the
    // start comes.
    let spec = store.load_spec(id)?;
    let dir = store.dir(id);
    let lc = &c.host_config.log_config;
    let rotation = match lc.kind.as_str() {
        // Docker's `local` driver keeps 5 files of 20 MB unless told otherwise.
        "local" if lc.config.is_empty() => Rotation {
            max_size: 20 << 20,
            max_files: 5,
        },
        _ => Rotation::from_opts(lc.config.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or(Rotation {
                max_size: 0,
                max_files: 1,
            }),
    };
    // `--log-driver none`: the output still reaches attached clients, but is not kept.
    let log = if lc.kind == "none" {
        PathBuf::from("/dev/null")
    } else {
        dir.join(format!("{id}-json.log"))
    };
    let settings = Settings {
        id: id.to_string(),
        run_dir: shim::run_dir(cx.run_root(), id),
        log,
        log_attrs: log_attrs(&c),
        rotation,
        owner: Owner::load(&dir),
        policy: c.host_config.restart_policy.clone(),
        stdin_once: c.config.stdin_once,
        // A check that cannot be set up leaves the container unmonitored, said in the
        // shim's log; the container itself runs.
        health: cx.health_settings(&c).unwrap_or_else(|e| {
            eprintln!(
                "{} tug shim {id}: the healthcheck: {}",
                super::record::now(),
                crate::Report(&e)
            );
            None
        }),
    };
    let mut side = ContainerShim {
        cx: cx.owned(),
        store: store.clone(),
        root: cx.root().to_path_buf(),
        id: id.to_string(),
        tty: c.config.tty,
        open_stdin: c.config.open_stdin,
        live: None,
        bridges: Vec::new(),
        trash: None,
        keep_volumes: false,
        left: Vec::new(),
        actors: Vec::new(),
        first: None,
    };
    side.first = Some((c, spec));
    Ok((settings, side))
}

/// The container a shim supervises.
struct ContainerShim {
    cx: OwnedCtx,
    store: ContainerStore,
    /// The state root (the container's cgroup path depends on it).
    root: PathBuf,
    id: String,
    tty: bool,
    open_stdin: bool,
    /// The running process's interfaces and host ports, undone when it exits.
    live: Option<net::LiveNetwork>,
    /// Bridges this container used: removed at the end when no one uses them.
    bridges: Vec<String>,
    /// The removed container's dir, moved out of the store, deleted last.
    trash: Option<PathBuf>,
    /// A client removes the container at its end, without its anonymous volumes.
    keep_volumes: bool,
    /// The networks its exited process left, for their `disconnect` events.
    left: Vec<String>,
    /// The networks its process joined, as their events name them (read once).
    actors: Vec<net::NetworkActor>,
    /// The record and the spec [`prepare`] read, for the first start (a restart reads
    /// them again).
    first: Option<(Container, oci_spec::runtime::Spec)>,
}

impl Supervised for ContainerShim {
    fn start(&mut self) -> Result<Process, shim::Error> {
        let (c, mut spec) = match self.first.take() {
            Some(read) => read,
            None => (
                self.store.load(&self.id).map_err(to_shim)?,
                self.store.load_spec(&self.id).map_err(to_shim)?,
            ),
        };
        if let Some(path) = net::joined_netns(&self.cx.cx(), &c).map_err(start_error)? {
            join_namespace(&mut spec, LinuxNamespaceType::Network, path).map_err(to_shim)?;
        }
        for (typ, mode, what) in [
            (LinuxNamespaceType::Pid, &c.host_config.pid_mode, "pid"),
            (LinuxNamespaceType::Ipc, &c.host_config.ipc_mode, "ipc"),
        ] {
            let Some(target) = mode.strip_prefix("container:") else {
                continue;
            };
            let t = self.cx.cx().container(target).map_err(start_error)?;
            if !t.state.running || t.state.pid <= 0 {
                return Err(start_error(Error::Conflict(format!(
                    "cannot join {} of a non running container: {}",
                    what.to_uppercase(),
                    t.id
                ))));
            }
            join_namespace(&mut spec, typ, format!("/proc/{}/ns/{what}", t.state.pid))
                .map_err(to_shim)?;
        }
        if c.host_config.ipc_mode == "shareable" {
            let dir = self.store.dir(&self.id).join(SHM_DIR);
            mount_shm(&dir, c.host_config.shm_size).map_err(start_error)?;
        }
        // A taken host port fails the start before anything is made.
        let reserved = net::reserve_ports(&c).map_err(start_error)?;
        let mut rootfs = super::rootfs_source(&c).map_err(to_shim)?;
        // A `--rm` container's writable layer goes when it ends, so nothing of it has to
        // survive a crash: its rootfs is mounted `volatile` (as Podman's is), and its end
        // does not sync the whole file system under the state root.
        if let crate::sandbox::RootfsSource::Overlay(r) = &mut rootfs {
            r.volatile = c.host_config.auto_remove;
        }
        // The zygote's spare network namespace (see `shim::zygote`), for a start that
        // makes one; this side sets the interfaces up in it by its fd, since the init
        // enters it only after the clone. Its veth pair, if it has one, becomes the
        // first network's: a container on none goes without such a spare.
        let (netns, mut premade) = match crate::sandbox::makes_netns(&spec)
            .then(|| shim::zygote::take_spare_netns(net::joins_networks(&c)))
            .flatten()
        {
            Some((ns, veth)) => (Some(std::sync::Arc::new(ns)), veth),
            None => (None, None),
        };
        let config = SandboxConfig {
            netns: netns.clone(),
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
            cgroup_root: self.cx.cx().config().cgroup_root.clone(),
        };
        let resources = c.host_config.resources.clone();
        let devices = config
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.devices().clone())
            .unwrap_or_default();
        let (mut sb, mut io) = match shim::create_with_pipes(&config, self.open_stdin) {
            Ok(v) => v,
            Err(e) => {
                self.unmount_shm();
                return Err(start_error(e.into()));
            }
        };
        let mnt_ns = shim::pin_mnt_ns(sb.pid());
        let sysctls = config
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.sysctl().clone())
            .unwrap_or_default();
        drop(config);
        // The init mounts the container's file systems while this side makes its cgroup
        // and its interfaces (its pid and namespaces exist from the clone on): a few
        // milliseconds of every start. Network sysctls (`--sysctl net.*`) are the
        // exception: the init writes them, and Docker's come after the interfaces
        // exist (`net.*.conf.default.*` must not reach eth0), so their network waits.
        let net_first = !sysctls.keys().any(|k| k.starts_with("net."));
        let (reserved_early, reserved_late) = if net_first {
            (reserved, Vec::new())
        } else {
            (Vec::new(), reserved)
        };
        // A step on the outside that fails may fail because the init already failed its
        // setup and is gone (with its namespaces): the init's error is then the one to
        // report (a refused mount says what and where; "no such file" of its netns does
        // not).
        let outside_failed =
            |sb: &mut crate::sandbox::Sandbox, io: &mut shim::ProcessIo, e: Error| {
                match shim::wait_ready(sb, io) {
                    Err(init) => start_error(init.into()),
                    Ok(()) => start_error(e),
                }
            };
        // The cgroup is made on a thread of its own while this one brings up the
        // network: each takes a millisecond or two, neither needs the other. Not before
        // the clone, although the cgroup needs no pid: the init is a raw clone() of this
        // process, and a thread running at that moment may hold the allocator's lock,
        // which the init would then wait for forever (tried: a start hung within the
        // first fifty).
        let cgroup_root = self.cx.cx().config().cgroup_root.clone();
        let pid = sb.pid();
        // The init does its cgroup steps as soon as it hears the cgroup is ready, while
        // this thread still brings up the network.
        let notice = sb.cgroup_ready_notice();
        let (cgroup, early) = std::thread::scope(|s| {
            let cgroup = s.spawn(|| {
                let made = cgroups::setup_for(
                    &cgroup_root,
                    &self.root,
                    &self.id,
                    &c.host_config.cgroup_parent,
                    &resources,
                    &devices,
                    pid,
                );
                if made.is_ok()
                    && let Some(n) = notice
                {
                    n.send();
                }
                made
            });
            let early = net_first.then(|| {
                let premade = premade.take();
                net::up(
                    &self.cx.cx(),
                    &c,
                    pid,
                    netns.as_deref(),
                    reserved_early,
                    premade,
                )
            });
            let cgroup = cgroup.join().unwrap_or_else(|_| {
                Err(cgroups::Error::Invalid(
                    "the cgroup's thread panicked".into(),
                ))
            });
            (cgroup, early)
        });
        let cgroup = match cgroup {
            Ok(cgroup) => cgroup,
            Err(e) => {
                if let Some(Ok(live)) = early {
                    self.net_down(live);
                }
                let e = outside_failed(&mut sb, &mut io, e.into());
                self.unmount_shm();
                return Err(e);
            }
        };
        let (early, later) = match early {
            Some(Ok(live)) => (Some(live), Vec::new()),
            Some(Err(e)) => {
                let e = outside_failed(&mut sb, &mut io, e);
                drop(sb);
                drop(cgroup);
                self.unmount_shm();
                return Err(e);
            }
            None => (None, reserved_late),
        };
        if let Err(e) = shim::wait_ready(&mut sb, &mut io) {
            drop(sb);
            if let Some(live) = early {
                self.net_down(live);
            }
            self.unmount_shm();
            return Err(start_error(e.into()));
        }
        let mut live = match early {
            Some(live) => live,
            None => net::up(
                &self.cx.cx(),
                &c,
                sb.pid(),
                netns.as_deref(),
                later,
                premade.take(),
            )
            .map_err(start_error)?,
        };
        if let Err(e) = crate::sandbox::sysctl::apply_interface_sysctls(sb.pid(), sysctls) {
            drop(sb);
            self.net_down(live);
            return Err(start_error(Error::Invalid(e)));
        }
        let ports = live.ports(&net::exposed_keys(&c));
        // A container alone on the default bridge keeps the hosts file `create` wrote;
        // one that names peers has its own (and theirs) rewritten before it runs.
        let names_peers = net::names_peers(&c);
        drop(c);
        let pid = sb.pid();
        // Otherwise the process execs while its record is written: the answer of the
        // exec is read after (a failed exec makes a failed start, as before).
        if !names_peers && let Err(e) = sb.release() {
            drop(sb);
            self.net_down(live);
            return Err(start_error(e.into()));
        }
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
                let (used, _) = net::down(&self.cx.cx(), &self.id, live);
                net::gc_bridges(&self.cx.cx(), &used);
                return Err(to_shim(
                    failed.err().unwrap_or(Error::NotFound(self.id.clone())),
                ));
            }
        };
        if names_peers {
            self.cx
                .cx()
                .refresh_hosts(live.networks(), Some((&self.id, true)));
            if let Err(e) = sb.release() {
                drop(sb);
                self.net_down(live);
                return Err(start_error(e.into()));
            }
        }
        if let Err(e) = sb.started() {
            drop(sb);
            self.net_down(live);
            return Err(start_error(e.into()));
        }
        // Docker's order: each network's `connect`, then the container's `start`.
        self.actors = live.actors().to_vec();
        for a in &self.actors {
            self.network_event("connect", a);
        }
        super::journal::emit(&self.root, &updated, "start", &[]);
        let dns = live.take_dns();
        let proxy = live.take_proxy();
        self.live = Some(live);
        Ok(Process::new(sb, cgroup, io)
            .with_service(dns)
            .with_proxy(proxy)
            .with_mnt_ns(mnt_ns))
    }

    fn stopped(&mut self, oom_killed: bool) {
        if oom_killed
            && let Ok(Some(c)) = self.store.update(&self.id, |c| c.state.oom_killed = true)
        {
            super::journal::emit(&self.root, &c, "oom", &[]);
        }
        self.unmount_shm();
        if let Some(live) = self.live.take() {
            // Their `disconnect`s follow the container's `die` (see `left`).
            self.left = self.net_down(live);
        }
    }

    fn restart_count(&self) -> u32 {
        self.store
            .load(&self.id)
            .map(|c| c.restart_count)
            .unwrap_or(0)
    }

    fn restarting(&mut self, code: i32) -> bool {
        let updated = self.store.update(&self.id, |c| {
            c.state.set_restarting(code);
            clear_network_state(c);
        });
        match updated {
            Ok(Some(c)) => {
                super::journal::emit(&self.root, &c, "die", &[("exitCode", code.to_string())]);
                self.disconnect_events();
                true
            }
            _ => false,
        }
    }

    fn restart_begins(&mut self) {
        let _ = self.store.update(&self.id, |c| c.restart_count += 1);
    }

    fn restart_failed(&mut self, error: &str) {
        let _ = self
            .store
            .update(&self.id, |c| c.state.error = error.to_string());
    }

    fn ended(&mut self, code: i32, error: Option<&str>, exited: bool, remove: bool) {
        // A `--rm` container stopped by `restart` is kept (the mark), as Docker keeps it.
        let auto_remove = self
            .store
            .load(&self.id)
            .map(|c| c.host_config.auto_remove)
            .unwrap_or(false)
            && !super::store::manual_restart_under_way(&self.store.dir(&self.id));
        if auto_remove || remove {
            if let Ok(_lock) = self.store.lock(&self.id)
                && let Ok(c) = self.store.load(&self.id)
            {
                if exited {
                    super::journal::emit(&self.root, &c, "die", &[("exitCode", code.to_string())]);
                }
                self.disconnect_events();
                // The dir leaves the store at once; its files are deleted once the
                // clients heard of the end (`shim_exits`).
                if let Ok(moved) = self.store.remove_deferred(&c) {
                    self.trash = moved;
                }
                super::journal::emit(&self.root, &c, "destroy", &[]);
                self.cx.cx().release_networks(&c);
                // `--rm` (and its owner's death) takes the container's anonymous
                // volumes with it, as Docker does; `rm -f` without `-v` does not.
                if auto_remove || !self.keep_volumes {
                    let _ = self.cx.cx().remove_anonymous_volumes(&c.mounts);
                }
            }
            return;
        }
        let updated = self.store.update(&self.id, |c| {
            clear_network_state(c);
            c.state.set_exited(code, error, exited);
        });
        if exited && let Ok(Some(c)) = updated {
            super::journal::emit(&self.root, &c, "die", &[("exitCode", code.to_string())]);
        }
        self.disconnect_events();
    }

    fn restart_policy(&self) -> Option<shim::RestartPolicy> {
        self.store
            .load(&self.id)
            .ok()
            .map(|c| c.host_config.restart_policy)
    }

    fn exec_event(&mut self, exec_id: &str, action: &str, exit_code: Option<i32>) {
        if let Ok(c) = self.store.load(&self.id) {
            let mut attrs = vec![("execID", exec_id.to_string())];
            attrs.extend(exit_code.map(|code| ("exitCode", code.to_string())));
            super::journal::emit(&self.root, &c, action, &attrs);
        }
    }

    fn start_dns(&mut self, pid: i32) -> Result<Option<Box<dyn shim::Service>>, String> {
        let c = self.store.load(&self.id).map_err(|e| crate::report(&e))?;
        net::serve_dns(&self.cx.cx(), &c, pid).map_err(|e| crate::report(&e))
    }

    fn removal_keeps_volumes(&mut self) {
        self.keep_volumes = true;
    }

    fn shim_exits(&mut self) {
        if let Some(moved) = self.trash.take() {
            super::store::purge(&moved);
        }
        // The bridges this container leaves unused can go.
        net::gc_bridges(&self.cx.cx(), &self.bridges);
    }
}

impl ContainerShim {
    /// Unmounts a shareable /dev/shm (lazily: a joiner may still hold it).
    fn unmount_shm(&self) {
        let dir = self.store.dir(&self.id).join(SHM_DIR);
        let _ = nix::mount::umount2(&dir, nix::mount::MntFlags::MNT_DETACH);
    }

    /// The process is gone: its ports and interfaces go, its names leave the hosts files
    /// of its networks, and the record shows no host port.
    fn net_down(&mut self, live: net::LiveNetwork) -> Vec<String> {
        let (bridges, networks) = net::down(&self.cx.cx(), &self.id, live);
        for b in bridges {
            if !self.bridges.contains(&b) {
                self.bridges.push(b);
            }
        }
        // The record's ports and sandbox key are cleared with the state change that
        // follows (see `clear_network_state`), in the same write.
        if !networks.is_empty() {
            self.cx
                .cx()
                .refresh_hosts(&networks, Some((&self.id, false)));
        }
        networks
    }

    /// A network event of this container (`connect`, `disconnect`) on `actor`, with
    /// Docker's attributes.
    fn network_event(&self, action: &str, actor: &net::NetworkActor) {
        let attrs = [
            ("container".to_string(), self.id.clone()),
            ("name".to_string(), actor.name.clone()),
            ("type".to_string(), actor.driver.clone()),
        ];
        crate::events::emit(&self.root, "network", action, &actor.id, attrs.into());
    }

    /// The `disconnect`s of the networks the exited process left (once): those it joined
    /// at its start as read then, one connected while it ran read now.
    fn disconnect_events(&mut self) {
        let store = self.cx.cx().network_store();
        for name in std::mem::take(&mut self.left) {
            let actor = match self.actors.iter().find(|a| a.name == name) {
                Some(a) => a.clone(),
                None => match store.get(&name) {
                    Ok(n) => net::NetworkActor {
                        name: n.name,
                        id: n.id,
                        driver: n.driver,
                    },
                    Err(_) => continue,
                },
            };
            self.network_event("disconnect", &actor);
        }
    }
}

/// What a stopped container's record shows of its network: no host ports (Docker
/// clears them, so `ps -a` shows no PORTS) and no sandbox.
fn clear_network_state(c: &mut Container) {
    c.network_settings.ports.clear();
    c.network_settings.sandbox_key.clear();
}

/// The attributes of each log entry: the labels and environment variables that
/// `--log-opt labels=a,b` and `env=C,D` name, when the container has them.
fn log_attrs(c: &Container) -> std::collections::BTreeMap<String, String> {
    let mut attrs = std::collections::BTreeMap::new();
    let opt = |k: &str| {
        c.host_config
            .log_config
            .config
            .get(k)
            .map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    for k in opt("labels") {
        if let Some(v) = c.config.labels.get(&k) {
            attrs.insert(k, v.clone());
        }
    }
    for k in opt("env") {
        let prefix = format!("{k}=");
        if let Some(v) = c.config.env.iter().find_map(|e| e.strip_prefix(&prefix)) {
            attrs.insert(k, v.to_string());
        }
    }
    attrs
}

/// Mounts a shareable container's /dev/shm on the host (a tmpfs of `size` bytes at
/// `dir`), for it and its `--ipc container:` joiners to bind-mount.
fn mount_shm(dir: &std::path::Path, size: i64) -> Result<(), Error> {
    use nix::mount::{MsFlags, mount};
    let _ = std::fs::create_dir(dir);
    let size = if size > 0 {
        size
    } else {
        crate::container::spec::DEFAULT_SHM_SIZE as i64
    };
    mount(
        Some("shm"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(format!("mode=1777,size={size}").as_str()),
    )
    .map_err(|e| Error::Sys(format!("mounting /dev/shm at {}", dir.display()), e.into()))
}
