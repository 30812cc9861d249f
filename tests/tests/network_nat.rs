//! Outbound access through NAT: a container on the default bridge fetches Debian's mirror
//! (the one test that leaves the machine), one on an `--internal` network cannot.

use tug_e2e::net::NetTest;
use tug_e2e::text;

const MIRROR: &str = "http://deb.debian.org/debian/";

#[test]
fn outbound_nat_reaches_debians_mirror() {
    let n = NetTest::new();
    // The mirror's answer as the host gets it (a proxy in front of the machine may
    // answer with an empty page: the container must get the same).
    let host = std::process::Command::new("busybox")
        .args(["wget", "-qO-", MIRROR])
        .output()
        .expect("busybox wget on the host");
    assert!(
        host.status.success(),
        "the host cannot reach the mirror: {}",
        text(&host)
    );
    let out = n.run_rm(&["busybox", "wget", "-S", "-O-", MIRROR]);
    assert!(out.status.success(), "{}", text(&out));
    // -S prints the server's status line on stderr.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP/1.1 200"),
        "{}",
        text(&out)
    );
    let body = String::from_utf8_lossy(&out.stdout);
    if String::from_utf8_lossy(&host.stdout).contains("dists/") {
        assert!(body.contains("dists/"), "no mirror index: {}", text(&out));
    }
    n.finish();
}

#[test]
fn internal_network_has_no_way_out() {
    let n = NetTest::new();
    n.network("nat-internal", &["--internal"]);
    // By address (the host resolves it), so that no DNS time-out slows the test; `sh`
    // stays PID 1 (it does not exec the last command: `exit` follows) so that `timeout`
    // can kill wget (PID 1 ignores SIGKILL from inside its namespace).
    let ip = std::net::ToSocketAddrs::to_socket_addrs(&("deb.debian.org", 80))
        .expect("resolve deb.debian.org on the host")
        .find(|a| a.is_ipv4())
        .expect("an IPv4 address of deb.debian.org")
        .ip();
    let cmd = format!("timeout -s KILL 3 wget -qO- http://{ip}/debian/; exit $?");
    let start = std::time::Instant::now();
    let out = n.run(&[
        "run",
        "--rm",
        "--network",
        "nat-internal",
        "busybox",
        "sh",
        "-c",
        &cmd,
    ]);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(6),
        "{}",
        text(&out)
    );
    assert!(!out.status.success(), "reached the mirror: {}", text(&out));
    assert!(!text(&out).contains("dists/"), "{}", text(&out));
    // As Docker: no default route at all, so a connection out fails at once.
    let out = n.run(&[
        "run",
        "--rm",
        "--network",
        "nat-internal",
        "busybox",
        "ip",
        "route",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("default"), "{}", text(&out));
    n.finish();
}
