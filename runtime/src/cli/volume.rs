//! `tug volume create|ls|inspect|rm|prune`, with Docker's flags, columns and messages.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::format::{format_rows, human_size, table};
use super::{CliError, CliResult};
use tug::Engine;
use tug::volume::{Volume, VolumeOptions};

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options (type=, device=, o=)
    #[arg(short, long)]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", hide = true)]
    pub name_flag: Option<String>,
    /// The volume's name (a random one when not given)
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "dangling=true", "name=x", "label=k=v", "driver=local")
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a Go template ("table ..." for a table, or "json")
    #[arg(long)]
    pub format: Option<String>,
}

pub use super::NamesInspectArgs as InspectArgs;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of one or more volumes (a missing one is no error)
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn dispatch(engine: &Engine, c: VolumeCommand) -> CliResult {
    match c {
        VolumeCommand::Create(a) => create(engine, a),
        VolumeCommand::Ls(a) => ls(engine, a),
        VolumeCommand::Inspect(a) => inspect(engine, a),
        VolumeCommand::Rm(a) => rm(engine, a),
        VolumeCommand::Prune(a) => prune(engine, a),
    }
}

fn out_err(e: std::io::Error) -> CliError {
    CliError::output(e)
}

/// `KEY=VALUE` flags as a map (`KEY` alone gets an empty value).
fn key_values(
    flag: &str,
    items: &[String],
    need_value: bool,
) -> Result<BTreeMap<String, String>, CliError> {
    let mut m = BTreeMap::new();
    for i in items {
        let (k, v) = match i.split_once('=') {
            Some((k, v)) => (k, v),
            None if !need_value => (i.as_str(), ""),
            None => {
                return Err(CliError::usage(format!(
                    "invalid argument \"{i}\" for \"{flag}\" flag: expected KEY=VALUE"
                )));
            }
        };
        if k.is_empty() {
            return Err(CliError::usage(format!(
                "invalid argument \"{i}\" for \"{flag}\" flag: empty key"
            )));
        }
        m.insert(k.to_string(), v.to_string());
    }
    Ok(m)
}

pub fn create(engine: &Engine, a: CreateArgs) -> CliResult {
    let name = match (a.name, a.name_flag) {
        (Some(n), Some(f)) if n != f => {
            return Err(CliError::usage(format!(
                "conflicting options: either specify --name or provide positional arg, not both ({f} and {n})"
            )));
        }
        (n, f) => n.or(f),
    };
    let opts = VolumeOptions {
        name,
        driver: Some(a.driver),
        labels: Some(key_values("--label", &a.label, false)?),
        options: Some(key_values("-o, --opt", &a.opt, true)?),
    };
    let v = engine.create_volume(&opts)?;
    println!("{}", v.name);
    Ok(0)
}

/// The keys of `volume ls --filter` (and of the API's list).
pub(crate) const LS_FILTERS: &[&str] = &["name", "label", "dangling", "driver"];

/// What `volume ls --filter` keeps.
#[derive(Default)]
pub(crate) struct Filters {
    names: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    dangling: Option<bool>,
    drivers: Vec<String>,
}

impl Filters {
    pub(crate) fn parse(specs: &[String], allowed: &[&str]) -> Result<Filters, CliError> {
        let mut f = Filters::default();
        for spec in specs {
            let (k, v) = super::filters::pair(spec)?;
            if !allowed.contains(&k) {
                return Err(CliError::usage(format!("invalid filter '{k}'")));
            }
            match k {
                "name" => f.names.push(v.to_string()),
                "driver" => f.drivers.push(v.to_string()),
                "label" => f.labels.push(super::filters::label(v)),
                "dangling" => f.dangling = Some(super::filters::boolean(k, v)?),
                _ => unreachable!("checked against `allowed` above"),
            }
        }
        Ok(f)
    }

