//! Many containers at once and cleaning up: 20 started in parallel on one network get
//! distinct addresses and host ports and each serves its own page; two state roots run
//! side by side; `rm -f` of running containers on several networks, with published ports
//! and a connected extra network, leaves no bridge, veth, nftables table or netns behind,
//! nor does `rm` after a killed shim; addresses are given back on removal.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tug_e2e::containers::kill_shim_of;
use tug_e2e::net::{self, NetTest};

#[test]
fn twenty_containers_start_in_parallel_with_distinct_addresses_and_ports() {
    const N: usize = 20;
    let n = NetTest::new();
    n.network("par-net", &[]);
    std::thread::scope(|s| {
        for i in 0..N {
            let n = &n;
            s.spawn(move || {
                let name = format!("par-{i}");
                let cmd = net::httpd_cmd(80, &format!("page-of-{name}"));
                n.run_d(&[
                    "--name",
                    &name,
                    "--network",
                    "par-net",
                    "-p",
                    "80",
                    "busybox",
                    "sh",
                    "-c",
                    &cmd,
                ]);
            });
        }
    });
    let mut addrs = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for i in 0..N {
        let name = format!("par-{i}");
        addrs.insert(n.ip_on(&name, "par-net"));
        ports.insert(n.host_port(&name, "80/tcp"));
    }
    assert_eq!(addrs.len(), N, "{addrs:?}");
    assert_eq!(ports.len(), N, "{ports:?}");
    for i in 0..N {
        let name = format!("par-{i}");
        let hp = n.host_port(&name, "80/tcp");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, hp));
        net::wait_http(addr, &format!("page-of-{name}"), Duration::from_secs(5));
    }
    // They see each other by name.
    let out = n.exec("par-0", &["ping", "-c1", "-W2", &format!("par-{}", N - 1)]);
    assert!(out.status.success(), "{}", tug_e2e::text(&out));
    n.finish();
}

#[test]
fn rm_f_of_running_containers_leaves_nothing_behind() {
    let n = NetTest::new();
    n.network("clean-a", &[]);
    n.network("clean-b", &[]);
    n.run_d(&[
        "--name", "clean-1", "-p", "80", "-p", "53/udp", "busybox", "sleep", "60",
    ]);
    n.run_d(&[
        "--name",
        "clean-2",
        "--network",
        "clean-a",
        "-p",
        "80",
        "busybox",
        "sleep",
        "60",
    ]);
    n.run_d(&[
        "--name",
        "clean-3",
        "--network",
        "clean-b",
        "busybox",
        "sleep",
        "60",
    ]);
    n.ok(&["network", "connect", "clean-b", "clean-2"]);
    // Three bridges, four veths, two port tables, three network tables exist now.
    let left = n.leftovers();
    let count = |what: &str| left.iter().filter(|l| l.starts_with(what)).count();
    assert_eq!(count("bridge "), 3, "{left:#?}");
    assert_eq!(count("veth "), 4, "{left:#?}");
    assert_eq!(count("nft table tug_p"), 2, "{left:#?}");
    n.finish();
}

#[test]
fn two_state_roots_run_side_by_side_and_clean_up_apart() {
    let (a, b) = (NetTest::new(), NetTest::new());
    let (ba, bb) = (a.bridge_of("bridge"), b.bridge_of("bridge"));
    assert_ne!(ba, bb);
    let mut ports = Vec::new();
    for (n, name) in [(&a, "roots-a"), (&b, "roots-b")] {
        let cmd = net::httpd_cmd(80, &format!("page-of-{name}"));
        n.run_d(&["--name", name, "-p", "80", "busybox", "sh", "-c", &cmd]);
        ports.push(n.host_port(name, "80/tcp"));
    }
    assert_ne!(ports[0], ports[1]);
    let ip_a = a.ip_on("roots-a", "bridge");
    let ip_b = b.ip_on("roots-b", "bridge");
    assert_ne!(ip_a, ip_b);
    for (p, name) in ports.iter().zip(["roots-a", "roots-b"]) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, *p));
        net::wait_http(addr, &format!("page-of-{name}"), Duration::from_secs(5));
    }
    // One root going leaves the other's bridge and ports working.
    a.finish();
    assert!(
        net::tug_links().iter().any(|(l, _)| *l == bb),
        "{bb} went with the other root"
    );
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ports[1]));
    net::wait_http(addr, "page-of-roots-b", Duration::from_secs(5));
    b.finish();
}

#[test]
fn a_killed_shim_leaves_nothing_after_rm() {
    let n = NetTest::new();
    n.network("shim-net", &[]);
    let hp = net::free_port(false);
    n.run_d(&[
        "--name",
        "shim-killed",
        "--network",
        "shim-net",
        "-p",
        &format!("{hp}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    kill_shim_of(n.pid("shim-killed"));
    n.ok(&["rm", "shim-killed"]);
    n.assert_clean();
    // Its host port is free again.
    std::net::TcpListener::bind(("0.0.0.0", hp)).expect("the host port is free after rm");
    n.finish();
}

#[test]
fn addresses_are_freed_on_removal() {
    let n = NetTest::new();
    // A /29: gateway .1, five addresses for containers (.2 to .6). Another suite may
    // hold one: the first free of a few.
    let free = (0..32u32).find_map(|i| {
        let subnet = format!("10.214.77.{}/29", i * 8);
        let out = n.run(&["network", "create", "--subnet", &subnet, "small-probe"]);
        out.status.success().then_some(subnet)
    });
    let subnet = free.expect("a free /29 in 10.214.77.0/24");
    n.ok(&["network", "rm", "small-probe"]);
    n.network("small-net", &["--subnet", &subnet]);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(n.run_d(&[
            "--name",
            &format!("small-{i}"),
            "--network",
            "small-net",
            "busybox",
            "sleep",
            "60",
        ]));
    }
    let out = n.run(&[
        "create",
        "--name",
        "small-full",
        "--network",
        "small-net",
        "busybox",
        "true",
    ]);
    assert_eq!(tug_e2e::code(&out), 125, "{}", tug_e2e::text(&out));
    assert!(
        tug_e2e::text(&out).contains("no available IPv4 addresses"),
        "{}",
        tug_e2e::text(&out)
    );
    let freed = n.ip_on("small-2", "small-net");
    n.ok(&["rm", "-f", &ids[2]]);
    n.run_d(&[
        "--name",
        "small-again",
        "--network",
        "small-net",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(n.ip_on("small-again", "small-net"), freed);
    n.finish();
}

#[test]
fn network_prune_takes_the_bridge_a_killed_shim_left() {
    let n = NetTest::new();
    // Made by hand: the prune removes it, not `finish`.
    n.ok(&["network", "create", "prune-net"]);
    let bridge = n.bridge_of("prune-net");
    n.run_d(&[
        "--name",
        "prune-c",
        "--network",
        "prune-net",
        "busybox",
        "sleep",
        "60",
    ]);
    kill_shim_of(n.pid("prune-c"));
    n.ok(&["rm", "prune-c"]);
    // No shim is left to take the bridge down: prune must.
    let out = n.ok(&["network", "prune", "-f"]);
    assert!(out.contains("prune-net"), "{out}");
    assert!(
        !net::tug_links().iter().any(|(l, _)| *l == bridge),
        "{bridge} outlived its network"
    );
    n.assert_clean();
    n.finish();
}
