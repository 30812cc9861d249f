//! `exec`: runs a new process in a running container, with the container's environment,
//! user, working dir, capabilities and no_new_privs, as Docker does. The container's shim
//! runs it (see `shim::exec`): this side makes the request from the container's spec,
//! sends it over the shim's socket, and relays or captures what comes back. The caller
//! is never cloned, so any process may exec, a multi-threaded one (a test binary, an API
//! server) too, and nothing of the caller (its fds, binary, environment) reaches the
//! container.

use std::os::unix::net::UnixStream;

use super::Error;
use super::attach::{self, AttachOptions};
use super::options::{merge_env, process_env};
use super::record::Container;
use crate::container::Ctx;
use crate::shim::{self, proto};

/// What `tug exec` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `KEY=VALUE` pairs (already resolved from `-e KEY` and `--env-file`), over the
    /// container's environment.
    pub env: Vec<String>,
    /// `-u`: the container's user when `None`.
    pub user: Option<String>,
    /// `-w`: the container's working dir when `None`.
    pub workdir: Option<String>,
    /// `-i`: forward the caller's stdin.
    pub interactive: bool,
    /// `-t`: a pty made in the container's devpts.
    pub tty: bool,
    /// `-d`: return once the process runs; it goes on without the caller.
    pub detach: bool,
    /// `--privileged`: every capability for this process (the container's seccomp
    /// profile still applies, as with Docker).
    pub privileged: bool,
    /// `--detach-keys` of an `-it` exec (`None`: Ctrl-P Ctrl-Q).
    pub detach_keys: Option<super::DetachKeys>,
    /// The exec's id in `tug events` (`execID`); `None`: a new one. The API server
    /// passes the id its client knows.
    pub id: Option<String>,
    /// With `tty`: the terminal's first size (rows, columns), as the API's
    /// `ConsoleSize`; `None`: the caller's own terminal's, when it has one.
    pub console_size: Option<(u16, u16)>,
}

