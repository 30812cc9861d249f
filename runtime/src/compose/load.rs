//! Loading a project as `docker compose` does: find the files, read `.env`, parse each
//! file (YAML anchors and `<<` merges applied), interpolate variables, merge the files in
//! order, name the project, and build the model.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use yaml_serde::Value;

use super::Error;
use super::extends::Extends;
use super::include;
use super::interpolate::interpolate;
use super::locate::Seg;
use super::merge::merge;
use super::model::Project;
use super::node::{Node, Source};
use super::parse::{self, Context};

/// The file names `docker compose` looks for, in its order.
pub const DEFAULT_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// What selects and names a project (compose's global flags and the environment).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f`: the files, in order; empty for the default file (and its override).
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_dir: Option<PathBuf>,
    /// `--env-file`: replaces the project dir's `.env`.
    pub env_files: Vec<PathBuf>,
    /// `--profile`: profiles to enable (with `COMPOSE_PROFILES`).
    pub profiles: Vec<String>,
    /// The process environment (passed in so loading is a pure function).
    pub environ: BTreeMap<String, String>,
    /// The directory relative paths start from (the process's current dir).
    pub cwd: PathBuf,
}

/// `p` without `.` and `..` steps (no symlinks are resolved).
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// A project name as compose normalises it: lower case, only `a-z0-9_-`, starting with a
/// letter or digit.
pub fn normalize_name(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    s.trim_start_matches(['_', '-']).to_string()
}

/// A `.env` file: `KEY=VALUE` lines, `export` allowed, `#` comments, quotes removed.
pub fn parse_dotenv(file: &str, text: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(Error::Invalid {
                file: file.into(),
                line: Some(n + 1),
                path: String::new(),
                message: format!("invalid variable name {k:?}"),
            });
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v[1..v.len() - 1].to_string()
        } else {
            // An unquoted value ends at ` #`.
            v.split(" #").next().unwrap_or(v).trim_end().to_string()
        };
        out.push((k.to_string(), v));
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Io(path.display().to_string(), e))
}

/// The files to read: `-f`'s, or the first default file found in `dir` and its override.
fn files(opts: &LoadOptions, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    if !opts.files.is_empty() {
        return Ok(opts
            .files
            .iter()
            .map(|f| clean(&opts.cwd.join(f)))
            .collect());
    }
    if let Some(list) = opts.environ.get("COMPOSE_FILE") {
        let sep = opts
            .environ
            .get("COMPOSE_PATH_SEPARATOR")
            .map_or(":", |s| s.as_str());
        return Ok(list.split(sep).map(|f| clean(&opts.cwd.join(f))).collect());
    }
    for name in DEFAULT_FILES {
        let f = dir.join(name);
        if f.is_file() {
            let mut out = vec![f];
            let stem = name.rsplit_once('.').map_or(*name, |(s, _)| s);
            for ext in ["yaml", "yml"] {
                let o = dir.join(format!("{stem}.override.{ext}"));
                if o.is_file() {
                    out.push(o);
                    break;
                }
            }
            return Ok(out);
        }
    }
    Err(Error::NoFile(dir.display().to_string()))
}

/// Replaces every string of `v` by its interpolation (keys are left as they are).
fn interpolate_value(
    v: &mut Value,
    path: &mut Vec<Seg>,
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    match v {
        Value::String(s) => {
            *s = interpolate(s, lookup).map_err(|e| {
                let src = Source {
                    files: vec![(file, text)],
                };
                Node {
                    v: &Value::Null,
                    path: path.clone(),
                    src: &src,
                }
                .err(e.to_string())
            })?;
        }
        Value::Sequence(items) => {
            for (i, x) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                interpolate_value(x, path, file, text, lookup)?;
                path.pop();
            }
        }
        Value::Mapping(m) => {
            for (k, x) in m.iter_mut() {
                let key = k.as_str().unwrap_or_default().to_string();
                if key.starts_with("x-") {
                    continue;
                }
                path.push(Seg::Key(key));
                interpolate_value(x, path, file, text, lookup)?;
                path.pop();
            }
        }
        Value::Tagged(t) => interpolate_value(&mut t.value, path, file, text, lookup)?,
        _ => {}
    }
    Ok(())
}

