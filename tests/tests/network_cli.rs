//! `tug network create|ls|inspect|rm|prune` (state only: no devices yet): Docker's
//! columns and messages, subnets distinct across state roots and parallel creates (the
//! real host-wide registry under /run/tug), bad flags refused with 125 and nothing made.

use std::collections::BTreeSet;

use serde_json::Value;
use tug_e2e::{TestRoot, code, text};

/// Filters for snapshots: ids, times, automatic subnets and derived bridge names.
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\b[0-9a-f]{64}\b", "[ID]");
    s.add_filter(r"\b[0-9a-f]{12}\b", "[SHORTID]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    s.add_filter(r"\btug[0-9a-f]{12}\b", "[BRIDGE]");
    s
}

fn inspect(t: &TestRoot, name: &str) -> Value {
    t.inspect_first(&["network", "inspect", name])
}

fn subnet(t: &TestRoot, name: &str) -> String {
    inspect(t, name)["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .expect("a subnet")
        .to_string()
}

/// Whether two `a.b.c.d/n` subnets share an address.
fn overlaps(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        let (ip, p) = s.split_once('/').unwrap();
        let ip: std::net::Ipv4Addr = ip.parse().unwrap();
        (u32::from(ip), p.parse::<u32>().unwrap())
    };
    let ((x, p), (y, q)) = (parse(a), parse(b));
    let m = u32::MAX.checked_shl(32 - p.min(q)).unwrap_or(0);
    x & m == y & m
}

#[test]
fn ls_lists_predefined_and_created() {
    let t = TestRoot::new();
    let id = t.ok(&["network", "create", "--label", "team=a", "appnet"]);
    assert_eq!(id.trim().len(), 64);
    t.ok(&["network", "create", "other"]);
    let s = settings();
    s.bind(|| {
        insta::assert_snapshot!("ls", t.ok(&["network", "ls"]));
        insta::assert_snapshot!(
            "ls_filtered",
            t.ok(&[
                "network",
                "ls",
                "--filter",
                "driver=bridge",
                "--format",
                "{{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Internal}}"
            ])
        );
        insta::assert_snapshot!(
            "ls_format_table",
            t.ok(&[
                "network",
                "ls",
                "-f",
                "name=app",
                "--format",
                "table {{.ID}}\t{{.Name}}\t{{.Labels}}"
            ])
        );
    });
    let q = t.ok(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("id={}", &id[..5]),
    ]);
    assert_eq!(q.trim(), &id[..12]);
    assert_eq!(t.ok(&["network", "ls", "-q"]).lines().count(), 5);
    // Id prefixes resolve.
    assert_eq!(inspect(&t, &id[..8])["Name"], "appnet");
}

#[test]
fn inspect_shows_dockers_fields() {
    let t = TestRoot::new();
    t.ok(&[
        "network",
        "create",
        "--subnet",
        "10.213.7.0/24",
        "--gateway",
        "10.213.7.254",
        "--internal",
        "--label",
        "k=v",
        "lab",
    ]);
    let s = settings();
    s.bind(|| {
        insta::assert_snapshot!("inspect", t.ok(&["network", "inspect", "lab"]));
        insta::assert_snapshot!(
            "inspect_format",
            t.ok(&["network", "inspect", "-f", "{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Internal}}", "lab", "none"])
        );
    });
    let b = inspect(&t, "bridge");
    let dev = b["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap();
    assert!(dev.starts_with("tug") && dev.len() <= 15, "{dev}");
}

#[test]
fn bad_input_gives_clear_errors_and_creates_nothing() {
    let t = TestRoot::new();
    t.ok(&["network", "create", "dup"]);
    let cases: &[&[&str]] = &[
        &["network", "create", "--subnet", "10.213.8.0/33", "x"],
        &["network", "create", "--subnet", "10.213.8/24", "x"],
        &["network", "create", "--subnet", "10.213.8.7/24", "x"],
        &[
            "network",
            "create",
            "--subnet",
            "10.213.8.0/24",
            "--gateway",
            "10.213.9.1",
            "x",
        ],
        &[
            "network",
            "create",
            "--subnet",
            "10.213.8.0/24",
            "--gateway",
            "10.213.8.255",
            "x",
        ],
        &["network", "create", "--gateway", "10.213.8.1", "x"],
        &["network", "create", "-d", "overlay", "x"],
        &["network", "create", "bad/name"],
        &["network", "create", "host"],
        &["network", "create", "dup"],
        &["network", "ls", "--filter", "colour=red"],
    ];
    let mut report = String::new();
    for args in cases {
        let out = t.run(args);
        assert_eq!(code(&out), 125, "{args:?}: {}", text(&out));
        report.push_str(&format!("{}\n  {}", args[1..].join(" "), text(&out)));
    }
    for (args, want) in [
        (&["network", "rm", "bridge", "host", "none"][..], 1),
        (&["network", "rm", "nope"][..], 1),
        (&["network", "inspect", "nope"][..], 1),
    ] {
        let out = t.run(args);
        assert_eq!(code(&out), want, "{args:?}: {}", text(&out));
        report.push_str(&format!("{}\n  {}", args[1..].join(" "), text(&out)));
    }
    settings().bind(|| insta::assert_snapshot!("errors", report));
    let names = t.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names, "bridge\ndup\nhost\nnone\n");
    assert!(code(&t.run(&["network", "rm", "-f", "nope"])) == 0);
}

