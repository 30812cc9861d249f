//! `compose config`: the normalised model as YAML, in the shape `docker compose` v2
//! prints (compose-go's field names; long forms of ports, volumes and `depends_on`;
//! durations as Go prints them; sizes in bytes as strings; the project's resource names).
//! Keys come in compose-go's field order (checked against its `types/types.go`).

use yaml_serde::{Mapping, Value};

use super::model::*;
use super::node::format_duration;

fn s(x: impl Into<String>) -> Value {
    Value::String(x.into())
}

fn list(items: &[String]) -> Value {
    Value::Sequence(items.iter().map(|i| s(i.as_str())).collect())
}

fn map<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Mapping(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

fn str_map(m: &std::collections::BTreeMap<String, String>) -> Value {
    map(m.iter().map(|(k, v)| (k.as_str(), s(v.as_str()))))
}

fn num(n: impl Into<yaml_serde::Number>) -> Value {
    Value::Number(n.into())
}

/// The project as `compose config` prints it.
pub fn to_value(p: &Project) -> Value {
    let mut top = Mapping::new();
    top.insert(s("name"), s(p.name.as_str()));
    top.insert(
        s("services"),
        map(p.services.iter().map(|(n, svc)| (n.as_str(), service(svc)))),
    );
    if !p.networks.is_empty() {
        top.insert(
            s("networks"),
            map(p.networks.iter().map(|(k, n)| (k.as_str(), network(n)))),
        );
    }
    if !p.volumes.is_empty() {
        top.insert(
            s("volumes"),
            map(p.volumes.iter().map(|(k, v)| (k.as_str(), volume(v)))),
        );
    }
    for (k, v) in &p.extensions {
        top.insert(s(k.as_str()), go_value(v));
    }
    Value::Mapping(top)
}

/// A free-form value as Go holds and prints it after decoding (`map[string]any`): keys
/// sorted, whole floats without a fraction.
fn go_value(v: &Value) -> Value {
    match v {
        Value::Mapping(m) => {
            let sorted: std::collections::BTreeMap<String, Value> = m
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.clone(),
                        other => yaml_serde::to_string(other)
                            .unwrap_or_default()
                            .trim_end()
                            .to_string(),
                    };
                    (key, go_value(v))
                })
                .collect();
            Value::Mapping(sorted.into_iter().map(|(k, v)| (s(k), v)).collect())
        }
        Value::Sequence(items) => Value::Sequence(items.iter().map(go_value).collect()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => num(f as i64),
            _ => v.clone(),
        },
        Value::Tagged(t) => go_value(&t.value),
        other => other.clone(),
    }
}

/// The YAML text of [`to_value`], as `docker compose config` prints it: laid out by
/// the `emit` module, with every `$` doubled so that the output reads back without being
/// interpolated again.
pub fn to_yaml(p: &Project) -> String {
    super::emit::document(&to_value(p)).replace('$', "$$")
}

