use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

use proptest::prelude::*;

use super::reserve::bind_port;
use super::view::natural_cmp;
use super::*;

/// `NetworkSettings.Ports` entries: key → bindings as (address, port).
type Entries<'a> = [(&'a str, Option<&'a [(&'a str, &'a str)]>)];

fn spec(
    host_ip: Option<&str>,
    host_ports: Option<(u16, u16)>,
    container_ports: (u16, u16),
    proto: Proto,
) -> PortSpec {
    PortSpec {
        host_ip: host_ip.map(|ip| ip.parse().unwrap()),
        host_ports,
        container_ports,
        proto,
    }
}

fn hb(ip: &str, port: &str) -> HostBinding {
    HostBinding {
        host_ip: ip.into(),
        host_port: port.into(),
    }
}

#[test]
fn publish_syntaxes_parse_like_docker() {
    let cases = [
        ("80", spec(None, None, (80, 80), Proto::Tcp)),
        (
            "8080:80",
            spec(None, Some((8080, 8080)), (80, 80), Proto::Tcp),
        ),
        (
            "127.0.0.1:8080:80",
            spec(Some("127.0.0.1"), Some((8080, 8080)), (80, 80), Proto::Tcp),
        ),
        (
            "127.0.0.1::80",
            spec(Some("127.0.0.1"), None, (80, 80), Proto::Tcp),
        ),
        (
            "5353:53/udp",
            spec(None, Some((5353, 5353)), (53, 53), Proto::Udp),
        ),
        (
            "5353:53/UDP",
            spec(None, Some((5353, 5353)), (53, 53), Proto::Udp),
        ),
        ("80/tcp", spec(None, None, (80, 80), Proto::Tcp)),
        ("80/", spec(None, None, (80, 80), Proto::Tcp)),
        (
            "8000-8002:80-82",
            spec(None, Some((8000, 8002)), (80, 82), Proto::Tcp),
        ),
        (
            "8000-8010:80",
            spec(None, Some((8000, 8010)), (80, 80), Proto::Tcp),
        ),
        ("80-82", spec(None, None, (80, 82), Proto::Tcp)),
        ("0:80", spec(None, Some((0, 0)), (80, 80), Proto::Tcp)),
        (
            "[127.0.0.1]:8080:80",
            spec(Some("127.0.0.1"), Some((8080, 8080)), (80, 80), Proto::Tcp),
        ),
        (
            "[::1]:8080:80",
            spec(Some("::1"), Some((8080, 8080)), (80, 80), Proto::Tcp),
        ),
        // Docker reads the unbracketed form too: the last two parts are the ports.
        (
            "::1:8080:80",
            spec(Some("::1"), Some((8080, 8080)), (80, 80), Proto::Tcp),
        ),
        ("[::]::53/udp", spec(Some("::"), None, (53, 53), Proto::Udp)),
        (
            "0.0.0.0:65535:65535/udp",
            spec(
                Some("0.0.0.0"),
                Some((65535, 65535)),
                (65535, 65535),
                Proto::Udp,
            ),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_publish(text).unwrap(), want, "-p {text}");
    }
}

#[test]
fn bad_publish_values_are_refused_in_dockers_words() {
    let bad = [
        "",
        "8080:",
        "::",
        "abc",
        "0",
        "-80",
        "+80",
        "80-79",
        "80-81-82",
        "65536",
        "99999:80",
        "8080-8079:80",
        "x:80",
        "8000-8002:80-81",
        "8000:80-82",
        "80/sctp",
        "80/icmp",
        "1.2.3:80:80",
        "localhost:80:80",
        "[127.0.0.1:80:80",
        "[::1:80:80",
        "fe80::1::2:80:80",
        "1.2.3.4:5:6:7",
        "published=8080",
        "target=80,published",
        "target=80,=1",
        "target=80,protocol=sctp",
    ];
    let out: Vec<String> = bad
        .iter()
        .map(|b| format!("{b:?} => {}", parse_publish(b).unwrap_err()))
        .collect();
    insta::assert_snapshot!(out.join("\n"));
}

