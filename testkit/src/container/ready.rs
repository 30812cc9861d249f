//! Waiting for a started container to be ready: each [`WaitFor`] checked in a loop with
//! a backoff, until it holds, the container exits, or the deadline passes.

use std::time::{Duration, Instant};

use super::Container;
use crate::error::{Error, Result};
use crate::logs::{LogCursor, tail};
use crate::wait::{self, Backoff, Matcher, WaitFor};

impl Container {
    /// Waits for its wait strategies, as the start does.
    pub(crate) fn wait_until_ready(&self) -> Result<()> {
        self.wait_ready(&self.ready.0, self.ready.1, 0)
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
        let mut cursor = LogCursor::starting_at(self.log_path.clone(), from);
        let mut entries = Vec::new();
        for cond in conditions {
            let mut probe = Probe::new(self, cond)?;
            let mut backoff = Backoff::new();
            loop {
                // The state before the logs: what was written before an exit is read.
                let state = self.inspect()?.state;
                entries.extend(cursor.read_new());
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
                match probe.sleep_until {
                    Some(t) => std::thread::sleep(
                        t.min(deadline).saturating_duration_since(Instant::now()),
                    ),
                    None => backoff.pause(deadline),
                }
            }
        }
        Ok(())
    }
}

/// The state of one wait strategy being checked.
struct Probe {
    matcher: Option<Matcher>,
    scanned: usize,
    found: usize,
    health: Option<Vec<String>>,
    sleep_until: Option<Instant>,
    /// A sock_diag socket in the container's network namespace (port waits).
    listen: Option<crate::listen::ListenProbe>,
}

impl Probe {
    fn new(c: &Container, cond: &WaitFor) -> Result<Probe> {
        let mut p = Probe {
            matcher: None,
            scanned: 0,
            found: 0,
            health: None,
            sleep_until: None,
            listen: None,
        };
        match cond {
            WaitFor::Log { pattern, .. } => {
                p.matcher = Some(Matcher::new(pattern)?);
            }
            WaitFor::Healthy => p.health = Some(c.healthcheck_command()?),
            WaitFor::Duration(d) => p.sleep_until = Some(Instant::now() + *d),
            // Where sock_diag cannot be used, /proc/<pid>/net/tcp is read instead.
            WaitFor::Port(_) => p.listen = crate::listen::ListenProbe::new(c.pid()).ok(),
            _ => {}
        }
        Ok(p)
    }

    fn ready(
        &mut self,
        c: &Container,
        cond: &WaitFor,
        entries: &[tug::container::LogEntry],
        state: &tug::container::State,
    ) -> Result<bool> {
        let running = state.running && !state.paused;
        Ok(match cond {
            WaitFor::Log { stream, times, .. } => {
                if let Some(m) = &self.matcher {
                    for e in &entries[self.scanned..] {
                        if stream.matches(&e.stream) && m.is_match(e.log.trim_end_matches('\n')) {
                            self.found += 1;
                        }
                    }
                }
                self.scanned = entries.len();
                self.found >= *times
            }
            WaitFor::Port(p) => {
                running
                    && match self.listen.as_mut().map(|l| l.listens(*p)) {
                        Some(Ok(yes)) => yes,
                        _ => wait::listens_in(state.pid, *p),
                    }
            }
            WaitFor::Http { path, port, status } => {
                let live = c.live();
                let port = match port {
                    Some(p) => *p,
                    None => match live.ports.keys().next() {
                        Some(p) => *p,
                        None => {
                            return Err(Error::Invalid(format!(
                                "{cond}: the container publishes no port"
                            )));
                        }
                    },
                };
                let hp = c.host_port(port)?;
                running && wait::http_status(hp, path, Duration::from_secs(1)) == Some(*status)
            }
            WaitFor::Healthy | WaitFor::Exec(_) => {
                let cmd = match cond {
                    WaitFor::Exec(cmd) => cmd.clone(),
                    _ => self.health.clone().unwrap_or_default(),
                };
                running && c.exec(cmd).is_ok_and(|out| out.exit_code == 0)
            }
            WaitFor::Exit(code) => {
                let exited = !state.running
                    && !state.restarting
                    && state.status == tug::container::Status::Exited;
                if exited && code.is_some_and(|want| want != state.exit_code) {
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
            WaitFor::Duration(_) => self.sleep_until.is_some_and(|t| Instant::now() >= t),
        })
    }
}

impl Container {
    /// The command [`WaitFor::healthy`] runs: the request's, else the image's
    /// `Healthcheck.Test` (read from the image config as Docker wrote it).
    fn healthcheck_command(&self) -> Result<Vec<String>> {
        if let Some(cmd) = &self.healthcheck {
            return Ok(cmd.clone());
        }
        let c = self.inspect()?;
        let store = self
            .engine
            .image_store()
            .map_err(|e| Error::engine("opening the image store", e))?;
        let test = store
            .resolve(&c.image)
            .and_then(|img| store.read_blob(&img.id))
            .map(|blob| wait::healthcheck_test(&blob))
            .unwrap_or_default();
        wait::healthcheck_command(&test).ok_or_else(|| {
            Error::Invalid(format!(
                "WaitFor::healthy(): image {} has no healthcheck: give one with with_healthcheck",
                c.config.image
            ))
        })
    }
}
