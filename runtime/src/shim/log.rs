//! The container log as Docker's json-file driver writes it: one JSON object per line
//! (`{"log":"text\n","stream":"stdout","time":"RFC 3339 nanos"}`), rotated at a size bound
//! into `<log>.1`, `<log>.2`… (`--log-opt max-size`, `max-file`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use crate::InvalidValue;

/// Docker's json-file splits a line longer than this into several entries.
const MAX_LINE: usize = 16 * 1024;

/// Which stream a log entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The size bound of a log: rotate past `max_size` bytes (0: never), keep `max_files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_size: u64,
    pub max_files: u32,
}

impl Rotation {
    /// From `--log-opt` pairs (`max-size=10m`, `max-file=3`); Docker's defaults: no bound.
    pub fn from_opts<'a>(
        opts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Rotation, InvalidValue> {
        let mut r = Rotation {
            max_size: 0,
            max_files: 1,
        };
        for (k, v) in opts {
            match k {
                "max-size" => r.max_size = parse_size(v)?,
                "max-file" => {
                    r.max_files = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        InvalidValue::new(
                            v,
                            format!("--log-opt max-file={v}: must be a number ≥ 1"),
                        )
                    })?
                }
                // The attributes each entry carries (`logs --details`): the shim reads
                // them from the container's labels and environment.
                "labels" | "env" => {}
                other => {
                    return Err(InvalidValue::new(
                        other,
                        format!("--log-opt {other}: unknown log option for json-file"),
                    ));
                }
            }
        }
        if r.max_files > 1 && r.max_size == 0 {
            return Err(InvalidValue::new(
                format!("max-file={}", r.max_files),
                "--log-opt max-file needs max-size",
            ));
        }
        Ok(r)
    }
}

/// A size like Docker's `10m`, `512k`, `1g`, `100` (bytes; binary units).
pub fn parse_size(v: &str) -> Result<u64, InvalidValue> {
    let t = v.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mul) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'm')) => (&t[..i], 1 << 20),
        Some((i, 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0)
        .map(|n| (n * mul as f64) as u64)
        .ok_or_else(|| InvalidValue::new(v, format!("invalid size {v:?}: use e.g. 10m")))
}

/// One entry as written (field order as Docker's).
#[derive(serde::Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    attrs: &'a std::collections::BTreeMap<String, String>,
    time: &'a str,
}

/// The log writer of one container.
pub struct LogWriter {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    rotation: Rotation,
    /// The unfinished line of each stream.
    partial: [Vec<u8>; 2],
    /// The attributes every entry carries (`--log-opt labels=...,env=...`).
    attrs: std::collections::BTreeMap<String, String>,
}

impl LogWriter {
    /// Opens (appending to) the log at `path`.
    pub fn open(path: PathBuf, rotation: Rotation) -> LogWriter {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok();
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map(|m| m.len())
            .unwrap_or(0);
        LogWriter {
            path,
            file,
            size,
            rotation,
            partial: [Vec::new(), Vec::new()],
            attrs: Default::default(),
        }
    }

    /// Every entry carries `attrs` (shown by `logs --details`).
    pub fn with_attrs(mut self, attrs: std::collections::BTreeMap<String, String>) -> LogWriter {
        self.attrs = attrs;
        self
    }

    /// Logs output of `stream`: every complete line becomes an entry.
    pub fn write(&mut self, stream: Stream, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[stream as usize]);
            line.extend_from_slice(&data[..=i]);
            self.entry(stream, &line);
            data = &data[i + 1..];
        }
        let p = &mut self.partial[stream as usize];
        p.extend_from_slice(data);
        if p.len() >= MAX_LINE {
            let line = std::mem::take(p);
            self.entry(stream, &line);
        }
    }

    /// Writes out unfinished lines (at the container's exit).
    pub fn flush(&mut self) {
        for s in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut self.partial[s as usize]);
            if !line.is_empty() {
                self.entry(s, &line);
            }
        }
    }

    fn entry(&mut self, stream: Stream, line: &[u8]) {
        let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
        let text = String::from_utf8_lossy(line);
        let e = Entry {
            log: &text,
            stream: stream.name(),
            attrs: &self.attrs,
            time: &time,
        };
        let Ok(mut json) = serde_json::to_vec(&e) else {
            return;
        };
        json.push(b'\n');
        if self.rotation.max_size > 0 && self.size + json.len() as u64 > self.rotation.max_size {
            self.rotate();
        }
        if let Some(f) = &mut self.file
            && f.write_all(&json).is_ok()
        {
            self.size += json.len() as u64;
        }
    }

    /// `log` → `log.1` → `log.2`…, dropping the oldest; or truncating with one file.
    fn rotate(&mut self) {
        let n = self.rotation.max_files;
        let name = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        if n > 1 {
            for i in (1..n - 1).rev() {
                let _ = std::fs::rename(name(i), name(i + 1));
            }
            let _ = std::fs::rename(&self.path, name(1));
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .ok();
        self.size = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_json_entries_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let r = Rotation::from_opts([("max-size", "400"), ("max-file", "3")]).unwrap();
        let mut w = LogWriter::open(p.clone(), r);
        w.write(Stream::Stdout, b"hel");
        w.write(Stream::Stderr, b"oops\n");
        w.write(Stream::Stdout, b"lo\nworld");
        w.flush();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["log"], "oops\n");
        assert_eq!(lines[0]["stream"], "stderr");
        assert_eq!(lines[1]["log"], "hello\n");
        assert_eq!(lines[2]["log"], "world");
        for _ in 0..20 {
            w.write(Stream::Stdout, b"a line of text\n");
        }
        assert!(std::fs::metadata(&p).unwrap().len() <= 400);
        assert!(dir.path().join("c-json.log.1").exists());
        assert!(dir.path().join("c-json.log.2").exists());
        assert!(!dir.path().join("c-json.log.3").exists());
    }

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("x").is_err());
        assert!(Rotation::from_opts([("max-file", "3")]).is_err());
        assert!(Rotation::from_opts([("nope", "1")]).is_err());
    }
}