/// One file's value: parsed, merges applied, interpolated.
fn parse_file(
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, Error> {
    let mut v: Value = yaml_serde::from_str(text).map_err(|e| Error::Invalid {
        file: file.into(),
        line: e.location().map(|l| l.line()),
        path: String::new(),
        message: e.to_string(),
    })?;
    v.apply_merge().map_err(|e| Error::Invalid {
        file: file.into(),
        line: e.location().map(|l| l.line()),
        path: String::new(),
        message: e.to_string(),
    })?;
    if v.is_null() {
        v = Value::Mapping(Default::default());
    }
    if !v.is_mapping() {
        return Err(Error::Invalid {
            file: file.into(),
            line: Some(1),
            path: String::new(),
            message: "a compose file must be a mapping".into(),
        });
    }
    interpolate_value(&mut v, &mut Vec::new(), file, text, lookup)?;
    Ok(v)
}

/// Loads the project that `opts` select.
pub fn load(opts: &LoadOptions) -> Result<Project, Error> {
    let start_dir = opts
        .project_dir
        .as_ref()
        .map(|d| clean(&opts.cwd.join(d)))
        .unwrap_or_else(|| opts.cwd.clone());
    let files = files(opts, &start_dir)?;
    let working_dir = match &opts.project_dir {
        Some(_) => start_dir,
        None => files[0].parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    // Variables: the process environment over the `.env` file.
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let env_files: Vec<PathBuf> = if opts.env_files.is_empty() {
        let d = working_dir.join(".env");
        if d.is_file() { vec![d] } else { Vec::new() }
    } else {
        opts.env_files.iter().map(|f| opts.cwd.join(f)).collect()
    };
    for f in &env_files {
        let text = read(f)?;
        vars.extend(parse_dotenv(&f.display().to_string(), &text)?);
    }
    vars.extend(opts.environ.iter().map(|(k, v)| (k.clone(), v.clone())));
    let lookup = |k: &str| vars.get(k).cloned();

    let mut texts = Vec::new();
    for f in &files {
        texts.push((display_name(f, &opts.cwd), read(f)?));
    }
    let mut merged = Value::Mapping(Default::default());
    let mut included = Vec::new();
    let read_included = |f: &Path| -> Result<(String, String, Value), Error> {
        let name = display_name(f, &opts.cwd);
        let text = read(f)?;
        let v = parse_file(&name, &text, &lookup)?;
        Ok((name, text, v))
    };
    for ((name, text), f) in texts.iter().zip(&files) {
        let mut v = parse_file(name, text, &lookup)?;
        let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
        include::expand(&mut v, name, &dir, &read_included, &mut included, 0)?;
        merge(&mut merged, v);
    }
    texts.extend(included);
    let src = Source {
        files: texts
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect(),
    };
    let base_dir = files[0].parent().map(Path::to_path_buf).unwrap_or_default();
    let load_other = |f: &Path| -> Result<Value, Error> {
        let text = read(f)?;
        parse_file(&display_name(f, &opts.cwd), &text, &lookup)
    };
    Extends {
        dir: &base_dir,
        load: &load_other,
        src: &src,
    }
    .resolve(&mut merged)?;
    let root = Node::root(&merged, &src);
    let file_name = root
        .entries()?
        .into_iter()
        .find(|(k, _)| k == "name")
        .map(|(_, n)| n.str())
        .transpose()?;
    let name = if let Some(p) = &opts.project_name {
        let n = normalize_name(p);
        if n != *p {
            return Err(Error::BadName(p.clone()));
        }
        n
    } else if let Some(p) = vars.get("COMPOSE_PROJECT_NAME").filter(|p| !p.is_empty()) {
        normalize_name(p)
    } else if let Some(p) = file_name {
        normalize_name(&p)
    } else {
        normalize_name(
            &working_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
        )
    };
    if name.is_empty() {
        return Err(Error::BadName(String::new()));
    }
    let cx = Context {
        project: &name,
        working_dir: &working_dir,
        lookup: &lookup,
    };
    let mut project = parse::project(&root, &cx)?;
    project.name = name;
    project.working_dir = working_dir;
    project.config_files = files;
    // `env_file`s give values that `environment` overrides.
    for s in project.services.values_mut() {
        let mut env = BTreeMap::new();
        for f in &s.env_file {
            let text = read(f)?;
            for (k, v) in parse_dotenv(&f.display().to_string(), &text)? {
                env.insert(k, Some(v));
            }
        }
        env.append(&mut s.environment);
        s.environment = env;
    }
    // Services of profiles not enabled are not part of the project.
    let mut profiles = opts.profiles.clone();
    if let Some(p) = vars.get("COMPOSE_PROFILES") {
        profiles.extend(p.split(',').filter(|s| !s.is_empty()).map(String::from));
    }
    project.services.retain(|_, s| {
        s.profiles.is_empty()
            || s.profiles
                .iter()
                .any(|p| profiles.contains(p) || profiles.iter().any(|x| x == "*"))
    });
    Ok(project)
}

/// A file as errors name it: relative to the current dir when under it.
fn display_name(f: &Path, cwd: &Path) -> String {
    f.strip_prefix(cwd).unwrap_or(f).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_as_composes() {
        assert_eq!(normalize_name("My App.v2"), "myappv2");
        assert_eq!(normalize_name("_-x_y-1"), "x_y-1");
        assert_eq!(normalize_name("!!"), "");
    }

    #[test]
    fn dotenv_lines() {
        let v = parse_dotenv(
            "e",
            "# c\nA=1\nexport B='two words'\nC=\"q\"\nD=x # note\nE\n",
        )
        .unwrap();
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "q"),
            ("D", "x"),
            ("E", ""),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(v, want);
        assert!(
            parse_dotenv("e", "A B=1\n")
                .unwrap_err()
                .to_string()
                .starts_with("e:1:")
        );
    }
}
