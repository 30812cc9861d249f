//! Published ports (`-p`, `-P`, `tug port`): TCP and UDP reached from the host on
//! 127.0.0.1 and on the host's own address and from another container, a random host port
//! as `port`, `inspect` and `ps` report it, TCP half-close, 200 concurrent connections
//! with their bytes intact, a refused connection when nothing listens, a taken host
//! port failing `run` with Docker's message and leaving nothing behind, a port on one
//! host address and a range, ports following stop, start and a restart by policy, and
//! the ports and default route following the network that carries them when it leaves.
//!
//! Servers that busybox cannot be (UDP, half-close, many connections) are sockets the
//! test opens inside the container's network namespace; they are closed before the
//! container is removed (an open socket would keep the namespace, and so its veth, alive).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use tug_e2e::net::{self, NetTest};
use tug_e2e::{code, text};

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

#[test]
fn published_tcp_port_reaches_container_from_loopback_host_address_and_containers() {
    let n = NetTest::new();
    let hp = net::free_port(false);
    let cmd = net::httpd_cmd(80, "hello-tcp");
    n.run_d(&[
        "--name",
        "ports-tcp",
        "-p",
        &format!("{hp}:80"),
        "busybox",
        "sh",
        "-c",
        &cmd,
    ]);
    let limit = Duration::from_secs(5);
    net::wait_http(sa(LOCALHOST, hp), "hello-tcp", limit);
    let host = net::host_addr();
    net::wait_http(sa(host, hp), "hello-tcp", limit);
    // Another container reaches it through the host's address (hairpin NAT).
    let url = format!("http://{host}:{hp}/");
    let out = n.run_rm_ok(&["busybox", "wget", "-qO-", &url]);
    assert_eq!(out.trim(), "hello-tcp");
    // And the container itself, through its own published port (the frame goes back
    // out of the bridge port it came in by: hairpin mode on that port).
    let out = n.exec(
        "ports-tcp",
        &["timeout", "-s", "KILL", "3", "wget", "-qO-", &url],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello-tcp");
    n.finish();
}

#[test]
fn port_published_on_one_host_address_and_a_range() {
    let n = NetTest::new();
    let hp = net::free_port(false);
    // Two consecutive free host ports for the range (a neighbour may be taken: retry).
    // (Free on IPv6 too when the host has it: a dual-stack socket on [::].)
    let any = if net::host_has_ipv6() {
        "::"
    } else {
        "0.0.0.0"
    };
    let (r0, holders) = loop {
        let a = std::net::TcpListener::bind((any, 0)).unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX
            && let Ok(b) = std::net::TcpListener::bind((any, p + 1))
        {
            break (p, (a, b));
        }
    };
    drop(holders);
    let cmd = "mkdir -p /www && echo on-loopback-only > /www/index.html \
               && httpd -p 9201 -h /www && exec httpd -f -p 80 -h /www";
    n.run_d(&[
        "--name",
        "ports-lo",
        "-p",
        &format!("127.0.0.1:{hp}:80"),
        "-p",
        &format!("{r0}-{}:9200-9201", r0 + 1),
        "busybox",
        "sh",
        "-c",
        cmd,
    ]);
    assert_eq!(
        n.ok(&["port", "ports-lo"]),
        format!(
            "80/tcp -> 127.0.0.1:{hp}\n{}{}",
            net::port_lines_all("9200/tcp -> ", r0),
            net::port_lines_all("9201/tcp -> ", r0 + 1),
        )
    );
    net::wait_http(
        sa(LOCALHOST, hp),
        "on-loopback-only",
        Duration::from_secs(5),
    );
    // Not on the host's other addresses.
    let err = TcpStream::connect_timeout(&sa(net::host_addr(), hp), Duration::from_secs(2))
        .expect_err("published on 127.0.0.1 only");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    // Nor on IPv6: an address given keeps the port off the proxy.
    if net::host_has_ipv6() {
        let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, hp));
        let err = TcpStream::connect_timeout(&v6, Duration::from_secs(2))
            .expect_err("published on 127.0.0.1 only, not [::1]");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    }
    // The range: 9201 serves the same page; 9200 has no listener.
    net::wait_http(
        sa(LOCALHOST, r0 + 1),
        "on-loopback-only",
        Duration::from_secs(5),
    );
    let err = TcpStream::connect_timeout(&sa(LOCALHOST, r0), Duration::from_secs(2))
        .expect_err("nothing listens on 9200");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    n.finish();
}

