//! The container commands on the [`Engine`]: create, the lifecycle (run, start, attach,
//! stop, kill, wait, restart, rename, rm, prune, inspect), and those that work on its
//! cgroup: `pause`, `unpause` (the freezer) and `stats` (usage counters). The lifecycle's
//! work is the container module's (`container::Ctx`); the engine hands it its settings.

use std::time::Duration;

use crate::Engine;
use crate::container::{
    AttachOptions, Container, ContainerId, ContainerStats, ContainerStore, CreateOptions, Error,
};
use crate::sandbox::cgroups;

/// A container's shim forked ahead of its start ([`Engine::park_container_shim`]).
#[derive(Debug)]
pub struct ParkedShim(crate::shim::Parked);

impl Engine {
    /// The container store of this engine.
    pub(crate) fn container_store(&self) -> ContainerStore {
        self.cx().container_store()
    }

    /// Creates a container (`tug create`): resolves the image, applies Docker's override
    /// rules, writes the runtime spec and the metadata, and prepares the rootfs.
    pub fn create_container(&self, opts: &CreateOptions) -> crate::Result<Container> {
        Ok(self.cx().create_container(opts)?)
    }

    /// `tug update`: new limits and restart policy for container `name`, applied to its
    /// cgroup when it runs.
    pub fn update_container(
        &self,
        name: &str,
        opts: &crate::container::UpdateOptions,
    ) -> crate::Result<Container> {
        // SAFETY: sysconf only reads a system value.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        Ok(self.cx().update_container(name, opts, n.max(1) as usize)?)
    }

    /// `ps -s`: the sizes of containers `cs` as Docker's `SizeRw` (what the container
    /// wrote: its upper dir) and `SizeRootFs` (that plus its image), in the same order.
    pub fn container_sizes(&self, cs: &[Container]) -> crate::Result<Vec<(u64, u64)>> {
        let images = self.images()?;
        let store = self.container_store();
        Ok(cs
            .iter()
            .map(|c| {
                let image = images
                    .iter()
                    .find(|i| i.image.id.to_string() == c.image)
                    .map_or(0, |i| i.size);
                let rw = match c.graph_driver.data.get("UpperDir") {
                    Some(d) => crate::fsutil::dir_size(std::path::Path::new(d)),
                    // vfs: the copy holds the image too; what it wrote is the rest.
                    None => crate::fsutil::dir_size(&store.dir(&c.id).join("rootfs"))
                        .saturating_sub(image),
                };
                (rw, rw + image)
            })
            .collect())
    }

    /// The warnings Docker's create gives for `opts` on this host (limits its cgroups
    /// cannot apply, which the create discards).
    pub fn create_warnings(&self, opts: &CreateOptions) -> Vec<String> {
        // Bad values are the create's errors, not warnings.
        let Ok(mut r) = opts.resources.clone().validate(1 << 16) else {
            return Vec::new();
        };
        cgroups::discard_unsupported(&self.config().cgroup_root, &mut r)
    }

    /// `tug run` in the foreground: create, start through the shim attached, wait for the
    /// exit (the shim removes a `--rm` container). Returns the container's exit code.
    pub fn run_container(&self, opts: &CreateOptions, attach: AttachOptions) -> crate::Result<i32> {
        Ok(self.cx().run_container(opts, attach)?)
    }

    /// `tug run -d`: create and start; returns once the process runs.
    pub fn run_detached(&self, opts: &CreateOptions) -> crate::Result<Container> {
        Ok(self.cx().run_detached(opts)?)
    }

    /// `tug start -a`: starts a created or exited container attached, and waits for it.
    pub fn start_container(&self, name: &str, attach: AttachOptions) -> crate::Result<i32> {
        Ok(self.cx().start_container(name, attach)?)
    }

    /// `tug start`: starts a container in the background (a running one is left as it is).
    pub fn start_detached(&self, name: &str) -> crate::Result<Container> {
        Ok(self.cx().start_detached(name)?)
    }

