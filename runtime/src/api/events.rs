//! `GET /events`: what happened through this server (containers created, started, died,
//! destroyed; images pulled, tagged, deleted; networks and volumes made and removed), as
//! Docker's event JSON lines, filtered, from a short history (`since`) and live. tug has
//! no daemon: what the `tug` CLI does beside the server is not seen here.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::Server;
use super::body::{channel, empty};
use super::error::{ApiError, ApiResult};
use super::query::Query;

/// How many past events `since` can replay.
const HISTORY: usize = 1024;

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub action: String,
    pub id: String,
    pub attributes: BTreeMap<String, String>,
    pub time: SystemTime,
}

impl Event {
    fn json(&self) -> Value {
        let nanos = self
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut v = json!({
            "Type": self.kind,
            "Action": self.action,
            "Actor": { "ID": self.id, "Attributes": self.attributes },
            "scope": "local",
            "time": nanos.as_secs(),
            "timeNano": nanos.as_nanos() as u64,
        });
        if self.kind == "container" {
            v["status"] = json!(self.action);
            v["id"] = json!(self.id);
            v["from"] = json!(self.attributes.get("image").cloned().unwrap_or_default());
        }
        v
    }

    /// Docker's `filters`: `type`, `event`, `container`, `image`, `network`, `volume`
    /// (any of the values), `label` (all of them).
    fn matches(&self, filters: &BTreeMap<String, Vec<String>>) -> bool {
        let attr = |k: &str| self.attributes.get(k).map(String::as_str).unwrap_or("");
        filters.iter().all(|(key, values)| {
            if key == "label" {
                return values.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => attr(k) == val,
                    None => self.attributes.contains_key(v.as_str()),
                });
            }
            values.is_empty()
                || values.iter().any(|v| match key.as_str() {
                    "type" => self.kind == v,
                    "event" => self.action == *v || self.action.starts_with(&format!("{v}:")),
                    "container" => {
                        self.kind == "container"
                            && (self.id.starts_with(v.as_str()) || attr("name") == v)
                    }
                    "image" => attr("image") == v || (self.kind == "image" && self.id == *v),
                    "network" | "volume" => {
                        self.kind == key && (self.id == *v || attr("name") == v)
                    }
                    _ => true,
                })
        })
    }
}

/// The server's events: a history and the live channel.
pub struct Events {
    history: Mutex<VecDeque<Event>>,
    live: broadcast::Sender<Event>,
}

impl Events {
    pub fn new() -> Events {
        Events {
            history: Mutex::new(VecDeque::new()),
            live: broadcast::channel(HISTORY).0,
        }
    }

    /// Records and sends an event.
    pub fn emit(&self, kind: &'static str, action: &str, id: &str, attrs: &[(&str, &str)]) {
        let e = Event {
            kind,
            action: action.to_string(),
            id: id.to_string(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            time: SystemTime::now(),
        };
        if let Ok(mut h) = self.history.lock() {
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(e.clone());
        }
        let _ = self.live.send(e);
    }
}

/// A `since`/`until` value: Unix seconds (with a fraction), RFC 3339, or a duration ago.
fn parse_time(s: &str) -> Result<SystemTime, ApiError> {
    tug::container::parse_log_time(s, SystemTime::now())
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET /events?since=&until=&filters=`.
pub async fn events(server: Arc<Server>, query: Query) -> ApiResult {
    let filters = query.filters().map_err(ApiError::bad_request)?;
    let since = query
        .get("since")
        .filter(|s| !s.is_empty())
        .map(parse_time)
        .transpose()?;
    let until = query
        .get("until")
        .filter(|s| !s.is_empty())
        .map(parse_time)
        .transpose()?;
    // Subscribed before the history is read: an event between the two comes twice at
    // most, never not at all; the live part skips what the history sent.
    let mut live = server.events.live.subscribe();
    let past: Vec<Event> = match since {
        None => Vec::new(),
        Some(since) => server
            .events
            .history
            .lock()
            .map(|h| h.iter().filter(|e| e.time >= since).cloned().collect())
            .unwrap_or_default(),
    };
    let (tx, body) = channel();
    tokio::spawn(async move {
        let before_until = |e: &Event| until.is_none_or(|u| e.time <= u);
        let mut last = None;
        for e in past
            .iter()
            .filter(|e| before_until(e) && e.matches(&filters))
        {
            if tx
                .send(Bytes::from(e.json().to_string() + "\n"))
                .await
                .is_err()
            {
                return;
            }
        }
        if let Some(e) = past.last() {
            last = Some(e.time);
        }
        loop {
            let left = match until {
                Some(u) => match u.duration_since(SystemTime::now()) {
                    Ok(d) => d,
                    Err(_) => return,
                },
                None => Duration::from_secs(3600),
            };
            let e = tokio::select! {
                e = live.recv() => e,
                _ = tokio::time::sleep(left) => {
                    if until.is_some() { return; }
                    continue;
                }
                _ = tx.closed() => return,
            };
            let e = match e {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            if last.is_some_and(|t| e.time <= t) || !before_until(&e) || !e.matches(&filters) {
                continue;
            }
            if tx
                .send(Bytes::from(e.json().to_string() + "\n"))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(empty())))
}
