//! [`Registry`]: Debian's docker-registry (distribution's v2 registry), for push and pull
//! tests.

use super::ModuleImage;
use crate::buildable::GenericBuildableImage;
use crate::container::Container;
use crate::image::Image;
use crate::ports::{ContainerPort, IntoContainerPort};
use crate::wait::WaitFor;

const DOCKERFILE: &str = include_str!("../../../images/registry/Dockerfile");
const CONFIG: &[u8] = include_bytes!("../../../images/registry/config.yml");

/// The port the registry listens on in its container.
pub const REGISTRY_PORT: ContainerPort = ContainerPort::Tcp(5000);

/// A registry on a loopback port; tug (and Docker) push to a loopback registry over
/// plain HTTP without configuration.
#[derive(Debug, Clone)]
pub struct Registry {
    image: ModuleImage,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            image: ModuleImage::own("tug-registry", "2"),
        }
    }
}

impl Registry {
    /// Runs `name:tag` (the official `registry`, say) instead of tug's image.
    pub fn with_image(mut self, name: impl Into<String>, tag: impl Into<String>) -> Self {
        self.image.replace(name.into(), tag.into());
        self
    }
}

impl Image for Registry {
    fn name(&self) -> &str {
        &self.image.name
    }

    fn tag(&self) -> &str {
        &self.image.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::port(5000)]
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &[REGISTRY_PORT]
    }

    fn recipe(&self) -> Option<GenericBuildableImage> {
        self.image.recipe(DOCKERFILE, &[("config.yml", CONFIG)])
    }
}

impl Container<Registry> {
    /// `127.0.0.1:PORT`, the prefix of image names pushed to it.
    pub fn address(&self) -> String {
        let port = self.get_host_port_ipv4(5000.tcp()).unwrap_or(0);
        format!("127.0.0.1:{port}")
    }
}
