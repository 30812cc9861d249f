//! `tug stats`, `tug pause` and `tug unpause`: the commands that read or freeze a
//! container's cgroup.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;

use super::{CliError, CliResult, format};
use tug::Engine;
use tug::container::ContainerStats;

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Format output using a Go template (or "table ...")
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `tug pause`: freezes each container; prints the names it paused.
pub fn pause(engine: &Engine, a: PauseArgs) -> CliResult {
    each(&a.containers, |n| engine.pause_container(n).map(|_| ()))
}

/// `tug unpause`: thaws each container.
pub fn unpause(engine: &Engine, a: PauseArgs) -> CliResult {
    each(&a.containers, |n| engine.unpause_container(n).map(|_| ()))
}

fn each(names: &[String], mut f: impl FnMut(&str) -> tug::Result<()>) -> CliResult {
    let mut code = 0;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("tug: {}", CliError::from(e).message);
                code = 1;
            }
        }
    }
    Ok(code)
}

/// How often the streaming table is redrawn, and the interval CPU % is measured over.
const INTERVAL: Duration = Duration::from_secs(1);

/// One sample: per container, its stats and the host's CPU time at that moment.
struct Sample {
    at_system_ns: u64,
    rows: Vec<ContainerStats>,
}

/// `tug stats`: a table of usage, redrawn every second until Ctrl-C, or once with
/// `--no-stream`.
pub fn stats(engine: &Engine, a: StatsArgs) -> CliResult {
    let format_str = match a.format.as_deref() {
        None | Some("") | Some("table") => DEFAULT_FORMAT.to_string(),
        Some(f) => f.to_string(),
    };
    // Fail on a bad template before sampling.
    format::parse_template(format_str.trim_start_matches("table"))?;
    let host = engine.host_info();
    let mut prev = sample(engine, &a)?;
    loop {
        let next_at = Instant::now() + INTERVAL;
        std::thread::sleep(next_at.saturating_duration_since(Instant::now()));
        let cur = sample(engine, &a)?;
        let rows = rows(&prev, &cur, &a, host.mem_total, host.ncpu as f64);
        let mut out = std::io::stdout().lock();
        if !a.no_stream {
            // Clear the screen and go home, as Docker's streaming stats does.
            let _ = write!(out, "\x1b[2J\x1b[H");
        }
        format::format_rows(&mut out, &format_str, &headers(), &rows)?;
        let _ = out.flush();
        if a.no_stream {
            return Ok(0);
        }
        prev = cur;
    }
}

const DEFAULT_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

fn headers() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("Container", "CONTAINER"),
        ("ID", "CONTAINER ID"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ])
}

fn sample(engine: &Engine, a: &StatsArgs) -> Result<Sample, CliError> {
    let names: Vec<String> = if a.containers.is_empty() {
        engine
            .containers()?
            .into_iter()
            .filter(|c| a.all || c.state.running)
            .map(|c| c.id.into())
            .collect()
    } else {
        a.containers.clone()
    };
    let at_system_ns = system_cpu_ns();
    let mut rows = Vec::new();
    for n in &names {
        match engine.container_stats(n) {
            Ok(s) => rows.push(s),
            // Removed between the listing and the read.
            Err(tug::Error::Container(tug::container::Error::NotFound(_)))
                if a.containers.is_empty() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Sample { at_system_ns, rows })
}

/// The rows of the table, as JSON objects with Docker's `--format` field names.
fn rows(
    prev: &Sample,
    cur: &Sample,
    a: &StatsArgs,
    host_mem: u64,
    ncpus: f64,
) -> Vec<serde_json::Value> {
    let system_delta = cur.at_system_ns.saturating_sub(prev.at_system_ns) as f64;
    let mut out = Vec::new();
    for r in &cur.rows {
        let c = &r.container;
        let s = r.stats.clone().unwrap_or_default();
        let before = prev
            .rows
            .iter()
            .find(|p| p.container.id == c.id)
            .and_then(|p| p.stats.as_ref())
            .map(|p| p.cpu_usage_ns)
            .unwrap_or(s.cpu_usage_ns);
        let cpu_delta = s.cpu_usage_ns.saturating_sub(before) as f64;
        let cpu = if system_delta > 0.0 && cpu_delta > 0.0 {
            cpu_delta / system_delta * ncpus * 100.0
        } else {
            0.0
        };
        let limit = match (r.stats.as_ref(), s.memory_limit) {
            (None, _) => 0,
            (Some(_), Some(l)) if host_mem == 0 || l < host_mem => l,
            (Some(_), _) => host_mem,
        };
        let mem_perc = if limit > 0 {
            s.memory_usage as f64 / limit as f64 * 100.0
        } else {
            0.0
        };
        let id = if a.no_trunc {
            c.id.to_string()
        } else {
            c.id.short().to_string()
        };
        let container = a
            .containers
            .iter()
            .find(|n| c.id.starts_with(n.as_str()) || c.short_name() == n.trim_start_matches('/'))
            .cloned()
            .unwrap_or_else(|| id.clone());
        out.push(serde_json::json!({
            "Container": container,
            "ID": id,
            "Name": c.short_name(),
            "CPUPerc": format!("{cpu:.2}%"),
            "MemUsage": format!("{} / {}", bytes_size(s.memory_usage), bytes_size(limit)),
            "MemPerc": format!("{mem_perc:.2}%"),
            "NetIO": format!("{} / {}", format::human_size(r.net.rx_bytes), format::human_size(r.net.tx_bytes)),
            "BlockIO": format!("{} / {}", format::human_size(s.block_read), format::human_size(s.block_write)),
            "PIDs": s.pids.to_string(),
        }));
    }
    out
}

/// The host's total CPU time in nanoseconds, from /proc/stat (as Docker computes
/// `system_cpu_usage`).
fn system_cpu_ns() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    // SAFETY: sysconf only reads a system value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    stat.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
        })
        .map(|ticks| ticks * (1_000_000_000 / hz))
        .unwrap_or(0)
}

/// A size in binary units with four significant digits, as Docker's `BytesSize`
/// ("1.5MiB", "7.629GiB", "0B").
pub fn bytes_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1024.0 && i < units.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    let int_digits = if size < 1.0 {
        1
    } else {
        size.log10().floor() as usize + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let mut s = format!("{size:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes_read_like_docker() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(1536 * 1024), "1.5MiB");
        assert_eq!(bytes_size(8_192_000_000), "7.629GiB");
        assert_eq!(bytes_size(512), "512B");
        assert_eq!(bytes_size(32 << 20), "32MiB");
    }
}
