//! `tug events`: the events every tug process journals (no daemon), filtered, in
//! Docker's line form or through `--format`.

use std::io::Write;
use std::time::SystemTime;

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;
use tug::container::parse_log_time as parse_time;
use tug::events::EventFilter;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Filter output based on conditions provided (container, event, image, label, type, network, volume)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template ('json': one JSON line per event)
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
}

pub fn events(engine: &Engine, a: EventsArgs) -> CliResult {
    let now = SystemTime::now();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<SystemTime>, CliError> {
        v.as_deref()
            .map(|s| parse_time(s, now).map_err(|e| CliError::usage(format!("--{flag}: {e}"))))
            .transpose()
    };
    let (since, until) = (time("since", &a.since)?, time("until", &a.until)?);
    let filter = EventFilter::parse(&a.filter).map_err(CliError::usage)?;
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(super::format::parse_template("{{json .}}")?),
        Some(f) => Some(super::format::parse_template(f)?),
    };
    let source = a.format.clone().unwrap_or_default();
    let json = matches!(source.trim(), "json" | "{{json .}}");
    let mut failed = None;
    engine.events(&filter, since, until, &mut |e| {
        let line = match &template {
            None => Ok(e.line()),
            Some(t) => serde_json::to_value(e)
                .map_err(|err| CliError::other(err.to_string()))
                .map(|v| if json { v } else { with_go_names(v) })
                .and_then(|v| super::format::execute(t, &source, &v)),
        };
        let written = line.and_then(|l| {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{l}")
                .and_then(|_| out.flush())
                .map_err(CliError::output)
        });
        match written {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// The event with the Go field names Docker's templates use (`{{.TimeNano}}`,
/// `{{.ID}}`, `{{.Status}}`) beside its JSON names (`timeNano`, `id`, `status`).
fn with_go_names(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        for (json, go) in [
            ("status", "Status"),
            ("id", "ID"),
            ("from", "From"),
            ("scope", "Scope"),
            ("time", "Time"),
            ("timeNano", "TimeNano"),
        ] {
            let value = o.get(json).cloned().unwrap_or_else(|| "".into());
            o.insert(go.into(), value);
        }
    }
    v
}
