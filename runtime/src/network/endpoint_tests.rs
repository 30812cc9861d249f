//! Unit tests of endpoint.rs on real network namespaces (made and removed by each test):
//! veths, bridges, addresses, isolation, concurrency and clean-up. The published-port tests
//! are in endpoint_ports_tests.rs. A little over 600 lines: the helpers above the tests
//! are shared by both files.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::network::cidr::Cidr;
use crate::network::link::run_in_netns;
use crate::network::nft::Proto;
use crate::network::testns::{HOST_ADDR, TestNetns};

/// The host settings of these tests: nftables, and the default host-wide run dir.
fn host() -> Host<'static> {
    static FIREWALL: std::sync::OnceLock<std::sync::Arc<dyn Firewall>> = std::sync::OnceLock::new();
    Host {
        firewall: FIREWALL
            .get_or_init(|| crate::network::firewall::Backend::Nft.firewall())
            .as_ref(),
        run_dir: std::path::Path::new(crate::network::ipam::DEFAULT_HOST_RUN),
    }
}

// The endpoint calls with this host, as the tests make them.
fn up(netns: std::os::fd::BorrowedFd<'_>, id: &str, a: &Attachment) -> Result<(), Error> {
    super::up(host(), netns, id, a, None)
}

fn down(id: &str, a: &Attachment) -> Result<(), Error> {
    super::down(host(), id, a)
}

fn publish(id: &str, ports: &[PortMap]) -> Result<(), Error> {
    super::publish(host(), id, ports)
}

fn unpublish(id: &str) -> Result<(), Error> {
    super::unpublish(host(), id)
}

/// A missing rule or route makes a connect hang: fail instead.
const DEADLINE: Duration = Duration::from_secs(5);

fn hex(n: usize) -> String {
    let mut b = vec![0u8; n.div_ceil(2)];
    crate::fsutil::random_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect::<String>()[..n].to_string()
}

fn container_id() -> String {
    hex(64)
}

/// A fresh bridge name (the lock file under /run/tug/bridges is host-wide) whose lock
/// file is removed on drop, also when the test fails half-way.
struct Bridge(String);

impl Bridge {
    fn new() -> Bridge {
        Bridge(format!("tugt{}", hex(8)))
    }

    fn lock_file(&self) -> PathBuf {
        host()
            .run_dir
            .join("bridges")
            .join(format!("{}.lock", self.0))
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.lock_file());
    }
}

/// Container number `n` (from 2) on the bridge's 10.231.77.0/24.
fn attachment(bridge: &Bridge, n: u8) -> Attachment {
    let address = Ipv4Addr::new(10, 231, 77, n);
    Attachment {
        bridge: bridge.0.clone(),
        subnet: Cidr::new(Ipv4Addr::new(10, 231, 77, 0), 24).unwrap(),
        gateway: Ipv4Addr::new(10, 231, 77, 1),
        internal: false,
        iface: "eth0".into(),
        address,
        mac: mac_for(address),
        default_route: true,
    }
}

/// Runs `f` in `ns` (the tests' stand-in for the host, or a container).
fn within<T: Send>(ns: &TestNetns, f: impl FnOnce() -> T + Send) -> T {
    run_in_netns(ns.file.as_fd(), f).unwrap()
}

/// The links (sorted) and tug tables of a namespace.
fn devices(ns: &TestNetns) -> (Vec<String>, Vec<String>) {
    within(ns, || {
        let mut links = Netlink::open().unwrap().link_names().unwrap();
        links.sort();
        (links, nft::tug_tables().unwrap())
    })
}

fn bridge_ports(host: &TestNetns, bridge: &Bridge) -> Option<Vec<String>> {
    within(host, || {
        let mut nl = Netlink::open().unwrap();
        let index = nl.link_index(&bridge.0).unwrap()?;
        Some(nl.bridge_ports(index).unwrap())
    })
}

