//! A pty pair for driving `tug ... -t` as a terminal emulator does: tug runs on the
//! slave (its controlling terminal), the test reads and writes the master.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

pub fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which lives across the call.
    assert_eq!(
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
        0
    );
}

/// Makes `cmd` run on the slave of a new pty, as its controlling terminal; returns
/// the master.
pub fn attach(cmd: &mut Command, rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    set_size(&pty.master, rows, cols);
    let slave = pty.slave;
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()));
    // SAFETY: setsid and ioctl are async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    (pty.master, slave)
}

/// Reads from the master until `needle` shows up in what was read (or a deadline).
pub fn read_until(master: &OwnedFd, seen: &mut String, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{needle:?} never came; got: {seen:?}");
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let ms = left.as_millis().min(1000) as u16;
        if poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 0 {
            continue;
        }
        match nix::unistd::read(master, &mut buf) {
            Ok(0) | Err(_) => panic!("the pty closed before {needle:?}; got: {seen:?}"),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
}

pub fn write(master: &OwnedFd, s: &str) {
    assert_eq!(nix::unistd::write(master, s.as_bytes()).unwrap(), s.len());
}

/// Waits for `child` to exit, draining the pty meanwhile; its status.
pub fn wait_draining(
    child: &mut std::process::Child,
    master: &OwnedFd,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0) > 0 {
            let mut buf = [0u8; 4096];
            let _ = nix::unistd::read(master, &mut buf);
        }
        assert!(Instant::now() < deadline, "tug did not exit");
    }
}
