//! `tug network create|ls|inspect|rm|prune|connect|disconnect`, with Docker's flags,
//! columns and messages. A network's bridge device and rules exist while containers on it
//! run (see `network::endpoint`).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::format::{format_rows, table};
use super::{CliError, CliResult};
use tug::Engine;
use tug::network::Error;
use tug::network::{CreateOptions, Network};

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the Network (only "bridge")
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format (a free /24 of the host-wide pool when not given)
    #[arg(long)]
    pub subnet: Option<String>,
    /// IPv4 Gateway for the subnet (its first address when not given)
    #[arg(long)]
    pub gateway: Option<String>,
    /// Restrict external access to the network (no NAT, no published ports)
    #[arg(long)]
    pub internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Set metadata on a network (KEY=VALUE)
    #[arg(long)]
    pub label: Vec<String>,
    pub name: String,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "name=x", "driver=bridge", "id=abc", "label=k=v")
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a Go template ("table ..." for a table, or "json")
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
}

pub use super::NamesInspectArgs as InspectArgs;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

impl From<Error> for CliError {
    fn from(e: Error) -> CliError {
        CliError::usage(tug::report(&e))
    }
}

pub fn dispatch(engine: &Engine, c: NetworkCommand) -> CliResult {
    match c {
        NetworkCommand::Create(a) => create(engine, a),
        NetworkCommand::Connect(a) => {
            engine.connect_network(&a.network, &a.container, &a.alias, a.ip)?;
            Ok(0)
        }
        NetworkCommand::Disconnect(a) => {
            engine.disconnect_network(&a.network, &a.container)?;
            Ok(0)
        }
        NetworkCommand::Ls(a) => ls(engine, a),
        NetworkCommand::Inspect(a) => inspect(engine, a),
        NetworkCommand::Rm(a) => rm(engine, a),
        NetworkCommand::Prune(a) => prune(engine, a),
    }
}

fn out_err(e: std::io::Error) -> CliError {
    CliError::output(e)
}

fn labels(items: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut m = BTreeMap::new();
    for i in items {
        let (k, v) = i.split_once('=').unwrap_or((i, ""));
        if k.is_empty() {
            return Err(CliError::usage(format!(
                "invalid argument \"{i}\" for \"--label\" flag: empty key"
            )));
        }
        m.insert(k.to_string(), v.to_string());
    }
    Ok(m)
}

pub fn create(engine: &Engine, a: CreateArgs) -> CliResult {
    let n = engine.create_network(&CreateOptions {
        name: a.name,
        driver: Some(a.driver),
        subnet: a.subnet,
        gateway: a.gateway,
        internal: a.internal,
        attachable: a.attachable,
        labels: labels(&a.label)?,
    })?;
    println!("{}", n.id);
    Ok(0)
}

/// What `network ls --filter` and `prune --filter` keep.
/// The keys of `network ls --filter` (and of the API's list).
pub(crate) const LS_FILTERS: &[&str] = &["name", "driver", "id", "label"];

#[derive(Default)]
pub(crate) struct Filters {
    names: Vec<String>,
    drivers: Vec<String>,
    ids: Vec<String>,
    labels: Vec<(String, Option<String>)>,
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
                "id" => f.ids.push(v.to_string()),
                "label" => f.labels.push(super::filters::label(v)),
                _ => unreachable!("checked against `allowed` above"),
            }
        }
        Ok(f)
    }

    pub(crate) fn keep(&self, n: &Network) -> bool {
        (self.names.is_empty() || self.names.iter().any(|x| n.name.contains(x.as_str())))
            && (self.drivers.is_empty() || self.drivers.contains(&n.driver))
            && (self.ids.is_empty() || self.ids.iter().any(|x| n.id.starts_with(x.as_str())))
            && super::filters::labels_match(&self.labels, |k| n.labels.get(k).map(String::as_str))
    }
}

/// A network as `network ls --format` sees it (Docker's field names).
fn ls_row(n: &Network, no_trunc: bool) -> Value {
    let labels = n
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let id = if no_trunc { &n.id[..] } else { &n.id[..12] };
    json!({
        "ID": id,
        "Name": n.name,
        "Driver": n.driver,
        "Scope": n.scope,
        "IPv6": n.enable_ipv6.to_string(),
        "Internal": n.internal.to_string(),
        "Labels": labels,
        "CreatedAt": n.created,
    })
}

pub fn ls(engine: &Engine, a: LsArgs) -> CliResult {
    let filters = Filters::parse(&a.filter, LS_FILTERS)?;
    let nets: Vec<Network> = engine
        .networks()?
        .into_iter()
        .filter(|n| filters.keep(n))
        .collect();
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for n in &nets {
            let id = if a.no_trunc { &n.id[..] } else { &n.id[..12] };
            writeln!(out, "{id}").map_err(out_err)?;
        }
        return Ok(0);
    }
    let rows: Vec<Value> = nets.iter().map(|n| ls_row(n, a.no_trunc)).collect();
    match a.format.as_deref() {
        Some("json") => {
            for r in &rows {
                writeln!(out, "{r}").map_err(out_err)?;
            }
        }
        Some(f) if !f.is_empty() && f != "table" => {
            let headers = BTreeMap::from([
                ("ID", "NETWORK ID"),
                ("Name", "NAME"),
                ("Driver", "DRIVER"),
                ("Scope", "SCOPE"),
                ("IPv6", "IPV6"),
                ("Internal", "INTERNAL"),
                ("Labels", "LABELS"),
                ("CreatedAt", "CREATED AT"),
            ]);
            format_rows(&mut out, f, &headers, &rows)?;
        }
        _ => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    ["ID", "Name", "Driver", "Scope"]
                        .iter()
                        .map(|k| r[k].as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .collect();
            table(&mut out, &["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &cells).map_err(out_err)?;
        }
    }
    Ok(0)
}

pub fn inspect(engine: &Engine, a: InspectArgs) -> CliResult {
    super::inspect_each(&a.names, a.format.as_deref(), |n| engine.network(n))
}

pub fn rm(engine: &Engine, a: RmArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    let mut code = 0;
    for n in &a.names {
        match engine.remove_network(n) {
            Ok(_) => writeln!(out, "{n}").map_err(out_err)?,
            Err(Error::NotFound(_)) if a.force => {}
            Err(e) => {
                eprintln!("tug: {}", CliError::from(e).message);
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn prune(engine: &Engine, a: PruneArgs) -> CliResult {
    let filters = super::filters::PruneFilters::from_args(&a.filter, &[], true)?;
    if !a.force {
        eprint!(
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
        );
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Ok(0);
        }
    }
    let removed = engine.prune_networks(|n| {
        filters.allows(Some(&n.created), |k| n.labels.get(k).map(String::as_str))
    })?;
    let mut out = std::io::stdout().lock();
    if !removed.is_empty() {
        writeln!(out, "Deleted Networks:").map_err(out_err)?;
        for n in &removed {
            writeln!(out, "{n}").map_err(out_err)?;
        }
    }
    Ok(0)
}
