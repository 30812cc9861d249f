//! [`Container`]: a started fixture, with testcontainers' methods. Dropping it stops and
//! removes the container (unless it is kept for reuse).

use std::io::{BufRead, Read};
use std::sync::Mutex;
use std::time::Duration;

use tug::Engine;
use tug::container::ExecOptions;

use crate::error::{Error, Result};
use crate::exec::{ExecCommand, ExecResult};
use crate::image::{GenericImage, Image};
use crate::logs::{LogReader, LogSource, tail};
use crate::ports::{ContainerPort, Host, Ports};
use crate::wait::{CmdWaitFor, WaitFor};

mod ready;

/// How a started container is handled, beyond its record.
#[derive(Debug)]
pub(crate) struct Setup {
    /// The wait strategies and the time they may take, for [`Container::start`] too.
    pub(crate) ready: (Vec<WaitFor>, Duration),
    /// Kept (not removed) when dropped: a reusable container.
    pub(crate) keep: bool,
    /// A user network the testkit made, removed with the last container on it.
    pub(crate) network: Option<String>,
}

/// A running fixture. Dropped: stopped (SIGKILL) and removed with its anonymous
/// volumes; if the test process dies first, the container's shim removes it.
///
/// ```
/// use tug_testkit::{GenericImage, ImageExt, core::ExecCommand, runners::SyncRunner};
///
/// let c = GenericImage::new("busybox", "latest")
///     .with_cmd(["sleep", "60"])
///     .with_network("none")
///     .start()
///     .unwrap();
/// let mut out = c.exec(ExecCommand::new(["sh", "-c", "echo out; echo err >&2; exit 3"])).unwrap();
/// assert_eq!(out.exit_code().unwrap(), Some(3));
/// assert_eq!(out.stdout_to_vec().unwrap(), b"out\n");
/// assert_eq!(out.stderr, b"err\n");
/// c.pause().unwrap();
/// c.unpause().unwrap();
/// c.stop_with_timeout(Some(0)).unwrap();
/// assert_eq!(c.exit_code().unwrap(), Some(137));
/// c.start().unwrap();
/// assert!(c.exec(["true"]).unwrap().exit_code == 0);
/// c.rm().unwrap();
/// ```
#[derive(Debug)]
pub struct Container<I: Image = GenericImage> {
    engine: Engine,
    id: String,
    name: String,
    image: I,
    setup: Setup,
    /// The init's pid and the published ports since the last start.
    live: Mutex<Live>,
    removed: bool,
}

#[derive(Debug, Default, Clone)]
struct Live {
    pid: i32,
    ports: Ports,
}

impl<I: Image> Container<I> {
    pub(crate) fn new(
        engine: Engine,
        record: &tug::container::Container,
        image: I,
        setup: Setup,
    ) -> Container<I> {
        Container {
            id: record.id.to_string(),
            name: record.short_name().to_string(),
            engine,
            image,
            setup,
            live: Default::default(),
            removed: false,
        }
    }

    /// The container's id (64 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The image it was started from.
    pub fn image(&self) -> &I {
        &self.image
    }

