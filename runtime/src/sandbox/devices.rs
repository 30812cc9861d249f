//! The container's minimal /dev, on the fresh tmpfs: Docker's default device nodes and
//! the usual symlinks.

use std::path::Path;

use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use nix::unistd::{Gid, Uid, symlinkat};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::mounts::RootDir;
use crate::sandbox::StepError;

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
pub fn populate(root: &RootDir) -> Result<(), StepError> {
    let dev = root
        .mkdir_all(Path::new("dev"), 0o755)
        .map_err(|e| StepError::new("opening /dev", e))?;
    for (name, major, minor) in DEVICES {
        mknodat(
            &dev,
            *name,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        )
        .map_err(|e| StepError::new(format!("mknod /dev/{name}"), e))?;
    }
    for (name, target) in LINKS {
        // As runc: /dev/core only where the kernel has a /proc/kcore (this runs before
        // the pivot_root, so /proc is the host's, of the same kernel).
        if *name == "core" && !Path::new(target).exists() {
            continue;
        }
        match symlinkat(*target, &dev, *name) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(StepError::new(format!("symlink /dev/{name}"), e)),
        }
    }
    Ok(())
}

/// Makes the spec's `linux.devices` (`--device`, and every host device with
/// `--privileged`) inside the root: parents as needed, an existing node replaced.
pub fn create_spec_devices(root: &RootDir, devices: &[LinuxDevice]) -> Result<(), StepError> {
    for d in devices {
        let rel = super::mounts::relative(d.path());
        let shown = d.path().display();
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(StepError::msg(format!(
                "device {shown}: not a path below /"
            )));
        };
        let dir = root
            .mkdir_all(parent, 0o755)
            .map_err(|e| StepError::new(format!("device {shown}"), e))?;
        let kind = match d.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => return Err(StepError::msg(format!("device {shown}: no type"))),
        };
        let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        mknodat(
            &dir,
            name,
            kind,
            Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666)),
            makedev(d.major() as u64, d.minor() as u64),
        )
        .map_err(|e| StepError::new(format!("mknod {shown}"), e))?;
        nix::unistd::fchownat(
            &dir,
            name,
            d.uid().map(Uid::from_raw),
            d.gid().map(Gid::from_raw),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| StepError::new(format!("chown {shown}"), e))?;
    }
    Ok(())
}
