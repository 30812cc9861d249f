//! [`ContainerRequest`]: an image plus everything a test asks of its container, built with
//! the `with_*` methods of [`ImageExt`] (testcontainers' names and meanings, plus tug's
//! extras), and started with [`crate::runners::SyncRunner::start`].

use std::sync::Arc;
use std::time::Duration;

use crate::copy::{CopyDataSource, CopyTargetOptions, CopyToContainer};
use crate::image::Image;
use crate::logs::LogConsumer;
use crate::mounts::Mount;
use crate::ports::ContainerPort;
use crate::wait::WaitFor;

pub use tug::container::Healthcheck;

/// How long a container may take to become ready unless the request says otherwise.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether a container outlives its handle and is found again by later starts of the
/// same request (testcontainers' `with_reuse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReuseDirective {
    /// A new container each start, removed when dropped.
    #[default]
    Never,
    /// Kept running after the test process ends; a later start of the same request (by
    /// any process) reuses it.
    Always,
    /// Kept running while this process lives; later starts of the same request in it
    /// reuse it.
    CurrentSession,
    /// tug: kept running while the test run lives, and shared by all its tests: under
    /// `cargo nextest` (a process per test), every process of the run, until nextest
    /// ends; under `cargo test`, the test binary's threads, until it ends. Also when the
    /// run or the binary is killed: the container's shim removes it. See
    /// [`ImageExt::shared`].
    TestRun,
}

impl From<bool> for ReuseDirective {
    /// `true`: [`ReuseDirective::Always`]; `false`: [`ReuseDirective::Never`].
    fn from(reuse: bool) -> ReuseDirective {
        if reuse {
            ReuseDirective::Always
        } else {
            ReuseDirective::Never
        }
    }
}

impl ReuseDirective {
    /// The directive of a request that does not say: [`ReuseDirective::Always`] when
    /// `TUG_REUSE` is `1` or `true` (opt-in reuse across runs for a whole suite), else
    /// [`ReuseDirective::Never`].
    pub fn from_env() -> ReuseDirective {
        match std::env::var("TUG_REUSE").as_deref() {
            Ok("1" | "true") => ReuseDirective::Always,
            _ => ReuseDirective::Never,
        }
    }
}

/// When the image of a request is pulled (tug; Docker's `--pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Pulled when it is not in the store (a module's own image: built).
    #[default]
    Missing,
    /// Pulled on every start, so a moving tag is fresh (a module's own image and
    /// `busybox`, which are made locally, are made when missing, as with `Missing`).
    Always,
    /// Never pulled nor built: a missing image is an error.
    Never,
}

/// A process resource limit (`--ulimit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: Option<i64>,
}

/// The log consumers of a request.
#[derive(Clone, Default)]
pub(crate) struct Consumers(pub(crate) Vec<Arc<dyn LogConsumer>>);

impl std::fmt::Debug for Consumers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} log consumers", self.0.len())
    }
}

/// An image and what a test asks of its container.
#[derive(Debug, Clone)]
pub struct ContainerRequest<I: Image> {
    pub(crate) image: I,
    pub(crate) image_name: Option<String>,
    pub(crate) image_tag: Option<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) entrypoint: Option<String>,
    pub(crate) exposed: Vec<ContainerPort>,
    /// (host port, container port).
    pub(crate) mapped: Vec<(u16, ContainerPort)>,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) copies: Vec<CopyToContainer>,
    pub(crate) network: Option<String>,
    pub(crate) aliases: Vec<String>,
    pub(crate) container_name: Option<String>,
    pub(crate) hostname: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) workdir: Option<String>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) startup_timeout: Option<Duration>,
    pub(crate) ready_conditions: Option<Vec<WaitFor>>,
    pub(crate) health_check: Option<Healthcheck>,
    pub(crate) resources: tug::container::Resources,
    pub(crate) privileged: bool,
    pub(crate) cap_add: Vec<String>,
    pub(crate) cap_drop: Vec<String>,
    pub(crate) readonly_rootfs: bool,
    pub(crate) security_opts: Vec<String>,
    pub(crate) ulimits: Vec<Ulimit>,
    pub(crate) shm_size: Option<u64>,
    pub(crate) log_consumers: Consumers,
    /// `None`: [`ReuseDirective::from_env`].
    pub(crate) reuse: Option<ReuseDirective>,
    pub(crate) pull: PullPolicy,
    /// Set by [`ImageExt::with_spare`]: starts this request's next spare.
    pub(crate) spare: Option<SpareLauncher<I>>,
}

