//! Helpers of the networking tests: a test's containers and networks removed at its end
//! (also when it fails), the check that none of the test's bridges, veths, nftables
//! tables or named netns is left after that, servers run inside a container's network
//! namespace (UDP, half-close and load tests need more than busybox's `nc`), and waiting
//! on a condition with a deadline.
//!
//! Leak checks are exact, not global counts: other tests and suites create tug devices
//! at the same time. A test knows its bridges (from `network inspect`), its containers'
//! ids, and so the names of their host veths (`endpoint::host_veth_name`) and port tables
//! (`endpoint::ports_table`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tug::network::{endpoint, nft};

use crate::{TestRoot, text};

/// How long cleanup (a shim taking down its interfaces) may take after `rm -f`.
pub const CLEANUP_LIMIT: Duration = Duration::from_secs(5);

/// A networking test's state root, with the busybox image, and what the test made in it:
/// on drop every remembered container is removed (`rm -f`) and every user network too.
/// [`NetTest::finish`] does the same and then asserts that nothing of the test is left.
pub struct NetTest {
    pub t: TestRoot,
    ids: Mutex<Vec<String>>,
    networks: Mutex<Vec<String>>,
    bridges: Mutex<BTreeSet<String>>,
    /// [`NetTest::finish`] ran: everything is removed already.
    finished: bool,
}

impl std::ops::Deref for NetTest {
    type Target = TestRoot;
    fn deref(&self) -> &TestRoot {
        &self.t
    }
}

impl Default for NetTest {
    fn default() -> Self {
        Self::new()
    }
}

impl NetTest {
    /// A new root with busybox; its default bridge's device is remembered.
    pub fn new() -> NetTest {
        let n = NetTest {
            t: TestRoot::with_busybox(),
            ids: Mutex::new(Vec::new()),
            networks: Mutex::new(Vec::new()),
            bridges: Mutex::new(BTreeSet::new()),
            finished: false,
        };
        let b = n.bridge_of("bridge");
        n.bridges.lock().unwrap().insert(b);
        n
    }

    /// The bridge device of network `name` (`Options."com.docker.network.bridge.name"`).
    pub fn bridge_of(&self, name: &str) -> String {
        let v = self.inspect_network(name);
        v["Options"]["com.docker.network.bridge.name"]
            .as_str()
            .unwrap_or_else(|| panic!("network {name} has no bridge device: {v}"))
            .to_string()
    }

