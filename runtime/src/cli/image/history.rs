//! `tug history`: IMAGE CREATED CREATED BY SIZE COMMENT, newest first.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Value, json};

use super::super::CliResult;
use super::super::format::{format_rows, human_size, table, time_ago};
use super::list::created_at;
use super::{HistoryArgs, out_err};
use tug::Engine;
use tug::image::{HistoryEntry, parse_time};

/// Docker's ellipsis: at most `max` characters, the last one `…` when cut.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// `tug history IMAGE`.
pub fn history(engine: &Engine, a: HistoryArgs) -> CliResult {
    let entries = engine.image_history(&a.image)?;
    let mut out = std::io::stdout().lock();
    let id = |e: &HistoryEntry| match &e.id {
        Some(d) if a.no_trunc => d.to_string(),
        Some(d) => d.short().to_string(),
        None => "<missing>".to_string(),
    };
    if a.quiet {
        for e in &entries {
            writeln!(out, "{}", id(e)).map_err(out_err)?;
        }
        return Ok(0);
    }
    let created = |e: &HistoryEntry| {
        let text = e.created.clone().unwrap_or_default();
        match parse_time(&text) {
            Some(t) if a.human => time_ago(t),
            Some(t) => humantime::format_rfc3339_seconds(t).to_string(),
            None => "N/A".to_string(),
        }
    };
    let size = |e: &HistoryEntry| {
        if a.human {
            human_size(e.size)
        } else {
            e.size.to_string()
        }
    };
    let created_by = |e: &HistoryEntry| {
        let s = e.created_by.replace('\t', " ");
        if a.no_trunc { s } else { ellipsis(&s, 45) }
    };
    match a.format.as_deref() {
        Some(f) if !f.is_empty() && f != "table" => {
            let values: Vec<Value> = entries
                .iter()
                .map(|e| {
                    json!({
                        "ID": id(e),
                        "CreatedSince": created(e),
                        "CreatedAt": created_at(e.created.as_deref().unwrap_or("")),
                        "CreatedBy": created_by(e),
                        "Size": size(e),
                        "Comment": e.comment,
                    })
                })
                .collect();
            if f == "json" {
                for v in &values {
                    writeln!(out, "{v}").map_err(out_err)?;
                }
                return Ok(0);
            }
            let headers = BTreeMap::from([
                ("ID", "IMAGE"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
                ("CreatedBy", "CREATED BY"),
                ("Size", "SIZE"),
                ("Comment", "COMMENT"),
            ]);
            format_rows(&mut out, f, &headers, &values)?;
        }
        _ => {
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| vec![id(e), created(e), created_by(e), size(e), e.comment.clone()])
                .collect();
            table(
                &mut out,
                &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
                &rows,
            )
            .map_err(out_err)?;
        }
    }
    Ok(0)
}