/// One container on the host's bridge, disconnected on drop.
struct Endpoint<'a> {
    host: &'a TestNetns,
    ctr: TestNetns,
    id: String,
    a: Attachment,
}

impl<'a> Endpoint<'a> {
    fn up(host: &'a TestNetns, bridge: &Bridge, n: u8) -> Endpoint<'a> {
        let ctr = TestNetns::new("ec");
        let id = container_id();
        let a = attachment(bridge, n);
        within(host, || up(ctr.file.as_fd(), &id, &a)).unwrap();
        Endpoint { host, ctr, id, a }
    }

    /// Connects from inside the container.
    fn connect(&self, to: SocketAddr) -> std::io::Result<TcpStream> {
        within(&self.ctr, || TcpStream::connect_timeout(&to, DEADLINE))
    }
}

impl Drop for Endpoint<'_> {
    fn drop(&mut self) {
        let _ = within(self.host, || down(&self.id, &self.a));
    }
}

/// A TCP server answering each connection with the upper-cased bytes it read up to EOF
/// (so it also shows that half-close works), for `n` connections.
fn upper_server(listener: TcpListener, n: usize) -> thread::JoinHandle<Vec<IpAddr>> {
    thread::spawn(move || {
        let mut peers = Vec::new();
        for _ in 0..n {
            let (mut c, peer) = listener.accept().unwrap();
            c.set_read_timeout(Some(DEADLINE)).unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).unwrap();
            c.write_all(&got.to_ascii_uppercase()).unwrap();
            peers.push(peer.ip());
        }
        peers
    })
}

/// Sends `msg`, half-closes, and reads the answer to EOF.
fn ask(mut s: TcpStream, msg: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(msg).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    got
}

#[test]
fn host_veth_names_are_short_unique_and_stable() {
    let id = container_id();
    let a = host_veth_name(&id, "tug0");
    assert!(a.starts_with("tugv") && a.len() == 15, "{a}");
    assert_eq!(a, host_veth_name(&id, "tug0"));
    assert_ne!(a, host_veth_name(&id, "tug0123456789ab"));
    assert_ne!(a, host_veth_name(&container_id(), "tug0"));
    assert_eq!(ports_table(&id), format!("tug_p{}", &id[..16]));
}

