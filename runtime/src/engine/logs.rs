//! A container's logs on the [`Engine`]: read once (`tug logs`), a cursor that reads what
//! came since, and a following iterator.

use crate::Engine;
use crate::container::{LogCursor, LogEntry, LogFollower, LogsOptions};

impl Engine {
    /// Emits container `name`'s log entries to `sink`, as `opts` says. With `follow`, it
    /// returns once the container exited (or was never running).
    pub fn container_logs(
        &self,
        name: &str,
        opts: &LogsOptions,
        sink: &mut dyn FnMut(&LogEntry),
    ) -> crate::Result<()> {
        Ok(self.cx().container_logs(name, opts, sink)?)
    }

    /// A cursor on container `name`'s log from byte `from` (0: the start; a value of
    /// [`LogCursor::position`]: what came after it).
    pub fn log_cursor(&self, name: &str, from: u64) -> crate::Result<LogCursor> {
        Ok(self.cx().log_cursor(name, from)?)
    }

    /// A watch that wakes as container `id`'s shim writes its log or its state (an
    /// inotify fd to poll, or to register in an event loop); `None` where inotify is
    /// unavailable, or the container is gone, and the caller polls.
    pub fn log_watch(&self, id: &str) -> Option<crate::container::StateWatch> {
        let id = self.container_store().resolve(id).ok()?;
        crate::container::StateWatch::with_writes(&self.container_store().dir(&id))
    }

    /// Container `name`'s log entries from the first, as an iterator. With `follow`, it
    /// waits for new entries while the container runs (or restarts) and ends once it
    /// has exited and every entry was read; without, it ends at the end of the log.
    pub fn follow_logs(&self, name: &str, follow: bool) -> crate::Result<LogFollower> {
        Ok(self.cx().follow_logs(name, follow)?)
    }
}
