//! `tug logs`: `-f`, `--tail`, `-t`, `--since`, `--until`; stdout entries to stdout and
//! stderr entries to stderr.

use std::io::Write;
use std::time::SystemTime;

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;
use tug::container::{LogsOptions, parse_log_time as parse_time};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs (a number or "all")
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

pub fn logs(engine: &Engine, a: LogsArgs) -> CliResult {
    let now = SystemTime::now();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<SystemTime>, CliError> {
        v.as_deref()
            .map(|s| parse_time(s, now).map_err(|e| CliError::usage(format!("--{flag}: {e}"))))
            .transpose()
    };
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => match n.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => {
                return Err(CliError::usage(format!(
                    "--tail {n}: must be a number or all"
                )));
            }
        },
    };
    let opts = LogsOptions {
        follow: a.follow,
        tail,
        since: time("since", &a.since)?,
        until: time("until", &a.until)?,
    };
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    engine.container_logs(&a.container, &opts, &mut |e| {
        let mut line = String::new();
        if a.timestamps {
            line.push_str(&e.time);
            line.push(' ');
        }
        if a.details {
            line.push_str(&e.details());
            line.push(' ');
        }
        line.push_str(&e.log);
        let _ = if e.stream == "stderr" {
            let mut w = stderr.lock();
            w.write_all(line.as_bytes()).and_then(|_| w.flush())
        } else {
            let mut w = stdout.lock();
            w.write_all(line.as_bytes()).and_then(|_| w.flush())
        };
    })?;
    Ok(0)
}
