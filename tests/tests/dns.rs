//! The embedded DNS server at 127.0.0.11 of containers on user networks: busybox's
//! `nslookup` (its own DNS client, no hosts file) finds names, aliases and short ids of
//! the network's containers, also of one started after the asker, and their addresses
//! (PTR), also after a restart; a name of another network is NXDOMAIN; outside names go to the upstream
//! resolver (here the test's own, in a container's namespace: never the internet);
//! queries over TCP are answered. Nothing is left after.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use tug::network::dns::message::{self, Query, Rcode, Rdata};
use tug_e2e::net::{NetTest, in_netns};
use tug_e2e::{code, text};

/// `nslookup NAME` run by `args` (a `run --rm ...` or `exec CONTAINER`): its output,
/// asserted to name `want`.
fn looks_up(n: &NetTest, args: &[&str], name: &str, want: &str) {
    let out = n.run(&[args, &["nslookup", name]].concat());
    let t = text(&out);
    assert!(t.contains(want), "{args:?} nslookup {name}: {t}");
    assert!(out.status.success(), "{args:?} nslookup {name}: {t}");
}

fn nxdomain(n: &NetTest, args: &[&str], name: &str) {
    let out = n.run(&[args, &["nslookup", name]].concat());
    let t = text(&out);
    assert_ne!(code(&out), 0, "{args:?} nslookup {name}: {t}");
    assert!(t.contains("NXDOMAIN"), "{args:?} nslookup {name}: {t}");
}

#[test]
fn names_aliases_ids_and_addresses_resolve_over_dns_and_not_across_networks() {
    let n = NetTest::new();
    n.network("dns-app", &[]);
    n.network("dns-other", &[]);
    let id = n.run_d(&[
        "--name",
        "dns-db",
        "--network",
        "dns-app",
        "--network-alias",
        "database",
        "busybox",
        "sleep",
        "60",
    ]);
    let ip = n.ip_on("dns-db", "dns-app").to_string();
    let on_app = ["run", "--rm", "--network", "dns-app", "busybox"];
    let resolv = n.run_rm_ok(&["--network", "dns-app", "busybox", "cat", "/etc/resolv.conf"]);
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    assert!(resolv.contains("ndots:0"), "{resolv}");
    looks_up(&n, &on_app, "dns-db", &format!("Address: {ip}"));
    looks_up(&n, &on_app, "database", &format!("Address: {ip}"));
    looks_up(&n, &on_app, &id[..12], &format!("Address: {ip}"));
    looks_up(&n, &on_app, "dns-db.dns-app", &format!("Address: {ip}"));
    looks_up(&n, &on_app, &ip, "name = dns-db.dns-app");
    nxdomain(&n, &on_app, "dns-nobody");
    // Not from another network.
    let on_other = ["run", "--rm", "--network", "dns-other", "busybox"];
    nxdomain(&n, &on_other, "dns-db");
    nxdomain(&n, &on_other, "database");
    // A container started after the asker is found by it; gone when it stops.
    n.run_d(&[
        "--name",
        "dns-asker",
        "--network",
        "dns-app",
        "busybox",
        "sleep",
        "60",
    ]);
    n.run_d(&[
        "--name",
        "dns-late",
        "--network",
        "dns-app",
        "busybox",
        "sleep",
        "60",
    ]);
    let late = n.ip_on("dns-late", "dns-app").to_string();
    looks_up(
        &n,
        &["exec", "dns-asker"],
        "dns-late",
        &format!("Address: {late}"),
    );
    n.ok(&["stop", "-t", "0", "dns-late"]);
    nxdomain(&n, &["exec", "dns-asker"], "dns-late");
    // A restarted container (a new network namespace) is served again.
    n.ok(&["restart", "-t", "0", "dns-asker"]);
    looks_up(
        &n,
        &["exec", "dns-asker"],
        "database",
        &format!("Address: {ip}"),
    );
    // The default bridge keeps the host's resolvers, as Docker.
    let resolv = n.run_rm_ok(&["busybox", "cat", "/etc/resolv.conf"]);
    assert!(!resolv.contains("127.0.0.11"), "{resolv}");
    n.finish();
}

