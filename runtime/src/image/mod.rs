//! Images: references (`busybox` = `docker.io/library/busybox:latest`), the store (an OCI
//! image layout under `<root>/images`), import, save/load (docker-archive and oci-archive),
//! history and inspect.
//!
//! The store keeps blobs under `images/blobs/sha256/<hex>`, verified on read, and its tags
//! as annotations of the manifest descriptors in `images/index.json`, so skopeo and umoci
//! read it as it is. Both `org.opencontainers.image.ref.name` and containerd's
//! `io.containerd.image.name` hold the full normalised name
//! (`docker.io/library/busybox:latest`): a valid OCI ref name, so
//! `skopeo inspect oci:<root>/images:docker.io/library/busybox:latest` finds it. An image's
//! id is its config digest, as in Docker.

pub(crate) mod archive;
mod blobs;
pub(crate) mod busybox;
pub(crate) mod changes;
pub(crate) mod commit;
pub(crate) mod import;
mod index;
pub(crate) mod manifest;
pub(crate) mod prune;
pub(crate) mod reference;
pub(crate) mod remove;
pub(crate) mod store;
mod txn;
pub(crate) mod view;

pub use reference::Reference;
pub use store::{Image, LayerInfo, Store};

// The types of the Engine's image methods, one level deep (`tug::image::X`).
pub use archive::{ArchiveFormat, Loaded};
pub use busybox::BusyboxSource;
pub use import::{ImportOptions, MAX_CREATED, host_arch};
pub use remove::{ImageUser, RemoveEvent};
pub use view::{HistoryEntry, parse_time};

/// An error of the `image` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    #[error("invalid reference format: {0:?}: {1}")]
    InvalidReference(String, String),
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("{0:?} is ambiguous: it is a prefix of {1} image ids")]
    Ambiguous(String, usize),
    /// A blob, manifest, config or archive that cannot be read as what it should be.
    #[error("{0}")]
    Invalid(String),
    #[error("invalid --change '{0}': {1}")]
    Change(String, String),
    /// An operation refused, as Docker's "conflict" errors.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unpacking the layers")]
    Snapshot(#[from] crate::snapshot::Error),
    /// Finding which containers use an image failed (the Engine asks its containers).
    #[error("finding the containers that use images")]
    Users(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Media types the store reads and writes.
pub(crate) mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

    /// Whether `m` is an image manifest (OCI or Docker v2).
    pub fn is_manifest(m: &str) -> bool {
        m == OCI_MANIFEST || m == DOCKER_MANIFEST
    }

    /// Whether `m` is an index of manifests (OCI index or Docker manifest list).
    pub fn is_index(m: &str) -> bool {
        m == OCI_INDEX || m == DOCKER_LIST
    }
}

/// Annotation keys of the index.
pub(crate) mod annotation {
    /// The OCI tag annotation that skopeo and umoci read.
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    /// containerd's (and Docker 25's) full image name.
    pub const IMAGE_NAME: &str = "io.containerd.image.name";
    /// tug's: the digest the registry serves for the descriptor's name when it differs
    /// from the manifest's (the index a pull chose the platform manifest from).
    pub const REPO_DIGEST: &str = "io.tug.image.repo-digest";
}
