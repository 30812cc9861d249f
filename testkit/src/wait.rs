//! Wait strategies: when a started container counts as ready ([`WaitFor`], with
//! testcontainers' names), and when an exec counts as done ([`CmdWaitFor`]). Each is
//! checked in a loop with a deadline (the request's startup timeout); a timeout says which
//! one timed out and shows the container's last log lines.

use std::fmt;
use std::time::{Duration, Instant};

use crate::logs::LogSource;
use crate::ports::ContainerPort;

/// What a log wait looks for.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Text within one line (its newline included).
    Text(String),
    /// A regular expression matched against one line (without its newline).
    Regex(String),
}

/// A log message to wait for: on which stream, what, how many times.
#[derive(Debug, Clone)]
pub struct LogWaitStrategy {
    pub(crate) source: LogSource,
    pub(crate) pattern: Pattern,
    pub(crate) times: usize,
}

impl LogWaitStrategy {
    /// `message` on stdout.
    pub fn stdout(message: impl AsRef<[u8]>) -> LogWaitStrategy {
        LogWaitStrategy::new(LogSource::StdOut, message)
    }

    /// `message` on stderr.
    pub fn stderr(message: impl AsRef<[u8]>) -> LogWaitStrategy {
        LogWaitStrategy::new(LogSource::StdErr, message)
    }

    /// `message` on stdout or stderr.
    pub fn stdout_or_stderr(message: impl AsRef<[u8]>) -> LogWaitStrategy {
        LogWaitStrategy::new(LogSource::BothStd, message)
    }

    /// `message` on `source`, once.
    pub fn new(source: LogSource, message: impl AsRef<[u8]>) -> LogWaitStrategy {
        let text = String::from_utf8_lossy(message.as_ref()).into_owned();
        LogWaitStrategy {
            source,
            pattern: Pattern::Text(text),
            times: 1,
        }
    }

    /// A line of `source` matching the regular expression `re` (checked at start).
    pub fn regex(source: LogSource, re: impl Into<String>) -> LogWaitStrategy {
        LogWaitStrategy {
            source,
            pattern: Pattern::Regex(re.into()),
            times: 1,
        }
    }

    /// The message `times` times.
    pub fn with_times(mut self, times: usize) -> LogWaitStrategy {
        self.times = times.max(1);
        self
    }
}

/// An HTTP GET through a published port that must answer a status.
#[derive(Debug, Clone)]
pub struct HttpWaitStrategy {
    pub(crate) path: String,
    pub(crate) port: Option<ContainerPort>,
    pub(crate) status: u16,
    pub(crate) poll_interval: Option<Duration>,
}

impl HttpWaitStrategy {
    /// `GET path` answering 200, on the first published port.
    pub fn new(path: impl Into<String>) -> HttpWaitStrategy {
        HttpWaitStrategy {
            path: path.into(),
            port: None,
            status: 200,
            poll_interval: None,
        }
    }

    /// On container port `port` (published).
    pub fn with_port(mut self, port: ContainerPort) -> HttpWaitStrategy {
        self.port = Some(port);
        self
    }

    pub fn with_expected_status_code(mut self, status: impl Into<u16>) -> HttpWaitStrategy {
        self.status = status.into();
        self
    }

    pub fn with_poll_interval(mut self, poll_interval: Duration) -> HttpWaitStrategy {
        self.poll_interval = Some(poll_interval);
        self
    }
}

impl From<&str> for HttpWaitStrategy {
    fn from(path: &str) -> HttpWaitStrategy {
        HttpWaitStrategy::new(path)
    }
}

impl From<String> for HttpWaitStrategy {
    fn from(path: String) -> HttpWaitStrategy {
        HttpWaitStrategy::new(path)
    }
}

/// The container's exit (with a code, when given).
#[derive(Debug, Clone, Default)]
pub struct ExitWaitStrategy {
    pub(crate) code: Option<i64>,
    pub(crate) poll_interval: Option<Duration>,
}

impl ExitWaitStrategy {
    pub fn new() -> ExitWaitStrategy {
        ExitWaitStrategy::default()
    }

    pub fn with_exit_code(mut self, code: i64) -> ExitWaitStrategy {
        self.code = Some(code);
        self
    }

    pub fn with_poll_interval(mut self, poll_interval: Duration) -> ExitWaitStrategy {
        self.poll_interval = Some(poll_interval);
        self
    }
}

