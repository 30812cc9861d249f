//! [`Image`]: what a module (a redis, a postgres...) says about its image, and
//! [`GenericImage`], any image by name.

use crate::wait::WaitFor;

/// An image and how to run it, as a module describes it. Every method but
/// [`Image::name`] and [`Image::tag`] has a default, so a module overrides only what
/// its image needs. A request ([`crate::ImageExt`]) adds to or overrides these.
pub trait Image {
    /// The repository (`busybox`, `redis`, `registry.example/app`).
    fn name(&self) -> &str;
    /// The tag (`latest`, `7`).
    fn tag(&self) -> &str;
    /// When the container counts as ready (all of them, in order); none: once it runs.
    fn ready_conditions(&self) -> Vec<WaitFor> {
        Vec::new()
    }
    /// `KEY`, `VALUE` pairs over the image's environment.
    fn env_vars(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The command (replaces the image's CMD); empty: the image's.
    fn cmd(&self) -> Vec<String> {
        Vec::new()
    }
    /// The entrypoint (replaces the image's); `None`: the image's.
    fn entrypoint(&self) -> Option<String> {
        None
    }
    /// Container ports to publish on free host ports.
    fn expose_ports(&self) -> Vec<u16> {
        Vec::new()
    }
}

/// Any image, by name and tag, with no knowledge of what it runs.
///
/// ```
/// use tug_testkit::{GenericImage, ImageExt, WaitFor};
///
/// let c = GenericImage::new("busybox", "latest")
///     .with_cmd(["sh", "-c", "echo ready; exec sleep 60"])
///     .with_network("none")
///     .with_wait_for(WaitFor::stdout("ready"))
///     .start()
///     .unwrap();
/// assert!(c.stdout_string().unwrap().contains("ready"));
/// ```
#[derive(Debug, Clone)]
pub struct GenericImage {
    name: String,
    tag: String,
    wait_for: Vec<WaitFor>,
    exposed: Vec<u16>,
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

    /// This image, with `port` published on a free host port by every request.
    pub fn with_exposed_port(mut self, port: u16) -> GenericImage {
        self.exposed.push(port);
        self
    }

    /// This image, with its entrypoint replaced.
    pub fn with_entrypoint(mut self, entrypoint: impl Into<String>) -> GenericImage {
        self.entrypoint = Some(entrypoint.into());
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
    fn expose_ports(&self) -> Vec<u16> {
        self.exposed.clone()
    }
    fn entrypoint(&self) -> Option<String> {
        self.entrypoint.clone()
    }
}

/// A mount of a container: a host path, a named volume, or a tmpfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub(crate) flag: MountFlag,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountFlag {
    /// `-v` syntax.
    Volume(String),
    /// `--tmpfs` syntax.
    Tmpfs(String),
}

impl Mount {
    /// The host path `host` at `target` (read-write).
    pub fn bind(host: impl AsRef<std::path::Path>, target: &str) -> Mount {
        Mount {
            flag: MountFlag::Volume(format!("{}:{target}", host.as_ref().display())),
        }
    }

    /// The named volume `name` (made if missing) at `target`.
    pub fn volume(name: &str, target: &str) -> Mount {
        Mount {
            flag: MountFlag::Volume(format!("{name}:{target}")),
        }
    }

    /// A fresh tmpfs at `target`.
    pub fn tmpfs(target: &str) -> Mount {
        Mount {
            flag: MountFlag::Tmpfs(target.to_string()),
        }
    }

    /// This mount, read-only (a tmpfs stays writable).
    pub fn read_only(mut self) -> Mount {
        if let MountFlag::Volume(v) = &mut self.flag {
            v.push_str(":ro");
        }
        self
    }

    pub(crate) fn spec(&self) -> crate::Result<tug::volume::MountSpec> {
        let r = match &self.flag {
            MountFlag::Volume(v) => tug::volume::parse_volume_flag(v),
            MountFlag::Tmpfs(t) => tug::volume::parse_tmpfs_flag(t),
        };
        r.map_err(|e| crate::Error::Invalid(tug::report(&e)))
    }
}
