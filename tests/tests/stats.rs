//! `tug stats` counts what a container really did: the bytes through its interfaces
//! (NET I/O, from its network namespace) and to block devices (BLOCK I/O, from its
//! cgroup), and prints Docker's JSON objects with `--format json` and `{{json .}}`.

use std::io::{Read, Write};
use std::time::Duration;

use tug_e2e::TestRoot;
use tug_e2e::containers::Running;

/// A size as Docker prints it ("5.27MB", "0B"), in bytes.
fn bytes_of(human: &str) -> f64 {
    let n = human.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &human[n.len()..];
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => panic!("unknown unit in {human:?}"),
    };
    n.parse::<f64>().expect("a number") * scale
}

/// The two sides of "1.2kB / 5.27MB", in bytes.
fn pair(field: &serde_json::Value) -> (f64, f64) {
    let s = field.as_str().expect("a string");
    let (a, b) = s.split_once(" / ").expect("two sides");
    (bytes_of(a), bytes_of(b))
}

#[test]
fn stats_counts_network_and_block_io_and_prints_json() {
    let t = TestRoot::with_busybox();
    // 8 MB written past the page cache, then a 5 MB file served over HTTP.
    let c = Running::start(
        &t,
        "served",
        &[],
        "dd if=/dev/zero of=/direct bs=1M count=8 oflag=direct 2>/dev/null; \
         mkdir /www; dd if=/dev/zero of=/www/big bs=1M count=5 2>/dev/null; \
         httpd -p 8080 -h /www",
    );
    let ip = t.inspect_f(&c.name, "{{.NetworkSettings.IPAddress}}");
    let mut got = Vec::new();
    tug_e2e::wait_for("the 5 MB over HTTP", Duration::from_secs(20), || {
        got.clear();
        let Ok(mut s) = std::net::TcpStream::connect(format!("{ip}:8080")) else {
            return false;
        };
        let _ = s.write_all(b"GET /big HTTP/1.0\r\n\r\n");
        let _ = s.read_to_end(&mut got);
        got.len() > 5 << 20
    });

    // Block I/O shows only where the container's files are on a disk (the cgroup v2
    // lane's VM keeps them in memory: a device without a major number).
    let dev = std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(t.root()).unwrap());
    let on_disk = libc::major(dev) != 0;
    for format in ["json", "{{json .}}"] {
        let out = t.ok(&["stats", "--no-stream", "--format", format]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "one object per container: {out}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).expect(lines[0]);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "BlockIO",
                "CPUPerc",
                "Container",
                "ID",
                "MemPerc",
                "MemUsage",
                "Name",
                "NetIO",
                "PIDs"
            ]
        );
        assert_eq!(v["Name"], "served");
        let (rx, tx) = pair(&v["NetIO"]);
        assert!(rx > 0.0, "the request came in: {v}");
        assert!(tx >= 5e6, "5 MB went out: {v}");
        let (_read, written) = pair(&v["BlockIO"]);
        if on_disk {
            assert!(written >= 8e6, "8 MB went to the disk: {v}");
        }
    }

    // --no-trunc: the whole id.
    let id = t.ok(&[
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        "{{.ID}}",
        "served",
    ]);
    assert_eq!(id.trim(), t.inspect_f(&c.name, "{{.Id}}"));
}

#[test]
fn stats_of_a_host_network_container_counts_no_interface() {
    let t = TestRoot::with_busybox();
    let _c = Running::start(&t, "onhost", &["--network", "host"], "true");
    let out = t.ok(&["stats", "--no-stream", "--format", "{{.NetIO}}", "onhost"]);
    assert_eq!(out.trim(), "0B / 0B");
}
