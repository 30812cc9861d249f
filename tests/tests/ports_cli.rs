//! `tug port`, the PORTS column of `ps` and the `-p`/`-P` flags: Docker's output, exit
//! codes and messages; a published port reached from the host; a host port in use fails
//! `run` and holds nothing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use tug_e2e::containers::Containers;
use tug_e2e::net;
use tug_e2e::wait_for;
use tug_e2e::{TestRoot, code, stderr, text};

#[test]
fn port_help_is_dockers() {
    let t = TestRoot::new();
    insta::assert_snapshot!("port_help", t.ok(&["port", "--help"]));
}

#[test]
fn port_of_a_container_without_published_ports() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.add(&t.ok(&["create", "--name", "quiet", "busybox", "true"]));
    assert_eq!(t.ok(&["port", "quiet"]), "");
    let out = t.run(&["port", "quiet", "80"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(
        stderr(&out),
        "tug: No public port '80' published for quiet\n"
    );
    let out = t.run(&["port", "quiet", "80/udp"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("No public port '80/udp' published for quiet"));
    let out = t.run(&["port", "quiet", "http"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("invalid port (http)"),
        "{}",
        text(&out)
    );
    let out = t.run(&["port", "nosuch"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("No such container: nosuch"));
    let ps = t.ok(&["ps", "-a", "--format", "{{.Names}} [{{.Ports}}]"]);
    assert_eq!(ps, "quiet []\n");
}

#[test]
fn bad_publish_values_fail_run_with_125_and_create_nothing() {
    let t = TestRoot::with_busybox();
    for (flag, why) in [
        ("99999:80", "invalid hostPort: 99999"),
        (
            "8000-8002:80-81",
            "invalid ranges specified for container and host Ports",
        ),
        ("80/sctp", "invalid proto: sctp"),
        ("[::1:80:80", "missing ']' in address"),
        ("localhost:80:80", "invalid IP address: localhost"),
    ] {
        let out = t.run(&["run", "-p", flag, "busybox", "true"]);
        assert_eq!(code(&out), 125, "-p {flag}: {}", text(&out));
        assert!(stderr(&out).contains(why), "-p {flag}: {}", text(&out));
    }
    assert_eq!(t.ok(&["ps", "-aq"]), "");
}

/// GET / from `127.0.0.1:port`, or None while nothing answers.
fn http_get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
fn random_host_port_is_reported_by_port_ps_and_inspect() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "web",
        "-p",
        "8080",
        "--expose",
        "9090",
        "busybox",
        "sh",
        "-c",
        "mkdir /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www",
    ]);
    let lines = t.ok(&["port", "web"]);
    let host_port: u16 = lines
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("8080/tcp -> 0.0.0.0:"))
        .unwrap_or_else(|| panic!("port web: {lines:?}"))
        .parse()
        .expect("a port number");
    assert_ne!(host_port, 0);
    // On IPv6's every address too, with the same number (when the host has IPv6).
    assert_eq!(lines, net::port_lines_all("8080/tcp -> ", host_port));
    assert_eq!(
        t.ok(&["port", "web", "8080"]),
        net::port_lines_all("", host_port)
    );
    assert_eq!(
        t.ok(&["port", "web", "8080/tcp"]),
        net::port_lines_all("", host_port)
    );
    assert_eq!(
        t.ok(&["ps", "--format", "{{.Ports}}"]),
        // Docker's order: folded groups (unpublished here) first, then the mappings.
        format!(
            "9090/tcp, {}\n",
            net::ps_mappings_all(host_port, "8080/tcp")
        )
    );
    assert_eq!(
        t.inspect_f("web", "{{json .NetworkSettings.Ports}}"),
        format!(
            r#"{{"8080/tcp":{},"9090/tcp":null}}"#,
            net::bindings_json_all(host_port)
        )
    );
    let mut body = String::new();
    wait_for(
        "the published port to answer",
        Duration::from_secs(10),
        || {
            body = http_get(host_port).unwrap_or_default();
            body.contains("hello-from-web")
        },
    );
    t.ok(&["rm", "-f", "web"]);
    // Released with the container.
    TcpListener::bind(("0.0.0.0", host_port)).expect("the host port is free again");
}

