//! `run` on the default bridge and the other network modes: an address of the bridge's
//! subnet with Docker's MAC, the default route through the gateway, the host's resolvers;
//! `--network none|host|container:<name>`, `--dns`, `--dns-search`, `--add-host`,
//! `--hostname`, `--mac-address`; stop takes the interfaces down, start brings them back
//! with the same address.

use std::net::Ipv4Addr;
use std::time::Duration;

use tug_e2e::net::{self, NetTest};
use tug_e2e::{code, text};

/// The host's resolvers that a container gets: not the loopback ones.
fn host_nameservers() -> Vec<String> {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.starts_with("127.") && s != "::1")
        .collect()
}

#[test]
fn default_bridge_gives_address_route_mac_and_resolvers() {
    let n = NetTest::new();
    n.run_d(&["--name", "br-one", "busybox", "sleep", "60"]);
    assert_eq!(
        n.inspect_f("br-one", "{{.HostConfig.NetworkMode}}"),
        "bridge"
    );
    let ip: Ipv4Addr = n
        .inspect_f("br-one", "{{.NetworkSettings.IPAddress}}")
        .parse()
        .expect("an address");
    assert_eq!(ip, n.ip_on("br-one", "bridge"));
    let cfg = n.inspect_network("bridge")["IPAM"]["Config"][0].clone();
    let gw = cfg["Gateway"].as_str().unwrap().to_string();
    let (base, prefix) = cfg["Subnet"].as_str().unwrap().split_once('/').unwrap();
    let prefix: u32 = prefix.parse().unwrap();
    let mask = u32::MAX << (32 - prefix);
    let base: Ipv4Addr = base.parse().unwrap();
    assert_eq!(
        u32::from(ip) & mask,
        u32::from(base),
        "{ip} in {base}/{prefix}"
    );
    assert_eq!(n.inspect_f("br-one", "{{.NetworkSettings.Gateway}}"), gw);
    let o = ip.octets();
    let mac = format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3]);
    assert_eq!(
        n.inspect_f("br-one", "{{.NetworkSettings.MacAddress}}"),
        mac
    );

    let out = n.exec(
        "br-one",
        &[
            "sh",
            "-c",
            "ip -o -4 addr show eth0; cat /sys/class/net/eth0/address; ip -4 route; cat /etc/resolv.conf",
        ],
    );
    let s = text(&out);
    assert!(out.status.success(), "{s}");
    // With its subnet's broadcast address, as Docker's.
    let brd = Ipv4Addr::from(u32::from(base) | !mask);
    assert!(s.contains(&format!("inet {ip}/{prefix} brd {brd} ")), "{s}");
    assert!(s.contains(&format!("{mac}\n")), "{s}");
    assert!(s.contains(&format!("default via {gw}")), "{s}");
    for ns in host_nameservers() {
        assert!(s.contains(&format!("nameserver {ns}")), "{s}");
    }
    assert!(!s.contains("nameserver 127."), "{s}");
    // The gateway (the bridge) answers.
    let out = n.exec("br-one", &["ping", "-c1", "-W2", &gw]);
    assert!(out.status.success(), "{}", text(&out));
    // A second container gets another address and reaches the first.
    let out = n.run_rm_ok(&["busybox", "ping", "-c1", "-W2", &ip.to_string()]);
    assert!(out.contains("1 packets received"), "{out}");
    n.finish();
}