    /// tug: the container's name (given, or generated as Docker does).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// tug: the engine the container runs on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The host to reach published ports on: they are published on 127.0.0.1 only.
    pub fn get_host(&self) -> Result<Host> {
        Ok(Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
    }

    /// The published ports (since the last start).
    pub fn ports(&self) -> Result<Ports> {
        Ok(self.live().ports)
    }

    /// The host port that `internal_port` (`8080.tcp()`, or a bare number for tcp) is
    /// published on.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use tug_testkit::{GenericImage, ImageExt, core::{IntoContainerPort, WaitFor}, runners::SyncRunner};
    ///
    /// let web = GenericImage::new("busybox", "latest")
    ///     .with_exposed_port(8080.tcp())
    ///     .with_wait_for(WaitFor::http("/"))
    ///     .with_cmd(["httpd", "-f", "-p", "8080", "-h", "/www"])
    ///     .with_copy_to("/www/index.html", b"hello".to_vec())
    ///     .start()
    ///     .unwrap();
    /// let port = web.get_host_port_ipv4(8080.tcp()).unwrap();
    /// let mut s = std::net::TcpStream::connect((web.get_host().unwrap().to_string(), port)).unwrap();
    /// s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    /// let mut resp = String::new();
    /// s.read_to_string(&mut resp).unwrap();
    /// assert!(resp.starts_with("HTTP/1.1 200") && resp.ends_with("hello"), "{resp}");
    /// ```
    pub fn get_host_port_ipv4(&self, internal_port: impl Into<ContainerPort>) -> Result<u16> {
        let port = internal_port.into();
        self.live()
            .ports
            .map_to_host_port_ipv4(port)
            .ok_or_else(|| Error::PortNotExposed {
                id: self.id.clone(),
                port,
            })
    }

    /// The IPv6 host port of `internal_port`: tug publishes on 127.0.0.1 only, so an
    /// error.
    pub fn get_host_port_ipv6(&self, internal_port: impl Into<ContainerPort>) -> Result<u16> {
        let port = internal_port.into();
        self.live()
            .ports
            .map_to_host_port_ipv6(port)
            .ok_or_else(|| Error::PortNotExposed {
                id: self.id.clone(),
                port,
            })
    }

    /// The container's address on the default bridge network.
    pub fn get_bridge_ip_address(&self) -> Result<std::net::IpAddr> {
        let ip = self.ip_address("bridge")?.ok_or_else(|| {
            Error::Invalid(format!(
                "container {} is not on the bridge network",
                self.name
            ))
        })?;
        ip.parse()
            .map_err(|_| Error::Invalid(format!("container {}: bad address {ip:?}", self.name)))
    }

    /// tug: the container's address on network `network` (while it runs).
    pub fn ip_address(&self, network: &str) -> Result<Option<String>> {
        let c = self.inspect()?;
        Ok(c.network_settings
            .networks
            .get(network)
            .map(|e| e.ip_address.clone())
            .filter(|a| !a.is_empty()))
    }

    /// tug: the container's process id on the host (0 when it does not run).
    pub fn pid(&self) -> i32 {
        self.live().pid
    }

    fn live(&self) -> Live {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// tug: the container as `tug inspect` shows it.
    pub fn inspect(&self) -> Result<tug::container::Container> {
        self.engine
            .container(&self.id)
            .map_err(|e| Error::engine(format!("inspecting container {}", self.name), e))
    }

    /// Runs a command in the container to its end: `c.exec(ExecCommand::new(["ls"]))`,
    /// or `c.exec(["ls"])`. Its [`CmdWaitFor`] is checked on the whole output and exit
    /// code; its container ready conditions are waited for after it.
    pub fn exec(&self, cmd: impl Into<ExecCommand>) -> Result<ExecResult> {
        let cmd = cmd.into();
        let opts = ExecOptions {
            command: cmd.cmd.clone(),
            env: cmd
                .env_vars
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            ..Default::default()
        };
        let out = self.exec_with(&opts)?;
        let failed = |why: String| Error::Exec {
            id: self.id.clone(),
            cmd: cmd.cmd.clone(),
            why,
        };
        match &cmd.cmd_ready_condition {
            Some(CmdWaitFor::StdOutMessage { message }) if !contains(&out.stdout, message) => {
                return Err(failed(format!(
                    "{:?} not on its stdout",
                    String::from_utf8_lossy(message)
                )));
            }
            Some(CmdWaitFor::StdErrMessage { message }) if !contains(&out.stderr, message) => {
                return Err(failed(format!(
                    "{:?} not on its stderr",
                    String::from_utf8_lossy(message)
                )));
            }
            Some(CmdWaitFor::Exit { code: Some(want) }) if i64::from(out.exit_code) != *want => {
                return Err(failed(format!("exited with {}, not {want}", out.exit_code)));
            }
            Some(CmdWaitFor::Duration { length }) => std::thread::sleep(*length),
            _ => {}
        }
        if !cmd.container_ready_conditions.is_empty() {
            let from = self.log_end();
            self.wait_ready(&cmd.container_ready_conditions, self.setup.ready.1, from)?;
        }
        Ok(out)
    }

    /// tug: [`Container::exec`] with the engine's options (env, user, working dir).
    pub fn exec_with(&self, opts: &ExecOptions) -> Result<ExecResult> {
        self.engine
            .exec_output(&self.id, opts)
            .map(ExecResult::from)
            .map_err(|e| Error::engine(format!("exec {:?} in {}", opts.command, self.name), e))
    }

    /// The stdout, from the first byte; with `follow`, read on as it comes until the
    /// container exits.
    ///
    /// ```
    /// use std::io::BufRead;
    /// use tug_testkit::{GenericImage, ImageExt, runners::SyncRunner};
    ///
    /// let c = GenericImage::new("busybox", "latest")
    ///     .with_cmd(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.01; done"])
    ///     .with_network("none")
    ///     .start()
    ///     .unwrap();
    /// let lines: Vec<String> = c.stdout(true).lines().map(Result::unwrap).collect();
    /// assert_eq!(lines, ["1", "2", "3"]);
    /// ```
    pub fn stdout(&self, follow: bool) -> Box<dyn BufRead + Send> {
        self.reader(LogSource::StdOut, follow)
    }

    /// The stderr, as [`Container::stdout`].
    pub fn stderr(&self, follow: bool) -> Box<dyn BufRead + Send> {
        self.reader(LogSource::StdErr, follow)
    }

    fn reader(&self, source: LogSource, follow: bool) -> Box<dyn BufRead + Send> {
        let follower = self.engine.follow_logs(&self.id, follow).ok();
        Box::new(LogReader::new(follower, source))
    }

    /// Everything the container wrote to stdout so far.
    pub fn stdout_to_vec(&self) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.stdout(false).read_to_end(&mut v)?;
        Ok(v)
    }

    /// Everything the container wrote to stderr so far.
    pub fn stderr_to_vec(&self) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.stderr(false).read_to_end(&mut v)?;
        Ok(v)
    }

