//! A YAML value with its key path and file, so that every check of a compose file says
//! where the bad value is: `compose.yml:7: services.web.ports[0]: ...`.

use std::time::Duration;

use std::collections::BTreeMap;

use yaml_serde::Value;

use super::Error;
use super::locate::{self, Seg};

/// The files a (merged) value came from: each one's name as the user gave it, and its
/// text (to find lines). An error names the last file that holds the bad value's path.
pub struct Source<'a> {
    pub files: Vec<(&'a str, &'a str)>,
}

impl Source<'_> {
    /// The file and line of `path`: the last file that has the whole path, else the
    /// first file with a part of it.
    fn place(&self, path: &[Seg]) -> (String, Option<usize>) {
        if let Some((f, t)) = self
            .files
            .iter()
            .rev()
            .find(|(_, t)| locate::has_path(t, path))
        {
            return (f.to_string(), locate::line_of(t, path));
        }
        for (f, t) in &self.files {
            if let Some(line) = locate::line_of(t, path) {
                return (f.to_string(), Some(line));
            }
        }
        let f = self
            .files
            .first()
            .map(|(f, _)| f.to_string())
            .unwrap_or_default();
        (f, None)
    }
}

/// A value at a path of a source.
#[derive(Clone)]
pub struct Node<'a> {
    pub v: &'a Value,
    pub path: Vec<Seg>,
    pub src: &'a Source<'a>,
}

impl<'a> Node<'a> {
    pub fn root(v: &'a Value, src: &'a Source<'a>) -> Node<'a> {
        Node {
            v,
            path: Vec::new(),
            src,
        }
    }

    /// An error at this value.
    pub fn err(&self, message: impl Into<String>) -> Error {
        let (file, line) = self.src.place(&self.path);
        Error::Invalid {
            file,
            line,
            path: locate::display(&self.path),
            message: message.into(),
        }
    }

    fn child(&self, seg: Seg, v: &'a Value) -> Node<'a> {
        let mut path = self.path.clone();
        path.push(seg);
        Node {
            v,
            path,
            src: self.src,
        }
    }

    /// The entries of a mapping (`x-` keys skipped); an error for another type.
    pub fn entries(&self) -> Result<Vec<(String, Node<'a>)>, Error> {
        match self.v {
            Value::Mapping(m) => m
                .iter()
                .filter_map(|(k, v)| {
                    let key = match scalar(k) {
                        Some(k) => k,
                        None => return Some(Err(self.err("a key must be a string"))),
                    };
                    (!key.starts_with("x-"))
                        .then(|| Ok((key.clone(), self.child(Seg::Key(key), v))))
                })
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.err(format!("must be a mapping, not {}", kind(self.v)))),
        }
    }

    /// The `x-` entries of a mapping (extensions, which compose keeps and prints).
    pub fn extensions(&self) -> BTreeMap<String, Value> {
        let Value::Mapping(m) = self.v else {
            return BTreeMap::new();
        };
        m.iter()
            .filter_map(|(k, v)| {
                let key = scalar(k)?;
                key.starts_with("x-").then(|| (key, v.clone()))
            })
            .collect()
    }

    /// The entries of a mapping whose keys must all be in `allowed`.
    pub fn fields(&self, allowed: &[&str]) -> Result<Vec<(String, Node<'a>)>, Error> {
        let entries = self.entries()?;
        for (k, n) in &entries {
            if !allowed.contains(&k.as_str()) {
                return Err(n.err(format!("unknown key {k:?}")));
            }
        }
        Ok(entries)
    }

    /// The items of a sequence.
    pub fn items(&self) -> Result<Vec<Node<'a>>, Error> {
        match self.v {
            Value::Sequence(s) => Ok(s
                .iter()
                .enumerate()
                .map(|(i, v)| self.child(Seg::Index(i), v))
                .collect()),
            _ => Err(self.err(format!("must be a list, not {}", kind(self.v)))),
        }
    }

    pub fn is_null(&self) -> bool {
        self.v.is_null()
    }

    pub fn is_map(&self) -> bool {
        self.v.is_mapping()
    }

    pub fn is_seq(&self) -> bool {
        self.v.is_sequence()
    }

    /// A scalar as text (numbers and booleans too, as compose accepts them in strings).
    pub fn str(&self) -> Result<String, Error> {
        scalar(self.v).ok_or_else(|| self.err(format!("must be a string, not {}", kind(self.v))))
    }

