//! [`ExecCommand`]: a command to run in a started container, and [`ExecResult`], what it
//! gave back, with testcontainers' names. The command runs to its end through the engine
//! ([`tug::Engine::exec_output`]) before [`crate::Container::exec`] returns.

use std::io::BufRead;

use crate::error::Result;
use crate::wait::{CmdWaitFor, WaitFor};

/// A command to run in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecCommand {
    pub(crate) cmd: Vec<String>,
    pub(crate) cmd_ready_condition: Option<CmdWaitFor>,
    pub(crate) container_ready_conditions: Vec<WaitFor>,
    pub(crate) env_vars: Vec<(String, String)>,
}

impl ExecCommand {
    /// The command and its arguments.
    pub fn new(cmd: impl IntoIterator<Item = impl Into<String>>) -> ExecCommand {
        ExecCommand {
            cmd: cmd.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// What the container must reach after the command (checked as a start's waits).
    pub fn with_container_ready_conditions(mut self, conditions: Vec<WaitFor>) -> ExecCommand {
        self.container_ready_conditions = conditions;
        self
    }

    /// What the command must do: print a message, exit with a code.
    pub fn with_cmd_ready_condition(mut self, condition: impl Into<CmdWaitFor>) -> ExecCommand {
        self.cmd_ready_condition = Some(condition.into());
        self
    }

    /// Environment variables of the command, over the container's.
    pub fn with_env_vars(
        mut self,
        env_vars: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> ExecCommand {
        self.env_vars
            .extend(env_vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }
}

/// `c.exec(["echo", "hi"])` reads as `c.exec(ExecCommand::new(["echo", "hi"]))`.
impl<S: Into<String>, const N: usize> From<[S; N]> for ExecCommand {
    fn from(cmd: [S; N]) -> ExecCommand {
        ExecCommand::new(cmd)
    }
}

impl<S: Into<String>> From<Vec<S>> for ExecCommand {
    fn from(cmd: Vec<S>) -> ExecCommand {
        ExecCommand::new(cmd)
    }
}

/// What an exec gave back: its exit code and its whole stdout and stderr (as fields, and
/// through testcontainers' methods).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecResult {
    /// Docker's code: 126 not executable, 127 not found, 128+n killed by signal n.
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecResult {
    /// The exit code (the command has always ended: never `None`).
    pub fn exit_code(&self) -> Result<Option<i64>> {
        Ok(Some(self.exit_code.into()))
    }

    pub fn stdout(&mut self) -> Box<dyn BufRead + Send + '_> {
        Box::new(self.stdout.as_slice())
    }

    pub fn stderr(&mut self) -> Box<dyn BufRead + Send + '_> {
        Box::new(self.stderr.as_slice())
    }

    pub fn stdout_to_vec(&mut self) -> Result<Vec<u8>> {
        Ok(self.stdout.clone())
    }

    pub fn stderr_to_vec(&mut self) -> Result<Vec<u8>> {
        Ok(self.stderr.clone())
    }
}

impl From<tug::container::ExecOutput> for ExecResult {
    fn from(o: tug::container::ExecOutput) -> ExecResult {
        ExecResult {
            exit_code: o.exit_code,
            stdout: o.stdout,
            stderr: o.stderr,
        }
    }
}
