//! [`Container`]: a started fixture. Dropping it stops and removes the container.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tug::Engine;
use tug::container::{ExecOptions, ExecOutput};

use crate::error::{Error, Result};
mod ready;

use crate::logs::{LogCursor, LogStream, Stream, tail, text_of};
use crate::wait::WaitFor;

/// What [`Container::exec`] gives back.
pub type ExecResult = ExecOutput;

/// A running fixture. Dropped: stopped (SIGKILL) and removed with its anonymous
/// volumes; if the test process dies first, the container's shim removes it.
///
/// ```
/// use tug_testkit::{GenericImage, ImageExt};
///
/// let c = GenericImage::new("busybox", "latest")
///     .with_cmd(["sleep", "60"])
///     .with_network("none")
///     .start()
///     .unwrap();
/// let out = c.exec(["sh", "-c", "echo out; echo err >&2; exit 3"]).unwrap();
/// assert_eq!((out.exit_code, &out.stdout[..], &out.stderr[..]), (3, &b"out\n"[..], &b"err\n"[..]));
/// c.pause().unwrap();
/// c.unpause().unwrap();
/// c.stop_with_timeout(std::time::Duration::ZERO).unwrap();
/// assert_eq!(c.exit_code().unwrap(), Some(137));
/// c.start().unwrap();
/// assert!(c.exec(["true"]).unwrap().exit_code == 0);
/// c.rm().unwrap();
/// ```
#[derive(Debug)]
pub struct Container {
    engine: Engine,
    id: String,
    name: String,
    log_path: PathBuf,
    healthcheck: Option<Vec<String>>,
    /// The wait strategies and the time they may take, for [`Container::start`] too.
    ready: (Vec<WaitFor>, Duration),
    /// The init's pid and the published ports (container port → host port) since the
    /// last start.
    live: std::sync::Mutex<Live>,
    removed: bool,
}

#[derive(Debug, Default, Clone)]
struct Live {
    pid: i32,
    ports: BTreeMap<u16, u16>,
}

impl Container {
    pub(crate) fn new(
        engine: Engine,
        record: &tug::container::Container,
        healthcheck: Option<Vec<String>>,
        ready: (Vec<WaitFor>, Duration),
    ) -> Container {
        Container {
            id: record.id.to_string(),
            name: record.short_name().to_string(),
            // The record's LogPath is set at the first start; the file is always here.
            log_path: engine
                .container_store()
                .dir(&record.id)
                .join(format!("{}-json.log", record.id)),
            engine,
            healthcheck,
            ready,
            live: Default::default(),
            removed: false,
        }
    }

    /// The container's id (64 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container's name (given, or generated as Docker does).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The engine the container runs on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The host to reach published ports on: ports are published on 127.0.0.1 only.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The host port that container port `port` (tcp) is published on.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use tug_testkit::{GenericImage, ImageExt, WaitFor};
    ///
    /// let web = GenericImage::new("busybox", "latest")
    ///     .with_cmd(["httpd", "-f", "-p", "8080", "-h", "/www"])
    ///     .with_copy_to("/www/index.html", b"hello".to_vec())
    ///     .with_exposed_port(8080)
    ///     .with_wait_for(WaitFor::http("/"))
    ///     .start()
    ///     .unwrap();
    /// let port = web.host_port(8080).unwrap();
    /// let mut s = std::net::TcpStream::connect((web.host(), port)).unwrap();
    /// s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    /// let mut resp = String::new();
    /// s.read_to_string(&mut resp).unwrap();
    /// assert!(resp.starts_with("HTTP/1.1 200") && resp.ends_with("hello"), "{resp}");
    /// ```
    pub fn host_port(&self, port: u16) -> Result<u16> {
        self.live()
            .ports
            .get(&port)
            .copied()
            .ok_or_else(|| Error::PortNotPublished {
                id: self.id.clone(),
                port,
            })
    }

    /// testcontainers' name for [`Container::host_port`].
    pub fn get_host_port_ipv4(&self, port: u16) -> Result<u16> {
        self.host_port(port)
    }

    /// The container's address on network `network` (while it runs).
    pub fn ip_address(&self, network: &str) -> Result<Option<String>> {
        let c = self.inspect()?;
        Ok(c.network_settings
            .networks
            .get(network)
            .map(|e| e.ip_address.clone())
            .filter(|a| !a.is_empty()))
    }

    /// The container's process id on the host (0 when it does not run).
    pub fn pid(&self) -> i32 {
        self.live().pid
    }

