//! The embedded DNS server of one container: UDP and TCP sockets on 127.0.0.11:53 opened
//! inside the container's network namespace, answered from the shim's event loop (see
//! the shim's `Service`), so that no daemon and no extra thread is needed.
//!
//! The sockets are bound on the namespace's loopback directly: 127.0.0.0/8 is local on
//! `lo`, so 127.0.0.11 needs no address of its own and no DNAT rule (Docker redirects
//! to a random port with iptables instead; the cost here is that a process of the
//! container cannot bind port 53 on all addresses). They belong to the container's
//! namespace: neither the host nor another namespace can reach them. Forwarded queries
//! leave from the container's namespace too (through its own interfaces), which is why
//! loopback resolvers of the host are not used, as in Docker.
//!
//! The server only parses packets ([`super::message`]) and reads the names file; a query
//! never blocks the loop: forwarding is a pending entry answered when the upstream
//! replies or its deadline passes.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::message::{Malformed, Query, Rcode, error_reply};
use super::names::{Decision, Names};
use crate::shim::Service;

/// The server's address inside the container, Docker's.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// How long one upstream resolver gets to answer before the next is asked.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a TCP client may take to send its query.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many forwarded queries wait at once; more are dropped (the client
/// retries), so a container cannot make the shim hold unbounded state.
const MAX_PENDING: usize = 256;
const MAX_TCP: usize = 32;
/// Docker's largest UDP answer it relays, and a TCP message's largest size.
const MAX_MESSAGE: usize = 65535;

/// The server of one running container.
pub struct DnsServer {
    udp: UdpSocket,
    tcp: TcpListener,
    /// An unbound-port socket in the container's namespace for forwarded queries.
    upstream: UdpSocket,
    upstreams: Vec<SocketAddr>,
    names_path: PathBuf,
    /// The names file's (device, inode, mtime, size) when last read, and its names.
    names: Option<((u64, u64, i64, i64), Names)>,
    pending: Vec<Pending>,
    tcp_clients: Vec<TcpClient>,
    next_tcp: u64,
    next_id: u16,
    buf: Vec<u8>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("upstreams", &self.upstreams)
            .field("names_path", &self.names_path)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// Who a forwarded query's answer goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Udp(SocketAddr),
    /// A TCP client by its number (not its fd: a closed client's fd may be reused).
    Tcp(u64),
}

struct Pending {
    /// The id the query went upstream with.
    id: u16,
    client_id: u16,
    client: Client,
    query: Vec<u8>,
    /// The upstream asked now (an index into `upstreams`) and until when.
    upstream: usize,
    deadline: Instant,
}

struct TcpClient {
    id: u64,
    stream: TcpStream,
    inbox: Vec<u8>,
    deadline: Instant,
    /// A query of it waits for an upstream.
    waiting: bool,
}

impl DnsServer {
    /// Opens the server's sockets inside the network namespace `netns` (from a thread
    /// that enters it and returns): it will answer from the names file `names_path` and
    /// forward to `upstreams`.
    pub fn open(
        netns: std::os::fd::BorrowedFd<'_>,
        names_path: PathBuf,
        upstreams: Vec<SocketAddr>,
    ) -> std::io::Result<DnsServer> {
        let (udp, tcp, upstream) = crate::network::link::run_in_netns(netns, || {
            let addr = SocketAddr::from((ADDRESS, 53));
            let udp = UdpSocket::bind(addr)?;
            let tcp = TcpListener::bind(addr)?;
            let upstream = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
            Ok::<_, std::io::Error>((udp, tcp, upstream))
        })
        .map_err(|e| std::io::Error::other(crate::report(&e)))??;
        for s in [udp.as_fd(), tcp.as_fd(), upstream.as_fd()] {
            set_nonblocking(s)?;
        }
        Ok(DnsServer {
            udp,
            tcp,
            upstream,
            upstreams,
            names_path,
            names: None,
            pending: Vec::new(),
            tcp_clients: Vec::new(),
            next_tcp: 0,
            next_id: rand_id(),
            buf: vec![0; MAX_MESSAGE],
        })
    }