/// A service's keys in compose-go's field order (alphabetical but for `profiles`).
fn service(x: &Service) -> Value {
    let mut m: Vec<(&str, Value)> = Vec::new();
    if !x.profiles.is_empty() {
        m.push(("profiles", list(&x.profiles)));
    }
    if let Some(b) = &x.build {
        let mut e = vec![("context", s(b.context.as_str()))];
        if let Some(i) = &b.dockerfile_inline {
            e.push(("dockerfile_inline", s(i.as_str())));
        } else {
            e.push((
                "dockerfile",
                s(b.dockerfile.as_deref().unwrap_or("Dockerfile")),
            ));
        }
        if !b.args.is_empty() {
            e.push(("args", opt_map(&b.args)));
        }
        if let Some(t) = &b.target {
            e.push(("target", s(t.as_str())));
        }
        m.push(("build", map(e)));
    }
    if !x.cap_add.is_empty() {
        m.push(("cap_add", list(&x.cap_add)));
    }
    if !x.cap_drop.is_empty() {
        m.push(("cap_drop", list(&x.cap_drop)));
    }
    if let Some(c) = &x.cgroup_parent {
        m.push(("cgroup_parent", s(c.as_str())));
    }
    if let Some(c) = &x.command {
        m.push(("command", list(c)));
    }
    if let Some(c) = &x.container_name {
        m.push(("container_name", s(c.as_str())));
    }
    let depends_on = implied_depends_on(x);
    if !depends_on.is_empty() {
        m.push((
            "depends_on",
            map(depends_on.iter().map(|(k, d)| {
                let mut e = vec![("condition", s(d.condition.as_str()))];
                if d.restart {
                    e.push(("restart", Value::Bool(true)));
                }
                e.push(("required", Value::Bool(d.required)));
                (k.as_str(), map(e))
            })),
        ));
    }
    if let Some(d) = &x.deploy {
        m.push(("deploy", deploy(d)));
    }
    if !x.devices.is_empty() {
        m.push((
            "devices",
            Value::Sequence(x.devices.iter().map(|d| device(d)).collect()),
        ));
    }
    if !x.dns.is_empty() {
        m.push(("dns", list(&x.dns)));
    }
    if !x.dns_opt.is_empty() {
        m.push(("dns_opt", list(&x.dns_opt)));
    }
    if !x.dns_search.is_empty() {
        m.push(("dns_search", list(&x.dns_search)));
    }
    if let Some(d) = &x.domainname {
        m.push(("domainname", s(d.as_str())));
    }
    if let Some(e) = &x.entrypoint {
        m.push(("entrypoint", list(e)));
    }
    if !x.environment.is_empty() {
        m.push(("environment", opt_map(&x.environment)));
    }
    if !x.expose.is_empty() {
        m.push(("expose", list(&x.expose)));
    }
    if !x.extra_hosts.is_empty() {
        m.push(("extra_hosts", list(&extra_hosts(&x.extra_hosts))));
    }
    if !x.group_add.is_empty() {
        m.push(("group_add", list(&x.group_add)));
    }
    if let Some(h) = &x.hostname {
        m.push(("hostname", s(h.as_str())));
    }
    if let Some(h) = &x.healthcheck {
        m.push(("healthcheck", healthcheck(h)));
    }
    if let Some(i) = &x.image {
        m.push(("image", s(i.as_str())));
    }
    if let Some(i) = x.init {
        m.push(("init", Value::Bool(i)));
    }
    if let Some(i) = &x.ipc {
        m.push(("ipc", s(i.as_str())));
    }
    if !x.labels.is_empty() {
        m.push(("labels", str_map(&x.labels)));
    }
    if !x.links.is_empty() {
        m.push(("links", list(&x.links)));
    }
    if x.logging.is_some() {
        let mut e = Vec::new();
        if let Some(d) = x.log_driver() {
            e.push(("driver", s(d)));
        }
        let opts: Vec<(String, String)> = x
            .log_options()
            .into_iter()
            .filter_map(|o| o.split_once('=').map(|(k, v)| (k.into(), v.into())))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        if !opts.is_empty() {
            e.push((
                "options",
                map(opts.iter().map(|(k, v)| (k.as_str(), s(v.as_str())))),
            ));
        }
        m.push(("logging", map(e)));
    }
    if let Some(a) = &x.mac_address {
        m.push(("mac_address", s(a.as_str())));
    }
    if let Some(n) = &x.network_mode {
        m.push(("network_mode", s(n.as_str())));
    }
    if x.network_mode.is_none() {
        let nets: Vec<(String, Value)> = x
            .network_names()
            .into_iter()
            .map(|n| {
                let sn = x.networks.get(&n).cloned().unwrap_or_default();
                let v = if sn == ServiceNetwork::default() {
                    Value::Null
                } else {
                    let mut e = Vec::new();
                    if !sn.aliases.is_empty() {
                        e.push(("aliases", list(&sn.aliases)));
                    }
                    if let Some(ip) = &sn.ipv4_address {
                        e.push(("ipv4_address", s(ip.as_str())));
                    }
                    if sn.priority != 0 {
                        e.push(("priority", num(sn.priority)));
                    }
                    map(e)
                };
                (n, v)
            })
            .collect();
        m.push((
            "networks",
            map(nets.iter().map(|(k, v)| (k.as_str(), v.clone()))),
        ));
    }
    if let Some(n) = x.oom_score_adj {
        m.push(("oom_score_adj", num(n)));
    }
    if let Some(p) = &x.pid {
        m.push(("pid", s(p.as_str())));
    }
    if !x.ports.is_empty() {
        m.push(("ports", Value::Sequence(x.ports.iter().map(port).collect())));
    }
    if x.privileged {
        m.push(("privileged", Value::Bool(true)));
    }
    if let Some(p) = &x.pull_policy {
        m.push(("pull_policy", s(p.as_str())));
    }
    if x.read_only {
        m.push(("read_only", Value::Bool(true)));
    }
    if let Some(r) = &x.restart {
        m.push(("restart", s(r.as_str())));
    }
    if let Some(n) = x.scale {
        m.push(("scale", num(n)));
    }
    if !x.security_opt.is_empty() {
        m.push(("security_opt", list(&x.security_opt)));
    }
    if let Some(n) = x.shm_size {
        m.push(("shm_size", s(n.to_string())));
    }
    if x.stdin_open {
        m.push(("stdin_open", Value::Bool(true)));
    }
    if let Some(d) = x.stop_grace_period {
        m.push(("stop_grace_period", s(format_duration(d))));
    }
    if let Some(sig) = &x.stop_signal {
        m.push(("stop_signal", s(sig.as_str())));
    }
    if !x.sysctls.is_empty() {
        m.push(("sysctls", str_map(&x.sysctls)));
    }
    if !x.tmpfs.is_empty() {
        m.push(("tmpfs", list(&x.tmpfs)));
    }
    if x.tty {
        m.push(("tty", Value::Bool(true)));
    }
    if !x.ulimits.is_empty() {
        m.push((
            "ulimits",
            map(x.ulimits.iter().map(|(k, (soft, hard))| {
                let v = if soft == hard {
                    num(*soft)
                } else {
                    map([("soft", num(*soft)), ("hard", num(*hard))])
                };
                (k.as_str(), v)
            })),
        ));
    }
    if let Some(u) = &x.user {
        m.push(("user", s(u.as_str())));
    }
    if !x.volumes.is_empty() {
        m.push((
            "volumes",
            Value::Sequence(x.volumes.iter().map(mount).collect()),
        ));
    }
    if let Some(w) = &x.working_dir {
        m.push(("working_dir", s(w.as_str())));
    }
    for (k, v) in &x.extensions {
        m.push((k.as_str(), go_value(v)));
    }
    map(m)
}

