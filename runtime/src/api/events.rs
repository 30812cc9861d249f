//! `GET /events`: tug's event journal (see [`tug::events`]), which every tug process
//! writes (the CLI, the shims, this server through the Engine), as Docker's event JSON
//! lines: filtered, from `since` (else from now on) to `until` (else followed until the
//! client goes). So `docker events` shows what `tug run` in another terminal did, too.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::{Response, StatusCode};
use tug::events::EventFilter;

use super::Server;
use super::body::{channel, empty};
use super::error::{ApiError, ApiResult};
use super::query::Query;

/// A `since`/`until` value: Unix seconds (with a fraction), RFC 3339, or a duration ago.
fn parse_time(s: &str) -> Result<SystemTime, ApiError> {
    tug::container::parse_log_time(s, SystemTime::now())
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET /events?since=&until=&filters=`.
pub async fn events(server: Arc<Server>, query: Query) -> ApiResult {
    let filters = query.filters().map_err(ApiError::bad_request)?;
    let pairs: Vec<String> = filters
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}")))
        .collect();
    let filter = EventFilter::parse(&pairs).map_err(ApiError::bad_request)?;
    let time = |key: &str| {
        query
            .get(key)
            .filter(|s| !s.is_empty())
            .map(parse_time)
            .transpose()
    };
    // Without `since`, from the request on (not from when the reading thread starts).
    let since = Some(time("since")?.unwrap_or_else(SystemTime::now));
    let until = time("until")?;
    let (tx, body) = channel();
    // The journal is read on a blocking thread (the Engine is synchronous); it ends at
    // `until`, or once the client went (the channel closed).
    tokio::task::spawn_blocking(move || {
        let alive = || !tx.is_closed();
        let _ = server
            .engine
            .events_while(&filter, since, until, &alive, &mut |e| {
                let Ok(mut line) = serde_json::to_vec(e) else {
                    return true;
                };
                line.push(b'\n');
                tx.blocking_send(Bytes::from(line)).is_ok()
            });
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(empty())))
}