#[test]
fn expose_values_give_dockers_keys() {
    assert_eq!(parse_expose("80").unwrap(), ["80/tcp"]);
    assert_eq!(parse_expose("53/udp").unwrap(), ["53/udp"]);
    assert_eq!(
        parse_expose("8000-8002/TCP").unwrap(),
        ["8000/tcp", "8001/tcp", "8002/tcp"]
    );
    let bad = [
        "8080:80",
        "/tcp",
        "NaN/tcp",
        "8080-NaN/tcp",
        "90-80",
        "80/x",
        "0",
        "70000",
    ];
    let out: Vec<String> = bad
        .iter()
        .map(|b| format!("{b:?} => {}", parse_expose(b).unwrap_err()))
        .collect();
    insta::assert_snapshot!(out.join("\n"));
}

#[test]
fn keys_split_into_port_and_proto() {
    assert_eq!(split_key("80/tcp").unwrap(), (80, Proto::Tcp));
    assert_eq!(split_key("53/udp").unwrap(), (53, Proto::Udp));
    assert_eq!(split_key("80").unwrap(), (80, Proto::Tcp));
    assert_eq!(port_key(53, Proto::Udp), "53/udp");
    for bad in ["", "/tcp", "x/tcp", "80/ip", "8000-8002/tcp", "70000/tcp"] {
        assert!(split_key(bad).is_err(), "{bad}");
    }
}

#[test]
fn bindings_expand_ranges_and_merge_publish_all() {
    let specs: Vec<PortSpec> = [
        "8000-8002:80-82",
        "9000-9010:90",
        "127.0.0.1::53/udp",
        "5000",
        "6000:6000",
        "7000:6000",
    ]
    .iter()
    .map(|s| parse_publish(s).unwrap())
    .collect();
    let exposed = [
        "80/tcp".to_string(),
        "443/tcp".into(),
        "3000-3001/udp".into(),
    ];
    let b = bindings(&specs, &exposed, true).unwrap();
    insta::assert_json_snapshot!(b);
    // Without -P the exposed ports stay unpublished.
    let b = bindings(&specs, &exposed, false).unwrap();
    assert!(!b.contains_key("443/tcp"));
    assert_eq!(b["6000/tcp"], [hb("", "6000"), hb("", "7000")]);
}

#[test]
fn bindings_refuse_inconsistent_specs() {
    let s = spec(None, Some((8000, 8001)), (80, 82), Proto::Tcp);
    assert!(bindings(&[s], &[], false).is_err());
    let s = spec(None, None, (0, 0), Proto::Tcp);
    assert!(bindings(&[s], &[], false).is_err());
    let err = bindings(&[], &["x/tcp".into()], true).unwrap_err();
    assert!(err.to_string().contains("--expose: x/tcp"), "{err}");
}

fn map(entries: &Entries) -> PortMapJson {
    entries
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.map(|list| list.iter().map(|(ip, p)| hb(ip, p)).collect()),
            )
        })
        .collect()
}

/// Several containers' `NetworkSettings.Ports` and what `ps` and `port` print for them.
fn examples() -> Vec<(&'static str, PortMapJson)> {
    let any = "0.0.0.0";
    vec![
        ("none", map(&[])),
        ("exposed only", map(&[("80/tcp", None), ("443/tcp", None)])),
        (
            "one published, one exposed",
            map(&[("80/tcp", Some(&[(any, "8080")])), ("443/tcp", None)]),
        ),
        (
            "same number range folds",
            map(&[
                ("8000/tcp", Some(&[(any, "8000")])),
                ("8001/tcp", Some(&[(any, "8001")])),
                ("8002/tcp", Some(&[(any, "8002")])),
            ]),
        ),
        (
            "exposed range folds, gap splits",
            map(&[
                ("3000/tcp", None),
                ("3001/tcp", None),
                ("3002/tcp", None),
                ("3005/tcp", None),
                ("3001/udp", None),
            ]),
        ),
        (
            "mapped ports do not fold",
            map(&[
                ("80/tcp", Some(&[(any, "8000")])),
                ("81/tcp", Some(&[(any, "8001")])),
            ]),
        ),
        (
            "udp on loopback, tcp twice",
            map(&[
                ("53/udp", Some(&[("127.0.0.1", "5353")])),
                ("80/tcp", Some(&[(any, "32768"), ("127.0.0.1", "32769")])),
            ]),
        ),
        (
            "natural order",
            map(&[
                ("9/tcp", Some(&[(any, "10000")])),
                ("10/tcp", Some(&[(any, "9999")])),
                ("100/tcp", Some(&[(any, "100")])),
            ]),
        ),
        ("empty list is unpublished", map(&[("80/tcp", Some(&[]))])),
    ]
}

