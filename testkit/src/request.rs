//! [`ContainerRequest`]: an image plus everything a test asks of its container, built
//! with the `with_*` methods of [`ImageExt`], and started with [`ImageExt::start`].

use std::time::Duration;

use crate::client::Tug;
use crate::container::Container;
use crate::error::Result;
use crate::image::{Image, Mount};
use crate::wait::WaitFor;

/// How long a container may take to become ready unless the request says otherwise.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A file put into the container before it starts.
#[derive(Debug, Clone)]
pub(crate) struct CopyTo {
    pub(crate) path: String,
    pub(crate) data: Vec<u8>,
    pub(crate) mode: u32,
}

/// An image and what a test asks of its container.
#[derive(Debug, Clone)]
pub struct ContainerRequest<I: Image> {
    pub(crate) image: I,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) entrypoint: Option<String>,
    pub(crate) exposed: Vec<u16>,
    /// (host port, container port).
    pub(crate) mapped: Vec<(u16, u16)>,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) copies: Vec<CopyTo>,
    pub(crate) network: Option<String>,
    pub(crate) aliases: Vec<String>,
    pub(crate) name: Option<String>,
    pub(crate) hostname: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) workdir: Option<String>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) startup_timeout: Option<Duration>,
    pub(crate) wait_for: Vec<WaitFor>,
    pub(crate) healthcheck: Option<Vec<String>>,
    pub(crate) resources: tug::container::Resources,
}

impl<I: Image> From<I> for ContainerRequest<I> {
    fn from(image: I) -> ContainerRequest<I> {
        ContainerRequest {
            image,
            env: Vec::new(),
            cmd: None,
            entrypoint: None,
            exposed: Vec::new(),
            mapped: Vec::new(),
            mounts: Vec::new(),
            copies: Vec::new(),
            network: None,
            aliases: Vec::new(),
            name: None,
            hostname: None,
            user: None,
            workdir: None,
            labels: Vec::new(),
            startup_timeout: None,
            wait_for: Vec::new(),
            healthcheck: None,
            resources: Default::default(),
        }
    }
}

impl<I: Image> ContainerRequest<I> {
    /// The image.
    pub fn image(&self) -> &I {
        &self.image
    }

