//! A container's metadata and state as stored in `container.json`, with Docker's field
//! names, so that `inspect` and its `--format` templates read like Docker's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::shim::RestartPolicy;

/// The time Docker prints for "never" (Go's zero time).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The current time as Docker prints it (RFC 3339 with nanoseconds, UTC).
pub fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// A container, as `docker inspect` shows one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    pub id: super::ContainerId,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    /// The image id (`sha256:...`).
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    /// The name with Docker's leading slash (`/quirky_turing`).
    pub name: String,
    pub restart_count: u32,
    pub driver: String,
    pub platform: String,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<serde_json::Value>,
    pub config: Config,
    pub host_config: HostConfig,
    pub network_settings: NetworkSettings,
}

impl Container {
    /// The name without the leading slash.
    pub fn short_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }
}

/// `State`: where the container is in its life.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// created, running, paused, restarting, exited, dead (as Docker). Changed only by
    /// the transitions below, which keep it and the booleans in step.
    pub status: Status,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// The healthcheck's state (Docker's `State.Health`): read from the shim's state
    /// file each time the container is read, never stored in the record; absent without
    /// a check.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::HealthState>,
}

/// A container's status, as Docker's `State.Status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    /// Docker's word (`ps --filter status=`, `inspect`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl State {
    /// Docker's one-line status, as `docker ps` shows it and the API's container list
    /// gives it (`State.String()` in moby): `Up 5 minutes`, `Up 2 hours (Paused)`, `Up 3
    /// seconds (health: starting)`, `Restarting (1) 2 seconds ago`, `Exited (0) About a
    /// minute ago`, `Created`, `Dead`, `Removal In Progress`, measured at `now`.
    pub fn status_line(&self, now: std::time::SystemTime) -> String {
        let since = |t: &str| {
            let d = humantime::parse_rfc3339_weak(t)
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            crate::human_duration(d)
        };
        let running = self.running
            || matches!(
                self.status,
                Status::Running | Status::Paused | Status::Restarting
            );
        if running {
            if self.paused {
                return format!("Up {} (Paused)", since(&self.started_at));
            }
            if self.restarting || self.status == Status::Restarting {
                return format!(
                    "Restarting ({}) {} ago",
                    self.exit_code,
                    since(&self.finished_at)
                );
            }
            return match self.health.as_ref().map(|h| h.status) {
                None => format!("Up {}", since(&self.started_at)),
                Some(crate::container::HealthStatus::Starting) => {
                    format!("Up {} (health: starting)", since(&self.started_at))
                }
                Some(h) => format!("Up {} ({h})", since(&self.started_at)),
            };
        }
        match self.status {
            Status::Removing => "Removal In Progress".into(),
            Status::Dead => "Dead".into(),
            Status::Created => "Created".into(),
            _ => format!(
                "Exited ({}) {} ago",
                self.exit_code,
                since(&self.finished_at)
            ),
        }
    }

    /// The process `pid` runs (started, or restarted), from now.
    pub fn set_running(&mut self, pid: i32) {
        self.status = Status::Running;
        self.running = true;
        self.restarting = false;
        self.paused = false;
        self.pid = pid;
        self.exit_code = 0;
        self.error.clear();
        self.oom_killed = false;
        self.started_at = now();
    }

    /// The process is gone with `code` (and `error`, if any). A container that never
    /// ran (`ran` false, still `created`) stays `created`, as Docker's does.
    pub fn set_exited(&mut self, code: i32, error: Option<&str>, ran: bool) {
        self.running = false;
        self.restarting = false;
        self.paused = false;
        self.pid = 0;
        self.exit_code = code;
        if let Some(e) = error {
            self.error = e.to_string();
        }
        if ran || self.status != Status::Created {
            self.status = Status::Exited;
            self.finished_at = now();
        }
    }

    /// The process exited with `code` and the restart policy starts it again after a
    /// delay (Docker counts such a container as running).
    pub fn set_restarting(&mut self, code: i32) {
        self.status = Status::Restarting;
        self.restarting = true;
        self.running = true;
        self.pid = 0;
        self.exit_code = code;
        self.finished_at = now();
    }

    /// Frozen (`pause`) or thawed.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        self.status = if paused {
            Status::Paused
        } else {
            Status::Running
        };
    }

    pub fn created() -> State {
        State {
            status: Status::Created,
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            health: None,
        }
    }
}

