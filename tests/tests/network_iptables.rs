//! The iptables backend (hosts without the `nft` program), forced with
//! `TUG_FIREWALL=iptables`: published ports from the host and from a container, NAT out,
//! an internal network shut off, and nothing of tug's chains left afterwards. One test in
//! its own binary, because it sets the variable for the whole process.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tug_e2e::net::{self, NetTest};
use tug_e2e::text;

#[test]
fn iptables_backend_publishes_ports_nats_out_and_cleans_up() {
    // SAFETY: the only test of this binary: no other thread reads the environment.
    unsafe { std::env::set_var("TUG_FIREWALL", "iptables") };
    let n = NetTest::new();
    let hp = net::free_port(false);
    n.run_d(&[
        "--name",
        "ipt-web",
        "-p",
        &format!("{hp}:8080"),
        "busybox",
        "sh",
        "-c",
        &net::httpd_cmd(8080, "via-iptables"),
    ]);
    let id = n.inspect_f("ipt-web", "{{.Id}}");
    let chains = net::tug_chains();
    let bridge = n.bridge_of("bridge");
    for c in [
        tug::network::iptables::network_chain(&bridge),
        tug::network::iptables::ports_chain(&tug::network::endpoint::ports_table(&id)),
    ] {
        assert!(chains.contains(&c), "no chain {c} in {chains:?}");
    }
    assert!(
        !net::tug_tables()
            .iter()
            .any(|t| t.contains(&bridge) || t.contains(&id[..16])),
        "nft tables made despite TUG_FIREWALL=iptables"
    );
    let limit = Duration::from_secs(5);
    net::wait_http(
        SocketAddr::from((Ipv4Addr::LOCALHOST, hp)),
        "via-iptables",
        limit,
    );
    net::wait_http(
        SocketAddr::from((net::host_addr(), hp)),
        "via-iptables",
        limit,
    );
    // From another container, through the host's address (hairpin on the bridge).
    let out = n.run_rm(&[
        "busybox",
        "wget",
        "-qO-",
        &format!("http://{}:{hp}/", net::host_addr()),
    ]);
    assert!(text(&out).contains("via-iptables"), "{}", text(&out));
    // Out through NAT to Debian's mirror (a file: busybox wget dislikes empty bodies).
    let out = n.run_rm(&[
        "busybox",
        "wget",
        "-qO-",
        "http://deb.debian.org/debian/dists/bookworm/Release",
    ]);
    assert!(text(&out).contains("Origin: Debian"), "{}", text(&out));
    // An internal network has no way out (no route) but its containers meet.
    n.network("ipt-internal", &["--internal"]);
    let out = n.run_rm(&["--network", "ipt-internal", "busybox", "ip", "route"]);
    assert!(!text(&out).contains("default"), "{}", text(&out));
    n.finish();
    assert!(
        !net::tug_chains()
            .iter()
            .any(|c| c.contains(&bridge) || c.contains(&id[..16])),
        "{:?}",
        net::tug_chains()
    );
}
