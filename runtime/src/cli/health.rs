//! The healthcheck flags of `run` and `create` (`--health-cmd`, `--health-interval`, ...,
//! `--no-healthcheck`), read as Docker's CLI reads them: a zero value is unset, and the
//! engine merges what is set over the image's `HEALTHCHECK`.

use std::time::Duration;

use clap::Args;

use super::CliError;
use tug::container::Healthcheck;

/// Docker's healthcheck flags.
#[derive(Args, Debug, Clone, Default)]
pub struct HealthFlags {
    /// Command to run to check health
    #[arg(long, value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", value_parser = duration, allow_hyphen_values = true)]
    pub health_interval: Option<Duration>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", value_parser = duration, allow_hyphen_values = true)]
    pub health_start_interval: Option<Duration>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", value_parser = duration, allow_hyphen_values = true)]
    pub health_start_period: Option<Duration>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", value_parser = duration, allow_hyphen_values = true)]
    pub health_timeout: Option<Duration>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
}

/// A Go duration (`500ms`, `1m30s`); a negative one is refused.
fn duration(s: &str) -> Result<Duration, String> {
    if let Some(pos) = s.strip_prefix('-')
        && tug::container::parse_go_duration(pos).is_some()
    {
        return Err("cannot be negative".into());
    }
    tug::container::parse_go_duration(s.strip_prefix('+').unwrap_or(s))
        .ok_or_else(|| format!("time: invalid duration {s:?}"))
}

impl HealthFlags {
    /// The container's healthcheck over the image's: `None` when no flag is given.
    pub fn healthcheck(&self) -> Result<Option<Healthcheck>, CliError> {
        let set = |d: Option<Duration>| d.filter(|d| !d.is_zero());
        let retries = self.health_retries.unwrap_or(0);
        let any = self.health_cmd.as_deref().is_some_and(|c| !c.is_empty())
            || set(self.health_interval).is_some()
            || set(self.health_timeout).is_some()
            || set(self.health_start_period).is_some()
            || set(self.health_start_interval).is_some()
            || retries != 0;
        if self.no_healthcheck {
            if any {
                return Err(CliError::usage(
                    "--no-healthcheck conflicts with --health-* options",
                ));
            }
            return Ok(Some(Healthcheck::none()));
        }
        if !any {
            return Ok(None);
        }
        if retries < 0 {
            return Err(CliError::usage("--health-retries cannot be negative"));
        }
        Ok(Some(Healthcheck {
            test: match self.health_cmd.as_deref() {
                Some(c) if !c.is_empty() => vec!["CMD-SHELL".into(), c.into()],
                _ => Vec::new(),
            },
            interval: set(self.health_interval),
            timeout: set(self.health_timeout),
            start_period: set(self.health_start_period),
            start_interval: set(self.health_start_interval),
            retries: u32::try_from(retries).ok().filter(|&r| r > 0),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_make_dockers_healthcheck() {
        let none = HealthFlags::default();
        assert_eq!(none.healthcheck().unwrap(), None);
        let f = HealthFlags {
            health_cmd: Some("test -e /ok".into()),
            health_interval: Some(Duration::from_millis(100)),
            health_retries: Some(2),
            ..Default::default()
        };
        let h = f.healthcheck().unwrap().unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "test -e /ok"]);
        assert_eq!(h.interval, Some(Duration::from_millis(100)));
        assert_eq!((h.timeout, h.retries), (None, Some(2)));
        let off = HealthFlags {
            no_healthcheck: true,
            ..Default::default()
        };
        assert_eq!(off.healthcheck().unwrap(), Some(Healthcheck::none()));
        let both = HealthFlags {
            no_healthcheck: true,
            health_retries: Some(1),
            ..Default::default()
        };
        assert!(both.healthcheck().is_err());
        assert_eq!(duration("-1s").unwrap_err(), "cannot be negative");
        assert_eq!(duration("1m").unwrap(), Duration::from_secs(60));
        assert!(duration("10").is_err());
    }
}
