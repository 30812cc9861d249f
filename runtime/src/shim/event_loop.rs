//! The shim's event loop: one thread polling every fd (the signalfd for SIGCHLD, the
//! container's stdout/stderr pipes or pty master, the socket and its clients, the
//! execs' fds, the owner's pidfd), relaying output to the log and to clients, client
//! frames to the process (or to the client's exec), and reaping exits.

use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use super::client::{Client, winsize};
use super::exec::{self, Event, Exec};
use super::health::ProbeFd;
use super::log::Stream;
use super::owner::Owner;
use super::supervisor::Shim;
use super::{Error, proto};
use crate::sandbox::tty;

/// What one poll slot is.
#[derive(Clone, Copy)]
enum Slot {
    Signals,
    Listener,
    Output(Stream),
    Master,
    Client(usize),
    Owner,
    /// An exec's answer to its release.
    ExecStarted(usize),
    /// An exec's stdout (`Some(false)`), stderr (`Some(true)`) or pty (`None`).
    ExecOutput(usize, Option<bool>),
    /// An exec's stdin has room.
    ExecStdin(usize),
    /// The healthcheck probe's release answer or output.
    Health(ProbeFd),
    /// A socket of the process's service `.0` (see `Process::services`).
    Service(usize, RawFd),
}

impl Shim<'_> {
    pub fn event_loop(&mut self) -> Result<(), Error> {
        let mut buf = [0u8; 16 * 1024];
        while !self.finished {
            if self.trim_at.is_some_and(|t| Instant::now() >= t) {
                self.release_start_memory();
            }
            let mut slots: Vec<(Slot, RawFd, PollFlags)> = Vec::with_capacity(8);
            let r = PollFlags::POLLIN;
            slots.push((Slot::Signals, self.signals.fd().as_fd().as_raw_fd(), r));
            slots.push((Slot::Listener, self.listener.as_raw_fd(), r));
            if let Some(p) = &self.process {
                if let Some(f) = &p.io.out {
                    slots.push((Slot::Output(Stream::Stdout), f.as_raw_fd(), r));
                }
                if let Some(f) = &p.io.err {
                    slots.push((Slot::Output(Stream::Stderr), f.as_raw_fd(), r));
                }
                if let Some(f) = &p.io.master {
                    slots.push((Slot::Master, f.as_raw_fd(), r));
                }
                for (i, s) in p.services() {
                    for fd in s.fds() {
                        slots.push((Slot::Service(i, fd), fd, r));
                    }
                    for fd in s.write_fds() {
                        slots.push((Slot::Service(i, fd), fd, PollFlags::POLLOUT));
                    }
                }
            }
            for (i, c) in self.clients.iter().enumerate() {
                // A client whose exec's stdin is full is not read until it drains.
                let full = self
                    .execs
                    .iter()
                    .any(|e| e.client == Some(c.id) && e.stdin_buf.len() > exec::MAX_STDIN);
                let mut ev = if full { PollFlags::empty() } else { r };
                if !c.outbox.is_empty() {
                    ev |= PollFlags::POLLOUT;
                }
                slots.push((Slot::Client(i), c.sock.as_raw_fd(), ev));
            }
            for (i, e) in self.execs.iter().enumerate() {
                if let Some(fd) = e.start_fd() {
                    slots.push((Slot::ExecStarted(i), fd.as_raw_fd(), r));
                    continue;
                }
                if let Some(fd) = e.stdin_waiting() {
                    slots.push((Slot::ExecStdin(i), fd.as_raw_fd(), PollFlags::POLLOUT));
                }
                // Output is read while the client keeps up (or is gone).
                let queued = self
                    .clients
                    .iter()
                    .find(|c| Some(c.id) == e.client)
                    .map_or(0, |c| c.outbox.len());
                if queued > exec::MAX_QUEUED_OUTPUT {
                    continue;
                }
                for (which, fd) in [
                    (Some(false), &e.out),
                    (Some(true), &e.err),
                    (None, &e.master),
                ] {
                    if let Some(f) = fd {
                        slots.push((Slot::ExecOutput(i, which), f.as_raw_fd(), r));
                    }
                }
            }
            if let Some(fd) = self.owner.as_ref().and_then(|o| o.pidfd.as_ref()) {
                slots.push((Slot::Owner, fd.as_raw_fd(), r));
            }
            if let Some(h) = &self.health {
                for (which, fd) in h.fds() {
                    slots.push((Slot::Health(which), fd, r));
                }
            }
            let service_wake = self
                .process
                .as_ref()
                .and_then(|p| p.services().filter_map(|(_, s)| s.wake_at()).min());
            let wake = [
                self.restart_at,
                self.trim_at,
                self.health.as_ref().and_then(|h| h.wake_at()),
                service_wake,
            ]
            .into_iter()
            .flatten()
            .min();
            let mut timeout = wake.map(|t| t.saturating_duration_since(Instant::now()));
            if self.owner.as_ref().is_some_and(|o| o.pidfd.is_none()) {
                let poll_owner = Duration::from_millis(100);
                timeout = Some(timeout.map_or(poll_owner, |t| t.min(poll_owner)));
            }
            let timeout = match timeout {
                None => PollTimeout::NONE,
                Some(t) => PollTimeout::try_from(t.as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(PollTimeout::MAX),
            };
            let ready: Vec<(Slot, PollFlags)> = {
                let mut fds: Vec<PollFd> = slots
                    .iter()
                    // SAFETY: every fd is owned by `self` and stays open across the poll.
                    .map(|(_, fd, ev)| PollFd::new(unsafe { BorrowedFd::borrow_raw(*fd) }, *ev))
                    .collect();
                match poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(nix::Error::EINTR) => continue,
                    Err(e) => return Err(Error::Io("poll".into(), e.into())),
                }
                fds.iter()
                    .zip(&slots)
                    .filter_map(|(f, (s, _, _))| {
                        f.revents().filter(|r| !r.is_empty()).map(|r| (*s, r))
                    })
                    .collect()
            };
            for (slot, revents) in ready {
                if self.finished {
                    break;
                }
                match slot {
                    Slot::Signals => self.on_signals(),
                    Slot::Listener => self.accept(),
                    Slot::Output(s) => self.on_output(Some(s), &mut buf),
                    Slot::Master => self.on_output(None, &mut buf),
                    Slot::Client(i) => self.on_client(i, revents, &mut buf),
                    Slot::Owner => {}
                    Slot::ExecStarted(i) => {
                        let ev = self.execs[i].on_started();
                        self.exec_event(i, &ev);
                    }
                    Slot::ExecOutput(i, which) => {
                        if let Some(ev) = self.execs[i].read_output(which, &mut buf) {
                            self.tell_exec_client(i, &ev);
                        }
                    }
                    Slot::ExecStdin(i) => self.execs[i].flush_stdin(),
                    Slot::Health(which) => {
                        if let Some(h) = &mut self.health {
                            h.on_ready(which, &mut buf);
                        }
                    }
                    Slot::Service(i, fd) => {
                        if let Some(s) = self.process.as_mut().and_then(|p| p.service_mut(i)) {
                            s.on_ready(fd);
                        }
                    }
                }
            }
            if self.finished {
                break;
            }
            if self.owner.as_ref().is_some_and(Owner::is_gone) {
                self.owner = None;
                self.remove = true;
                self.signal(Signal::SIGKILL as i32, true);
                if self.process.is_none() && !self.finished {
                    self.finish(self.last_code, None);
                }
            }
            self.finish_execs(&mut buf);
            self.health_tick(&mut buf);
            if let Some(p) = self.process.as_mut() {
                let now = Instant::now();
                for i in [0, 1] {
                    if let Some(s) = p.service_mut(i) {
                        s.tick(now);
                    }
                }
            }
            self.clients.retain(|c| !c.gone);
            if let Some(p) = &self.process
                && let Some(code) = p.exit
                && p.io.out.is_none()
                && p.io.err.is_none()
                && p.io.master.is_none()
            {
                self.on_exit(code);
            }
            if let Some(t) = self.restart_at
                && Instant::now() >= t
            {
                self.restart();
            }
        }
        Ok(())
    }

    fn on_signals(&mut self) {
        while let Some(sig) = self.signals.read() {
            if sig != Signal::SIGCHLD {
                continue;
            }
            if let Some(p) = &mut self.process
                && p.exit.is_none()
                && let Ok(Some(code)) = p.sandbox.try_wait()
            {
                p.exit = Some(code);
            }
            let mut exec_killed = false;
            for e in &mut self.execs {
                let before = e.exit;
                e.reap();
                exec_killed |= before.is_none() && e.exit == Some(137);
            }
            if let Some(h) = &mut self.health {
                exec_killed |= h.reap();
            }
            // An exec that died of SIGKILL while the container's process runs on: the OOM
            // kills counted so far are the execs' (Docker's OOMKilled is the init's).
            if exec_killed
                && let Some(p) = &mut self.process
                && p.exit.is_none()
            {
                p.exec_oom_kills = p.cgroup.oom_kills();
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    let id = self.next_client;
                    self.next_client += 1;
                    self.clients.push(Client::new(id, s, false, false));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Output from the container (`None`: the pty master).
    fn on_output(&mut self, stream: Option<Stream>, buf: &mut [u8]) {
        let Some(p) = &mut self.process else { return };
        let fd = match stream {
            Some(Stream::Stdout) => &mut p.io.out,
            Some(Stream::Stderr) => &mut p.io.err,
            None => &mut p.io.master,
        };
        let Some(f) = fd else { return };
        match nix::unistd::read(f.as_fd(), buf) {
            Ok(0) | Err(nix::Error::EIO) => *fd = None,
            Ok(n) => {
                let s = stream.unwrap_or(Stream::Stdout);
                self.log.write(s, &buf[..n]);
                let kind = match s {
                    Stream::Stdout => proto::STDOUT,
                    Stream::Stderr => proto::STDERR,
                };
                self.broadcast(&proto::frame(kind, &buf[..n]), true);
            }
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => {}
            Err(_) => *fd = None,
        }
    }

    fn on_client(&mut self, i: usize, revents: PollFlags, buf: &mut [u8]) {
        if revents.contains(PollFlags::POLLOUT) {
            self.clients[i].flush();
        }
        if !revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return;
        }
        let n = match self.clients[i].sock.read(buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return;
            }
            Err(_) => 0,
        };
        if n == 0 {
            let c = &mut self.clients[i];
            c.gone = true;
            let id = c.id;
            // Its exec runs on, its output discarded (as with Docker).
            for e in self.execs.iter_mut().filter(|e| e.client == Some(id)) {
                e.client = None;
            }
            let c = &mut self.clients[i];
            if c.stdin && self.stdin_once {
                self.close_stdin();
            }
            return;
        }
        self.clients[i].inbuf.extend_from_slice(&buf[..n]);
        let frames = match proto::split_frames(&mut self.clients[i].inbuf) {
            Ok(f) => f,
            Err(_) => {
                self.clients[i].gone = true;
                return;
            }
        };
        let id = self.clients[i].id;
        for (kind, payload) in frames {
            if self.clients[i].exec {
                let exec = self.execs.iter_mut().find(|e| e.client == Some(id));
                match (kind, exec) {
                    (proto::STDIN, Some(e)) => e.write_stdin(&payload),
                    (proto::STDIN_CLOSE, Some(e)) => e.close_stdin(),
                    (proto::RESIZE, Some(e)) if payload.len() >= 4 => e.resize(&winsize(&payload)),
                    (proto::KILL, Some(e)) => e.signal(proto::payload_i32(&payload)),
                    (proto::EXEC, _) => self.clients[i]
                        .send(&Event::Failed(125, "one exec per connection".into()).frame()),
                    _ => {}
                }
                continue;
            }
            match kind {
                proto::EXEC => {
                    self.clients[i].exec = true;
                    self.start_exec(i, &payload);
                }
                proto::ATTACH => {
                    let c = &mut self.clients[i];
                    c.output = true;
                    c.stdin = payload.get(1).copied().unwrap_or(0) != 0;
                }
                proto::STDIN => {
                    if let Some(w) = self.process.as_ref().and_then(|p| p.io.stdin.as_ref()) {
                        let _ = nix::unistd::write(w, &payload);
                    }
                    if let Some(m) = self.process.as_ref().and_then(|p| p.io.master.as_ref()) {
                        let mut data = &payload[..];
                        while !data.is_empty() {
                            match nix::unistd::write(m, data) {
                                Ok(n) => data = &data[n..],
                                Err(nix::Error::EINTR) => {}
                                Err(_) => break,
                            }
                        }
                    }
                }
                proto::STDIN_CLOSE if self.stdin_once || !self.clients[i].output => {
                    self.close_stdin();
                }
                proto::RESIZE if payload.len() >= 4 => {
                    if let Some(m) = self.process.as_ref().and_then(|p| p.io.master.as_ref()) {
                        tty::set_window_size(m.as_fd(), &winsize(&payload));
                    }
                }
                proto::KILL => self.signal(proto::payload_i32(&payload), false),
                proto::STOP => self.signal(proto::payload_i32(&payload), true),
                proto::REMOVE => {
                    self.remove = true;
                    self.side.removal_keeps_volumes();
                }
                proto::DNS => {
                    let answer = self.start_dns();
                    self.clients[i].send(&answer.frame());
                }
                proto::PROXY => {
                    let address = <[u8; 4]>::try_from(payload.as_slice())
                        .ok()
                        .map(std::net::Ipv4Addr::from);
                    let answer = self.retarget_proxy(address);
                    self.clients[i].send(&answer.frame());
                }
                _ => {}
            }
            if self.finished {
                return;
            }
        }
    }

    /// Client `i` asks for an exec: enter the container and release the process (its
    /// answer comes through the event loop).
    fn start_exec(&mut self, i: usize, payload: &[u8]) {
        let id = self.clients[i].id;
        let pid = self
            .process
            .as_ref()
            .filter(|p| p.exit.is_none())
            .map(|p| p.sandbox.pid());
        let started = match (serde_json::from_slice::<proto::ExecRequest>(payload), pid) {
            (Err(e), _) => Err((125, format!("a garbled exec request: {e}"))),
            (Ok(_), None) => Err((125, format!("container {} is not running", self.id))),
            (Ok(req), Some(pid)) => {
                Exec::start(req, pid, Some(id)).map_err(|e| (e.exit_code(), crate::report(&e)))
            }
        };
        match started {
            Ok(e) => self.execs.push(e),
            Err((code, msg)) => self.clients[i].send(&Event::Failed(code, msg).frame()),
        }
    }

    /// Sends `ev` of exec `i` to its client, if it is still there.
    fn tell_exec_client(&mut self, i: usize, ev: &Event) {
        let Some(id) = self.execs[i].client else {
            return;
        };
        if let Some(c) = self.clients.iter_mut().find(|c| c.id == id) {
            c.send(&ev.frame());
        }
    }

    /// Starts the process's DNS server unless it serves one ([`proto::DNS`]).
    fn start_dns(&mut self) -> Event {
        let Some(p) = self.process.as_mut().filter(|p| p.exit.is_none()) else {
            return Event::Failed(125, format!("container {} is not running", self.id));
        };
        if p.service.is_none() {
            match self.side.start_dns(p.sandbox.pid()) {
                Ok(s) => p.service = s,
                Err(e) => return Event::Failed(125, e),
            }
        }
        Event::Started(p.sandbox.pid())
    }

    /// Points the IPv6 port proxy, if the process has one, at `address` ([`proto::PROXY`]).
    fn retarget_proxy(&mut self, address: Option<std::net::Ipv4Addr>) -> Event {
        let Some(p) = self.process.as_mut().filter(|p| p.exit.is_none()) else {
            return Event::Failed(125, format!("container {} is not running", self.id));
        };
        if let Some(proxy) = p.proxy.as_mut() {
            proxy.retarget(address);
        }
        Event::Started(p.sandbox.pid())
    }

    /// Tells exec `i`'s client of `ev`, and the container's side of its exit.
    fn exec_event(&mut self, i: usize, ev: &Event) {
        let e = &self.execs[i];
        if !e.id.is_empty() {
            match ev {
                Event::Started(_) => {
                    let action = format!("exec_start: {}", e.command);
                    self.side.exec_event(&e.id, &action, None);
                }
                Event::Exit(code) => self.side.exec_event(&e.id, "exec_die", Some(*code)),
                _ => {}
            }
        }
        self.tell_exec_client(i, ev);
    }

    /// Relays the end of the execs that are done, and forgets them.
    fn finish_execs(&mut self, buf: &mut [u8]) {
        let mut i = 0;
        while i < self.execs.len() {
            if self.execs[i].is_done() {
                for ev in self.execs[i].finish(buf) {
                    self.exec_event(i, &ev);
                }
                self.execs.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// The container's process exited, and every exec'd process with its pid namespace:
    /// reap them and tell their clients.
    pub(super) fn end_execs(&mut self) {
        let mut buf = vec![0u8; 16 * 1024];
        for i in 0..self.execs.len() {
            for ev in self.execs[i].end(&mut buf) {
                self.exec_event(i, &ev);
            }
        }
        self.execs.clear();
    }

    /// The healthcheck's timers and ends; a probe runs only while the process runs and
    /// is not frozen (`pause`).
    fn health_tick(&mut self, buf: &mut [u8]) {
        let Some(h) = &mut self.health else { return };
        let process = self.process.as_ref();
        let running = || {
            process
                .filter(|p| p.exit.is_none())
                .filter(|p| !p.cgroup.manager().is_frozen().unwrap_or(false))
                .map(|p| p.sandbox.pid())
        };
        h.tick(running, buf);
    }

    fn close_stdin(&mut self) {
        if let Some(p) = &mut self.process {
            p.io.stdin = None;
        }
    }
}