#[test]
fn port_published_on_an_ipv6_address_alone() {
    if !net::host_has_ipv6() {
        eprintln!("skipped: this host has no IPv6");
        return;
    }
    let n = NetTest::new();
    let hp = net::free_port(false);
    let cmd = net::httpd_cmd(80, "on-ipv6-loopback");
    n.run_d(&[
        "--name",
        "ports-v6",
        "-p",
        &format!("[::1]:{hp}:80"),
        "busybox",
        "sh",
        "-c",
        &cmd,
    ]);
    assert_eq!(
        n.ok(&["port", "ports-v6"]),
        format!("80/tcp -> [::1]:{hp}\n")
    );
    let ps = n.ok(&["ps", "--filter", "name=ports-v6", "--format", "{{.Ports}}"]);
    assert_eq!(ps.trim(), format!("[::1]:{hp}->80/tcp"));
    let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, hp));
    net::wait_http(v6, "on-ipv6-loopback", Duration::from_secs(5));
    // Not on IPv4.
    let err = TcpStream::connect_timeout(&sa(LOCALHOST, hp), Duration::from_secs(2))
        .expect_err("published on [::1] only");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    n.finish();
}

/// Sends `msg` from a socket bound to `from` to `to` and returns the answer; a datagram
/// may be lost, so a few tries, each waiting half a second for it.
fn udp_ask(
    from: impl std::net::ToSocketAddrs,
    to: std::net::SocketAddr,
    msg: &str,
) -> Option<String> {
    let c = UdpSocket::bind(from).unwrap();
    c.connect(to).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..6 {
        c.send(msg.as_bytes()).unwrap();
        if let Ok(len) = c.recv(&mut buf) {
            return Some(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
    }
    None
}

#[test]
fn published_udp_port_reaches_container() {
    let n = NetTest::new();
    let hp = n.published_sleeper("ports-udp", "5353/udp");
    let pid = n.pid("ports-udp");
    let server = net::in_netns(pid, || {
        let s = UdpSocket::bind("0.0.0.0:5353").expect("bind udp 5353 in the container");
        s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        s
    });
    std::thread::scope(|sc| {
        let srv = sc.spawn(|| {
            // Echoes datagrams until "quit" (or silence: the test failed).
            let mut buf = [0u8; 1500];
            while let Ok((len, from)) = server.recv_from(&mut buf) {
                if &buf[..len] == b"quit" {
                    break;
                }
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..len]);
                server.send_to(&reply, from).expect("udp reply");
            }
        });
        for ip in [LOCALHOST, net::host_addr()] {
            let msg = format!("hello-udp-{ip}");
            let got = udp_ask(("0.0.0.0", 0), sa(ip, hp), &msg);
            assert_eq!(got, Some(format!("echo:{msg}")), "via {ip}");
        }
        // And through the shim's proxy on IPv6: each peer's datagrams come back to it.
        if net::host_has_ipv6() {
            for i in 0..2 {
                let msg = format!("hello-udp6-{i}");
                let to = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, hp));
                let got = udp_ask(("::1", 0), to, &msg);
                assert_eq!(got, Some(format!("echo:{msg}")), "via [::1]");
            }
        }
        let c = UdpSocket::bind("0.0.0.0:0").unwrap();
        c.send_to(b"quit", sa(LOCALHOST, hp)).unwrap();
        srv.join().unwrap();
    });
    drop(server);
    n.finish();
}