/// `up` gives the container a configured eth0 that reaches the gateway (ping and TCP to a
/// server bound to the gateway address); `down` of the last container removes the bridge,
/// the table and the lock file, leaving the host's devices as they were.
#[test]
fn up_gives_a_working_eth0_and_down_of_the_last_removes_the_bridge() {
    let host = TestNetns::host("eh");
    let bridge = Bridge::new();
    let before = devices(&host);
    let e = Endpoint::up(&host, &bridge, 2);

    let addr = e
        .ctr
        .exec(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(addr.contains("10.231.77.2/24"), "{addr}");
    let link = e.ctr.exec(&["ip", "-o", "link", "show", "dev", "eth0"]);
    assert!(link.contains(&format_mac(e.a.mac)), "{link}");
    let route = e.ctr.exec(&["ip", "-4", "route", "show", "default"]);
    assert!(
        route.contains("default via 10.231.77.1 dev eth0"),
        "{route}"
    );
    let lo = e.ctr.exec(&["ip", "-o", "link", "show", "dev", "lo"]);
    assert!(lo.contains("UP"), "{lo}");
    e.ctr
        .exec(&["busybox", "ping", "-c", "1", "-W", "5", "10.231.77.1"]);

    let (links, tables) = devices(&host);
    let veth = host_veth_name(&e.id, &bridge.0);
    assert!(
        links.contains(&bridge.0) && links.contains(&veth),
        "{links:?}"
    );
    assert_eq!(tables, [nft::table_name(&bridge.0)]);
    let port = host.exec(&["ip", "-d", "link", "show", "dev", &veth]);
    assert!(port.contains("hairpin on"), "{port}");
    assert_eq!(bridge_ports(&host, &bridge), Some(vec![veth]));
    let sysctl = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", bridge.0);
    assert_eq!(
        within(&host, || std::fs::read_to_string(&sysctl).unwrap()),
        "1\n"
    );
    assert_eq!(
        within(&host, || std::fs::read_to_string(
            "/proc/sys/net/ipv4/ip_forward"
        )
        .unwrap()),
        "1\n"
    );

    let listener = within(&host, || TcpListener::bind((e.a.gateway, 0)).unwrap());
    let port = listener.local_addr().unwrap().port();
    let server = upper_server(listener, 1);
    let got = ask(e.connect((e.a.gateway, port).into()).unwrap(), b"hello");
    assert_eq!(got, b"HELLO");
    assert_eq!(server.join().unwrap(), [IpAddr::V4(e.a.address)]);

    drop(e);
    assert_eq!(devices(&host), before);
    assert!(!bridge.lock_file().exists());
}

/// Two containers on one bridge reach each other; `down` of the first keeps the bridge
/// and table (the second still reaches the gateway), `down` of both (twice) removes them.
#[test]
fn two_containers_share_a_bridge_until_the_last_goes() {
    let host = TestNetns::host("e2");
    let bridge = Bridge::new();
    let before = devices(&host);
    let a = Endpoint::up(&host, &bridge, 2);
    let b = Endpoint::up(&host, &bridge, 3);

    let listener = within(&b.ctr, || TcpListener::bind((b.a.address, 0)).unwrap());
    let port = listener.local_addr().unwrap().port();
    let server = upper_server(listener, 1);
    assert_eq!(
        ask(a.connect((b.a.address, port).into()).unwrap(), b"ab"),
        b"AB"
    );
    assert_eq!(server.join().unwrap(), [IpAddr::V4(a.a.address)]);

    let (a_id, a_att) = (a.id.clone(), a.a.clone());
    drop(a);
    // Down twice: the veth is gone already, which is fine.
    within(&host, || down(&a_id, &a_att)).unwrap();
    assert_eq!(
        bridge_ports(&host, &bridge),
        Some(vec![host_veth_name(&b.id, &bridge.0)])
    );
    assert_eq!(devices(&host).1, [nft::table_name(&bridge.0)]);
    b.ctr
        .exec(&["busybox", "ping", "-c", "1", "-W", "5", "10.231.77.1"]);

    let (b_id, b_att) = (b.id.clone(), b.a.clone());
    drop(b);
    within(&host, || down(&b_id, &b_att)).unwrap();
    assert_eq!(devices(&host), before);
    assert!(!bridge.lock_file().exists());
}

/// A failing `up` (an interface name the kernel refuses) undoes what it made: no veth,
/// and no bridge or table when it made them; an existing bridge and its users stay.
#[test]
fn failed_up_leaves_nothing_behind() {
    let host = TestNetns::host("ef");
    let bridge = Bridge::new();
    let before = devices(&host);
    let ctr = TestNetns::new("ef");
    let id = container_id();
    let mut bad = attachment(&bridge, 2);
    bad.iface = "an-interface-name-far-too-long".into();

    let err = within(&host, || up(ctr.file.as_fd(), &id, &bad)).unwrap_err();
    assert!(err.to_string().contains("create veth"), "{err}");
    assert_eq!(devices(&host), before);
    assert_eq!(devices(&ctr).0, ["lo"]);
    assert!(!bridge.lock_file().exists());

    let keeper = Endpoint::up(&host, &bridge, 3);
    let during = devices(&host);
    within(&host, || up(ctr.file.as_fd(), &id, &bad)).unwrap_err();
    assert_eq!(devices(&host), during);
    assert_eq!(devices(&ctr).0, ["lo"]);
    keeper
        .ctr
        .exec(&["busybox", "ping", "-c", "1", "-W", "5", "10.231.77.1"]);

    // A bad bridge name is refused before any lock file or device is made.
    let mut worse = attachment(&bridge, 4);
    worse.bridge = "../../etc".into();
    assert!(within(&host, || up(ctr.file.as_fd(), &id, &worse)).is_err());
    assert!(within(&host, || down(&id, &worse)).is_err());
    drop(keeper);
    assert_eq!(devices(&host), before);
}

/// 20 threads connecting and disconnecting containers on one bridge at once: while one
/// container stays up, the bridge is never lost under it; after every `down` no bridge,
/// table or lock file is left.
#[test]
fn concurrent_up_and_down_keep_the_bridge_consistent() {
    const THREADS: u8 = 20;
    const ROUNDS: usize = 3;
    let host = TestNetns::host("ep");
    let bridge = Bridge::new();
    let before = devices(&host);
    let ctrs: Vec<TestNetns> = (0..THREADS).map(|_| TestNetns::new("ep")).collect();

    // Answers one byte per connection, on every address of the host.
    let listener = within(&host, || {
        TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap()
    });
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for c in listener.incoming() {
            let Ok(mut c) = c else { continue };
            let mut b = [0u8; 1];
            let _ = c.set_read_timeout(Some(DEADLINE));
            match c.read_exact(&mut b) {
                Ok(()) if b[0] == 0 => break,
                Ok(()) => {
                    let _ = c.write_all(&b);
                }
                Err(_) => continue,
            }
        }
    });
    let gw: SocketAddr = (Ipv4Addr::new(10, 231, 77, 1), port).into();
    let echo = |ctr: &TestNetns, byte: u8| {
        within(ctr, || -> std::io::Result<u8> {
            let mut s = TcpStream::connect_timeout(&gw, DEADLINE)?;
            s.set_read_timeout(Some(DEADLINE))?;
            s.write_all(&[byte])?;
            let mut b = [0u8; 1];
            s.read_exact(&mut b)?;
            Ok(b[0])
        })
    };
    let churn = || {
        thread::scope(|s| {
            for (i, ctr) in ctrs.iter().enumerate() {
                let (host, bridge, echo) = (&host, &bridge, &echo);
                s.spawn(move || {
                    let id = container_id();
                    let a = attachment(bridge, 10 + i as u8);
                    for round in 0..ROUNDS {
                        within(host, || up(ctr.file.as_fd(), &id, &a))
                            .unwrap_or_else(|e| panic!("up {i} round {round}: {e}"));
                        let got = echo(ctr, 1 + i as u8);
                        within(host, || down(&id, &a))
                            .unwrap_or_else(|e| panic!("down {i} round {round}: {e}"));
                        assert_eq!(got.unwrap(), 1 + i as u8, "thread {i} round {round}");
                    }
                });
            }
        })
    };

    let keeper = Endpoint::up(&host, &bridge, 2);
    churn();
    assert_eq!(
        bridge_ports(&host, &bridge),
        Some(vec![host_veth_name(&keeper.id, &bridge.0)])
    );
    assert_eq!(echo(&keeper.ctr, 7).unwrap(), 7);
    drop(keeper);
    assert_eq!(devices(&host), before);

    churn();
    assert_eq!(devices(&host), before);
    assert!(!bridge.lock_file().exists());
    // Stops the server.
    let _ = within(&host, || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).and_then(|mut s| s.write_all(&[0]))
    });
}

