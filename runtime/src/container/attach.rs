//! Foreground supervision (until the shim takes it over): relays a pty to the caller's
//! terminal, forwards signals, follows the window size, and reaps the exit.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use super::Error;
use crate::sandbox::signals::SignalReader;
use crate::sandbox::{Sandbox, tty};

/// How the caller attaches to a container it starts in the foreground.
#[derive(Debug, Clone, Copy)]
pub struct AttachOptions {
    /// Forward the caller's stdin (`-i`).
    pub stdin: bool,
    /// Forward signals to the container (`--sig-proxy`); without it a signal to the
    /// supervisor ends the container (it cannot outlive its supervisor until the shim).
    pub sig_proxy: bool,
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
            Err(_) => return false,
        }
    }
    true
}

/// Relays and waits until the container's process exits; returns its exit code.
pub fn supervise(
    sandbox: &mut Sandbox,
    master: Option<OwnedFd>,
    signals: &mut SignalReader,
    opts: AttachOptions,
) -> crate::Result<i32> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stdin_open = opts.stdin && master.is_some();
    let mut master_open = master.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    let mut exit = None;
    let mut discard = false;
    loop {
        if let (Some(code), false) = (exit, master_open) {
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(signals.fd().as_fd(), PollFlags::POLLIN)];
        let mi = match (&master, master_open) {
            (Some(m), true) => {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
                Some(fds.len() - 1)
            }
            _ => None,
        };
        let si = (stdin_open && exit.is_none()).then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::Sys("poll".into(), e.into()).into()),
        }
        let ready = |i: Option<usize>| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (m_ready, s_ready, sig_ready) = (ready(mi), ready(si), ready(Some(0)));
        drop(fds);
        if sig_ready {
            while let Some(sig) = signals.read() {
                match sig {
                    Signal::SIGCHLD => {
                        if let Some(code) = sandbox.try_wait()? {
                            exit = Some(code);
                        }
                    }
                    Signal::SIGWINCH => {
                        if let Some(m) = &master {
                            tty::copy_window_size(m.as_fd());
                        }
                    }
                    other if opts.sig_proxy => {
                        let _ = sandbox.signal(other);
                    }
                    // Without the proxy the signal would end tug; the container cannot
                    // outlive its supervisor yet (no shim), so it ends with it.
                    _ => {
                        let _ = sandbox.signal(Signal::SIGKILL);
                    }
                }
            }
        }
        if m_ready && let Some(m) = &master {
            match nix::unistd::read(m, &mut buf) {
                Ok(0) | Err(nix::Error::EIO) => master_open = false,
                Ok(n) => {
                    // Output nobody can take any more is dropped, so that the container
                    // never blocks on a full pty.
                    if !discard && !write_all(stdout.as_fd(), &buf[..n]) {
                        discard = true;
                    }
                }
                Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
                Err(_) => master_open = false,
            }
        }
        if s_ready && let Some(m) = &master {
            match nix::unistd::read(stdin.as_fd(), &mut buf) {
                Ok(0) | Err(nix::Error::EIO) => stdin_open = false,
                Ok(n) => {
                    write_all(m.as_fd(), &buf[..n]);
                }
                Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
                Err(_) => stdin_open = false,
            }
        }
    }
}
