//! A container's output as the testkit reads it: its json-file log (the record's
//! `LogPath`), read incrementally, whole lines only, and followed as a stream.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use tug::container::LogEntry;

/// Which of a container's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
    /// Either of them.
    Both,
}

impl Stream {
    pub(crate) fn matches(self, stream: &str) -> bool {
        match self {
            Stream::Stdout => stream == "stdout",
            Stream::Stderr => stream == "stderr",
            Stream::Both => true,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
            Stream::Both => "stdout or stderr",
        }
    }
}

/// Reads a json-file log from where the last read ended: the entries of the lines
/// completed since.
#[derive(Debug)]
pub(crate) struct LogCursor {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogCursor {
    pub(crate) fn new(path: PathBuf) -> LogCursor {
        LogCursor::starting_at(path, 0)
    }

    /// A cursor that reads from byte `offset` (the start of a line) on.
    pub(crate) fn starting_at(path: PathBuf, offset: u64) -> LogCursor {
        LogCursor {
            path,
            offset,
            partial: Vec::new(),
        }
    }

    /// The entries written since the last call (none when the log is not there yet).
    pub(crate) fn read_new(&mut self) -> Vec<LogEntry> {
        let Ok(mut f) = File::open(&self.path) else {
            return Vec::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Rotated or truncated: start over on the new file.
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset || f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        let Ok(n) = f.read_to_end(&mut buf) else {
            return Vec::new();
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        whole
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect()
    }
}

/// The text of `entries` of `stream`, in order.
pub(crate) fn text_of(entries: &[LogEntry], stream: Stream) -> Vec<u8> {
    entries
        .iter()
        .filter(|e| stream.matches(&e.stream))
        .flat_map(|e| e.log.bytes())
        .collect()
}

/// The last `n` lines of `entries`, each as `stream: text`, for error messages.
pub(crate) fn tail(entries: &[LogEntry], n: usize) -> String {
    let skip = entries.len().saturating_sub(n);
    entries[skip..]
        .iter()
        .map(|e| format!("{}: {}", e.stream, e.log.trim_end_matches('\n')))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A container's output lines as they come ([`crate::Container::stdout_stream`]):
/// each line with its newline; the iterator ends once the container has exited and
/// every line was read.
pub struct LogStream {
    cursor: LogCursor,
    stream: Stream,
    pending: std::collections::VecDeque<String>,
    running: Box<dyn FnMut() -> bool + Send>,
    done: bool,
}

impl LogStream {
    pub(crate) fn new(
        path: PathBuf,
        stream: Stream,
        running: Box<dyn FnMut() -> bool + Send>,
    ) -> LogStream {
        LogStream {
            cursor: LogCursor::new(path),
            stream,
            pending: Default::default(),
            running,
            done: false,
        }
    }
}

impl Iterator for LogStream {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(l) = self.pending.pop_front() {
                return Some(l);
            }
            if self.done {
                return None;
            }
            // Checked before the read, so that lines written before the exit are read.
            let running = (self.running)();
            let stream = self.stream;
            self.pending.extend(
                self.cursor
                    .read_new()
                    .into_iter()
                    .filter(|e| stream.matches(&e.stream))
                    .map(|e| e.log),
            );
            if !running {
                self.done = true;
                continue;
            }
            if self.pending.is_empty() {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_reads_whole_lines_once() {
        let dir = std::env::temp_dir().join(format!("tug-testkit-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("log");
        let line = |s: &str, t: &str| {
            format!("{{\"log\":\"{t}\\n\",\"stream\":\"{s}\",\"time\":\"2026-01-01T00:00:00Z\"}}\n")
        };
        std::fs::write(&p, line("stdout", "one")).unwrap();
        let mut c = LogCursor::new(p.clone());
        let got = c.read_new();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].log, "one\n");
        let two = line("stderr", "two");
        let (a, b) = two.split_at(10);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(&mut f, a.as_bytes()).unwrap();
        assert!(c.read_new().is_empty());
        std::io::Write::write_all(&mut f, b.as_bytes()).unwrap();
        let got = c.read_new();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].stream, "stderr");
        assert_eq!(text_of(&got, Stream::Stdout), b"");
        assert_eq!(text_of(&got, Stream::Stderr), b"two\n");
        assert_eq!(tail(&got, 5), "stderr: two");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