    /// `tug attach`: attaches to a running container's output (and stdin) until it exits.
    pub fn attach_container(&self, name: &str, attach: AttachOptions) -> crate::Result<i32> {
        Ok(self.cx().attach_container(name, attach)?)
    }

    /// Starts container `name` (created or exited) through its shim and returns the
    /// shim's connection, for a caller that relays the stream itself (the Docker API's
    /// hijacked attach): read it with [`split_output`](crate::container::split_output)
    /// (the output when `output`, always the exit), write stdin to it when `stdin`. A
    /// running container is a conflict.
    /// `parked`: the shim [`Engine::park_container_shim`] forked for it, used while it
    /// is still there.
    pub fn start_container_stream(
        &self,
        name: &str,
        output: bool,
        stdin: bool,
        parked: Option<ParkedShim>,
    ) -> crate::Result<std::os::unix::net::UnixStream> {
        Ok(self
            .cx()
            .start_stream(name, output, stdin, parked.map(|p| p.0))?)
    }

    /// Forks container `id`'s shim ahead of its start, in a process that keeps a zygote
    /// of shims ([`Engine::keep_shim_zygote`]): a start given it
    /// ([`Engine::start_container_stream`]) goes without the fork and the shim's reading
    /// of its settings (about a millisecond). The shim makes nothing until then; it ends
    /// when the handle is dropped, or by itself after ten seconds. `None` without a
    /// zygote. For a server whose clients create and then start (the docker CLI,
    /// testcontainers).
    pub fn park_container_shim(&self, id: &str) -> Option<ParkedShim> {
        self.cx().park_shim(id).map(ParkedShim)
    }

    /// A connection attached to running container `name`'s output (and stdin when
    /// `stdin`), as [`Engine::start_container_stream`] gives one.
    pub fn attach_stream(
        &self,
        name: &str,
        stdin: bool,
    ) -> crate::Result<std::os::unix::net::UnixStream> {
        Ok(self.cx().attach_stream(name, stdin)?)
    }

    /// Records that a client attached to container `name` before its start (its
    /// `attach` event; [`Engine::attach_stream`] and `tug attach` record theirs), as the
    /// Docker API's attach that `docker run` sends first.
    pub fn note_attach(&self, name: &str) -> crate::Result<()> {
        Ok(self.cx().note_attach(name)?)
    }

    /// Sets the size of running container `name`'s terminal (a container with a TTY;
    /// without one it does nothing).
    pub fn resize_container(&self, name: &str, rows: u16, cols: u16) -> crate::Result<()> {
        Ok(self.cx().resize_tty(name, rows, cols)?)
    }

    /// `tug stop`: the stop signal (`signal`, else the image's StopSignal, else SIGTERM),
    /// then SIGKILL after `timeout`; no restart afterwards. A stopped container is left
    /// as it is.
    pub fn stop_container(
        &self,
        name: &str,
        timeout: Option<Duration>,
        signal: Option<&str>,
    ) -> crate::Result<Container> {
        Ok(self.cx().stop_container(name, timeout, signal)?)
    }

    /// `tug kill`: sends `signal` (default SIGKILL) to a running container's process.
    pub fn kill_container(&self, name: &str, signal: Option<&str>) -> crate::Result<Container> {
        Ok(self.cx().kill_container(name, signal)?)
    }

    /// Container `id` (a full id) once its state differs from `seen` (a start, an exit,
    /// a health change: whatever its shim writes), or as it is when `timeout` passes;
    /// `None` once it is removed. It wakes as the shim writes (inotify on the container's
    /// dir, set before the look, so no write is missed), not at a poll's tick.
    pub fn wait_container_update(
        &self,
        id: &str,
        seen: &crate::container::State,
        timeout: Duration,
    ) -> Option<Container> {
        use crate::container::state_watch::StateWatch;
        let same =
            |c: &Container| serde_json::to_value(&c.state).ok() == serde_json::to_value(seen).ok();
        let watch = StateWatch::new(&self.container_store().dir(id));
        let c = self.container(id).ok()?;
        if !same(&c) {
            return Some(c);
        }
        match watch {
            Some(w) => w.wait(timeout),
            None => std::thread::sleep(timeout.min(Duration::from_millis(20))),
        }
        self.container(id).ok()
    }

