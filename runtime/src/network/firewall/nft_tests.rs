use std::os::fd::AsFd;

use super::*;
use crate::network::link::run_in_netns;
use crate::network::testns::TestNetns;

fn net(internal: bool) -> NatNetwork {
    NatNetwork {
        bridge: "tugbr1".into(),
        subnet: "10.231.8.0".parse().unwrap(),
        prefix: 24,
        internal,
    }
}

const PORTS_TABLE: &str = "tug_p0123456789abcdef";

fn web_port() -> PortMap {
    PortMap {
        proto: Proto::Tcp,
        host_ip: None,
        host_port: 8080,
        container_ip: "10.231.8.2".parse().unwrap(),
        container_port: 80,
    }
}

fn dns_port() -> PortMap {
    PortMap {
        proto: Proto::Udp,
        host_ip: Some("127.0.0.1".parse().unwrap()),
        host_port: 5353,
        container_ip: "10.231.8.3".parse().unwrap(),
        container_port: 53,
    }
}

fn set_forward(ns: &TestNetns, v: &str) {
    run_in_netns(ns.file.as_fd(), || std::fs::write(IP_FORWARD, v).unwrap()).unwrap();
}

fn forward(ns: &TestNetns) -> String {
    run_in_netns(ns.file.as_fd(), || {
        std::fs::read_to_string(IP_FORWARD).unwrap()
    })
    .unwrap()
    .trim()
    .to_string()
}

const NAT_RULES: &str = "\
table ip tug_tugbr1 {
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname \"tugbr1\" accept
		oifname \"tugbr1\" ct state established,related accept
		oifname \"tugbr1\" ct status dnat accept
		oifname \"tugbr1\" drop
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.231.8.0/24 oifname != \"tugbr1\" masquerade
		oifname \"tugbr1\" ip saddr 10.231.8.0/24 ct status dnat masquerade
		oifname \"tugbr1\" ip saddr 127.0.0.0/8 masquerade
	}
}
";

const PORT_RULES: &str = "\
table ip tug_p0123456789abcdef {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local tcp dport 8080 dnat to 10.231.8.2:80
		ip daddr 127.0.0.1 udp dport 5353 dnat to 10.231.8.3:53
	}

	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local tcp dport 8080 dnat to 10.231.8.2:80
		ip daddr 127.0.0.1 udp dport 5353 dnat to 10.231.8.3:53
	}
}
";

/// Masquerade and forwarding rules land in the network's table, DNAT rules in the
/// container's; applying twice is the same as once, forwarding gets turned on, the tables
/// are seen over nfnetlink, and removal (twice) leaves no tug table.
#[test]
fn nat_network_rules_apply_replace_and_remove() {
    let ns = TestNetns::new("n");
    set_forward(&ns, "0");
    let n = net(false);
    run_in_netns(ns.file.as_fd(), || {
        assert!(!table_exists("tug_tugbr1").unwrap());
        apply(&n).unwrap();
        apply(&n).unwrap();
        apply_ports(PORTS_TABLE, &[web_port(), dns_port()]).unwrap();
        apply_ports(PORTS_TABLE, &[web_port(), dns_port()]).unwrap();
        assert!(table_exists("tug_tugbr1").unwrap());
        assert!(table_exists(PORTS_TABLE).unwrap());
    })
    .unwrap();
    assert_eq!(
        ns.exec(&["nft", "list", "table", "ip", "tug_tugbr1"]),
        NAT_RULES
    );
    assert_eq!(
        ns.exec(&["nft", "list", "table", "ip", PORTS_TABLE]),
        PORT_RULES
    );
    assert_eq!(forward(&ns), "1");

    // Replacing with fewer ports drops the old DNAT rules.
    run_in_netns(ns.file.as_fd(), || {
        apply_ports(PORTS_TABLE, &[web_port()]).unwrap()
    })
    .unwrap();
    let text = ns.exec(&["nft", "list", "table", "ip", PORTS_TABLE]);
    assert!(!text.contains("5353"), "{text}");
    assert!(text.contains("dport 8080"), "{text}");

    run_in_netns(ns.file.as_fd(), || {
        let mut tables = tug_tables().unwrap();
        tables.sort();
        assert_eq!(tables, ["tug_p0123456789abcdef", "tug_tugbr1"]);
        remove("tugbr1").unwrap();
        remove("tugbr1").unwrap();
        remove_ports(PORTS_TABLE).unwrap();
        remove_ports(PORTS_TABLE).unwrap();
        assert!(tug_tables().unwrap().is_empty());
        assert!(!table_exists("tug_tugbr1").unwrap());
    })
    .unwrap();
    assert_eq!(ns.exec(&["nft", "list", "ruleset"]), "");
}

