//! `tug logs`: reads a container's json-file log (and its rotated files, oldest first),
//! with `--tail`, `--since`, `--until` and `-f`, which follows new lines until the
//! container exits.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::Error;
use crate::container::Ctx;
use crate::shim::{self, proto};

/// What `logs` shows.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub follow: bool,
    /// The last N lines only (`--tail N`); `None`: all.
    pub tail: Option<usize>,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LogEntry {
    /// The text, with its newline.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 with nanoseconds.
    pub time: String,
    /// The attributes the log driver was told to add (`--log-opt labels=`, `env=`).
    #[serde(default)]
    pub attrs: std::collections::BTreeMap<String, String>,
}

impl LogEntry {
    /// What `logs --details` puts before the text (with a space after it): the
    /// attributes as `k=v,k=v`, each part query-escaped, as Docker writes them.
    pub fn details(&self) -> String {
        let attrs: Vec<String> = self
            .attrs
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect();
        attrs.join(",")
    }

    fn at(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339_weak(&self.time).ok()
    }
}

/// Parses a time as Docker's `--since`/`--until` take it: RFC 3339 (a date, a date and
/// time with or without zone: UTC), Unix seconds (`1700000000[.nanos]`), or a duration
/// before `now` (`10m`, `1h30m`, `2.5s`).
pub fn parse_time(s: &str, now: SystemTime) -> Result<SystemTime, crate::InvalidValue> {
    let bad = || {
        crate::InvalidValue::new(
            s,
            format!("invalid time {s:?}: use RFC 3339, Unix seconds, or a duration like 10m"),
        )
    };
    if let Ok(d) = parse_go_duration(s) {
        return now.checked_sub(d).ok_or_else(bad);
    }
    if let Some((secs, frac)) = s.split_once('.').or(Some((s, "")))
        && !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        let secs: u64 = secs.parse().map_err(|_| bad())?;
        let nanos: u32 = format!("{frac:0<9}")[..9].parse().map_err(|_| bad())?;
        return Ok(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos));
    }
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    humantime::parse_rfc3339_weak(&full)
        .or_else(|_| humantime::parse_rfc3339(&full))
        .map_err(|_| bad())
}

/// A Go duration: `300ms`, `10m`, `1h30m`, `1.5h`.
fn parse_go_duration(s: &str) -> Result<Duration, ()> {
    if s.is_empty() {
        return Err(());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or(())?;
        let num: f64 = rest[..n].parse().map_err(|_| ())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mul = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(()),
        };
        total += num * mul;
        rest = &rest[u..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// The log files of a container, oldest first.
fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for i in (1..100).rev() {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{i}"));
        let p = PathBuf::from(p);
        if p.exists() {
            out.push(p);
        }
    }
    out.push(path.to_path_buf());
    out
}

fn parse_line(line: &str) -> Option<LogEntry> {
    serde_json::from_str(line.trim_end_matches('\n')).ok()
}

impl Ctx<'_> {
    /// The work of `Engine::container_logs`.
    pub(crate) fn container_logs(
        &self,
        name: &str,
        opts: &LogsOptions,
        sink: &mut dyn FnMut(&LogEntry),
    ) -> crate::container::Result<()> {
        let c = self.container(name)?;
        if c.host_config.log_config.kind == "none" {
            return Err(Error::Invalid(
                "configured logging driver does not support reading".into(),
            ));
        }
        let path = self
            .container_store()
            .dir(&c.id)
            .join(format!("{}-json.log", c.id));
        // Connected before reading, so that no exit between the read and the follow is
        // missed.
        let watch = (opts.follow && (c.state.running || c.state.restarting))
            .then(|| shim::connect(self.run_root(), &c.id).ok())
            .flatten();
        let keep = |e: &LogEntry| {
            let t = e.at();
            opts.since.is_none_or(|s| t.is_some_and(|t| t >= s))
                && opts.until.is_none_or(|u| t.is_some_and(|t| t <= u))
        };
        let mut entries = Vec::new();
        // How far the current file was read, and which file it was.
        let mut read_to = (0u64, 0u64);
        for f in log_files(&path) {
            let Ok(file) = File::open(&f) else {
                continue;
            };
            let ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(file), &mut text);
            // Only whole lines: a partial one is read again when following.
            let whole = text.rfind('\n').map_or(0, |i| i + 1);
            read_to = (ino, whole as u64);
            entries.extend(
                text[..whole]
                    .lines()
                    .filter_map(parse_line)
                    .filter(|e| keep(e)),
            );
        }
        let skip = opts.tail.map_or(0, |n| entries.len().saturating_sub(n));
        for e in &entries[skip..] {
            sink(e);
        }
        let Some(sock) = watch else { return Ok(()) };
        // Follow: new complete lines of the current file; a rotation reopens it.
        let (mut reader, mut ino) = open_at(&path, read_to)?;
        let mut line = String::new();
        let mut done = false;
        loop {
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) if !line.ends_with('\n') => {
                        // A partial line: read it again when it is complete.
                        let back = -(line.len() as i64);
                        let _ = reader.seek_relative(back);
                        break;
                    }
                    Ok(_) => {
                        if let Some(e) = parse_line(&line)
                            && keep(&e)
                        {
                            sink(&e);
                        }
                    }
                    Err(e) => return Err(Error::io(&path, e)),
                }
            }
            let now_ino = std::fs::metadata(&path).map(|m| m.ino()).unwrap_or(ino);
            if now_ino != ino {
                let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
                ino = now_ino;
                reader = BufReader::new(f);
                continue;
            }
            if done || opts.until.is_some_and(|u| SystemTime::now() > u) {
                return Ok(());
            }
            let mut fds = [PollFd::new(
                std::os::fd::AsFd::as_fd(&sock),
                PollFlags::POLLIN,
            )];
            if let Ok(n) = poll(&mut fds, PollTimeout::from(100u8))
                && n > 0
            {
                let mut s = &sock;
                match proto::read_frame(&mut s) {
                    Ok(Some((proto::EXIT, _))) | Ok(None) | Err(_) => done = true,
                    Ok(Some(_)) => {}
                }
            }
        }
    }
}

/// The log at `path` opened where the first read ended (`(inode, offset)`; from the
/// start if it was rotated since), and its inode.
fn open_at(path: &Path, (read_ino, offset): (u64, u64)) -> Result<(BufReader<File>, u64), Error> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let ino = f.metadata().map_err(|e| Error::io(path, e))?.ino();
    if ino == read_ino {
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(path, e))?;
    }
    Ok((BufReader::new(f), ino))
}

/// Go's `url.QueryEscape`: unreserved bytes as they are, space as `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_dockers_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_time("10m", now).unwrap(),
            now - Duration::from_secs(600)
        );
        assert_eq!(
            parse_time("1h30m", now).unwrap(),
            now - Duration::from_secs(5400)
        );
        assert_eq!(
            parse_time("1699999999", now).unwrap(),
            now - Duration::from_secs(1)
        );
        assert_eq!(
            parse_time("1699999999.5", now).unwrap(),
            now - Duration::from_millis(500)
        );
        assert_eq!(parse_time("2023-11-14T22:13:20Z", now).unwrap(), now);
        assert_eq!(
            parse_time("2023-11-14T22:13:20.000000000Z", now).unwrap(),
            now
        );
        assert!(parse_time("2023-11-14", now).is_ok());
        assert!(parse_time("yesterday", now).is_err());
    }
}
