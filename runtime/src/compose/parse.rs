//! From a merged, interpolated compose value to the [`Project`] model: every key checked
//! (unknown keys and wrong types are errors at their file and line), short forms made
//! long, relative paths made absolute.

use std::collections::BTreeMap;
use std::path::Path;

use super::Error;
use super::forms::{command, mount, port};
use super::model::*;
use super::node::Node;
use super::top::{labels, network, volume};

/// What parsing needs besides the value.
pub struct Context<'a> {
    pub project: &'a str,
    pub working_dir: &'a Path,
    /// The variables for `environment` entries without a value.
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

const TOP: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include",
];

const SERVICE: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "networks",
    "network_mode",
    "links",
    "depends_on",
    "healthcheck",
    "restart",
    "deploy",
    "scale",
    "working_dir",
    "user",
    "hostname",
    "labels",
    "container_name",
    "profiles",
    "privileged",
    "cap_add",
    "cap_drop",
    "init",
    "stop_signal",
    "stop_grace_period",
    "read_only",
    "shm_size",
    "ulimits",
    "extra_hosts",
    "dns",
    "logging",
    "pull_policy",
    "tty",
    "stdin_open",
    "pid",
    "ipc",
    "sysctls",
    "group_add",
    "cgroup_parent",
    "domainname",
    "oom_score_adj",
    "mac_address",
    "dns_search",
    "dns_opt",
    "security_opt",
    "devices",
];

/// The project of a compose value (`name` and dirs are set by the caller).
pub fn project(root: &Node, cx: &Context) -> Result<Project, Error> {
    let mut p = Project {
        extensions: root.extensions(),
        ..Default::default()
    };
    for (key, n) in root.fields(TOP)? {
        match key.as_str() {
            "services" => {
                for (name, s) in n.entries()? {
                    if !valid_service_name(&name) {
                        return Err(s.err(format!("invalid service name {name:?}")));
                    }
                    p.services.insert(name, service(&s, cx)?);
                }
            }
            "networks" => {
                for (name, v) in n.entries()? {
                    p.networks.insert(name.clone(), network(&name, &v, cx)?);
                }
            }
            "volumes" => {
                for (name, v) in n.entries()? {
                    p.volumes.insert(name.clone(), volume(&name, &v, cx)?);
                }
            }
            // version: obsolete; name: read by the loader; include: expanded by the loader;
            // secrets/configs: not used.
            _ => {}
        }
    }
    check_references(root, &mut p, cx)?;
    Ok(p)
}

fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn service(n: &Node, cx: &Context) -> Result<Service, Error> {
    let mut s = Service {
        extensions: n.extensions(),
        ..Default::default()
    };
    for (key, v) in n.fields(SERVICE)? {
        match key.as_str() {
            "image" => s.image = v.opt_str()?,
            "build" => s.build = Some(build(&v, cx)?),
            "command" => s.command = command(&v)?,
            "entrypoint" => s.entrypoint = command(&v)?,
            "environment" => {
                for (k, val) in v.dict()? {
                    let val = val.or_else(|| (cx.lookup)(&k));
                    s.environment.insert(k, val);
                }
            }
            "env_file" => {
                for f in v.str_or_list()? {
                    s.env_file.push(cx.working_dir.join(f));
                }
            }
            "ports" => {
                for p in v.items()? {
                    s.ports.extend(port(&p)?);
                }
            }
            "expose" => s.expose = v.list()?,
            "volumes" => {
                for m in v.items()? {
                    s.volumes.push(mount(&m, cx)?);
                }
            }
            "tmpfs" => s.tmpfs = v.str_or_list()?,
            "networks" => s.networks = service_networks(&v)?,
            "network_mode" => s.network_mode = v.opt_str()?,
            "links" => s.links = v.list()?,
            "depends_on" => s.depends_on = depends_on(&v)?,
            "healthcheck" => s.healthcheck = Some(healthcheck(&v)?),
            "restart" => {
                let r = v.str()?;
                let ok = matches!(
                    r.as_str(),
                    "no" | "always" | "unless-stopped" | "on-failure"
                ) || r
                    .strip_prefix("on-failure:")
                    .is_some_and(|n| n.parse::<u32>().is_ok());
                if !ok {
                    return Err(v.err(format!("invalid restart policy {r:?}")));
                }
                s.restart = Some(r);
            }
            "deploy" => s.deploy = Some(deploy(&v)?),
            "scale" => s.scale = Some(v.u32()?),
            "working_dir" => s.working_dir = v.opt_str()?,
            "user" => s.user = v.opt_str()?,
            "hostname" => s.hostname = v.opt_str()?,
            "labels" => s.labels = labels(&v)?,
            "container_name" => s.container_name = v.opt_str()?,
            "profiles" => s.profiles = v.list()?,
            "privileged" => s.privileged = v.bool()?,
            "cap_add" => s.cap_add = v.list()?,
            "cap_drop" => s.cap_drop = v.list()?,
            "init" => s.init = Some(v.bool()?),
            "stop_signal" => s.stop_signal = v.opt_str()?,
            "stop_grace_period" => s.stop_grace_period = Some(v.duration()?),
            "read_only" => s.read_only = v.bool()?,
            "shm_size" => s.shm_size = Some(v.bytes()?),
            "ulimits" => {
                for (name, u) in v.entries()? {
                    let (soft, hard) = if u.is_map() {
                        let f = u.fields(&["soft", "hard"])?;
                        let get = |k: &str| -> Result<i64, Error> {
                            let n = f.iter().find(|(x, _)| x == k).map(|(_, n)| n);
                            let n = n.ok_or_else(|| u.err(format!("{k} is required")))?;
                            Ok(n.uint()? as i64)
                        };
                        (get("soft")?, get("hard")?)
                    } else {
                        let x = u.uint()? as i64;
                        (x, x)
                    };
                    s.ulimits.insert(name, (soft, hard));
                }
            }
            "extra_hosts" => {
                s.extra_hosts = v
                    .dict()?
                    .into_iter()
                    .map(|(k, val)| match val {
                        // The map form `host: ip`; the list form `host:ip` or `host=ip`.
                        Some(ip) => format!("{k}:{ip}"),
                        None => k,
                    })
                    .collect()
            }
            "dns" => s.dns = v.str_or_list()?,
            "logging" => {
                for (k, n) in v.fields(&["driver", "options"])? {
                    if k == "driver" {
                        let d = n.str()?;
                        if !matches!(d.as_str(), "json-file" | "local" | "none") {
                            return Err(n.err(format!(
                                "unsupported logging driver {d:?} (json-file, local or none)"
                            )));
                        }
                    } else if !n.is_null() {
                        for (name, o) in n.entries()? {
                            o.str()
                                .map_err(|_| o.err(format!("option {name:?} must be a string")))?;
                        }
                    }
                }
                s.logging = Some(v.v.clone());
            }
            "pid" => s.pid = v.opt_str()?,
            "ipc" => s.ipc = v.opt_str()?,
            "sysctls" => {
                for (k, val) in v.dict()? {
                    let val = val.ok_or_else(|| v.err(format!("sysctl {k:?} needs a value")))?;
                    s.sysctls.insert(k, val);
                }
            }
            "group_add" => s.group_add = v.list()?,
            "cgroup_parent" => s.cgroup_parent = v.opt_str()?,
            "domainname" => s.domainname = v.opt_str()?,
            "oom_score_adj" => {
                let n = v.str()?;
                let n = n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (-1000..=1000).contains(n))
                    .ok_or_else(|| v.err(format!("{n:?} is not a number from -1000 to 1000")))?;
                s.oom_score_adj = Some(n);
            }
            "mac_address" => s.mac_address = v.opt_str()?,
            "dns_search" => s.dns_search = v.str_or_list()?,
            "dns_opt" => s.dns_opt = v.list()?,
            "security_opt" => s.security_opt = v.list()?,
            "devices" => {
                // The short form `source[:target[:permissions]]` or the long one.
                s.devices = Vec::new();
                for d in v.items()? {
                    if !d.is_map() {
                        s.devices.push(d.str()?);
                        continue;
                    }
                    let part = |k: &str| -> Result<Option<String>, Error> {
                        d.fields(&["source", "target", "permissions"])?
                            .into_iter()
                            .find(|(x, _)| x == k)
                            .map(|(_, n)| n.str())
                            .transpose()
                    };
                    let src = part("source")?.ok_or_else(|| d.err("source is required"))?;
                    let dst = part("target")?.unwrap_or_else(|| src.clone());
                    let perms = part("permissions")?.unwrap_or_else(|| "rwm".into());
                    s.devices.push(format!("{src}:{dst}:{perms}"));
                }
            }
            "pull_policy" => {
                let p = v.str()?;
                if !matches!(
                    p.as_str(),
                    "always" | "never" | "missing" | "if_not_present" | "build"
                ) {
                    return Err(v.err(format!("invalid pull_policy {p:?}")));
                }
                s.pull_policy = Some(p);
            }
            "tty" => s.tty = v.bool()?,
            "stdin_open" => s.stdin_open = v.bool()?,
            _ => {}
        }
    }
    Ok(s)
}

