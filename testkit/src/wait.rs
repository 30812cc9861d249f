//! Wait strategies: when a started container counts as ready. Each is checked in a loop
//! with a deadline (the request's startup timeout); a timeout says which one timed out
//! and shows the container's last log lines.

use std::fmt;
use std::time::{Duration, Instant};

use crate::logs::Stream;

/// What a log wait looks for.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// A substring of one line.
    Text(String),
    /// A regular expression matched against one line.
    Regex(String),
}

/// A condition for a started container to count as ready.
///
/// ```
/// use std::time::Duration;
/// use tug_testkit::WaitFor;
///
/// let _ = [
///     WaitFor::stdout("ready"),                   // a line on stdout containing "ready"
///     WaitFor::stderr_regex(r"listening on \d+").times(2), // two such lines on stderr
///     WaitFor::port(8080),                        // something listens on 8080 inside
///     WaitFor::http("/health").on_port(8080).with_status(204),
///     WaitFor::healthy(),                         // the healthcheck passes
///     WaitFor::exit(0),                           // the container exited with 0
///     WaitFor::exec(["test", "-e", "/ready"]),   // a command in it succeeds
///     WaitFor::duration(Duration::from_millis(50)),
/// ];
/// ```
#[derive(Debug, Clone)]
pub enum WaitFor {
    /// `times` lines of `stream` that match.
    Log {
        stream: Stream,
        pattern: Pattern,
        times: usize,
    },
    /// A TCP socket listening on the container port, seen inside the container's network
    /// namespace (asked of the kernel by sock_diag there), not a host-side proxy accepting.
    Port(u16),
    /// An HTTP GET of `path` through the published port answers `status`.
    Http {
        path: String,
        port: Option<u16>,
        status: u16,
    },
    /// The healthcheck (the request's, else the image's `Healthcheck.Test`) exits 0.
    Healthy,
    /// The container exited (with this code, when given).
    Exit(Option<i32>),
    /// A command run in the container exits 0.
    Exec(Vec<String>),
    /// A fixed time.
    Duration(Duration),
}

impl WaitFor {
    /// A line on stdout containing `text`.
    pub fn stdout(text: impl Into<String>) -> WaitFor {
        WaitFor::log(Stream::Stdout, Pattern::Text(text.into()))
    }

    /// A line on stderr containing `text`.
    pub fn stderr(text: impl Into<String>) -> WaitFor {
        WaitFor::log(Stream::Stderr, Pattern::Text(text.into()))
    }

    /// A line on stdout or stderr containing `text`.
    pub fn log_line(text: impl Into<String>) -> WaitFor {
        WaitFor::log(Stream::Both, Pattern::Text(text.into()))
    }

    /// A line on stdout matching the regular expression `re` (checked at start).
    pub fn stdout_regex(re: impl Into<String>) -> WaitFor {
        WaitFor::log(Stream::Stdout, Pattern::Regex(re.into()))
    }

    /// A line on stderr matching the regular expression `re` (checked at start).
    pub fn stderr_regex(re: impl Into<String>) -> WaitFor {
        WaitFor::log(Stream::Stderr, Pattern::Regex(re.into()))
    }

    fn log(stream: Stream, pattern: Pattern) -> WaitFor {
        WaitFor::Log {
            stream,
            pattern,
            times: 1,
        }
    }

    /// A log wait that needs `n` matching lines (other waits are left as they are).
    pub fn times(self, n: usize) -> WaitFor {
        match self {
            WaitFor::Log {
                stream, pattern, ..
            } => WaitFor::Log {
                stream,
                pattern,
                times: n.max(1),
            },
            other => other,
        }
    }

    /// A TCP listener on container port `port`, inside the container.
    pub fn port(port: u16) -> WaitFor {
        WaitFor::Port(port)
    }

    /// An HTTP 200 for `GET path`, through the published port (the first published one
    /// unless [`WaitFor::on_port`] says which).
    pub fn http(path: impl Into<String>) -> WaitFor {
        WaitFor::Http {
            path: path.into(),
            port: None,
            status: 200,
        }
    }

    /// An HTTP wait on container port `port`.
    pub fn on_port(self, port: u16) -> WaitFor {
        match self {
            WaitFor::Http { path, status, .. } => WaitFor::Http {
                path,
                port: Some(port),
                status,
            },
            other => other,
        }
    }

    /// An HTTP wait for status `status` instead of 200.
    pub fn with_status(self, status: u16) -> WaitFor {
        match self {
            WaitFor::Http { path, port, .. } => WaitFor::Http { path, port, status },
            other => other,
        }
    }

    /// The healthcheck passes. tug has no HEALTHCHECK runner: the testkit runs the
    /// request's healthcheck ([`crate::ImageExt::with_healthcheck`]), else the image's
    /// `Healthcheck.Test`, in the container until it exits 0.
    pub fn healthy() -> WaitFor {
        WaitFor::Healthy
    }

    /// The container exits with `code`.
    pub fn exit(code: i32) -> WaitFor {
        WaitFor::Exit(Some(code))
    }

    /// `cmd` run in the container exits 0.
    pub fn exec<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> WaitFor {
        WaitFor::Exec(cmd.into_iter().map(Into::into).collect())
    }