/// An internal network: its containers reach each other and the gateway, the table
/// drops what would be forwarded elsewhere, and IP forwarding is left as it was.
#[test]
fn internal_network_connects_containers_without_forwarding() {
    let host = TestNetns::host("ei");
    within(&host, || {
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "0")
    })
    .unwrap();
    let bridge = Bridge::new();
    let before = devices(&host);
    let ctrs: Vec<TestNetns> = (0..2).map(|_| TestNetns::new("ei")).collect();
    let ids = [container_id(), container_id()];
    let atts: Vec<Attachment> = (0..2)
        .map(|i| Attachment {
            internal: true,
            ..attachment(&bridge, 2 + i as u8)
        })
        .collect();
    for i in 0..2 {
        within(&host, || up(ctrs[i].file.as_fd(), &ids[i], &atts[i])).unwrap();
    }
    let table = host.exec(&["nft", "list", "table", "ip", &nft::table_name(&bridge.0)]);
    assert!(
        table.contains("drop") && !table.contains("masquerade"),
        "{table}"
    );
    assert_eq!(
        within(&host, || std::fs::read_to_string(
            "/proc/sys/net/ipv4/ip_forward"
        )
        .unwrap()),
        "0\n"
    );
    let listener = within(&ctrs[1], || {
        TcpListener::bind((atts[1].address, 0)).unwrap()
    });
    let port = listener.local_addr().unwrap().port();
    let server = upper_server(listener, 1);
    let s = within(&ctrs[0], || {
        TcpStream::connect_timeout(&(atts[1].address, port).into(), DEADLINE)
    })
    .unwrap();
    assert_eq!(ask(s, b"inside"), b"INSIDE");
    server.join().unwrap();
    ctrs[0].exec(&["busybox", "ping", "-c", "1", "-W", "5", "10.231.77.1"]);
    for i in 0..2 {
        within(&host, || down(&ids[i], &atts[i])).unwrap();
    }
    assert_eq!(devices(&host), before);
}