    /// The names, read again when the file changed (a stat per query: the file is
    /// replaced by a rename at every change, so its inode says it changed).
    fn names(&mut self) -> &Names {
        let key = std::fs::metadata(&self.names_path)
            .map(|m| (m.dev(), m.ino(), m.mtime_nsec(), m.size() as i64))
            .ok();
        let fresh = match (&self.names, key) {
            (Some((k, _)), Some(key)) => *k == key,
            _ => false,
        };
        if !fresh {
            let text = std::fs::read_to_string(&self.names_path).unwrap_or_default();
            self.names = Some((key.unwrap_or_default(), Names::parse(&text)));
        }
        &self.names.as_ref().expect("set above").1
    }

    /// The answer to one query message, or `None` when it is forwarded or dropped.
    fn handle(&mut self, msg: &[u8], client: Client) -> Option<Vec<u8>> {
        let q = match Query::parse(msg) {
            Ok(q) => q,
            Err(Malformed::Drop) => return None,
            Err(Malformed::Reply(id, flags, rcode)) => return Some(error_reply(id, flags, rcode)),
        };
        match self.names().decide(&q) {
            Decision::Answer(rcode, records) => Some(q.answer(rcode, &records)),
            Decision::Forward if self.upstreams.is_empty() => Some(q.answer(Rcode::ServFail, &[])),
            Decision::Forward => {
                if self.pending.len() >= MAX_PENDING {
                    return None;
                }
                self.next_id = self.next_id.wrapping_add(1);
                let mut p = Pending {
                    id: self.next_id,
                    client_id: q.id,
                    client,
                    query: msg.to_vec(),
                    upstream: 0,
                    deadline: Instant::now(),
                };
                p.query[..2].copy_from_slice(&p.id.to_be_bytes());
                if self.send_upstream(&mut p) {
                    self.pending.push(p);
                    None
                } else {
                    Some(q.answer(Rcode::ServFail, &[]))
                }
            }
        }
    }

    /// Sends `p` to its upstream or the next that takes it; false when none is left.
    fn send_upstream(&self, p: &mut Pending) -> bool {
        while let Some(to) = self.upstreams.get(p.upstream) {
            if self.upstream.send_to(&p.query, to).is_ok() {
                p.deadline = Instant::now() + UPSTREAM_TIMEOUT;
                return true;
            }
            p.upstream += 1;
        }
        false
    }

    fn reply(&mut self, client: Client, msg: &[u8]) {
        match client {
            Client::Udp(to) => {
                let _ = self.udp.send_to(msg, to);
            }
            Client::Tcp(id) => {
                let Some(i) = self.tcp_clients.iter().position(|c| c.id == id) else {
                    return;
                };
                let c = &mut self.tcp_clients[i];
                c.waiting = false;
                let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(msg);
                // Answers are small: a socket buffer that cannot take one at once means a
                // client that does not read; it is dropped.
                if c.stream.write(&framed).ok() != Some(framed.len()) {
                    self.tcp_clients.remove(i);
                }
            }
        }
    }

    fn on_udp(&mut self) {
        for _ in 0..64 {
            let mut buf = std::mem::take(&mut self.buf);
            let got = self.udp.recv_from(&mut buf);
            let answer = match got {
                Ok((n, from)) => self.handle(&buf[..n], Client::Udp(from)).map(|a| (a, from)),
                Err(_) => {
                    self.buf = buf;
                    return;
                }
            };
            self.buf = buf;
            if let Some((a, from)) = answer {
                let _ = self.udp.send_to(&a, from);
            }
        }
    }

    fn on_upstream(&mut self) {
        for _ in 0..64 {
            let mut buf = std::mem::take(&mut self.buf);
            let got = self.upstream.recv_from(&mut buf);
            let Ok((n, from)) = got else {
                self.buf = buf;
                return;
            };
            let mut msg = buf[..n].to_vec();
            self.buf = buf;
            if n < 12 || msg[2] & 0x80 == 0 {
                continue;
            }
            let id = u16::from_be_bytes([msg[0], msg[1]]);
            let Some(i) = self
                .pending
                .iter()
                .position(|p| p.id == id && self.upstreams.get(p.upstream) == Some(&from))
            else {
                continue;
            };
            let p = self.pending.swap_remove(i);
            msg[..2].copy_from_slice(&p.client_id.to_be_bytes());
            self.reply(p.client, &msg);
        }
    }

