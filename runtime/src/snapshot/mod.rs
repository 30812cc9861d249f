//! Snapshots: each layer unpacked once into `<root>/snapshots/<chain-id>/`, shared by every
//! image that has it; and a container's rootfs from them: an overlayfs of the layer dirs
//! plus the container's upper/work, or a full copy (the `vfs` driver).

use std::path::{Path, PathBuf};

use crate::Digest;
use crate::image::{Image, LayerInfo, Store};

/// An error of the `snapshot` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

/// The chain ids of a layer stack, bottom first: `chain(0) = diff(0)`,
/// `chain(n) = sha256(chain(n-1) + " " + diff(n))`, as the OCI image spec defines them.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The snapshots of a state root.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
}

impl Snapshots {
    /// The snapshots under `<root>/snapshots`.
    pub fn open(root: &Path) -> Result<Snapshots, Error> {
        Ok(Snapshots {
            dir: root.join("snapshots"),
        })
    }

    /// Makes sure every layer of `image` is unpacked, and returns the layer dirs, bottom
    /// first (reverse them for overlayfs's lowerdir, which lists the top first).
    pub fn ensure(&self, store: &Store, image: &Image) -> Result<Vec<PathBuf>, Error> {
        self.ensure_layers(store, &image.layers)
    }

    /// Makes sure each of `layers` (bottom first) is unpacked, applying the missing ones
    /// from the store's blobs, and returns the layer dirs, bottom first. Safe to call from
    /// many processes at once: a layer is unpacked into a temporary dir and renamed into
    /// place. A hostile or corrupt layer fails with an error and leaves nothing behind.
    pub fn ensure_layers(
        &self,
        store: &Store,
        layers: &[LayerInfo],
    ) -> Result<Vec<PathBuf>, Error> {
        let _ = (&self.dir, store, layers);
        todo!("snapshot helper")
    }

    /// Removes every snapshot whose chain id is not in `keep` (the chain ids of the images
    /// still in the store).
    pub fn retain(&self, keep: &std::collections::HashSet<Digest>) -> Result<(), Error> {
        let _ = keep;
        todo!("snapshot helper")
    }
}

/// A container's rootfs: the layer dirs and the container's own upper and work dirs.
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// The layer dirs, bottom first.
    pub lowers: Vec<PathBuf>,
    /// The container's writable layer.
    pub upper: PathBuf,
    /// overlayfs's work dir (same file system as `upper`).
    pub work: PathBuf,
}

impl Rootfs {
    /// Mounts the rootfs at `target` as an overlayfs, in the calling process's mount
    /// namespace (the container's own, so the mount goes away with it).
    pub fn mount_overlay(&self, target: &Path) -> Result<(), Error> {
        let _ = target;
        todo!("snapshot helper")
    }

    /// The `vfs` driver: copies the layers, bottom first and whiteouts applied, into
    /// `target` (done once, when the container is created).
    pub fn copy_into(&self, target: &Path) -> Result<(), Error> {
        let _ = target;
        todo!("snapshot helper")
    }
}
