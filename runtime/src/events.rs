//! The events journal behind `tug events`: with no daemon to keep events in memory,
//! every tug process (the CLI, the shims) appends what it did to one file under the
//! state root, `events.jsonl`, one JSON object a line in Docker's `events.Message`
//! form. One `write` of one line per event, on a file opened with `O_APPEND`, so that
//! writers never interleave. Past [`MAX_JOURNAL`] bytes the journal moves to
//! `events.jsonl.1` (replacing the older one), so it stays bounded.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The journal's file name under the state root.
pub const JOURNAL: &str = "events.jsonl";
/// The size past which the journal is rotated.
pub const MAX_JOURNAL: u64 = 4 << 20;

/// `Actor`: what the event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, as Docker's API and `events --format '{{json .}}'` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The action (Docker's deprecated `status`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The actor's id (deprecated `id`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// A container's image (deprecated `from`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event of `kind` (`container`, `image`, `network`, `volume`) happening now.
    pub fn new(kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let legacy = matches!(kind, "container" | "image");
        Event {
            status: if legacy { action.into() } else { String::new() },
            id: if legacy { id.into() } else { String::new() },
            from: if kind == "container" {
                attributes.get("image").cloned().unwrap_or_default()
            } else {
                String::new()
            },
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        }
    }

    /// When it happened.
    pub fn at(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_nanos(self.time_nano.max(0) as u64)
    }

    /// Docker's line: `<time> <type> <action> <id> (<k>=<v>, ...)`.
    pub fn line(&self) -> String {
        let time = humantime::format_rfc3339_nanos(self.at()).to_string();
        let mut s = format!("{time} {} {} {}", self.kind, self.action, self.actor.id);
        if !self.actor.attributes.is_empty() {
            let attrs: Vec<String> = self
                .actor
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s.push_str(&format!(" ({})", attrs.join(", ")));
        }
        s
    }
}

/// Appends `event` to the journal of state root `root`. Best effort: an event that
/// cannot be written is lost, never the operation that made it.
pub fn record(root: &Path, event: &Event) {
    let path = root.join(JOURNAL);
    let Ok(mut line) = serde_json::to_vec(event) else {
        return;
    };
    line.push(b'\n');
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_JOURNAL) {
        let _ = std::fs::rename(&path, rotated(&path));
    }
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&path) {
        let _ = f.write_all(&line);
    }
}

/// Shorthand for [`record`] of a new event.
pub fn emit(root: &Path, kind: &str, action: &str, id: &str, attrs: BTreeMap<String, String>) {
    record(root, &Event::new(kind, action, id, attrs));
}

fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

/// A reader of the journal that picks up appended events (`events` without `--until`).
pub struct JournalReader {
    path: PathBuf,
    offset: u64,
    started: bool,
}

impl JournalReader {
    /// A reader of the journal of state root `root`, from its first event (the rotated
    /// file's included).
    pub fn open(root: &Path) -> JournalReader {
        JournalReader {
            path: root.join(JOURNAL),
            offset: 0,
            started: false,
        }
    }

    /// The events appended since the last call (all of them at the first).
    pub fn read_new(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            read_lines(&rotated(&self.path), 0, &mut out);
        }
        let len = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Rotated since: the rest of the old file, then the new one from the start.
            read_lines(&rotated(&self.path), self.offset, &mut out);
            self.offset = 0;
        }
        self.offset = read_lines(&self.path, self.offset, &mut out);
        out
    }
}

/// Reads whole lines of `path` from `offset`; returns the offset after the last one.
fn read_lines(path: &Path, offset: u64, out: &mut Vec<Event>) -> u64 {
    let Ok(mut f) = std::fs::File::open(path) else {
        return offset;
    };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return offset;
    }
    let mut r = BufReader::new(f);
    let mut at = offset;
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            // A line still being written: read it next time.
            Ok(_) if !line.ends_with('\n') => break,
            Ok(n) => {
                at += n as u64;
                if let Ok(e) = serde_json::from_str(&line) {
                    out.push(e);
                }
            }
        }
    }
    at
}