fn opt_map(m: &std::collections::BTreeMap<String, Option<String>>) -> Value {
    map(m.iter().map(|(k, v)| {
        (
            k.as_str(),
            v.as_ref().map_or(Value::Null, |v| s(v.as_str())),
        )
    }))
}

fn port(p: &Port) -> Value {
    let mut e = vec![("mode", s(p.mode.as_str()))];
    if let Some(ip) = &p.host_ip {
        e.push(("host_ip", s(ip.as_str())));
    }
    e.push(("target", num(p.target)));
    if let Some(pb) = &p.published {
        e.push(("published", s(pb.as_str())));
    }
    e.push(("protocol", s(p.protocol.as_str())));
    map(e)
}

fn mount(m: &Mount) -> Value {
    let mut e = vec![("type", s(m.kind.as_str()))];
    if let Some(src) = &m.source {
        e.push(("source", s(src.as_str())));
    }
    e.push(("target", s(m.target.as_str())));
    if m.read_only {
        e.push(("read_only", Value::Bool(true)));
    }
    // compose-go prints an options block the file gave or the short syntax implies;
    // `create_host_path` only when false (its default, true, is omitted).
    match m.kind {
        MountType::Bind if m.options_block => {
            let b = if m.create_host_path {
                Value::Mapping(Mapping::new())
            } else {
                map([("create_host_path", Value::Bool(false))])
            };
            e.push(("bind", b));
        }
        MountType::Volume if m.options_block => e.push(("volume", Value::Mapping(Mapping::new()))),
        MountType::Tmpfs => {
            if let Some(n) = m.tmpfs_size {
                e.push(("tmpfs", map([("size", s(n.to_string()))])));
            }
        }
        _ => {}
    }
    map(e)
}

fn healthcheck(h: &Healthcheck) -> Value {
    let mut e = Vec::new();
    if !h.test.is_empty() {
        e.push(("test", list(&h.test)));
    }
    let d = |x: Option<std::time::Duration>| x.map(|d| s(format_duration(d)));
    for (k, v) in [
        ("timeout", d(h.timeout)),
        ("interval", d(h.interval)),
        ("retries", h.retries.map(num)),
        ("start_period", d(h.start_period)),
        ("start_interval", d(h.start_interval)),
    ] {
        if let Some(v) = v {
            e.push((k, v));
        }
    }
    if h.disable {
        e.push(("disable", Value::Bool(true)));
    }
    map(e)
}

fn resources(r: &Resources) -> Value {
    let mut e = Vec::new();
    if let Some(c) = r.cpus {
        e.push(("cpus", cpus(c)));
    }
    if let Some(m) = r.memory {
        e.push(("memory", s(m.to_string())));
    }
    if let Some(p) = r.pids {
        e.push(("pids", num(p)));
    }
    map(e)
}

