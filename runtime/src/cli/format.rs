//! Output formatting shared by every command: Docker-style tables, `--format` Go templates,
//! JSON, human sizes and times.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gotmpl::{Template, Value};

use super::CliError;

/// Renders a Go template (`--format`) against a JSON value, as Docker does, with Docker's
/// extra functions: `json`, `join`, `split`, `upper`, `lower`, `title`, `truncate`, `pad`,
/// `println`.
pub fn render(template: &str, data: &serde_json::Value) -> Result<String, CliError> {
    let tpl = parse_template(template)?;
    execute(&tpl, template, data)
}

/// Parses a `--format` template once, for rendering many rows.
pub fn parse_template(template: &str) -> Result<Template, CliError> {
    // Docker lets `\t` and `\n` typed on a shell line stand for a tab and a newline.
    let source = template.replace("\\t", "\t").replace("\\n", "\n");
    Template::new("format")
        .funcs(docker_funcs())
        .parse(&source)
        .map_err(|e| CliError::usage(format!("invalid --format template {template:?}: {e}")))
}

/// Renders a parsed template against one JSON value.
pub fn execute(tpl: &Template, source: &str, data: &serde_json::Value) -> Result<String, CliError> {
    let value =
        gotmpl::to_value(data).map_err(|e| CliError::other(format!("--format {source:?}: {e}")))?;
    tpl.execute_to_string(&value)
        .map_err(|e| CliError::usage(format!("template {source:?} failed: {e}")))
}

fn docker_funcs() -> gotmpl::FuncMap {
    let mut fm = gotmpl::FuncMap::new();
    fm.insert(
        "json".into(),
        Arc::new(|args: &[Value]| {
            let v = args.first().cloned().unwrap_or(Value::Nil);
            Ok(Value::String(Arc::from(value_to_json(&v).to_string())))
        }),
    );
    fm.insert(
        "join".into(),
        Arc::new(|args: &[Value]| {
            let sep = args
                .get(1)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let items: Vec<String> = match args.first() {
                Some(Value::List(l)) => l.iter().map(plain).collect(),
                Some(v) => vec![plain(v)],
                None => vec![],
            };
            Ok(Value::String(Arc::from(items.join(&sep))))
        }),
    );
    fm.insert(
        "split".into(),
        Arc::new(|args: &[Value]| {
            let s = args.first().map(plain).unwrap_or_default();
            let sep = args.get(1).map(plain).unwrap_or_default();
            let parts: Vec<Value> = s
                .split(sep.as_str())
                .map(|p| Value::String(Arc::from(p)))
                .collect();
            Ok(Value::List(Arc::from(parts)))
        }),
    );
    fm.insert(
        "upper".into(),
        Arc::new(|args: &[Value]| {
            Ok(str_value(
                args.first().map(plain).unwrap_or_default().to_uppercase(),
            ))
        }),
    );
    fm.insert(
        "lower".into(),
        Arc::new(|args: &[Value]| {
            Ok(str_value(
                args.first().map(plain).unwrap_or_default().to_lowercase(),
            ))
        }),
    );
    fm.insert(
        "title".into(),
        Arc::new(|args: &[Value]| {
            let s = args.first().map(plain).unwrap_or_default();
            let mut c = s.chars();
            Ok(str_value(match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }))
        }),
    );
    fm.insert(
        "truncate".into(),
        Arc::new(|args: &[Value]| {
            let s = args.first().map(plain).unwrap_or_default();
            let n = args.get(1).and_then(|v| v.as_int()).unwrap_or(0).max(0) as usize;
            Ok(str_value(s.chars().take(n).collect()))
        }),
    );
    fm.insert(
        "pad".into(),
        Arc::new(|args: &[Value]| {
            let s = args.first().map(plain).unwrap_or_default();
            let l = args.get(1).and_then(|v| v.as_int()).unwrap_or(0).max(0) as usize;
            let r = args.get(2).and_then(|v| v.as_int()).unwrap_or(0).max(0) as usize;
            Ok(str_value(format!("{}{s}{}", " ".repeat(l), " ".repeat(r))))
        }),
    );
    fm
}

fn str_value(s: String) -> Value {
    Value::String(Arc::from(s))
}

/// A template value as Go's `fmt.Sprint` would print it (strings bare).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => (*i).into(),
        Value::Uint(u) => (*u).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::List(l) => serde_json::Value::Array(l.iter().map(value_to_json).collect()),
        Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.to_string(), value_to_json(v)))
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

