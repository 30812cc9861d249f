//! The volume step of the container's init, after the rootfs is mounted and before the
//! spec's mounts and pivot_root: makes the missing `-v` host dirs (as Docker does), and
//! fills each new, empty volume with the image's content at its destination (copy-up).
//! What to do comes from the spec's annotations (defined here, written by `volume::plan`);
//! the image side is resolved inside the rootfs, so a symlink in the image cannot point
//! the copy elsewhere.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag, open};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;

use super::mounts::{RootDir, relative};
use crate::sandbox::StepError;

/// The spec annotation listing (as a JSON array) the destinations whose new, empty
/// volume the init fills with the image's content first.
pub const COPY_UP_ANNOTATION: &str = "io.tug.volume.copy-up";
/// The spec annotation listing (as a JSON array) the `-v` host dirs the init makes when
/// missing, as Docker does.
pub const CREATE_SOURCE_ANNOTATION: &str = "io.tug.bind.create-source";

/// The JSON list in annotation `key`, empty when absent.
fn annotation_list(spec: &Spec, key: &str) -> Result<Vec<String>, StepError> {
    match spec.annotations().as_ref().and_then(|a| a.get(key)) {
        None => Ok(Vec::new()),
        Some(v) => {
            serde_json::from_str(v).map_err(|e| StepError::new(format!("annotation {key}"), e))
        }
    }
}

/// Makes the missing `-v` host dirs and copies the image's content into new volumes.
pub fn prepare(root: &RootDir, spec: &Spec) -> Result<(), StepError> {
    for src in annotation_list(spec, CREATE_SOURCE_ANNOTATION)? {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&src)
            .map_err(|e| StepError::new(format!("creating the host directory {src} for -v"), e))?;
    }
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    for dest in annotation_list(spec, COPY_UP_ANNOTATION)? {
        let Some(source) = mounts
            .iter()
            .find(|m| m.destination() == Path::new(&dest))
            .and_then(|m| m.source().clone())
        else {
            continue;
        };
        copy_up(root, Path::new(&dest), &source).map_err(|e| {
            StepError::new(
                format!(
                    "copying the image's {dest} into its volume {}",
                    source.display()
                ),
                e,
            )
        })?;
    }
    Ok(())
}

fn open_dir(p: &Path) -> nix::Result<OwnedFd> {
    open(
        p,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Copies the image's content at `dest` into the volume dir `data` if that is empty.
/// The volume's own dir is locked meanwhile, so that two containers starting at once
/// do not both fill it.
fn copy_up(root: &RootDir, dest: &Path, data: &Path) -> std::io::Result<()> {
    let volume_dir = data.parent().unwrap_or(Path::new("/"));
    let lock = Flock::lock(open_dir(volume_dir)?, FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))?;
    let dst = open_dir(data)?;
    if !is_empty(&dst)? {
        return Ok(());
    }
    let src = match root.open_dir(&relative(dest)) {
        Ok(fd) => fd,
        // Nothing there in the image (or not a dir): nothing to copy.
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    crate::rootfs::copy_dir_contents(src.as_fd(), dst.as_fd())?;
    drop(lock);
    Ok(())
}

fn is_empty(dir: &OwnedFd) -> std::io::Result<bool> {
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Makes the mount at `fd` (an O_PATH handle of its root) and every mount below it
/// read-only, as Docker does for a read-only bind mount on kernels with
/// mount_setattr(2) (5.12+). Returns `ENOSYS` on older kernels.
pub(super) fn read_only_recursive(fd: &OwnedFd) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    // struct mount_attr of <linux/mount.h>: attr_set, attr_clr, propagation, userns_fd.
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads `size_of::<MountAttr>()` bytes from `attr`, which lives
    // across the call; the path is a valid NUL-terminated empty string and `fd` is open.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}
