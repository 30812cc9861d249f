//! `tug stop`, `kill`, `wait`, `restart`, `rename`, `attach` and `container prune`.

use std::io::{BufRead, Write};
use std::time::Duration;

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;
use tug::container::AttachOptions;

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "timeout", visible_alias = "time")]
    pub timeout: Option<u64>,
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "timeout", visible_alias = "time")]
    pub timeout: Option<u64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

/// Runs `f` on each name; prints the name on success (as Docker), the error otherwise;
/// exit 1 if any failed.
fn each(names: &[String], mut f: impl FnMut(&str) -> tug::Result<()>) -> CliResult {
    let mut code = 0;
    for name in names {
        match f(name) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("tug: {}", CliError::from(e).message);
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn stop(engine: &Engine, a: StopArgs) -> CliResult {
    let timeout = a.timeout.map(Duration::from_secs);
    each(&a.containers, |n| {
        engine
            .stop_container(n, timeout, a.signal.as_deref())
            .map(|_| ())
    })
}

pub fn kill(engine: &Engine, a: KillArgs) -> CliResult {
    each(&a.containers, |n| {
        engine.kill_container(n, Some(&a.signal)).map(|_| ())
    })
}

pub fn wait(engine: &Engine, a: WaitArgs) -> CliResult {
    let mut code = 0;
    for name in &a.containers {
        match engine.wait_container(name) {
            Ok(c) => println!("{c}"),
            Err(e) => {
                eprintln!("tug: {}", CliError::from(e).message);
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn restart(engine: &Engine, a: RestartArgs) -> CliResult {
    let timeout = a.timeout.map(Duration::from_secs);
    each(&a.containers, |n| {
        engine.restart_container(n, timeout).map(|_| ())
    })
}

pub fn rename(engine: &Engine, a: RenameArgs) -> CliResult {
    engine.rename_container(&a.container, &a.new_name)?;
    Ok(0)
}

pub fn attach(engine: &Engine, a: AttachArgs) -> CliResult {
    let c = engine.container(&a.container)?;
    let detach_keys = super::container::detach_keys(a.detach_keys.as_deref())
        .map_err(super::container::daemon_side)?;
    let attach = AttachOptions {
        stdin: !a.no_stdin && c.config.open_stdin,
        sig_proxy: a.sig_proxy,
        detach_keys,
        ..Default::default()
    };
    Ok(engine.attach_container(&a.container, attach)?)
}

pub fn prune(engine: &Engine, a: PruneArgs) -> CliResult {
    let filters = super::filters::PruneFilters::from_args(&a.filter, &[], true)?;
    if !a.force {
        print!(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let (ids, bytes) = engine.prune_containers(|c| {
        filters.allows(Some(&c.created), |k| {
            c.config.labels.get(k).map(String::as_str)
        })
    })?;
    let mut out = std::io::stdout().lock();
    if !ids.is_empty() {
        let _ = writeln!(out, "Deleted Containers:");
        for id in &ids {
            let _ = writeln!(out, "{id}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Total reclaimed space: {}",
        super::format::human_size(bytes)
    );
    Ok(0)
}
