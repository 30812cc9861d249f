//! Execs run by the shim, as containerd's shim runs them: the shim (single-threaded, from
//! the sealed binary) enters the container (`sandbox::enter`), so the exec'd process is
//! its child, never a clone of the caller; it relays the process's pipes or pty to the
//! client that asked, over that client's connection, and reports the exit code.
//!
//! Nothing here blocks on the container: the release is answered on a socket the event
//! loop polls (the process resolves its user in files the container controls), stdin is
//! buffered and written when the pipe takes it, and output is read only while the client
//! keeps up (so a slow reader slows the process, and nothing is dropped).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::sys::signal::Signal;

use super::proto::{self, ExecRequest};
use crate::sandbox::enter::{self, EnterConfig};
use crate::sandbox::{self, Sandbox, Stdio, tty};

/// Stdin bytes held for the process; past this the client's connection is not read.
pub(super) const MAX_STDIN: usize = 1 << 20;
/// Output queued for the client; past this the process's output is not read.
pub(super) const MAX_QUEUED_OUTPUT: usize = 256 << 10;

/// One exec'd process and the shim's ends of its stdio.
pub(super) struct Exec {
    /// The client that asked for it; `None` once it left (output is then discarded, and
    /// the process runs on, as with Docker).
    pub client: Option<u64>,
    sandbox: Sandbox,
    /// Released; the answer (exec'd, or why not) is not read yet.
    pub starting: bool,
    /// The start failed (FAILED was sent): no EXIT follows.
    failed: bool,
    pub out: Option<OwnedFd>,
    pub err: Option<OwnedFd>,
    pub master: Option<OwnedFd>,
    /// Where stdin goes (the pipe, or the pty master), with what waits to be written.
    stdin: Option<OwnedFd>,
    pub stdin_buf: Vec<u8>,
    stdin_close: bool,
    pub exit: Option<i32>,
    /// The id its events carry (empty: a healthcheck probe, which has none).
    pub id: String,
    /// Its command line, for the events (`exec_start: sh -c true`).
    pub command: String,
}

/// What happened on an exec that the client hears of.
pub(super) enum Event {
    Started(i32),
    Failed(i32, String),
    Output(u8, Vec<u8>),
    Exit(i32),
}

impl Event {
    pub fn frame(&self) -> Vec<u8> {
        match self {
            Event::Started(pid) => proto::frame_i32(proto::STARTED, *pid),
            Event::Failed(code, msg) => proto::frame(
                proto::FAILED,
                &[&code.to_le_bytes()[..], msg.as_bytes()].concat(),
            ),
            Event::Output(kind, data) => proto::frame(*kind, data),
            Event::Exit(code) => proto::frame_i32(proto::EXIT, *code),
        }
    }
}

fn nonblocking(fd: &OwnedFd) {
    let _ = nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
}

impl Exec {
    /// Enters the container of the process `init_pid` as `req` says and releases the
    /// process; its answer comes on [`Exec::start_fd`]. `client`: the connection that
    /// asked (none for the shim's own healthcheck probes).
    pub fn start(
        req: ExecRequest,
        init_pid: i32,
        client: Option<u64>,
    ) -> Result<Exec, sandbox::Error> {
        let id = req.exec_id;
        let command = req.process.args().as_deref().unwrap_or_default().join(" ");
        let config = EnterConfig {
            init_pid,
            process: req.process,
            user: req.user,
            stdio: if req.tty {
                Stdio::Tty
            } else {
                Stdio::Inherit { stdin: req.stdin }
            },
            detach: req.detach,
            seccomp: req.seccomp,
            group_add: req.group_add,
        };
        let mut sb = enter::enter(&config)?;
        let master = sb.take_pty_master();
        let pipes = sb.take_pipes();
        if let (Some(m), Some((rows, cols))) = (&master, req.window) {
            let ws = libc::winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            tty::set_window_size(m.as_fd(), &ws);
        }
        let (out, err, pipe_in) = match pipes {
            Some(p) => (Some(p.stdout), Some(p.stderr), p.stdin),
            None => (None, None, None),
        };
        // The master is read only when readable, and written only when it takes bytes.
        let master_in =
            match (&master, req.stdin) {
                (Some(m), true) => Some(m.try_clone().map_err(|e| {
                    sandbox::Error::Io("duplicating the exec's pty master".into(), e)
                })?),
                _ => None,
            };
        let stdin = pipe_in.or(master_in);
        for f in master.iter().chain(stdin.iter()) {
            nonblocking(f);
        }
        sb.release()?;
        Ok(Exec {
            client,
            sandbox: sb,
            starting: true,
            failed: false,
            out,
            err,
            master,
            stdin,
            stdin_buf: Vec::new(),
            stdin_close: false,
            exit: None,
            id,
            command,
        })
    }

