//! The CLI's side of an attached container (or exec): relays the shim's output frames to stdout
//! and stderr, the caller's stdin to the shim, the window size, and signals
//! (`--sig-proxy`); returns the container's exit code, or 0 when the user typed the
//! detach keys in a TTY session (the container runs on).

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use super::Error;
use super::detach_keys::{DetachKeys, DetachWatch, Watched};
use crate::sandbox::signals::SignalReader;
use crate::sandbox::tty;
use crate::shim::{Attach, proto};

/// How the caller attaches to a container.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Forward the caller's stdin (`-i`).
    pub stdin: bool,
    /// Forward signals to the container (`--sig-proxy`), not in TTY mode; without it a
    /// signal detaches the caller (exit 128 + its number) and the container runs on.
    pub sig_proxy: bool,
    /// The keys that detach a TTY session with stdin attached (`--detach-keys`; `None`:
    /// Ctrl-P Ctrl-Q). As Docker, a session without a TTY has none.
    pub detach_keys: Option<DetachKeys>,
    /// `-a` without `stdout` / without `stderr`: that stream is not relayed.
    pub skip_stdout: bool,
    pub skip_stderr: bool,
}

impl From<&AttachOptions> for Attach {
    fn from(a: &AttachOptions) -> Attach {
        Attach {
            output: true,
            stdin: a.stdin,
        }
    }
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Sys(what.into(), e)
}

/// Relays between the caller and the shim on `sock` until the container exits.
pub fn relay(
    sock: UnixStream,
    opts: AttachOptions,
    tty_mode: bool,
) -> crate::container::Result<i32> {
    let mut signals =
        SignalReader::new().map_err(|e| Error::Sys("blocking signals".into(), e.into()))?;
    let stdin = std::io::stdin();
    let raw = (tty_mode && opts.stdin)
        .then(tty::RawModeGuard::stdin)
        .flatten();
    let mut w = &sock;
    if tty_mode {
        send_window_size(&mut w);
    }
    let mut watch = (tty_mode && opts.stdin)
        .then(|| DetachWatch::new(opts.detach_keys.clone().unwrap_or_default()));
    let mut stdin_open = opts.stdin;
    let mut inbuf = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let result = loop {
        let mut fds = vec![
            PollFd::new(signals.fd().as_fd(), PollFlags::POLLIN),
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => break Err(Error::Sys("poll".into(), e.into())),
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, sock_ready, stdin_ready) = (ready(0), ready(1), ready(2));
        drop(fds);
        if sig_ready {
            let mut detach = None;
            while let Some(sig) = signals.read() {
                match sig {
                    Signal::SIGCHLD => {}
                    Signal::SIGWINCH => send_window_size(&mut w),
                    // As Docker's CLI: signals are proxied only without a TTY; a
                    // terminal sends its own (Ctrl-C is a byte on the pty).
                    s if opts.sig_proxy && !tty_mode => {
                        let _ = proto::write_frame(&mut w, proto::KILL, &(s as i32).to_le_bytes());
                    }
                    s => detach = Some(128 + s as i32),
                }
            }
            if let Some(code) = detach {
                break Ok(code);
            }
        }
        if stdin_ready {
            // SAFETY: fd 0 stays open for the life of the process.
            let fd0 = unsafe { BorrowedFd::borrow_raw(stdin.as_raw_fd()) };
            match nix::unistd::read(fd0, &mut buf) {
                Ok(0) | Err(nix::Error::EIO) => {
                    stdin_open = false;
                    if let Some(held) = watch.as_mut().map(DetachWatch::flush)
                        && !held.is_empty()
                    {
                        let _ = proto::write_frame(&mut w, proto::STDIN, &held);
                    }
                    let _ = proto::write_frame(&mut w, proto::STDIN_CLOSE, &[]);
                }
                Ok(n) => match watch.as_mut().map(|d| d.feed(&buf[..n])) {
                    None => {
                        let _ = proto::write_frame(&mut w, proto::STDIN, &buf[..n]);
                    }
                    Some(Watched::Forward(data)) => {
                        if !data.is_empty() {
                            let _ = proto::write_frame(&mut w, proto::STDIN, &data);
                        }
                    }
                    Some(Watched::Detach(data)) => {
                        if !data.is_empty() {
                            let _ = proto::write_frame(&mut w, proto::STDIN, &data);
                        }
                        // Docker's CLI exits 0 and leaves the container running.
                        break Ok(0);
                    }
                },
                Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
                Err(_) => stdin_open = false,
            }
        }
        if sock_ready {
            let n = match nix::unistd::read(&sock, &mut buf) {
                Ok(n) => n,
                Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => continue,
                Err(e) => break Err(io_err("reading from the shim")(e.into())),
            };
            if n == 0 {
                break Err(Error::Start(
                    125,
                    "the container's shim exited without reporting the exit".into(),
                ));
            }
            inbuf.extend_from_slice(&buf[..n]);
            let frames = match proto::split_frames(&mut inbuf) {
                Ok(f) => f,
                Err(e) => break Err(Error::Invalid(e)),
            };
            let mut code = None;
            for (kind, p) in frames {
                match kind {
                    proto::STDOUT if opts.skip_stdout => {}
                    proto::STDERR if opts.skip_stderr => {}
                    proto::STDOUT => {
                        let _ = out.write_all(&p).and_then(|_| out.flush());
                    }
                    proto::STDERR => {
                        let _ = err.write_all(&p).and_then(|_| err.flush());
                    }
                    proto::EXIT => code = Some(proto::payload_i32(&p)),
                    _ => {}
                }
            }
            if let Some(c) = code {
                break Ok(c);
            }
        }
    };
    drop(raw);
    result
}

/// The caller's terminal size (stdin's, else stdout's) as (rows, cols).
pub(super) fn window_size() -> Option<(u16, u16)> {
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    tty::window_size(stdin.as_fd())
        .or_else(|| tty::window_size(stdout.as_fd()))
        .map(|ws| (ws.ws_row, ws.ws_col))
}

/// Sends the caller's terminal size to the shim.
fn send_window_size(w: &mut &UnixStream) {
    if let Some((rows, cols)) = window_size() {
        let mut p = rows.to_le_bytes().to_vec();
        p.extend_from_slice(&cols.to_le_bytes());
        let _ = proto::write_frame(w, proto::RESIZE, &p);
    }
}
