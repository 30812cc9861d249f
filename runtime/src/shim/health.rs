//! The healthcheck monitor the shim runs while the container's process runs, with
//! Docker's semantics (moby's `daemon/health.go`): the first probe one interval after the
//! start (the start interval while `starting` within the start period), each next one an
//! interval after the previous ended; a probe is an exec into the container (the same
//! sandbox as `tug exec`) whose output is kept up to 4096 bytes; one that outlives its
//! timeout is killed with its process group and counts as a failure (exit code -1).
//! A success makes the container `healthy`; `retries` failures in a row make it
//! `unhealthy`, except failures while still `starting` within the start period, which do
//! not count. The last five results are kept.
//!
//! The state is a small JSON file beside the container's record ([`HealthState`],
//! Docker's `State.Health`), written atomically after each probe and at each start and
//! stop, so `inspect` and `ps` read it without talking to the shim. A start resets it to
//! `starting` with no failing streak (the log stays, as Docker keeps it); a stop marks it
//! `unhealthy`, as Docker does when its monitor stops.
//!
//! Nothing here blocks the event loop: the exec's release is answered on a socket the
//! loop polls, its output is read when readable, its exit comes with SIGCHLD, and the
//! timers are part of the loop's poll timeout.

use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::exec::{Event, Exec};
use super::proto::ExecRequest;

/// Output kept of one probe, in bytes (Docker's `maxOutputLen`); more is cut, with `...`.
pub const MAX_OUTPUT: usize = 4096;
/// Results kept in the log (Docker's `maxLogEntries`).
pub const MAX_LOG: usize = 5;
/// How long an exec may take to start before the probe counts as failed (Docker's).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Docker's `State.Health`: the status, the failing streak and the last results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<HealthcheckResult>,
}

/// `starting`, `healthy` or `unhealthy` (a container without a check has no state:
/// `ps --filter health=none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    /// Docker's word (`inspect`, `ps --filter health=`).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One probe's result, as Docker's `HealthcheckResult`: when it ran (RFC 3339), its exit
/// code (-1: it timed out or could not run) and its output (stdout and stderr as they
/// came, cut to `MAX_OUTPUT` bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthcheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

impl HealthState {
    fn starting(log: Vec<HealthcheckResult>) -> HealthState {
        HealthState {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log,
        }
    }

    /// Records `result`: `in_start_period` says the probe began within the start period.
    pub fn record(&mut self, result: HealthcheckResult, in_start_period: bool, retries: u32) {
        if self.log.len() >= MAX_LOG {
            self.log.drain(..=self.log.len() - MAX_LOG);
        }
        let ok = result.exit_code == 0;
        self.log.push(result);
        if ok {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !(self.status == HealthStatus::Starting && in_start_period) {
            self.failing_streak += 1;
            if self.failing_streak >= retries.max(1) {
                self.status = HealthStatus::Unhealthy;
            }
        }
    }
}

/// What the container side gives the shim for a container with a healthcheck: the exec
/// to run (made as `tug exec` makes one) and Docker's timings, defaults applied.
#[derive(Debug)]
pub struct HealthSettings {
    pub request: ExecRequest,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
    /// The state file ([`HealthState`] as JSON).
    pub file: PathBuf,
}

impl HealthSettings {
    /// The wait before the next probe, `elapsed` after the start, in `status`: while
    /// starting within the start period, the start interval (cut at the period's end, so
    /// that a probe runs right after it); else the interval.
    fn next_interval(&self, elapsed: Duration, status: HealthStatus) -> Duration {
        match self.start_period.checked_sub(elapsed) {
            Some(left) if !left.is_zero() && status == HealthStatus::Starting => {
                self.start_interval.min(left)
            }
            _ => self.interval,
        }
    }
}

/// A probe's output, cut as Docker's `limitedBuffer` cuts it.
#[derive(Default)]
struct Output {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Output {
    fn push(&mut self, data: &[u8]) {
        let keep = MAX_OUTPUT.saturating_sub(self.bytes.len()).min(data.len());
        self.bytes.extend_from_slice(&data[..keep]);
        self.truncated |= keep < data.len();
    }

    fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

/// A probe running.
struct Probe {
    exec: Exec,
    start: SystemTime,
    /// Within the start period when it began.
    in_start_period: bool,
    /// When it is killed: the start timeout, then (once it runs) the check's timeout.
    deadline: Instant,
    output: Output,
    /// Why it could not run.
    failed: Option<String>,
    timed_out: bool,
}

/// Which fd of the probe the event loop found ready.
#[derive(Clone, Copy)]
pub(super) enum ProbeFd {
    Started,
    /// stdout (`false`) or stderr (`true`).
    Output(bool),
}

/// The monitor of one container's healthcheck.
pub(super) struct Monitor {
    settings: HealthSettings,
    state: HealthState,
    /// When the current process started; `None` while it does not run.
    started: Option<Instant>,
    next: Option<Instant>,
    probe: Option<Probe>,
}

fn now_text() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

impl Monitor {
    /// A monitor; the log of an earlier run (the state file) is kept, as Docker keeps it.
    pub fn new(settings: HealthSettings) -> Monitor {
        let log = std::fs::read(&settings.file)
            .ok()
            .and_then(|b| serde_json::from_slice::<HealthState>(&b).ok())
            .map(|s| s.log)
            .unwrap_or_default();
        Monitor {
            settings,
            state: HealthState::starting(log),
            started: None,
            next: None,
            probe: None,
        }
    }