#[test]
fn ps_column_prints_like_docker() {
    let out: Vec<String> = examples()
        .iter()
        .map(|(name, ports)| format!("{name}: {:?}", ps_column(ports)))
        .collect();
    insta::assert_snapshot!(out.join("\n"));
}

#[test]
fn port_lines_print_like_docker() {
    let mut out = Vec::new();
    for (name, ports) in examples() {
        out.push(format!("## {name}"));
        for private in [None, Some("80"), Some("80/tcp"), Some("53/udp"), Some("x")] {
            let text = match port_lines(&ports, private, "web") {
                Ok(lines) => lines.join(" | "),
                Err(e) => format!("error: {e}"),
            };
            out.push(format!("{private:?}: {text}"));
        }
    }
    insta::assert_snapshot!(out.join("\n"));
}

#[test]
fn natural_order_compares_numbers_by_value() {
    assert_eq!(natural_cmp("9/tcp", "10/tcp"), Ordering::Less);
    assert_eq!(natural_cmp("a10", "a9"), Ordering::Greater);
    assert_eq!(natural_cmp("a010", "a10"), Ordering::Equal);
    assert_eq!(natural_cmp("a", "ab"), Ordering::Less);
}

#[test]
fn actual_lists_exposed_and_reserved_ports() {
    let b = bindings(
        &[
            parse_publish("127.0.0.1::80").unwrap(),
            parse_publish("53/udp").unwrap(),
        ],
        &[],
        false,
    )
    .unwrap();
    let held = reserve(&b).unwrap();
    let ports = actual(&held, &["80/tcp".into(), "443/tcp".into(), "bogus".into()]);
    assert_eq!(ports["443/tcp"], None);
    assert_eq!(ports["bogus"], None);
    let tcp = ports["80/tcp"].as_ref().unwrap();
    assert_eq!(tcp.len(), 1);
    assert_eq!(tcp[0].host_ip, "127.0.0.1");
    let tcp_held = held.iter().find(|r| r.proto == Proto::Tcp).unwrap();
    assert_eq!(tcp[0].host_port, tcp_held.host_port.to_string());
    let udp = ports["53/udp"].as_ref().unwrap();
    assert_eq!(udp[0].host_ip, "0.0.0.0");
    assert_ne!(udp[0].host_port, "0");
    if reserve::host_has_ipv6() {
        assert_eq!(
            (udp[1].host_ip.as_str(), &udp[1].host_port),
            ("::", &udp[0].host_port)
        );
    }
}

/// A port the kernel says is free right now (bound and released again).
fn free_port(proto: Proto) -> u16 {
    bind_port(proto, Ipv4Addr::UNSPECIFIED, 0).unwrap().1
}

fn one(key: &str, port: &str) -> PortBindings {
    PortBindings::from([(key.to_string(), vec![hb("", port)])])
}

#[test]
fn reserve_holds_ports_until_dropped() {
    let port = free_port(Proto::Tcp);
    let held = reserve(&one("80/tcp", &port.to_string())).unwrap();
    // On every IPv4 address, and on IPv6's when the host has it (the same number).
    let v6 = reserve::host_has_ipv6();
    assert_eq!(held.len(), if v6 { 2 } else { 1 });
    let got: Vec<_> = held
        .iter()
        .map(|r| {
            (
                r.host_ip.to_string(),
                r.host_port,
                r.container_port,
                r.proto,
            )
        })
        .collect();
    let mut want = vec![("0.0.0.0".to_string(), port, 80, Proto::Tcp)];
    if v6 {
        want.push(("::".to_string(), port, 80, Proto::Tcp));
    }
    assert_eq!(got, want);
    // Close-on-exec, so that the container's processes never inherit it.
    for r in &held {
        let flags = nix::fcntl::fcntl(&r.socket, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }
    // Held: nobody else can bind it, not even with SO_REUSEADDR (std sets it).
    assert!(TcpListener::bind(("0.0.0.0", port)).is_err());
    if v6 {
        assert!(TcpListener::bind(("::", port)).is_err());
    }
    assert!(matches!(
        reserve(&one("81/tcp", &port.to_string())),
        Err(Error::PortInUse(p)) if p == format!("0.0.0.0:{port}")
    ));
    drop(held);
    TcpListener::bind(("0.0.0.0", port)).expect("released when dropped");
    if v6 {
        TcpListener::bind(("::", port)).expect("released when dropped");
    }
}

#[test]
fn a_port_taken_on_ipv6_alone_is_taken() {
    if !reserve::host_has_ipv6() {
        eprintln!("skipped: this host has no IPv6");
        return;
    }
    // An IPv6-only listener elsewhere on the host.
    let other = std::net::TcpListener::bind(("::1", 0)).unwrap();
    let taken = other.local_addr().unwrap().port();
    let err = reserve(&one("80/tcp", &taken.to_string())).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Bind for [::]:{taken} failed: port is already allocated")
    );
    // Nothing stayed bound on IPv4.
    bind_port(Proto::Tcp, Ipv4Addr::UNSPECIFIED, taken).expect("the IPv4 socket closed");
    // A range moves on to a port free on both.
    let held = reserve(&one("80/tcp", &format!("{taken}-{}", taken + 20))).unwrap();
    assert!(held.iter().all(|r| r.host_port > taken));
    // An IPv4 address alone is not IPv6's business.
    let v4 = reserve(&PortBindings::from([(
        "80/tcp".to_string(),
        vec![hb("127.0.0.1", &taken.to_string())],
    )]))
    .unwrap();
    assert_eq!(v4.len(), 1);
}

