//! [`Redis`]: Debian's redis-server, as the official image runs it.

use std::borrow::Cow;

use super::ModuleImage;
use crate::buildable::GenericBuildableImage;
use crate::container::Container;
use crate::image::Image;
use crate::ports::{ContainerPort, IntoContainerPort};
use crate::wait::WaitFor;

const DOCKERFILE: &str = include_str!("../../../images/redis/Dockerfile");
const ENTRYPOINT: &[u8] = include_bytes!("../../../images/redis/docker-entrypoint.sh");

/// The port Redis listens on in its container.
pub const REDIS_PORT: ContainerPort = ContainerPort::Tcp(6379);

/// A Redis server (7, Debian's), no persistence, ready once it listens.
#[derive(Debug, Clone)]
pub struct Redis {
    image: ModuleImage,
    args: Option<String>,
}

impl Default for Redis {
    fn default() -> Self {
        Redis {
            image: ModuleImage::own("tug-redis", "7"),
            args: None,
        }
    }
}

impl Redis {
    /// Runs `name:tag` (the official `redis`, say) instead of tug's image.
    pub fn with_image(mut self, name: impl Into<String>, tag: impl Into<String>) -> Self {
        self.image.replace(name.into(), tag.into());
        self
    }

    /// More arguments for redis-server (`REDIS_ARGS`, e.g. `--maxmemory 10mb`).
    pub fn with_args(mut self, args: impl Into<String>) -> Self {
        self.args = Some(args.into());
        self
    }
}

impl Image for Redis {
    fn name(&self) -> &str {
        &self.image.name
    }

    fn tag(&self) -> &str {
        &self.image.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::port(6379)]
    }

    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        self.args.iter().map(|a| ("REDIS_ARGS", a.as_str()))
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &[REDIS_PORT]
    }

    fn recipe(&self) -> Option<GenericBuildableImage> {
        self.image
            .recipe(DOCKERFILE, &[("docker-entrypoint.sh", ENTRYPOINT)])
    }
}

impl Container<Redis> {
    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let port = self.get_host_port_ipv4(6379.tcp()).unwrap_or(0);
        format!("redis://127.0.0.1:{port}")
    }
}