    /// `network inspect NAME` (the one object).
    pub fn inspect_network(&self, name: &str) -> serde_json::Value {
        let out = self.t.ok(&["network", "inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("network inspect JSON");
        v[0].clone()
    }

    /// `network create ARGS... NAME`, remembered with its bridge.
    pub fn network(&self, name: &str, args: &[&str]) -> String {
        let mut a = vec!["network", "create"];
        a.extend_from_slice(args);
        a.push(name);
        self.t.ok(&a);
        self.networks.lock().unwrap().push(name.to_string());
        let b = self.bridge_of(name);
        self.bridges.lock().unwrap().insert(b.clone());
        b
    }

    /// Remembers container `id` (trimmed) for the cleanup and the leak check.
    pub fn remember(&self, id: &str) -> String {
        let id = id.trim().to_string();
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// `tug run -d ARGS`, remembered; returns the full id.
    pub fn run_d(&self, args: &[&str]) -> String {
        let mut a = vec!["run", "-d"];
        a.extend_from_slice(args);
        let id = self.t.ok(&a);
        self.remember(&id)
    }

    /// A busybox container `name` that sleeps, with container port `port` published on a
    /// free host port, and a listener on `port` made inside its network namespace (by the
    /// test, since busybox's nc has neither UDP nor `-k`). Returns the host port and the
    /// listener (drop it before the container goes: it holds the namespace).
    pub fn published_listener(&self, name: &str, port: u16) -> (u16, std::net::TcpListener) {
        let hp = self.published_sleeper(name, &port.to_string());
        let l = in_netns(self.pid(name), || {
            tcp_listener(port, Duration::from_secs(8))
        });
        (hp, l)
    }

    /// A busybox container `name` that sleeps, with `target` (`80`, `5353/udp`) published
    /// on a free host port of that protocol; returns the host port.
    pub fn published_sleeper(&self, name: &str, target: &str) -> u16 {
        let hp = free_port(target.ends_with("/udp"));
        self.run_d(&[
            "--name",
            name,
            "-p",
            &format!("{hp}:{target}"),
            "busybox",
            "sleep",
            "60",
        ]);
        hp
    }

    /// `tug run --rm ARGS` in the foreground: its output.
    pub fn run_rm(&self, args: &[&str]) -> Output {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        self.t.run(&a)
    }

    /// `tug run --rm ARGS`, asserted to succeed: its stdout.
    pub fn run_rm_ok(&self, args: &[&str]) -> String {
        let out = self.run_rm(args);
        assert!(out.status.success(), "run --rm {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `tug exec CONTAINER ARGS`: its output.
    pub fn exec(&self, container: &str, args: &[&str]) -> Output {
        let mut a = vec!["exec", container];
        a.extend_from_slice(args);
        self.t.run(&a)
    }

    /// `inspect -f TEMPLATE NAME`, trimmed.
    pub fn inspect_f(&self, name: &str, template: &str) -> String {
        self.t.inspect_f(name, template)
    }

    /// The pid of a running container's init.
    pub fn pid(&self, name: &str) -> i32 {
        let p = self.inspect_f(name, "{{.State.Pid}}");
        p.parse().unwrap_or_else(|_| panic!("pid of {name}: {p:?}"))
    }

    /// A container's address on network `net`.
    pub fn ip_on(&self, name: &str, net: &str) -> Ipv4Addr {
        let tpl = format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}");
        let s = self.inspect_f(name, &tpl);
        s.parse()
            .unwrap_or_else(|_| panic!("address of {name} on {net}: {s:?}"))
    }

    /// The host port a running container's `key` (`"80/tcp"`) is published on.
    pub fn host_port(&self, name: &str, key: &str) -> u16 {
        let tpl = format!("{{{{(index (index .NetworkSettings.Ports \"{key}\") 0).HostPort}}}}");
        let s = self.inspect_f(name, &tpl);
        s.parse()
            .unwrap_or_else(|_| panic!("host port of {name} {key}: {s:?}"))
    }

    /// What of this test is still on the host: its bridges, its containers' host veths,
    /// nftables tables of its bridges and containers, named netns naming a container.
    pub fn leftovers(&self) -> Vec<String> {
        let bridges = self.bridges.lock().unwrap().clone();
        let ids = self.ids.lock().unwrap().clone();
        let links = tug_links();
        let tables = tug_tables();
        let netns = named_netns();
        let chains = tug_chains();
        let mut left = Vec::new();
        for b in &bridges {
            if links.iter().any(|(n, _)| n == b) {
                left.push(format!("bridge {b}"));
            }
            for (n, master) in &links {
                if master.as_deref() == Some(b.as_str()) {
                    left.push(format!("link {n} on bridge {b}"));
                }
            }
            let t = nft::table_name(b);
            if tables.contains(&t) {
                left.push(format!("nft table {t}"));
            }
            let c = tug::network::iptables::network_chain(b);
            if chains.contains(&c) {
                left.push(format!("iptables chain {c}"));
            }
            for id in &ids {
                let v = endpoint::host_veth_name(id, b);
                if links.iter().any(|(n, _)| *n == v) {
                    left.push(format!("veth {v} of container {}", &id[..12]));
                }
            }
        }
        for id in &ids {
            let t = endpoint::ports_table(id);
            if tables.contains(&t) {
                left.push(format!("nft table {t}"));
            }
            let c = tug::network::iptables::ports_chain(&t);
            if chains.contains(&c) {
                left.push(format!("iptables chain {c}"));
            }
            if netns.iter().any(|n| n.contains(&id[..12])) {
                left.push(format!("netns of container {}", &id[..12]));
            }
        }
        left
    }

    /// Asserts (waiting up to [`CLEANUP_LIMIT`]) that nothing of this test is left.
    pub fn assert_clean(&self) {
        let start = Instant::now();
        loop {
            let left = self.leftovers();
            if left.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < CLEANUP_LIMIT,
                "left behind after {CLEANUP_LIMIT:?}: {left:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Removes (`rm -f`) every remembered container, asserting each removal, then
    /// asserts that no device, table or netns of the test is left; removes the test's
    /// networks (freeing their subnets) and checks again.
    pub fn finish(mut self) {
        let ids = self.ids.lock().unwrap().clone();
        for id in &ids {
            let out = self.t.run(&["rm", "-f", id]);
            let gone = out.status.success() || text(&out).contains("No such container");
            assert!(gone, "rm -f {id}: {}", text(&out));
        }
        self.assert_clean();
        let nets = std::mem::take(&mut *self.networks.lock().unwrap());
        for n in nets.iter().rev() {
            self.t.ok(&["network", "rm", n]);
        }
        self.assert_clean();
        self.finished = true;
    }
}

impl Drop for NetTest {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        for id in self.ids.lock().unwrap().iter() {
            let _ = self.t.run(&["rm", "-f", id]);
        }
        for n in self.networks.lock().unwrap().iter().rev() {
            let _ = self.t.run(&["network", "rm", n]);
        }
    }
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn a host command");
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// tug's iptables chains (`TUG-…`, made when `TUG_FIREWALL=iptables` or `nft` is missing).
pub fn tug_chains() -> Vec<String> {
    tug::network::iptables::tug_chains().unwrap_or_default()
}

/// The host's links whose name starts with `tug`, with their bridge (master) if any.
pub fn tug_links() -> Vec<(String, Option<String>)> {
    let out = stdout_of(Command::new("ip").args(["-o", "link", "show"]));
    out.lines()
        .filter_map(|l| {
            // "12: tug0: <...> mtu 1500 ... master tug0 state UP ..."
            let name = l.split(": ").nth(1)?;
            let name = name.split('@').next()?.to_string();
            if !name.starts_with("tug") {
                return None;
            }
            let mut words = l.split_whitespace();
            let master = words
                .by_ref()
                .find(|w| *w == "master")
                .and_then(|_| words.next())
                .map(str::to_string);
            Some((name, master))
        })
        .collect()
}

/// The host's nftables tables of tug (`tug_*`, family ip).
pub fn tug_tables() -> Vec<String> {
    let out = stdout_of(Command::new("nft").args(["list", "tables", "ip"]));
    out.lines()
        .filter_map(|l| l.strip_prefix("table ip "))
        .filter(|t| t.starts_with("tug_"))
        .map(str::to_string)
        .collect()
}

/// The host's named network namespaces (`ip netns list`).
pub fn named_netns() -> Vec<String> {
    let out = stdout_of(Command::new("ip").args(["netns", "list"]));
    out.lines().map(str::to_string).collect()
}

/// The host's own address: the source of its route to the internet (only the route
/// is read; no packet goes there), else its first global address outside tug's bridges.
pub fn host_addr() -> Ipv4Addr {
    let route = Command::new("ip")
        .args(["-4", "route", "get", "1.1.1.1"])
        .output()
        .expect("spawn ip");
    let route = String::from_utf8_lossy(&route.stdout);
    let mut words = route.split_whitespace();
    let src = words
        .by_ref()
        .find(|w| *w == "src")
        .and_then(|_| words.next())
        .and_then(|a| a.parse().ok());
    if let Some(a) = src {
        return a;
    }
    let out = stdout_of(Command::new("ip").args(["-4", "-o", "addr", "show", "scope", "global"]));
    out.lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|d| !d.starts_with("tug"))
        })
        .find_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|x| *x == "inet")?;
            w.next()?.split('/').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no address of the host: {route}{out}"))
}

/// Runs `f` on a thread that has joined the network namespace of process `pid`:
/// sockets it makes live in that namespace (a server "inside" a container).
pub fn in_netns<T: Send>(pid: i32, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/proc/{pid}/ns/net");
    let ns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    std::thread::scope(|s| {
        s.spawn(move || {
            // Only this thread changes namespace; it ends with `f`.
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        })
        .join()
        .expect("thread in the container's netns")
    })
}

/// A TCP listener on `0.0.0.0:port` (of the calling thread's namespace) with a deep
/// backlog, whose `accept` gives up after `accept_timeout` (SO_RCVTIMEO applies to
/// accept), so a server thread never outlives a failed test.
pub fn tcp_listener(port: u16, accept_timeout: Duration) -> std::net::TcpListener {
    use nix::sys::socket::{self as so, sockopt};
    let fd = so::socket(
        so::AddressFamily::Inet,
        so::SockType::Stream,
        so::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    so::setsockopt(&fd, sockopt::ReuseAddr, &true).expect("SO_REUSEADDR");
    so::setsockopt(&fd, sockopt::ReceiveTimeout, &timeval(accept_timeout)).expect("SO_RCVTIMEO");
    so::bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &so::SockaddrIn::new(0, 0, 0, 0, port),
    )
    .unwrap_or_else(|e| panic!("bind 0.0.0.0:{port}: {e}"));
    so::listen(&fd, so::Backlog::new(1024).expect("backlog")).expect("listen");
    std::net::TcpListener::from(fd)
}

fn timeval(d: Duration) -> nix::sys::time::TimeVal {
    nix::sys::time::TimeVal::new(d.as_secs() as _, d.subsec_micros() as _)
}

/// A host port that was free a moment ago (the kernel's pick for `proto`), on IPv4 and,
/// when the host has it, on IPv6 (a dual-stack socket on `[::]`): tug publishes a port
/// given without an address on both.
pub fn free_port(udp: bool) -> u16 {
    let any = if host_has_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    if udp {
        let s = std::net::UdpSocket::bind(any).expect("bind udp");
        s.local_addr().expect("local addr").port()
    } else {
        let l = std::net::TcpListener::bind(any).expect("bind tcp");
        l.local_addr().expect("local addr").port()
    }
}

/// Whether the host has IPv6: then a port published without an address is published on
/// `[::]` too, beside `0.0.0.0`.
pub fn host_has_ipv6() -> bool {
    tug::network::ports::host_has_ipv6()
}

/// The addresses a port published without an address is on: `0.0.0.0`, and `[::]` when
/// the host has IPv6 (as `port` and `ps` write them).
pub fn every_address() -> Vec<&'static str> {
    let mut v = vec!["0.0.0.0"];
    if host_has_ipv6() {
        v.push("[::]");
    }
    v
}

/// What `port` prints for host port `hp` published on every address: a line per address,
/// `prefix` (`"80/tcp -> "`, or nothing) before each.
pub fn port_lines_all(prefix: &str, hp: u16) -> String {
    every_address()
        .iter()
        .map(|ip| format!("{prefix}{ip}:{hp}\n"))
        .collect()
}

/// `NetworkSettings.Ports`' list (JSON) for host port `hp` published on every address.
pub fn bindings_json_all(hp: u16) -> String {
    let list: Vec<String> = every_address()
        .iter()
        .map(|ip| {
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            format!(r#"{{"HostIp":"{ip}","HostPort":"{hp}"}}"#)
        })
        .collect();
    format!("[{}]", list.join(","))
}

/// The `ps` PORTS mappings of host port `hp` published on every address to `private`
/// (`"8080/tcp"`).
pub fn ps_mappings_all(hp: u16, private: &str) -> String {
    every_address()
        .iter()
        .map(|ip| format!("{ip}:{hp}->{private}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /` over HTTP/1.0 from `addr`: the whole response, or the connect/read error.
pub fn http_get(addr: std::net::SocketAddr) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// Waits until `GET /` from `addr` answers with a body containing `want`.
pub fn wait_http(addr: std::net::SocketAddr, want: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let last = match http_get(addr) {
            Ok(b) if b.contains(want) => return b,
            Ok(b) => b,
            Err(e) => e.to_string(),
        };
        assert!(
            start.elapsed() < limit,
            "no {want:?} from http://{addr}/ after {limit:?}; last: {last}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shell command of a busybox container serving `body` as `/` over HTTP on `port`.
pub fn httpd_cmd(port: u16, body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p {port} -h /www")
}
