//! The container's minimal /dev, on the fresh tmpfs: Docker's default device nodes and
//! the usual symlinks.

use std::path::Path;

use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use nix::unistd::symlinkat;

use super::mounts::RootDir;

/// The device nodes every container gets: (name, major, minor), all mode 0666.
pub const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The symlinks of /dev: (name, target).
pub const LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];

/// Creates the nodes and links in the rootfs's /dev (a tmpfs just mounted, so empty).
pub fn populate(root: &RootDir) -> Result<(), String> {
    let dev = root
        .mkdir_all(Path::new("dev"), 0o755)
        .map_err(|e| format!("opening /dev: {e}"))?;
    for (name, major, minor) in DEVICES {
        mknodat(
            &dev,
            *name,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        )
        .map_err(|e| format!("mknod /dev/{name}: {e}"))?;
    }
    for (name, target) in LINKS {
        match symlinkat(*target, &dev, *name) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(format!("symlink /dev/{name}: {e}")),
        }
    }
    Ok(())
}
