//! Sysctls of a container's namespaces. Most are written by the init under its own
//! /proc/sys before that is made read-only; the per-interface ones
//! (`net.ipv4.conf.eth0.*`) name an interface that only exists once the container's
//! network is up, so its supervisor writes them from a thread that joined the
//! container's network namespace, before the process is released (as Docker applies
//! them when the endpoint is made).

use std::os::fd::AsFd;

/// The interface a per-interface sysctl names (`net.ipv4.conf.eth0.x` → `eth0`), not
/// counting `all`, `default` and `lo` (which exist when the namespace is made).
pub(crate) fn interface_of(key: &str) -> Option<&str> {
    let mut parts = key.split('.');
    let (Some("net"), Some("ipv4" | "ipv6"), Some("conf" | "neigh"), Some(iface), Some(_)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!matches!(iface, "all" | "default" | "lo")).then_some(iface)
}

/// `/proc/sys/...` of sysctl `key`, refusing names that could leave /proc/sys.
pub(crate) fn path_of(key: &str) -> Result<String, String> {
    if key
        .split('.')
        .any(|p| p.is_empty() || p == ".." || p.contains('/'))
    {
        return Err(format!("sysctl {key:?}: not a sysctl name"));
    }
    Ok(format!("/proc/sys/{}", key.replace('.', "/")))
}

/// Writes the per-interface sysctls of `sysctls` in the network namespace of process
/// `pid` (a thread joins it; the caller's namespaces do not change).
pub(crate) fn apply_interface_sysctls(
    pid: i32,
    sysctls: impl IntoIterator<Item = (String, String)>,
) -> Result<(), String> {
    let mut todo: Vec<(String, String)> = sysctls
        .into_iter()
        .filter(|(k, _)| interface_of(k).is_some())
        .collect();
    todo.sort();
    if todo.is_empty() {
        return Ok(());
    }
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| format!("the container's network namespace: {e}"))?;
    std::thread::spawn(move || -> Result<(), String> {
        nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("joining the container's network namespace: {e}"))?;
        for (k, v) in todo {
            let path = path_of(&k)?;
            std::fs::write(&path, &v).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "sysctl {k}={v}: the container has no interface {}",
                    interface_of(&k).unwrap_or_default()
                ),
                _ => format!("sysctl {k}={v}: {e}"),
            })?;
        }
        Ok(())
    })
    .join()
    .map_err(|_| "writing the container's sysctls: the thread panicked".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_sysctls_are_told_apart() {
        assert_eq!(
            interface_of("net.ipv4.conf.eth0.route_localnet"),
            Some("eth0")
        );
        assert_eq!(
            interface_of("net.ipv6.conf.eth1.disable_ipv6"),
            Some("eth1")
        );
        assert_eq!(
            interface_of("net.ipv4.neigh.eth0.gc_stale_time"),
            Some("eth0")
        );
        assert_eq!(interface_of("net.ipv4.conf.all.forwarding"), None);
        assert_eq!(interface_of("net.ipv4.conf.default.rp_filter"), None);
        assert_eq!(interface_of("net.ipv4.conf.lo.rp_filter"), None);
        assert_eq!(interface_of("net.ipv4.ip_forward"), None);
        assert_eq!(interface_of("net.ipv4.conf.eth0"), None);
        assert_eq!(interface_of("kernel.shmmax"), None);
    }

    #[test]
    fn names_that_leave_proc_sys_are_refused() {
        assert_eq!(
            path_of("net.ipv4.ip_forward").unwrap(),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert!(path_of("net...x").is_err());
        assert!(path_of("net.a/b").is_err());
        assert!(path_of("net.ipv4.").is_err());
    }
}
