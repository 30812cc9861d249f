//! The compose commands that manage a project's containers and images as a whole:
//! `build`, `pull`, `push`, `start`, `stop`, `restart`, `rm`, `kill`, `top`, `port`,
//! `images`, `ls`.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;

use super::{
    Member, ProjectFlags, check_services, events, load, members, members_of, out_err, progress,
    project_name, stop as stop_one, stop_how,
};
use crate::cli::{CliError, CliResult, format};
use tug::Engine;
use tug::compose::{self, Project};

#[derive(Args, Debug)]
pub struct ServicesArgs {
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TimeoutArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short, long)]
    pub timeout: Option<u64>,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short, long)]
    pub force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short, long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short, long)]
    pub volumes: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub private_port: u16,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short, long)]
    pub all: bool,
    /// Only display project names
    #[arg(short, long)]
    pub quiet: bool,
}

/// The services named, or all of the project's.
fn services_or_all(p: &Project, names: &[String]) -> Result<Vec<String>, CliError> {
    check_services(p, names)?;
    Ok(if names.is_empty() {
        p.services.keys().cloned().collect()
    } else {
        names.to_vec()
    })
}

pub fn build(engine: &Engine, flags: &ProjectFlags, a: ServicesArgs) -> CliResult {
    let p = load(flags)?;
    for s in services_or_all(&p, &a.services)? {
        engine.compose_build(&p, &s, &events)?;
    }
    Ok(0)
}

pub fn pull(engine: &Engine, flags: &ProjectFlags, a: ServicesArgs) -> CliResult {
    let p = load(flags)?;
    for s in services_or_all(&p, &a.services)? {
        if let Some(img) = &p.services[&s].image
            && p.services[&s].build.is_none()
        {
            engine.compose_pull_image(img, &events)?;
        }
    }
    Ok(0)
}

pub fn push(engine: &Engine, flags: &ProjectFlags, a: ServicesArgs) -> CliResult {
    let p = load(flags)?;
    for s in services_or_all(&p, &a.services)? {
        let svc = &p.services[&s];
        if svc.build.is_none() {
            continue;
        }
        let Some(img) = &svc.image else { continue };
        progress("Image", img, "Pushing");
        engine
            .push(
                img,
                &tug::registry::PushOptions::default(),
                &tug::registry::Silent,
            )
            .map_err(|e| CliError::from(tug::Error::from(e)))?;
        progress("Image", img, "Pushed");
    }
    Ok(0)
}

pub fn start(engine: &Engine, flags: &ProjectFlags, a: ServicesArgs) -> CliResult {
    let p = load(flags)?;
    let order = compose::start_order(&p, &services_or_all(&p, &a.services)?, true);
    let ms = members(engine, &p.name, false)?;
    for s in order {
        for m in ms.iter().filter(|m| m.service == s && !m.running()) {
            progress("Container", m.name(), "Starting");
            engine.start_detached(m.name())?;
            progress("Container", m.name(), "Started");
        }
    }
    Ok(0)
}

/// The project's containers of `services`, dependents first, and the project when its
/// files load (`-p` alone finds the containers of a project whose files are gone).
fn reverse_members(
    engine: &Engine,
    flags: &ProjectFlags,
    services: &[String],
) -> Result<(Option<Project>, Vec<Member>), CliError> {
    let name = project_name(flags)?;
    let mut ms = members_of(engine, &name, services, false)?;
    let project = load(flags).ok();
    if let Some(p) = &project {
        let order = compose::start_order(p, &p.services.keys().cloned().collect::<Vec<_>>(), false);
        ms.sort_by_key(|m| std::cmp::Reverse(order.iter().position(|s| *s == m.service)));
    }
    Ok((project, ms))
}

pub fn stop(engine: &Engine, flags: &ProjectFlags, a: TimeoutArgs) -> CliResult {
    let (project, ms) = reverse_members(engine, flags, &a.services)?;
    for m in ms {
        if m.running() {
            progress("Container", m.name(), "Stopping");
            stop_one(engine, project.as_ref(), &m.service, m.name(), a.timeout)?;
            progress("Container", m.name(), "Stopped");
        }
    }
    Ok(0)
}

pub fn restart(engine: &Engine, flags: &ProjectFlags, a: TimeoutArgs) -> CliResult {
    let (project, mut ms) = reverse_members(engine, flags, &a.services)?;
    ms.reverse();
    for m in ms {
        progress("Container", m.name(), "Restarting");
        let (timeout, _) = stop_how(project.as_ref(), &m.service, a.timeout);
        engine.restart_container(m.name(), timeout)?;
        progress("Container", m.name(), "Started");
    }
    Ok(0)
}

