//! The owner of a container: a process whose death makes the shim stop and remove the
//! container (testkit's clean-up when a test binary is killed). Recorded as the pid and
//! its start time (so a reused pid is never taken for the owner) in `<container>/owner`,
//! watched through a pidfd (exact), or by polling /proc where pidfds are missing.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use super::Error;

/// The owner file in a container's dir.
pub const OWNER: &str = "owner";

/// The start time of `pid` (clock ticks since boot, /proc/<pid>/stat field 22).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Records `pid` as the owner of the container in `dir`.
pub fn record(dir: &Path, pid: i32) -> Result<(), Error> {
    let start = start_time(pid)
        .ok_or_else(|| Error::Invalid(format!("--owner-pid {pid}: no such process")))?;
    let p = dir.join(OWNER);
    crate::fsutil::write_atomic_opt(&p, format!("{pid} {start}\n").as_bytes(), false)
        .map_err(|e| Error::Io(p.display().to_string(), e))
}

/// The owner of a container, being watched.
#[derive(Debug)]
pub struct Owner {
    pid: i32,
    start: u64,
    /// A pidfd, readable once the owner exited; `None`: poll /proc.
    pub pidfd: Option<OwnedFd>,
}

impl Owner {
    /// The owner recorded in `dir`, if any.
    pub fn load(dir: &Path) -> Option<Owner> {
        let text = std::fs::read_to_string(dir.join(OWNER)).ok()?;
        let mut it = text.split_whitespace();
        let pid: i32 = it.next()?.parse().ok()?;
        let start: u64 = it.next()?.parse().ok()?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        // SAFETY: the syscall just returned this new fd; we are its only owner.
        let pidfd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) });
        Some(Owner { pid, start, pidfd })
    }

    /// Whether the owner is gone (dead, or its pid now names another process).
    pub fn is_gone(&self) -> bool {
        if let Some(fd) = &self.pidfd {
            let mut p = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(fd),
                nix::poll::PollFlags::POLLIN,
            )];
            if matches!(nix::poll::poll(&mut p, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0) {
                return true;
            }
        }
        start_time(self.pid) != Some(self.start)
    }
}

/// Blocks until process `pid` is gone (at once if it is already): through a pidfd, or by
/// polling /proc every 100 ms where pidfds are missing. The pid's start time is read
/// first, so a pid reused meanwhile counts as gone.
pub fn wait_gone(pid: i32) {
    let Some(start) = start_time(pid) else { return };
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: the syscall just returned this new fd; we are its only owner.
    let pidfd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) });
    let owner = Owner { pid, start, pidfd };
    if start_time(pid) != Some(start) {
        return;
    }
    while !owner.is_gone() {
        match &owner.pidfd {
            Some(fd) => {
                let mut p = [nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(fd),
                    nix::poll::PollFlags::POLLIN,
                )];
                let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::NONE);
            }
            None => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_read() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), me).unwrap();
        let o = Owner::load(dir.path()).unwrap();
        assert!(!o.is_gone());
        assert!(record(dir.path(), i32::MAX).is_err());
    }

    #[test]
    fn wait_gone_returns_when_the_process_ends_and_at_once_for_none() {
        wait_gone(i32::MAX);
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let began = std::time::Instant::now();
        wait_gone(child.id() as i32);
        assert!(began.elapsed() >= std::time::Duration::from_millis(150));
        child.wait().unwrap();
    }
}