/// `WaitFor::exit(0)`: the exit with that code.
impl From<i32> for ExitWaitStrategy {
    fn from(code: i32) -> ExitWaitStrategy {
        ExitWaitStrategy::new().with_exit_code(code.into())
    }
}

impl From<i64> for ExitWaitStrategy {
    fn from(code: i64) -> ExitWaitStrategy {
        ExitWaitStrategy::new().with_exit_code(code)
    }
}

/// The container's healthcheck (the request's over the image's, run by its shim)
/// passing; the poll interval is also the check's start interval unless the request's
/// check sets one.
#[derive(Debug, Clone, Default)]
pub struct HealthWaitStrategy {
    pub(crate) poll_interval: Option<Duration>,
}

impl HealthWaitStrategy {
    pub fn new() -> HealthWaitStrategy {
        HealthWaitStrategy::default()
    }

    pub fn with_poll_interval(mut self, poll_interval: Duration) -> HealthWaitStrategy {
        self.poll_interval = Some(poll_interval);
        self
    }
}

/// A condition for a started container to count as ready.
///
/// ```
/// use std::time::Duration;
/// use tug_testkit::core::{IntoContainerPort, WaitFor};
///
/// let _ = [
///     WaitFor::message_on_stdout("ready"),        // "ready" in a line on stdout
///     WaitFor::stderr_regex(r"listening on \d+").times(2), // two such lines on stderr
///     WaitFor::port(8080),                        // something listens on 8080 inside
///     WaitFor::http("/health").on_port(8080).with_status(204),
///     WaitFor::healthcheck(),                     // the healthcheck passes
///     WaitFor::exit(0),                           // the container exited with 0
///     WaitFor::exec(["test", "-e", "/ready"]),   // a command in it succeeds
///     WaitFor::millis(50),
///     WaitFor::Nothing,
/// ];
/// ```
#[derive(Debug, Clone)]
pub enum WaitFor {
    /// Nothing: ready once started.
    Nothing,
    /// Lines of the container's output.
    Log(LogWaitStrategy),
    /// A fixed time.
    Duration { length: Duration },
    /// The container is `healthy`: its shim runs the healthcheck, and the wait reads the
    /// state it writes ([`tug::Engine::health`]); `unhealthy` fails the wait.
    Healthcheck(HealthWaitStrategy),
    /// An HTTP GET through a published port answers a status.
    Http(Box<HttpWaitStrategy>),
    /// The container exited.
    Exit(ExitWaitStrategy),
    /// A TCP socket listening on the container port, seen inside the container's network
    /// namespace ([`tug::Engine::port_probe`]), not a host-side proxy accepting.
    Port(u16),
    /// A command run in the container exits 0.
    Exec(Vec<String>),
}

impl WaitFor {
    /// `message` in a line on stdout.
    pub fn message_on_stdout(message: impl AsRef<[u8]>) -> WaitFor {
        WaitFor::Log(LogWaitStrategy::stdout(message))
    }

    /// `message` in a line on stderr.
    pub fn message_on_stderr(message: impl AsRef<[u8]>) -> WaitFor {
        WaitFor::Log(LogWaitStrategy::stderr(message))
    }

    /// `message` in a line on stdout or stderr.
    pub fn message_on_either_std(message: impl AsRef<[u8]>) -> WaitFor {
        WaitFor::Log(LogWaitStrategy::stdout_or_stderr(message))
    }

    /// A log wait.
    pub fn log(strategy: LogWaitStrategy) -> WaitFor {
        WaitFor::Log(strategy)
    }

    /// A line on stdout matching the regular expression `re` (checked at start).
    pub fn stdout_regex(re: impl Into<String>) -> WaitFor {
        WaitFor::Log(LogWaitStrategy::regex(LogSource::StdOut, re))
    }

    /// A line on stderr matching the regular expression `re` (checked at start).
    pub fn stderr_regex(re: impl Into<String>) -> WaitFor {
        WaitFor::Log(LogWaitStrategy::regex(LogSource::StdErr, re))
    }

    /// A log wait that needs `n` matching lines (other waits are left as they are).
    pub fn times(self, n: usize) -> WaitFor {
        match self {
            WaitFor::Log(l) => WaitFor::Log(l.with_times(n)),
            other => other,
        }
    }

