//! Health: a container's healthcheck (Docker's `Config.Healthcheck`), from the image's
//! `HEALTHCHECK` (which OCI's config type drops, so it is read from the config blob) and
//! the `--health-*` flags, merged as Docker's daemon merges them; the settings the shim's
//! monitor runs it with (`shim::health`, which runs it while the container runs); and the
//! state the monitor writes, read back for `inspect` (`State.Health`) and `ps`.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ExecOptions;
use super::record::Container;
use crate::container::Ctx;
pub use crate::shim::health::{HealthState, HealthStatus, HealthcheckResult};

/// The monitor's state file, in the container's dir (kept after a stop, as Docker keeps
/// `State.Health`).
pub const HEALTH_FILE: &str = "health.json";

/// Docker's defaults for a setting left out (or zero).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_START_PERIOD: Duration = Duration::ZERO;
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_RETRIES: u32 = 3;

/// A healthcheck: the test and Docker's timing settings (absent: Docker's defaults).
/// Serialised as Docker's `HealthConfig` (durations in nanoseconds, zero fields left
/// out), as `inspect` shows `Config.Healthcheck`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "HealthConfigJson", into = "HealthConfigJson")]
pub struct Healthcheck {
    /// `["CMD", args...]`, `["CMD-SHELL", "cmd"]`, `["NONE"]`; empty: the image's.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    /// The interval while `starting` within the start period (Docker API 1.44).
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

/// Docker's `HealthConfig` JSON.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthConfigJson {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    interval: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    timeout: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    start_period: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    start_interval: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    retries: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl From<HealthConfigJson> for Healthcheck {
    fn from(j: HealthConfigJson) -> Healthcheck {
        let d = |n: u64| (n > 0).then(|| Duration::from_nanos(n));
        Healthcheck {
            test: j.test,
            interval: d(j.interval),
            timeout: d(j.timeout),
            start_period: d(j.start_period),
            start_interval: d(j.start_interval),
            retries: u32::try_from(j.retries).ok().filter(|&n| n > 0),
        }
    }
}

impl From<Healthcheck> for HealthConfigJson {
    fn from(h: Healthcheck) -> HealthConfigJson {
        let n = |d: Option<Duration>| d.map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64);
        HealthConfigJson {
            test: h.test,
            interval: n(h.interval),
            timeout: n(h.timeout),
            start_period: n(h.start_period),
            start_interval: n(h.start_interval),
            retries: h.retries.map_or(0, u64::from),
        }
    }
}

impl Healthcheck {
    /// A check that runs `cmd` directly (`CMD`).
    pub fn cmd<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> Healthcheck {
        let mut test = vec!["CMD".to_string()];
        test.extend(cmd.into_iter().map(Into::into));
        Healthcheck {
            test,
            ..Default::default()
        }
    }

    /// A check that runs `cmd` through the image's shell, `/bin/sh -c` (`CMD-SHELL`).
    pub fn cmd_shell(cmd: impl Into<String>) -> Healthcheck {
        Healthcheck {
            test: vec!["CMD-SHELL".into(), cmd.into()],
            ..Default::default()
        }
    }

    /// No check (`NONE`): turns off the image's.
    pub fn none() -> Healthcheck {
        Healthcheck {
            test: vec!["NONE".into()],
            ..Default::default()
        }
    }

