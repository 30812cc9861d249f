//! A container's output as testcontainers hands it out: readers of stdout or stderr
//! ([`crate::Container::stdout`], followed or not), frames for log consumers
//! ([`LogConsumer`]), all read through the engine ([`tug::Engine::follow_logs`]).

use std::io::{BufRead, Read};

use tug::container::LogEntry;
use tug::container::LogFollower;

/// Which of a container's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    StdOut,
    StdErr,
    /// Either of them.
    BothStd,
}

impl LogSource {
    pub(crate) fn matches(self, stream: &str) -> bool {
        match self {
            LogSource::StdOut => stream == "stdout",
            LogSource::StdErr => stream == "stderr",
            LogSource::BothStd => true,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            LogSource::StdOut => "stdout",
            LogSource::StdErr => "stderr",
            LogSource::BothStd => "stdout or stderr",
        }
    }
}

/// One piece of a container's output, for a [`LogConsumer`]: a line with its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFrame {
    StdOut(Vec<u8>),
    StdErr(Vec<u8>),
}

impl LogFrame {
    pub fn source(&self) -> LogSource {
        match self {
            LogFrame::StdOut(_) => LogSource::StdOut,
            LogFrame::StdErr(_) => LogSource::StdErr,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            LogFrame::StdOut(b) | LogFrame::StdErr(b) => b,
        }
    }

    fn of(e: LogEntry) -> LogFrame {
        if e.stream == "stderr" {
            LogFrame::StdErr(e.log.into_bytes())
        } else {
            LogFrame::StdOut(e.log.into_bytes())
        }
    }
}

/// Receives every frame a container writes, from its start until it exits
/// ([`crate::ImageExt::with_log_consumer`]); a closure `Fn(&LogFrame)` is one. Called on
/// a thread of the testkit's.
pub trait LogConsumer: Send + Sync {
    fn accept(&self, record: &LogFrame);
}

impl<F: Fn(&LogFrame) + Send + Sync> LogConsumer for F {
    fn accept(&self, record: &LogFrame) {
        self(record)
    }
}

/// Feeds `follower`'s entries to `consumers` until the container exits.
pub(crate) fn feed(follower: LogFollower, consumers: Vec<std::sync::Arc<dyn LogConsumer>>) {
    for e in follower {
        let frame = LogFrame::of(e);
        for c in &consumers {
            c.accept(&frame);
        }
    }
}

/// One stream of a container's output as bytes ([`crate::Container::stdout`]).
pub(crate) struct LogReader {
    follower: Option<LogFollower>,
    source: LogSource,
    buf: Vec<u8>,
    pos: usize,
}

impl LogReader {
    /// A reader of `source` from `follower`; `None`: nothing to read (a failed lookup).
    pub(crate) fn new(follower: Option<LogFollower>, source: LogSource) -> LogReader {
        LogReader {
            follower,
            source,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for LogReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(out.len());
            out[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for LogReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.pos == self.buf.len() {
            let Some(f) = self.follower.as_mut() else {
                break;
            };
            match f.find(|e| self.source.matches(&e.stream)) {
                Some(e) => {
                    self.buf = e.log.into_bytes();
                    self.pos = 0;
                }
                None => self.follower = None,
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

/// The last `n` entries, each as `stream: text`, for error messages.
pub(crate) fn tail(entries: &[LogEntry], n: usize) -> String {
    let skip = entries.len().saturating_sub(n);
    entries[skip..]
        .iter()
        .map(|e| format!("{}: {}", e.stream, e.log.trim_end_matches('\n')))
        .collect::<Vec<_>>()
        .join("\n")
}