/// Starts (in the background) the spare of a request under a key: made for an image type
/// that is `Clone + 'static`, where [`ImageExt::with_spare`] is called.
pub(crate) type SpareLauncher<I> =
    fn(&crate::Tug, &ContainerRequest<I>, String) -> Box<dyn FnOnce() + Send>;

impl<I: Image> From<I> for ContainerRequest<I> {
    fn from(image: I) -> ContainerRequest<I> {
        ContainerRequest {
            image,
            image_name: None,
            image_tag: None,
            env: Vec::new(),
            cmd: None,
            entrypoint: None,
            exposed: Vec::new(),
            mapped: Vec::new(),
            mounts: Vec::new(),
            copies: Vec::new(),
            network: None,
            aliases: Vec::new(),
            container_name: None,
            hostname: None,
            user: None,
            workdir: None,
            labels: Vec::new(),
            startup_timeout: None,
            ready_conditions: None,
            health_check: None,
            resources: Default::default(),
            privileged: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            readonly_rootfs: false,
            security_opts: Vec::new(),
            ulimits: Vec::new(),
            shm_size: None,
            log_consumers: Consumers::default(),
            reuse: None,
            pull: PullPolicy::Missing,
            spare: None,
        }
    }
}

impl<I: Image> ContainerRequest<I> {
    /// The image.
    pub fn image(&self) -> &I {
        &self.image
    }

    /// `name:tag` of the image (the request's name and tag over the image's).
    pub fn descriptor(&self) -> String {
        let name = self.image_name.as_deref().unwrap_or(self.image.name());
        let tag = self.image_tag.as_deref().unwrap_or(self.image.tag());
        format!("{name}:{tag}")
    }

    /// The wait strategies in force: the request's, else the image's.
    pub(crate) fn ready_conditions(&self) -> Vec<WaitFor> {
        match &self.ready_conditions {
            Some(c) => c.clone(),
            None => self.image.ready_conditions(),
        }
    }

    /// The container ports published on free host ports: the image's and the request's.
    pub(crate) fn exposed_ports(&self) -> Vec<ContainerPort> {
        let mut ports = self.image.expose_ports().to_vec();
        for p in &self.exposed {
            if !ports.contains(p) {
                ports.push(*p);
            }
        }
        ports.retain(|p| !self.mapped.iter().any(|(_, c)| c == p));
        ports
    }
}

/// The builder methods of a request, for an [`Image`] (which they turn into a
/// [`ContainerRequest`]) and for a request: testcontainers' names and meanings, and
/// tug's extras (resource limits, network aliases, exposed ports and waits on requests).
///
/// ```
/// use std::time::Duration;
/// use tug_testkit::core::{Mount, WaitFor};
/// use tug_testkit::{GenericImage, ImageExt, runners::SyncRunner};
///
/// let c = GenericImage::new("busybox", "latest")
///     .with_entrypoint("sh")
///     .with_cmd(["-c", "cat /etc/greeting; echo $MODE; exec sleep 60"])
///     .with_env_var("MODE", "test")
///     .with_copy_to("/etc/greeting", b"hello\n".to_vec())
///     .with_mount(Mount::tmpfs_mount("/scratch"))
///     .with_label("suite", "doc")
///     .with_network("none")
///     .with_memory_limit(64 << 20)
///     .with_startup_timeout(Duration::from_secs(10))
///     .with_wait_for(WaitFor::message_on_stdout("test"))
///     .start()
///     .unwrap();
/// assert_eq!(c.stdout_string().unwrap(), "hello\ntest\n");
/// ```
pub trait ImageExt<I: Image>: Sized {
    /// The request this builds on.
    fn into_request(self) -> ContainerRequest<I>;

    /// Replaces the image's CMD.
    fn with_cmd(self, cmd: impl IntoIterator<Item = impl Into<String>>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.cmd = Some(cmd.into_iter().map(Into::into).collect());
        r
    }

    /// Runs another image name (repository) than the image's, with its tag.
    fn with_name(self, name: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.image_name = Some(name.into());
        r
    }