    pub fn with_interval(mut self, interval: Duration) -> Healthcheck {
        self.interval = Some(interval);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Healthcheck {
        self.timeout = Some(timeout);
        self
    }

    pub fn with_start_period(mut self, start_period: Duration) -> Healthcheck {
        self.start_period = Some(start_period);
        self
    }

    pub fn with_start_interval(mut self, start_interval: Duration) -> Healthcheck {
        self.start_interval = Some(start_interval);
        self
    }

    pub fn with_retries(mut self, retries: u32) -> Healthcheck {
        self.retries = Some(retries);
        self
    }

    /// The command the test runs (`CMD-SHELL` through `/bin/sh -c`); `None` for
    /// `["NONE"]`, an empty test or an unknown kind.
    pub fn command(&self) -> Option<Vec<String>> {
        self.command_in(None)
    }

    /// The command the test runs, `CMD-SHELL` through `shell` (the image's `SHELL`) when
    /// given, else `/bin/sh -c`, as Docker's probe builds it.
    pub fn command_in(&self, shell: Option<&[String]>) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                let sh = match shell {
                    Some(s) if !s.is_empty() => s.to_vec(),
                    _ => vec!["/bin/sh".into(), "-c".into()],
                };
                Some(sh.into_iter().chain(rest.iter().cloned()).collect())
            }
            _ => None,
        }
    }

    /// This check (the flags') over `image`'s: each setting left out is the image's, as
    /// Docker's daemon merges a container's config with its image's.
    pub fn merged_over(&self, image: &Healthcheck) -> Healthcheck {
        Healthcheck {
            test: if self.test.is_empty() {
                image.test.clone()
            } else {
                self.test.clone()
            },
            interval: self.interval.or(image.interval),
            timeout: self.timeout.or(image.timeout),
            start_period: self.start_period.or(image.start_period),
            start_interval: self.start_interval.or(image.start_interval),
            retries: self.retries.or(image.retries),
        }
    }

    /// Docker's checks of a container's healthcheck: each duration given is at least 1ms.
    pub fn validate(&self) -> Result<(), String> {
        for (name, d) in [
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
        ] {
            if d.is_some_and(|d| d < Duration::from_millis(1)) {
                return Err(format!("{name} in Healthcheck cannot be less than 1ms"));
            }
        }
        match self.test.first().map(String::as_str) {
            None | Some("NONE" | "CMD" | "CMD-SHELL") => Ok(()),
            Some(other) => Err(format!(
                "Healthcheck: unknown test type {other:?} (use CMD, CMD-SHELL or NONE)"
            )),
        }
    }

    /// The `config.Healthcheck` of an image config blob; `None` when there is none.
    pub fn from_image_config(blob: &[u8]) -> Option<Healthcheck> {
        let v: serde_json::Value = serde_json::from_slice(blob).ok()?;
        let h = v.get("config")?.get("Healthcheck")?.clone();
        let h: Healthcheck = serde_json::from_value(h).ok()?;
        (!h.test.is_empty()).then_some(h)
    }
}

/// The `config.Shell` of an image config blob (its `SHELL`), `None` when unset.
pub fn shell_from_image_config(blob: &[u8]) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_slice(blob).ok()?;
    let shell: Vec<String> = serde_json::from_value(v.get("config")?.get("Shell")?.clone()).ok()?;
    (!shell.is_empty()).then_some(shell)
}

/// The health state in container dir `dir`, as inspect shows it: `None` when the
/// container has no monitored check or never ran with one. A container that is not
/// `monitored` (not running, or paused: no check runs) shows `unhealthy`, as Docker's
/// does once its monitor stopped (also when the shim was killed before it could write
/// so).
pub(crate) fn read_state(dir: &Path, monitored: bool) -> Option<HealthState> {
    let bytes = std::fs::read(dir.join(HEALTH_FILE)).ok()?;
    let mut state: HealthState = serde_json::from_slice(&bytes).ok()?;
    if !monitored {
        state.status = HealthStatus::Unhealthy;
    }
    Some(state)
}

/// The outcome of one run of a healthcheck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The test exited 0.
    Healthy,
    /// The test exited with another code; its output (stdout then stderr).
    Unhealthy { exit_code: i32, output: String },
}

