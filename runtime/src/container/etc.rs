//! The generated /etc/hostname, /etc/hosts and /etc/resolv.conf of a container.

/// Docker's /etc/hosts for a container without a network.
pub fn hosts_default() -> String {
    "127.0.0.1\tlocalhost\n\
     ::1\tlocalhost ip6-localhost ip6-loopback\n\
     fe00::0\tip6-localnet\n\
     ff00::0\tip6-mcastprefix\n\
     ff02::1\tip6-allnodes\n\
     ff02::2\tip6-allrouters\n"
        .to_string()
}

/// The special `--add-host` address that stands for the host (`host.docker.internal:
/// host-gateway`).
pub const HOST_GATEWAY: &str = "host-gateway";

/// The /etc/hosts lines of `--add-host` values (`host:ip` or `host=ip`), checked as Docker
/// checks them; `host-gateway` is `gateway`, the host's address the container reaches.
pub fn extra_host_lines(
    values: &[String],
    gateway: Option<&str>,
) -> Result<String, crate::InvalidValue> {
    let mut out = String::new();
    for v in values {
        let (host, ip) = v
            .split_once('=')
            .or_else(|| v.split_once(':'))
            .ok_or_else(|| {
                crate::InvalidValue::new(
                    v,
                    format!(
                        "invalid argument {v:?} for \"--add-host\" flag: bad format for add-host"
                    ),
                )
            })?;
        let ip = match (ip, gateway) {
            (HOST_GATEWAY, Some(g)) => g,
            (HOST_GATEWAY, None) => {
                return Err(crate::InvalidValue::new(
                    v,
                    "unable to derive the IP value for host-gateway: the container has no bridge network",
                ));
            }
            _ => ip,
        };
        if host.is_empty() || ip.parse::<std::net::IpAddr>().is_err() {
            return Err(crate::InvalidValue::new(
                v,
                format!(
                    "invalid argument {v:?} for \"--add-host\" flag: invalid IP address in add-host: {ip:?}"
                ),
            ));
        }
        out.push_str(&format!("{ip}\t{host}\n"));
    }
    Ok(out)
}

/// The host's resolv.conf without loopback name servers (unreachable from another
/// network namespace), or Google's, as Docker falls back to, when none is left.
pub fn resolv_conf_from_host(host: &str, keep_loopback: bool) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            let addr = f.next().unwrap_or("");
            if !keep_loopback && (addr.starts_with("127.") || addr == "::1") {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// What decides a container's resolv.conf, from its create options or its record.
pub struct DnsPlan<'a> {
    /// The container whose network namespace it joins (`--network container:ID`).
    pub joined: Option<&'a str>,
    /// Whether it is on a user network (the embedded DNS server answers there).
    pub user_network: bool,
    /// `--network host`.
    pub host_network: bool,
    /// `--dns`, `--dns-search`, `--dns-option`.
    pub dns: &'a [String],
    pub search: &'a [String],
    pub options: &'a [String],
}

/// The container's resolv.conf: the host's (see [`resolv_conf_from_host`]) with
/// `--dns` replacing its name servers, `--dns-search` its search line and `--dns-option`
/// its options line.
pub fn resolv_conf(
    host: &str,
    keep_loopback: bool,
    dns: &[String],
    search: &[String],
    options: &[String],
) -> String {
    if dns.is_empty() && search.is_empty() && options.is_empty() {
        return resolv_conf_from_host(host, keep_loopback);
    }
    let base = resolv_conf_from_host(host, keep_loopback);
    let mut out = String::new();
    for line in base.lines() {
        let word = line.split_whitespace().next().unwrap_or("");
        let replaced = (word == "nameserver" && !dns.is_empty())
            || ((word == "search" || word == "domain") && !search.is_empty())
            || (word == "options" && !options.is_empty());
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    for d in dns {
        out.push_str(&format!("nameserver {d}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The resolv.conf of a container on a user network, as Docker writes it: the embedded
/// server at 127.0.0.11 as the only name server (it forwards to the host's or `--dns`
/// ones), the host's search and options lines (or `--dns-search`, `--dns-option`), and
/// `ndots:0` added to the options.
pub fn resolv_conf_embedded(host: &str, search: &[String], options: &[String]) -> String {
    let mut out = format!("nameserver {}\n", crate::network::dns::ADDRESS);
    let mut opts: Vec<String> = options.to_vec();
    for line in host.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("search" | "domain") if search.is_empty() => {
                out.push_str(&format!("search {}\n", f.collect::<Vec<_>>().join(" ")));
            }
            Some("options") if options.is_empty() => opts.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !opts.iter().any(|o| o.starts_with("ndots:")) {
        opts.push("ndots:0".into());
    }
    out.push_str(&format!("options {}\n", opts.join(" ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_networks_ask_the_embedded_server() {
        let host = "search lan\nnameserver 10.0.0.1\noptions edns0\n";
        assert_eq!(
            resolv_conf_embedded(host, &[], &[]),
            "nameserver 127.0.0.11\nsearch lan\noptions edns0 ndots:0\n"
        );
        assert_eq!(
            resolv_conf_embedded(host, &["x.org".into()], &["ndots:2".into()]),
            "nameserver 127.0.0.11\nsearch x.org\noptions ndots:2\n"
        );
    }

    #[test]
    fn loopback_servers_are_dropped() {
        let r = resolv_conf_from_host(
            "search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n",
            false,
        );
        assert_eq!(r, "search lan\nnameserver 10.0.0.1\n");
        let r = resolv_conf_from_host("nameserver 127.0.0.53\n", false);
        assert_eq!(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        let r = resolv_conf_from_host("nameserver 127.0.0.53\n", true);
        assert_eq!(r, "nameserver 127.0.0.53\n");
    }

    #[test]
    fn dns_flags_replace_the_hosts_lines() {
        let host = "search lan\nnameserver 10.0.0.1\noptions ndots:2\n";
        assert_eq!(resolv_conf(host, false, &[], &[], &[]), host);
        let r = resolv_conf(
            host,
            false,
            &["1.1.1.1".into()],
            &["example.com".into()],
            &["ndots:5".into()],
        );
        assert_eq!(
            r,
            "nameserver 1.1.1.1\nsearch example.com\noptions ndots:5\n"
        );
        let r = resolv_conf(host, false, &["9.9.9.9".into()], &[], &[]);
        assert_eq!(r, "search lan\noptions ndots:2\nnameserver 9.9.9.9\n");
    }

    #[test]
    fn add_host_values_become_hosts_lines_or_errors() {
        let lines = extra_host_lines(&["db:10.0.0.5".into(), "cache=10.0.0.6".into()], None);
        assert_eq!(lines.unwrap(), "10.0.0.5\tdb\n10.0.0.6\tcache\n");
        assert!(
            extra_host_lines(&["nocolon".into()], None)
                .unwrap_err()
                .message
                .contains("bad format")
        );
        assert!(
            extra_host_lines(&["db:notanip".into()], None)
                .unwrap_err()
                .message
                .contains("invalid IP")
        );
        assert!(extra_host_lines(&[":10.0.0.1".into()], None).is_err());
        let gw = extra_host_lines(
            &["host.docker.internal:host-gateway".into()],
            Some("172.17.0.1"),
        );
        assert_eq!(gw.unwrap(), "172.17.0.1\thost.docker.internal\n");
        assert!(
            extra_host_lines(&["h:host-gateway".into()], None)
                .unwrap_err()
                .message
                .contains("host-gateway")
        );
    }
}
