//! The `tug` command line: clap definitions (one file per command group), dispatch, and
//! the mapping of errors to Docker's exit codes. No business logic lives here: every
//! handler parses its flags into engine types, calls the [`Engine`], and prints.

pub mod build;
pub mod commit;
pub mod compose;
pub mod container;
pub mod cp;
pub mod events;
pub mod exec;
pub(crate) mod filters;
pub mod format;
pub mod health;
pub mod image;
pub mod lifecycle;
pub mod logs;
pub mod network;
pub mod port;
pub mod ps;
pub mod registry;
pub mod resources;
pub mod stats;
pub mod system;
pub mod update;
pub mod volume;

use clap::{Parser, Subcommand};

use tug::Engine;

/// An error the CLI prints as `tug: <message>` before exiting with `code`.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    /// A bad flag, argument or template: exit 125 as Docker does.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: 125,
            message: message.into(),
        }
    }
    /// Any other failure of tug itself: exit 125.
    pub fn other(message: impl Into<String>) -> CliError {
        CliError {
            code: 125,
            message: message.into(),
        }
    }

    /// Writing to STDOUT failed. When its reader went away (`tug inspect x | head`),
    /// tug ends quietly, as a program killed by SIGPIPE does (and as Docker's CLI does).
    pub fn output(e: std::io::Error) -> CliError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError {
                code: 128 + libc_sigpipe(),
                message: String::new(),
            };
        }
        CliError::other(format!("writing output: {e}"))
    }
}

/// SIGPIPE's number.
fn libc_sigpipe() -> i32 {
    nix::sys::signal::Signal::SIGPIPE as i32
}

impl From<tug::Error> for CliError {
    fn from(e: tug::Error) -> CliError {
        CliError {
            code: e.exit_code(),
            message: tug::report(&e),
        }
    }
}

/// What a command handler returns: the process exit code, or an error to print.
pub type CliResult = Result<i32, CliError>;

