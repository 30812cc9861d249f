//! The restart policy (`--restart`) and Docker's back-off, decided by a pure function:
//! given the policy, the exit code, the restarts so far, whether a user stopped the
//! container, how long the process ran and the last delay, restart after a delay or not.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Docker's first restart delay, doubled on each restart, reset after 10 s of running.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest delay between restarts.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A process that ran this long starts the back-off again.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

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
    pub fn parse(s: &str) -> Result<RestartPolicy, crate::InvalidValue> {
        let invalid = |message: String| crate::InvalidValue::new(s, message);
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let maximum_retry_count = match (name, count) {
            ("on-failure", Some(c)) => c.parse().map_err(|_| {
                invalid(format!(
                    "invalid restart policy: maximum retry count {c:?} must be a number"
                ))
            })?,
            (_, Some(_)) => {
                return Err(invalid(
                    "invalid restart policy: maximum retry count can only be used with 'on-failure'".into(),
                ));
            }
            _ => 0,
        };
        match name {
            "no" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
                name: name.into(),
                maximum_retry_count,
            }),
            "" => Ok(RestartPolicy::default()),
            other => Err(invalid(format!(
                "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            ))),
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

/// What the shim does after the container's process exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start the process again after this delay.
    RestartAfter(Duration),
    /// The container is done.
    Stop,
}

/// Whether the process that exited with `code` after running for `ran` restarts, and
/// after what delay: `restarts` so far (the record's RestartCount), `stopped`: a user
/// stopped or killed it (or its owner went), `last_delay`: the previous restart's delay
/// (zero before the first).
pub fn decide(
    policy: &RestartPolicy,
    code: i32,
    restarts: u32,
    stopped: bool,
    ran: Duration,
    last_delay: Duration,
) -> Decision {
    if !policy.should_restart(code, restarts, stopped) {
        return Decision::Stop;
    }
    let delay = if ran >= RESET_AFTER || last_delay.is_zero() {
        FIRST_DELAY
    } else {
        (last_delay * 2).min(MAX_DELAY)
    };
    Decision::RestartAfter(delay)
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

    #[test]
    fn the_back_off_doubles_up_to_a_minute_and_resets_after_ten_seconds() {
        let always = RestartPolicy::parse("always").unwrap();
        let ms = Duration::from_millis;
        let next = |ran, last| decide(&always, 0, 1, false, ran, last);
        assert_eq!(next(ms(5), Duration::ZERO), Decision::RestartAfter(ms(100)));
        assert_eq!(next(ms(5), ms(100)), Decision::RestartAfter(ms(200)));
        assert_eq!(next(ms(5), ms(400)), Decision::RestartAfter(ms(800)));
        assert_eq!(next(ms(5), ms(40_000)), Decision::RestartAfter(MAX_DELAY));
        assert_eq!(next(ms(5), MAX_DELAY), Decision::RestartAfter(MAX_DELAY));
        assert_eq!(
            next(RESET_AFTER, ms(6400)),
            Decision::RestartAfter(FIRST_DELAY)
        );
    }

    #[test]
    fn a_stop_by_hand_the_policy_or_the_retry_count_ends_the_container() {
        let ms = Duration::from_millis;
        let p = |s| RestartPolicy::parse(s).unwrap();
        assert_eq!(
            decide(&p("always"), 0, 0, true, ms(5), ms(0)),
            Decision::Stop
        );
        assert_eq!(
            decide(&p("unless-stopped"), 1, 9, true, ms(5), ms(0)),
            Decision::Stop
        );
        assert_eq!(decide(&p("no"), 1, 0, false, ms(5), ms(0)), Decision::Stop);
        assert_eq!(decide(&p(""), 1, 0, false, ms(5), ms(0)), Decision::Stop);
        let on_failure = p("on-failure:2");
        assert_eq!(
            decide(&on_failure, 0, 0, false, ms(5), ms(0)),
            Decision::Stop
        );
        assert_eq!(
            decide(&on_failure, 3, 1, false, ms(5), ms(100)),
            Decision::RestartAfter(ms(200))
        );
        assert_eq!(
            decide(&on_failure, 3, 2, false, ms(5), ms(200)),
            Decision::Stop
        );
        // on-failure without a count retries for ever.
        assert_eq!(
            decide(&p("on-failure"), 137, 1000, false, ms(5), ms(0)),
            Decision::RestartAfter(FIRST_DELAY)
        );
    }
}