impl Ctx<'_> {
    /// The work of `Engine::image_healthcheck`.
    pub(crate) fn image_healthcheck(
        &self,
        name: &str,
    ) -> crate::container::Result<Option<Healthcheck>> {
        let c = self.container(name)?;
        let store = self.image_store()?;
        let img = store.resolve(&c.image)?;
        let blob = store.read_blob(&img.id)?;
        Ok(Healthcheck::from_image_config(&blob))
    }

    /// The work of `Engine::run_healthcheck`.
    pub(crate) fn run_healthcheck(
        &self,
        name: &str,
        check: &Healthcheck,
    ) -> crate::container::Result<Health> {
        let shell = self.container(name)?.config.shell;
        let command = check.command_in(shell.as_deref()).ok_or_else(|| {
            super::Error::Invalid(format!("the healthcheck {:?} runs nothing", check.test))
        })?;
        let out = self.exec_output(
            name,
            &ExecOptions {
                command,
                ..Default::default()
            },
        )?;
        Ok(if out.exit_code == 0 {
            Health::Healthy
        } else {
            let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stderr));
            Health::Unhealthy {
                exit_code: out.exit_code,
                output,
            }
        })
    }

    /// What the shim's monitor runs for container `c`: `None` when it has no check to
    /// run (none, `NONE`, or an empty test). The probe is the exec `tug exec` would make
    /// (the container's user, environment, working dir, capabilities and seccomp).
    pub(crate) fn health_settings(
        &self,
        c: &Container,
    ) -> crate::container::Result<Option<crate::shim::health::HealthSettings>> {
        let Some(check) = &c.config.healthcheck else {
            return Ok(None);
        };
        let Some(command) = check.command_in(c.config.shell.as_deref()) else {
            return Ok(None);
        };
        let request = self.exec_request(
            c,
            &ExecOptions {
                command,
                ..Default::default()
            },
        )?;
        Ok(Some(crate::shim::health::HealthSettings {
            request: crate::shim::health::probe_request(request),
            interval: check.interval.unwrap_or(DEFAULT_INTERVAL),
            timeout: check.timeout.unwrap_or(DEFAULT_TIMEOUT),
            start_period: check.start_period.unwrap_or(DEFAULT_START_PERIOD),
            start_interval: check.start_interval.unwrap_or(DEFAULT_START_INTERVAL),
            retries: check.retries.unwrap_or(DEFAULT_RETRIES),
            file: self.container_store().dir(&c.id).join(HEALTH_FILE),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn healthcheck_tests_become_commands() {
        assert_eq!(Healthcheck::cmd(["true"]).command(), Some(v(&["true"])));
        assert_eq!(
            Healthcheck::cmd_shell("test -e /ok").command(),
            Some(v(&["/bin/sh", "-c", "test -e /ok"]))
        );
        let bash = v(&["/bin/bash", "-eo", "pipefail", "-c"]);
        assert_eq!(
            Healthcheck::cmd_shell("true").command_in(Some(&bash)),
            Some(v(&["/bin/bash", "-eo", "pipefail", "-c", "true"]))
        );
        assert_eq!(Healthcheck::none().command(), None);
        assert_eq!(Healthcheck::default().command(), None);
    }

    #[test]
    fn image_configs_give_their_healthcheck_and_shell() {
        let blob = br#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","wget -q localhost"],"Interval":1000000000,"StartInterval":2000000,"Retries":3},"Shell":["/bin/bash","-c"]}}"#;
        let h = Healthcheck::from_image_config(blob).unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "wget -q localhost"]);
        assert_eq!(h.interval, Some(Duration::from_secs(1)));
        assert_eq!(h.start_interval, Some(Duration::from_millis(2)));
        assert_eq!((h.timeout, h.retries), (None, Some(3)));
        assert_eq!(shell_from_image_config(blob), Some(v(&["/bin/bash", "-c"])));
        assert!(Healthcheck::from_image_config(br#"{"config":{}}"#).is_none());
        assert!(Healthcheck::from_image_config(b"not json").is_none());
        assert!(shell_from_image_config(br#"{"config":{}}"#).is_none());
    }

    #[test]
    fn flags_override_the_image_setting_by_setting() {
        let image = Healthcheck::cmd(["true"])
            .with_interval(Duration::from_secs(5))
            .with_retries(2);
        let flags = Healthcheck {
            timeout: Some(Duration::from_secs(1)),
            retries: Some(7),
            ..Default::default()
        };
        let m = flags.merged_over(&image);
        assert_eq!(m.test, ["CMD", "true"]);
        assert_eq!(m.interval, Some(Duration::from_secs(5)));
        assert_eq!(
            (m.timeout, m.retries),
            (Some(Duration::from_secs(1)), Some(7))
        );
        let cmd = Healthcheck::cmd_shell("x").merged_over(&image);
        assert_eq!(cmd.test, ["CMD-SHELL", "x"]);
    }

    #[test]
    fn config_json_is_dockers_and_checked() {
        let h = Healthcheck::cmd_shell("true").with_interval(Duration::from_millis(100));
        let j = serde_json::to_value(&h).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 100_000_000})
        );
        assert_eq!(serde_json::from_value::<Healthcheck>(j).unwrap(), h);
        assert!(h.validate().is_ok());
        let tiny = Healthcheck::cmd(["x"]).with_timeout(Duration::from_micros(10));
        assert_eq!(
            tiny.validate().unwrap_err(),
            "Timeout in Healthcheck cannot be less than 1ms"
        );
    }

    #[test]
    fn a_stopped_container_reads_unhealthy() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_state(dir.path(), true).is_none());
        let s = serde_json::json!({"Status": "healthy", "FailingStreak": 0, "Log": []});
        std::fs::write(dir.path().join(HEALTH_FILE), s.to_string()).unwrap();
        let running = read_state(dir.path(), true).unwrap();
        assert_eq!(running.status, HealthStatus::Healthy);
        let stopped = read_state(dir.path(), false).unwrap();
        assert_eq!(stopped.status, HealthStatus::Unhealthy);
    }
}