#[derive(Parser, Debug)]
#[command(
    name = "tug",
    version,
    about = "A daemonless container engine with docker's commands",
    long_about = "A daemonless container engine with docker's commands.\n\nState lives under $TUG_ROOT (default /var/lib/tug); TUG_STORAGE_DRIVER=vfs selects the copying storage driver.",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and run a new container from an image
    Run(container::RunArgs),
    /// Build an image from a Dockerfile
    Build(build::BuildArgs),
    /// Manage builds
    #[command(subcommand)]
    Builder(build::BuilderCommand),
    /// Create a new container
    Create(container::CreateArgs),
    /// Start one or more stopped containers
    Start(container::StartArgs),
    /// Remove one or more containers
    Rm(container::RmArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// List images
    #[command(visible_alias = "image-ls")]
    Images(image::ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::TagArgs),
    /// Remove one or more images
    Rmi(image::RmiArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(image::ImportArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(image::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(image::LoadArgs),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Create a new image from a container's changes
    Commit(commit::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(commit::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(commit::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out from a registry
    Logout(registry::LogoutArgs),
    /// Show the tug version information
    Version(system::FormatArgs),
    /// Display system-wide information
    Info(system::FormatArgs),
    /// Manage tug
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Display the running processes of a container
    Top(exec::TopArgs),
    /// List containers
    Ps(ps::PsArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::WaitArgs),
    /// Restart one or more containers
    Restart(lifecycle::RestartArgs),
    /// Rename a container
    Rename(lifecycle::RenameArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(lifecycle::AttachArgs),
    /// The per-container shim (internal)
    #[command(name = tug::entry::SHIM_SUBCOMMAND, hide = true)]
    Shim { id: String },
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage networks (state only for now: no devices yet)
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Pause all processes within one or more containers
    Pause(stats::PauseArgs),
    /// List port mappings or a specific mapping for the container
    Port(port::PortArgs),
    /// Unpause all processes within one or more containers
    Unpause(stats::PauseArgs),
    /// Update configuration of one or more containers
    Update(update::UpdateArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// Define and run multi-container applications (the compose spec)
    Compose(compose::ComposeArgs),
}

/// `tug inspect`: a container or an image, whichever the name finds first.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Only inspect objects of this type (container or image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Container or image names or ids
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `image inspect`, `volume inspect`, `network inspect`: names and `--format`.
#[derive(clap::Args, Debug)]
pub struct NamesInspectArgs {
    /// Format output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Runs the CLI on the process's arguments and returns the exit code.
pub fn main() -> i32 {
    tug::entry::running_as_tug();
    // A shim (`tug __shim <id>`, started by every container start that does not fork
    // one) skips the parse of the whole command line's grammar: a millisecond of each start.
    {
        let mut it = std::env::args_os().skip(1);
        match (it.next(), it.next(), it.next()) {
            (Some(sub), Some(id), None) if sub == tug::entry::SHIM_SUBCOMMAND => {
                if let Some(id) = id.to_str() {
                    return tug::entry::shim_main(id);
                }
            }
            (Some(sub), None, None) if sub == tug::entry::ZYGOTE_SUBCOMMAND => {
                return tug::entry::zygote_main();
            }
            _ => {}
        }
    }
    // Called as `tug-compose` (a link to tug, for scripts written for docker-compose
    // v1): the arguments are those of `tug compose`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let called = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == "tug-compose");
    if called {
        args[0] = "tug".into();
        args.insert(1, "compose".into());
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 125,
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("tug: {}", e.message);
            }
            e.code
        }
    }
}

/// Dispatches a parsed command line.
pub fn run(cli: Cli) -> CliResult {
    if let Command::Shim { id } = &cli.command {
        return Ok(tug::entry::shim_main(id));
    }
    let engine = Engine::from_env()?;
    if matches!(
        cli.command,
        Command::Pull(_)
            | Command::Push(_)
            | Command::Load(_)
            | Command::Import(_)
            | Command::Commit(_)
            | Command::Build(_)
            | Command::Image(_)
    ) {
        clean_staging_on_signals();
    }
    match cli.command {
        Command::Run(a) => container::run(&engine, a),
        Command::Build(a) => build::build(&engine, a),
        Command::Builder(c) => build::builder(&engine, c),
        Command::Create(a) => container::create(&engine, a),
        Command::Start(a) => container::start(&engine, a),
        Command::Rm(a) => container::rm(&engine, a),
        Command::Container(c) => container::dispatch(&engine, c),
        Command::Images(a) => image::images(&engine, a),
        Command::Tag(a) => image::tag(&engine, a),
        Command::Rmi(a) => image::rmi(&engine, a),
        Command::History(a) => image::history(&engine, a),
        Command::Import(a) => image::import(&engine, a),
        Command::Save(a) => image::save(&engine, a),
        Command::Load(a) => image::load(&engine, a),
        Command::Inspect(a) => inspect(&engine, a),
        Command::Image(c) => image::dispatch(&engine, c),
        Command::Commit(a) => commit::commit(&engine, a),
        Command::Diff(a) => commit::diff(&engine, a),
        Command::Export(a) => commit::export(&engine, a),
        Command::Cp(a) => cp::cp(&engine, a),
        Command::Pull(a) => registry::pull(&engine, a),
        Command::Push(a) => registry::push(&engine, a),
        Command::Login(a) => registry::login(&engine, a),
        Command::Logout(a) => registry::logout(&engine, a),
        Command::Version(a) => system::version(&engine, a),
        Command::Info(a) => system::info(&engine, a),
        Command::System(c) => system::dispatch(&engine, c),
        Command::Exec(a) => exec::exec(&engine, a),
        Command::Top(a) => exec::top(&engine, a),
        Command::Ps(a) => ps::ps(&engine, a),
        Command::Logs(a) => logs::logs(&engine, a),
        Command::Stop(a) => lifecycle::stop(&engine, a),
        Command::Kill(a) => lifecycle::kill(&engine, a),
        Command::Wait(a) => lifecycle::wait(&engine, a),
        Command::Restart(a) => lifecycle::restart(&engine, a),
        Command::Rename(a) => lifecycle::rename(&engine, a),
        Command::Attach(a) => lifecycle::attach(&engine, a),
        Command::Shim { .. } => Ok(125),
        Command::Volume(c) => volume::dispatch(&engine, c),
        Command::Network(c) => network::dispatch(&engine, c),
        Command::Stats(a) => stats::stats(&engine, a),
        Command::Update(a) => update::update(&engine, a),
        Command::Events(a) => events::events(&engine, a),
        Command::Pause(a) => stats::pause(&engine, a),
        Command::Port(a) => port::port(&engine, a),
        Command::Unpause(a) => stats::unpause(&engine, a),
        Command::Compose(a) => compose::dispatch(&engine, a),
    }
}

/// An image command interrupted by Ctrl-C, SIGTERM or SIGHUP removes the staging files
/// and dirs it was writing before it exits (128 + the signal), instead of leaving them to
/// the next store write. The signals are blocked here, before any worker thread starts,
/// and taken by one thread that waits for them.
fn clean_staging_on_signals() {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        if let Ok(sig) = set.wait() {
            tug::entry::remove_own_staging();
            std::process::exit(128 + sig as i32);
        }
    });
}

/// `tug inspect`: tries containers first, then images, as Docker does.
fn inspect(engine: &Engine, a: InspectArgs) -> CliResult {
    match a.kind.as_deref() {
        Some("image") => image::inspect(
            engine,
            image::InspectArgs {
                format: a.format,
                names: a.names,
            },
        ),
        Some("container") | None => container::inspect(engine, a),
        Some(other) => Err(CliError::usage(format!(
            "--type {other:?}: must be container or image"
        ))),
    }
}

/// `inspect` of any kind of object: looks each name up with `find`, prints what was found
/// as Docker does (a JSON array, or each through `--format`), reports each name not found
/// on stderr, and exits 1 if any was not.
pub fn inspect_each<T: serde::Serialize, E: Into<CliError>>(
    names: &[String],
    format_flag: Option<&str>,
    mut find: impl FnMut(&str) -> Result<T, E>,
) -> CliResult {
    let mut values = Vec::new();
    let mut code = 0;
    for n in names {
        match find(n) {
            Ok(v) => {
                values.push(serde_json::to_value(&v).map_err(|e| CliError::other(e.to_string()))?)
            }
            Err(e) => {
                eprintln!("tug: {}", e.into().message);
                code = 1;
            }
        }
    }
    print_inspect(&values, format_flag)?;
    Ok(code)
}

/// Prints JSON values as Docker's `inspect` does (a pretty array), or each through
/// `--format`.
pub fn print_inspect(
    values: &[serde_json::Value],
    format_flag: Option<&str>,
) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let io = CliError::output;
    match format_flag {
        None => {
            let s =
                serde_json::to_string_pretty(values).map_err(|e| CliError::other(e.to_string()))?;
            writeln!(out, "{s}").map_err(io)?;
        }
        Some(f) => {
            let tpl = format::parse_template(f)?;
            for v in values {
                writeln!(out, "{}", format::execute(&tpl, f, v)?).map_err(io)?;
            }
        }
    }
    Ok(())
}
