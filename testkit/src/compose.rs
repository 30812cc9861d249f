//! [`Compose`]: a whole compose project for a test (testcontainers' `ComposeContainer`),
//! brought up under a unique project name through the engine's `compose_up`, and down
//! with its volumes on drop, or, when the test binary is killed, by a reaper process
//! that waits for the test process to end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tug::Engine;
use tug::compose::{DownOptions, UpOptions};
use tug::compose::{LoadOptions, Project, load as load_project};
use tug::container::{ExecOptions, HealthStatus, LogsOptions};

use crate::client::Tug;
use crate::error::{Error, Result};
use crate::exec::ExecResult;
use crate::wait::{self, Backoff, Matcher, WaitFor};

/// A compose project for a test: its files read as `tug compose` (and `docker compose`)
/// reads them, brought up by [`ComposeRequest::up`] under a unique project name
/// (`tugtest-<hex>`), so that tests running at once never share containers, networks or
/// volumes. Dropped: taken down with its volumes (`down -v`). A test binary killed by
/// SIGKILL (a timeout, a CI cancel) leaves nothing either: `up` starts a reaper (the `tug`
/// binary, `tug compose reap`) that takes the project down once the test process is gone.
///
/// ```
/// use tug_testkit::{Compose, core::WaitFor};
///
/// // The testkit's own tests/compose/docker-compose.yml: `web` (busybox httpd, port 80
/// // published) counts its visits in `kv`, a redis-like store with a healthcheck.
/// let project = Compose::new(["tests/compose/docker-compose.yml"])
///     .with_env("GREETING", "hello")
///     .with_wait("kv", WaitFor::healthcheck())
///     .with_wait("web", WaitFor::port(80))
///     .up()
///     .unwrap();
/// let port = project.service_host_port("web", 80).unwrap();
/// assert!(port > 0);
/// let out = project.exec("kv", ["sh", "-c", "echo PING | nc 127.0.0.1 6379"]).unwrap();
/// assert_eq!((out.exit_code, out.stdout.as_slice()), (0, &b"+PONG\n"[..]));
/// assert!(project.logs("kv").unwrap().contains("kv ready"));
/// // Dropped: down -v.
/// ```
#[derive(Debug)]
pub struct Compose {
    engine: Engine,
    project: Project,
    reaper: Option<Child>,
    down: bool,
}

/// The request: files, variables and wait strategies, for [`ComposeRequest::up`].
#[derive(Debug, Clone)]
pub struct ComposeRequest {
    files: Vec<PathBuf>,
    env: BTreeMap<String, String>,
    waits: Vec<(String, WaitFor)>,
    timeout: Duration,
    build: bool,
}

impl Compose {
    /// A request for the project of `files` (`docker-compose.yml`, then overrides, merged
    /// by compose's rules). A relative path is taken from the calling crate's dir
    /// (`CARGO_MANIFEST_DIR`, as cargo sets it for tests; else the current dir).
    #[allow(clippy::new_ret_no_self)]
    pub fn new<P: Into<PathBuf>>(files: impl IntoIterator<Item = P>) -> ComposeRequest {
        ComposeRequest {
            files: files.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            waits: Vec::new(),
            timeout: crate::DEFAULT_STARTUP_TIMEOUT,
            build: false,
        }
    }
}

impl ComposeRequest {
    /// Sets variable `key` for the files' `${KEY}` interpolation (over the process
    /// environment and the project's `.env`).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Waits, after `up`, for `service`'s containers (every replica) to satisfy `wait`:
    /// [`WaitFor::healthcheck`] (the shim's health state), [`WaitFor::message_on_stdout`]
    /// and the other log waits, [`WaitFor::port`] (a listener inside the container),
    /// [`WaitFor::exec`], [`WaitFor::http`] (on a published port), durations. Several
    /// waits of one service are checked in order. Services without a wait are waited
    /// for as `up --wait` does: running, and healthy when they have a healthcheck.
    pub fn with_wait(mut self, service: impl Into<String>, wait: WaitFor) -> Self {
        self.waits.push((service.into(), wait));
        self
    }

    /// The time `up` may take, waits included (default: the testkit's startup timeout).
    pub fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the services' images even when they are there (`up --build`).
    pub fn with_build(mut self, build: bool) -> Self {
        self.build = build;
        self
    }

    /// Brings the project up on [`Tug::shared`].
    pub fn up(self) -> Result<Compose> {
        self.up_on(Tug::shared()?)
    }

