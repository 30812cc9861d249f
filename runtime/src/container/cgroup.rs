//! A container's usage as the engine reports it: one `stats` sample, the cgroup's
//! counters and the network namespace's. (`pause`, `unpause` and `stats` themselves are
//! Engine methods, in `engine/containers.rs`.)

use std::os::unix::fs::MetadataExt;

use super::record::Container;
use crate::sandbox::cgroups::Stats;

/// One `stats` sample of a container.
#[derive(Debug, Clone)]
pub struct ContainerStats {
    pub container: Container,
    /// `None` when the container is not running (Docker shows zeros).
    pub stats: Option<Stats>,
    /// Bytes received and sent on the container's own interfaces (zeros when it is not
    /// running, or shares the host's network as Docker's `--network host` does).
    pub net: NetIo,
}

/// Network counters summed over a namespace's interfaces, loopback left out (Docker sums
/// its endpoints: eth0, eth1, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetIo {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// The network counters of the namespace process `pid` is in, read from the host through
/// `/proc/PID/net/dev` (which shows the namespace of that process). A process in the
/// caller's own namespace (host network) counts nothing, as Docker counts no endpoint.
pub fn net_io(pid: i32) -> NetIo {
    let ns = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let theirs = ns(&format!("/proc/{pid}/ns/net"));
    if theirs.is_none() || theirs == ns("/proc/self/ns/net") {
        return NetIo::default();
    }
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|t| parse_net_dev(&t))
        .unwrap_or_default()
}

/// Sums `/proc/net/dev`: two header lines, then `iface: rx_bytes packets ... (8 receive
/// fields) tx_bytes ...`.
fn parse_net_dev(text: &str) -> NetIo {
    let mut io = NetIo::default();
    for line in text.lines().skip(2) {
        let Some((iface, counters)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let v: Vec<u64> = counters
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        if v.len() >= 9 {
            io.rx_bytes += v[0];
            io.tx_bytes += v[8];
        }
    }
    io
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_sums_every_interface_but_loopback() {
        let text = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 90000000   6000    0    0    0     0          0         0   420000     300    0    0    0     0       0          0
  eth1:     100       1    0    0    0     0          0         0       50       1    0    0    0     0       0          0
";
        assert_eq!(
            parse_net_dev(text),
            NetIo {
                rx_bytes: 90_000_100,
                tx_bytes: 420_050
            }
        );
    }

    #[test]
    fn own_namespace_counts_nothing() {
        assert_eq!(net_io(std::process::id() as i32), NetIo::default());
    }
}