#[test]
fn random_host_port_is_reported_by_port_inspect_and_ps() {
    let n = NetTest::new();
    let cmd = net::httpd_cmd(8080, "hello-random");
    n.run_d(&[
        "--name",
        "ports-rand",
        "-p",
        "8080",
        "busybox",
        "sh",
        "-c",
        &cmd,
    ]);
    let hp = n.host_port("ports-rand", "8080/tcp");
    assert_ne!(hp, 0);
    assert_eq!(
        n.ok(&["port", "ports-rand"]),
        net::port_lines_all("8080/tcp -> ", hp)
    );
    assert_eq!(
        n.ok(&["port", "ports-rand", "8080"]),
        net::port_lines_all("", hp)
    );
    assert_eq!(
        n.ok(&["port", "ports-rand", "8080/tcp"]),
        net::port_lines_all("", hp)
    );
    let out = n.run(&["port", "ports-rand", "9999"]);
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("No public port '9999' published for ports-rand"),
        "{}",
        text(&out)
    );
    let ps = n.ok(&[
        "ps",
        "--filter",
        "name=ports-rand",
        "--format",
        "{{.Ports}}",
    ]);
    assert_eq!(ps.trim(), net::ps_mappings_all(hp, "8080/tcp"));
    // The request stays as given; the binding shows the port picked.
    assert_eq!(
        n.inspect_f(
            "ports-rand",
            "{{(index (index .HostConfig.PortBindings \"8080/tcp\") 0).HostPort}}"
        ),
        ""
    );
    net::wait_http(sa(LOCALHOST, hp), "hello-random", Duration::from_secs(5));
    // Through the shim's proxy on IPv6, from the host's loopback.
    if net::host_has_ipv6() {
        let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, hp));
        net::wait_http(v6, "hello-random", Duration::from_secs(5));
    }
    n.finish();
}

#[test]
fn publish_all_publishes_every_exposed_port() {
    let n = NetTest::new();
    n.run_d(&[
        "--name",
        "ports-all",
        "-P",
        "--expose",
        "7000",
        "--expose",
        "7001/udp",
        "busybox",
        "sleep",
        "60",
    ]);
    let tcp = n.host_port("ports-all", "7000/tcp");
    let udp = n.host_port("ports-all", "7001/udp");
    assert_eq!(
        n.ok(&["port", "ports-all"]),
        net::port_lines_all("7000/tcp -> ", tcp) + &net::port_lines_all("7001/udp -> ", udp)
    );
    assert_eq!(
        n.inspect_f("ports-all", "{{.HostConfig.PublishAllPorts}}"),
        "true"
    );
    // The published TCP port forwards: a listener in the container answers.
    let pid = n.pid("ports-all");
    let l = net::in_netns(pid, || net::tcp_listener(7000, Duration::from_secs(5)));
    std::thread::scope(|sc| {
        let srv = sc.spawn(|| {
            let (mut s, _) = l.accept().expect("accept in the container");
            s.write_all(b"hello-P").unwrap();
        });
        let mut c = TcpStream::connect_timeout(&sa(LOCALHOST, tcp), Duration::from_secs(3))
            .expect("connect to the -P port");
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hello-P");
        srv.join().unwrap();
    });
    drop(l);
    n.finish();
}