    /// Brings the project up on `tug`'s engine: under a unique project name, with its
    /// reaper started first, then the waits.
    pub fn up_on(self, tug: &Tug) -> Result<Compose> {
        let base = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let files: Vec<PathBuf> = self.files.iter().map(|f| base.join(f)).collect();
        let name = unique_name()?;
        let mut environ: BTreeMap<String, String> = std::env::vars().collect();
        environ.extend(self.env.clone());
        let project = load_project(&LoadOptions {
            files: files.clone(),
            project_name: Some(name.clone()),
            project_dir: None,
            env_files: Vec::new(),
            profiles: Vec::new(),
            environ,
            cwd: base,
        })
        .map_err(|e| Error::Invalid(tug::report(&e)))?;
        for (service, _) in &self.waits {
            if !project.services.contains_key(service) {
                return Err(Error::Invalid(format!(
                    "with_wait({service:?}): no such service in {}",
                    show(&files)
                )));
            }
        }
        // busybox, the base of the images tests build, made from the host's when missing.
        tug.prepare_image("busybox")?;
        for s in project.services.values() {
            if let Some(img) = &s.image
                && s.build.is_none()
            {
                tug.prepare_image(img)?;
            }
        }
        let engine = tug.engine().clone();
        let reaper = spawn_reaper(tug, &name)?;
        let c = Compose {
            engine,
            project,
            reaper: Some(reaper),
            down: false,
        };
        let deadline = Instant::now() + self.timeout;
        let o = UpOptions {
            build: self.build,
            wait: true,
            wait_timeout: Some(self.timeout),
            ..Default::default()
        };
        // Images built for the project, one process at a time (the testkit's build lock):
        // tests that run at once build each image once, from the cache.
        if c.project.services.values().any(|s| s.build.is_some()) {
            let _lock = tug.build_lock()?;
            for (s, svc) in &c.project.services {
                if svc.build.is_some() {
                    c.engine
                        .compose_ensure_image(&c.project, s, &o, &tug::compose::quiet)
                        .map_err(|e| Error::engine(format!("building service {s}"), e))?;
                }
            }
        }
        let all = c
            .engine
            .compose_up(&c.project, &o, &tug::compose::quiet)
            .map_err(|e| Error::engine(format!("compose up of {}", show(&files)), e))?;
        for (service, w) in &self.waits {
            for (_, n) in all.iter().filter(|(s, _)| s == service) {
                c.wait(n, w, deadline)?;
            }
        }
        Ok(c)
    }
}

impl Compose {
    /// The project's name (`tugtest-<hex>`): what `tug compose -p NAME ps` shows.
    pub fn project_name(&self) -> &str {
        &self.project.name
    }

    /// The project as loaded (services, networks, volumes).
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The container name of replica 1 of `service` (`<project>-<service>-1`).
    pub fn container_name(&self, service: &str) -> Result<String> {
        self.replica(service).map(|m| m.name().to_string())
    }

    fn replica(&self, service: &str) -> Result<tug::compose::ComposeMember> {
        self.engine
            .compose_replica(&self.project.name, service, 1)
            .map_err(|e| Error::engine(format!("service {service}"), e))
    }

