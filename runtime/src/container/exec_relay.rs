//! The CLI's side of an attached exec: the exec'd process is the CLI's own child, so the
//! CLI relays its pty (when it has one) or its stdio pipes to the caller's own stdio,
//! forwards signals and the window size, and reaps the exit.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use super::Error;
use crate::sandbox::enter::ExecPipes;
use crate::sandbox::signals::SignalReader;
use crate::sandbox::{Sandbox, tty};

/// Writes all of `data`; false when the reader is gone.
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

/// Copies one read of `from` to `to`: false at the end of `from`.
fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>, buf: &mut [u8], discard: &mut bool) -> bool {
    match nix::unistd::read(from, buf) {
        // EIO: the pty's other side is closed.
        Ok(0) | Err(nix::Error::EIO) => false,
        Ok(n) => {
            // Output nobody takes any more is dropped, so the process never blocks on it.
            if !*discard && !write_all(to, &buf[..n]) {
                *discard = true;
            }
            true
        }
        Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => true,
        Err(_) => false,
    }
}

/// Copies what is in `from` now to `to`, without waiting for more (the pipe's writer may
/// be a process left in the background).
fn drain(from: BorrowedFd<'_>, to: BorrowedFd<'_>, buf: &mut [u8], discard: &mut bool) {
    let _ = nix::fcntl::fcntl(
        from,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    loop {
        match nix::unistd::read(from, buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !*discard && !write_all(to, &buf[..n]) {
                    *discard = true;
                }
            }
        }
    }
}

/// Relays and waits until the exec'd process exits (and its pty is drained, or what its
/// pipes hold is copied); returns its exit code. `stdin`: forward the caller's stdin to
/// the pty or the stdin pipe (`-i`).
pub(super) fn supervise(
    process: &mut Sandbox,
    master: Option<OwnedFd>,
    pipes: Option<ExecPipes>,
    signals: &mut SignalReader,
    stdin: bool,
) -> crate::Result<i32> {
    let caller_in = std::io::stdin();
    let caller_out = std::io::stdout();
    let caller_err = std::io::stderr();
    let (mut pipe_in, pipe_out, pipe_err) = match pipes {
        Some(p) => (p.stdin, Some(p.stdout), Some(p.stderr)),
        None => (None, None, None),
    };
    let (mut out_open, mut err_open) = (pipe_out.is_some(), pipe_err.is_some());
    let mut discard_err = false;
    let mut stdin_open = stdin && (master.is_some() || pipe_in.is_some());
    let mut master_open = master.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    let (mut discard_out, mut discard_in) = (false, false);
    let mut exit = None;
    // The exit shows on a pidfd too, so it is seen even if SIGCHLD went to another
    // thread of a library caller.
    let exited = crate::sandbox::enter::open_pidfd(process.pid()).ok();
    loop {
        if let (Some(code), false) = (exit, master_open) {
            // What the process wrote before it exited; a background child that still
            // holds the pipes is not waited for.
            if let (Some(o), true) = (&pipe_out, out_open) {
                drain(o.as_fd(), caller_out.as_fd(), &mut buf, &mut discard_out);
            }
            if let (Some(e), true) = (&pipe_err, err_open) {
                drain(e.as_fd(), caller_err.as_fd(), &mut buf, &mut discard_err);
            }
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(signals.fd().as_fd(), PollFlags::POLLIN)];
        let mut exited_at = None;
        if let (Some(p), None) = (&exited, exit) {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            exited_at = Some(fds.len() - 1);
        }
        let mut master_at = None;
        let mut stdin_at = None;
        if let (Some(m), true) = (&master, master_open) {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            master_at = Some(fds.len() - 1);
        }
        if stdin_open && exit.is_none() {
            fds.push(PollFd::new(caller_in.as_fd(), PollFlags::POLLIN));
            stdin_at = Some(fds.len() - 1);
        }
        let (mut out_at, mut err_at) = (None, None);
        if let (Some(o), true) = (&pipe_out, out_open) {
            fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
            out_at = Some(fds.len() - 1);
        }
        if let (Some(e), true) = (&pipe_err, err_open) {
            fds.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
            err_at = Some(fds.len() - 1);
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::Sys("poll".into(), e.into()).into()),
        }
        let ready = |i: Option<usize>| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, master_ready, stdin_ready) =
            (ready(Some(0)), ready(master_at), ready(stdin_at));
        let (out_ready, err_ready) = (ready(out_at), ready(err_at));
        let exit_ready = ready(exited_at);
        drop(fds);
        if exit_ready && let Some(code) = process.try_wait()? {
            exit = Some(code);
        }
        if sig_ready {
            while let Some(sig) = signals.read() {
                match sig {
                    Signal::SIGCHLD => {
                        if let Some(code) = process.try_wait()? {
                            exit = Some(code);
                        }
                    }
                    Signal::SIGWINCH => {
                        if let Some(m) = &master {
                            tty::copy_window_size(m.as_fd());
                        }
                    }
                    other => {
                        let _ = process.signal(other);
                    }
                }
            }
        }
        if let (true, Some(m)) = (master_ready, &master) {
            master_open = pump(m.as_fd(), caller_out.as_fd(), &mut buf, &mut discard_out);
        }
        if let (true, Some(m)) = (stdin_ready, &master) {
            stdin_open = pump(caller_in.as_fd(), m.as_fd(), &mut buf, &mut discard_in);
        }
        if let (true, Some(p)) = (stdin_ready, &pipe_in) {
            stdin_open = pump(caller_in.as_fd(), p.as_fd(), &mut buf, &mut discard_in);
            if !stdin_open {
                // The caller's EOF is the process's.
                pipe_in = None;
            }
        }
        if let (true, Some(o)) = (out_ready, &pipe_out) {
            out_open = pump(o.as_fd(), caller_out.as_fd(), &mut buf, &mut discard_out);
        }
        if let (true, Some(e)) = (err_ready, &pipe_err) {
            err_open = pump(e.as_fd(), caller_err.as_fd(), &mut buf, &mut discard_err);
        }
    }
}
