//! A FUSE file system that never answers: every access to it (a `stat` of its root)
//! waits until it goes. It stands in for a hung NFS or FUSE mount under a `-v` source,
//! with nothing but the kernel's /dev/fuse (no FUSE program).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A hung mount; dropping it fails every waiting request and unmounts it.
pub struct HungFuse {
    path: PathBuf,
    fd: Option<OwnedFd>,
    _dir: Option<tempfile::TempDir>,
}

impl HungFuse {
    /// Mounts one on a new directory.
    pub fn mount() -> HungFuse {
        let dir = tempfile::Builder::new()
            .prefix("tug-hungfuse.")
            .tempdir()
            .unwrap();
        let mut h = HungFuse::mount_on(dir.path());
        h._dir = Some(dir);
        h
    }

    /// Mounts one over the directory `path` (which shows again once it goes).
    pub fn mount_on(path: &Path) -> HungFuse {
        let fd: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .expect("/dev/fuse")
            .into();
        let opts = format!(
            "fd={},rootmode=40000,user_id=0,group_id=0,allow_other",
            fd.as_raw_fd()
        );
        nix::mount::mount(
            Some("tug-hung"),
            path,
            Some("fuse"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .expect("mounting a FUSE file system");
        HungFuse {
            path: path.to_path_buf(),
            fd: Some(fd),
            _dir: None,
        }
    }

    /// Its path as a string.
    pub fn path_str(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for HungFuse {
    fn drop(&mut self) {
        // Closing the device aborts the connection: waiting requests fail (ENOTCONN).
        drop(self.fd.take());
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
    }
}