    /// The process started (or restarted): `starting`, and the first probe scheduled.
    pub fn start(&mut self) {
        let now = Instant::now();
        self.state.status = HealthStatus::Starting;
        self.state.failing_streak = 0;
        self.started = Some(now);
        self.next = Some(
            now + self
                .settings
                .next_interval(Duration::ZERO, self.state.status),
        );
        self.save();
    }

    /// The process ended: a probe running is killed and dropped, and the state says
    /// `unhealthy` (Docker's, once its monitor stops).
    pub fn stop(&mut self, buf: &mut [u8]) {
        if let Some(mut p) = self.probe.take() {
            let _ = p.exec.end(buf);
        }
        if self.started.take().is_some() {
            self.next = None;
            self.state.status = HealthStatus::Unhealthy;
            self.save();
        }
    }

    fn save(&self) {
        if let Ok(json) = serde_json::to_vec(&self.state) {
            // Best effort: a container removed meanwhile has no dir to write in.
            let _ = crate::fsutil::write_atomic_opt(&self.settings.file, &json, false);
        }
    }

    /// When the event loop must wake for this monitor.
    pub fn wake_at(&self) -> Option<Instant> {
        match &self.probe {
            Some(p) if !p.timed_out => Some(p.deadline),
            Some(_) => None,
            None => self.next,
        }
    }

    /// The probe's fds the event loop polls for reading.
    pub fn fds(&self) -> Vec<(ProbeFd, RawFd)> {
        let Some(p) = &self.probe else {
            return Vec::new();
        };
        if let Some(fd) = p.exec.start_fd() {
            return vec![(ProbeFd::Started, fd.as_raw_fd())];
        }
        let mut v = Vec::new();
        if let Some(f) = &p.exec.out {
            v.push((ProbeFd::Output(false), f.as_raw_fd()));
        }
        if let Some(f) = &p.exec.err {
            v.push((ProbeFd::Output(true), f.as_raw_fd()));
        }
        v
    }

    /// A probe fd is ready.
    pub fn on_ready(&mut self, which: ProbeFd, buf: &mut [u8]) {
        let Some(p) = &mut self.probe else { return };
        match which {
            ProbeFd::Started => match p.exec.on_started() {
                Event::Failed(_, msg) => p.failed = Some(msg),
                // It runs: the check's own timeout starts now (as Docker's).
                _ => p.deadline = Instant::now() + self.settings.timeout,
            },
            ProbeFd::Output(stderr) => {
                if let Some(Event::Output(_, data)) = p.exec.read_output(Some(stderr), buf) {
                    p.output.push(&data);
                }
            }
        }
    }

    /// SIGCHLD: reaps the probe if it exited. Whether it just died of SIGKILL that tug did not send (an OOM kill: an
    /// exec's, not the container's `OOMKilled`).
    pub fn reap(&mut self) -> bool {
        if let Some(p) = &mut self.probe {
            let before = p.exec.exit;
            p.exec.reap();
            return before.is_none() && p.exec.exit == Some(137) && !p.timed_out;
        }
        false
    }

    /// Timers and ends: kills a probe past its deadline, records one that is done, and
    /// starts the next when due. `running` (asked only when a probe is due): the init's
    /// pid, when it runs and is not frozen (a paused container is not probed; the probe
    /// waits for the thaw).
    pub fn tick(&mut self, running: impl FnOnce() -> Option<i32>, buf: &mut [u8]) {
        let now = Instant::now();
        if let Some(p) = &mut self.probe {
            if !p.timed_out && now >= p.deadline {
                p.timed_out = true;
                p.exec.kill_group();
            }
            if p.exec.is_done() {
                let p = self.probe.take().expect("checked just above");
                self.finish(p, buf);
            }
            return;
        }
        let (Some(next), Some(started)) = (self.next, self.started) else {
            return;
        };
        if now < next {
            return;
        }
        let Some(pid) = running() else {
            self.next = Some(now + self.settings.interval.min(Duration::from_millis(100)));
            return;
        };
        let in_start_period = now.duration_since(started) < self.settings.start_period;
        let start = SystemTime::now();
        match Exec::start(self.settings.request.clone(), pid, None) {
            Ok(exec) => {
                self.probe = Some(Probe {
                    exec,
                    start,
                    in_start_period,
                    deadline: now + START_TIMEOUT,
                    output: Output::default(),
                    failed: None,
                    timed_out: false,
                });
                self.next = None;
            }
            Err(e) => {
                let result = HealthcheckResult {
                    start: humantime::format_rfc3339_nanos(start).to_string(),
                    end: now_text(),
                    exit_code: -1,
                    output: crate::report(&e),
                };
                self.record(result, in_start_period);
            }
        }
    }