#[test]
fn reserve_binds_an_ipv6_address_alone() {
    if !reserve::host_has_ipv6() {
        eprintln!("skipped: this host has no IPv6");
        return;
    }
    let held = reserve(&PortBindings::from([(
        "80/tcp".to_string(),
        vec![hb("::1", ""), hb("[::1]", "")],
    )]))
    .unwrap();
    assert_eq!(held.len(), 2);
    assert!(
        held.iter()
            .all(|r| r.host_ip == std::net::Ipv6Addr::LOCALHOST)
    );
    let ports = actual(&held, &[]);
    let shown: Vec<String> = ports["80/tcp"]
        .iter()
        .flatten()
        .map(|b| b.host_ip.clone())
        .collect();
    assert_eq!(shown, ["::1", "::1"]);
}

#[test]
fn reserve_udp_and_kernel_picked_ports() {
    let held = reserve(&PortBindings::from([
        ("53/udp".to_string(), vec![hb("", "")]),
        ("80/tcp".to_string(), vec![hb("127.0.0.1", ""), hb("", "")]),
    ]))
    .unwrap();
    let v6 = reserve::host_has_ipv6();
    assert_eq!(held.len(), if v6 { 5 } else { 3 });
    assert!(held.iter().all(|r| r.host_port != 0));
    assert_eq!(held[0].proto, Proto::Udp);
    let udp = held[0].host_port;
    let next = if v6 {
        // The same port on IPv6.
        assert_eq!((held[1].proto, held[1].host_port), (Proto::Udp, udp));
        assert!(std::net::UdpSocket::bind(("::", udp)).is_err());
        2
    } else {
        1
    };
    assert_eq!(held[next].host_ip, Ipv4Addr::LOCALHOST);
    assert!(std::net::UdpSocket::bind(("0.0.0.0", udp)).is_err());
}

