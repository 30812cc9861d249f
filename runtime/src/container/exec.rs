//! `exec`: runs a new process in a running container, with the container's environment,
//! user, working dir, capabilities and no_new_privs, as Docker does; the sandbox joins
//! the init's namespaces and cgroups.

use super::Error;
use super::exec_relay;
use super::options::{merge_env, process_env};
use super::record::Container;
use crate::Engine;
use crate::sandbox::{self, Stdio, enter::EnterConfig};

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
}

impl Engine {
    /// `tug exec`: runs `opts.command` in the running container `name` and returns its
    /// exit code (0 at once with `detach`). The command's own failures map to Docker's
    /// codes: 127 not found, 126 not executable.
    pub fn exec_container(&self, name: &str, opts: &ExecOptions) -> crate::Result<i32> {
        if opts.command.is_empty() {
            return Err(Error::Invalid("no command specified".into()).into());
        }
        if !crate::sandbox::exeseal::exe_is_protected() {
            return Err(Error::Unsupported(
                "exec needs a sealed binary: the exec'd process would run from this process's writable binary (use Engine::exec_output, or re-execute with sandbox::exeseal::reexec_sealed)".into(),
            )
            .into());
        }
        let c = self.running_container(name)?;
        if c.state.paused {
            return Err(Error::Conflict(format!(
                "container {} is paused, unpause the container before exec",
                c.id
            ))
            .into());
        }
        let config = self.enter_config(&c, opts)?;
        // Signals are blocked before the clone so that none is lost.
        let mut signals = sandbox::signals::SignalReader::new()
            .map_err(|e| Error::Sys("blocking signals".into(), e.into()))?;
        let mut sb = sandbox::enter::enter(&config)?;
        let master = sb.take_pty_master();
        let pipes = sb.take_pipes();
        if let Some(m) = &master {
            sandbox::tty::copy_window_size(std::os::fd::AsFd::as_fd(m));
        }
        let raw = (opts.tty && opts.interactive && !opts.detach)
            .then(sandbox::tty::RawModeGuard::stdin)
            .flatten();
        sb.start()?;
        if opts.detach {
            sb.detach_exec();
            return Ok(0);
        }
        let code = exec_relay::supervise(&mut sb, master, pipes, &mut signals, opts.interactive);
        drop(raw);
        code
    }

    /// The container `name`, if its init runs (Docker's errors otherwise).
    pub(super) fn running_container(&self, name: &str) -> crate::Result<Container> {
        let c = self.container(name)?;
        if c.state.restarting {
            return Err(Error::Conflict(format!(
                "container {} is restarting, wait until the container is running",
                c.id
            ))
            .into());
        }
        if !c.state.running || c.state.pid <= 0 {
            return Err(Error::Conflict(format!("container {} is not running", c.id)).into());
        }
        Ok(c)
    }

    /// The exec'd process as Docker makes it: the container's process (capabilities,
    /// no_new_privs) with the exec's command, environment, working dir and user.
    fn enter_config(&self, c: &Container, opts: &ExecOptions) -> crate::Result<EnterConfig> {
        let spec = self.container_store().load_spec(&c.id)?;
        let mut process = spec.process().clone().ok_or_else(|| {
            Error::Invalid(format!("container {}: the spec has no process", c.id))
        })?;
        let env = merge_env(
            &process_env(&c.config.hostname, opts.tty, &c.config.env),
            &opts.env,
        );
        let cwd = opts
            .workdir
            .clone()
            .or_else(|| Some(c.config.working_dir.clone()))
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        if !cwd.starts_with('/') {
            return Err(Error::Invalid(format!(
                "the working directory '{cwd}' is invalid, it needs to be an absolute path"
            ))
            .into());
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
        Ok(EnterConfig {
            init_pid: c.state.pid,
            process,
            user,
            stdio: if opts.tty {
                Stdio::Tty
            } else {
                Stdio::Inherit {
                    stdin: opts.interactive,
                }
            },
            detach: opts.detach,
            seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
        })
    }
}

/// What an exec with captured output ([`Engine::exec_output`]) gives back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// The process's exit code (Docker's: 126 not executable, 127 not found, 128+n
    /// killed by signal n).
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Engine {
    /// Runs `opts.command` in the running container `name` with its stdout and stderr
    /// captured (no stdin, no tty). It runs as `tug exec` in a child process, because the
    /// exec clones the caller, which is unsafe in a multi-threaded library caller (a test
    /// binary) and would share the caller's stdio.
    pub fn exec_output(&self, name: &str, opts: &ExecOptions) -> crate::Result<ExecOutput> {
        if opts.command.is_empty() {
            return Err(Error::Invalid("no command specified".into()).into());
        }
        // Docker's errors (no such container, not running) from here, not from the child.
        let c = self.running_container(name)?;
        let bin = crate::shim::tug_binary(self);
        let sealed = crate::sandbox::exeseal::seal(&bin, self.run_root()).map_err(|e| {
            Error::Sys(
                format!("sealing {}", bin.display()),
                std::io::Error::other(e),
            )
        })?;
        let mut cmd = crate::sandbox::exeseal::sealed_command(&sealed);
        // The child `tug` works with this engine's settings, not the caller's environment.
        cmd.arg("exec")
            .envs(self.config().to_env())
            .stdin(std::process::Stdio::null());
        for e in &opts.env {
            cmd.arg("--env").arg(e);
        }
        if let Some(u) = &opts.user {
            cmd.arg("--user").arg(u);
        }
        if let Some(w) = &opts.workdir {
            cmd.arg("--workdir").arg(w);
        }
        cmd.arg(c.id.as_str()).args(&opts.command);
        let out = cmd
            .output()
            .map_err(|e| Error::Sys(format!("running {} exec", bin.display()), e))?;
        let exit_code = match out.status.code() {
            Some(code) => code,
            None => {
                return Err(Error::Start(
                    125,
                    format!("{} exec was killed: {}", bin.display(), out.status),
                )
                .into());
            }
        };
        Ok(ExecOutput {
            exit_code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