    /// The probe is done: its result recorded.
    fn finish(&mut self, mut p: Probe, buf: &mut [u8]) {
        let mut code = None;
        for ev in p.exec.finish(buf) {
            match ev {
                Event::Output(_, data) => p.output.push(&data),
                Event::Exit(c) => code = Some(c),
                _ => {}
            }
        }
        let (exit_code, output) = if p.timed_out {
            let limit = crate::duration::format_go_duration(self.settings.timeout);
            let out = p.output.text();
            let msg = if out.is_empty() {
                format!("Health check exceeded timeout ({limit})")
            } else {
                format!("Health check exceeded timeout ({limit}): {out}")
            };
            (-1, msg)
        } else if let Some(msg) = p.failed {
            (-1, msg)
        } else {
            (code.unwrap_or(-1), p.output.text())
        };
        let result = HealthcheckResult {
            start: humantime::format_rfc3339_nanos(p.start).to_string(),
            end: now_text(),
            exit_code,
            output,
        };
        self.record(result, p.in_start_period);
    }

    fn record(&mut self, result: HealthcheckResult, in_start_period: bool) {
        self.state
            .record(result, in_start_period, self.settings.retries);
        self.save();
        if let Some(started) = self.started {
            let now = Instant::now();
            let wait = self
                .settings
                .next_interval(now.duration_since(started), self.state.status);
            self.next = Some(now + wait);
        }
    }
}

/// An exec request's stdio for a probe: no terminal, no stdin, not detached (its
/// output is read by the shim).
pub fn probe_request(mut request: ExecRequest) -> ExecRequest {
    request.tty = false;
    request.stdin = false;
    request.detach = false;
    request.window = None;
    request.exec_id = String::new();
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthcheckResult {
        HealthcheckResult {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn failures_count_only_after_the_start_period_and_success_heals() {
        let mut s = HealthState::starting(Vec::new());
        s.record(result(1), true, 2);
        s.record(result(1), true, 2);
        assert_eq!((s.status, s.failing_streak), (HealthStatus::Starting, 0));
        s.record(result(1), false, 2);
        assert_eq!((s.status, s.failing_streak), (HealthStatus::Starting, 1));
        s.record(result(1), false, 2);
        assert_eq!((s.status, s.failing_streak), (HealthStatus::Unhealthy, 2));
        s.record(result(0), false, 2);
        assert_eq!((s.status, s.failing_streak), (HealthStatus::Healthy, 0));
        // Healthy within the start period: failures count (it is no longer starting).
        s.record(result(1), true, 2);
        assert_eq!((s.status, s.failing_streak), (HealthStatus::Healthy, 1));
        assert_eq!(s.log.len(), MAX_LOG);
        assert_eq!(s.log.last().unwrap().exit_code, 1);
    }

    #[test]
    fn probes_come_at_the_start_interval_while_starting() {
        let settings = HealthSettings {
            request: serde_json::from_value(serde_json::json!({
                "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}},
                "user": "", "tty": false, "stdin": false, "detach": false,
                "seccomp": null, "window": null
            }))
            .unwrap(),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            start_period: Duration::from_secs(10),
            start_interval: Duration::from_secs(5),
            retries: 3,
            file: PathBuf::new(),
        };
        let s = |secs| Duration::from_secs(secs);
        assert_eq!(settings.next_interval(s(0), HealthStatus::Starting), s(5));
        assert_eq!(settings.next_interval(s(7), HealthStatus::Starting), s(3));
        assert_eq!(settings.next_interval(s(7), HealthStatus::Healthy), s(30));
        assert_eq!(settings.next_interval(s(10), HealthStatus::Starting), s(30));
    }

    #[test]
    fn output_is_cut_at_4096_bytes_with_dots() {
        let mut o = Output::default();
        o.push(&[b'a'; 4000]);
        o.push(&[b'b'; 200]);
        let t = o.text();
        assert_eq!(t.len(), MAX_OUTPUT + 3);
        assert!(t.ends_with("bbb..."));
        let mut short = Output::default();
        short.push(b"ok\n");
        assert_eq!(short.text(), "ok\n");
    }

    #[test]
    fn state_json_has_dockers_shape() {
        let mut s = HealthState::starting(Vec::new());
        s.record(result(0), false, 3);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["Status"], "healthy");
        assert_eq!(v["FailingStreak"], 0);
        let entry = v["Log"][0].as_object().unwrap();
        let keys: Vec<&str> = entry.keys().map(String::as_str).collect();
        assert_eq!(keys, ["End", "ExitCode", "Output", "Start"]);
    }
}
