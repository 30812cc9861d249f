//! The running binary, sealed (CVE-2019-5736): a process that enters a container runs
//! from a file that cannot be written, so that a container that tricks it into executing
//! itself again (`#!/proc/self/exe`) and then reopens `/proc/PID/exe` for writing gets
//! EROFS instead of the host's `tug`. As runc 1.2 does, the binary is seen through a
//! read-only overlayfs mount that is never attached to any path (the new mount API:
//! fsopen, fsmount), which costs no copy and shares the page cache; where overlayfs
//! cannot be had, a sealed memfd copy does the same. Every process that enters a container
//! (the init and each exec) is a clone of a shim, which runs from this sealed view, or is
//! a fork of a CLI whose binary [`exe_is_protected`] already.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sandbox::StepError;

fn last_err(what: &str) -> StepError {
    StepError::new(what, std::io::Error::last_os_error())
}

fn check(r: libc::c_long, what: &str) -> Result<libc::c_long, StepError> {
    if r < 0 { Err(last_err(what)) } else { Ok(r) }
}

/// An empty directory for overlayfs's second lower layer (it needs two without an upper
/// one): `<run root>/empty`, or `$TMPDIR/tug-empty` when that one lies inside the
/// binary's directory `exe_dir` (a binary in /tmp with its run root under /tmp):
/// overlayfs refuses a layer inside another (ELOOP), and the start would fall back to a
/// memfd copy of the whole binary.
fn empty_dir(run_root: &Path, exe_dir: &Path) -> Result<PathBuf, StepError> {
    let exe_dir = std::fs::canonicalize(exe_dir).unwrap_or_else(|_| exe_dir.to_path_buf());
    let candidates = [
        run_root.join("empty"),
        std::env::temp_dir().join("tug-empty"),
    ];
    let mut last = None;
    for d in candidates {
        std::fs::create_dir_all(&d)
            .map_err(|e| StepError::new(format!("creating {}", d.display()), e))?;
        let real = std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone());
        if !real.starts_with(&exe_dir) && !exe_dir.starts_with(&real) {
            return Ok(real);
        }
        last = Some(real);
    }
    // Both overlap (a binary in `/`): overlayfs will refuse, and the memfd copy is used.
    Ok(last.unwrap_or_default())
}

/// `exe` seen through a detached read-only overlay of its directory: an O_PATH fd.
fn overlay_seal(exe: &Path, run_root: &Path) -> Result<OwnedFd, StepError> {
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(StepError::msg(format!(
            "{} has no directory",
            exe.display()
        )));
    };
    // overlayfs splits lowerdir on ':' and takes '\' as an escape.
    let esc = |p: &Path| {
        p.display()
            .to_string()
            .replace('\\', "\\\\")
            .replace(':', "\\:")
    };
    let lower = format!("{}:{}", esc(dir), esc(&empty_dir(run_root, dir)?));
    let c =
        |s: &str| CString::new(s).map_err(|_| StepError::msg(format!("{s:?} holds a NUL byte")));
    // SAFETY: each call passes valid NUL-terminated strings that outlive it and plain
    // integers; the fds returned are new and owned here.
    unsafe {
        let fs = check(
            libc::syscall(
                libc::SYS_fsopen,
                c"overlay".as_ptr(),
                1, /* FSOPEN_CLOEXEC */
            ),
            "fsopen overlay",
        )?;
        let fs = OwnedFd::from_raw_fd(fs as RawFd);
        let (key, value) = (c("lowerdir")?, c(&lower)?);
        // FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6.
        check(
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                1,
                key.as_ptr(),
                value.as_ptr(),
                0,
            ),
            "overlay lowerdir",
        )?;
        check(
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                6,
                std::ptr::null::<u8>(),
                std::ptr::null::<u8>(),
                0,
            ),
            "creating the overlay",
        )?;
        // FSMOUNT_CLOEXEC = 1; MOUNT_ATTR_RDONLY | NOSUID | NODEV = 0x1 | 0x2 | 0x4.
        let mnt = check(
            libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), 1, 0x7),
            "fsmount",
        )?;
        let mnt = OwnedFd::from_raw_fd(mnt as RawFd);
        let name =
            CString::new(name.as_bytes()).map_err(|_| StepError::msg("a NUL in the name"))?;
        let f = check(
            libc::openat(
                mnt.as_raw_fd(),
                name.as_ptr(),
                libc::O_PATH | libc::O_CLOEXEC,
            ) as libc::c_long,
            "opening the sealed binary",
        )?;
        Ok(OwnedFd::from_raw_fd(f as RawFd))
    }
}