/// The port table written over nfnetlink is the one `nft -f` makes of the script of
/// `render_ports`, rule for rule as `nft list` prints it; writing it again replaces it.
#[test]
fn a_port_table_over_netlink_is_the_one_nft_would_write() {
    let ns = TestNetns::new("p");
    run_in_netns(ns.file.as_fd(), || {
        netlink::replace_ports_table(PORTS_TABLE, &[dns_port()]).unwrap();
        netlink::replace_ports_table(PORTS_TABLE, &[web_port(), dns_port()]).unwrap();
    })
    .unwrap();
    assert_eq!(
        ns.exec(&["nft", "list", "table", "ip", PORTS_TABLE]),
        PORT_RULES
    );
    // The same script through nft gives the same listing.
    run_in_netns(ns.file.as_fd(), || {
        remove_ports(PORTS_TABLE).unwrap();
        let script = render_ports(PORTS_TABLE, &[web_port(), dns_port()]).unwrap();
        run_nft(&script, "apply", PORTS_TABLE).unwrap();
    })
    .unwrap();
    assert_eq!(
        ns.exec(&["nft", "list", "table", "ip", PORTS_TABLE]),
        PORT_RULES
    );
    // Over an existing table, and with no ports: only the empty chains are left.
    run_in_netns(ns.file.as_fd(), || {
        netlink::replace_ports_table(PORTS_TABLE, &[]).unwrap()
    })
    .unwrap();
    let text = ns.exec(&["nft", "list", "table", "ip", PORTS_TABLE]);
    assert!(!text.contains("dnat"), "{text}");
    assert!(
        text.contains("type nat hook output priority -100"),
        "{text}"
    );
    run_in_netns(ns.file.as_fd(), || remove_ports(PORTS_TABLE).unwrap()).unwrap();
    assert_eq!(ns.exec(&["nft", "list", "ruleset"]), "");
}

/// The kept nfnetlink socket acts in its own namespace only: a request from a thread in
/// another namespace lands there, and answers of a refused or empty request are not taken
/// for the next one's.
#[test]
fn netlink_requests_land_in_the_namespace_of_their_thread() {
    let a = TestNetns::new("a");
    let b = TestNetns::new("b");
    run_in_netns(a.file.as_fd(), || {
        // The first request opens the kept socket, in `a`.
        assert!(!netlink::delete_table(PORTS_TABLE).unwrap());
        netlink::replace_ports_table(PORTS_TABLE, &[web_port()]).unwrap();
    })
    .unwrap();
    run_in_netns(b.file.as_fd(), || {
        assert!(!netlink::table_exists(PORTS_TABLE).unwrap());
        netlink::replace_ports_table(PORTS_TABLE, &[dns_port()]).unwrap();
        assert!(netlink::table_exists(PORTS_TABLE).unwrap());
    })
    .unwrap();
    let in_a = a.exec(&["nft", "list", "table", "ip", PORTS_TABLE]);
    let in_b = b.exec(&["nft", "list", "table", "ip", PORTS_TABLE]);
    assert!(
        in_a.contains("dport 8080") && !in_a.contains("5353"),
        "{in_a}"
    );
    assert!(
        in_b.contains("dport 5353") && !in_b.contains("8080"),
        "{in_b}"
    );
    run_in_netns(a.file.as_fd(), || {
        assert!(netlink::delete_table(PORTS_TABLE).unwrap());
        assert!(!netlink::delete_table(PORTS_TABLE).unwrap());
        assert!(!netlink::table_exists(PORTS_TABLE).unwrap());
    })
    .unwrap();
    assert_eq!(a.exec(&["nft", "list", "ruleset"]), "");
    run_in_netns(b.file.as_fd(), || {
        assert!(netlink::delete_table(PORTS_TABLE).unwrap())
    })
    .unwrap();
    assert_eq!(b.exec(&["nft", "list", "ruleset"]), "");
}

/// An internal network: no NAT, no ports, forwarding off, traffic only within the bridge.
#[test]
fn internal_network_has_no_nat_and_drops_outside() {
    let ns = TestNetns::new("i");
    set_forward(&ns, "0");
    let n = net(true);
    run_in_netns(ns.file.as_fd(), || apply(&n).unwrap()).unwrap();
    assert_eq!(
        ns.exec(&["nft", "list", "table", "ip", "tug_tugbr1"]),
        "\
table ip tug_tugbr1 {
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname \"tugbr1\" oifname \"tugbr1\" accept
		iifname \"tugbr1\" drop
		oifname \"tugbr1\" drop
	}
}
"
    );
    assert_eq!(forward(&ns), "0");
    run_in_netns(ns.file.as_fd(), || remove("tugbr1").unwrap()).unwrap();
}