    fn live(&self) -> Live {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The container as `tug inspect` shows it.
    pub fn inspect(&self) -> Result<tug::container::Container> {
        self.engine
            .container(&self.id)
            .map_err(|e| Error::engine(format!("inspecting container {}", self.name), e))
    }

    /// Runs `cmd` in the container and returns its exit code, stdout and stderr.
    pub fn exec<S: Into<String>>(&self, cmd: impl IntoIterator<Item = S>) -> Result<ExecResult> {
        let opts = ExecOptions {
            command: cmd.into_iter().map(Into::into).collect(),
            ..Default::default()
        };
        self.exec_with(&opts)
    }

    /// [`Container::exec`] with the engine's options (env, user, working dir).
    pub fn exec_with(&self, opts: &ExecOptions) -> Result<ExecResult> {
        self.engine
            .exec_output(&self.id, opts)
            .map_err(|e| Error::engine(format!("exec {:?} in {}", opts.command, self.name), e))
    }

    /// Everything the container wrote to stdout so far.
    pub fn stdout(&self) -> Result<Vec<u8>> {
        Ok(text_of(&self.log_entries(), Stream::Stdout))
    }

    /// Everything the container wrote to stderr so far.
    pub fn stderr(&self) -> Result<Vec<u8>> {
        Ok(text_of(&self.log_entries(), Stream::Stderr))
    }

    /// [`Container::stdout`] as text (invalid UTF-8 replaced).
    pub fn stdout_string(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.stdout()?).into_owned())
    }

    /// [`Container::stderr`] as text (invalid UTF-8 replaced).
    pub fn stderr_string(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.stderr()?).into_owned())
    }

    /// The stdout lines, from the first, as they come; the iterator ends once the
    /// container has exited.
    ///
    /// ```
    /// use tug_testkit::{GenericImage, ImageExt};
    ///
    /// let c = GenericImage::new("busybox", "latest")
    ///     .with_cmd(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.01; done"])
    ///     .with_network("none")
    ///     .start()
    ///     .unwrap();
    /// let lines: Vec<String> = c.stdout_stream().collect();
    /// assert_eq!(lines, ["1\n", "2\n", "3\n"]);
    /// ```
    pub fn stdout_stream(&self) -> LogStream {
        self.stream(Stream::Stdout)
    }

    /// The stderr lines, as [`Container::stdout_stream`].
    pub fn stderr_stream(&self) -> LogStream {
        self.stream(Stream::Stderr)
    }

    fn stream(&self, s: Stream) -> LogStream {
        let engine = self.engine.clone();
        let id = self.id.clone();
        let running = move || {
            engine
                .container(&id)
                .is_ok_and(|c| c.state.running || c.state.restarting)
        };
        LogStream::new(self.log_path.clone(), s, Box::new(running))
    }

    fn log_entries(&self) -> Vec<tug::container::LogEntry> {
        LogCursor::new(self.log_path.clone()).read_new()
    }

    /// The last `n` log lines, for error messages.
    pub(crate) fn log_tail(&self, n: usize) -> String {
        tail(&self.log_entries(), n)
    }

    /// The exit code once the container has exited; `None` while it runs.
    pub fn exit_code(&self) -> Result<Option<i32>> {
        let c = self.inspect()?;
        Ok((!c.state.running
            && !c.state.restarting
            && c.state.status != tug::container::Status::Created)
            .then_some(c.state.exit_code))
    }

    /// Stops the container: SIGTERM (or the image's stop signal), SIGKILL after 10 s.
    pub fn stop(&self) -> Result<()> {
        self.stop_with_timeout(tug::container::DEFAULT_STOP_TIMEOUT)
    }

    /// Stops the container, with SIGKILL after `timeout`.
    pub fn stop_with_timeout(&self, timeout: Duration) -> Result<()> {
        self.engine
            .stop_container(&self.id, Some(timeout), None)
            .map_err(|e| Error::engine(format!("stopping {}", self.name), e))?;
        Ok(())
    }

    /// Starts the stopped container again, and waits for it as the first start did.
    pub fn start(&self) -> Result<()> {
        // Log waits look at what this run writes, not at the earlier runs' lines.
        let from = std::fs::metadata(&self.log_path).map_or(0, |m| m.len());
        self.start_process()?;
        self.wait_ready(&self.ready.0, self.ready.1, from)
    }

    /// Freezes every process of the container.
    pub fn pause(&self) -> Result<()> {
        self.engine
            .pause_container(&self.id)
            .map_err(|e| Error::engine(format!("pausing {}", self.name), e))?;
        Ok(())
    }

    /// Thaws a paused container.
    pub fn unpause(&self) -> Result<()> {
        self.engine
            .unpause_container(&self.id)
            .map_err(|e| Error::engine(format!("unpausing {}", self.name), e))?;
        Ok(())
    }

    /// Removes the container now (force: a running one is killed), with the errors that
    /// a drop would swallow.
    pub fn rm(mut self) -> Result<()> {
        self.removed = true;
        self.engine
            .remove_container(&self.id, true)
            .map_err(|e| Error::engine(format!("removing {}", self.name), e))?;
        Ok(())
    }

    /// Starts the container's process and records its pid and published ports.
    pub(crate) fn start_process(&self) -> Result<()> {
        let c = self
            .engine
            .start_detached(&self.id)
            .map_err(|e| Error::engine(format!("starting {}", self.name), e))?;
        // The record returned is from before the start: read it again.
        let c = match self.engine.container(&c.id) {
            Ok(c) => c,
            Err(e) => return Err(Error::engine(format!("inspecting {}", self.name), e)),
        };
        let mut ports = BTreeMap::new();
        for (key, bindings) in &c.network_settings.ports {
            let Some((port, proto)) = key.split_once('/').or(Some((key.as_str(), "tcp"))) else {
                continue;
            };
            let (Ok(port), "tcp") = (port.parse::<u16>(), proto) else {
                continue;
            };
            if let Some(hp) = bindings
                .iter()
                .flatten()
                .find_map(|b| b.host_port.parse::<u16>().ok())
            {
                ports.insert(port, hp);
            }
        }
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = Live {
            pid: c.state.pid,
            ports,
        };
        Ok(())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.engine.remove_container(&self.id, true);
        }
    }
}

#[cfg(test)]
mod tests {
    /// Handles move to and are shared between test threads.
    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Container>();
        check::<crate::Network>();
        check::<crate::Tug>();
    }
}