    /// Waits until container `id` (a full id) is removed (its dir gone, as the shim of an
    /// `--rm` container removes it), or `timeout` passes; whether it is gone.
    pub fn wait_container_removed(&self, id: &str, timeout: Duration) -> bool {
        use crate::container::state_watch::StateWatch;
        let dir = self.container_store().dir(id);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            // Watched before the look, so a removal after the look wakes the wait.
            let watch = StateWatch::new(&dir);
            if !dir.exists() {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            match watch {
                Some(w) => w.wait(left.min(Duration::from_millis(250))),
                None => std::thread::sleep(left.min(Duration::from_millis(20))),
            }
        }
    }

    /// `tug wait`: blocks until the container's process exits; its exit code.
    pub fn wait_container(&self, name: &str) -> crate::Result<i32> {
        Ok(self.cx().wait_container(name)?)
    }

    /// `tug restart`: stop (if running), then start in the background.
    pub fn restart_container(
        &self,
        name: &str,
        timeout: Option<Duration>,
    ) -> crate::Result<Container> {
        Ok(self.cx().restart_container(name, timeout)?)
    }

    /// `tug rename`.
    pub fn rename_container(&self, name: &str, new_name: &str) -> crate::Result<()> {
        Ok(self.cx().rename_container(name, new_name)?)
    }

    /// Removes a container (`tug rm`); a running one only with `force` (SIGKILL first).
    pub fn remove_container(&self, name: &str, force: bool) -> crate::Result<Container> {
        Ok(self.cx().remove_container(name, force)?)
    }

    /// `tug container prune`: removes every container that is not running and that `keep`
    /// lets go (the prune filters); their ids and the bytes their writable layers held.
    pub fn prune_containers(
        &self,
        keep: impl Fn(&Container) -> bool,
    ) -> crate::Result<(Vec<ContainerId>, u64)> {
        Ok(self.cx().prune_containers(keep)?)
    }

    /// Every container, as `inspect` shows them (for `ps` and the testkit), newest first.
    pub fn containers(&self) -> crate::Result<Vec<Container>> {
        Ok(self.cx().containers()?)
    }

    /// The container `name` names (a name, an id or an id prefix), as `inspect` shows it:
    /// a container whose shim died (killed, or a reboot) shows as exited, with the reason.
    pub fn container(&self, name: &str) -> crate::Result<Container> {
        Ok(self.cx().container(name)?)
    }