    /// tug: [`Container::stdout_to_vec`] as text (invalid UTF-8 replaced).
    pub fn stdout_string(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.stdout_to_vec()?).into_owned())
    }

    /// tug: [`Container::stderr_to_vec`] as text (invalid UTF-8 replaced).
    pub fn stderr_string(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.stderr_to_vec()?).into_owned())
    }

    /// The last `n` log lines, for error messages.
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let entries: Vec<_> = self
            .engine
            .follow_logs(&self.id, false)
            .map(|f| f.collect())
            .unwrap_or_default();
        tail(&entries, n)
    }

    /// The position of the end of the log now: log waits of a new start read from here.
    fn log_end(&self) -> u64 {
        self.engine.log_cursor(&self.id, 0).map_or(0, |mut c| {
            c.read_new();
            c.position()
        })
    }

    /// Whether the container runs.
    pub fn is_running(&self) -> Result<bool> {
        let c = self.inspect()?;
        Ok(c.state.running)
    }

    /// The exit code once the container has exited; `None` while it runs.
    pub fn exit_code(&self) -> Result<Option<i64>> {
        let c = self.inspect()?;
        Ok((!c.state.running
            && !c.state.restarting
            && c.state.status != tug::container::Status::Created)
            .then_some(c.state.exit_code.into()))
    }

    /// Stops the container: SIGTERM (or the image's stop signal), SIGKILL after 10 s.
    pub fn stop(&self) -> Result<()> {
        self.stop_with_timeout(None)
    }

    /// Stops the container, with SIGKILL after `timeout_seconds` (default 10; negative:
    /// wait for ever).
    pub fn stop_with_timeout(&self, timeout_seconds: Option<i32>) -> Result<()> {
        let timeout = match timeout_seconds {
            None => Some(tug::container::DEFAULT_STOP_TIMEOUT),
            Some(s) if s < 0 => None,
            Some(s) => Some(Duration::from_secs(s as u64)),
        };
        self.engine
            .stop_container(&self.id, timeout, None)
            .map_err(|e| Error::engine(format!("stopping {}", self.name), e))?;
        Ok(())
    }

    /// Starts the stopped container again, and waits for it as the first start did.
    pub fn start(&self) -> Result<()> {
        // Log waits look at what this run writes, not at the earlier runs' lines.
        let from = self.log_end();
        self.start_process()?;
        self.wait_ready(&self.setup.ready.0, self.setup.ready.1, from)
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
        remove_with_volumes(&self.engine, &self.id)
            .map_err(|e| Error::engine(format!("removing {}", self.name), e))?;
        self.remove_network();
        Ok(())
    }

    /// Starts the container's process and records its pid and published ports.
    pub(crate) fn start_process(&self) -> Result<()> {
        self.engine
            .start_detached(&self.id)
            .map_err(|e| Error::engine(format!("starting {}", self.name), e))?;
        self.record_live()
    }

    /// Lets go of the container without removing it (a spare, put in the pool): its id.
    pub(crate) fn detach(mut self) -> String {
        self.removed = true;
        std::mem::take(&mut self.id)
    }

    /// Records the running container's pid and published ports.
    pub(crate) fn record_live(&self) -> Result<()> {
        let c = self.inspect()?;
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = Live {
            pid: c.state.pid,
            ports: Ports::from_published(&c.published_ports()),
        };
        Ok(())
    }

    /// Removes the network the testkit made for this container, unless others use it.
    fn remove_network(&self) {
        if let Some(n) = &self.setup.network {
            let _ = self.engine.remove_network(n);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

impl<I: Image> Drop for Container<I> {
    fn drop(&mut self) {
        if !self.removed && !self.setup.keep {
            let _ = remove_with_volumes(&self.engine, &self.id);
            self.remove_network();
        }
    }
}

/// Removes container `id` (force: a running one is killed) with its anonymous volumes
/// (an image's `VOLUME`s), as testcontainers does (`docker rm -fv`): a suite that starts
/// many fixtures leaves no volume behind.
pub(crate) fn remove_with_volumes(engine: &tug::Engine, id: &str) -> tug::Result<()> {
    let c = engine.remove_container(id, true)?;
    engine.remove_anonymous_volumes(&c.mounts)?;
    Ok(())
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
