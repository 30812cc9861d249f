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
    /// Mount with overlayfs's `volatile` option: no sync of the upper file system at the
    /// unmount, nor at each copy-up or fsync inside. For a rootfs that nothing needs
    /// after a crash: a `--rm` container's (as Podman does), a build's scratch. A later
    /// mount of the same dirs clears the mark the kernel leaves for this in the work dir.
    pub volatile: bool,
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

/// Runs `f` with the overlay `r` mounted at a temporary dir beside `r.work`, in a thread
/// that has its own mount namespace (unshared from the process's), so the mount is never
/// visible on the host and vanishes with the thread even if `f` panics. For `export` and
/// `cp` of a stopped container, and the build steps that write a layer without a
/// container (COPY, ADD).
pub fn with_mounted<T: Send>(r: &Rootfs, f: impl FnOnce(&Path) -> T + Send) -> Result<T, Error> {
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T, Error> {
            // unshare(2) with CLONE_FS gives this thread its own root/cwd, which the kernel
            // requires before a thread of a multi-threaded process can take a new mount
            // namespace; nothing else in the process changes.
            nix::sched::unshare(
                nix::sched::CloneFlags::CLONE_FS | nix::sched::CloneFlags::CLONE_NEWNS,
            )
            .map_err(|e| io_err("unshare a mount namespace", e.into()))?;
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| io_err("make mounts private", e.into()))?;
            let target = MountDir(fresh_dir_beside(&r.work)?);
            r.mount_overlay(&target.0).map(|_| f(&target.0))
        })
        .join()
        .unwrap_or_else(|_| {
            Err(io_err(
                "the thread that mounted the rootfs",
                std::io::Error::other("panicked"),
            ))
        })
    })
}

/// The mount point of [`with_mounted`]: unmounted and removed when dropped, also when
/// the callback panics.
struct MountDir(PathBuf);

impl Drop for MountDir {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A fresh empty dir beside `work` (on the same file system as the rootfs's dirs).
fn fresh_dir_beside(work: &Path) -> Result<PathBuf, Error> {
    let mut rnd = [0u8; 6];
    crate::fsutil::random_bytes(&mut rnd);
    let dir = work.with_file_name(format!("mnt-{}", crate::digest::to_hex(&rnd)));
    std::fs::create_dir(&dir).map_err(|e| io_err(dir.display(), e))?;
    Ok(dir)
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