/// A container on two networks gets `eth0` and `eth1`, the default route only through
/// the first; each network's bridge goes with its last container.
#[test]
fn container_on_two_networks_gets_two_interfaces() {
    let host = TestNetns::host("e2n");
    let (b1, b2) = (Bridge::new(), Bridge::new());
    let before = devices(&host);
    let ctr = TestNetns::new("e2n");
    let id = container_id();
    let first = attachment(&b1, 2);
    let second = Attachment {
        subnet: Cidr::new(Ipv4Addr::new(10, 231, 79, 0), 24).unwrap(),
        gateway: Ipv4Addr::new(10, 231, 79, 1),
        address: Ipv4Addr::new(10, 231, 79, 2),
        iface: "eth1".into(),
        default_route: false,
        ..attachment(&b2, 2)
    };
    within(&host, || up(ctr.file.as_fd(), &id, &first)).unwrap();
    within(&host, || up(ctr.file.as_fd(), &id, &second)).unwrap();
    assert_ne!(host_veth_name(&id, &b1.0), host_veth_name(&id, &b2.0));
    let addrs = ctr.exec(&["ip", "-o", "-4", "addr", "show"]);
    assert!(addrs.contains("eth0    inet 10.231.77.2/24"), "{addrs}");
    assert!(addrs.contains("eth1    inet 10.231.79.2/24"), "{addrs}");
    let routes = ctr.exec(&["ip", "-4", "route", "show", "default"]);
    assert_eq!(
        routes.trim(),
        "default via 10.231.77.1 dev eth0",
        "{routes}"
    );
    ctr.exec(&["busybox", "ping", "-c", "1", "-W", "5", "10.231.79.1"]);

    within(&host, || down(&id, &first)).unwrap();
    let (links, tables) = devices(&host);
    assert!(!links.contains(&b1.0) && links.contains(&b2.0), "{links:?}");
    assert_eq!(tables, [nft::table_name(&b2.0)]);
    within(&host, || down(&id, &second)).unwrap();
    assert_eq!(devices(&host), before);
}