/// Writes rows as a Docker-style table: columns padded by three spaces, the header first.
pub fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    // Go's tabwriter pads a cell to max(minwidth, text + padding); this crate to
    // max(minwidth, text) + padding: 7 + 3 gives Docker's minwidth(10).padding(3).
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
    writeln!(tw, "{}", header.join("\t"))?;
    for r in rows {
        writeln!(tw, "{}", r.join("\t"))?;
    }
    tw.flush()?;
    let buf = tw
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // tabwriter pads the last column too; Docker does not.
    for line in String::from_utf8_lossy(&buf).lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Prints rows through `--format`: a plain template renders one line per row; a template
/// starting with `table` prints a header (from `headers`, keyed by field name) and aligns
/// the columns; `json` prints each row as one JSON object per line (as `{{json .}}`).
pub fn format_rows(
    out: &mut dyn Write,
    format: &str,
    headers: &BTreeMap<&str, &str>,
    rows: &[serde_json::Value],
) -> Result<(), CliError> {
    let io = CliError::output;
    if format == "json" {
        for r in rows {
            writeln!(out, "{r}").map_err(io)?;
        }
        return Ok(());
    }
    if let Some(rest) = format.strip_prefix("table") {
        let body = rest.trim_start();
        let body = if body.is_empty() {
            return Err(CliError::usage(
                "--format table needs a template after \"table\"",
            ));
        } else {
            body
        };
        let tpl = parse_template(body)?;
        let header_line = header_for(body, headers);
        let mut lines = Vec::with_capacity(rows.len());
        for r in rows {
            lines.push(vec![execute(&tpl, body, r)?]);
        }
        let header_cols: Vec<&str> = vec![header_line.as_str()];
        return table(out, &header_cols, &lines).map_err(io);
    }
    let tpl = parse_template(format)?;
    for r in rows {
        writeln!(out, "{}", execute(&tpl, format, r)?).map_err(io)?;
    }
    Ok(())
}

/// The header of a `table` template: every `{{.Field}}` replaced by its column title.
fn header_for(body: &str, headers: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let action = rest[start + 2..start + end].trim();
        let field = action
            .trim_start_matches('.')
            .split_whitespace()
            .next()
            .unwrap_or("");
        let title = headers
            .get(field)
            .map(|s| s.to_string())
            .unwrap_or_else(|| field.to_uppercase());
        out.push_str(&title);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out.replace("\\t", "\t")
}

/// A size as Docker prints it: decimal units, three significant digits ("4.26MB", "0B").
pub fn human_size(bytes: u64) -> String {
    human_size_precision(bytes, 3)
}

/// [`human_size`] with `digits` significant digits (go-units' `HumanSizeWithPrecision`).
pub fn human_size_precision(bytes: u64, digits: usize) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < units.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    // Go's "%.3g": three significant digits, trailing zeros dropped.
    let int_digits = if size < 1.0 {
        1
    } else {
        size.log10().floor() as usize + 1
    };
    let decimals = digits.saturating_sub(int_digits);
    let mut s = format!("{size:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", units[i])
}

/// How long ago a time was, as Docker says it ("3 seconds ago", "2 weeks ago").
pub fn time_ago(t: SystemTime) -> String {
    let d = SystemTime::now()
        .duration_since(t)
        .unwrap_or(Duration::ZERO);
    format!("{} ago", tug::human_duration(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(1_000_000), "1MB");
        assert_eq!(human_size(74_800_000), "74.8MB");
        // `system df -v`'s UNIQUE SIZE has four digits.
        assert_eq!(human_size_precision(114_400_000, 4), "114.4MB");
        assert_eq!(human_size_precision(1_983_000, 4), "1.983MB");
        assert_eq!(human_size_precision(2_000_000, 4), "2MB");
    }

    #[test]
    fn templates_have_docker_functions() {
        let data = serde_json::json!({"Repository": "busybox", "Tags": ["a", "b"], "Config": {"Env": ["A=1"]}});
        assert_eq!(render("{{.Repository}}", &data).unwrap(), "busybox");
        assert_eq!(render("{{join .Tags \",\"}}", &data).unwrap(), "a,b");
        assert_eq!(render("{{json .Config.Env}}", &data).unwrap(), "[\"A=1\"]");
        assert_eq!(render("{{upper .Repository}}", &data).unwrap(), "BUSYBOX");
        assert!(render("{{.Repository", &data).is_err());
    }

    #[test]
    fn table_format_prints_header() {
        let mut out = Vec::new();
        let headers = BTreeMap::from([("Repository", "REPOSITORY"), ("Tag", "TAG")]);
        let rows = vec![serde_json::json!({"Repository": "busybox", "Tag": "latest"})];
        format_rows(
            &mut out,
            "table {{.Repository}}\\t{{.Tag}}",
            &headers,
            &rows,
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("REPOSITORY"), "{s}");
        assert!(s.contains("busybox"), "{s}");
    }
}