/// A bridge name that is not an interface name is refused before nft runs.
#[test]
fn bad_bridge_name_is_refused() {
    let mut n = net(false);
    n.bridge = "x\"; flush ruleset".into();
    let err = render(&n).unwrap_err().to_string();
    assert!(err.contains("not a valid interface name"), "{err}");
    assert!(remove("0bad").is_err());
    for bad in [
        "tug_p",
        "tug_pXYZ",
        "tug_p0123456789abcdef0",
        "tug_x1",
        "tug_p1 }",
    ] {
        let err = render_ports(bad, &[web_port()]).unwrap_err().to_string();
        assert!(err.contains("port table name"), "{err}");
        assert!(remove_ports(bad).is_err());
    }
}

/// A port group's table: each shared port goes to the members in turn; a bad group
/// table name is refused like a container's.
#[test]
fn group_ports_render_a_round_robin_map() {
    let p = GroupPortMap {
        proto: Proto::Tcp,
        host_ip: None,
        host_port: 4000,
        backends: vec!["10.231.8.2".parse().unwrap(), "10.231.8.3".parse().unwrap()],
        container_port: 80,
    };
    let script = render_group_ports("tug_g0123456789abcdef", std::slice::from_ref(&p)).unwrap();
    assert!(
        script.contains(
            "fib daddr type local tcp dport 4000 dnat to numgen inc mod 2 map { 0 : 10.231.8.2, 1 : 10.231.8.3 } : 80"
        ),
        "{script}"
    );
    assert!(render_group_ports("tug_gX }", &[p]).is_err());
}

/// Real traffic through the rules: a container namespace behind a bridge reaches an
/// "outside" namespace with its address masqueraded, and the host reaches the container
/// through a published port.
#[test]
fn masquerade_and_dnat_carry_traffic() {
    use crate::network::link::{ContainerIface, Netlink, configure_in_netns};
    use std::io::{Read, Write};
    use std::net::{IpAddr, TcpListener, TcpStream};

    // A rule missing makes a connect hang (no route back, or forwarding off): fail instead.
    const DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);
    let host = TestNetns::new("mh");
    let ctr = TestNetns::new("mc");
    let outside = TestNetns::new("mo");
    let ctr2 = TestNetns::new("md");
    let ip2: Ipv4Addr = "10.231.8.3".parse().unwrap();
    let gw: Ipv4Addr = "10.231.8.1".parse().unwrap();
    let ip: Ipv4Addr = "10.231.8.2".parse().unwrap();
    let host_out: Ipv4Addr = "192.0.2.1".parse().unwrap();
    let far: Ipv4Addr = "192.0.2.2".parse().unwrap();

    run_in_netns(host.file.as_fd(), || -> crate::network::link::Result<()> {
        let mut nl = Netlink::open()?;
        nl.ensure_bridge("tugbr1", gw, 24)?;
        nl.create_veth("vh", "vc")?;
        nl.attach_to_bridge("vh", "tugbr1")?;
        nl.move_to_netns("vc", ctr.file.as_fd())?;
        nl.create_veth("vh2", "vc2")?;
        nl.attach_to_bridge("vh2", "tugbr1")?;
        nl.move_to_netns("vc2", ctr2.file.as_fd())?;
        // The host's "uplink": no route back to 10.231.8.0/24 on the far side.
        nl.create_veth("up0", "up1")?;
        let up = nl.link_index("up0")?.unwrap_or_default();
        nl.add_address(up, "up0", host_out, 24)?;
        nl.set_up(up, "up0")?;
        nl.move_to_netns("up1", outside.file.as_fd())?;
        let lo = nl.link_index("lo")?.unwrap_or_default();
        nl.set_up(lo, "lo")?;
        Ok(())
    })
    .unwrap()
    .unwrap();
    let iface = |veth: &str, address, gateway| ContainerIface {
        veth: veth.into(),
        name: "eth0".into(),
        mac: None,
        address,
        prefix: 24,
        gateway,
    };
    configure_in_netns(ctr.file.as_fd(), &iface("vc", ip, Some(gw))).unwrap();
    configure_in_netns(ctr2.file.as_fd(), &iface("vc2", ip2, Some(gw))).unwrap();
    configure_in_netns(outside.file.as_fd(), &iface("up1", far, None)).unwrap();

    let udp = PortMap {
        proto: Proto::Udp,
        host_ip: Some(host_out),
        host_port: 5300,
        container_ip: ip,
        container_port: 53,
    };
    let n = net(false);
    run_in_netns(host.file.as_fd(), || {
        // With br_netfilter, bridged replies pass conntrack and hairpin works without
        // the masquerade rule; turn it off in this namespace so the test needs the rule.
        let _ = std::fs::write("/proc/sys/net/bridge/bridge-nf-call-iptables", "0");
        set_route_localnet("tugbr1").unwrap();
        apply(&n).unwrap();
        apply_ports(PORTS_TABLE, &[web_port(), udp]).unwrap();
    })
    .unwrap();

    // Outbound: the far side sees the host's address, not the container's.
    let far_listener = run_in_netns(outside.file.as_fd(), || {
        TcpListener::bind((far, 0)).unwrap()
    })
    .unwrap();
    let far_port = far_listener.local_addr().unwrap().port();
    run_in_netns(ctr.file.as_fd(), || {
        TcpStream::connect_timeout(&(far, far_port).into(), DEADLINE)
            .expect("connect out")
            .write_all(b"out")
            .unwrap()
    })
    .unwrap();
    let (mut c, peer) = far_listener.accept().unwrap();
    assert_eq!(peer.ip(), IpAddr::V4(host_out));
    let mut buf = [0; 3];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"out");

    // Published port: host port 8080 on a host address reaches the container's port 80.
    let web = run_in_netns(ctr.file.as_fd(), || TcpListener::bind((ip, 80)).unwrap()).unwrap();
    run_in_netns(host.file.as_fd(), || {
        TcpStream::connect_timeout(&(host_out, 8080).into(), DEADLINE)
            .expect("connect to the published port")
            .write_all(b"in")
            .unwrap()
    })
    .unwrap();
    let (mut c, _) = web.accept().unwrap();
    let mut buf = [0; 2];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"in");

    // From the host on 127.0.0.1.
    run_in_netns(host.file.as_fd(), || {
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, 8080).into(), DEADLINE)
            .expect("connect to the published port on 127.0.0.1")
            .write_all(b"lo")
            .unwrap()
    })
    .unwrap();
    let (mut c, peer) = web.accept().unwrap();
    assert_eq!(peer.ip(), IpAddr::V4(gw));
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"lo");

    // UDP to the published host address and port.
    let dns = run_in_netns(ctr.file.as_fd(), || {
        std::net::UdpSocket::bind((ip, 53)).unwrap()
    })
    .unwrap();
    dns.set_read_timeout(Some(DEADLINE)).unwrap();
    run_in_netns(host.file.as_fd(), || {
        let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        s.send_to(b"dg", (host_out, 5300)).unwrap();
    })
    .unwrap();
    let (len, _) = dns
        .recv_from(&mut buf)
        .expect("datagram through the published port");
    assert_eq!(&buf[..len], b"dg");

    // Hairpin: another container on the bridge reaches the published port too.
    run_in_netns(ctr2.file.as_fd(), || {
        TcpStream::connect_timeout(&(host_out, 8080).into(), DEADLINE)
            .expect("connect from a neighbour to the published port")
            .write_all(b"hp")
            .unwrap()
    })
    .unwrap();
    let (mut c, _) = web.accept().unwrap();
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hp");

    run_in_netns(host.file.as_fd(), || remove("tugbr1").unwrap()).unwrap();
}