/// Containers of different networks do not reach each other's addresses (the host
/// forwards between the bridges only for published ports); the host is still reached.
#[test]
fn networks_are_isolated_from_each_other() {
    let host = TestNetns::host("es");
    let (b1, b2) = (Bridge::new(), Bridge::new());
    let a = Endpoint::up(&host, &b1, 2);
    let ctr = TestNetns::new("es");
    let id = container_id();
    let other = Attachment {
        subnet: Cidr::new(Ipv4Addr::new(10, 231, 80, 0), 24).unwrap(),
        gateway: Ipv4Addr::new(10, 231, 80, 1),
        address: Ipv4Addr::new(10, 231, 80, 2),
        ..attachment(&b2, 2)
    };
    within(&host, || up(ctr.file.as_fd(), &id, &other)).unwrap();
    let b = Endpoint {
        host: &host,
        ctr,
        id,
        a: other,
    };
    let listener = within(&b.ctr, || {
        TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap()
    });
    let port = listener.local_addr().unwrap().port();
    let server = upper_server(listener, 1);
    // A dropped SYN: the connect can only time out; a second is plenty on one host.
    let t = Instant::now();
    let err = within(&a.ctr, || {
        TcpStream::connect_timeout(&(b.a.address, port).into(), Duration::from_secs(1))
    })
    .expect_err("another network's container");
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(t.elapsed() < DEADLINE);
    // The host itself (its uplink address) is still reached.
    let out = within(&host, || TcpListener::bind((HOST_ADDR, 0)).unwrap());
    let out_port = out.local_addr().unwrap().port();
    let outside = upper_server(out, 1);
    let s = a.connect((HOST_ADDR, out_port).into()).unwrap();
    assert_eq!(ask(s, b"out"), b"OUT");
    outside.join().unwrap();
    // Unblock the server thread.
    let s = within(&b.ctr, || TcpStream::connect((b.a.address, port))).unwrap();
    assert_eq!(ask(s, b"x"), b"X");
    server.join().unwrap();
}

/// A bridge left without ports (a crash, or a network removed and made again with
/// another subnet) is made afresh by the next `up`: only the network's address, and its
/// table for the current subnet.
#[test]
fn leftover_bridge_is_made_afresh() {
    let host = TestNetns::host("el");
    let bridge = Bridge::new();
    let before = devices(&host);
    within(&host, || {
        let mut nl = Netlink::open().unwrap();
        nl.ensure_bridge(&bridge.0, Ipv4Addr::new(10, 9, 9, 1), 24)
            .unwrap();
        nft::apply(&NatNetwork {
            bridge: bridge.0.clone(),
            subnet: Ipv4Addr::new(10, 9, 9, 0),
            prefix: 24,
            internal: false,
        })
        .unwrap();
    });
    let e = Endpoint::up(&host, &bridge, 2);
    let addrs = host.exec(&["ip", "-o", "-4", "addr", "show", "dev", &bridge.0]);
    assert!(
        addrs.contains("10.231.77.1/24") && !addrs.contains("10.9.9"),
        "{addrs}"
    );
    let table = host.exec(&["nft", "list", "table", "ip", &nft::table_name(&bridge.0)]);
    assert!(
        table.contains("10.231.77.0/24") && !table.contains("10.9.9"),
        "{table}"
    );
    e.ctr
        .exec(&["busybox", "ping", "-c", "1", "-W", "5", "10.231.77.1"]);
    drop(e);
    assert_eq!(devices(&host), before);
}

/// `down` after the container's namespace is gone (its veth went with it, now or a bit
/// later in the kernel's own clean-up) still removes the bridge of the last container.
#[test]
fn down_after_the_container_is_gone_removes_the_bridge() {
    let host = TestNetns::host("eg");
    let bridge = Bridge::new();
    let before = devices(&host);
    let ctr = TestNetns::new("eg");
    let id = container_id();
    let a = attachment(&bridge, 2);
    within(&host, || up(ctr.file.as_fd(), &id, &a)).unwrap();
    drop(ctr);
    within(&host, || down(&id, &a)).unwrap();
    assert_eq!(devices(&host), before);
    assert!(!bridge.lock_file().exists());
}

