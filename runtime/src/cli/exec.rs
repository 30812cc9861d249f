//! `tug exec` and `tug top`: a process run in a running container, and the container's
//! processes.

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;
use tug::container::{self, ExecOptions};

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from tug's environment)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The container's name or id
    pub container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    /// The container's name or id
    pub container: String,
    /// Options for ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

/// Docker's CLI exits 1 when the daemon refuses (no such container, not running).
fn daemon_error(e: tug::Error) -> CliError {
    let code = match &e {
        tug::Error::Container(container::Error::NotFound(_) | container::Error::Conflict(_)) => 1,
        other => other.exit_code(),
    };
    CliError {
        code,
        ..CliError::from(e)
    }
}

pub fn exec(engine: &Engine, a: ExecArgs) -> CliResult {
    // The container's shim runs the process (from its sealed binary): this one only
    // relays, and is never cloned.
    if a.tty
        && a.interactive
        && !a.detach
        && !nix::unistd::isatty(std::io::stdin()).unwrap_or(false)
    {
        return Err(CliError {
            code: 1,
            message: "the input device is not a TTY".into(),
        });
    }
    let env = super::container::env_from_flags(&a.env_file, &a.env)?;
    let detach_keys = super::container::detach_keys(a.detach_keys.as_deref())
        .map_err(super::container::daemon_side)?;
    let opts = ExecOptions {
        detach_keys,
        command: a.command,
        env,
        user: a.user,
        workdir: a.workdir,
        interactive: a.interactive,
        tty: a.tty,
        detach: a.detach,
        privileged: a.privileged,
        id: None,
        console_size: None,
    };
    engine
        .exec_container(&a.container, &opts)
        .map_err(daemon_error)
}

pub fn top(engine: &Engine, a: TopArgs) -> CliResult {
    use std::io::Write;
    // Every failure of top is the daemon's for Docker's CLI: exit 1.
    let top = engine
        .top(&a.container, &a.ps_options)
        .map_err(|e| CliError {
            code: 1,
            ..CliError::from(e)
        })?;
    // Docker's layout for top: Go's minwidth 20 counts the padding of 3.
    let mut tw = tabwriter::TabWriter::new(Vec::new())
        .minwidth(17)
        .padding(3);
    let io = CliError::output;
    writeln!(tw, "{}", top.titles.join("\t")).map_err(io)?;
    for p in &top.processes {
        writeln!(tw, "{}", p.join("\t")).map_err(io)?;
    }
    let bytes = tw
        .into_inner()
        .map_err(|e| CliError::other(format!("writing output: {e}")))?;
    std::io::stdout().write_all(&bytes).map_err(io)?;
    Ok(0)
}