fn build(v: &Node, cx: &Context) -> Result<Build, Error> {
    let abs = |c: &str| {
        if c.contains("://") || c.starts_with("git@") {
            c.to_string()
        } else {
            super::load::clean(&cx.working_dir.join(c))
                .display()
                .to_string()
        }
    };
    if !v.is_map() {
        return Ok(Build {
            context: abs(&v.str()?),
            ..Default::default()
        });
    }
    let mut b = Build {
        context: abs("."),
        ..Default::default()
    };
    for (k, n) in v.fields(&[
        "context",
        "dockerfile",
        "dockerfile_inline",
        "args",
        "target",
    ])? {
        match k.as_str() {
            "context" => b.context = abs(&n.str()?),
            "dockerfile" => b.dockerfile = n.opt_str()?,
            "dockerfile_inline" => b.dockerfile_inline = n.opt_str()?,
            "args" => b.args = n.dict()?.into_iter().collect(),
            "target" => b.target = n.opt_str()?,
            _ => {}
        }
    }
    if b.dockerfile.is_some() && b.dockerfile_inline.is_some() {
        return Err(v.err("dockerfile and dockerfile_inline cannot both be set"));
    }
    Ok(b)
}

fn service_networks(v: &Node) -> Result<BTreeMap<String, ServiceNetwork>, Error> {
    let mut out = BTreeMap::new();
    if v.is_seq() {
        for n in v.list()? {
            out.insert(n, ServiceNetwork::default());
        }
        return Ok(out);
    }
    for (name, n) in v.entries()? {
        let mut sn = ServiceNetwork::default();
        for (k, x) in n.fields(&["aliases", "ipv4_address", "ipv6_address", "priority"])? {
            match k.as_str() {
                "aliases" => sn.aliases = x.list()?,
                "ipv4_address" => {
                    let ip = x.str()?;
                    if ip.parse::<std::net::Ipv4Addr>().is_err() {
                        return Err(x.err(format!("invalid IPv4 address {ip:?}")));
                    }
                    sn.ipv4_address = Some(ip);
                }
                "priority" => {
                    let s = x.str()?;
                    sn.priority = s
                        .parse()
                        .map_err(|_| x.err(format!("{s:?} is not a whole number")))?;
                }
                _ => {}
            }
        }
        out.insert(name, sn);
    }
    Ok(out)
}

fn depends_on(v: &Node) -> Result<BTreeMap<String, Dependency>, Error> {
    let mut out = BTreeMap::new();
    if v.is_seq() {
        for n in v.list()? {
            out.insert(
                n,
                Dependency {
                    condition: Condition::Started,
                    required: true,
                    restart: false,
                },
            );
        }
        return Ok(out);
    }
    for (name, n) in v.entries()? {
        let mut d = Dependency {
            condition: Condition::Started,
            required: true,
            restart: false,
        };
        for (k, x) in n.fields(&["condition", "required", "restart"])? {
            match k.as_str() {
                "condition" => {
                    d.condition = match x.str()?.as_str() {
                        "service_started" => Condition::Started,
                        "service_healthy" => Condition::Healthy,
                        "service_completed_successfully" => Condition::CompletedSuccessfully,
                        c => return Err(x.err(format!("invalid condition {c:?}"))),
                    }
                }
                "required" => d.required = x.bool()?,
                "restart" => d.restart = x.bool()?,
                _ => {}
            }
        }
        out.insert(name, d);
    }
    Ok(out)
}

fn healthcheck(v: &Node) -> Result<Healthcheck, Error> {
    let mut h = Healthcheck::default();
    for (k, n) in v.fields(&[
        "test",
        "interval",
        "timeout",
        "retries",
        "start_period",
        "start_interval",
        "disable",
    ])? {
        match k.as_str() {
            "test" => {
                h.test = if n.is_seq() {
                    n.list()?
                } else {
                    vec!["CMD-SHELL".into(), n.str()?]
                };
                if !matches!(
                    h.test.first().map(String::as_str),
                    Some("CMD" | "CMD-SHELL" | "NONE")
                ) {
                    return Err(n.err("the test must start with CMD, CMD-SHELL or NONE"));
                }
            }
            "interval" => h.interval = Some(n.duration()?),
            "timeout" => h.timeout = Some(n.duration()?),
            "retries" => h.retries = Some(n.u32()?),
            "start_period" => h.start_period = Some(n.duration()?),
            "start_interval" => h.start_interval = Some(n.duration()?),
            "disable" => h.disable = n.bool()?,
            _ => {}
        }
    }
    Ok(h)
}

