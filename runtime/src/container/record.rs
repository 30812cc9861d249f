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
    /// created, running, paused, restarting, exited, dead (as Docker).
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
    /// The image's STOPSIGNAL, which `stop` sends first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
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
    /// `--mount` flags, as Docker's `mount.Mount` objects (omitted when none, as Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<serde_json::Value>>,
    /// `--tmpfs`: destination → options (omitted when none, as Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub volumes_from: Option<Vec<String>>,
    pub links: Option<Vec<String>>,
    pub restart_policy: RestartPolicy,
    #[serde(default)]
    pub log_config: LogConfig,
    /// Memory, NanoCpus, CpuShares, PidsLimit...: Docker's resource fields, inline.
    #[serde(flatten)]
    pub resources: crate::sandbox::cgroups::Resources,
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

/// `HostConfig.RestartPolicy`: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: u32,
}

impl Default for RestartPolicy {
    fn default() -> RestartPolicy {
        RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        }
    }
}

impl RestartPolicy {
    /// Parses `--restart`: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let maximum_retry_count = match (name, count) {
            ("on-failure", Some(c)) => c.parse().map_err(|_| {
                format!("invalid restart policy: maximum retry count {c:?} must be a number")
            })?,
            (_, Some(_)) => {
                return Err(
                    "invalid restart policy: maximum retry count can only be used with 'on-failure'".into(),
                );
            }
            _ => 0,
        };
        match name {
            "no" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
                name: name.into(),
                maximum_retry_count,
            }),
            "" => Ok(RestartPolicy::default()),
            other => Err(format!(
                "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            )),
        }
    }

    /// Whether a process that exited with `code` restarts, after `restarts` restarts, and
    /// unless stopped by hand.
    pub fn should_restart(&self, code: i32, restarts: u32, manually_stopped: bool) -> bool {
        if manually_stopped {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
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

/// `NetworkSettings` (filled in by the networking issue).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    pub sandbox_key: String,
    pub ports: BTreeMap<String, serde_json::Value>,
    pub networks: BTreeMap<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_and_decide() {
        let p = RestartPolicy::parse("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 3));
        assert!(p.should_restart(1, 2, false));
        assert!(!p.should_restart(1, 3, false));
        assert!(!p.should_restart(0, 0, false));
        let a = RestartPolicy::parse("always").unwrap();
        assert!(a.should_restart(0, 100, false));
        assert!(!a.should_restart(0, 0, true));
        assert!(
            !RestartPolicy::parse("no")
                .unwrap()
                .should_restart(1, 0, false)
        );
        assert!(RestartPolicy::parse("always:3").is_err());
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
    }
}