fn deploy(d: &Deploy) -> Value {
    let mut e = Vec::new();
    if let Some(r) = d.replicas {
        e.push(("replicas", num(r)));
    }
    if !d.limits.is_empty() || !d.reservations.is_empty() {
        let mut r = Vec::new();
        if !d.limits.is_empty() {
            r.push(("limits", resources(&d.limits)));
        }
        if !d.reservations.is_empty() {
            r.push(("reservations", resources(&d.reservations)));
        }
        e.push(("resources", map(r)));
    }
    if let Some(p) = &d.restart_policy {
        let mut r = Vec::new();
        if let Some(c) = &p.condition {
            r.push(("condition", s(c.as_str())));
        }
        if let Some(x) = p.delay {
            r.push(("delay", s(format_duration(x))));
        }
        if let Some(x) = p.max_attempts {
            r.push(("max_attempts", num(x)));
        }
        if let Some(x) = p.window {
            r.push(("window", s(format_duration(x))));
        }
        e.push(("restart_policy", map(r)));
    }
    map(e)
}

fn network(n: &Network) -> Value {
    let mut e = vec![("name", s(n.name.as_str()))];
    if let Some(d) = &n.driver {
        e.push(("driver", s(d.as_str())));
    }
    if !n.driver_opts.is_empty() {
        e.push(("driver_opts", str_map(&n.driver_opts)));
    }
    if !n.subnets.is_empty() {
        let cfg = n
            .subnets
            .iter()
            .enumerate()
            .map(|(i, sub)| {
                let mut c = vec![("subnet", s(sub.as_str()))];
                if let Some(g) = n.gateways.get(i) {
                    c.push(("gateway", s(g.as_str())));
                }
                map(c)
            })
            .collect();
        e.push(("ipam", map([("config", Value::Sequence(cfg))])));
    }
    if n.external {
        e.push(("external", Value::Bool(true)));
    }
    if n.internal {
        e.push(("internal", Value::Bool(true)));
    }
    if !n.labels.is_empty() {
        e.push(("labels", str_map(&n.labels)));
    }
    map(e)
}

fn volume(v: &Volume) -> Value {
    let mut e = vec![("name", s(v.name.as_str()))];
    if let Some(d) = &v.driver {
        e.push(("driver", s(d.as_str())));
    }
    if !v.driver_opts.is_empty() {
        e.push(("driver_opts", str_map(&v.driver_opts)));
    }
    if v.external {
        e.push(("external", Value::Bool(true)));
    }
    if !v.labels.is_empty() {
        e.push(("labels", str_map(&v.labels)));
    }
    map(e)
}

/// `cpus` as compose-go keeps it (a Go `float32`) and Go prints it: the shortest
/// decimal that reads back as that `float32`, with no `.0` on whole numbers.
fn cpus(c: f64) -> Value {
    let f = c as f32;
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return num(f as i64);
    }
    let text = f.to_string();
    Value::Number(text.parse::<f64>().map_or_else(|_| c.into(), Into::into))
}

/// A `devices` entry in the long form compose-go makes of `source[:target[:permissions]]`.
fn device(d: &str) -> Value {
    let parts: Vec<&str> = d.split(':').collect();
    let source = parts[0];
    let target = parts
        .get(1)
        .copied()
        .filter(|t| !t.is_empty())
        .unwrap_or(source);
    let perms = parts.get(2).copied().unwrap_or("rwm");
    map([
        ("source", s(source)),
        ("target", s(target)),
        ("permissions", s(perms)),
    ])
}

/// `extra_hosts` as compose-go prints them: one `host=ip` per address, sorted.
fn extra_hosts(hosts: &[String]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for h in hosts {
        let sep = if h.contains('=') { '=' } else { ':' };
        match h.split_once(sep) {
            Some((host, ips)) => v.extend(ips.split(',').map(|ip| {
                let ip = ip
                    .strip_prefix('[')
                    .and_then(|i| i.strip_suffix(']'))
                    .unwrap_or(ip);
                format!("{host}={ip}")
            })),
            None => v.push(h.clone()),
        }
    }
    v.sort();
    v
}

/// `depends_on` with what compose-go's normalisation adds: a `links` entry's service
/// and a `service:` mode's (`network_mode`, `ipc`, `pid`) are started first, and
/// restarted with it, unless declared.
fn implied_depends_on(x: &Service) -> std::collections::BTreeMap<String, Dependency> {
    let mut d = x.depends_on.clone();
    let implied = x
        .links
        .iter()
        .map(|l| l.split(':').next().unwrap_or(l).to_string())
        .chain(
            [&x.network_mode, &x.ipc, &x.pid]
                .into_iter()
                .flatten()
                .filter_map(|m| m.strip_prefix("service:").map(String::from)),
        );
    for name in implied {
        d.entry(name).or_insert(Dependency {
            condition: Condition::Started,
            required: true,
            restart: true,
        });
    }
    d
}
