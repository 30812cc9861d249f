//! Published ports of the endpoint: TCP (with half-close) and UDP from the host, a refused
//! port without a listener, from a neighbour container, replacing and removing the port
//! table, and the real host's addresses.

use super::*;

/// A container with published ports: the fixture of the port tests.
struct Published<'a> {
    ep: Endpoint<'a>,
}

const WEB: u16 = 8080;

const DNS: u16 = 5353;

const CLOSED: u16 = 8081;

impl<'a> Published<'a> {
    fn new(host: &'a TestNetns, bridge: &Bridge) -> Published<'a> {
        let ep = Endpoint::up(host, bridge, 2);
        let ip = ep.a.address;
        let map = |proto, host_ip, host_port, container_port| PortMap {
            proto,
            host_ip,
            host_port,
            container_ip: ip,
            container_port,
        };
        let ports = [
            map(Proto::Tcp, None, WEB, 80),
            map(Proto::Udp, None, DNS, 53),
            map(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), CLOSED, 81),
        ];
        within(host, || publish(&ep.id, &ports)).unwrap();
        Published { ep }
    }

    fn listen(&self, port: u16) -> TcpListener {
        within(&self.ep.ctr, || {
            TcpListener::bind((self.ep.a.address, port)).unwrap()
        })
    }
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        let _ = within(self.ep.host, || unpublish(&self.ep.id));
    }
}

/// TCP through a published port from the host, on 127.0.0.1 and on a non-loopback host
/// address, with half-close (the client shuts its write side and still reads the reply).
#[test]
fn published_tcp_port_reaches_container_from_host_with_half_close() {
    let host = TestNetns::host("et");
    let bridge = Bridge::new();
    let p = Published::new(&host, &bridge);
    let server = upper_server(p.listen(80), 2);
    for to in [Ipv4Addr::LOCALHOST, HOST_ADDR] {
        let s = within(&host, || {
            TcpStream::connect_timeout(&(to, WEB).into(), DEADLINE)
        })
        .unwrap_or_else(|e| panic!("connect {to}:{WEB}: {e}"));
        assert_eq!(ask(s, b"half-closed"), b"HALF-CLOSED", "via {to}");
    }
    // From 127.0.0.1 the container sees the gateway (masqueraded), else the host address.
    let gw = IpAddr::V4(p.ep.a.gateway);
    assert_eq!(server.join().unwrap(), [gw, IpAddr::V4(HOST_ADDR)]);
}

/// UDP through a published port, both ways, from 127.0.0.1 and the host address.
#[test]
fn published_udp_port_reaches_container() {
    let host = TestNetns::host("eu");
    let bridge = Bridge::new();
    let p = Published::new(&host, &bridge);
    let ip = p.ep.a.address;
    let server = within(&p.ep.ctr, || UdpSocket::bind((ip, 53)).unwrap());
    server.set_read_timeout(Some(DEADLINE)).unwrap();
    let echo = thread::spawn(move || {
        let mut buf = [0u8; 64];
        for _ in 0..2 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server
                .send_to(&buf[..n].to_ascii_uppercase(), from)
                .unwrap();
        }
    });
    for to in [Ipv4Addr::LOCALHOST, HOST_ADDR] {
        let client = within(&host, || {
            UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap()
        });
        client.set_read_timeout(Some(DEADLINE)).unwrap();
        client.send_to(b"query", (to, DNS)).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = client
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("answer via {to}: {e}"));
        assert_eq!(&buf[..n], b"QUERY");
        assert_eq!(from, (to, DNS).into());
    }
    echo.join().unwrap();
}