/// `events --filter`: keys and'ed, values of one key or'ed, as Docker's.
#[derive(Debug, Clone, Default)]
pub struct EventFilter(pub BTreeMap<String, Vec<String>>);

impl EventFilter {
    /// Parses `KEY=VALUE` filters; the keys Docker's `events` knows.
    pub fn parse(filters: &[String]) -> Result<EventFilter, String> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in filters {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| format!("bad format of filter (expected name=value): {f}"))?;
            match k {
                "container" | "event" | "image" | "label" | "type" | "network" | "volume"
                | "scope" => m.entry(k.into()).or_default().push(v.into()),
                _ => return Err(format!("invalid filter '{k}'")),
            }
        }
        Ok(EventFilter(m))
    }

    /// Whether `e` passes.
    pub fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
        self.0.iter().all(|(k, values)| {
            values.iter().any(|v| match k.as_str() {
                "type" => e.kind == *v,
                "event" => e.action == *v || e.action.split(':').next() == Some(v.as_str()),
                "scope" => e.scope == *v,
                "container" => {
                    e.kind == "container"
                        && (e.actor.id.starts_with(v.as_str()) || attr("name") == Some(v))
                }
                "image" => {
                    (e.kind == "image" && (e.actor.id == *v || attr("name") == Some(v)))
                        || (e.kind == "container" && attr("image") == Some(v))
                }
                "network" => {
                    e.kind == "network"
                        && (e.actor.id.starts_with(v.as_str()) || attr("name") == Some(v))
                }
                "volume" => e.kind == "volume" && e.actor.id == *v,
                "label" => match v.split_once('=') {
                    Some((lk, lv)) => attr(lk) == Some(lv),
                    None => attr(v).is_some(),
                },
                _ => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        let a = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut e = Event::new(kind, action, id, a);
        e.time_nano = 1_700_000_000_123_456_789;
        e.time = 1_700_000_000;
        e
    }

    #[test]
    fn lines_are_dockers() {
        let e = ev(
            "container",
            "die",
            "abc",
            &[("name", "web"), ("exitCode", "3"), ("image", "busybox")],
        );
        assert_eq!(
            e.line(),
            "2023-11-14T22:13:20.123456789Z container die abc (exitCode=3, image=busybox, name=web)"
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["status"], "die");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
        assert_eq!(v["timeNano"], 1_700_000_000_123_456_789i64);
    }

    #[test]
    fn filters_and_keys_or_values() {
        let e = ev(
            "container",
            "start",
            "abc123",
            &[("name", "web"), ("image", "busybox"), ("tier", "x")],
        );
        let f = |s: &[&str]| {
            EventFilter::parse(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        assert!(f(&["container=web", "event=start"]).matches(&e));
        assert!(f(&["container=abc", "event=stop", "event=start"]).matches(&e));
        assert!(!f(&["container=web", "event=stop"]).matches(&e));
        assert!(f(&["image=busybox", "type=container", "label=tier=x"]).matches(&e));
        assert!(!f(&["type=image"]).matches(&e));
        assert!(EventFilter::parse(&["bogus=1".into()]).is_err());
    }

    #[test]
    fn the_journal_is_read_back_and_followed() {
        let d = tempfile::tempdir().unwrap();
        let mut r = JournalReader::open(d.path());
        assert!(r.read_new().is_empty());
        emit(d.path(), "image", "tag", "sha256:1", BTreeMap::new());
        emit(d.path(), "container", "create", "c1", BTreeMap::new());
        let got: Vec<String> = r.read_new().into_iter().map(|e| e.action).collect();
        assert_eq!(got, ["tag", "create"]);
        emit(d.path(), "container", "start", "c1", BTreeMap::new());
        let got: Vec<String> = r.read_new().into_iter().map(|e| e.action).collect();
        assert_eq!(got, ["start"]);
    }
}
