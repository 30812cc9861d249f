//! The image store: an OCI image layout under `<root>/images`.

use std::path::PathBuf;

use crate::{Digest, Engine};

use super::{Error, Reference};

/// One layer of an image: the blob as stored and the digest of its uncompressed tar.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    /// The digest of the blob (compressed as stored).
    pub digest: Digest,
    /// The digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// The blob's media type.
    pub media_type: String,
}

/// An image in the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// The image id: the digest of its config blob.
    pub id: Digest,
    /// The digest of its manifest.
    pub manifest_digest: Digest,
    /// The image configuration (ENV, CMD, history, rootfs...).
    pub config: oci_spec::image::ImageConfiguration,
    /// The layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// The references that name this image.
    pub names: Vec<Reference>,
}

/// A handle on the store; cheap to make, holds no open files.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store of `<root>/images`, created if missing.
    pub fn open(root: &std::path::Path) -> Result<Store, Error> {
        Ok(Store {
            dir: root.join("images"),
        })
    }

    /// The image that `name` names: a reference, an id, or an unambiguous id prefix.
    pub fn resolve(&self, name: &str) -> Result<Image, Error> {
        let _ = (&self.dir, name);
        todo!("image helper")
    }

    /// Opens a blob for reading. The reader verifies the content against `digest` as it
    /// is read: at the end of the blob it fails with `io::ErrorKind::InvalidData` if the
    /// bytes do not match, so a corrupt blob is never taken for good.
    pub fn open_blob(&self, digest: &Digest) -> Result<Box<dyn std::io::Read + Send>, Error> {
        let _ = digest;
        todo!("image helper")
    }
}

impl Engine {
    /// The image store of this engine.
    pub fn image_store(&self) -> Result<Store, Error> {
        Store::open(self.root())
    }
}
