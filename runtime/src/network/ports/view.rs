//! What `ps` (the PORTS column) and `port` print of a container's `NetworkSettings.Ports`,
//! formatted and ordered as Docker's CLI does.

use std::cmp::Ordering;
use std::net::IpAddr;

use super::{Error, HostBinding, PortMapJson, Proto, invalid, port_number, range_text, split_key};

/// One port as `ps` sees it (Docker's `PortSummary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    private: u16,
    /// `None` when not published (or published on no valid address).
    ip: Option<IpAddr>,
    public: u16,
    proto: Proto,
}

impl Summary {
    /// Docker's order: private port, address (as text, none first: `0.0.0.0` before
    /// `::`), public port, protocol.
    fn cmp_docker(&self, o: &Summary) -> Ordering {
        let text = |ip: Option<IpAddr>| ip.map(|ip| ip.to_string()).unwrap_or_default();
        self.private
            .cmp(&o.private)
            .then_with(|| text(self.ip).cmp(&text(o.ip)))
            .then(self.public.cmp(&o.public))
            .then(self.proto.as_str().cmp(o.proto.as_str()))
    }
}

fn summaries(ports: &PortMapJson) -> Vec<Summary> {
    let mut out = Vec::new();
    for (key, list) in ports {
        let Ok((private, proto)) = split_key(key) else {
            continue;
        };
        match list.as_deref() {
            None | Some([]) => out.push(Summary {
                private,
                ip: None,
                public: 0,
                proto,
            }),
            Some(list) => out.extend(list.iter().map(|b| Summary {
                private,
                ip: b.host_ip.parse().ok(),
                public: b.host_port.parse().unwrap_or(0),
                proto,
            })),
        }
    }
    out.sort_by(Summary::cmp_docker);
    out
}

/// One folded run of ports: `0.0.0.0:8000-8002->8000-8002/tcp` or `80-81/tcp`.
fn form_group(ip: Option<IpAddr>, proto: Proto, first: u16, last: u16) -> String {
    let range = range_text((first, last));
    match ip {
        Some(ip) => format!("{ip}:{range}->{range}/{}", proto.as_str()),
        None => format!("{range}/{}", proto.as_str()),
    }
}

/// The ports as `docker compose ps --format json` lists them (`Publishers`): one
/// `{URL, TargetPort, PublishedPort, Protocol}` per binding, an exposed port that is not
/// published with an empty URL and port 0.
pub fn publishers(ports: &PortMapJson) -> Vec<serde_json::Value> {
    summaries(ports)
        .iter()
        .map(|p| {
            serde_json::json!({
                "URL": p.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                "TargetPort": p.private,
                "PublishedPort": p.public,
                "Protocol": p.proto.as_str(),
            })
        })
        .collect()
}

/// The PORTS column of `ps`: `0.0.0.0:8080->80/tcp, 443/tcp` (consecutive ports folded
/// into ranges as Docker does: unpublished ports and ports published on the same number
/// fold per address and protocol; other mappings follow, one by one).
pub fn ps_column(ports: &PortMapJson) -> String {
    // (address, protocol, first, last), in the order the groups were started.
    let mut groups: Vec<(Option<IpAddr>, Proto, u16, u16)> = Vec::new();
    let mut result = Vec::new();
    let mut mappings = Vec::new();
    for p in summaries(ports) {
        if let Some(ip) = p.ip
            && p.public != p.private
        {
            mappings.push(format!(
                "{}:{}->{}/{}",
                super::reserve::bracketed(ip),
                p.public,
                p.private,
                p.proto.as_str()
            ));
            continue;
        }
        match groups.iter_mut().find(|g| g.0 == p.ip && g.1 == p.proto) {
            None => groups.push((p.ip, p.proto, p.private, p.private)),
            Some(g) if p.private == g.3.wrapping_add(1) => g.3 = p.private,
            Some(g) => {
                // A gap ends this run (Docker prints it at once) and starts the next.
                result.push(form_group(g.0, g.1, g.2, g.3));
                (g.2, g.3) = (p.private, p.private);
            }
        }
    }
    result.extend(groups.iter().map(|g| form_group(g.0, g.1, g.2, g.3)));
    result.extend(mappings);
    result.join(", ")
}

/// Go's `net.JoinHostPort`: brackets around an address with colons.
fn join_host_port(b: &HostBinding) -> String {
    if b.host_ip.contains(':') {
        format!("[{}]:{}", b.host_ip, b.host_port)
    } else {
        format!("{}:{}", b.host_ip, b.host_port)
    }
}

/// The run of ASCII digits of `s` from `k`, and where it ends.
fn digit_run(s: &[u8], k: usize) -> (usize, &[u8]) {
    let end = s[k..]
        .iter()
        .position(|c| !c.is_ascii_digit())
        .map_or(s.len(), |n| k + n);
    (end, &s[k..end])
}

/// Natural order, as Docker sorts `port`'s lines: runs of digits compare by value.
pub(super) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let ((ei, x), (ej, y)) = (digit_run(a, i), digit_run(b, j));
            let trim = |d: &[u8]| d.len() - d.iter().take_while(|&&c| c == b'0').count();
            let (x, y) = (&x[x.len() - trim(x)..], &y[y.len() - trim(y)..]);
            let by_value = x.len().cmp(&y.len()).then(x.cmp(y));
            if by_value != Ordering::Equal {
                return by_value;
            }
            (i, j) = (ei, ej);
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// `tug port CONTAINER [PRIVATE_PORT[/PROTO]]`: the lines Docker prints
/// (`80/tcp -> 0.0.0.0:32768`, or `0.0.0.0:32768` with a port given), in natural order.
/// An error when the given port is not published (`No public port '80/tcp' published
/// for web`; Docker prefixes it with `Error: `, tug's CLI with `tug: `).
pub fn port_lines(
    ports: &PortMapJson,
    private: Option<&str>,
    container: &str,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    match private {
        Some(arg) => {
            let (port, proto) = arg.split_once('/').unwrap_or((arg, ""));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            port_number(port).map_err(|why| invalid(format!("invalid port ({port}): {why}")))?;
            match ports.get(&format!("{port}/{proto}")) {
                Some(Some(list)) if !list.is_empty() => {
                    out.extend(list.iter().map(join_host_port));
                }
                _ => {
                    return Err(invalid(format!(
                        "No public port '{arg}' published for {container}"
                    )));
                }
            }
        }
        None => {
            for (key, list) in ports {
                for b in list.iter().flatten() {
                    out.push(format!("{key} -> {}", join_host_port(b)));
                }
            }
        }
    }
    out.sort_by(|x, y| natural_cmp(x, y));
    Ok(out)
}
