//! Images: references (`busybox` = `docker.io/library/busybox:latest`), the store (an OCI
//! image layout under `<root>/images`), import, save/load (docker-archive and oci-archive),
//! history and inspect.
//!
//! The store keeps blobs under `images/blobs/sha256/<hex>`, verified on read, and its tags
//! as `org.opencontainers.image.ref.name` annotations in `images/index.json`, so skopeo and
//! umoci read it as it is. An image's id is its config digest, as in Docker.

pub mod reference;
pub mod store;

pub use reference::Reference;
pub use store::{Image, LayerInfo, Store};

/// An error of the `image` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("invalid reference format: {0:?}: {1}")]
    InvalidReference(String, String),
    #[error("No such image: {0}")]
    NotFound(String),
}