impl Ctx<'_> {
    /// The work of `Engine::exec_container`.
    pub(crate) fn exec_container(
        &self,
        name: &str,
        opts: &ExecOptions,
    ) -> crate::container::Result<i32> {
        let (c, sock) = self.exec_start(name, opts, true)?;
        if opts.detach {
            return Ok(0);
        }
        let relay = AttachOptions {
            stdin: opts.interactive,
            sig_proxy: true,
            detach_keys: opts.detach_keys.clone(),
            ..Default::default()
        };
        attach::relay(sock, relay, opts.tty).map_err(|e| exited_shim(e, &c))
    }

    /// Asks the shim of `name` to run `opts.command`, and waits until it runs. `window`:
    /// pass the caller's terminal size (with `-t`).
    pub(super) fn exec_start(
        &self,
        name: &str,
        opts: &ExecOptions,
        window: bool,
    ) -> crate::container::Result<(Container, UnixStream)> {
        if opts.command.is_empty() {
            return Err(Error::Invalid("no command specified".into()));
        }
        let c = self.running_container(name)?;
        if c.state.paused {
            return Err(Error::Conflict(format!(
                "container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        let mut request = self.exec_request(&c, opts)?;
        if opts.tty {
            request.window = opts
                .console_size
                .or_else(|| window.then(attach::window_size).flatten());
        }
        // Docker's exec events: `exec_create: CMD ARGS` here, then `exec_start` and
        // `exec_die` from the shim (so that they are in order however short the exec).
        let id_attr = [("execID", request.exec_id.clone())];
        let create = format!("exec_create: {}", opts.command.join(" "));
        super::journal::emit(self.root(), &c, &create, &id_attr);
        let payload = serde_json::to_vec(&request)
            .map_err(|e| Error::Invalid(format!("the exec request: {e}")))?;
        let mut sock = shim::connect(self.run_root(), &c.id)
            .map_err(|_| Error::Conflict(format!("container {} is not running", c.id)))?;
        let talk = |e| Error::Sys("talking to the container's shim".into(), e);
        proto::write_frame(&mut sock, proto::EXEC, &payload).map_err(talk)?;
        match proto::read_frame(&mut sock).map_err(talk)? {
            Some((proto::STARTED, _)) => Ok((c, sock)),
            Some((proto::FAILED, p)) => Err(Error::Start(
                proto::payload_i32(&p),
                String::from_utf8_lossy(p.get(4..).unwrap_or_default()).into_owned(),
            )),
            _ => Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            ))),
        }
    }

    /// The container `name`, if its init runs (Docker's errors otherwise).
    pub(super) fn running_container(&self, name: &str) -> crate::container::Result<Container> {
        let c = self.container(name)?;
        if c.state.restarting {
            return Err(Error::Conflict(format!(
                "container {} is restarting, wait until the container is running",
                c.id
            )));
        }
        if !c.state.running || c.state.pid <= 0 {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        Ok(c)
    }

    /// The exec'd process as Docker makes it: the container's process (capabilities,
    /// no_new_privs, seccomp) with the exec's command, environment, working dir and user.
    pub(super) fn exec_request(
        &self,
        c: &Container,
        opts: &ExecOptions,
    ) -> crate::container::Result<proto::ExecRequest> {
        let spec = self.container_store().load_spec(&c.id)?;
        let mut process = spec.process().clone().ok_or_else(|| {
            Error::Invalid(format!("container {}: the spec has no process", c.id))
        })?;
        // The init's environment is the defaults, the links' variables (Docker gives
        // them to execs too) and the config's: the links' are what the others leave.
        let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
        let own: Vec<String> = c.config.env.iter().map(key).collect();
        let links: Vec<String> = process
            .env()
            .iter()
            .flatten()
            .filter(|e| {
                let k = key(e);
                !["PATH", "HOSTNAME", "TERM"].contains(&k.as_str()) && !own.contains(&k)
            })
            .cloned()
            .collect();
        // A bare `KEY` of the exec's unsets KEY, as the container's own do.
        let env: Vec<String> = merge_env(
            &process_env(&c.config.hostname, opts.tty, &links, &c.config.env),
            &opts.env,
        )
        .into_iter()
        .filter(|e| e.contains('='))
        .collect();
        let cwd = opts
            .workdir
            .clone()
            .or_else(|| Some(c.config.working_dir.clone()))
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        if !cwd.starts_with('/') {
            return Err(Error::Invalid(format!(
                "the working directory '{cwd}' is invalid, it needs to be an absolute path"
            )));
        }
        process.set_args(Some(opts.command.clone()));
        process.set_env(Some(env));
        process.set_cwd(cwd.into());
        process.set_terminal(Some(opts.tty));
        if opts.privileged {
            let all: oci_spec::runtime::Capabilities =
                super::security::all_capabilities().into_iter().collect();
            let mut caps = process.capabilities().clone().unwrap_or_default();
            caps.set_bounding(Some(all.clone()));
            caps.set_effective(Some(all.clone()));
            caps.set_permitted(Some(all));
            process.set_capabilities(Some(caps));
        }
        let user = opts.user.clone().unwrap_or_else(|| c.config.user.clone());
        Ok(proto::ExecRequest {
            process,
            user,
            tty: opts.tty,
            stdin: opts.interactive,
            detach: opts.detach,
            seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
            window: None,
            group_add: c.host_config.group_add.clone().unwrap_or_default(),
            exec_id: opts.id.clone().unwrap_or_else(new_exec_id),
        })
    }
}

/// 64 random hex digits, as Docker's exec ids.
fn new_exec_id() -> String {
    let mut b = [0u8; 32];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What an exec with captured output
/// ([`Engine::exec_output`](crate::Engine::exec_output)) gives back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// The process's exit code (Docker's: 126 not executable, 127 not found, 128+n
    /// killed by signal n).
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Ctx<'_> {
    /// The work of `Engine::exec_output`.
    pub(crate) fn exec_output(
        &self,
        name: &str,
        opts: &ExecOptions,
    ) -> crate::container::Result<ExecOutput> {
        let opts = ExecOptions {
            interactive: false,
            tty: false,
            detach: false,
            ..opts.clone()
        };
        let mut out = ExecOutput::default();
        let (c, mut sock) = match self.exec_start(name, &opts, false) {
            Ok(started) => started,
            // The command could not run (126, 127): its exit code and why, on stderr, as
            // Docker's exec reports it.
            Err(Error::Start(code @ (126 | 127), msg)) => {
                out.exit_code = code;
                out.stderr = format!("{msg}\n").into_bytes();
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        loop {
            let frame = proto::read_frame(&mut sock)
                .map_err(|e| Error::Sys("reading from the container's shim".into(), e))?;
            match frame {
                Some((proto::STDOUT, p)) => out.stdout.extend_from_slice(&p),
                Some((proto::STDERR, p)) => out.stderr.extend_from_slice(&p),
                Some((proto::EXIT, p)) => {
                    out.exit_code = proto::payload_i32(&p);
                    return Ok(out);
                }
                Some(_) => {}
                None => return Err(exited_shim_error(&c)),
            }
        }
    }
}

/// The shim went away during an exec (killed: the container went with it).
fn exited_shim_error(c: &Container) -> Error {
    Error::Start(
        125,
        format!(
            "the shim of container {} exited before the exec'd process",
            c.short_name()
        ),
    )
}

/// A relay's error, named for the exec when the shim went away.
fn exited_shim(e: Error, c: &Container) -> Error {
    match e {
        Error::Start(125, _) => exited_shim_error(c),
        other => other,
    }
}