#[test]
fn two_state_roots_get_distinct_subnets() {
    let (a, b) = (TestRoot::new(), TestRoot::new());
    a.ok(&["network", "create", "net"]);
    b.ok(&["network", "create", "net"]);
    let subnets = [
        subnet(&a, "bridge"),
        subnet(&a, "net"),
        subnet(&b, "bridge"),
        subnet(&b, "net"),
    ];
    for i in 0..subnets.len() {
        for j in 0..i {
            assert!(!overlaps(&subnets[i], &subnets[j]), "{subnets:?}");
        }
    }
    let dev =
        |t: &TestRoot, n: &str| inspect(t, n)["Options"]["com.docker.network.bridge.name"].clone();
    assert_ne!(dev(&a, "bridge"), dev(&b, "bridge"));
    assert_ne!(dev(&a, "net"), dev(&b, "net"));
    // A subnet one root holds cannot be taken by another.
    let out = b.run(&["network", "create", "--subnet", &subnets[1], "again"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(text(&out).contains("overlaps"), "{}", text(&out));
}

#[test]
fn parallel_creates_get_distinct_subnets() {
    let t = TestRoot::new();
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..10)
            .map(|i| {
                let t = &t;
                s.spawn(move || t.ok(&["network", "create", &format!("n{i}")]))
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 10);
    let mut subnets: Vec<String> = (0..10).map(|i| subnet(&t, &format!("n{i}"))).collect();
    subnets.push(subnet(&t, "bridge"));
    for i in 0..subnets.len() {
        for j in 0..i {
            assert!(!overlaps(&subnets[i], &subnets[j]), "{subnets:?}");
        }
    }
}

#[test]
fn rm_and_prune_free_subnets() {
    let t = TestRoot::new();
    t.ok(&["network", "create", "--subnet", "10.213.10.0/24", "a"]);
    t.ok(&["network", "create", "--label", "keep=1", "b"]);
    assert_eq!(t.ok(&["network", "rm", "a"]), "a\n");
    // The subnet is free again once its network is gone.
    t.ok(&["network", "create", "--subnet", "10.213.10.0/24", "c"]);
    assert_eq!(
        t.ok(&["network", "prune", "-f", "--filter", "label=nokey"]),
        ""
    );
    assert_eq!(
        t.ok(&["network", "prune", "-f"]),
        "Deleted Networks:\nb\nc\n"
    );
    let names = t.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names, "bridge\nhost\nnone\n");
}

#[test]
fn parallel_creates_in_several_roots_get_distinct_subnets() {
    let roots: Vec<TestRoot> = (0..4).map(|_| TestRoot::new()).collect();
    std::thread::scope(|s| {
        for t in &roots {
            for i in 0..3 {
                s.spawn(move || t.ok(&["network", "create", &format!("n{i}")]));
            }
        }
    });
    let mut subnets = Vec::new();
    for t in &roots {
        subnets.push(subnet(t, "bridge"));
        for i in 0..3 {
            subnets.push(subnet(t, &format!("n{i}")));
        }
    }
    for i in 0..subnets.len() {
        for j in 0..i {
            assert!(!overlaps(&subnets[i], &subnets[j]), "{subnets:?}");
        }
    }
}
