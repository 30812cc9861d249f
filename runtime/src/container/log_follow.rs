//! A container's json-file log for library callers: a [`LogCursor`] that reads the
//! entries completed since its last read (never blocking: a wait loop polls it between
//! other checks), and a [`LogFollower`], an iterator of the entries that, when
//! following, waits for new ones until the container has exited.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use super::logs::LogEntry;
use crate::container::{Ctx, OwnedCtx};

impl Ctx<'_> {
    /// The work of `Engine::log_cursor`.
    pub(crate) fn log_cursor(&self, name: &str, from: u64) -> crate::container::Result<LogCursor> {
        let c = self.container(name)?;
        Ok(LogCursor::starting_at(self.log_file(&c.id), from))
    }

    /// The work of `Engine::follow_logs`.
    pub(crate) fn follow_logs(
        &self,
        name: &str,
        follow: bool,
    ) -> crate::container::Result<LogFollower> {
        let c = self.container(name)?;
        Ok(LogFollower {
            cursor: LogCursor::starting_at(self.log_file(&c.id), 0),
            pending: Default::default(),
            cx: self.owned(),
            id: c.id.into(),
            follow,
            done: false,
        })
    }

    /// The json-file log of container `id` (the record's `LogPath` once it started).
    fn log_file(&self, id: &str) -> PathBuf {
        self.container_store()
            .dir(id)
            .join(format!("{id}-json.log"))
    }
}

/// Reads a json-file log from where the last read ended: the entries of the lines
/// completed since. A log truncated or rotated under it is read again from its start.
#[derive(Debug)]
pub struct LogCursor {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogCursor {
    /// A cursor on the log at `path` that reads from byte `offset` (the start of a line).
    pub fn starting_at(path: PathBuf, offset: u64) -> LogCursor {
        LogCursor {
            path,
            offset,
            partial: Vec::new(),
        }
    }

    /// The byte just after the last whole line read.
    pub fn position(&self) -> u64 {
        self.offset - self.partial.len() as u64
    }

    /// The entries written since the last call (none when the log is not there yet).
    pub fn read_new(&mut self) -> Vec<LogEntry> {
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

/// A container's log entries as they come
/// ([`Engine::follow_logs`](crate::Engine::follow_logs)).
#[derive(Debug)]
pub struct LogFollower {
    cursor: LogCursor,
    pending: std::collections::VecDeque<LogEntry>,
    cx: OwnedCtx,
    id: String,
    follow: bool,
    done: bool,
}

impl Iterator for LogFollower {
    type Item = LogEntry;

    fn next(&mut self) -> Option<LogEntry> {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            // Checked before the read, so that what was written before an exit is read.
            let running = self.follow
                && self
                    .cx
                    .cx()
                    .container(&self.id)
                    .is_ok_and(|c| c.state.running || c.state.restarting);
            self.pending.extend(self.cursor.read_new());
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
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let line = |s: &str, t: &str| {
            format!("{{\"log\":\"{t}\\n\",\"stream\":\"{s}\",\"time\":\"2026-01-01T00:00:00Z\"}}\n")
        };
        std::fs::write(&p, line("stdout", "one")).unwrap();
        let mut c = LogCursor::starting_at(p.clone(), 0);
        let got = c.read_new();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].log, "one\n");
        let two = line("stderr", "two");
        let (a, b) = two.split_at(10);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(&mut f, a.as_bytes()).unwrap();
        assert!(c.read_new().is_empty());
        let at = c.position();
        std::io::Write::write_all(&mut f, b.as_bytes()).unwrap();
        let got = c.read_new();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].stream, "stderr");
        // A cursor from a position reads what came after it.
        let again = LogCursor::starting_at(p.clone(), at).read_new();
        assert_eq!(again, got);
        // Truncated: read again from the start.
        std::fs::write(&p, line("stdout", "new")).unwrap();
        assert_eq!(c.read_new()[0].log, "new\n");
    }
}