#[test]
fn stop_takes_interfaces_down_and_start_restores_the_same_address() {
    let n = NetTest::new();
    let id = n.run_d(&["--name", "br-restart", "busybox", "sleep", "60"]);
    let ip = n.ip_on("br-restart", "bridge");
    // While it runs, the leak check sees its bridge and veth (so it can see a leak).
    let left = n.leftovers();
    assert!(left.len() >= 2, "running, but the check sees only {left:?}");
    n.ok(&["stop", "-t", "0", "br-restart"]);
    n.assert_clean();
    n.ok(&["start", "br-restart"]);
    assert_eq!(n.ip_on("br-restart", "bridge"), ip);
    let out = n.exec("br-restart", &["ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(
        text(&out).contains(&format!("inet {ip}/")),
        "{}",
        text(&out)
    );
    n.ok(&["rm", "-f", &id]);
    n.assert_clean();
    n.finish();
}

#[test]
fn network_none_has_only_loopback() {
    let n = NetTest::new();
    let out = n.run_rm_ok(&["--network", "none", "busybox", "ip", "-o", "link"]);
    let names: Vec<&str> = out.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    assert_eq!(names, ["lo"], "{out}");
    // The loopback is up, as Docker's: a server on 127.0.0.1 answers from inside.
    assert!(out.contains("<LOOPBACK,UP,LOWER_UP>"), "{out}");
    let out = n.run_rm_ok(&[
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo hi > /tmp/i.html; httpd -p 127.0.0.1:8080 -h /tmp; \
         for i in $(seq 50); do wget -qO- http://127.0.0.1:8080/i.html && exit 0; sleep 0.1; done; exit 1",
    ]);
    assert_eq!(out, "hi\n");
    // --add-host works without a network too (and on the host's copy of /etc/hosts).
    for mode in ["none", "host"] {
        let hosts = n.run_rm_ok(&[
            "--network",
            mode,
            "--add-host",
            "extra.test=10.9.8.7",
            "busybox",
            "cat",
            "/etc/hosts",
        ]);
        assert!(hosts.ends_with("10.9.8.7\textra.test\n"), "{mode}: {hosts}");
    }
    // A bad value is refused before anything is made.
    let out = n.run(&["run", "--rm", "--add-host", "nocolon", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        text(&out).contains("bad format for add-host"),
        "{}",
        text(&out)
    );
    assert_eq!(n.run(&["ps", "-aq"]).stdout, b"");
    n.finish();
}

#[test]
fn network_host_shares_the_hosts_interfaces() {
    let n = NetTest::new();
    let host = net::host_addr();
    let out = n.run_rm_ok(&["--network", "host", "busybox", "ip", "-o", "-4", "addr"]);
    assert!(out.contains(&format!("inet {host}/")), "{out}");
    let out = n.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "80",
        "busybox",
        "true",
    ]);
    assert!(
        out.status.success(),
        "ports are discarded with host networking: {}",
        text(&out)
    );
    n.finish();
}

#[test]
fn network_container_joins_another_containers_namespace() {
    let n = NetTest::new();
    let cmd = net::httpd_cmd(8080, "joined-ns");
    n.run_d(&["--name", "join-web", "busybox", "sh", "-c", &cmd]);
    let ip = n.ip_on("join-web", "bridge");
    // Wait (from the host, inside its namespace) until httpd listens.
    let pid = n.pid("join-web");
    tug_e2e::wait_for(
        "httpd listening in join-web",
        Duration::from_secs(5),
        || {
            net::in_netns(pid, || {
                std::net::TcpStream::connect(("127.0.0.1", 8080)).is_ok()
            })
        },
    );
    let out = n.run_rm_ok(&[
        "--network",
        "container:join-web",
        "busybox",
        "sh",
        "-c",
        "wget -qO- http://127.0.0.1:8080/ && ip -o -4 addr show eth0",
    ]);
    assert!(out.contains("joined-ns"), "{out}");
    assert!(out.contains(&format!("inet {ip}/")), "{out}");
    // Docker's conflicts.
    for extra in [&["-p", "80"][..], &["--dns", "192.0.2.53"][..]] {
        let args = [
            &["run", "--rm", "--network", "container:join-web"][..],
            extra,
            &["busybox", "true"][..],
        ]
        .concat();
        let out = n.run(&args);
        assert_eq!(code(&out), 125, "{args:?}: {}", text(&out));
        assert!(text(&out).contains("conflicting options"), "{}", text(&out));
    }
    n.finish();
}

#[test]
fn dns_dns_search_add_host_hostname_and_mac_reach_the_container() {
    let n = NetTest::new();
    let mac = "02:42:0a:be:ef:01";
    let out = n.run_rm_ok(&[
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--add-host",
        "extra.test:10.1.2.3",
        "--hostname",
        "myhost",
        "--mac-address",
        mac,
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname; \
         cat /sys/class/net/eth0/address; ping -c1 -W1 extra.test; true",
    ]);
    let (resolv, rest) = out.split_once("---\n").expect("resolv.conf");
    let (hosts, rest) = rest.split_once("---\n").expect("hosts");
    assert!(resolv.contains("nameserver 192.0.2.53"), "{resolv}");
    assert!(resolv.contains("search example.test"), "{resolv}");
    for ns in host_nameservers() {
        assert!(!resolv.contains(&ns), "--dns replaces the host's: {resolv}");
    }
    assert!(hosts.contains("10.1.2.3\textra.test"), "{hosts}");
    assert!(
        hosts
            .lines()
            .any(|l| l.ends_with("\tmyhost") && !l.starts_with("127.")),
        "{hosts}"
    );
    assert!(rest.starts_with("myhost\n"), "{rest}");
    assert!(rest.contains(&format!("{mac}\n")), "{rest}");
    assert!(rest.contains("PING extra.test (10.1.2.3)"), "{rest}");
    let out = n.run(&["run", "--rm", "--mac-address", "nope", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    n.finish();
}
