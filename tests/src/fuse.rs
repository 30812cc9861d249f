//! A FUSE file system that never answers: every access to it (a `stat` of its root)
//! waits until it goes. It stands in for a hung NFS or FUSE mount under a `-v` source,
//! with nothing but the kernel's /dev/fuse (no FUSE program).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// A hung mount; dropping it fails every waiting request and unmounts it.
pub struct HungFuse {
    dir: tempfile::TempDir,
    fd: Option<OwnedFd>,
}

impl HungFuse {
    /// Mounts one on a new directory.
    pub fn mount() -> HungFuse {
        let dir = tempfile::Builder::new()
            .prefix("tug-hungfuse.")
            .tempdir()
            .unwrap();
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
            dir.path(),
            Some("fuse"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .expect("mounting a FUSE file system");
        HungFuse { dir, fd: Some(fd) }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its path as a string.
    pub fn path_str(&self) -> String {
        self.dir.path().display().to_string()
    }
}

impl Drop for HungFuse {
    fn drop(&mut self) {
        // Closing the device aborts the connection: waiting requests fail (ENOTCONN).
        drop(self.fd.take());
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}