/// `Config`: the container's configuration, image defaults already applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    /// The healthcheck: the image's `HEALTHCHECK` under the `--health-*` flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::Healthcheck>,
    /// The image as the user named it.
    pub image: String,
    pub volumes: Option<serde_json::Value>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    /// The image's EXPOSE and `--expose`: port key (`80/tcp`) → `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `--stop-signal`, else the image's STOPSIGNAL: what `stop` sends first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `--stop-timeout`: seconds `stop` waits by default (`-1`: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// The image's `SHELL`, which runs `CMD-SHELL` healthchecks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// `HostConfig`: how the container runs on the host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub network_mode: String,
    pub readonly_rootfs: bool,
    pub privileged: bool,
    pub security_opt: Option<Vec<String>>,
    #[serde(default)]
    pub cap_add: Option<Vec<String>>,
    #[serde(default)]
    pub cap_drop: Option<Vec<String>>,
    #[serde(default)]
    pub devices: Option<Vec<super::DeviceMapping>>,
    pub auto_remove: bool,
    pub binds: Option<Vec<String>>,
    /// `--mount` flags, as Docker's `mount.Mount` objects (omitted when none, as Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<serde_json::Value>>,
    /// `--tmpfs`: destination → options (omitted when none, as Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub volumes_from: Option<Vec<String>>,
    /// `--ulimit`: resource limits (null when none, as Docker).
    #[serde(default)]
    pub ulimits: Option<Vec<super::ulimit::Ulimit>>,
    pub links: Option<Vec<String>>,
    /// `-p`: container port key (`80/tcp`) → the requested host bindings.
    #[serde(default)]
    pub port_bindings: crate::network::ports::PortBindings,
    /// `-P`.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// tug's own: the replicas of one group (compose's service with a fixed host port)
    /// share their host ports, which the kernel balances over the group's running
    /// members (as Swarm's routing mesh does on one node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_group: Option<String>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--add-host`, as `host:ip`.
    #[serde(default)]
    pub extra_hosts: Option<Vec<String>>,
    /// `--init`: a tug PID 1 runs the process (`null` without).
    #[serde(default)]
    pub init: Option<bool>,
    /// `--shm-size`: the size of /dev/shm in bytes.
    #[serde(default = "default_shm_size")]
    pub shm_size: i64,
    pub restart_policy: RestartPolicy,
    #[serde(default)]
    pub log_config: LogConfig,
    /// `--pid`: empty (its own), `host`, `container:<id>`.
    #[serde(default)]
    pub pid_mode: String,
    /// `--ipc`: `private` (Docker's default), `shareable`, `none`, `host`,
    /// `container:<id>`.
    #[serde(default = "default_ipc_mode")]
    pub ipc_mode: String,
    /// `--uts`: empty or `host`.
    #[serde(default, rename = "UTSMode")]
    pub uts_mode: String,
    /// `--cgroupns`: `private` or `host`.
    #[serde(default)]
    pub cgroupns_mode: String,
    /// `--sysctl`s (namespaced only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<BTreeMap<String, String>>,
    /// `--group-add`: more groups of the process (names or gids).
    #[serde(default)]
    pub group_add: Option<Vec<String>>,
    /// `--oom-score-adj`.
    #[serde(default)]
    pub oom_score_adj: i32,
    /// `--cgroup-parent`: the cgroup the container's own is made under.
    #[serde(default)]
    pub cgroup_parent: String,
    /// `--device-cgroup-rule`s (`c 42:* rmw`).
    #[serde(default)]
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Memory, NanoCpus, CpuShares, PidsLimit...: Docker's resource fields, inline.
    #[serde(flatten)]
    pub resources: crate::sandbox::cgroups::Resources,
}

fn default_ipc_mode() -> String {
    "private".into()
}

fn default_shm_size() -> i64 {
    super::spec::DEFAULT_SHM_SIZE as i64
}

/// `HostConfig.LogConfig`: the log driver (json-file) and its `--log-opt`s.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            kind: "json-file".into(),
            config: BTreeMap::new(),
        }
    }
}