    /// `name:tag` of the image.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.image.name(), self.image.tag())
    }

    /// The wait strategies in force: the request's, else the image's.
    pub(crate) fn ready_conditions(&self) -> Vec<WaitFor> {
        if self.wait_for.is_empty() {
            self.image.ready_conditions()
        } else {
            self.wait_for.clone()
        }
    }

    /// The container ports published on free host ports: the image's and the request's.
    pub(crate) fn exposed_ports(&self) -> Vec<u16> {
        let mut ports = self.image.expose_ports();
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
/// [`ContainerRequest`]) and for a request. Names as in testcontainers.
///
/// ```
/// use std::time::Duration;
/// use tug_testkit::{GenericImage, ImageExt, Mount, WaitFor};
///
/// let c = GenericImage::new("busybox", "latest")
///     .with_entrypoint("sh")
///     .with_cmd(["-c", "cat /etc/greeting; echo $MODE; exec sleep 60"])
///     .with_env("MODE", "test")
///     .with_copy_to("/etc/greeting", b"hello\n".to_vec())
///     .with_mount(Mount::tmpfs("/scratch"))
///     .with_label("suite", "doc")
///     .with_network("none")
///     .with_memory_limit(64 << 20)
///     .with_startup_timeout(Duration::from_secs(10))
///     .with_wait_for(WaitFor::stdout("test"))
///     .start()
///     .unwrap();
/// assert_eq!(c.stdout_string().unwrap(), "hello\ntest\n");
/// ```
pub trait ImageExt<I: Image>: Sized {
    /// The request this builds on.
    fn into_request(self) -> ContainerRequest<I>;

    /// Sets `KEY=VALUE` in the container's environment.
    fn with_env(self, key: impl Into<String>, value: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.env.push((key.into(), value.into()));
        r
    }

    /// Replaces the image's CMD.
    fn with_cmd<S: Into<String>>(self, cmd: impl IntoIterator<Item = S>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.cmd = Some(cmd.into_iter().map(Into::into).collect());
        r
    }

    /// Replaces the image's entrypoint (`""` clears it).
    fn with_entrypoint(self, entrypoint: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.entrypoint = Some(entrypoint.into());
        r
    }

    /// Publishes container port `port` (tcp) on a free port of 127.0.0.1: see
    /// [`Container::host_port`]. Parallel tests never get the same host port.
    fn with_exposed_port(self, port: u16) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.exposed.push(port);
        r
    }

    /// Publishes container port `container` on host port `host` of 127.0.0.1 (the start
    /// fails if that port is taken).
    fn with_mapped_port(self, host: u16, container: u16) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.mapped.push((host, container));
        r
    }

    /// Adds a mount (a host path, a volume, a tmpfs).
    fn with_mount(self, mount: Mount) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.mounts.push(mount);
        r
    }

    /// Puts a file (mode 0644, parents made 0755) at the absolute `path` in the
    /// container before it starts.
    fn with_copy_to(
        self,
        path: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.copies.push(CopyTo {
            path: path.into(),
            data: data.into(),
            mode: 0o644,
        });
        r
    }

    /// Runs the container on network `network` (`bridge`, the default; `none`; `host`;
    /// a user network's name, as [`crate::Network::name`] gives it).
    fn with_network(self, network: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.network = Some(network.into());
        r
    }

    /// Another name the container has on its user network.
    fn with_network_alias(self, alias: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.aliases.push(alias.into());
        r
    }

    /// Names the container (names are unique per state root: parallel tests should
    /// leave this out, or make them unique).
    fn with_name(self, name: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.name = Some(name.into());
        r
    }

    /// Sets the container's hostname.
    fn with_hostname(self, hostname: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.hostname = Some(hostname.into());
        r
    }

    /// Runs the process as `user` (`name|uid[:group|gid]`).
    fn with_user(self, user: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.user = Some(user.into());
        r
    }

    /// Sets the working directory.
    fn with_working_dir(self, dir: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.workdir = Some(dir.into());
        r
    }

    /// Adds a label.
    fn with_label(self, key: impl Into<String>, value: impl Into<String>) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.labels.push((key.into(), value.into()));
        r
    }

    /// How long the wait strategies may take together (default 60 s).
    fn with_startup_timeout(self, timeout: Duration) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.startup_timeout = Some(timeout);
        r
    }

    /// Adds a wait strategy; the request's strategies replace the image's.
    fn with_wait_for(self, condition: WaitFor) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.wait_for.push(condition);
        r
    }

    /// The healthcheck command that [`WaitFor::healthy`] runs (instead of the image's
    /// `Healthcheck.Test`).
    fn with_healthcheck<S: Into<String>>(
        self,
        cmd: impl IntoIterator<Item = S>,
    ) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.healthcheck = Some(cmd.into_iter().map(Into::into).collect());
        r
    }

    /// The memory limit, in bytes (`--memory`).
    fn with_memory_limit(self, bytes: i64) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.resources.memory = bytes;
        r
    }

    /// The CPU limit, in CPUs (`--cpus`).
    fn with_cpus(self, cpus: f64) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.resources.nano_cpus = (cpus * 1e9) as i64;
        r
    }

    /// The most processes the container may have (`--pids-limit`).
    fn with_pids_limit(self, n: i64) -> ContainerRequest<I> {
        let mut r = self.into_request();
        r.resources.pids_limit = Some(n);
        r
    }

    /// Creates and starts the container on [`Tug::shared`], then waits until it is
    /// ready. On failure nothing is left behind, and the error shows the last log lines.
    fn start(self) -> Result<Container> {
        self.start_on(Tug::shared()?)
    }

    /// [`ImageExt::start`] on the given client.
    fn start_on(self, tug: &Tug) -> Result<Container> {
        crate::start::start(tug, self.into_request())
    }
}

impl<R: Into<ContainerRequest<I>>, I: Image> ImageExt<I> for R {
    fn into_request(self) -> ContainerRequest<I> {
        self.into()
    }
}