/// A published port nobody listens on in the container refuses the connection at once;
/// a port published on 127.0.0.1 only is not forwarded from the other addresses.
#[test]
fn published_port_without_listener_is_refused_quickly() {
    let host = TestNetns::host("er");
    let bridge = Bridge::new();
    let _p = Published::new(&host, &bridge);
    for to in [(Ipv4Addr::LOCALHOST, CLOSED), (HOST_ADDR, WEB)] {
        let t = Instant::now();
        let err = within(&host, || TcpStream::connect_timeout(&to.into(), DEADLINE))
            .expect_err("nobody listens");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{to:?}: {err}");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    // Published on 127.0.0.1 only: the host address is not forwarded (and nothing on
    // the host listens there).
    let err = within(&host, || {
        TcpStream::connect_timeout(&(HOST_ADDR, CLOSED).into(), DEADLINE)
    })
    .expect_err("not published there");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

/// Another container on the same bridge reaches the published port through the host's
/// address (hairpin), with and without br_netfilter's bridged-traffic hooks.
#[test]
fn published_port_reaches_container_from_a_neighbour() {
    let host = TestNetns::host("eh");
    let bridge = Bridge::new();
    let p = Published::new(&host, &bridge);
    let neighbour = Endpoint::up(&host, &bridge, 3);
    let server = upper_server(p.listen(80), 8);
    let nf_call = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    for hooks in ["0", "1"] {
        // The knob exists when br_netfilter is loaded; without it there are no hooks.
        let _ = within(&host, || std::fs::write(nf_call, hooks));
        for to in [HOST_ADDR, p.ep.a.gateway] {
            // From the neighbour, and from the container to its own published port.
            for from in [&neighbour, &p.ep] {
                let s = from
                    .connect((to, WEB).into())
                    .unwrap_or_else(|e| panic!("hairpin via {to} (hooks {hooks}): {e}"));
                assert_eq!(ask(s, b"hairpin"), b"HAIRPIN");
            }
        }
    }
    // The answer came back through the host: the container saw the gateway, masqueraded.
    let gw = IpAddr::V4(p.ep.a.gateway);
    assert_eq!(server.join().unwrap(), [gw; 8]);
}

/// `publish` replaces the port table in one go, `unpublish` removes it, twice is fine,
/// and no ports at all means no table.
#[test]
fn publish_replaces_and_unpublish_removes_the_port_table() {
    let host = TestNetns::host("ew");
    let bridge = Bridge::new();
    let p = Published::new(&host, &bridge);
    let table = ports_table(&p.ep.id);
    let list = || host.exec(&["nft", "list", "table", "ip", &table]);
    assert!(list().contains("udp dport 5353"), "{}", list());
    let one = [PortMap {
        proto: Proto::Tcp,
        host_ip: None,
        host_port: 9000,
        container_ip: p.ep.a.address,
        container_port: 90,
    }];
    within(&host, || publish(&p.ep.id, &one)).unwrap();
    let text = list();
    assert!(
        text.contains("tcp dport 9000") && !text.contains("5353"),
        "{text}"
    );
    within(&host, || publish(&p.ep.id, &[])).unwrap();
    assert!(!devices(&host).1.contains(&table));
    within(&host, || publish(&p.ep.id, &one)).unwrap();
    within(&host, || unpublish(&p.ep.id)).unwrap();
    within(&host, || unpublish(&p.ep.id)).unwrap();
    assert_eq!(devices(&host).1, [nft::table_name(&bridge.0)]);
    let err = within(&host, || publish("not hex", &one)).unwrap_err();
    assert!(err.to_string().contains("port table name"), "{err}");
}

/// The path the shim takes, on the real host (its firewall, br_netfilter and sysctls as
/// they are): a container's published port answers on 127.0.0.1 and on the host's own
/// address, and `down` leaves none of this test's links or tables behind.
#[test]
fn published_port_works_on_the_real_host() {
    let bridge = Bridge::new();
    let ctr = TestNetns::new("er");
    let id = container_id();
    let mut a = attachment(&bridge, 2);
    // Not a subnet of the address pool, so no network of a state root can hold it.
    a.subnet = Cidr::new(Ipv4Addr::new(10, 231, 78, 0), 24).unwrap();
    a.gateway = Ipv4Addr::new(10, 231, 78, 1);
    a.address = Ipv4Addr::new(10, 231, 78, 2);
    let ours = |(links, tables): (Vec<String>, Vec<String>)| {
        let mine = |n: &String| {
            n.contains(&bridge.0)
                || n.starts_with(&host_veth_name(&id, &bridge.0))
                || *n == ports_table(&id)
        };
        (
            links.into_iter().filter(mine).collect::<Vec<_>>(),
            tables.into_iter().filter(mine).collect::<Vec<_>>(),
        )
    };
    let host_devices = || {
        let mut links = Netlink::open().unwrap().link_names().unwrap();
        links.sort();
        ours((links, nft::tug_tables().unwrap()))
    };
    let host_addr = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains(" tug"))
        .find_map(|l| {
            l.split_whitespace()
                .nth(3)?
                .split('/')
                .next()?
                .parse::<Ipv4Addr>()
                .ok()
        });

    struct Down<'a>(&'a str, &'a Attachment);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = unpublish(self.0);
            let _ = down(self.0, self.1);
        }
    }
    // A free host port: bound (as the shim reserves it), not listened on.
    let reserved = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let hport = reserved.local_addr().unwrap().port();
    assert_eq!(host_devices(), (vec![], vec![]));
    up(ctr.file.as_fd(), &id, &a).unwrap();
    let _down = Down(&id, &a);
    let ports = [PortMap {
        proto: Proto::Tcp,
        host_ip: None,
        host_port: hport,
        container_ip: a.address,
        container_port: 80,
    }];
    publish(&id, &ports).unwrap();
    let server = within(&ctr, || TcpListener::bind((a.address, 80)).unwrap());
    let targets: Vec<Ipv4Addr> = [Some(Ipv4Addr::LOCALHOST), host_addr]
        .into_iter()
        .flatten()
        .collect();
    let server = upper_server(server, targets.len() + usize::from(host_addr.is_some()));
    for to in &targets {
        let s = TcpStream::connect_timeout(&(*to, hport).into(), DEADLINE)
            .unwrap_or_else(|e| panic!("connect {to}:{hport}: {e}"));
        assert_eq!(ask(s, b"real host"), b"REAL HOST", "via {to}");
    }
    // The container to its own published port through the host (hairpin).
    if let Some(to) = host_addr {
        let s = within(&ctr, || {
            TcpStream::connect_timeout(&(to, hport).into(), DEADLINE)
        })
        .unwrap_or_else(|e| panic!("hairpin to {to}:{hport}: {e}"));
        assert_eq!(ask(s, b"hairpin"), b"HAIRPIN");
    }
    server.join().unwrap();
    drop(_down);
    drop(reserved);
    assert_eq!(host_devices(), (vec![], vec![]));
}
