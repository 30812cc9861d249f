//! What a service's containers are: compose's names (`<project>-<service>-<n>`), the
//! `com.docker.compose.*` labels that find them again, the hash that tells whether a
//! running container still matches its service, and the engine's create options.

use std::collections::BTreeMap;

use super::Error;
use super::model::*;
use crate::container::{CreateOptions, Healthcheck as EngineHealthcheck, RestartPolicy, Ulimit};

pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
pub const LABEL_CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const LABEL_WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const LABEL_CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const LABEL_VERSION: &str = "com.docker.compose.version";
const LABEL_NETWORK: &str = "com.docker.compose.network";
const LABEL_VOLUME: &str = "com.docker.compose.volume";

/// The compose version tug's labels say it speaks.
const VERSION: &str = "2.24.0";

/// `<project>-<service>-<n>` (or the service's `container_name` for replica 1), and
/// `<project>-<service>-run-<id>` for a one-off.
pub fn container_name(project: &Project, service: &str, number: u32) -> String {
    if let Some(name) = project
        .services
        .get(service)
        .and_then(|s| s.container_name.clone())
    {
        return name;
    }
    format!("{}-{service}-{number}", project.name)
}

/// A hash of everything in the service that `up` passes to its containers: a running
/// container with another hash is recreated.
pub fn config_hash(project: &Project, service: &str) -> String {
    let mut one = project.clone();
    one.services.retain(|k, _| k == service);
    // The replica count changes how many containers there are, not what each one is.
    // Nor do extensions, which mean nothing to the engine (compose's hash leaves them out).
    for s in one.services.values_mut() {
        s.extensions.clear();
        s.scale = None;
        if let Some(d) = &mut s.deploy {
            d.replicas = None;
        }
    }
    let v = super::config::to_value(&one);
    let text = yaml_serde::to_string(&v["services"][service]).unwrap_or_default();
    crate::Digest::of(text.as_bytes()).hex().to_string()
}

/// The labels of a project's network.
pub fn network_labels(project: &Project, key: &str) -> BTreeMap<String, String> {
    labels_of(project, LABEL_NETWORK, key)
}