/// A network's table written over nfnetlink lists the same as the one `nft -f` makes of
/// [`render`]'s script: NAT and internal networks, with a prefix of whole bytes and one
/// that ends within a byte (masked before the compare); writing it again replaces it.
#[test]
fn network_table_over_netlink_is_what_nft_writes() {
    for (internal, subnet, prefix) in [
        (false, "10.231.8.0", 24),
        (false, "10.232.16.0", 20),
        (true, "10.233.0.0", 16),
    ] {
        let n = NatNetwork {
            bridge: "tugbr7".into(),
            subnet: subnet.parse().unwrap(),
            prefix,
            internal,
        };
        let by_nft = TestNetns::new("f");
        let script = render(&n).unwrap();
        run_in_netns(by_nft.file.as_fd(), || {
            run_nft(&script, "apply", "tug_tugbr7").unwrap()
        })
        .unwrap();
        let want = by_nft.exec(&["nft", "list", "table", "ip", "tug_tugbr7"]);
        assert!(
            want.contains(&format!("{subnet}/{prefix}")) || internal,
            "{want}"
        );
        let by_netlink = TestNetns::new("g");
        run_in_netns(by_netlink.file.as_fd(), || {
            netlink::replace_nat_table("tug_tugbr7", &n).unwrap();
            netlink::replace_nat_table("tug_tugbr7", &n).unwrap();
        })
        .unwrap();
        assert_eq!(
            by_netlink.exec(&["nft", "list", "table", "ip", "tug_tugbr7"]),
            want,
            "internal {internal}, {subnet}/{prefix}"
        );
        run_in_netns(by_netlink.file.as_fd(), || {
            assert!(netlink::delete_table("tug_tugbr7").unwrap())
        })
        .unwrap();
        assert_eq!(by_netlink.exec(&["nft", "list", "ruleset"]), "");
    }
}