    /// `inspect`'s JSON for container `name`: its record with Docker's field names, and
    /// the fields Docker's daemon shows that tug keeps no state for, with the values
    /// Docker gives them on a host like this one (no AppArmor or SELinux labels, no
    /// IPv6, no realtime or Windows-only limits); the masked and read-only paths are those
    /// its spec got at the create.
    pub fn inspect_container(&self, name: &str) -> crate::Result<serde_json::Value> {
        use serde_json::{Value, json};
        let c = self.container(name)?;
        let mut v = serde_json::to_value(&c).map_err(|e| {
            crate::Error::Container(crate::container::Error::Invalid(format!(
                "container {}: {e}",
                c.id
            )))
        })?;
        // Docker's masked and read-only paths, as the spec has them: none for a
        // privileged container or one with `systempaths=unconfined`.
        let confined = !c.host_config.privileged
            && !crate::container::security::paths_unconfined(
                c.host_config.security_opt.as_deref().unwrap_or_default(),
            );
        let paths = |list: &[&str]| json!(if confined { list } else { &[][..] });
        // The terminal's size given at the create (`ConsoleSize`), kept in the spec: read
        // only for a container with a terminal (inspect is on a fixture's path).
        let console = c
            .config
            .tty
            .then(|| self.container_store().load_spec(&c.id).ok())
            .flatten()
            .and_then(|s| s.process().as_ref().and_then(|p| p.console_size()))
            .map_or(json!([0, 0]), |b| json!([b.height(), b.width()]));
        let fill = |obj: &mut Value, defaults: Value| {
            if let (Some(obj), Value::Object(d)) = (obj.as_object_mut(), defaults) {
                for (k, x) in d {
                    obj.entry(k).or_insert(x);
                }
            }
        };
        fill(
            &mut v,
            json!({ "AppArmorProfile": "", "MountLabel": "", "ProcessLabel": "", "ExecIDs": null }),
        );
        fill(
            &mut v["HostConfig"],
            json!({
                "Runtime": "tug",
                "UsernsMode": "",
                "Isolation": "",
                "Cgroup": "",
                "ContainerIDFile": "",
                "VolumeDriver": "",
                "ConsoleSize": console,
                "CpuCount": 0,
                "CpuPercent": 0,
                "CpuRealtimePeriod": 0,
                "CpuRealtimeRuntime": 0,
                "BlkioWeightDevice": [],
                "IOMaximumBandwidth": 0,
                "IOMaximumIOps": 0,
                "DeviceRequests": null,
                "MaskedPaths": paths(crate::container::spec::MASKED_PATHS),
                "ReadonlyPaths": paths(crate::container::spec::READONLY_PATHS),
            }),
        );
        // The default bridge's endpoint, mirrored at the top as Docker still does.
        let endpoint = c
            .network_settings
            .networks
            .get("bridge")
            .map(|e| e.endpoint_id.clone())
            .unwrap_or_default();
        fill(
            &mut v["NetworkSettings"],
            json!({
                "EndpointID": endpoint,
                "HairpinMode": false,
                "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0,
                "SecondaryIPAddresses": null,
                "SecondaryIPv6Addresses": null,
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "IPv6Gateway": "",
            }),
        );
        Ok(v)
    }

    /// The names (or short ids) of the containers created from image `id`, so that `rmi`
    /// can refuse to remove an image in use.
    pub fn containers_using_image(
        &self,
        id: &crate::Digest,
    ) -> Result<Vec<crate::image::ImageUser>, Error> {
        self.cx().containers_using_image(id)
    }
}

impl Engine {
    /// `tug pause`: freezes every process of a running container.
    pub fn pause_container(&self, name: &str) -> crate::Result<Container> {
        self.set_paused(name, true)
    }

    /// `tug unpause`: thaws a paused container.
    pub fn unpause_container(&self, name: &str) -> crate::Result<Container> {
        self.set_paused(name, false)
    }

    fn set_paused(&self, name: &str, pause: bool) -> crate::Result<Container> {
        let store = self.container_store();
        let id = store.resolve(name)?;
        let _lock = store.lock(&id)?;
        // `container` shows a container whose process died as exited.
        let mut c = self.container(&id)?;
        if !c.state.running {
            return Err(Error::Conflict(format!("Container {id} is not running")).into());
        }
        if pause && c.state.paused {
            return Err(Error::Conflict(format!("Container {id} is already paused")).into());
        }
        if !pause && !c.state.paused {
            return Err(Error::Conflict(format!("Container {id} is not paused")).into());
        }
        let cg = cgroups::open_for(
            &self.config().cgroup_root,
            self.root(),
            &id,
            &c.host_config.cgroup_parent,
        )?;
        let changed = if pause { cg.freeze() } else { cg.thaw() };
        if let Err(e) = changed {
            // The process exited between the record's look and the freezer: the shim
            // removes the cgroup before it records the exit. That is "not running", as
            // it would be a moment later, not a missing cgroup.
            if !process_exists(c.state.pid) {
                // Nothing is frozen any more: the record says so at once, not only when
                // the shim records the exit a moment later.
                if !pause {
                    c.state.set_paused(false);
                    let _ = store.save(&c, true);
                }
                return Err(Error::Conflict(format!("Container {id} is not running")).into());
            }
            return Err(e.into());
        }
        c.state.set_paused(pause);
        store.save(&c, true)?;
        let action = if pause { "pause" } else { "unpause" };
        crate::container::journal::emit(self.root(), &c, action, &[]);
        Ok(c)
    }