#[test]
fn publish_all_maps_every_exposed_port() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "all",
        "-P",
        "--expose",
        "7000-7001",
        "--expose",
        "7002/udp",
        "busybox",
        "sleep",
        "60",
    ]);
    let lines: Vec<String> = t.ok(&["port", "all"]).lines().map(String::from).collect();
    let every = net::every_address();
    assert_eq!(lines.len(), 3 * every.len(), "{lines:?}");
    let keys = ["7000/tcp", "7001/tcp", "7002/udp"];
    let want = keys
        .iter()
        .flat_map(|k| every.iter().map(move |ip| (k, ip)));
    for (line, (key, ip)) in lines.iter().zip(want) {
        let port = line
            .strip_prefix(&format!("{key} -> {ip}:"))
            .unwrap_or_else(|| panic!("{lines:?}"));
        assert!(port.parse::<u16>().is_ok_and(|p| p != 0), "{line}");
    }
}

#[test]
fn a_host_port_in_use_fails_run_and_holds_nothing() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let listener = TcpListener::bind(("0.0.0.0", 0)).unwrap();
    let taken = listener.local_addr().unwrap().port();
    let free = TcpListener::bind(("0.0.0.0", 0)).unwrap();
    let other = free.local_addr().unwrap().port();
    drop(free);
    let (p1, p2) = (format!("{other}:81"), format!("{taken}:80"));
    let out = t.run(&[
        "run", "-d", "--name", "clash", "-p", &p1, "-p", &p2, "busybox", "sleep", "60",
    ]);
    if let Ok(id) = String::from_utf8(out.stdout.clone()) {
        cs.add(&id);
    }
    cs.add("clash");
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "Bind for 0.0.0.0:{taken} failed: port is already allocated"
        )),
        "{}",
        text(&out)
    );
    assert_eq!(t.ok(&["ps", "-q"]), "", "nothing runs");
    drop(listener);
    // Neither port stays held by tug.
    TcpListener::bind(("0.0.0.0", taken)).expect("the clashing port is free");
    TcpListener::bind(("0.0.0.0", other)).expect("the other port is free");
}

/// A UDP echo server (upper-casing what it gets) on port 5353: the host's python3 run from
/// its /usr, /lib and /lib64, mounted read-only (busybox has no UDP server).
const UDP_ECHO: &str = "import socket\n\
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
s.bind(('', 5353))\n\
while True:\n    d, a = s.recvfrom(2048)\n    s.sendto(d.upper(), a)\n";

#[test]
fn published_udp_port_on_loopback_reaches_the_container_and_back() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let real = |p: &str| std::fs::canonicalize(p).unwrap().display().to_string();
    let (lib, lib64) = (real("/lib"), real("/lib64"));
    let (lib, lib64) = (format!("{lib}:/lib:ro"), format!("{lib64}:/lib64:ro"));
    cs.run_d(&[
        "--name",
        "echo",
        "-p",
        "127.0.0.1::5353/udp",
        "-v",
        "/usr:/usr:ro",
        "-v",
        &lib,
        "-v",
        &lib64,
        "busybox",
        "/usr/bin/python3",
        "-c",
        UDP_ECHO,
    ]);
    let line = t.ok(&["port", "echo", "5353/udp"]);
    let host_port: u16 = line
        .trim()
        .strip_prefix("127.0.0.1:")
        .unwrap_or_else(|| panic!("port echo 5353/udp: {line:?}"))
        .parse()
        .expect("a port number");
    assert_eq!(
        t.ok(&["ps", "--format", "{{.Ports}}"]),
        format!("127.0.0.1:{host_port}->5353/udp\n")
    );
    // Datagrams sent before the server binds are lost: send again until one comes back.
    let sock = std::net::UdpSocket::bind(("127.0.0.1", 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64];
    wait_for("the echo of a datagram", Duration::from_secs(10), || {
        sock.send_to(b"ping-over-udp", ("127.0.0.1", host_port))
            .unwrap();
        matches!(sock.recv_from(&mut buf), Ok((n, _)) if &buf[..n] == b"PING-OVER-UDP")
    });
}

#[test]
fn a_published_port_nobody_listens_on_refuses_at_once() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&["--name", "idle", "-p", "8080", "busybox", "sleep", "60"]);
    let line = t.ok(&["port", "idle", "8080"]);
    let host_port: u16 = line
        .lines()
        .next()
        .unwrap_or_default()
        .strip_prefix("0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("port idle 8080: {line:?}"));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], host_port));
    let start = std::time::Instant::now();
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .expect_err("nobody listens in the container");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