    /// Runs another tag of the image.
    fn with_tag(self, tag: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.image_tag = Some(tag.into());
        r
    }

    /// Names the container (names are unique per state root: parallel tests should
    /// leave this out, or make them unique).
    fn with_container_name(self, name: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.container_name = Some(name.into());
        r
    }

    /// Runs the container on network `network`: `bridge` (the default), `none`, `host`,
    /// or a user network by name, made if missing (and removed with the last container
    /// the testkit put on it), so that containers on it reach each other by name.
    fn with_network(self, network: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.network = Some(network.into());
        r
    }

    /// Adds a label.
    fn with_label(self, key: impl Into<String>, value: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.labels.push((key.into(), value.into()));
        r
    }

    /// Adds labels.
    fn with_labels(
        self,
        labels: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.labels
            .extend(labels.into_iter().map(|(k, v)| (k.into(), v.into())));
        r
    }

    /// Sets `name=value` in the container's environment.
    fn with_env_var(
        self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.env.push((name.into(), value.into()));
        r
    }

    /// Sets the container's hostname.
    fn with_hostname(self, hostname: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.hostname = Some(hostname.into());
        r
    }

    /// Adds a mount (a host path, a volume, a tmpfs).
    fn with_mount(self, mount: impl Into<Mount>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.mounts.push(mount.into());
        r
    }