    /// `tug stats`: the usage of container `name` (zeros when it is not running).
    pub fn container_stats(&self, name: &str) -> crate::Result<ContainerStats> {
        let c = self.container(name)?;
        let (stats, net) = if c.state.running {
            let cg = cgroups::open_for(
                &self.config().cgroup_root,
                self.root(),
                &c.id,
                &c.host_config.cgroup_parent,
            )?;
            (Some(cg.stats()?), crate::container::net_io(c.state.pid))
        } else {
            (None, Default::default())
        };
        Ok(ContainerStats {
            container: c,
            stats,
            net,
        })
    }
}

impl Engine {
    /// Commits a container's changes as a new image: its image's layers plus one layer
    /// made from the container's writable layer (overlay whiteouts become OCI whiteouts),
    /// the container's config with `changes` applied, and a history entry.
    ///
    /// With `opts.pause`, a running container is paused for the commit and unpaused after
    /// it (its state shows `Paused` meanwhile, as Docker's); one paused before stays
    /// paused.
    pub fn commit_container(
        &self,
        name: &str,
        opts: &crate::container::ContainerCommit,
    ) -> crate::Result<crate::image::Image> {
        let pause_here = opts.pause && {
            let c = self.container(name)?;
            c.state.running && !c.state.paused
        };
        // The process may exit between the look and the freeze (`commit $(run -d sh -c
        // 'echo x > f')`): a container that is no longer running is committed unpaused,
        // as Docker commits a stopped one.
        let pause_here = pause_here
            && match self.pause_container(name) {
                Ok(_) => true,
                Err(crate::Error::Container(Error::Conflict(_))) => false,
                Err(_) if !self.container(name)?.state.running => false,
                Err(e) => return Err(e),
            };
        let committed = self.cx().commit_container(name, opts);
        if pause_here {
            let thawed = self.unpause_container(name);
            // The commit's error first; else a container left frozen is the news.
            let image = committed?;
            // A container that exited while frozen (killed) has nothing left to thaw.
            // So has one whose process went while the shim records its exit.
            if let Err(e) = thawed
                && !matches!(e, crate::Error::Container(Error::Conflict(_)))
                && self.container(name)?.state.running
            {
                return Err(e);
            }
            return Ok(image);
        }
        Ok(committed?)
    }

    /// Writes a container's changes as a layer into the image store's staging dir (a
    /// build's RUN step), every mtime after `clamp_mtime` written as `clamp_mtime`.
    pub fn stage_container_layer(
        &self,
        name: &str,
        clamp_mtime: Option<u64>,
    ) -> crate::Result<crate::image::commit::StagedLayer> {
        Ok(self.cx().stage_container_layer(name, clamp_mtime)?)
    }

    /// The changes of a container's file system against its image, as `docker diff`
    /// lists them.
    pub fn container_changes(&self, name: &str) -> crate::Result<Vec<crate::layer::Change>> {
        Ok(self.cx().container_changes(name)?)
    }

    /// Writes a container's whole file system as a tar (`docker export`): the running
    /// container's root as its processes see it, or a stopped one's rootfs mounted for
    /// the moment in a private mount namespace of a helper thread.
    pub fn export_container(
        &self,
        name: &str,
        out: impl std::io::Write + Send,
    ) -> crate::Result<()> {
        Ok(self.cx().export_container(name, out)?)
    }
}

/// Whether process `pid` exists (a zombie counts: its parent has not reaped it yet).
fn process_exists(pid: i32) -> bool {
    pid > 0
        && match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) => true,
            Err(e) => e != nix::errno::Errno::ESRCH,
        }
}