#[test]
fn reserve_picks_the_first_free_port_of_a_range() {
    let listener = TcpListener::bind(("0.0.0.0", 0)).unwrap();
    let taken = listener.local_addr().unwrap().port();
    let last = taken.saturating_add(20);
    let held = reserve(&one("80/tcp", &format!("{taken}-{last}"))).unwrap();
    assert!(held[0].host_port > taken && held[0].host_port <= last);
    // The whole range taken: Docker's message names the range.
    let err = reserve(&one("80/tcp", &format!("{taken}-{taken}"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Bind for 0.0.0.0:{taken}-{taken} failed: port is already allocated")
    );
}

#[test]
fn a_port_in_use_fails_reserve_and_leaves_nothing_bound() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let taken = listener.local_addr().unwrap().port();
    let first = free_port(Proto::Tcp);
    let first_udp = free_port(Proto::Udp);
    // Keys in map order: "10/..." are reserved before "20/tcp" fails.
    let b = PortBindings::from([
        ("10/tcp".to_string(), vec![hb("", &first.to_string())]),
        ("10/udp".to_string(), vec![hb("", &first_udp.to_string())]),
        ("20/tcp".to_string(), vec![hb("", &taken.to_string())]),
    ]);
    match reserve(&b) {
        Err(Error::PortInUse(p)) => assert_eq!(p, format!("0.0.0.0:{taken}")),
        other => panic!("expected PortInUse, got {other:?}"),
    }
    assert_eq!(
        reserve(&b).unwrap_err().to_string(),
        format!("Bind for 0.0.0.0:{taken} failed: port is already allocated")
    );
    drop(listener);
    // Nothing of ours stayed bound: the same ports bind again (without SO_REUSEADDR).
    for (proto, port) in [
        (Proto::Tcp, first),
        (Proto::Udp, first_udp),
        (Proto::Tcp, taken),
    ] {
        bind_port(proto, Ipv4Addr::UNSPECIFIED, port)
            .unwrap_or_else(|e| panic!("{proto:?} {port} still bound: {e}"));
    }
}

#[test]
fn reserve_reports_other_bind_failures_with_the_address() {
    // 192.0.2.1 (TEST-NET-1) is no address of this host.
    let err = reserve(&PortBindings::from([(
        "80/tcp".to_string(),
        vec![hb("192.0.2.1", "8080")],
    )]))
    .unwrap_err();
    assert!(err.to_string().contains("192.0.2.1:8080"), "{err}");
    assert!(reserve(&one("80/tcp", "x")).is_err());
    assert!(reserve(&one("x/tcp", "")).is_err());
}

fn arb_range() -> impl Strategy<Value = (u16, u16)> {
    (1u16..=65535, 0u16..=20).prop_map(|(a, len)| (a, a.saturating_add(len)))
}

fn arb_spec() -> impl Strategy<Value = PortSpec> {
    (
        proptest::option::of(prop_oneof![
            any::<u32>().prop_map(|a| std::net::IpAddr::from(Ipv4Addr::from(a))),
            any::<u128>().prop_map(|a| std::net::IpAddr::from(std::net::Ipv6Addr::from(a))),
        ]),
        arb_range(),
        proptest::option::of(0u16..=65535),
        proptest::option::of(0u16..=20),
        prop_oneof![Just(Proto::Tcp), Just(Proto::Udp)],
    )
        .prop_filter_map(
            "host range fits",
            |(host_ip, container_ports, host_start, host_len, proto)| {
                let (cs, ce) = container_ports;
                let host_ports = match host_start {
                    None => None,
                    // A host range as long as the container's, or any range for one port.
                    Some(hs) => {
                        let len = if cs == ce {
                            host_len.unwrap_or(0)
                        } else {
                            ce - cs
                        };
                        Some((hs, hs.checked_add(len)?))
                    }
                };
                Some(PortSpec {
                    host_ip,
                    host_ports,
                    container_ports,
                    proto,
                })
            },
        )
}

proptest! {
    #[test]
    fn publish_text_round_trips(spec in arb_spec()) {
        let text = spec.to_string();
        prop_assert_eq!(parse_publish(&text).unwrap(), spec, "{}", text);
    }

    #[test]
    fn publish_parsing_never_panics(s in "[0-9a-z:/.\\[\\]-]{0,24}") {
        let _ = parse_publish(&s);
        let _ = parse_expose(&s);
        let _ = split_key(&s);
    }

    #[test]
    fn bindings_have_one_key_per_container_port(spec in arb_spec()) {
        let b = bindings(std::slice::from_ref(&spec), &[], false).unwrap();
        let (cs, ce) = spec.container_ports;
        prop_assert_eq!(b.len(), usize::from(ce - cs) + 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn kernel_picked_ports_from_32_threads_are_distinct(
        per_thread in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(Proto::Tcp), Just(Proto::Udp)], 1..4),
            32,
        )
    ) {
        let threads: Vec<_> = per_thread
            .into_iter()
            .map(|protos| {
                std::thread::spawn(move || {
                    let mut b = PortBindings::new();
                    for (i, p) in protos.iter().enumerate() {
                        b.entry(port_key(1 + i as u16, *p)).or_default().push(hb("", ""));
                    }
                    reserve(&b).unwrap()
                })
            })
            .collect();
        // Hold every thread's sockets until all are counted.
        let held: Vec<Reserved> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let distinct: BTreeSet<(&str, std::net::IpAddr, u16)> =
            held.iter().map(|r| (r.proto.as_str(), r.host_ip, r.host_port)).collect();
        prop_assert_eq!(distinct.len(), held.len());
        prop_assert!(held.iter().all(|r| r.socket.as_raw_fd() >= 0 && r.host_port != 0));
    }
}
