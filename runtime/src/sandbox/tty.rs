//! Terminals: the pty made inside the container's own devpts (the master is handed to the
//! supervisor, as runc's console socket does), raw mode on the caller's terminal, and the
//! window size.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

use super::mounts::RootDir;
use crate::sandbox::StepError;

/// Opens a new pty in the rootfs's /dev/pts (a newinstance devpts): (master, slave).
pub fn open_in_container(root: &RootDir) -> Result<(OwnedFd, OwnedFd), StepError> {
    let dir = root
        .open_path(Path::new("dev/pts"))
        .map_err(|e| StepError::new("opening /dev/pts", e))?;
    let master = crate::fsutil::retry_eagain(|| {
        openat2(
            &dir,
            "ptmx",
            OpenHow::new()
                .flags(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS),
        )
    })
    .map_err(|e| StepError::new("opening /dev/pts/ptmx", e))?;
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer, which lives across the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) } != 0 {
        return Err(StepError::new(
            "unlocking the pty",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new fd (or -1).
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(StepError::new(
            "opening the pty slave",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the ioctl just returned this new fd; we are its only owner.
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }))
}

/// The pty number of a master (`/dev/pts/<n>`).
pub fn pty_number(master: &OwnedFd) -> Result<u32, StepError> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int to the pointer, which lives across the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) } != 0 {
        return Err(StepError::new(
            "reading the pty number",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(n)
}

/// Makes `slave` the controlling terminal and stdio of the calling process (in a new
/// session).
pub fn make_controlling(slave: &OwnedFd) -> Result<(), StepError> {
    nix::unistd::setsid().map_err(|e| StepError::new("setsid", e))?;
    // SAFETY: TIOCSCTTY takes an int by value; the fd is open.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(StepError::new(
            "setting the controlling terminal",
            std::io::Error::last_os_error(),
        ));
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the stdio fds, which the process owns; no Rust object holds
        // them.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(StepError::new(
                "dup2 the pty",
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

/// The window size of a terminal, if `fd` is one.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<libc::winsize> {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize to the pointer, which lives across the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then_some(ws)
}

/// Sets the window size of the pty behind `master`.
pub fn set_window_size(master: BorrowedFd<'_>, ws: &libc::winsize) {
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which lives across the call.
    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, ws) };
}

/// Copies the window size of the caller's terminal (stdin, else stdout) to the pty.
pub fn copy_window_size(master: BorrowedFd<'_>) {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    if let Some(ws) = window_size(stdin.as_fd()).or_else(|| window_size(stdout.as_fd())) {
        set_window_size(master, &ws);
    }
}

/// The caller's terminal in raw mode; restored when dropped.
pub struct RawModeGuard {
    fd: BorrowedFd<'static>,
    saved: Termios,
}

impl RawModeGuard {
    /// Puts stdin in raw mode if it is a terminal; `None` if it is not.
    pub fn stdin() -> Option<RawModeGuard> {
        // SAFETY: fd 0 stays open for the life of the process.
        let fd = unsafe { BorrowedFd::borrow_raw(0) };
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawModeGuard { fd, saved })
    }
}

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, SetArg::TCSAFLUSH, &self.saved);
    }
}
