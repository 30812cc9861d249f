//! `tug compose` (and `tug-compose`, for scripts written for docker-compose v1): the
//! compose model of `tug::compose` run through the Engine's `compose_*` methods
//! (`engine/compose.rs`: dependency order, convergence, waiting, down, the reaper). This
//! face parses the arguments and prints.

mod cmds;
mod manage;
mod up;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, CliResult};
use tug::Engine;
pub use tug::compose::ComposeMember as Member;
use tug::compose::{self, Project};
use tug::compose::{ComposeEvent, stop_how};

/// Compose's global flags.
#[derive(Args, Debug, Clone, Default)]
pub struct ProjectFlags {
    /// Compose configuration files
    #[arg(short = 'f', long = "file")]
    pub file: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Specify an alternate working directory (default: the path of the first file)
    #[arg(long)]
    pub project_directory: Option<PathBuf>,
    /// Specify an alternate environment file
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Specify a profile to enable
    #[arg(long)]
    pub profile: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ComposeArgs {
    #[command(flatten)]
    pub flags: ProjectFlags,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

#[derive(Subcommand, Debug)]
pub enum ComposeCommand {
    /// Parse, resolve and render the compose file in canonical format
    #[command(visible_alias = "convert")]
    Config(cmds::ConfigArgs),
    /// Create and start containers
    Up(up::UpArgs),
    /// Stop and remove containers, networks
    Down(up::DownArgs),
    /// List containers
    Ps(cmds::PsArgs),
    /// View output from containers
    Logs(cmds::LogsArgs),
    /// Execute a command in a running container
    Exec(cmds::ExecArgs),
    /// Run a one-off command on a service
    Run(cmds::RunArgs),
    /// Build or rebuild services
    Build(manage::ServicesArgs),
    /// Pull service images
    Pull(manage::ServicesArgs),
    /// Push service images
    Push(manage::ServicesArgs),
    /// Start services
    Start(manage::ServicesArgs),
    /// Stop services
    Stop(manage::TimeoutArgs),
    /// Restart service containers
    Restart(manage::TimeoutArgs),
    /// Removes stopped service containers
    Rm(manage::RmArgs),
    /// Force stop service containers
    Kill(manage::KillArgs),
    /// Display the running processes
    Top(manage::ServicesArgs),
    /// Print the public port for a port binding
    Port(manage::PortArgs),
    /// List images used by the created containers
    Images(manage::ServicesArgs),
    /// List running compose projects
    Ls(manage::LsArgs),
    /// Takes the project down (`down -v`) once process OWNER_PID is gone: the testkit's
    /// reaper, run beside a test so that a SIGKILLed test binary leaves nothing.
    #[command(hide = true)]
    Reap(manage::ReapArgs),
}

/// The process environment as a map (what interpolation reads).
fn environ() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

/// Loads the project the flags select.
pub fn load(flags: &ProjectFlags) -> Result<Project, CliError> {
    let opts = compose::LoadOptions {
        files: flags.file.clone(),
        project_name: flags.project_name.clone(),
        project_dir: flags.project_directory.clone(),
        env_files: flags.env_file.clone(),
        profiles: flags.profile.clone(),
        environ: environ(),
        cwd: std::env::current_dir().map_err(|e| CliError::other(format!("current dir: {e}")))?,
    };
    compose::load(&opts).map_err(|e| CliError::other(tug::report(&e)))
}

/// The project's name without reading its files when `-p` (or the environment) says it;
/// `down`, `ps`, `logs`... work on a project whose file is gone, as compose's do.
fn project_name(flags: &ProjectFlags) -> Result<String, CliError> {
    if let Some(p) = &flags.project_name {
        return Ok(p.clone());
    }
    load(flags).map(|p| p.name)
}

/// Checks that every named service exists.
fn check_services(p: &Project, names: &[String]) -> Result<(), CliError> {
    Ok(tug::compose::check_services(p, names).map_err(tug::Error::from)?)
}

/// The containers of project `name` (one-offs with `oneoff`), by service then number.
pub fn members(engine: &Engine, name: &str, oneoff: bool) -> Result<Vec<Member>, CliError> {
    Ok(engine.compose_members(name, oneoff)?)
}

/// `members` of the named services (all when none is named).
fn members_of(
    engine: &Engine,
    name: &str,
    services: &[String],
    oneoff: bool,
) -> Result<Vec<Member>, CliError> {
    Ok(engine.compose_members_of(name, services, oneoff)?)
}

/// Stops container `name` of `service` as [`stop_how`] says.
fn stop(
    engine: &Engine,
    p: Option<&Project>,
    service: &str,
    name: &str,
    flag: Option<u64>,
) -> Result<(), CliError> {
    Ok(engine.compose_stop(p, service, name, flag)?)
}

fn out_err(e: std::io::Error) -> CliError {
    CliError::output(e)
}

/// Compose's `Container <name>  <What>` progress lines, on STDERR.
fn progress(kind: &str, name: &str, what: &str) {
    eprintln!(" {kind} {name}  {what}");
}

/// Prints the engine's compose events as compose does, on STDERR.
fn events(e: ComposeEvent<'_>) {
    match e {
        ComposeEvent::Step { kind, name, what } => progress(kind, name, what),
        ComposeEvent::Warning(w) => eprintln!("WARN: {w}"),
    }
}

pub fn dispatch(engine: &Engine, a: ComposeArgs) -> CliResult {
    let f = &a.flags;
    match a.command {
        ComposeCommand::Config(c) => cmds::config(f, c),
        ComposeCommand::Up(c) => up::up(engine, f, c),
        ComposeCommand::Down(c) => up::down(engine, f, c),
        ComposeCommand::Ps(c) => cmds::ps(engine, f, c),
        ComposeCommand::Logs(c) => cmds::logs(engine, f, c),
        ComposeCommand::Exec(c) => cmds::exec(engine, f, c),
        ComposeCommand::Run(c) => cmds::run(engine, f, c),
        ComposeCommand::Build(c) => manage::build(engine, f, c),
        ComposeCommand::Pull(c) => manage::pull(engine, f, c),
        ComposeCommand::Push(c) => manage::push(engine, f, c),
        ComposeCommand::Start(c) => manage::start(engine, f, c),
        ComposeCommand::Stop(c) => manage::stop(engine, f, c),
        ComposeCommand::Restart(c) => manage::restart(engine, f, c),
        ComposeCommand::Rm(c) => manage::rm(engine, f, c),
        ComposeCommand::Kill(c) => manage::kill(engine, f, c),
        ComposeCommand::Top(c) => manage::top(engine, f, c),
        ComposeCommand::Port(c) => manage::port(engine, f, c),
        ComposeCommand::Images(c) => manage::images(engine, f, c),
        ComposeCommand::Ls(c) => manage::ls(engine, c),
        ComposeCommand::Reap(c) => manage::reap(engine, f, c),
    }
}
