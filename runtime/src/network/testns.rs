//! Test-only named network namespaces (`ip netns add`), deleted on drop, so tests never
//! touch the host's links or rules.

use std::fs::File;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The non-loopback address of a [`TestNetns::host`].
pub const HOST_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 1);

/// A named network namespace that is deleted, with every link and table in it, on drop.
pub struct TestNetns {
    pub name: String,
    pub file: File,
}

impl TestNetns {
    pub fn new(tag: &str) -> TestNetns {
        let name = format!(
            "tugt-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip");
        assert!(st.success(), "ip netns add {name}");
        let file = File::open(format!("/run/netns/{name}")).expect("open netns");
        TestNetns { name, file }
    }

    /// A namespace standing in for the host: `lo` up and a non-loopback address,
    /// [`HOST_ADDR`], on `up0` (one end of a veth pair whose other end, `up1`, stays here).
    pub fn host(tag: &str) -> TestNetns {
        let ns = TestNetns::new(tag);
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns.exec(&[
            "ip", "link", "add", "up0", "type", "veth", "peer", "name", "up1",
        ]);
        ns.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", "up0"]);
        ns.exec(&["ip", "link", "set", "up0", "up"]);
        ns.exec(&["ip", "link", "set", "up1", "up"]);
        ns
    }

    /// Output of a command run inside the namespace.
    pub fn exec(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{args:?} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