    /// Puts a file at the absolute path `target` in the container before it starts, from
    /// bytes (mode 0644) or a host file (its mode); parents are made (0755).
    fn with_copy_to(
        self,
        target: impl Into<CopyTargetOptions>,
        source: impl Into<CopyDataSource>,
    ) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.copies.push(CopyToContainer::new(source, target));
        r
    }

    /// Publishes container port `container_port` on host port `host_port` of 127.0.0.1
    /// (the start fails if that port is taken).
    fn with_mapped_port(
        self,
        host_port: u16,
        container_port: impl Into<ContainerPort>,
    ) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.mapped.push((host_port, container_port.into()));
        r
    }

    /// A resource limit of the container's processes (`nofile`, `nproc`...; `--ulimit`);
    /// the hard limit is the soft one when `None`.
    fn with_ulimit(self, name: &str, soft: i64, hard: Option<i64>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.ulimits.push(Ulimit {
            name: name.into(),
            soft,
            hard,
        });
        r
    }

    /// Every capability, every device, no seccomp profile (`--privileged`).
    fn with_privileged(self, privileged: bool) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.privileged = privileged;
        r
    }

    /// Adds a capability (`NET_ADMIN`).
    fn with_cap_add(self, capability: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.cap_add.push(capability.into());
        r
    }

    /// Drops a capability.
    fn with_cap_drop(self, capability: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.cap_drop.push(capability.into());
        r
    }

    /// The size of `/dev/shm`, in bytes (`--shm-size`; default 64 MiB).
    fn with_shm_size(self, bytes: u64) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.shm_size = Some(bytes);
        r
    }

    /// How long the wait strategies may take together (default 60 s).
    fn with_startup_timeout(self, timeout: Duration) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.startup_timeout = Some(timeout);
        r
    }

    /// Sets the working directory.
    fn with_working_dir(self, working_dir: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.workdir = Some(working_dir.into());
        r
    }

    /// Hands every line the container writes to `log_consumer`, from its start until it
    /// exits.
    fn with_log_consumer(self, log_consumer: impl LogConsumer + 'static) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.log_consumers.0.push(Arc::new(log_consumer));
        r
    }

    /// Whether the container outlives its handle, to be reused (see [`ReuseDirective`];
    /// `true` is [`ReuseDirective::Always`]). A kept container has the label
    /// `tug.testkit.reuse-hash`: `tug ps --filter label=tug.testkit.reuse-hash` lists
    /// them, [`crate::Tug::remove_kept`] removes them.
    fn with_reuse(self, reuse: impl Into<ReuseDirective>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.reuse = Some(reuse.into());
        r
    }

    /// tug: keeps a warm spare of this request. Once its container is ready, a second
    /// one of the same request is started and made ready in the background; the next
    /// start of the same request in this process takes it at once (a new container that
    /// no test had before, with its own host ports) and starts the next spare. A suite
    /// whose tests each start the same fixture waits for the first one only, as long as
    /// a test takes longer than a start. The price: one more container running while
    /// the process lives (its shim removes it when the process ends, killed or not).
    ///
    /// Not for requests with fixed host ports, a container name, a network or reuse
    /// (two containers could not share those); there it does nothing.
    fn with_spare(self, spare: bool) -> ContainerRequest<I>
    where
        I: Clone + 'static,
    {
        let mut r = self.into_request();
        r.spare = spare.then_some(crate::start::launch_spare::<I> as SpareLauncher<I>);
        r
    }

    /// tug: one container for the whole test run ([`ReuseDirective::TestRun`]): every
    /// start of the same request, in any test (thread or process) of the run, gets the
    /// same container, started once (processes take turns through a lock file under the
    /// run root) and removed when the run ends, killed or not.
    ///
    /// ```
    /// use tug_testkit::{GenericImage, ImageExt, runners::SyncRunner};
    ///
    /// let req = GenericImage::new("busybox", "latest")
    ///     .with_cmd(["sleep", "600"])
    ///     .with_network("none")
    ///     .shared();
    /// let a = req.clone().start().unwrap();
    /// let b = req.start().unwrap();
    /// assert_eq!(a.id(), b.id());
    /// ```
    fn shared(self) -> ContainerRequest<I> {
        self.with_reuse(ReuseDirective::TestRun)
    }

    /// tug: when the image is pulled ([`PullPolicy`]; default: when missing).
    fn with_pull_policy(self, policy: PullPolicy) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.pull = policy;
        r
    }

    /// Runs the process as `user` (`name|uid[:group|gid]`).
    fn with_user(self, user: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.user = Some(user.into());
        r
    }

    /// Mounts the root file system read-only.
    fn with_readonly_rootfs(self, readonly_rootfs: bool) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.readonly_rootfs = readonly_rootfs;
        r
    }

    /// A `--security-opt` (`no-new-privileges`, `seccomp=unconfined`...).
    fn with_security_opt(self, security_opt: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.security_opts.push(security_opt.into());
        r
    }

    /// Replaces the wait strategies (the image's and those given before).
    fn with_ready_conditions(self, ready_conditions: Vec<WaitFor>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.ready_conditions = Some(ready_conditions);
        r
    }

    /// The container's healthcheck (Docker's `--health-*`): set settings replace the
    /// image's `HEALTHCHECK`'s, one by one; its shim runs it, and [`WaitFor::healthcheck`]
    /// waits for it to pass.
    fn with_health_check(self, health_check: Healthcheck) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.health_check = Some(health_check);
        r
    }

    /// tug: replaces the image's entrypoint (`""` clears it).
    fn with_entrypoint(self, entrypoint: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.entrypoint = Some(entrypoint.into());
        r
    }

    /// tug: publishes container port `port` (`8080.tcp()`, or a bare number) on a free
    /// port of 127.0.0.1: see [`crate::Container::get_host_port_ipv4`]. Parallel tests
    /// never get the same host port.
    fn with_exposed_port(self, port: impl Into<ContainerPort>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.exposed.push(port.into());
        r
    }

    /// tug: adds a wait strategy (after the image's, or those given before).
    fn with_wait_for(self, condition: WaitFor) -> ContainerRequest<I> {
        let mut r = self.into_request();
        let mut all = r.ready_conditions();
        all.push(condition);
        r.ready_conditions = Some(all);
        r
    }

    /// tug: another name the container has on its user network.
    fn with_network_alias(self, alias: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.aliases.push(alias.into());
        r
    }

    /// tug: the memory limit, in bytes (`--memory`).
    fn with_memory_limit(self, bytes: i64) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.resources.memory = bytes;
        r
    }

    /// tug: the CPU limit, in CPUs (`--cpus`).
    fn with_cpus(self, cpus: f64) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.resources.nano_cpus = (cpus * 1e9) as i64;
        r
    }

    /// tug: the most processes the container may have (`--pids-limit`).
    fn with_pids_limit(self, n: i64) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.resources.pids_limit = Some(n);
        r
    }
}

impl<R: Into<ContainerRequest<I>>, I: Image> ImageExt<I> for R {
    fn into_request(self) -> ContainerRequest<I> {
        self.into()
    }
}
