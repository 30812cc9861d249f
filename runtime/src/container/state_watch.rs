//! A watch on a container's dir (inotify): its record and the health monitor's state are
//! written there atomically (a rename into place) or closed after writing, so a wait for
//! a state (compose's `service_healthy`, `up --wait`) wakes as soon as the shim writes
//! one instead of at the next tick of a poll.
//!
//! Closing an inotify fd waits until the kernel has freed the marks of every watch that
//! ended before it, anywhere on the host (an SRCU grace period: 10-20 ms here). A watch
//! is therefore closed on a thread of its own (see [`close_later`]): a `wait?condition=
//! removed` answered, or the API server's single thread dropping a log follower's
//! watch, must not take that long.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// An inotify watch on one directory's entries being renamed in or closed after a write
/// (and, for a follower of the log, every write: a log entry).
#[derive(Debug)]
pub struct StateWatch(Closing);

/// An inotify fd, closed by [`close_later`] when dropped.
#[derive(Debug)]
struct Closing(Option<OwnedFd>);

impl Closing {
    fn fd(&self) -> &OwnedFd {
        // Taken only by `drop`.
        self.0
            .as_ref()
            .expect("an inotify fd is open until dropped")
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(fd) = self.0.take() {
            close_later(fd);
        }
    }
}

/// Closes `fd` on the process's closer thread (started at the first call), so that the
/// caller does not wait for the kernel's grace period; here if that thread could not be
/// had. A process that exits first closes what is left as it exits.
fn close_later(fd: OwnedFd) {
    static CLOSER: OnceLock<Option<mpsc::Sender<OwnedFd>>> = OnceLock::new();
    let closer = CLOSER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<OwnedFd>();
        std::thread::Builder::new()
            .name("inotify-close".into())
            .spawn(move || rx.into_iter().for_each(drop))
            .ok()
            .map(|_| tx)
    });
    match closer {
        Some(tx) => {
            if let Err(mpsc::SendError(fd)) = tx.send(fd) {
                drop(fd);
            }
        }
        None => drop(fd),
    }
}

impl StateWatch {
    /// A watch on `dir`; `None` when inotify is unavailable (the caller then polls).
    pub(crate) fn new(dir: &Path) -> Option<StateWatch> {
        Self::watch(dir, 0)
    }

    /// A watch on `dir` that also wakes at each write into a file of it (the json-file
    /// log beside the record), for a follower of the log.
    pub(crate) fn with_writes(dir: &Path) -> Option<StateWatch> {
        Self::watch(dir, libc::IN_MODIFY)
    }

    fn watch(dir: &Path, extra: u32) -> Option<StateWatch> {
        // SAFETY: inotify_init1 takes only flags and returns a new fd or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: `fd` was just returned by inotify_init1; nothing else owns it.
        let fd = Closing(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
        let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
        // The dir itself going: deleted, or moved out of the store by a removal.
        let gone = libc::IN_DELETE_SELF | libc::IN_MOVE_SELF;
        let mask = libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | gone | extra;
        // SAFETY: `path` is NUL-terminated and outlives the call; `fd` is an inotify fd.
        let wd = unsafe { libc::inotify_add_watch(fd.fd().as_raw_fd(), path.as_ptr(), mask) };
        (wd >= 0).then_some(StateWatch(fd))
    }

    /// Consumes the events that are there (the fd is non-blocking): the next wait, or
    /// the next readiness of [`AsFd::as_fd`] in an event loop, is for later ones.
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        while matches!(nix::unistd::read(self.0.fd(), &mut buf), Ok(n) if n > 0) {}
    }

    /// Waits until something in the dir was written, or `timeout` passes; the events are
    /// consumed (the caller reads the state again either way).
    pub(crate) fn wait(&self, timeout: Duration) {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(self.0.fd().as_fd(), PollFlags::POLLIN)];
        let ready = poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
        if matches!(ready, Ok(n) if n > 0) {
            self.drain();
        }
    }
}

/// The inotify fd: readable when an event waits (for an async caller's event loop).
impl AsFd for StateWatch {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.fd().as_fd()
    }
}

/// The same fd, for the whole life of the watch (an async runtime's registration).
impl AsRawFd for StateWatch {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_rename_into_the_dir_wakes_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let w = StateWatch::new(dir.path()).expect("inotify");
        let d = dir.path().to_path_buf();
        let writer = std::thread::spawn(move || {
            std::fs::write(d.join("health.json.tmp"), "{}").unwrap();
            std::fs::rename(d.join("health.json.tmp"), d.join("health.json")).unwrap();
        });
        // A wait of an hour returns once the file is in place (no timed assertion: the
        // test would hang, not pass, if the event did not come).
        let t = Instant::now();
        w.wait(Duration::from_secs(3600));
        writer.join().unwrap();
        assert!(dir.path().join("health.json").exists());
        assert!(t.elapsed() < Duration::from_secs(3600));
    }

    /// A dropped watch's fd is closed by the closer thread: none is left open.
    #[test]
    fn dropped_watches_are_closed_not_left_open() {
        let dir = tempfile::tempdir().unwrap();
        let open_watches = || {
            std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|l| l.to_string_lossy().contains("inotify"))
                .count()
        };
        let before = open_watches();
        let watches: Vec<StateWatch> = (0..5)
            .map(|_| StateWatch::new(dir.path()).expect("inotify"))
            .collect();
        assert_eq!(open_watches(), before + 5);
        drop(watches);
        // A watch that could not be set (no such dir) is closed the same way.
        assert!(StateWatch::new(&dir.path().join("gone")).is_none());
        let deadline = Instant::now() + Duration::from_secs(30);
        while open_watches() > before {
            assert!(Instant::now() < deadline, "inotify fds left open");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
