//! A container's root file system made from layer dirs (bottom first) and its own upper
//! and work dirs: an overlayfs mount (made by the container's init, in its own mount
//! namespace), or a full copy of the layers with their whiteouts applied (the `vfs`
//! driver). Below both `snapshot` (which unpacks the layer dirs) and `sandbox` (which
//! mounts the rootfs), so that neither imports the other.

mod copy;
mod overlay;

use std::path::{Path, PathBuf};

/// An error of the `rootfs` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    /// overlayfs refused the mount.
    #[error("mounting the overlay rootfs at {target}")]
    Mount {
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::Io(what.to_string(), e)
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
    /// namespace (the container's own, so the mount goes away with it). An image without
    /// layers gets an empty lower dir beside `work` (`<work>-empty`).
    pub fn mount_overlay(&self, target: &Path) -> Result<(), Error> {
        overlay::mount(self, target)
    }

    /// The `vfs` driver: copies the layers, bottom first and whiteouts applied, into
    /// `target` (done once, when the container is created).
    pub fn copy_into(&self, target: &Path) -> Result<(), Error> {
        copy::copy_layers(&self.lowers, target)
    }
}

/// Copies the content of the open dir `src` into the open dir `dst`, fd-relative and
/// never following a symlink, keeping owners, modes, xattrs and times (`dst` takes those
/// of `src`): how a new volume is filled with the image's content.
pub fn copy_dir_contents(
    src: std::os::fd::BorrowedFd<'_>,
    dst: std::os::fd::BorrowedFd<'_>,
) -> std::io::Result<()> {
    copy::copy_tree(src, dst)
}
