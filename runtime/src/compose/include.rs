//! `include:`: other compose files whose services, networks and volumes become part of
//! the project, each read relative to its own directory (its relative paths are made
//! absolute before it joins). A name the including file also defines is an error, as
//! in compose.

use std::path::{Path, PathBuf};

use yaml_serde::{Mapping, Value};

use super::Error;
use super::load::clean;

/// Reads one included file: its name for errors, its text, and its value (parsed and
/// interpolated).
pub type Reader<'a> = dyn Fn(&Path) -> Result<(String, String, Value), Error> + 'a;

fn bad(file: &str, index: usize, message: String) -> Error {
    Error::Invalid {
        file: file.to_string(),
        line: None,
        path: format!("include[{index}]"),
        message,
    }
}

/// Replaces `value`'s `include:` (of file `file` in `dir`) by the included files'
/// resources; their names and texts are added to `texts` (for errors' lines).
pub fn expand(
    value: &mut Value,
    file: &str,
    dir: &Path,
    read: &Reader,
    texts: &mut Vec<(String, String)>,
    depth: usize,
) -> Result<(), Error> {
    let Some(list) = value.as_mapping_mut().and_then(|m| m.remove("include")) else {
        return Ok(());
    };
    if depth > 8 {
        return Err(bad(file, 0, "includes nest too deep (a cycle?)".into()));
    }
    let Value::Sequence(items) = list else {
        return Err(bad(file, 0, "include must be a list".into()));
    };
    for (i, item) in items.into_iter().enumerate() {
        let (paths, project_dir) = match item {
            Value::String(p) => (vec![p], None),
            Value::Mapping(m) => {
                for k in m.keys() {
                    if !matches!(k.as_str(), Some("path" | "project_directory" | "env_file")) {
                        return Err(bad(file, i, format!("unknown key {k:?}")));
                    }
                }
                let paths = match m.get("path") {
                    Some(Value::String(p)) => vec![p.clone()],
                    Some(Value::Sequence(s)) => s
                        .iter()
                        .filter_map(|p| p.as_str().map(String::from))
                        .collect(),
                    _ => return Err(bad(file, i, "path is required".into())),
                };
                let pd = m
                    .get("project_directory")
                    .and_then(Value::as_str)
                    .map(PathBuf::from);
                (paths, pd)
            }
            _ => return Err(bad(file, i, "must be a path or a mapping".into())),
        };
        let first = paths
            .first()
            .map(|p| clean(&dir.join(p)))
            .unwrap_or_default();
        let base = project_dir
            .map(|d| clean(&dir.join(d)))
            .unwrap_or_else(|| first.parent().map(Path::to_path_buf).unwrap_or_default());
        let mut included = Value::Mapping(Mapping::new());
        for p in &paths {
            let path = clean(&dir.join(p));
            let (name, text, mut v) = read(&path)?;
            let sub_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            expand(&mut v, &name, &sub_dir, read, texts, depth + 1)?;
            absolutize(&mut v, &base);
            texts.push((name, text));
            super::merge::merge(&mut included, v);
        }
        for section in ["services", "networks", "volumes"] {
            let Some(theirs) = included.get(section).and_then(Value::as_mapping).cloned() else {
                continue;
            };
            let Some(top) = value.as_mapping_mut() else {
                continue;
            };
            let ours = top
                .entry(Value::String(section.into()))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            if ours.is_null() {
                *ours = Value::Mapping(Mapping::new());
            }
            let Some(ours) = ours.as_mapping_mut() else {
                continue;
            };
            for (k, v) in theirs {
                if ours.contains_key(&k) {
                    let name = k.as_str().unwrap_or_default();
                    return Err(bad(
                        file,
                        i,
                        format!("{section}.{name} conflicts with an included one"),
                    ));
                }
                ours.insert(k, v);
            }
        }
    }
    Ok(())
}

/// `p` made absolute against `base` when it is relative (`./x`, `../x`, `x/y`).
fn abs(p: &str, base: &Path) -> String {
    if p.starts_with('/') || p.contains("://") {
        p.to_string()
    } else if let Some(rest) = p.strip_prefix("~/") {
        format!("~/{rest}")
    } else {
        clean(&base.join(p)).display().to_string()
    }
}

/// Makes the relative paths of an included file's services absolute against its
/// directory: build contexts, env files, bind mounts' sources.
fn absolutize(v: &mut Value, base: &Path) {
    let Some(services) = v.get_mut("services").and_then(Value::as_mapping_mut) else {
        return;
    };
    for (_, s) in services.iter_mut() {
        let Some(s) = s.as_mapping_mut() else {
            continue;
        };
        match s.get_mut("build") {
            Some(Value::String(c)) => *c = abs(c, base),
            Some(Value::Mapping(b)) => match b.get_mut("context") {
                Some(Value::String(c)) => *c = abs(c, base),
                _ => {
                    b.insert("context".into(), Value::String(abs(".", base)));
                }
            },
            _ => {}
        }
        match s.get_mut("env_file") {
            Some(Value::String(f)) => *f = abs(f, base),
            Some(Value::Sequence(fs)) => {
                for f in fs.iter_mut() {
                    if let Value::String(x) = f {
                        *x = abs(x, base);
                    }
                }
            }
            _ => {}
        }
        if let Some(Value::Sequence(vols)) = s.get_mut("volumes") {
            for m in vols.iter_mut() {
                match m {
                    Value::String(spec) if spec.starts_with('.') => {
                        if let Some((src, rest)) = spec.split_once(':') {
                            *spec = format!("{}:{rest}", abs(src, base));
                        }
                    }
                    Value::Mapping(long) => {
                        let bind = long.get("type").and_then(Value::as_str) == Some("bind");
                        if bind && let Some(Value::String(src)) = long.get_mut("source") {
                            *src = abs(src, base);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