    fn on_accept(&mut self) {
        while let Ok((stream, _)) = self.tcp.accept() {
            if self.tcp_clients.len() >= MAX_TCP || set_nonblocking(stream.as_fd()).is_err() {
                continue;
            }
            self.next_tcp += 1;
            self.tcp_clients.push(TcpClient {
                id: self.next_tcp,
                stream,
                inbox: Vec::new(),
                deadline: Instant::now() + TCP_TIMEOUT,
                waiting: false,
            });
        }
    }

    fn on_tcp(&mut self, fd: RawFd) {
        let Some(i) = self
            .tcp_clients
            .iter()
            .position(|c| c.stream.as_raw_fd() == fd)
        else {
            return;
        };
        let mut chunk = [0u8; 4096];
        let c = &mut self.tcp_clients[i];
        match c.stream.read(&mut chunk) {
            Ok(0) => {
                self.tcp_clients.remove(i);
                return;
            }
            Ok(n) => c.inbox.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                return;
            }
            Err(_) => {
                self.tcp_clients.remove(i);
                return;
            }
        }
        // One query at a time per connection: the next waits for this one's answer.
        if c.waiting || c.inbox.len() < 2 {
            return;
        }
        let len = u16::from_be_bytes([c.inbox[0], c.inbox[1]]) as usize;
        if c.inbox.len() < 2 + len {
            return;
        }
        let msg: Vec<u8> = c.inbox.drain(..2 + len).skip(2).collect();
        c.waiting = true;
        c.deadline = Instant::now() + TCP_TIMEOUT;
        let client = Client::Tcp(c.id);
        if let Some(a) = self.handle(&msg, client) {
            self.reply(client, &a);
        }
    }
}

impl Service for DnsServer {
    fn fds(&self) -> Vec<RawFd> {
        let mut v = vec![
            self.udp.as_raw_fd(),
            self.tcp.as_raw_fd(),
            self.upstream.as_raw_fd(),
        ];
        v.extend(self.tcp_clients.iter().map(|c| c.stream.as_raw_fd()));
        v
    }

    fn on_ready(&mut self, fd: RawFd) {
        if fd == self.udp.as_raw_fd() {
            self.on_udp();
        } else if fd == self.tcp.as_raw_fd() {
            self.on_accept();
        } else if fd == self.upstream.as_raw_fd() {
            self.on_upstream();
        } else {
            self.on_tcp(fd);
        }
    }

    fn wake_at(&self) -> Option<Instant> {
        let p = self.pending.iter().map(|p| p.deadline);
        p.chain(self.tcp_clients.iter().map(|c| c.deadline)).min()
    }

    fn tick(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].deadline > now {
                i += 1;
                continue;
            }
            let mut p = self.pending.swap_remove(i);
            p.upstream += 1;
            if self.send_upstream(&mut p) {
                self.pending.push(p);
            } else if let Ok(q) = Query::parse(&p.query) {
                let mut a = q.answer(Rcode::ServFail, &[]);
                a[..2].copy_from_slice(&p.client_id.to_be_bytes());
                self.reply(p.client, &a);
            }
        }
        self.tcp_clients.retain(|c| c.deadline > now);
    }
}

fn set_nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// A starting id for forwarded queries that another process cannot guess from the
/// container's queries (they are not echoed, but upstream answers are matched on it).
fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    u16::from_be_bytes(b)
}

/// The upstream resolvers: `--dns` when given, else `configured` (the engine's
/// setting), else the name servers of the host's resolv.conf text that are not loopback
/// (unreachable from the container's namespace), else Google's, as Docker falls back to.
pub fn upstreams(
    dns: &[String],
    configured: &[SocketAddr],
    host_resolv_conf: &str,
) -> Vec<SocketAddr> {
    let parse = |s: &str| {
        s.parse::<SocketAddr>()
            .ok()
            .or_else(|| s.parse::<std::net::IpAddr>().ok().map(|ip| (ip, 53).into()))
    };
    let from_dns: Vec<SocketAddr> = dns.iter().filter_map(|d| parse(d)).collect();
    if !from_dns.is_empty() {
        return from_dns;
    }
    if !configured.is_empty() {
        return configured.to_vec();
    }
    let host: Vec<SocketAddr> = host_resolv_conf
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("nameserver")).then(|| f.next()).flatten()
        })
        .filter_map(parse)
        .filter(|a| !a.ip().is_loopback() && a.is_ipv4())
        .collect();
    if !host.is_empty() {
        return host;
    }
    ["8.8.8.8:53", "8.8.4.4:53"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
