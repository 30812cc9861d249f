//! The proxy with real sockets on loopback: a "container" listening on 127.0.0.1 (what a
//! container's bridge address is to the proxy), the published port on [::1], and the
//! proxy driven by a poll loop as the shim's event loop drives it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::super::{HostBinding, PortBindings, reserve, reserve::host_has_ipv6};
use super::PortProxy;
use crate::shim::Service;

/// The proxy of `[::1]:<picked>` to `127.0.0.1:container_port/proto`, served on a
/// thread until the returned flag is set; and the published port.
fn serve(key: &str) -> (Arc<AtomicBool>, thread::JoinHandle<()>, u16) {
    serve_to(key, None)
}

/// A retarget and the channel its loop says it is done on.
type Retarget = (Option<Ipv4Addr>, mpsc::Sender<()>);

/// As [`serve`], and the loop also retargets the proxy when asked on `asks`, between
/// polls, and says when it did.
fn serve_to(
    key: &str,
    asks: Option<mpsc::Receiver<Retarget>>,
) -> (Arc<AtomicBool>, thread::JoinHandle<()>, u16) {
    let held = reserve(&PortBindings::from([(
        key.to_string(),
        vec![HostBinding {
            host_ip: "::1".into(),
            host_port: String::new(),
        }],
    )]))
    .unwrap();
    let port = held[0].host_port;
    let mut proxy = PortProxy::new(&held, Ipv4Addr::LOCALHOST).unwrap().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let t = thread::spawn(move || {
        let _held = held;
        while !flag.load(Ordering::Relaxed) {
            while let Some((to, done)) = asks.as_ref().and_then(|a| a.try_recv().ok()) {
                proxy.retarget(to);
                done.send(()).unwrap();
            }
            let mut slots: Vec<(RawFd, PollFlags)> = proxy
                .fds()
                .into_iter()
                .map(|fd| (fd, PollFlags::POLLIN))
                .collect();
            slots.extend(
                proxy
                    .write_fds()
                    .into_iter()
                    .map(|fd| (fd, PollFlags::POLLOUT)),
            );
            let mut fds: Vec<PollFd> = slots
                .iter()
                // SAFETY: the proxy owns these fds and keeps them open across the poll.
                .map(|(fd, ev)| PollFd::new(unsafe { BorrowedFd::borrow_raw(*fd) }, *ev))
                .collect();
            poll(&mut fds, PollTimeout::from(10u8)).unwrap();
            let ready: Vec<RawFd> = fds
                .iter()
                .zip(&slots)
                .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(_, (fd, _))| *fd)
                .collect();
            for fd in ready {
                proxy.on_ready(fd);
            }
            proxy.tick(Instant::now());
        }
    });
    (stop, t, port)
}

fn stop(s: (Arc<AtomicBool>, thread::JoinHandle<()>, u16)) {
    s.0.store(true, Ordering::Relaxed);
    s.1.join().unwrap();
}

fn digest(data: &[u8]) -> u64 {
    // FNV-1a: enough to tell the bytes apart.
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

#[test]
fn tcp_is_relayed_both_ways_and_half_closes_pass() {
    if !host_has_ipv6() {
        eprintln!("skipped: this host has no IPv6");
        return;
    }
    let container = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let cport = container.local_addr().unwrap().port();
    // The container reads to the end, then answers with what it got and from where.
    let server = thread::spawn(move || {
        let (mut s, peer) = container.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        let answer = format!("{} {} {}", got.len(), digest(&got), peer.ip());
        s.write_all(answer.as_bytes()).unwrap();
    });
    let proxy = serve(&format!("{cport}/tcp"));
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let mut c = TcpStream::connect(("::1", proxy.2)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(&data).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert_eq!(
        answer,
        format!("{} {} 127.0.0.1", data.len(), digest(&data))
    );
    server.join().unwrap();
    stop(proxy);
}

#[test]
fn a_container_port_where_nothing_listens_closes_the_connection() {
    if !host_has_ipv6() {
        eprintln!("skipped: this host has no IPv6");
        return;
    }
    // A port nothing listens on (free a moment ago).
    let closed = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let cport = closed.local_addr().unwrap().port();
    drop(closed);
    let proxy = serve(&format!("{cport}/tcp"));
    let mut c = TcpStream::connect(("::1", proxy.2)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    // Ends (EOF or reset), rather than hanging until the timeout.
    match c.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("read {n} bytes from nowhere"),
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
    stop(proxy);
}

#[test]
fn udp_datagrams_go_both_ways_for_each_peer() {
    if !host_has_ipv6() {
        eprintln!("skipped: this host has no IPv6");
        return;
    }
    let container = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
    let cport = container.local_addr().unwrap().port();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let echo = thread::spawn(move || {
        container
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0u8; 2048];
        while !d.load(Ordering::Relaxed) {
            if let Ok((n, from)) = container.recv_from(&mut buf) {
                let mut out = b"echo ".to_vec();
                out.extend_from_slice(&buf[..n]);
                container.send_to(&out, from).unwrap();
            }
        }
    });
    let proxy = serve(&format!("{cport}/udp"));
    let peers: Vec<UdpSocket> = (0..2)
        .map(|_| UdpSocket::bind(("::1", 0)).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    for (i, p) in peers.iter().enumerate() {
        p.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let msg = format!("peer {i}");
        // A datagram may be lost: sent again until the answer comes.
        let answer = loop {
            assert!(Instant::now() < deadline, "no answer for {msg}");
            p.send_to(msg.as_bytes(), ("::1", proxy.2)).unwrap();
            let mut buf = [0u8; 2048];
            if let Ok((n, from)) = p.recv_from(&mut buf) {
                assert_eq!(from.port(), proxy.2, "answered from the published port");
                break String::from_utf8_lossy(&buf[..n]).into_owned();
            }
        };
        assert_eq!(answer, format!("echo {msg}"));
    }
    stop(proxy);
    done.store(true, Ordering::Relaxed);
    echo.join().unwrap();
}

#[test]
fn a_retargeted_proxy_relays_to_the_new_address_or_to_nothing() {
    if !host_has_ipv6() {
        eprintln!("skipped: this host has no IPv6");
        return;
    }
    // Two "containers" on the same port: 127.0.0.1 (the first network) and 127.0.0.2
    // (the one that carries the ports once the first left). Each says who it is.
    let first = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let cport = first.local_addr().unwrap().port();
    let second = TcpListener::bind(("127.0.0.2", cport)).unwrap();
    for (l, name) in [(first, "first"), (second, "second")] {
        thread::spawn(move || {
            for s in l.incoming() {
                let _ = s.unwrap().write_all(name.as_bytes());
            }
        });
    }
    let (ask, asks) = mpsc::channel();
    let proxy = serve_to(&format!("{cport}/tcp"), Some(asks));
    let fetch = || {
        let mut c = TcpStream::connect(("::1", proxy.2)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = String::new();
        let _ = c.read_to_string(&mut got);
        got
    };
    let retarget = |to: Option<Ipv4Addr>| {
        let (done, wait) = mpsc::channel();
        ask.send((to, done)).unwrap();
        wait.recv_timeout(Duration::from_secs(10)).unwrap();
    };
    assert_eq!(fetch(), "first");
    retarget(Some(Ipv4Addr::new(127, 0, 0, 2)));
    assert_eq!(fetch(), "second");
    // Nowhere: accepted and closed, nothing read.
    retarget(None);
    assert_eq!(fetch(), "");
    retarget(Some(Ipv4Addr::LOCALHOST));
    assert_eq!(fetch(), "first");
    stop(proxy);
}
