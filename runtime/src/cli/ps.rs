//! `tug ps`: the container table (CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES),
//! `-a`, `-q`, `-n`, `-l`, `--no-trunc`, `--filter`, `--format`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use clap::Args;

use super::format;
use super::{CliError, CliResult};
use tug::Engine;
use tug::container::Container;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last")]
    pub last: Option<usize>,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (name=, id=, status=, label=, ancestor=, exited=, health=)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a Go template ("table", "table TEMPLATE" or "TEMPLATE")
    #[arg(long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
}

fn parse_time(t: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(t).ok()
}

fn since(t: &str) -> String {
    let d = parse_time(t)
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    tug::human_duration(d)
}

/// The STATUS column as Docker words it: a running container's health after its uptime
/// (`Up 3 seconds (healthy)`, `(health: starting)`, `(unhealthy)`).
pub fn status(c: &Container) -> String {
    c.state.status_line(SystemTime::now())
}

/// Docker's `.CreatedAt`: Go's time.String() in UTC.
fn created_at(t: &str) -> String {
    let Some(t) = parse_time(t) else {
        return t.to_string();
    };
    let s = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} {} +0000 UTC", &s[..10], &s[11..19])
}

/// The COMMAND column: quoted, cut to 20 characters with an ellipsis unless `no_trunc`.
pub(crate) fn command(c: &Container, no_trunc: bool) -> String {
    let mut cmd = c.path.clone();
    for a in &c.args {
        cmd.push(' ');
        cmd.push_str(a);
    }
    if !no_trunc && cmd.chars().count() > 20 {
        cmd = cmd.chars().take(19).collect::<String>() + "…";
    }
    serde_json::to_string(&cmd).unwrap_or(cmd)
}

/// One row as the `--format` fields see it.
fn row(c: &Container, no_trunc: bool, size: Option<(u64, u64)>) -> serde_json::Value {
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    serde_json::json!({
        "ID": if no_trunc { c.id.to_string() } else { c.id.short().to_string() },
        "Image": c.config.image,
        "Command": command(c, no_trunc),
        "CreatedAt": created_at(&c.created),
        "RunningFor": format!("{} ago", since(&c.created)),
        "Ports": tug::network::ps_column(&c.network_settings.ports),
        "State": c.state.status,
        "Status": status(c),
        "Size": size.map_or(String::new(), |(rw, virt)| format!(
            "{} (virtual {})",
            format::human_size(rw),
            format::human_size(virt)
        )),
        "Names": c.short_name(),
        "Labels": labels.join(","),
        "Mounts": "",
        "Networks": c.host_config.network_mode,
    })
}

/// Whether `c` passes every filter, as Docker's `ps` filters: the values of one key are
/// or'ed, keys and'ed, but every `label` given must match. `created_of` gives another
/// container's creation time, for `before` and `since`. Shared with the API's list.
pub(crate) fn matches(
    c: &Container,
    filters: &BTreeMap<String, Vec<String>>,
    created_of: impl Fn(&str) -> Option<String>,
) -> bool {
    let time = |t: &str| tug::image::parse_time(t);
    filters.iter().all(|(key, values)| {
        let one = |v: &String| match key.as_str() {
            "network" => c.network_settings.networks.iter().any(|(name, e)| {
                name == v || (!v.is_empty() && e.network_id.starts_with(v.as_str()))
            }),
            "volume" => c.mounts.iter().any(|m| {
                ["Name", "Destination", "Source"]
                    .iter()
                    .any(|k| m[*k].as_str() == Some(v.as_str()))
            }),
            "before" => created_of(v)
                .and_then(|t| time(&t))
                .is_some_and(|other| time(&c.created).is_some_and(|t| t < other)),
            "since" => created_of(v)
                .and_then(|t| time(&t))
                .is_some_and(|other| time(&c.created).is_some_and(|t| t > other)),
            "name" => c.short_name().contains(v.trim_start_matches('/')),
            "id" => c.id.starts_with(v.as_str()),
            "status" => c.state.status.as_str() == v,
            "label" => match v.split_once('=') {
                Some((k, val)) => c.config.labels.get(k).is_some_and(|x| x == val),
                None => c.config.labels.contains_key(v.as_str()),
            },
            "ancestor" => {
                let img = c.config.image.as_str();
                img == v
                    || img.strip_suffix(":latest") == Some(v.as_str())
                    || v.strip_suffix(":latest") == Some(img)
                    || c.image
                        .trim_start_matches("sha256:")
                        .starts_with(v.trim_start_matches("sha256:"))
            }
            "exited" => {
                c.state.status == tug::container::Status::Exited
                    && v.parse() == Ok(c.state.exit_code)
            }
            "health" => {
                c.state
                    .health
                    .as_ref()
                    .map_or("none", |h| h.status.as_str())
                    == v
            }
            _ => false,
        };
        if key == "label" || values.is_empty() {
            values.iter().all(one)
        } else {
            values.iter().any(one)
        }
    })
}