#[test]
fn tcp_half_close_passes_through_a_published_port() {
    let n = NetTest::new();
    let (hp, l) = n.published_listener("ports-half", 9000);
    const LEN: usize = 300_000;
    std::thread::scope(|sc| {
        let srv = sc.spawn(|| {
            // Reads to EOF (the client's FIN), then answers on the still open half.
            let (mut s, _) = l.accept().expect("accept in the container");
            s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
            let mut data = Vec::new();
            s.read_to_end(&mut data).expect("read to EOF");
            let sum: u64 = data.iter().map(|b| u64::from(*b)).sum();
            write!(s, "got {} bytes, sum {sum}", data.len()).unwrap();
        });
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let sum: u64 = data.iter().map(|b| u64::from(*b)).sum();
        let mut c = TcpStream::connect_timeout(&sa(LOCALHOST, hp), Duration::from_secs(3))
            .expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        c.write_all(&data).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply)
            .expect("the reply after our FIN");
        assert_eq!(reply, format!("got {LEN} bytes, sum {sum}"));
        srv.join().unwrap();
    });
    drop(l);
    n.finish();
}

#[test]
fn two_hundred_concurrent_connections_keep_their_bytes() {
    const CONNS: usize = 200;
    const BYTES: usize = 4096;
    let n = NetTest::new();
    let (hp, l) = n.published_listener("ports-load", 9100);
    let ipv6 = net::host_has_ipv6();
    let start = Instant::now();
    let barrier = std::sync::Barrier::new(CONNS);
    std::thread::scope(|sc| {
        // The server: an echo per connection (copy until EOF, then FIN).
        let l = &l;
        sc.spawn(move || {
            std::thread::scope(|conns| {
                for _ in 0..CONNS {
                    let Ok((mut s, _)) = l.accept() else { return };
                    conns.spawn(move || {
                        s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
                        let mut r = s.try_clone().unwrap();
                        let _ = std::io::copy(&mut r, &mut s);
                        let _ = s.shutdown(std::net::Shutdown::Write);
                    });
                }
            });
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                let barrier = &barrier;
                sc.spawn(move || -> Result<(), String> {
                    let data: Vec<u8> =
                        (0..BYTES).map(|j| ((i * 31 + j * 7) % 253) as u8).collect();
                    barrier.wait();
                    // Every other one through the shim's IPv6 proxy, when the host has it.
                    let to = if ipv6 && i % 2 == 1 {
                        std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, hp))
                    } else {
                        sa(LOCALHOST, hp)
                    };
                    let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(5))
                        .map_err(|e| format!("conn {i} to {to}: connect: {e}"))?;
                    c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
                    c.write_all(&data)
                        .map_err(|e| format!("conn {i}: write: {e}"))?;
                    c.shutdown(std::net::Shutdown::Write).unwrap();
                    let mut back = Vec::new();
                    c.read_to_end(&mut back)
                        .map_err(|e| format!("conn {i}: read: {e}"))?;
                    if back != data {
                        return Err(format!("conn {i}: {} bytes back, differ", back.len()));
                    }
                    Ok(())
                })
            })
            .collect();
        let errors: Vec<String> = clients
            .into_iter()
            .filter_map(|h| h.join().unwrap().err())
            .collect();
        assert!(errors.is_empty(), "{} failed: {errors:#?}", errors.len());
    });
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "200 connections took {took:?}"
    );
    drop(l);
    n.finish();
}

#[test]
fn connection_is_refused_when_the_container_does_not_listen() {
    let n = NetTest::new();
    let hp = n.published_sleeper("ports-refused", "80");
    for ip in [LOCALHOST, net::host_addr()] {
        let start = Instant::now();
        let r = TcpStream::connect_timeout(&sa(ip, hp), Duration::from_secs(3));
        let err = r.expect_err("nothing listens in the container");
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "via {ip}: {err}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "via {ip}: slow refusal"
        );
    }
    n.finish();
}