    /// The host port (on 127.0.0.1) that `service`'s `container_port` is published on
    /// (replica 1's), as `tug compose port SERVICE PORT` prints it.
    pub fn service_host_port(&self, service: &str, container_port: u16) -> Result<u16> {
        let m = self.replica(service)?;
        let ports = self
            .engine
            .published_ports(m.name())
            .map_err(|e| Error::engine(format!("ports of {}", m.name()), e))?;
        ports
            .iter()
            .find(|p| p.container_port == container_port)
            .map(|p| p.host_port)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "service {service}: port {container_port} is not published (give it under ports: in the compose file)"
                ))
            })
    }

    /// Runs `cmd` in `service`'s container (replica 1) and returns its output and exit
    /// code, as `tug compose exec -T SERVICE CMD...` does.
    pub fn exec<S: Into<String>>(
        &self,
        service: &str,
        cmd: impl IntoIterator<Item = S>,
    ) -> Result<ExecResult> {
        let m = self.replica(service)?;
        let opts = ExecOptions {
            command: cmd.into_iter().map(Into::into).collect(),
            ..Default::default()
        };
        self.engine
            .exec_output(m.name(), &opts)
            .map(ExecResult::from)
            .map_err(|e| Error::engine(format!("exec {:?} in {}", opts.command, m.name()), e))
    }

    /// Everything `service`'s containers wrote so far (stdout and stderr, in order),
    /// replica after replica.
    pub fn logs(&self, service: &str) -> Result<String> {
        let ms = self
            .engine
            .compose_members_of(&self.project.name, &[service.to_string()], false)
            .map_err(|e| Error::engine(format!("service {service}"), e))?;
        if ms.is_empty() {
            return Err(Error::Invalid(format!("service {service}: no container")));
        }
        let mut out = String::new();
        for m in ms {
            self.engine
                .container_logs(m.name(), &LogsOptions::default(), &mut |e| {
                    out.push_str(&e.log)
                })
                .map_err(|e| Error::engine(format!("logs of {}", m.name()), e))?;
        }
        Ok(out)
    }

    /// Takes the project down now (`down -v`), with the error a drop would swallow.
    pub fn down(mut self) -> Result<()> {
        self.take_down()
    }

    fn take_down(&mut self) -> Result<()> {
        if self.down {
            return Ok(());
        }
        self.down = true;
        // The images built for services without an `image:` are named after the project,
        // so this test's own: removed too.
        let o = DownOptions {
            volumes: true,
            remove_orphans: true,
            timeout: Some(0),
            rmi: Some("local".into()),
        };
        let r = self
            .engine
            .compose_down(
                &self.project.name,
                Some(&self.project),
                &o,
                &tug::compose::quiet,
            )
            .map_err(|e| Error::engine(format!("compose down of {}", self.project.name), e));
        // The reaper, no longer needed: the child this process started.
        if let Some(mut r) = self.reaper.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        r
    }

    /// Waits for container `name` to satisfy `w`, until `deadline`.
    fn wait(&self, name: &str, w: &WaitFor, deadline: Instant) -> Result<()> {
        let began = Instant::now();
        let matcher = match w {
            WaitFor::Log(l) => Some((Matcher::new(&l.pattern)?, l.source, l.times)),
            _ => None,
        };
        let sleep_until = match w {
            WaitFor::Duration { length } => Some(began + *length),
            _ => None,
        };
        let mut probe = match w {
            WaitFor::Port(_) => self.engine.port_probe(name).ok(),
            _ => None,
        };
        let mut backoff = Backoff::new();
        let eng = |e| Error::engine(format!("waiting for {name}"), e);
        loop {
            let state = self.engine.container(name).map_err(eng)?.state;
            let running = state.running && !state.paused;
            let ready = match w {
                WaitFor::Nothing => true,
                WaitFor::Log(_) => {
                    let (m, source, times) = matcher.as_ref().expect("a log wait's matcher");
                    let mut found = 0;
                    self.engine
                        .container_logs(name, &LogsOptions::default(), &mut |e| {
                            if source.matches(&e.stream) && m.is_match(&e.log) {
                                found += 1;
                            }
                        })
                        .map_err(eng)?;
                    found >= *times
                }
                WaitFor::Port(p) => running && probe.as_mut().is_some_and(|l| l.listens(*p)),
                WaitFor::Healthcheck(_) => match state.health.as_ref().map(|h| h.status) {
                    Some(HealthStatus::Healthy) => running,
                    Some(HealthStatus::Unhealthy) if running => {
                        return Err(Error::Invalid(format!(
                            "{w}: container {name} is unhealthy"
                        )));
                    }
                    Some(_) => false,
                    None => {
                        return Err(Error::Invalid(format!(
                            "{w}: container {name} has no healthcheck: give its service one"
                        )));
                    }
                },
                WaitFor::Exec(cmd) => {
                    let opts = ExecOptions {
                        command: cmd.clone(),
                        ..Default::default()
                    };
                    running
                        && self
                            .engine
                            .exec_output(name, &opts)
                            .is_ok_and(|o| o.exit_code == 0)
                }
                WaitFor::Http(h) => {
                    let port = h.port.map(|p| p.as_u16()).or_else(|| {
                        self.engine
                            .published_ports(name)
                            .ok()
                            .and_then(|p| p.first().map(|p| p.container_port))
                    });
                    let host = port.and_then(|cp| {
                        self.engine.published_ports(name).ok().and_then(|ps| {
                            ps.iter()
                                .find(|p| p.container_port == cp)
                                .map(|p| p.host_port)
                        })
                    });
                    running
                        && host.is_some_and(|hp| {
                            wait::http_status(hp, &h.path, Duration::from_secs(1)) == Some(h.status)
                        })
                }
                WaitFor::Exit(e) => {
                    !state.running
                        && !state.restarting
                        && e.code.is_none_or(|c| c == i64::from(state.exit_code))
                }
                WaitFor::Duration { .. } => sleep_until.is_some_and(|t| Instant::now() >= t),
            };
            if ready {
                return Ok(());
            }
            if !state.running && !state.restarting && !matches!(w, WaitFor::Exit(_)) {
                return Err(Error::Exited {
                    id: name.to_string(),
                    condition: w.to_string(),
                    code: state.exit_code,
                    reason: state.error.clone(),
                    logs: String::new(),
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::WaitTimeout {
                    id: name.to_string(),
                    condition: w.to_string(),
                    after: began.elapsed(),
                    logs: String::new(),
                });
            }
            backoff.pause(deadline);
        }
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let _ = self.take_down();
    }
}

/// `tugtest-` and 12 random hex digits.
fn unique_name() -> Result<String> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| Error::Setup(format!("random project name: {e}")))?;
    Ok(format!(
        "tugtest-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Starts `tug compose -p NAME reap --owner-pid <this process>` on `tug`'s roots, in a
/// process group of its own (so that a signal to the test's group spares it) and with
/// no stdio of the test's (so that the test harness does not wait for it).
fn spawn_reaper(tug: &Tug, name: &str) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(tug.tug_binary());
    cmd.args(["compose", "-p", name, "reap", "--owner-pid"])
        .arg(std::process::id().to_string())
        .envs(tug.engine().config().to_env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    cmd.spawn().map_err(|e| {
        Error::Io(
            format!("starting the reaper {}", tug.tug_binary().display()),
            e,
        )
    })
}

fn show(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