fn labels_of(project: &Project, kind: &str, key: &str) -> BTreeMap<String, String> {
    [
        (LABEL_PROJECT, project.name.clone()),
        (kind, key.to_string()),
        (LABEL_VERSION, VERSION.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The labels of a project's volume.
pub fn volume_labels(project: &Project, key: &str) -> BTreeMap<String, String> {
    labels_of(project, LABEL_VOLUME, key)
}

/// The engine's check for the service's `healthcheck`: `None` when it has none (the
/// image's applies), `NONE` when disabled, and an empty test when it sets only timings
/// (the image's test with these timings: the caller merges them).
pub fn healthcheck(s: &Service) -> Option<EngineHealthcheck> {
    let h = s.healthcheck.as_ref()?;
    if h.disable || h.test.first().is_some_and(|t| t == "NONE") {
        return Some(EngineHealthcheck::none());
    }
    let mut check = EngineHealthcheck {
        test: h.test.clone(),
        ..Default::default()
    };
    check.interval = h.interval;
    check.timeout = h.timeout;
    check.start_period = h.start_period;
    check.retries = h.retries;
    check.start_interval = h.start_interval;
    Some(check)
}

fn restart_policy(s: &Service) -> Result<RestartPolicy, crate::InvalidValue> {
    if let Some(r) = &s.restart {
        return RestartPolicy::parse(r);
    }
    let Some(p) = s.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) else {
        return Ok(RestartPolicy::default());
    };
    let text = match p.condition.as_deref() {
        Some("none") => "no".to_string(),
        Some("on-failure") => match p.max_attempts {
            Some(n) => format!("on-failure:{n}"),
            None => "on-failure".into(),
        },
        // `any` is swarm's default.
        _ => "always".into(),
    };
    RestartPolicy::parse(&text)
}

/// A `network_mode`, `pid` or `ipc` as the engine reads it: `service:<name>` is the
/// namespace of that service's first container.
fn mode(project: &Project, m: &str) -> String {
    match m.strip_prefix("service:") {
        Some(other) => format!("container:{}", container_name(project, other, 1)),
        None => m.to_string(),
    }
}

/// The options to create replica `number` of `service` from `image` (the built or pulled
/// image's reference). Its first network is the one it is created on; the caller
/// connects the others.
pub fn create_options(
    project: &Project,
    service: &str,
    number: u32,
    image: &str,
) -> Result<CreateOptions, Error> {
    let s = &project.services[service];
    let bad = |m: String| Error::Service {
        service: service.into(),
        message: m,
    };
    let name = container_name(project, service, number);
    let mut labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let files: Vec<String> = project
        .config_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    labels.extend([
        format!("{LABEL_PROJECT}={}", project.name),
        format!("{LABEL_SERVICE}={service}"),
        format!("{LABEL_NUMBER}={number}"),
        format!("{LABEL_ONEOFF}=False"),
        format!("{LABEL_CONFIG_HASH}={}", config_hash(project, service)),
        format!("{LABEL_WORKING_DIR}={}", project.working_dir.display()),
        format!("{LABEL_CONFIG_FILES}={}", files.join(",")),
        format!("{LABEL_VERSION}={VERSION}"),
    ]);
    // An entrypoint list: its first word is the entrypoint, the rest lead the command.
    let mut command = Vec::new();
    let entrypoint = match &s.entrypoint {
        None => None,
        Some(e) if e.is_empty() => Some(String::new()),
        Some(e) => {
            command.extend(e[1..].iter().cloned());
            Some(e[0].clone())
        }
    };
    command.extend(s.command.iter().flatten().cloned());
    let mut publish = Vec::new();
    for p in &s.ports {
        let mut text = String::new();
        if let Some(ip) = &p.host_ip {
            text.push_str(&format!("{ip}:"));
        }
        if let Some(pb) = &p.published {
            text.push_str(&format!("{pb}:"));
        } else if p.host_ip.is_some() {
            text.push(':');
        }
        text.push_str(&format!("{}/{}", p.target, p.protocol));
        publish.push(
            crate::network::parse_publish(&text)
                .map_err(|e| bad(format!("port {text}: {}", crate::Report(&e))))?,
        );
    }
    let mut mounts = Vec::new();
    for m in &s.volumes {
        let mut text = format!("type={}", m.kind.as_str());
        match (m.kind, &m.source) {
            (MountType::Volume, Some(src)) => {
                let vol = project
                    .volumes
                    .get(src)
                    .map_or(src.as_str(), |v| v.name.as_str());
                text.push_str(&format!(",source={vol}"));
            }
            (MountType::Bind, Some(src)) => text.push_str(&format!(",source={src}")),
            _ => {}
        }
        text.push_str(&format!(",target={}", m.target));
        if m.read_only {
            text.push_str(",readonly");
        }
        if let Some(size) = m.tmpfs_size {
            text.push_str(&format!(",tmpfs-size={size}"));
        }
        mounts.push(
            crate::volume::parse_mount_flag(&text)
                .map_err(|e| bad(format!("volume {}: {}", m.target, crate::Report(&e))))?,
        );
    }
    for t in &s.tmpfs {
        mounts.push(
            crate::volume::parse_tmpfs_flag(t)
                .map_err(|e| bad(format!("tmpfs {t}: {}", crate::Report(&e))))?,
        );
    }
    let (network, network_aliases, ip) = match &s.network_mode {
        Some(m) => (mode(project, m), Vec::new(), None),
        None => {
            let first = s.networks_in_order().remove(0);
            let net = &project.networks[&first];
            let sn = s.networks.get(&first).cloned().unwrap_or_default();
            let mut aliases = vec![service.to_string()];
            aliases.extend(sn.aliases);
            let ip = sn.ipv4_address.and_then(|i| i.parse().ok());
            (net.name.clone(), aliases, ip)
        }
    };
    let limits = s
        .deploy
        .as_ref()
        .map(|d| d.limits.clone())
        .unwrap_or_default();
    let reservations = s
        .deploy
        .as_ref()
        .map(|d| d.reservations.clone())
        .unwrap_or_default();
    let resources = crate::container::Resources {
        memory: limits.memory.unwrap_or(0),
        memory_reservation: reservations.memory.unwrap_or(0),
        nano_cpus: limits.cpus.map_or(0, |c| (c * 1e9) as i64),
        pids_limit: limits.pids,
        ..Default::default()
    };
    let ulimits = s
        .ulimits
        .iter()
        .map(|(n, (soft, hard))| Ulimit::new(n, *soft, *hard))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    // Replicas behind one fixed host port share it, balanced by the kernel.
    // (Only when every port is a fixed one: a range or a free port is one container's.)
    let port_group = (!s.ports.is_empty()
        && s.ports
            .iter()
            .all(|p| p.published.as_deref().is_some_and(|pb| !pb.contains('-'))))
    .then(|| format!("{}_{service}", project.name));
    Ok(CreateOptions {
        healthcheck: healthcheck(s),
        port_group,
        image: image.to_string(),
        name: Some(name),
        hostname: s.hostname.clone(),
        env: s
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect(),
        workdir: s.working_dir.clone(),
        user: s.user.clone(),
        entrypoint,
        command,
        interactive: s.stdin_open,
        // As Compose: stdin stays open for each `attach`.
        stdin_once: Some(false),
        tty: s.tty,
        read_only: s.read_only,
        privileged: s.privileged,
        network,
        network_aliases,
        ip,
        publish,
        expose: s.expose.clone(),
        dns: s.dns.clone(),
        extra_hosts: s.extra_hosts.clone(),
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        labels,
        restart_policy: restart_policy(s).map_err(|e| bad(e.to_string()))?,
        mounts,
        resources,
        ulimits,
        // `service[:alias]`: the service's first container under the alias (its name).
        links: s
            .links
            .iter()
            .map(|l| {
                let (svc, alias) = l.split_once(':').unwrap_or((l, l));
                if project.services.contains_key(svc) {
                    format!("{}:{alias}", container_name(project, svc, 1))
                } else {
                    l.clone()
                }
            })
            .collect(),
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s.stop_grace_period.map(|d| d.as_secs() as i64),
        shm_size: s.shm_size,
        init: s.init.unwrap_or(false),
        pid_mode: s
            .pid
            .as_deref()
            .map(|m| mode(project, m))
            .unwrap_or_default(),
        ipc_mode: s
            .ipc
            .as_deref()
            .map(|m| mode(project, m))
            .unwrap_or_default(),
        sysctls: s.sysctls.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        domainname: s.domainname.clone(),
        group_add: s.group_add.clone(),
        oom_score_adj: s.oom_score_adj,
        cgroup_parent: s.cgroup_parent.clone().filter(|p| !p.is_empty()),
        log_driver: s.log_driver(),
        log_opts: s.log_options(),
        mac_address: s.mac_address.clone(),
        dns_search: s.dns_search.clone(),
        dns_options: s.dns_opt.clone(),
        security_opt: s.security_opt.clone(),
        devices: s.devices.clone(),
        ..Default::default()
    })
}
