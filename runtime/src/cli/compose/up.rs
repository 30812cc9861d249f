//! `compose up` and `compose down`: their flags, to the engine's `compose_up` and
//! `compose_down` (which do the work: `engine/compose.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Args;

use super::{ProjectFlags, events, load};
use crate::cli::{CliError, CliResult};
use tug::Engine;
use tug::compose::{DownOptions, UpOptions};

#[derive(Args, Debug, Default)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing
    #[arg(long)]
    pub no_build: bool,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Scale SERVICE to NUM instances (SERVICE=NUM)
    #[arg(long)]
    pub scale: Vec<String>,
    /// Wait for services to be running|healthy (implies detached mode)
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long)]
    pub wait_timeout: Option<u64>,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Recreate containers even if their configuration hasn't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long)]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Stops all containers if any container was stopped (attached mode)
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub no_start: bool,
    /// Use this timeout in seconds for container shutdown
    #[arg(short, long)]
    pub timeout: Option<u64>,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section and anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Remove images used by services ("local"|"all")
    #[arg(long)]
    pub rmi: Option<String>,
    /// Specify a shutdown timeout in seconds
    #[arg(short, long)]
    pub timeout: Option<u64>,
}

/// The number of replicas `--scale` asks for each service it names.
fn scales(a: &UpArgs) -> Result<BTreeMap<String, u32>, CliError> {
    let mut out = BTreeMap::new();
    for sc in &a.scale {
        let (svc, n) = sc
            .split_once('=')
            .and_then(|(s, n)| Some((s, n.parse::<u32>().ok()?)))
            .ok_or_else(|| CliError::usage(format!("--scale {sc}: expected SERVICE=NUM")))?;
        out.insert(svc.to_string(), n);
    }
    Ok(out)
}

pub fn up(engine: &Engine, flags: &ProjectFlags, a: UpArgs) -> CliResult {
    let p = load(flags)?;
    let o = UpOptions {
        services: a.services.clone(),
        build: a.build,
        no_build: a.no_build,
        pull: Some(a.pull.clone()),
        scale: scales(&a)?,
        wait: a.wait,
        wait_timeout: a.wait_timeout.map(Duration::from_secs),
        no_deps: a.no_deps,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans,
        no_start: a.no_start,
        timeout: a.timeout,
    };
    let all = engine.compose_up(&p, &o, &events)?;
    if a.detach || a.wait || a.no_start {
        return Ok(0);
    }
    super::cmds::attach_logs(engine, &p, &all, &a)
}

pub fn down(engine: &Engine, flags: &ProjectFlags, a: DownArgs) -> CliResult {
    // Without the files (gone, or another dir), `-p` still finds the containers.
    let project = load(flags).ok();
    let name = match (&project, &flags.project_name) {
        (_, Some(n)) => n.clone(),
        (Some(p), None) => p.name.clone(),
        (None, None) => return Err(load(flags).unwrap_err()),
    };
    let o = DownOptions {
        volumes: a.volumes,
        remove_orphans: a.remove_orphans,
        rmi: a.rmi,
        timeout: a.timeout,
    };
    engine.compose_down(&name, project.as_ref(), &o, &events)?;
    Ok(0)
}