    /// A TCP listener on container port `port`, inside the container.
    pub fn port(port: u16) -> WaitFor {
        WaitFor::Port(port)
    }

    /// An HTTP answer: `WaitFor::http("/")` (200 on the first published port) or
    /// `WaitFor::http(HttpWaitStrategy::new("/").with_port(8080.tcp()))`.
    pub fn http(strategy: impl Into<HttpWaitStrategy>) -> WaitFor {
        WaitFor::Http(Box::new(strategy.into()))
    }

    /// An HTTP wait on container port `port`.
    pub fn on_port(self, port: u16) -> WaitFor {
        match self {
            WaitFor::Http(h) => WaitFor::Http(Box::new(h.with_port(ContainerPort::Tcp(port)))),
            other => other,
        }
    }

    /// An HTTP wait for status `status` instead of 200.
    pub fn with_status(self, status: u16) -> WaitFor {
        match self {
            WaitFor::Http(h) => WaitFor::Http(Box::new(h.with_expected_status_code(status))),
            other => other,
        }
    }

    /// The container becomes healthy: its healthcheck (the request's
    /// [`crate::ImageExt::with_health_check`] over the image's `HEALTHCHECK`), run by its
    /// shim, passes. Unless the request sets them, the check runs every poll interval
    /// (100 ms) during a start period as long as the startup timeout, so the first
    /// success ends the wait at once and earlier failures do not make it unhealthy.
    pub fn healthcheck() -> WaitFor {
        WaitFor::Healthcheck(HealthWaitStrategy::default())
    }

    /// The container exits: `WaitFor::exit(0)` with that code, or
    /// `WaitFor::exit(ExitWaitStrategy::new())` with any.
    pub fn exit(strategy: impl Into<ExitWaitStrategy>) -> WaitFor {
        WaitFor::Exit(strategy.into())
    }

    /// `cmd` run in the container exits 0.
    pub fn exec<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> WaitFor {
        WaitFor::Exec(cmd.into_iter().map(Into::into).collect())
    }

    /// A fixed time.
    pub fn duration(length: Duration) -> WaitFor {
        WaitFor::Duration { length }
    }

    /// `length` seconds.
    pub fn seconds(length: u64) -> WaitFor {
        WaitFor::duration(Duration::from_secs(length))
    }

    /// `length` milliseconds.
    pub fn millis(length: u64) -> WaitFor {
        WaitFor::duration(Duration::from_millis(length))
    }

    /// The milliseconds in environment variable `name`; nothing when it is unset or not
    /// a number.
    pub fn millis_in_env_var(name: &'static str) -> WaitFor {
        match std::env::var(name).ok().and_then(|v| v.parse().ok()) {
            Some(ms) => WaitFor::millis(ms),
            None => WaitFor::Nothing,
        }
    }
}

impl fmt::Display for WaitFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitFor::Nothing => write!(f, "nothing"),
            WaitFor::Log(l) => {
                let what = match &l.pattern {
                    Pattern::Text(t) => format!("containing {t:?}"),
                    Pattern::Regex(r) => format!("matching /{r}/"),
                };
                let n = if l.times == 1 {
                    "a line".to_string()
                } else {
                    format!("{} lines", l.times)
                };
                write!(f, "{n} on {} {what}", l.source.name())
            }
            WaitFor::Port(p) => write!(f, "port {p}/tcp listening in the container"),
            WaitFor::Http(h) => match h.port {
                Some(p) => write!(f, "HTTP {} from GET {} on port {p}", h.status, h.path),
                None => write!(f, "HTTP {} from GET {}", h.status, h.path),
            },
            WaitFor::Healthcheck(_) => write!(f, "the healthcheck to pass"),
            WaitFor::Exit(ExitWaitStrategy { code: Some(c), .. }) => {
                write!(f, "the container to exit with {c}")
            }
            WaitFor::Exit(_) => write!(f, "the container to exit"),
            WaitFor::Exec(cmd) => write!(f, "{cmd:?} to succeed in the container"),
            WaitFor::Duration { length } => write!(f, "{length:?} to pass"),
        }
    }
}