/// A released bridge (its containers gone, their veths detached) stays for a `gc` whose
/// window holds a later attach: a container that came and went between two runs of a
/// script keeps it for its own shim's `gc`, which then removes it.
#[test]
fn gc_keeps_a_bridge_joined_within_its_window() {
    let ns = TestNetns::host("el");
    let bridge = Bridge::new();
    let before = devices(&ns);
    let ctr = TestNetns::new("el");
    let id = container_id();
    let a = attachment(&bridge, 2);
    within(&ns, || {
        up(ctr.file.as_fd(), &id, &a).unwrap();
        super::release(host(), &id, &a).unwrap();
        // Attached a moment ago: kept, whether or not a port is on it.
        assert!(!super::gc(host(), &bridge.0, Duration::from_secs(3600)).unwrap());
    });
    assert_eq!(bridge_ports(&ns, &bridge), Some(vec![]));
    within(&ns, || {
        // No attach within the last nanosecond: gone, with its table.
        assert!(super::gc(host(), &bridge.0, Duration::from_nanos(1)).unwrap());
    });
    assert!(!bridge.lock_file().exists());
    // Another shim's gc after the bridge went leaves no lock file behind (its lock file
    // is new, not a sign of a recent attach).
    within(&ns, || {
        super::gc(host(), &bridge.0, Duration::from_secs(3600)).unwrap();
    });
    assert!(!bridge.lock_file().exists());
    // The kernel deletes the released veth with the container's namespace, later.
    drop(ctr);
    let deadline = Instant::now() + DEADLINE;
    while devices(&ns) != before {
        assert!(Instant::now() < deadline, "{:?} left", devices(&ns));
        thread::sleep(Duration::from_millis(5));
    }
    assert!(!bridge.lock_file().exists());
}

/// The cost every container start and stop pays: `up` + `down` on an existing bridge
/// (no `nft` run), and the first `up` + last `down` that make and remove the bridge.
/// `cargo test -p tug --lib endpoint::tests::up_and_down_timing -- --nocapture`
#[test]
fn up_and_down_timing() {
    const N: usize = 30;
    let host = TestNetns::host("eb");
    let bridge = Bridge::new();
    let ctr = TestNetns::new("eb");
    let id = container_id();
    let a = attachment(&bridge, 3);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;

    within(&host, || {
        let t = Instant::now();
        up(ctr.file.as_fd(), &id, &a).unwrap();
        let first_up = t.elapsed();
        let t = Instant::now();
        down(&id, &a).unwrap();
        let last_down = t.elapsed();

        let keeper = TestNetns::new("eb");
        let keeper_id = container_id();
        let k = attachment(&bridge, 2);
        up(keeper.file.as_fd(), &keeper_id, &k).unwrap();
        let (mut ups, mut downs) = (Vec::new(), Vec::new());
        for _ in 0..N {
            let t = Instant::now();
            up(ctr.file.as_fd(), &id, &a).unwrap();
            ups.push(t.elapsed());
            let t = Instant::now();
            down(&id, &a).unwrap();
            downs.push(t.elapsed());
        }
        down(&keeper_id, &k).unwrap();
        ups.sort();
        downs.sort();
        println!(
            "endpoint timing (median of {N}, bridge exists): up {:.2} ms, down {:.2} ms \
             (worst {:.2} / {:.2}); first up {:.2} ms, last down {:.2} ms",
            ms(ups[N / 2]),
            ms(downs[N / 2]),
            ms(ups[N - 1]),
            ms(downs[N - 1]),
            ms(first_up),
            ms(last_down),
        );
    });
    // Timings are printed, not asserted (a loaded CI machine is no benchmark): what is
    // asserted is that 30 rounds on a shared bridge work and that the last `down`
    // removes the bridge.
    assert_eq!(bridge_ports(&host, &bridge), None);
}

/// The published-port tests (their own file to keep this one small).
#[path = "endpoint_ports_tests.rs"]
mod ports;
