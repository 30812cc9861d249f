//! Whether a TCP port listens inside a container's network namespace ([`PortProbe`]),
//! asked of the kernel with sock_diag (NETLINK_SOCK_DIAG) on a socket made in that
//! namespace: a dump of listening sockets only, which costs microseconds, where reading
//! `/proc/<pid>/net/tcp` walks the host's whole connection table (milliseconds). Where
//! sock_diag cannot be used, `/proc/<pid>/net/tcp{,6}` is read instead.
//!
//! The caller's threads never change namespace: the socket is made on a short-lived
//! thread of its own (setns of a network namespace affects the calling thread only), so
//! a multi-threaded caller (a test binary) is safe.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::container::Ctx;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const TCP_LISTEN: u32 = 10;
/// nlmsghdr (16 bytes) + inet_diag_req_v2 (56 bytes).
const REQ_LEN: usize = 16 + 56;

impl Ctx<'_> {
    /// The work of `Engine::port_probe`.
    pub(crate) fn port_probe(&self, name: &str) -> crate::container::Result<PortProbe> {
        let c = self.running_container(name)?;
        Ok(PortProbe::new(c.state.pid))
    }

    /// The work of `Engine::is_port_listening`.
    pub(crate) fn is_port_listening(
        &self,
        name: &str,
        port: u16,
    ) -> crate::container::Result<bool> {
        Ok(self.port_probe(name)?.listens(port))
    }
}

/// Asks whether TCP ports listen in the network namespace of a container's process.
#[derive(Debug)]
pub struct PortProbe {
    pid: i32,
    /// The sock_diag socket; `None` where it could not be made (then procfs is read).
    diag: Option<SockDiag>,
}

impl PortProbe {
    /// A probe in the network namespace of process `pid`.
    pub fn new(pid: i32) -> PortProbe {
        PortProbe {
            pid,
            diag: SockDiag::new(pid).ok(),
        }
    }

    /// Whether a TCP socket (IPv4 or IPv6) listens on `port` in the namespace.
    pub fn listens(&mut self, port: u16) -> bool {
        match self.diag.as_mut().map(|d| d.listens(port)) {
            Some(Ok(yes)) => yes,
            _ => listens_in_procfs(self.pid, port),
        }
    }
}

/// The TCP ports in LISTEN state in a /proc/net/tcp or tcp6 text.
fn listening_ports(text: &str) -> Vec<u16> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local = f.get(1)?;
            let state = f.get(3)?;
            if *state != "0A" {
                return None;
            }
            let port = local.rsplit_once(':')?.1;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

/// Whether a TCP socket listens on `port` in the network namespace of process `pid`,
/// read from procfs.
fn listens_in_procfs(pid: i32, port: u16) -> bool {
    ["tcp", "tcp6"].iter().any(|f| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{f}"))
            .is_ok_and(|t| listening_ports(&t).contains(&port))
    })
}

/// A sock_diag socket in the network namespace of a process.
#[derive(Debug)]
struct SockDiag {
    sock: OwnedFd,
    seq: u32,
}

