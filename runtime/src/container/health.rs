//! Health: the image's `HEALTHCHECK` (Docker's `config.Healthcheck`, which OCI's config
//! type drops) read typed, and run once in a container on request. tug has no
//! background health monitor: a caller that waits for health (the testkit's
//! `WaitFor::healthcheck`) runs the check in its own loop.

use std::time::Duration;

use super::ExecOptions;
use crate::Engine;

/// A healthcheck: the test and Docker's timing settings (absent: Docker's defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", args...]`, `["CMD-SHELL", "cmd"]`, `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u32>,
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

    /// A check that runs `cmd` through `/bin/sh -c` (`CMD-SHELL`).
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

    pub fn with_retries(mut self, retries: u32) -> Healthcheck {
        self.retries = Some(retries);
        self
    }

    /// The command the test runs; `None` for `["NONE"]` or an empty test.
    pub fn command(&self) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
            }
            _ => None,
        }
    }

    /// The `config.Healthcheck` of an image config blob; `None` when there is none.
    pub fn from_image_config(blob: &[u8]) -> Option<Healthcheck> {
        let v: serde_json::Value = serde_json::from_slice(blob).ok()?;
        let h = v.get("config")?.get("Healthcheck")?;
        let test: Vec<String> = serde_json::from_value(h.get("Test")?.clone()).ok()?;
        let nanos = |k: &str| {
            h.get(k)
                .and_then(serde_json::Value::as_u64)
                .filter(|&n| n > 0)
                .map(Duration::from_nanos)
        };
        Some(Healthcheck {
            test,
            interval: nanos("Interval"),
            timeout: nanos("Timeout"),
            start_period: nanos("StartPeriod"),
            retries: h
                .get("Retries")
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n > 0),
        })
    }
}

/// The outcome of one run of a healthcheck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The test exited 0.
    Healthy,
    /// The test exited with another code; its output (stdout then stderr).
    Unhealthy { exit_code: i32, output: String },
}

impl Engine {
    /// The healthcheck of the image container `name` was made from; `None` when the
    /// image has none.
    pub fn image_healthcheck(&self, name: &str) -> crate::Result<Option<Healthcheck>> {
        let c = self.container(name)?;
        let store = self.image_store()?;
        let img = store.resolve(&c.image)?;
        let blob = store.read_blob(&img.id)?;
        Ok(Healthcheck::from_image_config(&blob))
    }

    /// Runs `check` once in running container `name`; an error when the test has no
    /// command (`NONE`).
    pub fn run_healthcheck(&self, name: &str, check: &Healthcheck) -> crate::Result<Health> {
        let command = check.command().ok_or_else(|| {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_tests_become_commands() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Healthcheck::cmd(["true"]).command(), Some(v(&["true"])));
        assert_eq!(
            Healthcheck::cmd_shell("test -e /ok").command(),
            Some(v(&["/bin/sh", "-c", "test -e /ok"]))
        );
        let none = Healthcheck {
            test: v(&["NONE"]),
            ..Default::default()
        };
        assert_eq!(none.command(), None);
        assert_eq!(Healthcheck::default().command(), None);
    }

    #[test]
    fn image_configs_give_their_healthcheck() {
        let blob = br#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","wget -q localhost"],"Interval":1000000000,"Retries":3}}}"#;
        let h = Healthcheck::from_image_config(blob).unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "wget -q localhost"]);
        assert_eq!(h.interval, Some(Duration::from_secs(1)));
        assert_eq!((h.timeout, h.retries), (None, Some(3)));
        assert!(Healthcheck::from_image_config(br#"{"config":{}}"#).is_none());
        assert!(Healthcheck::from_image_config(b"not json").is_none());
    }
}