#[test]
fn taken_host_port_fails_run_and_leaves_nothing() {
    let n = NetTest::new();
    // A process of the host (this test) holds the port.
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let hp = holder.local_addr().unwrap().port();
    let out = n.run(&[
        "run",
        "-d",
        "--name",
        "ports-taken",
        "-p",
        &format!("{hp}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "Bind for 0.0.0.0:{hp} failed: port is already allocated"
        )),
        "{}",
        text(&out)
    );
    // Docker keeps the container as created; nothing runs, nothing was set up.
    assert_eq!(n.ok(&["ps", "-q"]), "");
    for id in n.ok(&["ps", "-aq", "--no-trunc"]).lines() {
        n.remember(id);
        assert_eq!(n.inspect_f(id, "{{.State.Running}}"), "false");
    }
    n.assert_clean();
    // The same with a port held by another container of tug.
    let cmd = net::httpd_cmd(80, "first");
    let hp2 = net::free_port(false);
    n.run_d(&[
        "--name",
        "ports-first",
        "-p",
        &format!("{hp2}:80"),
        "busybox",
        "sh",
        "-c",
        &cmd,
    ]);
    let out = n.run(&[
        "run",
        "-d",
        "--name",
        "ports-second",
        "-p",
        &format!("{hp2}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "Bind for 0.0.0.0:{hp2} failed: port is already allocated"
        )),
        "{}",
        text(&out)
    );
    // Docker keeps it as created, not running.
    let out = n.run(&["inspect", "-f", "{{.Id}}", "ports-second"]);
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !id.is_empty() {
        n.remember(&id);
        assert_eq!(n.inspect_f(&id, "{{.State.Running}}"), "false");
    }
    // The first one still serves.
    net::wait_http(sa(LOCALHOST, hp2), "first", Duration::from_secs(5));
    drop(holder);
    n.finish();
}

/// The init sets up the container's mounts while its shim makes the interfaces and the
/// port rules: an init that fails there (a file bound onto a directory) must take them
/// all back, and the host port is free again.
#[test]
fn an_init_that_fails_its_setup_leaves_no_interface_or_port() {
    let n = NetTest::new();
    let file = n.t.host_dir("bad-mount").join("a-file");
    std::fs::write(&file, "x").unwrap();
    let hp = net::free_port(false);
    let out = n.run(&[
        "run",
        "-d",
        "--name",
        "ports-bad-mount",
        "-p",
        &format!("{hp}:80"),
        "-v",
        &format!("{}:/etc", file.display()),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(text(&out).contains("/etc"), "{}", text(&out));
    for id in n.ok(&["ps", "-aq", "--no-trunc"]).lines() {
        n.remember(id);
        assert_eq!(n.inspect_f(id, "{{.State.Running}}"), "false");
    }
    n.assert_clean();
    std::net::TcpListener::bind(("0.0.0.0", hp)).expect("the host port is free again");
    n.finish();
}

#[test]
fn published_port_follows_stop_start_and_a_restart_by_policy() {
    let n = NetTest::new();
    let hp = net::free_port(false);
    let cmd = net::httpd_cmd(80, "follows");
    n.run_d(&[
        "--name",
        "ports-follow",
        "--restart",
        "always",
        "-p",
        &format!("{hp}:80"),
        "busybox",
        "sh",
        "-c",
        &cmd,
    ]);
    let limit = Duration::from_secs(5);
    net::wait_http(sa(LOCALHOST, hp), "follows", limit);
    // Stopped: nothing answers and the host port is free for others.
    n.ok(&["stop", "-t", "1", "ports-follow"]);
    let err = TcpStream::connect_timeout(&sa(LOCALHOST, hp), Duration::from_secs(2))
        .expect_err("stopped");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    drop(std::net::TcpListener::bind(("0.0.0.0", hp)).expect("the port is free when stopped"));
    if net::host_has_ipv6() {
        drop(std::net::TcpListener::bind(("::", hp)).expect("free on IPv6 too"));
    }
    n.ok(&["start", "ports-follow"]);
    net::wait_http(sa(LOCALHOST, hp), "follows", limit);
    // The process dies (killed from the host): the policy restarts it, ports and all.
    let pid = n.pid("ports-follow");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the container's init");
    // (The record shows the restart a moment before its ports: wait for both.)
    let want = format!("1 true {}", net::bindings_json_all(hp));
    tug_e2e::wait_for("a restart with its port", limit, || {
        n.inspect_f(
            "ports-follow",
            "{{.RestartCount}} {{.State.Running}} {{json (index .NetworkSettings.Ports \"80/tcp\")}}",
        ) == want
    });
    net::wait_http(sa(LOCALHOST, hp), "follows", limit);
    net::wait_http(sa(net::host_addr(), hp), "follows", limit);
    // The restarted process's proxy relays IPv6 again.
    if net::host_has_ipv6() {
        let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, hp));
        net::wait_http(v6, "follows", limit);
    }
    n.finish();
}

