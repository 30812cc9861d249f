//! [`Image`]: what a module (a redis, a postgres...) says about its image, with
//! testcontainers' signatures, and [`GenericImage`], any image by name.

use std::borrow::Cow;

use crate::copy::CopyToContainer;
use crate::error::{Error, Result};
use crate::exec::ExecCommand;
use crate::mounts::Mount;
use crate::ports::{ContainerPort, Host, Ports};
use crate::wait::WaitFor;

/// An image and how to run it, as a module describes it. Every method but
/// [`Image::name`] and [`Image::tag`] has a default, so a module overrides only what its
/// image needs. A request ([`crate::ImageExt`]) adds to or overrides these.
pub trait Image: Sized + Send + Sync {
    /// The repository (`busybox`, `redis`, `registry.example/app`).
    fn name(&self) -> &str;
    /// The tag (`latest`, `7`).
    fn tag(&self) -> &str;
    /// When the container counts as ready (all of them, in order); none: once it runs.
    fn ready_conditions(&self) -> Vec<WaitFor> {
        Vec::new()
    }
    /// `KEY`, `VALUE` pairs over the image's environment.
    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        std::iter::empty::<(String, String)>()
    }
    /// Mounts of every container of the image.
    fn mounts(&self) -> impl IntoIterator<Item = &Mount> {
        std::iter::empty()
    }
    /// Files put into every container of the image before it starts.
    fn copy_to_sources(&self) -> impl IntoIterator<Item = &CopyToContainer> {
        std::iter::empty()
    }
    /// The entrypoint (replaces the image's); `None`: the image's.
    fn entrypoint(&self) -> Option<&str> {
        None
    }
    /// The command (replaces the image's CMD); empty: the image's.
    fn cmd(&self) -> impl IntoIterator<Item = impl Into<Cow<'_, str>>> {
        std::iter::empty::<String>()
    }
    /// Container ports to publish on free host ports.
    fn expose_ports(&self) -> &[ContainerPort] {
        &[]
    }
    /// Commands run once the container started, before its ready conditions are awaited
    /// again ([`ExecCommand::with_container_ready_conditions`]).
    fn exec_after_start(&self, cs: ContainerState) -> Result<Vec<ExecCommand>> {
        let _ = cs;
        Ok(Vec::new())
    }
    /// Commands run once the container started, before its ready conditions.
    fn exec_before_ready(&self, cs: ContainerState) -> Result<Vec<ExecCommand>> {
        let _ = cs;
        Ok(Vec::new())
    }
    /// tug: how to make the image when the store lacks it (a module's Dockerfile, built
    /// once and then taken from the build cache); `None`: it is pulled.
    fn recipe(&self) -> Option<crate::buildable::GenericBuildableImage> {
        None
    }
}

/// A started container as [`Image::exec_after_start`] sees it.
#[derive(Debug)]
pub struct ContainerState {
    pub(crate) id: String,
    pub(crate) ports: Ports,
}

impl ContainerState {
    pub fn host(&self) -> &Host {
        static LOOPBACK: Host = Host::Ipv4(std::net::Ipv4Addr::LOCALHOST);
        &LOOPBACK
    }

    pub fn host_port_ipv4(&self, internal_port: ContainerPort) -> Result<u16> {
        self.ports
            .map_to_host_port_ipv4(internal_port)
            .ok_or_else(|| Error::PortNotExposed {
                id: self.id.clone(),
                port: internal_port,
            })
    }

    pub fn host_port_ipv6(&self, internal_port: ContainerPort) -> Result<u16> {
        self.ports
            .map_to_host_port_ipv6(internal_port)
            .ok_or_else(|| Error::PortNotExposed {
                id: self.id.clone(),
                port: internal_port,
            })
    }
}

/// Any image, by name and tag, with no knowledge of what it runs.
///
/// ```
/// use tug_testkit::{GenericImage, ImageExt, core::WaitFor, runners::SyncRunner};
///
/// let c = GenericImage::new("busybox", "latest")
///     .with_wait_for(WaitFor::message_on_stdout("ready"))
///     .with_cmd(["sh", "-c", "echo ready; exec sleep 60"])
///     .with_network("none")
///     .start()
///     .unwrap();
/// assert!(c.stdout_string().unwrap().contains("ready"));
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct GenericImage {
    name: String,
    tag: String,
    wait_for: Vec<WaitFor>,
    exposed: Vec<ContainerPort>,
    entrypoint: Option<String>,
}

impl GenericImage {
    /// The image `name:tag`.
    pub fn new(name: impl Into<String>, tag: impl Into<String>) -> GenericImage {
        GenericImage {
            name: name.into(),
            tag: tag.into(),
            wait_for: Vec::new(),
            exposed: Vec::new(),
            entrypoint: None,
        }
    }

    /// This image, ready when `condition` holds (after the ones already given).
    pub fn with_wait_for(mut self, condition: WaitFor) -> GenericImage {
        self.wait_for.push(condition);
        self
    }

    /// This image, with `port` (`8080.tcp()`, or a bare number for tcp) published on a
    /// free host port by every request.
    pub fn with_exposed_port(mut self, port: impl Into<ContainerPort>) -> GenericImage {
        self.exposed.push(port.into());
        self
    }

    /// This image, with its entrypoint replaced.
    pub fn with_entrypoint(mut self, entrypoint: &str) -> GenericImage {
        self.entrypoint = Some(entrypoint.to_string());
        self
    }
}

impl Image for GenericImage {
    fn name(&self) -> &str {
        &self.name
    }
    fn tag(&self) -> &str {
        &self.tag
    }
    fn ready_conditions(&self) -> Vec<WaitFor> {
        self.wait_for.clone()
    }
    fn expose_ports(&self) -> &[ContainerPort] {
        &self.exposed
    }
    fn entrypoint(&self) -> Option<&str> {
        self.entrypoint.as_deref()
    }
}