    /// The fd that answers the release (while `starting`).
    pub fn start_fd(&self) -> Option<BorrowedFd<'_>> {
        self.sandbox.start_fd()
    }

    /// The release's answer is there: started (its pid), or why not.
    pub fn on_started(&mut self) -> Event {
        self.starting = false;
        match self.sandbox.started() {
            Ok(()) => Event::Started(self.sandbox.pid()),
            Err(e) => {
                self.failed = true;
                Event::Failed(e.exit_code(), crate::report(&e))
            }
        }
    }

    /// Reaps the process if it exited.
    pub fn reap(&mut self) {
        if self.exit.is_none()
            && let Ok(Some(code)) = self.sandbox.try_wait()
        {
            self.exit = Some(code);
        }
    }

    /// One read of the process's stdout (`Some(false)`), stderr (`Some(true)`) or pty
    /// (`None`); an end closes that fd.
    pub fn read_output(&mut self, stderr: Option<bool>, buf: &mut [u8]) -> Option<Event> {
        let (fd, kind) = match stderr {
            Some(false) => (&mut self.out, proto::STDOUT),
            Some(true) => (&mut self.err, proto::STDERR),
            None => (&mut self.master, proto::STDOUT),
        };
        let f = fd.as_ref()?;
        match nix::unistd::read(f.as_fd(), buf) {
            // EIO: the pty's other side is closed.
            Ok(0) | Err(nix::Error::EIO) => {
                *fd = None;
                None
            }
            Ok(n) => Some(Event::Output(kind, buf[..n].to_vec())),
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => None,
            Err(_) => {
                *fd = None;
                None
            }
        }
    }

    /// Bytes from the client for the process's stdin (dropped without `-i`).
    pub fn write_stdin(&mut self, data: &[u8]) {
        if self.stdin.is_some() && !self.stdin_close {
            self.stdin_buf.extend_from_slice(data);
            self.flush_stdin();
        }
    }

    /// The client's stdin ended: so does the process's, once what waits is written (a
    /// pty has no end of input: its stdin stays).
    pub fn close_stdin(&mut self) {
        if self.master.is_none() {
            self.stdin_close = true;
            self.flush_stdin();
        }
    }

    /// The fd to poll for room when stdin bytes wait.
    pub fn stdin_waiting(&self) -> Option<BorrowedFd<'_>> {
        self.stdin
            .as_ref()
            .filter(|_| !self.stdin_buf.is_empty())
            .map(|f| f.as_fd())
    }

    /// Writes what the stdin pipe takes now.
    pub fn flush_stdin(&mut self) {
        let Some(fd) = &self.stdin else { return };
        while !self.stdin_buf.is_empty() {
            match nix::unistd::write(fd, &self.stdin_buf) {
                Ok(n) => {
                    self.stdin_buf.drain(..n);
                }
                Err(nix::Error::EINTR) => {}
                Err(nix::Error::EAGAIN) => return,
                Err(_) => {
                    // The reader is gone: nothing more goes in.
                    self.stdin_buf.clear();
                    self.stdin = None;
                    return;
                }
            }
        }
        if self.stdin_close {
            self.stdin = None;
        }
    }

    /// The client's window size, for the pty.
    pub fn resize(&self, ws: &libc::winsize) {
        if let Some(m) = &self.master {
            tty::set_window_size(m.as_fd(), ws);
        }
    }

    /// A signal from the client (the CLI forwards its own).
    pub fn signal(&self, sig: i32) {
        if let Ok(s) = Signal::try_from(sig) {
            let _ = self.sandbox.signal(s);
        }
    }

    /// Kills the process and its process group (a healthcheck past its timeout).
    pub fn kill_group(&self) {
        let _ = self.sandbox.signal_group(Signal::SIGKILL);
    }

    /// Whether the process is done and its output relayed: its pty is drained (the pipes
    /// are drained by [`Exec::finish`] without waiting for their end, which a process
    /// left in the background may hold).
    pub fn is_done(&self) -> bool {
        self.exit.is_some() && !self.starting && self.master.is_none()
    }

    /// What the pipes still hold, then the exit (none after a failed start).
    pub fn finish(&mut self, buf: &mut [u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for (stderr, kind) in [(false, proto::STDOUT), (true, proto::STDERR)] {
            let fd = if stderr { &mut self.err } else { &mut self.out };
            if let Some(f) = fd.take() {
                nonblocking(&f);
                while let Ok(n @ 1..) = nix::unistd::read(&f, buf) {
                    events.push(Event::Output(kind, buf[..n].to_vec()));
                }
            }
        }
        if let (Some(code), false) = (self.exit, self.failed) {
            events.push(Event::Exit(code));
        }
        events
    }

    /// The container's process ended, and with its pid namespace every exec'd process:
    /// reaps this one and says what the client hears last.
    pub fn end(&mut self, buf: &mut [u8]) -> Vec<Event> {
        let _ = self.sandbox.signal(Signal::SIGKILL);
        if self.starting {
            self.starting = false;
            self.failed = true;
            let _ = self.sandbox.wait();
            return vec![Event::Failed(
                125,
                "the container's process exited before the exec started".into(),
            )];
        }
        self.exit = self.sandbox.wait().ok().or(self.exit).or(Some(137));
        let mut events = Vec::new();
        if let Some(m) = self.master.take() {
            while let Ok(n @ 1..) = nix::unistd::read(&m, buf) {
                events.push(Event::Output(proto::STDOUT, buf[..n].to_vec()));
            }
        }
        events.extend(self.finish(buf));
        events
    }
}
