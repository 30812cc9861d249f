//! The compose model: a project as `docker compose` v2 reads it, after interpolation,
//! merging of `-f` files and normalisation (short forms made long, relative paths made
//! absolute, `env_file`s read into `environment`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A project: its name, where it lives, and what it declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Project {
    /// The normalised project name (`-p`, `COMPOSE_PROJECT_NAME`, `name:` or the dir).
    pub name: String,
    /// The project directory: relative paths of the files resolve against it.
    pub working_dir: PathBuf,
    /// The compose files read, in order.
    pub config_files: Vec<PathBuf>,
    /// Every service of the files, with those of inactive profiles.
    pub services: BTreeMap<String, Service>,
    /// Declared networks, with `default` added when a service uses it.
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, Volume>,
    /// Top-level `x-` keys: no meaning to compose, printed back by `config`.
    pub extensions: BTreeMap<String, yaml_serde::Value>,
}

/// One service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    pub image: Option<String>,
    pub build: Option<Build>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY` → value (`None`: listed without a value and unset in the environment).
    pub environment: BTreeMap<String, Option<String>>,
    pub env_file: Vec<PathBuf>,
    pub ports: Vec<Port>,
    pub expose: Vec<String>,
    pub volumes: Vec<Mount>,
    pub tmpfs: Vec<String>,
    /// Network name → this service's settings on it; empty means `default`.
    pub networks: BTreeMap<String, ServiceNetwork>,
    pub network_mode: Option<String>,
    pub links: Vec<String>,
    pub depends_on: BTreeMap<String, Dependency>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<String>,
    pub deploy: Option<Deploy>,
    /// The top-level `scale` of the service (compose's older key for replicas).
    pub scale: Option<u32>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub container_name: Option<String>,
    pub profiles: Vec<String>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub init: Option<bool>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    pub read_only: bool,
    pub shm_size: Option<i64>,
    /// Name → (soft, hard).
    pub ulimits: BTreeMap<String, (i64, i64)>,
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub pull_policy: Option<String>,
    pub tty: bool,
    pub stdin_open: bool,
    /// `driver` (`json-file`, `local` or `none`) and `options`, as given (kept whole for
    /// `config`); see [`Service::log_driver`] and [`Service::log_options`].
    pub logging: Option<yaml_serde::Value>,
    /// `pid` (`host`, `container:<name>`, `service:<name>`).
    pub pid: Option<String>,
    /// `ipc` (`private`, `shareable`, `host`, `container:<name>`, `service:<name>`).
    pub ipc: Option<String>,
    /// `sysctls`, map or list form: name → value.
    pub sysctls: BTreeMap<String, String>,
    pub group_add: Vec<String>,
    pub cgroup_parent: Option<String>,
    pub domainname: Option<String>,
    pub oom_score_adj: Option<i64>,
    pub mac_address: Option<String>,
    pub dns_search: Vec<String>,
    pub dns_opt: Vec<String>,
    pub security_opt: Vec<String>,
    pub devices: Vec<String>,
    /// The service's `x-` keys: no meaning to compose, printed back by `config`.
    pub extensions: BTreeMap<String, yaml_serde::Value>,
}

impl Service {
    /// `logging.driver`, when set.
    pub fn log_driver(&self) -> Option<String> {
        let v = self.logging.as_ref()?.get("driver")?;
        scalar(v)
    }

    /// `logging.options` as `KEY=VALUE`.
    pub fn log_options(&self) -> Vec<String> {
        let Some(yaml_serde::Value::Mapping(m)) =
            self.logging.as_ref().and_then(|l| l.get("options"))
        else {
            return Vec::new();
        };
        m.iter()
            .filter_map(|(k, v)| Some(format!("{}={}", scalar(k)?, scalar(v)?)))
            .collect()
    }

    /// The number of containers `up` runs: `deploy.replicas`, else `scale`, else 1.
    pub fn replicas(&self) -> u32 {
        self.deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .or(self.scale)
            .unwrap_or(1)
    }

    /// [`Service::network_names`] in the order the containers join them: by `priority`,
    /// highest first, then by name.
    pub fn networks_in_order(&self) -> Vec<String> {
        let mut v = self.network_names();
        let prio = |n: &String| self.networks.get(n).map_or(0, |sn| sn.priority);
        v.sort_by_key(|n| std::cmp::Reverse(prio(n)));
        v
    }

    /// The networks the service joins (`default` when it names none).
    pub fn network_names(&self) -> Vec<String> {
        if self.network_mode.is_some() {
            return Vec::new();
        }
        if self.networks.is_empty() {
            vec!["default".into()]
        } else {
            self.networks.keys().cloned().collect()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Build {
    /// Absolute, or a URL as given.
    pub context: String,
    pub dockerfile: Option<String>,
    pub dockerfile_inline: Option<String>,
    pub args: BTreeMap<String, Option<String>>,
    pub target: Option<String>,
}

/// One published port, in the long syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port {
    pub target: u16,
    /// A port or a range (`8000-8010`); `None` for a free port.
    pub published: Option<String>,
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// `ingress` (the default) or `host`.
    pub mode: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Volume,
    Tmpfs,
}

impl MountType {
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
        }
    }
}

/// One mount, in the long syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountType,
    /// The host path (absolute) of a bind, the volume's key in `volumes:`; `None` for an
    /// anonymous volume or a tmpfs.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    /// A bind whose host path is made when missing (the short syntax's behaviour).
    pub create_host_path: bool,
    /// Whether compose-go keeps an options block (`bind:` or `volume:`) for the mount:
    /// the file gave one, or the short syntax implies one.
    pub options_block: bool,
    pub tmpfs_size: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    /// The higher, the earlier the containers join it (the first is the one they are
    /// created on: their default route).
    pub priority: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "service_started",
            Condition::Healthy => "service_healthy",
            Condition::CompletedSuccessfully => "service_completed_successfully",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub condition: Condition,
    /// A missing optional dependency is a warning, not an error.
    pub required: bool,
    /// Restart this service when the dependency is restarted by compose.
    pub restart: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", cmd]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub disable: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deploy {
    pub replicas: Option<u32>,
    pub limits: Resources,
    pub reservations: Resources,
    pub restart_policy: Option<RestartPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    pub cpus: Option<f64>,
    /// Bytes.
    pub memory: Option<i64>,
    pub pids: Option<i64>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.cpus.is_none() && self.memory.is_none() && self.pids.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestartPolicy {
    /// `none`, `on-failure` or `any`.
    pub condition: Option<String>,
    pub delay: Option<Duration>,
    pub max_attempts: Option<u32>,
    pub window: Option<Duration>,
}

/// A top-level network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    /// The engine's name: `<project>_<key>` unless `name:` or external says otherwise.
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub external: bool,
    pub internal: bool,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volume {
    /// The engine's name: `<project>_<key>` unless `name:` or external says otherwise.
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
}

fn scalar(v: &yaml_serde::Value) -> Option<String> {
    match v {
        yaml_serde::Value::String(s) => Some(s.clone()),
        yaml_serde::Value::Number(n) => Some(n.to_string()),
        yaml_serde::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