    /// A scalar or null.
    pub fn opt_str(&self) -> Result<Option<String>, Error> {
        if self.is_null() {
            Ok(None)
        } else {
            self.str().map(Some)
        }
    }

    /// A list of scalars, or one scalar as a one-item list.
    pub fn str_or_list(&self) -> Result<Vec<String>, Error> {
        if self.is_seq() {
            self.items()?.iter().map(|n| n.str()).collect()
        } else {
            Ok(vec![self.str()?])
        }
    }

    /// A list of scalars.
    pub fn list(&self) -> Result<Vec<String>, Error> {
        self.items()?.iter().map(|n| n.str()).collect()
    }

    pub fn bool(&self) -> Result<bool, Error> {
        match self.v {
            Value::Bool(b) => Ok(*b),
            // After interpolation a boolean may be text.
            Value::String(s) if matches!(s.as_str(), "true" | "True" | "TRUE") => Ok(true),
            Value::String(s) if matches!(s.as_str(), "false" | "False" | "FALSE") => Ok(false),
            _ => Err(self.err(format!("must be a boolean, not {}", kind(self.v)))),
        }
    }

    pub fn uint(&self) -> Result<u64, Error> {
        match self.v {
            Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
            Value::String(s) if s.parse::<u64>().is_ok() => Ok(s.parse().unwrap_or_default()),
            _ => Err(self.err(format!("must be a whole number, not {}", kind(self.v)))),
        }
    }

    pub fn u32(&self) -> Result<u32, Error> {
        u32::try_from(self.uint()?).map_err(|_| self.err("is too large"))
    }

    pub fn float(&self) -> Result<f64, Error> {
        match self.v {
            Value::Number(n) => n.as_f64().ok_or_else(|| self.err("must be a number")),
            Value::String(s) => s
                .parse::<f64>()
                .map_err(|_| self.err(format!("{s:?} is not a number"))),
            _ => Err(self.err(format!("must be a number, not {}", kind(self.v)))),
        }
    }

    /// A Go-style duration (`1m30s`, `500ms`, `10s`).
    pub fn duration(&self) -> Result<Duration, Error> {
        let s = self.str()?;
        parse_duration(&s).ok_or_else(|| self.err(format!("{s:?} is not a duration (as 1m30s)")))
    }

    /// A size in bytes: a number, or text with a unit (`50M`, `1g`, `512kb`).
    pub fn bytes(&self) -> Result<i64, Error> {
        if let Value::Number(n) = self.v
            && let Some(b) = n.as_i64()
        {
            return Ok(b);
        }
        let s = self.str()?;
        parse_bytes(&s).ok_or_else(|| self.err(format!("{s:?} is not a size (as 50M)")))
    }

    /// A mapping of scalars, or a list of `KEY=VALUE` (`KEY` alone: no value).
    pub fn dict(&self) -> Result<Vec<(String, Option<String>)>, Error> {
        if self.is_seq() {
            return self
                .items()?
                .iter()
                .map(|n| {
                    let s = n.str()?;
                    Ok(match s.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (s, None),
                    })
                })
                .collect();
        }
        self.entries()?
            .into_iter()
            .map(|(k, n)| Ok((k, n.opt_str()?)))
            .collect()
    }
}

/// A scalar as compose reads it in a string's place.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

pub use crate::duration::{
    format_go_duration as format_duration, parse_go_duration as parse_duration,
};

/// Compose's byte sizes: `50M`, `1.5g`, `512kb`, `100` (bytes).
pub fn parse_bytes(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    let n = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let num: f64 = t[..n].parse().ok()?;
    let mult: f64 = match t[n..].trim() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024f64.powi(4),
        _ => return None,
    };
    Some((num * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_as_go_does() {
        for (s, out) in [
            ("1m30s", "1m30s"),
            ("90s", "1m30s"),
            ("10s", "10s"),
            ("500ms", "500ms"),
            ("1h", "1h0m0s"),
            ("1.5s", "1.5s"),
            ("0", "0s"),
        ] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), out, "{s}");
        }
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("ten s"), None);
    }

    #[test]
    fn sizes_take_compose_units() {
        assert_eq!(parse_bytes("50M"), Some(52_428_800));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("512kb"), Some(512 * 1024));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("lots"), None);
    }
}
