//! Waiting for a started container to be ready: each [`WaitFor`] checked in a loop with
//! a backoff, until it holds, the container exits, or the deadline passes.

use std::time::{Duration, Instant};

use tug::container::LogEntry;
use tug::container::{HealthStatus, LogCursor, PortProbe};

use super::Container;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::logs::tail;
use crate::request::Healthcheck;
use crate::wait::{self, Backoff, Matcher, WaitFor};

impl<I: Image> Container<I> {
    /// Waits for its wait strategies, as the start does.
    pub(crate) fn wait_until_ready(&self) -> Result<()> {
        self.wait_ready(&self.setup.ready.0, self.setup.ready.1, 0)
    }

    /// Waits for `conditions` in order, all within `timeout`; log waits read the log
    /// from byte `from` on.
    pub(super) fn wait_ready(
        &self,
        conditions: &[WaitFor],
        timeout: Duration,
        from: u64,
    ) -> Result<()> {
        let began = Instant::now();
        let deadline = began + timeout;
        let mut cursor: Option<LogCursor> = None;
        let mut entries = Vec::new();
        for cond in conditions {
            let mut probe = Probe::new(self, cond)?;
            let mut backoff = Backoff::new();
            loop {
                // The state before the logs: what was written before an exit is read.
                let state = self.inspect()?.state;
                if cursor.is_none() {
                    cursor = self.engine.log_cursor(&self.id, from).ok();
                }
                if let Some(c) = cursor.as_mut() {
                    entries.extend(c.read_new());
                }
                if probe.ready(self, cond, &entries, &state)? {
                    break;
                }
                let running = state.running || state.restarting;
                if !running && !matches!(cond, WaitFor::Exit(_)) {
                    return Err(Error::Exited {
                        id: self.id.clone(),
                        condition: cond.to_string(),
                        code: state.exit_code,
                        reason: state.error.clone(),
                        logs: tail(&entries, 20),
                    });
                }
                if Instant::now() >= deadline {
                    return Err(Error::WaitTimeout {
                        id: self.id.clone(),
                        condition: cond.to_string(),
                        after: began.elapsed(),
                        logs: tail(&entries, 20),
                    });
                }
                match (probe.sleep_until, probe.poll_interval) {
                    (Some(t), _) => std::thread::sleep(
                        t.min(deadline).saturating_duration_since(Instant::now()),
                    ),
                    (None, Some(every)) => std::thread::sleep(
                        every.min(deadline.saturating_duration_since(Instant::now())),
                    ),
                    (None, None) => backoff.pause(deadline),
                }
            }
        }
        Ok(())
    }

    /// Checks that the container has a healthcheck for [`WaitFor::healthcheck`] to wait
    /// on (the request's over the image's, which its shim runs).
    fn has_healthcheck(&self) -> Result<()> {
        let c = self
            .engine
            .container(&self.id)
            .map_err(|e| Error::engine(format!("reading the healthcheck of {}", self.name), e))?;
        match c.config.healthcheck.as_ref().and_then(Healthcheck::command) {
            Some(_) => Ok(()),
            None => Err(Error::Invalid(format!(
                "WaitFor::healthcheck(): the image of {} has no healthcheck: give one with with_health_check",
                self.name
            ))),
        }
    }
}

/// The state of one wait strategy being checked.
struct Probe {
    matcher: Option<Matcher>,
    scanned: usize,
    found: usize,
    sleep_until: Option<Instant>,
    poll_interval: Option<Duration>,
    /// The engine's probe of the container's listening ports (port waits).
    listen: Option<PortProbe>,
}

impl Probe {
    fn new<I: Image>(c: &Container<I>, cond: &WaitFor) -> Result<Probe> {
        let mut p = Probe {
            matcher: None,
            scanned: 0,
            found: 0,
            sleep_until: None,
            poll_interval: None,
            listen: None,
        };
        match cond {
            WaitFor::Log(l) => p.matcher = Some(Matcher::new(&l.pattern)?),
            WaitFor::Healthcheck(h) => {
                c.has_healthcheck()?;
                p.poll_interval = h.poll_interval;
            }
            WaitFor::Http(h) => p.poll_interval = h.poll_interval,
            WaitFor::Exit(e) => p.poll_interval = e.poll_interval,
            WaitFor::Duration { length } => p.sleep_until = Some(Instant::now() + *length),
            WaitFor::Port(_) => p.listen = c.engine.port_probe(&c.id).ok(),
            WaitFor::Nothing | WaitFor::Exec(_) => {}
        }
        Ok(p)
    }

    fn ready<I: Image>(
        &mut self,
        c: &Container<I>,
        cond: &WaitFor,
        entries: &[LogEntry],
        state: &tug::container::State,
    ) -> Result<bool> {
        let running = state.running && !state.paused;
        Ok(match cond {
            WaitFor::Nothing => true,
            WaitFor::Log(l) => {
                if let Some(m) = &self.matcher {
                    for e in &entries[self.scanned..] {
                        if l.source.matches(&e.stream) && m.is_match(&e.log) {
                            self.found += 1;
                        }
                    }
                }
                self.scanned = entries.len();
                self.found >= l.times
            }
            WaitFor::Port(p) => running && self.listen.as_mut().is_some_and(|l| l.listens(*p)),
            WaitFor::Http(h) => {
                let port = match h.port {
                    Some(p) => p,
                    None => match c.live().ports.container_ports().first() {
                        Some(p) => *p,
                        None => {
                            return Err(Error::Invalid(format!(
                                "{cond}: the container publishes no port"
                            )));
                        }
                    },
                };
                let hp = c.get_host_port_ipv4(port)?;
                running && wait::http_status(hp, &h.path, Duration::from_secs(1)) == Some(h.status)
            }
            WaitFor::Healthcheck(_) => match state.health.as_ref() {
                Some(h) if h.status == HealthStatus::Healthy => running,
                Some(h) if h.status == HealthStatus::Unhealthy && running => {
                    let last = h.log.last().map_or(String::new(), |r| {
                        format!(
                            ": the last check exited {}: {}",
                            r.exit_code,
                            r.output.trim()
                        )
                    });
                    return Err(Error::Invalid(format!(
                        "{cond}: container {} is unhealthy after {} failed checks{last}",
                        c.name, h.failing_streak
                    )));
                }
                _ => false,
            },
            WaitFor::Exec(cmd) => {
                running && c.exec(cmd.clone()).is_ok_and(|out| out.exit_code == 0)
            }
            WaitFor::Exit(e) => {
                let exited = !state.running
                    && !state.restarting
                    && state.status == tug::container::Status::Exited;
                if exited
                    && e.code
                        .is_some_and(|want| want != i64::from(state.exit_code))
                {
                    return Err(Error::Exited {
                        id: c.id.clone(),
                        condition: cond.to_string(),
                        code: state.exit_code,
                        reason: state.error.clone(),
                        logs: tail(entries, 20),
                    });
                }
                exited
            }
            WaitFor::Duration { .. } => self.sleep_until.is_some_and(|t| Instant::now() >= t),
        })
    }
}
