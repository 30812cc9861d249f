//! A container's metadata and state as stored in `container.json`, with Docker's field
//! names, so that `inspect` and its `--format` templates read like Docker's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    pub id: String,
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
    /// created, running, exited (as Docker).
    pub status: String,
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
}

impl State {
    pub fn created() -> State {
        State {
            status: "created".into(),
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
    /// The image as the user named it.
    pub image: String,
    pub volumes: Option<serde_json::Value>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
}

/// `HostConfig`: how the container runs on the host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub network_mode: String,
    pub readonly_rootfs: bool,
    pub privileged: bool,
    pub security_opt: Option<Vec<String>>,
    pub auto_remove: bool,
    pub binds: Option<Vec<String>>,
    pub links: Option<Vec<String>>,
    pub restart_policy: RestartPolicy,
    /// Memory, NanoCpus, CpuShares, PidsLimit...: Docker's resource fields, inline.
    #[serde(flatten)]
    pub resources: crate::sandbox::cgroups::Resources,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: u32,
}

/// `GraphDriver`: the storage driver and its dirs (`LowerDir` lists the top layer first,
/// colon-separated, as Docker's overlay2 does).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// `NetworkSettings` (filled in by the networking issue).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    pub sandbox_key: String,
    pub ports: BTreeMap<String, serde_json::Value>,
    pub networks: BTreeMap<String, serde_json::Value>,
}
