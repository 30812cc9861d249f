//! Outbound access through NAT: a container on the default bridge fetches Debian's mirror
//! (the one test that leaves the machine), one on an `--internal` network cannot.

use tug_e2e::net::NetTest;
use tug_e2e::text;

const MIRROR: &str = "http://deb.debian.org/debian/";

#[test]
fn outbound_nat_reaches_debians_mirror() {
    let n = NetTest::new();
    let out = n.run_rm_ok(&["busybox", "wget", "-qO-", MIRROR]);
    assert!(out.contains("dists/"), "no mirror index: {out}");
    n.finish();
}

#[test]
fn internal_network_has_no_way_out() {
    let n = NetTest::new();
    n.network("nat-internal", &["--internal"]);
    let out = n.run(&[
        "run",
        "--rm",
        "--network",
        "nat-internal",
        "busybox",
        "timeout",
        "-s",
        "KILL",
        "4",
        "wget",
        "-qO-",
        MIRROR,
    ]);
    assert!(!out.status.success(), "reached the mirror: {}", text(&out));
    assert!(!text(&out).contains("dists/"), "{}", text(&out));
    n.finish();
}