pub fn rm(engine: &Engine, flags: &ProjectFlags, a: RmArgs) -> CliResult {
    let _ = a.force;
    let mut anon = Vec::new();
    let (project, ms) = reverse_members(engine, flags, &a.services)?;
    for m in ms {
        if m.running() {
            if !a.stop {
                continue;
            }
            progress("Container", m.name(), "Stopping");
            stop_one(engine, project.as_ref(), &m.service, m.name(), None)?;
            progress("Container", m.name(), "Stopped");
        }
        progress("Container", m.name(), "Removing");
        let c = engine.remove_container(m.name(), false)?;
        anon.extend(c.mounts);
        progress("Container", m.name(), "Removed");
    }
    if a.volumes && !anon.is_empty() {
        engine.remove_anonymous_volumes(&anon)?;
    }
    Ok(0)
}

pub fn kill(engine: &Engine, flags: &ProjectFlags, a: KillArgs) -> CliResult {
    for m in reverse_members(engine, flags, &a.services)?.1 {
        if m.running() {
            progress("Container", m.name(), "Killing");
            engine.kill_container(m.name(), a.signal.as_deref())?;
            progress("Container", m.name(), "Killed");
        }
    }
    Ok(0)
}

pub fn top(engine: &Engine, flags: &ProjectFlags, a: ServicesArgs) -> CliResult {
    let name = project_name(flags)?;
    let mut out = std::io::stdout().lock();
    for m in members_of(engine, &name, &a.services, false)? {
        if !m.running() {
            continue;
        }
        let t = engine.top(m.name(), &[])?;
        writeln!(out, "{}", m.name()).map_err(out_err)?;
        let titles: Vec<&str> = t.titles.iter().map(String::as_str).collect();
        format::table(&mut out, &titles, &t.processes).map_err(out_err)?;
        writeln!(out).map_err(out_err)?;
    }
    Ok(0)
}

pub fn port(engine: &Engine, flags: &ProjectFlags, a: PortArgs) -> CliResult {
    let name = project_name(flags)?;
    let m = engine.compose_replica(&name, &a.service, a.index)?;
    let private = format!("{}/{}", a.private_port, a.protocol);
    let lines = tug::network::port_lines(&m.c.network_settings.ports, Some(&private), m.name())
        .map_err(|e| CliError::other(tug::report(&e)))?;
    // Compose prints the first binding only (`0.0.0.0:8080`, not also `[::]:8080`);
    // `port_lines` with a private port gives `ip:port` lines.
    if let Some(l) = lines.first() {
        println!("{}", l.rsplit(" -> ").next().unwrap_or(l));
    }
    Ok(0)
}

pub fn images(engine: &Engine, flags: &ProjectFlags, a: ServicesArgs) -> CliResult {
    let name = project_name(flags)?;
    let all = engine.images()?;
    let mut rows = Vec::new();
    for m in members_of(engine, &name, &a.services, false)? {
        let image = &m.c.config.image;
        let (repo, tag) = match image.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
            _ => (image.clone(), "latest".to_string()),
        };
        let info = all.iter().find(|i| i.image.id.to_string() == m.c.image);
        rows.push(vec![
            m.name().to_string(),
            repo,
            tag,
            info.map(|i| i.image.id.short().to_string())
                .unwrap_or_default(),
            info.map(|i| format::human_size(i.size)).unwrap_or_default(),
        ]);
    }
    format::table(
        &mut std::io::stdout().lock(),
        &["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
        &rows,
    )
    .map_err(out_err)?;
    Ok(0)
}

pub fn ls(engine: &Engine, a: LsArgs) -> CliResult {
    // project → (running, total, config files)
    let mut projects: BTreeMap<String, (usize, usize, String)> = BTreeMap::new();
    for c in engine.containers()? {
        let Some(p) = c.config.labels.get(compose::LABEL_PROJECT) else {
            continue;
        };
        let e = projects.entry(p.clone()).or_default();
        e.1 += 1;
        if c.state.running {
            e.0 += 1;
        }
        if let Some(f) = c.config.labels.get(compose::LABEL_CONFIG_FILES) {
            e.2 = f.clone();
        }
    }
    let mut out = std::io::stdout().lock();
    let rows: Vec<Vec<String>> = projects
        .into_iter()
        .filter(|(_, (running, _, _))| a.all || *running > 0)
        .map(|(name, (running, total, files))| {
            let status = if running == total {
                format!("running({running})")
            } else if running == 0 {
                format!("exited({total})")
            } else {
                format!("running({running}), exited({})", total - running)
            };
            vec![name, status, files]
        })
        .collect();
    if a.quiet {
        for r in rows {
            writeln!(out, "{}", r[0]).map_err(out_err)?;
        }
        return Ok(0);
    }
    format::table(&mut out, &["NAME", "STATUS", "CONFIG FILES"], &rows).map_err(out_err)?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct ReapArgs {
    /// The process whose end takes the project down
    #[arg(long)]
    pub owner_pid: i32,
}

/// `compose -p NAME reap --owner-pid PID`: waits for PID to end, then `down -v`.
pub fn reap(engine: &Engine, flags: &ProjectFlags, a: ReapArgs) -> CliResult {
    let name = project_name(flags)?;
    engine.compose_reap(&name, a.owner_pid)?;
    Ok(0)
}