/// The network that carries a running container's ports and default route leaves it:
/// both move to the network it is still on, as Docker's move to its new gateway
/// endpoint; another container given the old address later is not reached through the
/// first one's port. With no network left the port reaches nothing; connected again,
/// the ports and the route come back.
#[test]
fn ports_and_route_follow_the_network_that_carries_them() {
    let n = NetTest::new();
    n.network("ports-gw", &[]);
    let hp = net::free_port(false);
    let cmd = net::httpd_cmd(80, "first");
    n.run_d(&[
        "--name",
        "ports-gw-a",
        "--network",
        "ports-gw",
        "-p",
        &format!("{hp}:80"),
        "busybox",
        "sh",
        "-c",
        &cmd,
    ]);
    let limit = Duration::from_secs(5);
    let v4 = sa(LOCALHOST, hp);
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, hp));
    net::wait_http(v4, "first", limit);
    let old = n.ip_on("ports-gw-a", "ports-gw");
    n.ok(&["network", "connect", "bridge", "ports-gw-a"]);
    let route = |name: &str| {
        let out = n.exec(name, &["ip", "route", "show", "default"]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        route("ports-gw-a").contains("dev eth0"),
        "{}",
        route("ports-gw-a")
    );

    n.ok(&["network", "disconnect", "ports-gw", "ports-gw-a"]);
    let on_bridge = n.ip_on("ports-gw-a", "bridge");
    let gw = n.inspect_network("bridge")["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .expect("the bridge's gateway")
        .to_string();
    assert!(
        route("ports-gw-a").contains(&format!("default via {gw} dev eth1")),
        "{}",
        route("ports-gw-a")
    );
    net::wait_http(v4, "first", limit);
    if net::host_has_ipv6() {
        net::wait_http(v6, "first", limit);
    }
    // A newcomer on the old network, at the old address.
    let cmd = net::httpd_cmd(80, "second");
    n.run_d(&[
        "--name",
        "ports-gw-b",
        "--network",
        "ports-gw",
        "--ip",
        &old.to_string(),
        "busybox",
        "sh",
        "-c",
        &cmd,
    ]);
    net::wait_http(sa(old, 80), "second", limit);
    for _ in 0..5 {
        let body = net::http_get(v4).expect("the port answers");
        assert!(body.contains("first"), "{body}");
    }
    assert_ne!(on_bridge, old);

    // No network left: no route, and the port reaches nothing.
    n.ok(&["network", "disconnect", "bridge", "ports-gw-a"]);
    assert_eq!(route("ports-gw-a").trim(), "");
    let err = net::http_get(v4).expect_err("no answer on IPv4");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    if net::host_has_ipv6() {
        // The proxy accepts and closes at once: no answer (an end, or a reset when the
        // request came before the close).
        match net::http_get(v6) {
            Ok(body) => assert_eq!(body, ""),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }

    n.ok(&["network", "connect", "ports-gw", "ports-gw-a"]);
    let again = n.ip_on("ports-gw-a", "ports-gw");
    assert!(
        route("ports-gw-a").contains("dev eth0"),
        "{}",
        route("ports-gw-a")
    );
    net::wait_http(v4, "first", limit);
    if net::host_has_ipv6() {
        net::wait_http(v6, "first", limit);
    }
    assert_ne!(again, old);
    n.finish();
}