/// `GraphDriver`: the storage driver and its dirs (`LowerDir` lists the top layer first,
/// colon-separated, as Docker's overlay2 does).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// `NetworkSettings`: where the container is on its networks. `Ports` holds the actual
/// host ports while the container runs (exposed but unpublished ports map to null).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    #[serde(default)]
    pub bridge: String,
    #[serde(default, rename = "SandboxID")]
    pub sandbox_id: String,
    pub sandbox_key: String,
    pub ports: crate::network::ports::PortMapJson,
    /// The default bridge's address, gateway, prefix and MAC (empty on other networks,
    /// as Docker has them).
    #[serde(default, rename = "IPAddress")]
    pub ip_address: String,
    #[serde(default)]
    pub gateway: String,
    #[serde(default, rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(default)]
    pub mac_address: String,
    /// Network name → the container's endpoint on it.
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// A container's endpoint on one network (`NetworkSettings.Networks.<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    /// `--ip`, when given: `{"IPv4Address": "..."}`.
    #[serde(default, rename = "IPAMConfig")]
    pub ipam_config: Option<BTreeMap<String, String>>,
    /// `--link`s, as `name:alias`.
    #[serde(default)]
    pub links: Option<Vec<String>>,
    /// `--network-alias`es.
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    #[serde(default)]
    pub mac_address: String,
    #[serde(default, rename = "NetworkID")]
    pub network_id: String,
    #[serde(default, rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(default)]
    pub gateway: String,
    #[serde(default, rename = "IPAddress")]
    pub ip_address: String,
    #[serde(default, rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// The names other containers reach it by on this network (name, aliases, short id).
    #[serde(default, rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

#[cfg(test)]
mod state_tests {
    use super::*;

    /// `status_line` through a life, measured at fixed moments after each step.
    #[test]
    fn status_lines_are_dockers_through_a_life() {
        use std::time::{Duration, SystemTime};
        let t0 = humantime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let stamp = |t: SystemTime| humantime::format_rfc3339_nanos(t).to_string();
        let mut s = State::created();
        assert_eq!(s.status_line(at(5)), "Created");
        s.set_running(42);
        s.started_at = stamp(t0);
        assert_eq!(s.status_line(at(5)), "Up 5 seconds");
        assert_eq!(s.status_line(at(90 * 60)), "Up 2 hours");
        s.set_paused(true);
        assert_eq!(s.status_line(at(61)), "Up About a minute (Paused)");
        s.set_paused(false);
        s.set_restarting(1);
        s.finished_at = stamp(at(10));
        assert_eq!(s.status_line(at(12)), "Restarting (1) 2 seconds ago");
        s.set_running(43);
        s.set_exited(3, None, true);
        s.finished_at = stamp(at(100));
        assert_eq!(
            s.status_line(at(100 + 3 * 24 * 3600)),
            "Exited (3) 3 days ago"
        );
    }

    #[test]
    fn transitions_keep_status_and_flags_in_step() {
        let mut s = State::created();
        // A start that failed before the process ran: still `created`, as Docker's.
        s.set_exited(127, Some("not found"), false);
        assert_eq!(
            (s.status, s.exit_code, s.error.as_str()),
            (Status::Created, 127, "not found")
        );
        s.set_running(42);
        assert_eq!(
            (s.status, s.running, s.pid, s.exit_code),
            (Status::Running, true, 42, 0)
        );
        assert!(s.error.is_empty());
        s.set_paused(true);
        assert_eq!(
            (s.status, s.paused, s.running),
            (Status::Paused, true, true)
        );
        s.set_paused(false);
        assert_eq!(s.status, Status::Running);
        s.set_restarting(1);
        assert_eq!(
            (s.status, s.running, s.restarting, s.pid),
            (Status::Restarting, true, true, 0)
        );
        s.set_running(43);
        assert!(!s.restarting);
        s.set_exited(137, None, true);
        assert_eq!(
            (s.status, s.running, s.pid, s.exit_code),
            (Status::Exited, false, 0, 137)
        );
        assert_eq!(serde_json::to_value(s.status).unwrap(), "exited");
    }
}