/// A sealed memfd copy of `exe` (the fallback: costs a copy of the binary).
fn memfd_seal(exe: &Path) -> Result<OwnedFd, StepError> {
    let mut src =
        std::fs::File::open(exe).map_err(|e| StepError::new(exe.display().to_string(), e))?;
    // SAFETY: memfd_create takes a NUL-terminated name and flags; it returns a new fd.
    let fd =
        unsafe { libc::memfd_create(c"tug".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(last_err("memfd_create"));
    }
    // SAFETY: the fd is new and owned here.
    let mem = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut dst = &mem;
    std::io::copy(&mut src, &mut dst).map_err(|e| StepError::new("copying the binary", e))?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own fd with integer arguments.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(last_err("sealing the memfd"));
    }
    Ok(mem.into())
}

/// A sealed fd of `exe`: the overlay view, else a memfd copy.
pub fn seal(exe: &Path, run_root: &Path) -> Result<OwnedFd, StepError> {
    overlay_seal(exe, run_root).or_else(|e| {
        memfd_seal(exe)
            .map_err(|e2| StepError::msg(format!("{}; {}", crate::report(&e), crate::report(&e2))))
    })
}

/// Whether this process's binary cannot be written through `/proc/self/exe`: it runs
/// from a read-only mount (the sealed overlay, or a binary installed on one), from a
/// write-sealed memfd, or from an immutable file (`chattr +i`: changing that flag needs
/// CAP_LINUX_IMMUTABLE, which no container has unless given it).
pub fn exe_is_protected() -> bool {
    use nix::sys::statvfs::{FsFlags, statvfs};
    if statvfs("/proc/self/exe").is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
        return true;
    }
    std::fs::File::open("/proc/self/exe").is_ok_and(|f| {
        // SAFETY: fcntl(F_GET_SEALS) on our own fd; it only reads.
        let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
        if seals > 0 && seals & libc::F_SEAL_WRITE != 0 {
            return true;
        }
        const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
        const FS_IMMUTABLE_FL: libc::c_long = 0x10;
        let mut flags: libc::c_long = 0;
        // SAFETY: FS_IOC_GETFLAGS writes one long into `flags`, which outlives the call.
        let r = unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_GETFLAGS, &mut flags) };
        r == 0 && flags & FS_IMMUTABLE_FL != 0
    })
}

/// A command that runs `bin` from its sealed view (`/proc/self/fd/N` of the fd, which
/// must stay open until the command is spawned), named `tug` in `argv[0]`.
pub fn sealed_command(fd: &OwnedFd) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    cmd.arg0("tug");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &[u8] = b"#!/bin/sh\necho sealed\n";

    /// A small "binary" in a dir of its own (kept while the TempDir lives); None, and
    /// the test skipped, without root (overlayfs and the new mount API need it).
    fn test_binary() -> Option<(tempfile::TempDir, PathBuf)> {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("bin");
        std::fs::write(&exe, SCRIPT).unwrap();
        Some((dir, exe))
    }

    #[test]
    fn the_sealed_binary_reads_the_same_and_cannot_be_written() {
        let Some((dir, exe)) = test_binary() else {
            return;
        };
        let run_dir = tempfile::tempdir().unwrap();
        let run = run_dir.path().to_path_buf();
        for fd in [overlay_seal(&exe, &run).unwrap(), memfd_seal(&exe).unwrap()] {
            let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
            assert_eq!(std::fs::read(&p).unwrap(), SCRIPT);
            // Either the open (the read-only overlay: EROFS) or the write (the memfd's
            // seals: EPERM) fails.
            let written = std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
            assert!(written.is_err(), "the sealed binary was written");
        }
        assert_eq!(std::fs::read(&exe).unwrap(), SCRIPT);
        // Nothing stays mounted.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&dir.path().display().to_string()));
    }

    /// A run root inside the binary's directory (a binary in /tmp, TUG_RUN under /tmp):
    /// overlayfs refuses a lower layer inside another, so the empty layer is taken from
    /// elsewhere, and the view is still the overlay, not a 93 MB memfd copy per start.
    #[test]
    fn a_run_root_inside_the_binarys_dir_still_gets_the_overlay_view() {
        let Some((dir, exe)) = test_binary() else {
            return;
        };
        let run = dir.path().join("run");
        let fd = overlay_seal(&exe, &run).unwrap();
        let fs = nix::sys::statfs::fstatfs(&fd).unwrap();
        assert_eq!(
            fs.filesystem_type(),
            nix::sys::statfs::OVERLAYFS_SUPER_MAGIC
        );
        let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
        assert_eq!(std::fs::read(&p).unwrap(), SCRIPT);
        // Still sealed: the view is read-only, and the binary is the one of its dir.
        let e = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        assert_eq!(std::fs::read(&exe).unwrap(), SCRIPT);
    }
}