    /// A fixed time.
    pub fn duration(d: Duration) -> WaitFor {
        WaitFor::Duration(d)
    }

    /// `n` seconds.
    pub fn seconds(n: u64) -> WaitFor {
        WaitFor::Duration(Duration::from_secs(n))
    }

    /// `n` milliseconds.
    pub fn millis(n: u64) -> WaitFor {
        WaitFor::Duration(Duration::from_millis(n))
    }
}

impl fmt::Display for WaitFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitFor::Log {
                stream,
                pattern,
                times,
            } => {
                let what = match pattern {
                    Pattern::Text(t) => format!("containing {t:?}"),
                    Pattern::Regex(r) => format!("matching /{r}/"),
                };
                let n = if *times == 1 {
                    "a line".to_string()
                } else {
                    format!("{times} lines")
                };
                write!(f, "{n} on {} {what}", stream.name())
            }
            WaitFor::Port(p) => write!(f, "port {p}/tcp listening in the container"),
            WaitFor::Http { path, port, status } => match port {
                Some(p) => write!(f, "HTTP {status} from GET {path} on port {p}"),
                None => write!(f, "HTTP {status} from GET {path}"),
            },
            WaitFor::Healthy => write!(f, "the healthcheck to pass"),
            WaitFor::Exit(Some(c)) => write!(f, "the container to exit with {c}"),
            WaitFor::Exit(None) => write!(f, "the container to exit"),
            WaitFor::Exec(cmd) => write!(f, "{cmd:?} to succeed in the container"),
            WaitFor::Duration(d) => write!(f, "{d:?} to pass"),
        }
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

    pub(crate) fn is_match(&self, line: &str) -> bool {
        match self {
            Matcher::Text(t) => line.contains(t.as_str()),
            Matcher::Regex(r) => r.is_match(line),
        }
    }
}

/// The TCP ports in LISTEN state in a /proc/net/tcp or tcp6 text.
pub(crate) fn listening_ports(text: &str) -> Vec<u16> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local = f.get(1)?;
            let state = f.get(3)?;
            if *state != "0A" {
                return None;
            }
            let port = local.rsplit_once(':')?.1;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

/// Whether a TCP socket listens on `port` in the network namespace of process `pid`.
pub(crate) fn listens_in(pid: i32, port: u16) -> bool {
    ["tcp", "tcp6"].iter().any(|f| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{f}"))
            .is_ok_and(|t| listening_ports(&t).contains(&port))
    })
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

/// The command a Docker `Healthcheck.Test` runs: `["CMD", args...]`,
/// `["CMD-SHELL", "cmd"]` (through `/bin/sh -c`); `None` for `["NONE"]` or an empty test.
pub fn healthcheck_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

/// The `config.Healthcheck.Test` of an image config blob (Docker's field, which OCI's
/// config type drops); empty when there is none.
pub(crate) fn healthcheck_test(config_blob: &[u8]) -> Vec<String> {
    serde_json::from_slice::<serde_json::Value>(config_blob)
        .ok()
        .and_then(|v| {
            let t = v.get("config")?.get("Healthcheck")?.get("Test")?.clone();
            serde_json::from_value(t).ok()
        })
        .unwrap_or_default()
}

/// A poll interval that starts at 1 ms and doubles to 20 ms: fast for a quick start,
/// cheap for a slow one.
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
        self.next = (self.next * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
           1: 0100007F:0035 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n";
        assert_eq!(listening_ports(text), vec![8080]);
        let tcp6 = "  sl  local_address                         remote_address                        st\n\
           0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0\n";
        assert_eq!(listening_ports(tcp6), vec![80]);
        assert!(listening_ports("header only\n").is_empty());
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status("HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status("HTTP/1.0 404 Not Found\r\nX: y"), Some(404));
        assert_eq!(parse_status("SSH-2.0\r\n"), None);
        assert_eq!(parse_status(""), None);
    }

    #[test]
    fn healthcheck_tests_become_commands() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            healthcheck_command(&v(&["CMD", "true"])),
            Some(v(&["true"]))
        );
        assert_eq!(
            healthcheck_command(&v(&["CMD-SHELL", "test -e /ok"])),
            Some(v(&["/bin/sh", "-c", "test -e /ok"]))
        );
        assert_eq!(healthcheck_command(&v(&["NONE"])), None);
        let blob = br#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","wget -q localhost"],"Interval":1000000000}}}"#;
        assert_eq!(
            healthcheck_test(blob),
            v(&["CMD-SHELL", "wget -q localhost"])
        );
        assert!(healthcheck_test(br#"{"config":{}}"#).is_empty());
        assert!(healthcheck_test(b"not json").is_empty());
        assert_eq!(healthcheck_command(&[]), None);
    }

    #[test]
    fn waits_describe_themselves() {
        assert_eq!(
            WaitFor::stdout("up").times(2).to_string(),
            "2 lines on stdout containing \"up\""
        );
        assert_eq!(
            WaitFor::http("/").on_port(80).to_string(),
            "HTTP 200 from GET / on port 80"
        );
        assert!(Matcher::new(&Pattern::Regex("(".into())).is_err());
        let m = Matcher::new(&Pattern::Regex(r"^port \d+$".into())).unwrap();
        assert!(m.is_match("port 80"));
        assert!(!m.is_match("port x"));
    }
}