impl SockDiag {
    /// A socket in the network namespace of process `pid`.
    fn new(pid: i32) -> std::io::Result<SockDiag> {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
        // A netlink socket belongs to the namespace it was made in: make it on a thread
        // that joined the container's namespace (setns of a net ns affects that thread
        // only), then use it from any thread.
        let sock = std::thread::scope(|s| {
            s.spawn(|| -> std::io::Result<OwnedFd> {
                // SAFETY: setns takes an fd this thread holds open and a flag by value.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // SAFETY: socket takes plain values and returns a new fd or -1.
                let fd = unsafe {
                    libc::socket(
                        libc::AF_NETLINK,
                        libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                        libc::NETLINK_SOCK_DIAG,
                    )
                };
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // SAFETY: the fd was just returned by socket; nothing else owns it.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the sock_diag thread panicked")))
        })?;
        Ok(SockDiag { sock, seq: 0 })
    }

    /// Whether a TCP socket (IPv4 or IPv6) listens on `port` in the namespace.
    fn listens(&mut self, port: u16) -> std::io::Result<bool> {
        for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
            if self.dump(family)?.contains(&port) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The local ports of the listening TCP sockets of `family`.
    fn dump(&mut self, family: u8) -> std::io::Result<Vec<u16>> {
        self.seq = self.seq.wrapping_add(1);
        let req = request(family, self.seq);
        // SAFETY: send reads REQ_LEN bytes from a live buffer of that size.
        let n = unsafe { libc::send(self.sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut ports = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: recv writes at most buf.len() bytes into the live buffer.
            let n =
                unsafe { libc::recv(self.sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            match parse_replies(&buf[..n as usize], self.seq, &mut ports) {
                Some(Ok(())) => return Ok(ports),
                Some(Err(errno)) => return Err(std::io::Error::from_raw_os_error(errno)),
                None => {}
            }
        }
    }
}

/// A dump request of the listening TCP sockets of `family`.
fn request(family: u8, seq: u32) -> [u8; REQ_LEN] {
    let mut r = [0u8; REQ_LEN];
    r[0..4].copy_from_slice(&(REQ_LEN as u32).to_ne_bytes());
    r[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    r[6..8].copy_from_slice(&flags.to_ne_bytes());
    r[8..12].copy_from_slice(&seq.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, ext, pad, states; the socket id stays zero.
    r[16] = family;
    r[17] = libc::IPPROTO_TCP as u8;
    r[20..24].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    r
}

/// Adds the local ports of the inet_diag_msg replies in `buf` to `ports`. `Some(Ok)` at
/// the end of the dump, `Some(Err(errno))` on an error reply, `None`: more to read.
fn parse_replies(mut buf: &[u8], seq: u32, ports: &mut Vec<u16>) -> Option<Result<(), i32>> {
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(buf[4..6].try_into().ok()?);
        let msg_seq = u32::from_ne_bytes(buf[8..12].try_into().ok()?);
        if len < 16 || len > buf.len() {
            return Some(Err(libc::EBADMSG));
        }
        let body = &buf[16..len];
        if msg_seq == seq {
            match kind {
                NLMSG_DONE => return Some(Ok(())),
                NLMSG_ERROR => {
                    let errno = body
                        .get(0..4)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(-libc::EBADMSG);
                    return Some(if errno == 0 { Ok(()) } else { Err(-errno) });
                }
                // inet_diag_msg: family, state, timer, retrans, then the socket id,
                // whose first field is the source port in network order.
                SOCK_DIAG_BY_FAMILY if body.len() >= 6 => {
                    ports.push(u16::from_be_bytes([body[4], body[5]]));
                }
                _ => {}
            }
        }
        // Messages are aligned to 4 bytes.
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or_default();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_listener_of_this_process_namespace() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let me = std::process::id() as i32;
        let mut p = SockDiag::new(me).unwrap();
        assert!(p.listens(port).unwrap());
        assert!(PortProbe::new(me).listens(port));
        assert!(listens_in_procfs(me, port));
        drop(l);
        assert!(!p.listens(port).unwrap());
        assert!(!listens_in_procfs(me, port));
    }

    #[test]
    fn listening_sockets_are_read_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
           1: 0100007F:0035 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n";
        assert_eq!(listening_ports(text), vec![8080]);
        let tcp6 = "  sl  local_address                         remote_address                        st\n\
           0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0\n";
        assert_eq!(listening_ports(tcp6), vec![80]);
        assert!(listening_ports("header only\n").is_empty());
    }

    #[test]
    fn replies_parse_to_ports_until_done() {
        fn msg(buf: &mut Vec<u8>, kind: u16, seq: u32, body: &[u8]) {
            let len = 16 + body.len();
            buf.extend_from_slice(&(len as u32).to_ne_bytes());
            buf.extend_from_slice(&kind.to_ne_bytes());
            buf.extend_from_slice(&[0, 0]);
            buf.extend_from_slice(&seq.to_ne_bytes());
            buf.extend_from_slice(&[0; 4]);
            buf.extend_from_slice(body);
            while !buf.len().is_multiple_of(4) {
                buf.push(0);
            }
        }
        let mut buf = Vec::new();
        msg(
            &mut buf,
            SOCK_DIAG_BY_FAMILY,
            7,
            &[2, 10, 0, 0, 0x1f, 0x90, 0, 0],
        );
        msg(
            &mut buf,
            SOCK_DIAG_BY_FAMILY,
            6,
            &[2, 10, 0, 0, 0x00, 0x50, 0, 0],
        );
        let mut ports = Vec::new();
        assert_eq!(parse_replies(&buf, 7, &mut ports), None);
        msg(&mut buf, NLMSG_DONE, 7, &[0, 0, 0, 0]);
        ports.clear();
        assert_eq!(parse_replies(&buf, 7, &mut ports), Some(Ok(())));
        assert_eq!(ports, [8080]);
    }
}
