//! The environment of a legacy link (`--link db:alias` on the default bridge), as
//! Docker's: `ALIAS_NAME=/<container>/<alias>`, `ALIAS_PORT` for the lowest exposed port
//! (tcp before udp on the same number), four variables per exposed port
//! (`ALIAS_PORT_6379_TCP`, `..._ADDR`, `..._PORT`, `..._PROTO`), `_START`/`_END` ones for
//! a run of three or more contiguous ports, and `ALIAS_ENV_<VAR>` for each variable of the linked
//! container's config but `HOME` and `PATH`.

/// One exposed port: number and protocol (`tcp`, `udp`, `sctp`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Port {
    number: u16,
    proto: String,
}

/// Parses `Config.ExposedPorts` keys ("6379/tcp", "53/udp", "80"), in Docker's order:
/// by number, tcp first on the same number.
fn sorted_ports(exposed: &[String]) -> Vec<Port> {
    let mut ports: Vec<Port> = exposed
        .iter()
        .filter_map(|k| {
            let (n, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            Some(Port {
                number: n.parse().ok()?,
                proto: proto.to_ascii_lowercase(),
            })
        })
        .collect();
    ports.sort_by(|a, b| {
        a.number
            .cmp(&b.number)
            .then_with(|| (a.proto != "tcp").cmp(&(b.proto != "tcp")))
            .then_with(|| a.proto.cmp(&b.proto))
    });
    ports.dedup();
    ports
}

/// The variables container `parent` gets for its link `alias` to a container at `ip`
/// exposing `exposed`, whose config has `env`.
pub fn link_env(
    parent: &str,
    alias: &str,
    ip: &str,
    exposed: &[String],
    env: &[String],
) -> Vec<String> {
    let a = alias.to_ascii_uppercase().replace('-', "_");
    let mut out = Vec::new();
    let ports = sorted_ports(exposed);
    if let Some(p) = ports.first() {
        out.push(format!("{a}_PORT={}://{ip}:{}", p.proto, p.number));
    }
    // Runs of three or more contiguous numbers (Docker's rule, protocols aside): their
    // first and last port.
    let mut i = 0;
    while i < ports.len() {
        let mut j = i;
        while j + 1 < ports.len() && ports[j + 1].number <= ports[j].number.saturating_add(1) {
            j += 1;
        }
        if j > i + 1 {
            let (first, last) = (&ports[i], &ports[j]);
            let key = format!(
                "{a}_PORT_{}_{}",
                first.number,
                first.proto.to_ascii_uppercase()
            );
            out.push(format!(
                "{key}_START={}://{ip}:{}",
                first.proto, first.number
            ));
            out.push(format!("{key}_ADDR={ip}"));
            out.push(format!("{key}_PROTO={}", first.proto));
            out.push(format!("{key}_PORT_START={}", first.number));
            out.push(format!("{key}_END={}://{ip}:{}", last.proto, last.number));
            out.push(format!("{key}_PORT_END={}", last.number));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    for p in &ports {
        let key = format!("{a}_PORT_{}_{}", p.number, p.proto.to_ascii_uppercase());
        out.push(format!("{key}={}://{ip}:{}", p.proto, p.number));
        out.push(format!("{key}_ADDR={ip}"));
        out.push(format!("{key}_PORT={}", p.number));
        out.push(format!("{key}_PROTO={}", p.proto));
    }
    out.push(format!(
        "{a}_NAME=/{}/{alias}",
        parent.trim_start_matches('/')
    ));
    for v in env {
        let Some((name, value)) = v.split_once('=') else {
            continue;
        };
        if name == "HOME" || name == "PATH" {
            continue;
        }
        out.push(format!("{a}_ENV_{name}={value}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn one_port_and_the_env_as_docker_writes_them() {
        let env = link_env(
            "/web",
            "my-db",
            "172.17.0.2",
            &s(&["6379/tcp"]),
            &s(&["PATH=/usr/bin", "HOME=/root", "REDIS_VERSION=7.2", "EMPTY="]),
        );
        assert_eq!(
            env,
            s(&[
                "MY_DB_PORT=tcp://172.17.0.2:6379",
                "MY_DB_PORT_6379_TCP=tcp://172.17.0.2:6379",
                "MY_DB_PORT_6379_TCP_ADDR=172.17.0.2",
                "MY_DB_PORT_6379_TCP_PORT=6379",
                "MY_DB_PORT_6379_TCP_PROTO=tcp",
                "MY_DB_NAME=/web/my-db",
                "MY_DB_ENV_REDIS_VERSION=7.2",
                "MY_DB_ENV_EMPTY=",
            ])
        );
    }

    #[test]
    fn lowest_port_is_the_default_tcp_first_and_runs_get_start_and_end() {
        let env = link_env(
            "web",
            "db",
            "10.0.0.2",
            &s(&["6381/tcp", "53/udp", "6379/tcp", "6380/tcp", "53/tcp"]),
            &[],
        );
        assert_eq!(env[0], "DB_PORT=tcp://10.0.0.2:53");
        for want in [
            "DB_PORT_6379_TCP_START=tcp://10.0.0.2:6379",
            "DB_PORT_6379_TCP_PORT_START=6379",
            "DB_PORT_6379_TCP_END=tcp://10.0.0.2:6381",
            "DB_PORT_6379_TCP_PORT_END=6381",
            "DB_PORT_53_UDP=udp://10.0.0.2:53",
            "DB_PORT_53_UDP_PROTO=udp",
            "DB_PORT_6380_TCP_PORT=6380",
        ] {
            assert!(env.iter().any(|e| e == want), "{want} missing: {env:#?}");
        }
        // 53/tcp and 53/udp are one number: not a run.
        assert!(!env.iter().any(|e| e.starts_with("DB_PORT_53_TCP_START")));
        assert!(link_env("web", "db", "10.0.0.2", &[], &[]) == s(&["DB_NAME=/web/db"]));
    }
}