    /// Whether `v` passes; `used` says whether a container uses it.
    pub(crate) fn keep(&self, v: &Volume, used: impl FnOnce() -> bool) -> bool {
        (self.names.is_empty() || self.names.iter().any(|n| v.name.contains(n.as_str())))
            && (self.drivers.is_empty() || self.drivers.contains(&v.driver))
            && super::filters::labels_match(&self.labels, |k| {
                v.labels.as_ref()?.get(k).map(String::as_str)
            })
            && self.dangling.is_none_or(|d| d != used())
    }
}

/// A volume as `volume ls --format` sees it (Docker's field names).
fn ls_row(v: &Volume) -> Value {
    let labels = v
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        "Name": v.name,
        "Driver": v.driver,
        "Scope": v.scope,
        "Mountpoint": v.mountpoint,
        "Labels": labels,
        "Links": "N/A",
        "Size": "N/A",
    })
}

pub fn ls(engine: &Engine, a: LsArgs) -> CliResult {
    let filters = Filters::parse(&a.filter, LS_FILTERS)?;
    let mut vols = Vec::new();
    for v in engine.volumes()? {
        let used = || {
            engine
                .volume_users(&v.name)
                .map(|u| !u.is_empty())
                .unwrap_or(true)
        };
        if filters.keep(&v, used) {
            vols.push(v);
        }
    }
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for v in &vols {
            writeln!(out, "{}", v.name).map_err(out_err)?;
        }
        return Ok(0);
    }
    match a.format.as_deref() {
        Some("json") => {
            for v in &vols {
                writeln!(out, "{}", ls_row(v)).map_err(out_err)?;
            }
        }
        Some(f) if !f.is_empty() && f != "table" => {
            let headers = BTreeMap::from([("Name", "VOLUME NAME"), ("Driver", "DRIVER")]);
            let rows: Vec<Value> = vols.iter().map(ls_row).collect();
            format_rows(&mut out, f, &headers, &rows)?;
        }
        _ => {
            let rows: Vec<Vec<String>> = vols
                .iter()
                .map(|v| vec![v.driver.clone(), v.name.clone()])
                .collect();
            table(&mut out, &["DRIVER", "VOLUME NAME"], &rows).map_err(out_err)?;
        }
    }
    Ok(0)
}

pub fn inspect(engine: &Engine, a: InspectArgs) -> CliResult {
    super::inspect_each(&a.names, a.format.as_deref(), |n| engine.volume(n))
}

pub fn rm(engine: &Engine, a: RmArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    let mut code = 0;
    for n in &a.names {
        match engine.remove_volume(n, a.force) {
            Ok(_) => writeln!(out, "{n}").map_err(out_err)?,
            Err(e) => {
                eprintln!("tug: {}", CliError::from(e).message);
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn prune(engine: &Engine, a: PruneArgs) -> CliResult {
    let filters = super::filters::PruneFilters::from_args(&a.filter, &["all"], false)?;
    let all = a.all
        || a.filter
            .iter()
            .any(|f| matches!(f.as_str(), "all=true" | "all=1"));
    if !a.force {
        let what = if a.all {
            "all local volumes"
        } else {
            "anonymous local volumes"
        };
        eprint!(
            "WARNING! This will remove {what} not used by at least one container.\nAre you sure you want to continue? [y/N] "
        );
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Ok(0);
        }
    }
    let removed = engine.prune_volumes(all, |v| {
        filters.allows(Some(&v.created_at), |k| {
            v.labels.as_ref()?.get(k).map(String::as_str)
        })
    })?;
    let mut out = std::io::stdout().lock();
    if !removed.is_empty() {
        writeln!(out, "Deleted Volumes:").map_err(out_err)?;
        for (n, _) in &removed {
            writeln!(out, "{n}").map_err(out_err)?;
        }
        writeln!(out).map_err(out_err)?;
    }
    let total: u64 = removed.iter().map(|(_, s)| s).sum();
    writeln!(out, "Total reclaimed space: {}", human_size(total)).map_err(out_err)?;
    Ok(0)
}