/// When an exec ([`crate::core::ExecCommand`]) counts as done. tug runs the command to its end
/// before [`crate::Container::exec`] returns, so each condition is checked on the whole
/// output and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdWaitFor {
    Nothing,
    StdOutMessage { message: Vec<u8> },
    StdErrMessage { message: Vec<u8> },
    Duration { length: Duration },
    Exit { code: Option<i64> },
}

impl CmdWaitFor {
    pub fn message_on_stdout(message: impl AsRef<[u8]>) -> CmdWaitFor {
        CmdWaitFor::StdOutMessage {
            message: message.as_ref().to_vec(),
        }
    }

    pub fn message_on_stderr(message: impl AsRef<[u8]>) -> CmdWaitFor {
        CmdWaitFor::StdErrMessage {
            message: message.as_ref().to_vec(),
        }
    }

    /// The command's exit, with any code.
    pub fn exit() -> CmdWaitFor {
        CmdWaitFor::Exit { code: None }
    }

    /// The command's exit with `code` (another code is an error).
    pub fn exit_code(code: i64) -> CmdWaitFor {
        CmdWaitFor::Exit { code: Some(code) }
    }

    pub fn duration(length: Duration) -> CmdWaitFor {
        CmdWaitFor::Duration { length }
    }

    pub fn seconds(secs: u64) -> CmdWaitFor {
        CmdWaitFor::duration(Duration::from_secs(secs))
    }

    pub fn millis(millis: u64) -> CmdWaitFor {
        CmdWaitFor::duration(Duration::from_millis(millis))
    }
}

/// A compiled log pattern.
pub(crate) enum Matcher {
    Text(String),
    Regex(regex::Regex),
}

impl Matcher {
    pub(crate) fn new(p: &Pattern) -> crate::Result<Matcher> {
        match p {
            Pattern::Text(t) => Ok(Matcher::Text(t.clone())),
            Pattern::Regex(r) => regex::Regex::new(r)
                .map(Matcher::Regex)
                .map_err(|e| crate::Error::Invalid(format!("bad regex in a log wait: {e}"))),
        }
    }

    /// Whether `line` (with its newline) matches.
    pub(crate) fn is_match(&self, line: &str) -> bool {
        match self {
            Matcher::Text(t) => line.contains(t.as_str()),
            Matcher::Regex(r) => r.is_match(line.trim_end_matches('\n')),
        }
    }
}

/// The status code of an HTTP GET of `path` on 127.0.0.1:`port`; `None` when nothing
/// answers (yet) within `timeout`.
pub(crate) fn http_status(port: u16, path: &str, timeout: Duration) -> Option<u16> {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status(&String::from_utf8_lossy(&head))
}

/// The code of an HTTP status line (`HTTP/1.1 200 OK`).
pub(crate) fn parse_status(head: &str) -> Option<u16> {
    let line = head.lines().next()?;
    let mut it = line.split_whitespace();
    it.next().filter(|v| v.starts_with("HTTP/"))?;
    it.next()?.parse().ok()
}

/// A poll interval that starts at 1 ms and doubles to 5 ms: a fixture's start takes tens
/// of milliseconds, which a longer interval overshoots by half of itself on average
/// (a poll, a look at the container's sockets or log, costs tens of microseconds).
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff {
            next: Duration::from_millis(1),
        }
    }

    /// Sleeps for the next interval, but not past `deadline`.
    pub(crate) fn pause(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(self.next.min(left));
        self.next = (self.next * 2).min(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status("HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status("HTTP/1.0 404 Not Found\r\nX: y"), Some(404));
        assert_eq!(parse_status("SSH-2.0\r\n"), None);
        assert_eq!(parse_status(""), None);
    }

    #[test]
    fn waits_describe_themselves() {
        assert_eq!(
            WaitFor::message_on_stdout("up").times(2).to_string(),
            "2 lines on stdout containing \"up\""
        );
        assert_eq!(
            WaitFor::http("/").on_port(80).to_string(),
            "HTTP 200 from GET / on port 80/tcp"
        );
        assert!(Matcher::new(&Pattern::Regex("(".into())).is_err());
        let m = Matcher::new(&Pattern::Regex(r"^port \d+$".into())).unwrap();
        assert!(m.is_match("port 80\n"));
        assert!(
            Matcher::new(&Pattern::Text("up\n".into()))
                .unwrap()
                .is_match("up\n")
        );
        assert!(!m.is_match("port x"));
    }
}
