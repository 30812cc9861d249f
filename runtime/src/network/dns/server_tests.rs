//! The server on real sockets, in a test network namespace standing in for a container's:
//! names from the file (read again when it is replaced), FORMERR for a malformed query,
//! forwarding with a failover to the next upstream, SERVFAIL when none answers, and the
//! choice of upstreams.

use std::net::UdpSocket;
use std::os::fd::{AsFd, BorrowedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::*;
use crate::network::dns::message::{TYPE_A, query, read_response};
use crate::network::link::run_in_netns;
use crate::network::testns::{HOST_ADDR, TestNetns};

/// Runs the server's loop (as the shim's event loop does) until `client` has an answer,
/// or `limit` passes.
fn answer_of(server: &mut DnsServer, client: &UdpSocket, limit: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    client.set_nonblocking(true).unwrap();
    while Instant::now() < end {
        if let Ok(n) = client.recv(&mut buf) {
            return Some(buf[..n].to_vec());
        }
        let fds = server.fds();
        let mut polled: Vec<PollFd> = fds
            .iter()
            // SAFETY: the server owns these fds and keeps them open across the poll.
            .map(|fd| PollFd::new(unsafe { BorrowedFd::borrow_raw(*fd) }, PollFlags::POLLIN))
            .collect();
        let _ = poll(&mut polled, PollTimeout::from(20u8));
        let ready: Vec<RawFd> = polled
            .iter()
            .zip(&fds)
            .filter(|(p, _)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, fd)| *fd)
            .collect();
        for fd in ready {
            server.on_ready(fd);
        }
        server.tick(Instant::now());
    }
    None
}

struct Setup {
    ns: TestNetns,
    dir: tempfile::TempDir,
    server: DnsServer,
    client: UdpSocket,
}

fn setup(upstreams: Vec<SocketAddr>) -> Setup {
    let ns = TestNetns::host("dns");
    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("dns-names");
    crate::fsutil::write_atomic(&names, b"app\t10.0.0.2\tweb\n").unwrap();
    let server = DnsServer::open(ns.file.as_fd(), names, upstreams).expect("open the server");
    let client = run_in_netns(ns.file.as_fd(), || {
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.connect((ADDRESS, 53)).unwrap();
        c
    })
    .unwrap();
    Setup {
        ns,
        dir,
        server,
        client,
    }
}

fn ask(s: &mut Setup, name: &str) -> Option<(u16, Rcode, Vec<super::super::message::Rdata>)> {
    s.client.send(&query(77, name, TYPE_A)).unwrap();
    let a = answer_of(&mut s.server, &s.client, Duration::from_secs(6))?;
    read_response(&a)
}

#[test]
fn names_come_from_the_file_and_follow_its_replacement() {
    let mut s = setup(Vec::new());
    let (id, rcode, data) = ask(&mut s, "web").expect("an answer");
    assert_eq!((id, rcode), (77, Rcode::NoError));
    assert_eq!(
        data,
        vec![super::super::message::Rdata::A([10, 0, 0, 2].into())]
    );
    assert_eq!(ask(&mut s, "db").unwrap().1, Rcode::NxDomain);
    let names = s.dir.path().join("dns-names");
    crate::fsutil::write_atomic(&names, b"app\t10.0.0.3\tdb\n").unwrap();
    assert_eq!(ask(&mut s, "db").unwrap().1, Rcode::NoError);
    assert_eq!(ask(&mut s, "web").unwrap().1, Rcode::NxDomain);
    // No upstream: an outside name fails at once.
    assert_eq!(ask(&mut s, "example.com").unwrap().1, Rcode::ServFail);
}

#[test]
fn a_malformed_query_gets_formerr_and_garbage_nothing() {
    let mut s = setup(Vec::new());
    let mut two = query(9, "web", TYPE_A);
    two[5] = 2;
    s.client.send(&two).unwrap();
    let a = answer_of(&mut s.server, &s.client, Duration::from_secs(2)).expect("FORMERR");
    assert_eq!(read_response(&a).unwrap().1, Rcode::FormErr);
    s.client.send(b"short").unwrap();
    assert_eq!(
        answer_of(&mut s.server, &s.client, Duration::from_millis(200)),
        None
    );
    // The server still answers after them.
    assert_eq!(ask(&mut s, "web").unwrap().1, Rcode::NoError);
}

#[test]
fn outside_names_go_to_the_next_upstream_when_one_is_silent_then_servfail() {
    let silent = SocketAddr::from((HOST_ADDR, 5301));
    let good = SocketAddr::from((HOST_ADDR, 5302));
    let mut s = setup(vec![silent, good]);
    let (quiet, answering) = run_in_netns(s.ns.file.as_fd(), || {
        (
            UdpSocket::bind(silent).unwrap(),
            UdpSocket::bind(good).unwrap(),
        )
    })
    .unwrap();
    answering.set_nonblocking(true).unwrap();
    s.client.send(&query(5, "example.com", TYPE_A)).unwrap();
    // The first upstream gets it and says nothing; after its timeout the second does.
    let start = Instant::now();
    let mut buf = [0u8; 512];
    let mut got = None;
    while got.is_none() && start.elapsed() < Duration::from_secs(5) {
        let _ = answer_of(&mut s.server, &s.client, Duration::from_millis(50));
        if let Ok((n, from)) = answering.recv_from(&mut buf) {
            got = Some((buf[..n].to_vec(), from));
        }
    }
    let (q, from) = got.expect("the second upstream was asked");
    assert!(start.elapsed() >= UPSTREAM_TIMEOUT);
    assert!(
        quiet.recv_from(&mut buf).is_ok(),
        "the first was asked first"
    );
    let q = Query::parse(&q).unwrap();
    assert_eq!(q.name(), "example.com");
    answering
        .send_to(
            &q.answer(
                Rcode::NoError,
                &[super::super::message::Rdata::A([192, 0, 2, 9].into())],
            ),
            from,
        )
        .unwrap();
    let a = answer_of(&mut s.server, &s.client, Duration::from_secs(2)).expect("relayed");
    let (id, rcode, data) = read_response(&a).unwrap();
    // The client's own id comes back, whatever id went upstream.
    assert_eq!((id, rcode), (5, Rcode::NoError));
    assert_eq!(
        data,
        vec![super::super::message::Rdata::A([192, 0, 2, 9].into())]
    );

    // Neither answers: SERVFAIL after both timeouts.
    drop(answering);
    let (_, rcode, _) = ask(&mut s, "example.org").expect("SERVFAIL");
    assert_eq!(rcode, Rcode::ServFail);
    drop(quiet);
}

#[test]
fn upstreams_come_from_dns_flags_then_the_setting_then_the_host() {
    let host = "search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nnameserver ::1\n";
    let set: Vec<SocketAddr> = vec!["10.9.9.9:5353".parse().unwrap()];
    assert_eq!(
        upstreams(&["1.1.1.1".into()], &set, host),
        vec!["1.1.1.1:53".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(upstreams(&[], &set, host), set);
    assert_eq!(
        upstreams(&[], &[], host),
        vec!["10.0.0.1:53".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(upstreams(&[], &[], "nameserver 127.0.0.53\n").len(), 2);
}