/// Checks a `ps` filter as Docker's daemon does: the key is one `ps` knows, and a
/// `health` or `status` value one of its states.
pub(crate) fn check_filter(k: &str, v: &str) -> Result<(), String> {
    match k {
        "name" | "id" | "status" | "label" | "ancestor" | "exited" | "health" | "network"
        | "volume" | "before" | "since" => {}
        other => return Err(format!("invalid filter '{other}'")),
    }
    if k == "health" && !["starting", "healthy", "unhealthy", "none"].contains(&v) {
        return Err(format!("Unrecognised filter value for health: {v}"));
    }
    if k == "status"
        && ![
            "created",
            "restarting",
            "running",
            "removing",
            "paused",
            "exited",
            "dead",
        ]
        .contains(&v)
    {
        return Err(format!(
            "invalid filter 'status={v}': must be one of created, restarting, running, removing, paused, exited, dead"
        ));
    }
    if k == "exited" && v.parse::<i32>().is_err() {
        return Err(format!(
            "invalid filter 'exited={v}': an exit code is a number"
        ));
    }
    Ok(())
}

fn parse_filters(f: &[String]) -> Result<BTreeMap<String, Vec<String>>, CliError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in f {
        let (k, v) = super::filters::pair(item)?;
        check_filter(k, v).map_err(CliError::usage)?;
        out.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(out)
}

const TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

pub fn ps(engine: &Engine, a: PsArgs) -> CliResult {
    let filters = parse_filters(&a.filter)?;
    let last = if a.latest { Some(1) } else { a.last };
    let mut list: Vec<Container> = engine
        .containers()?
        .into_iter()
        .filter(|c| {
            a.all
                || last.is_some()
                || c.state.running
                || filters.contains_key("status")
                || filters.contains_key("exited")
        })
        .collect();
    let mut kept = Vec::new();
    let created_of = |n: &str| engine.container(n).ok().map(|c| c.created);
    for c in list.drain(..) {
        if matches(&c, &filters, created_of) {
            kept.push(c);
        }
    }
    if let Some(n) = last {
        kept.truncate(n);
    }
    let mut out = std::io::stdout().lock();
    if a.quiet {
        use std::io::Write;
        for c in &kept {
            let id = if a.no_trunc {
                c.id.as_str()
            } else {
                c.id.short()
            };
            writeln!(out, "{id}").map_err(|e| CliError::other(e.to_string()))?;
        }
        return Ok(0);
    }
    let sizes = if a.size {
        engine
            .container_sizes(&kept)?
            .into_iter()
            .map(Some)
            .collect()
    } else {
        vec![None; kept.len()]
    };
    let rows: Vec<serde_json::Value> = kept
        .iter()
        .zip(sizes)
        .map(|(c, s)| row(c, a.no_trunc, s))
        .collect();
    let table_with_size = format!("{TABLE}\t{{{{.Size}}}}");
    let format = match (a.format.as_deref(), a.size) {
        (None | Some("table"), false) => TABLE,
        (None | Some("table"), true) => table_with_size.as_str(),
        (Some(f), _) => f,
    };
    let headers = BTreeMap::from([
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
    ]);
    format::format_rows(&mut out, format, &headers, &rows)?;
    Ok(0)
}