#[test]
fn a_default_bridge_container_connected_to_a_user_network_gets_the_embedded_server() {
    let n = NetTest::new();
    n.network("dnsc-app", &[]);
    n.run_d(&[
        "--name",
        "dnsc-db",
        "--network",
        "dnsc-app",
        "busybox",
        "sleep",
        "60",
    ]);
    let ip = n.ip_on("dnsc-db", "dnsc-app").to_string();
    // Running: the shim starts its server and the resolv.conf names it, as Docker does.
    n.run_d(&["--name", "dnsc-web", "busybox", "sleep", "60"]);
    let cat_resolv = || {
        let out = n.exec("dnsc-web", &["cat", "/etc/resolv.conf"]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let resolv = cat_resolv();
    assert!(!resolv.contains("127.0.0.11"), "{resolv}");
    n.t.ok(&["network", "connect", "dnsc-app", "dnsc-web"]);
    let resolv = cat_resolv();
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    looks_up(
        &n,
        &["exec", "dnsc-web"],
        "dnsc-db",
        &format!("Address: {ip}"),
    );
    let web_ip = n.ip_on("dnsc-web", "dnsc-app").to_string();
    looks_up(
        &n,
        &["exec", "dnsc-db"],
        "dnsc-web",
        &format!("Address: {web_ip}"),
    );
    // Stopped: the server comes with the start.
    let id =
        n.t.ok(&["create", "--name", "dnsc-later", "busybox", "sleep", "60"]);
    n.remember(&id);
    n.t.ok(&["network", "connect", "dnsc-app", "dnsc-later"]);
    n.t.ok(&["start", "dnsc-later"]);
    looks_up(
        &n,
        &["exec", "dnsc-later"],
        "dnsc-db",
        &format!("Address: {ip}"),
    );
    // Off its only user network, its resolv.conf still names the server, which still
    // answers (for no peers), also after a restart.
    n.t.ok(&["network", "disconnect", "dnsc-app", "dnsc-later"]);
    n.t.ok(&["restart", "-t", "0", "dnsc-later"]);
    nxdomain(&n, &["exec", "dnsc-later"], "dnsc-db");
    n.finish();
}

/// A DNS responder of the test's own: a UDP socket on `addr` in the namespace of process
/// `pid`, answering every A query with 192.0.2.7 and other types with no record, until
/// `queries` were answered or a few seconds passed. Returns the names and types asked.
fn upstream(
    pid: i32,
    addr: SocketAddr,
    queries: usize,
) -> std::thread::JoinHandle<Vec<(String, u16)>> {
    let sock = in_netns(pid, || {
        UdpSocket::bind(addr).expect("bind the test's resolver")
    });
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    std::thread::spawn(move || {
        let mut asked = Vec::new();
        let mut buf = [0u8; 512];
        while asked.len() < queries {
            let Ok((len, from)) = sock.recv_from(&mut buf) else {
                break;
            };
            let Ok(q) = Query::parse(&buf[..len]) else {
                continue;
            };
            asked.push((q.name(), q.qtype));
            let records = match q.qtype {
                message::TYPE_A => vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 7))],
                _ => Vec::new(),
            };
            let a = q.answer(Rcode::NoError, &records);
            let _ = sock.send_to(&a, from);
        }
        asked
    })
}

#[test]
fn outside_names_are_forwarded_and_tcp_queries_answered() {
    let n = NetTest::new();
    n.network("dnsfw-app", &[]);
    n.run_d(&[
        "--name",
        "dnsfw-resolver",
        "--network",
        "dnsfw-app",
        "busybox",
        "sleep",
        "60",
    ]);
    let resolver = SocketAddr::from((n.ip_on("dnsfw-resolver", "dnsfw-app"), 5353));
    // busybox's nslookup asks for A and AAAA.
    let served = upstream(n.pid("dnsfw-resolver"), resolver, 2);
    // The engine's upstream setting replaces the host's resolvers (a test never asks
    // the real ones).
    let mut run = n.tug();
    run.env("TUG_DNS_UPSTREAM", resolver.to_string()).args([
        "run",
        "-d",
        "--name",
        "dnsfw-asker",
        "--network",
        "dnsfw-app",
        "busybox",
        "sleep",
        "60",
    ]);
    let out = run.output().expect("spawn tug");
    assert!(out.status.success(), "run: {}", text(&out));
    n.remember(&String::from_utf8_lossy(&out.stdout));
    let out = n.exec("dnsfw-asker", &["nslookup", "outside.example"]);
    assert!(
        text(&out).contains("Address: 192.0.2.7"),
        "forwarded: {}",
        text(&out)
    );
    let mut asked = served.join().expect("resolver thread");
    asked.sort();
    assert_eq!(
        asked,
        vec![
            ("outside.example".to_string(), message::TYPE_A),
            ("outside.example".to_string(), message::TYPE_AAAA)
        ]
    );

    // Over TCP, from inside the asker's namespace.
    let ip = n.ip_on("dnsfw-resolver", "dnsfw-app");
    let answer = in_netns(n.pid("dnsfw-asker"), || {
        let mut s = TcpStream::connect("127.0.0.11:53").expect("connect over TCP");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let q = message::query(0x4242, "dnsfw-resolver", message::TYPE_A);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        s.write_all(&framed).expect("send");
        let mut len = [0u8; 2];
        s.read_exact(&mut len).expect("read the length");
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut msg).expect("read the answer");
        message::read_response(&msg).expect("an answer")
    });
    assert_eq!(answer, (0x4242, Rcode::NoError, vec![Rdata::A(ip)]));
    // The server is only in the container's namespace: nothing answers on the host.
    assert!(
        TcpStream::connect_timeout(&"127.0.0.11:53".parse().unwrap(), Duration::from_secs(1))
            .is_err()
    );
    n.finish();
}
