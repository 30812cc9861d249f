use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;

use super::*;
use crate::network::testns::TestNetns;

/// A bridge in one namespace, a veth whose other end is configured in a second one, and a
/// TCP connection from the second namespace to a listener on the bridge's gateway address.
#[test]
fn bridge_veth_into_netns_reaches_gateway() {
    let host = TestNetns::new("h");
    let ctr = TestNetns::new("c");
    let gw: Ipv4Addr = "10.231.7.1".parse().unwrap();
    let ip: Ipv4Addr = "10.231.7.2".parse().unwrap();

    let listener = run_in_netns(host.file.as_fd(), || -> Result<TcpListener> {
        let mut nl = Netlink::open()?;
        let a = nl.ensure_bridge("tugbr0", gw, 24)?;
        // Idempotent: a second call keeps the same bridge and address.
        assert_eq!(nl.ensure_bridge("tugbr0", gw, 24)?, a);
        nl.create_veth("vethh0", "vethc0")?;
        nl.attach_to_bridge("vethh0", "tugbr0")?;
        nl.move_to_netns("vethc0", ctr.file.as_fd())?;
        assert_eq!(nl.link_index("vethc0")?, None);
        Ok(TcpListener::bind((gw, 0)).expect("bind on the gateway"))
    })
    .unwrap()
    .unwrap();
    let port = listener.local_addr().unwrap().port();

    let iface = ContainerIface {
        veth: "vethc0".into(),
        name: "eth0".into(),
        mac: Some([0x02, 0x42, 0x0a, 0xe7, 0x07, 0x02]),
        address: ip,
        prefix: 24,
        gateway: Some(gw),
    };
    configure_in_netns(ctr.file.as_fd(), &iface).unwrap();

    let addr = ctr.exec(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(addr.contains("10.231.7.2/24"), "{addr}");
    let link = ctr.exec(&["ip", "-o", "link", "show", "dev", "eth0"]);
    assert!(link.contains("02:42:0a:e7:07:02"), "{link}");
    assert!(link.contains("state UP") || link.contains(",UP"), "{link}");
    let route = ctr.exec(&["ip", "-4", "route", "show", "default"]);
    assert!(route.contains("default via 10.231.7.1 dev eth0"), "{route}");

    let sent = run_in_netns(ctr.file.as_fd(), || {
        let mut s = TcpStream::connect((gw, port)).expect("connect to the gateway");
        s.write_all(b"ping").unwrap();
    });
    sent.unwrap();
    let (mut conn, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), std::net::IpAddr::V4(ip));
    let mut buf = [0; 4];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

/// Deleting a link reports whether it existed; errors name the device and operation.
#[test]
fn delete_link_and_error_context() {
    let ns = TestNetns::new("d");
    run_in_netns(ns.file.as_fd(), || -> Result<()> {
        let mut nl = Netlink::open()?;
        nl.create_veth("va", "vb")?;
        let err = crate::report(&nl.create_veth("va", "vc").unwrap_err());
        assert!(err.starts_with("create veth va: "), "{err}");
        let mut names = nl.link_names()?;
        names.sort();
        assert_eq!(names, ["lo", "va", "vb"]);
        assert!(nl.delete_link("va")?);
        assert!(!nl.delete_link("va")?);
        // Deleting one end of a veth removes its peer.
        assert_eq!(nl.link_index("vb")?, None);
        let err = nl.attach_to_bridge("va", "nobr").unwrap_err().to_string();
        assert!(err.contains("nobr"), "{err}");
        Ok(())
    })
    .unwrap()
    .unwrap();
}
