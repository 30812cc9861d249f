//! The IPv6 side of published ports: Docker's userland proxy, served from the shim's
//! event loop.
//!
//! A container has an IPv4 address only, and the kernel cannot DNAT from IPv6 to IPv4.
//! So a port published on every address (`-p 8080:80`) is also held on `[::]:8080`
//! (see [`super::reserve`]), and that socket listens here: each TCP connection accepted
//! is relayed to the container's `ip:80` over a connection of its own (half-closes
//! passed on, a reset or error ending both), and each UDP peer gets a socket of its own
//! to the container, whose answers go back to the peer, until it is idle for 90 seconds
//! (Docker's proxy keeps a UDP flow as long). Everything is non-blocking: a slow or
//! stalled peer only stops its own connection being read (each direction buffers up
//! to [`BUF`] bytes), never the shim.
//!
//! The peer is seen by the container as the host's address on the bridge (Docker's
//! proxy does the same), not as its IPv6 address.

use std::net::{SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{
    self, AddressFamily, MsgFlags, Shutdown, SockFlag, SockType, SockaddrIn, SockaddrIn6,
    SockaddrStorage,
};

use super::{Proto, Reserved};

/// What one direction of a TCP connection buffers.
pub const BUF: usize = 16 * 1024;
/// Connections (TCP) or peers (UDP) one published port relays at once; more are refused
/// (a TCP connection accepted and closed, a datagram dropped).
const MAX_FLOWS: usize = 1024;
/// How long a UDP peer's flow lives without traffic.
const UDP_IDLE: Duration = Duration::from_secs(90);

/// The proxy of one container's IPv6 ports.
#[derive(Debug, Default)]
pub struct PortProxy {
    tcp: Vec<(OwnedFd, SocketAddrV4)>,
    udp: Vec<UdpFront>,
    conns: Vec<Conn>,
    /// A datagram's room (64 KiB, made at the first UDP event and kept).
    datagram: Vec<u8>,
    /// No network carries the ports now (see [`PortProxy::retarget`]).
    off: bool,
}

#[derive(Debug)]
struct UdpFront {
    socket: OwnedFd,
    target: SocketAddrV4,
    flows: Vec<Flow>,
    off: bool,
}

/// One UDP peer and the socket its datagrams go to the container from.
#[derive(Debug)]
struct Flow {
    peer: SocketAddrV6,
    socket: OwnedFd,
    last: Instant,
}

/// One relayed TCP connection: the peer's (`down`) and the container's (`up`).
#[derive(Debug)]
struct Conn {
    down: OwnedFd,
    up: OwnedFd,
    connecting: bool,
    to_up: Pipe,
    to_down: Pipe,
}

/// One direction's bytes in flight.
#[derive(Debug, Default)]
struct Pipe {
    buf: Vec<u8>,
    at: usize,
    /// The source ended (read 0).
    eof: bool,
    /// The end was passed on (the destination's write side shut).
    shut: bool,
}

impl Pipe {
    fn pending(&self) -> bool {
        self.at < self.buf.len()
    }

    fn wants_read(&self) -> bool {
        !self.eof && !self.pending()
    }
}

/// What a step of a connection came to.
enum Step {
    Progress,
    Idle,
    /// Done (both directions ended) or failed: the connection goes.
    Close,
}

impl PortProxy {
    /// The proxy of `reserved`'s IPv6 ports (the others are left alone) to the
    /// container's `address`; `None` when it has none. TCP sockets start listening here.
    pub fn new(
        reserved: &[Reserved],
        address: std::net::Ipv4Addr,
    ) -> std::io::Result<Option<Self>> {
        let mut p = PortProxy::default();
        for r in reserved.iter().filter(|r| r.host_ip.is_ipv6()) {
            let socket = r.socket.try_clone()?;
            set_nonblocking(&socket)?;
            let target = SocketAddrV4::new(address, r.container_port);
            match r.proto {
                Proto::Tcp => {
                    socket::listen(
                        &socket,
                        socket::Backlog::new(511).unwrap_or(socket::Backlog::MAXCONN),
                    )?;
                    p.tcp.push((socket, target));
                }
                Proto::Udp => p.udp.push(UdpFront {
                    socket,
                    target,
                    flows: Vec::new(),
                    off: false,
                }),
            }
        }
        Ok((!p.tcp.is_empty() || !p.udp.is_empty()).then_some(p))
    }

    /// Relays what comes from now on to the container's `address` (the network that
    /// carried its ports left while it runs, and another carries them now), or nowhere
    /// (`None`: a connection is accepted and closed, a datagram dropped, as when nothing
    /// listens). The connections and flows to the old address go.
    pub fn retarget(&mut self, address: Option<std::net::Ipv4Addr>) {
        self.conns.clear();
        self.off = address.is_none();
        for (_, target) in &mut self.tcp {
            target.set_ip(address.unwrap_or(*target.ip()));
        }
        for u in &mut self.udp {
            u.flows.clear();
            u.off = address.is_none();
            u.target.set_ip(address.unwrap_or(*u.target.ip()));
        }
    }

    fn accept(&mut self, i: usize) {
        let (listener, target) = (&self.tcp[i].0, self.tcp[i].1);
        // A bounded batch per wake: the shim's other fds get their turn.
        for _ in 0..64 {
            let down = match socket::accept4(
                listener.as_raw_fd(),
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            ) {
                // SAFETY: accept4 returned a new fd, owned by nothing else.
                Ok(fd) => unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
                Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
                Err(_) => return,
            };
            if self.conns.len() >= MAX_FLOWS || self.off {
                continue;
            }
            let Ok(up) = connect_v4(target) else {
                continue;
            };
            self.conns.push(Conn {
                down,
                up,
                connecting: true,
                to_up: Pipe::default(),
                to_down: Pipe::default(),
            });
            let last = self.conns.len() - 1;
            if let Step::Close = self.conns[last].pump() {
                self.conns.swap_remove(last);
            }
        }
    }
}

/// A non-blocking TCP connection to `target`, under way.
fn connect_v4(target: SocketAddrV4) -> nix::Result<OwnedFd> {
    let fd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    match socket::connect(fd.as_raw_fd(), &SockaddrIn::from(target)) {
        Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
        Err(e) => Err(e),
    }
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

impl Conn {
    /// Moves what can move now, in both directions, until nothing does.
    fn pump(&mut self) -> Step {
        if self.connecting {
            match socket::getsockopt(&self.up, socket::sockopt::SocketError) {
                Ok(0) => {}
                _ => return Step::Close,
            }
            if socket::getpeername::<SockaddrStorage>(self.up.as_raw_fd()).is_err() {
                // Not connected yet (POLLOUT comes when it is).
                return Step::Idle;
            }
            self.connecting = false;
        }
        let mut moved = false;
        loop {
            let a = relay(&self.down, &self.up, &mut self.to_up);
            let b = relay(&self.up, &self.down, &mut self.to_down);
            match (a, b) {
                (Step::Close, _) | (_, Step::Close) => return Step::Close,
                (Step::Idle, Step::Idle) => break,
                _ => moved = true,
            }
        }
        if self.to_up.shut && self.to_down.shut {
            return Step::Close;
        }
        if moved { Step::Progress } else { Step::Idle }
    }

    fn read_fds(&self, out: &mut Vec<RawFd>) {
        if self.connecting {
            return;
        }
        if self.to_up.wants_read() {
            out.push(self.down.as_raw_fd());
        }
        if self.to_down.wants_read() {
            out.push(self.up.as_raw_fd());
        }
    }

    fn write_fds(&self, out: &mut Vec<RawFd>) {
        if self.connecting || self.to_up.pending() {
            out.push(self.up.as_raw_fd());
        }
        if self.to_down.pending() {
            out.push(self.down.as_raw_fd());
        }
    }
}

/// One step of one direction: from `src` into `pipe`, from `pipe` to `dst`, and the end
/// passed on once all was written.
fn relay(src: &OwnedFd, dst: &OwnedFd, pipe: &mut Pipe) -> Step {
    let mut moved = false;
    if pipe.wants_read() {
        pipe.buf.resize(BUF, 0);
        match socket::recv(src.as_raw_fd(), &mut pipe.buf, MsgFlags::empty()) {
            Ok(0) => {
                pipe.buf.clear();
                pipe.at = 0;
                pipe.eof = true;
                moved = true;
            }
            Ok(n) => {
                pipe.buf.truncate(n);
                pipe.at = 0;
                moved = true;
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {
                pipe.buf.clear();
                pipe.at = 0;
            }
            Err(_) => return Step::Close,
        }
    }
    if pipe.pending() {
        match socket::send(
            dst.as_raw_fd(),
            &pipe.buf[pipe.at..],
            MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(n) => {
                pipe.at += n;
                moved = true;
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => return Step::Close,
        }
    }
    if pipe.eof && !pipe.pending() && !pipe.shut {
        pipe.shut = true;
        moved = true;
        if socket::shutdown(dst.as_raw_fd(), Shutdown::Write).is_err() {
            return Step::Close;
        }
    }
    if moved { Step::Progress } else { Step::Idle }
}

impl UdpFront {
    /// Datagrams from peers, each to its flow (made for a new peer).
    fn on_front(&mut self, buf: &mut [u8]) {
        for _ in 0..64 {
            let (n, from) = match socket::recvfrom::<SockaddrIn6>(self.socket.as_raw_fd(), buf) {
                Ok((n, Some(from))) => (n, SocketAddrV6::from(from)),
                Ok((_, None)) | Err(Errno::EINTR) => continue,
                Err(_) => return,
            };
            if self.off {
                continue;
            }
            let i = match self.flows.iter().position(|f| f.peer == from) {
                Some(i) => i,
                None if self.flows.len() >= MAX_FLOWS => continue,
                None => match self.new_flow(from) {
                    Ok(f) => {
                        self.flows.push(f);
                        self.flows.len() - 1
                    }
                    Err(_) => continue,
                },
            };
            let f = &mut self.flows[i];
            f.last = Instant::now();
            let _ = socket::send(f.socket.as_raw_fd(), &buf[..n], MsgFlags::MSG_NOSIGNAL);
        }
    }

    fn new_flow(&self, peer: SocketAddrV6) -> nix::Result<Flow> {
        let socket = socket::socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        socket::connect(socket.as_raw_fd(), &SockaddrIn::from(self.target))?;
        Ok(Flow {
            peer,
            socket,
            last: Instant::now(),
        })
    }

    /// The container's answers on flow `i`, back to its peer from the published port.
    fn on_flow(&mut self, i: usize, buf: &mut [u8]) {
        let f = &mut self.flows[i];
        for _ in 0..64 {
            match socket::recv(f.socket.as_raw_fd(), buf, MsgFlags::empty()) {
                Ok(n) => {
                    f.last = Instant::now();
                    let to = SockaddrIn6::from(f.peer);
                    let _ = socket::sendto(
                        self.socket.as_raw_fd(),
                        &buf[..n],
                        &to,
                        MsgFlags::MSG_NOSIGNAL,
                    );
                }
                Err(Errno::EINTR) => continue,
                // EAGAIN; or ECONNREFUSED (nothing listens in the container yet): the
                // peer hears nothing, as with the DNAT'd IPv4 port.
                Err(_) => return,
            }
        }
    }
}

impl crate::shim::Service for PortProxy {
    fn retarget(&mut self, address: Option<std::net::Ipv4Addr>) {
        PortProxy::retarget(self, address);
    }

    fn fds(&self) -> Vec<RawFd> {
        let mut v: Vec<RawFd> = self.tcp.iter().map(|(l, _)| l.as_raw_fd()).collect();
        for u in &self.udp {
            v.push(u.socket.as_raw_fd());
            v.extend(u.flows.iter().map(|f| f.socket.as_raw_fd()));
        }
        for c in &self.conns {
            c.read_fds(&mut v);
        }
        v
    }

    fn write_fds(&self) -> Vec<RawFd> {
        let mut v = Vec::new();
        for c in &self.conns {
            c.write_fds(&mut v);
        }
        v
    }

    fn on_ready(&mut self, fd: RawFd) {
        if let Some(i) = self.tcp.iter().position(|(l, _)| l.as_raw_fd() == fd) {
            return self.accept(i);
        }
        for u in &mut self.udp {
            let front = u.socket.as_raw_fd() == fd;
            let flow = u.flows.iter().position(|f| f.socket.as_raw_fd() == fd);
            if !front && flow.is_none() {
                continue;
            }
            self.datagram.resize(64 * 1024, 0);
            return match flow {
                Some(i) => u.on_flow(i, &mut self.datagram),
                None => u.on_front(&mut self.datagram),
            };
        }
        let found = self
            .conns
            .iter()
            .position(|c| c.down.as_raw_fd() == fd || c.up.as_raw_fd() == fd);
        if let Some(i) = found
            && let Step::Close = self.conns[i].pump()
        {
            self.conns.swap_remove(i);
        }
    }

    fn wake_at(&self) -> Option<Instant> {
        self.udp
            .iter()
            .flat_map(|u| u.flows.iter().map(|f| f.last + UDP_IDLE))
            .min()
    }

    fn tick(&mut self, now: Instant) {
        for u in &mut self.udp {
            u.flows.retain(|f| now < f.last + UDP_IDLE);
        }
    }
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