fn resources(v: &Node) -> Result<Resources, Error> {
    let mut r = Resources::default();
    for (k, n) in v.fields(&["cpus", "memory", "pids", "devices", "generic_resources"])? {
        match k.as_str() {
            "cpus" => r.cpus = Some(n.float()?),
            "memory" => r.memory = Some(n.bytes()?),
            "pids" => r.pids = Some(n.uint()? as i64),
            _ => {}
        }
    }
    Ok(r)
}

fn deploy(v: &Node) -> Result<Deploy, Error> {
    let mut d = Deploy::default();
    const KEYS: &[&str] = &[
        "mode",
        "replicas",
        "resources",
        "restart_policy",
        "labels",
        "placement",
        "update_config",
        "rollback_config",
        "endpoint_mode",
    ];
    for (k, n) in v.fields(KEYS)? {
        match k.as_str() {
            "replicas" => d.replicas = Some(n.u32()?),
            "resources" => {
                for (rk, rn) in n.fields(&["limits", "reservations"])? {
                    let r = resources(&rn)?;
                    if rk == "limits" {
                        d.limits = r;
                    } else {
                        d.reservations = r;
                    }
                }
            }
            "restart_policy" => {
                let mut p = RestartPolicy::default();
                for (pk, pn) in n.fields(&["condition", "delay", "max_attempts", "window"])? {
                    match pk.as_str() {
                        "condition" => {
                            let c = pn.str()?;
                            if !matches!(c.as_str(), "none" | "on-failure" | "any") {
                                return Err(pn.err(format!("invalid condition {c:?}")));
                            }
                            p.condition = Some(c);
                        }
                        "delay" => p.delay = Some(pn.duration()?),
                        "max_attempts" => p.max_attempts = Some(pn.u32()?),
                        "window" => p.window = Some(pn.duration()?),
                        _ => {}
                    }
                }
                d.restart_policy = Some(p);
            }
            _ => {}
        }
    }
    Ok(d)
}

/// Every service has an image or a build; what services name (networks, volumes,
/// dependencies) is declared; dependencies have no cycle. Adds the `default` network
/// when a service uses it.
fn check_references(root: &Node, p: &mut Project, cx: &Context) -> Result<(), Error> {
    let services = root
        .entries()?
        .into_iter()
        .find(|(k, _)| k == "services")
        .map(|(_, n)| n);
    let Some(services) = services else {
        return Ok(());
    };
    let nodes: BTreeMap<String, Node> = services.entries()?.into_iter().collect();
    let at = |svc: &str, key: &str| -> Node {
        let s = &nodes[svc];
        s.entries()
            .ok()
            .and_then(|e| e.into_iter().find(|(k, _)| k == key).map(|(_, n)| n))
            .unwrap_or_else(|| s.clone())
    };
    let mut uses_default = false;
    for (name, s) in &p.services {
        if s.image.is_none() && s.build.is_none() {
            return Err(nodes[name].err("a service needs an image or a build"));
        }
        for net in s.network_names() {
            if net == "default" && !p.networks.contains_key("default") {
                uses_default = true;
            } else if !p.networks.contains_key(&net) {
                return Err(at(name, "networks").err(format!("undefined network {net:?}")));
            }
        }
        for m in &s.volumes {
            if m.kind == MountType::Volume
                && let Some(src) = &m.source
                && !p.volumes.contains_key(src)
            {
                return Err(at(name, "volumes").err(format!(
                    "named volume {src:?} is not declared in the top-level volumes"
                )));
            }
        }
        for (dep, d) in &s.depends_on {
            if d.required && !p.services.contains_key(dep) {
                return Err(
                    at(name, "depends_on").err(format!("depends on undefined service {dep:?}"))
                );
            }
        }
    }
    if let Some(cycle) = super::order::find_cycle(p) {
        return Err(
            at(&cycle[0], "depends_on").err(format!("dependency cycle: {}", cycle.join(" -> ")))
        );
    }
    if uses_default {
        p.networks.insert(
            "default".into(),
            Network {
                name: format!("{}_default", cx.project),
                ..Default::default()
            },
        );
    }
    Ok(())
}
