//! `GET /containers/{id}/logs`: Docker's multiplexed frames (raw bytes with a TTY),
//! read once or followed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::{Response, StatusCode};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tug::container::{LogEntry, LogsOptions};

use super::Server;
use super::body::{channel, mux_frame};
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::router::blocking;

/// `GET /containers/{id}/logs?stdout=&stderr=&follow=&timestamps=&details=&tail=&since=&until=`:
/// multiplexed frames, or the raw bytes of a TTY container.
pub async fn logs(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let (stdout, stderr) = (query.flag("stdout", false), query.flag("stderr", false));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let timestamps = query.flag("timestamps", false);
    let details = query.flag("details", false);
    let now = SystemTime::now();
    let time = |key: &str| -> Result<Option<SystemTime>, ApiError> {
        match query.get(key).filter(|s| !s.is_empty() && *s != "0") {
            None => Ok(None),
            Some(s) => tug::container::parse_log_time(s, now)
                .map(Some)
                .map_err(|e| ApiError::bad_request(e.to_string())),
        }
    };
    let opts = LogsOptions {
        follow: query.flag("follow", false),
        tail: query
            .get("tail")
            .filter(|t| *t != "all")
            .and_then(|t| t.parse().ok()),
        since: time("since")?,
        until: time("until")?,
    };
    let name = id.to_string();
    let c = blocking(&server, move |e| Ok(e.container(&name)?)).await?;
    if c.host_config.log_config.kind == "none" {
        // Docker's answer for a driver that keeps nothing to read.
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "configured logging driver does not support reading",
        ));
    }
    let tty = c.config.tty;
    let (tx, body) = channel();
    let cid = c.id.to_string();
    let frame = move |entry: &LogEntry| -> Option<Bytes> {
        let is_err = entry.stream == "stderr";
        if (is_err && !stderr) || (!is_err && !stdout) {
            return None;
        }
        let mut text = Vec::new();
        if timestamps {
            text.extend_from_slice(entry.time.as_bytes());
            text.push(b' ');
        }
        if details {
            text.extend_from_slice(entry.details().as_bytes());
            text.push(b' ');
        }
        text.extend_from_slice(entry.log.as_bytes());
        Some(Bytes::from(if tty {
            text
        } else {
            mux_frame(if is_err { 2 } else { 1 }, &text)
        }))
    };
    if opts.follow {
        tokio::spawn(follow_logs(server, cid, opts, tx, frame));
    } else {
        let engine = server.engine.clone();
        tokio::task::spawn_blocking(move || {
            let _ = engine.container_logs(&cid, &opts, &mut |entry| {
                if let Some(chunk) = frame(entry) {
                    let _ = tx.blocking_send(chunk);
                }
            });
        });
    }
    let kind = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", kind)
        .body(body)
        .unwrap_or_else(|_| Response::new(super::body::empty())))
}

/// How often a follower without an inotify watch looks at the log.
const POLL: Duration = Duration::from_millis(50);

/// How often a watched follower looks anyway (for a client gone while all is quiet).
const WATCHED_POLL: Duration = Duration::from_millis(500);

/// `logs?follow=1`: the current log file's entries (`tail`, `since`, `until` applied),
/// then each new one while the container runs; it stops when the client goes, also
/// while the container is quiet (a cursor read when the shim writes, no thread held).
async fn follow_logs(
    server: Arc<Server>,
    cid: String,
    opts: LogsOptions,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    frame: impl Fn(&LogEntry) -> Option<Bytes> + Send + 'static,
) {
    let id = cid.clone();
    let Ok(mut cursor) = blocking(&server, move |e| Ok(e.log_cursor(&id, 0)?)).await else {
        return;
    };
    let in_range = |e: &LogEntry| {
        let at = humantime::parse_rfc3339_weak(&e.time).ok();
        opts.since.is_none_or(|s| at.is_none_or(|t| t >= s))
            && opts.until.is_none_or(|u| at.is_none_or(|t| t <= u))
    };
    // Woken by the shim's writes into the container's dir (a log entry, the record at
    // the exit); the timer only backs up a watch that could not be had.
    let id = cid.clone();
    let watch = blocking(&server, move |e| Ok(e.log_watch(&id)))
        .await
        .ok()
        .flatten()
        .and_then(|w| {
            // SAFETY: the watch owns its inotify fd for as long as it lives, and its
            // `as_raw_fd` always gives that fd.
            unsafe { AsyncFd::register_with_interest(w, Interest::READABLE) }.ok()
        });
    let mut first = true;
    loop {
        let id = cid.clone();
        let running = blocking(&server, move |e| {
            Ok(e.container(&id)
                .is_ok_and(|c| c.state.running || c.state.restarting))
        })
        .await
        .unwrap_or(false);
        // Read after the look at the state, so that what came before an exit is sent.
        let Ok((entries, back)) = tokio::task::spawn_blocking(move || {
            let entries = cursor.read_new();
            (entries, cursor)
        })
        .await
        else {
            return;
        };
        cursor = back;
        let mut entries: Vec<LogEntry> = entries.into_iter().filter(|e| in_range(e)).collect();
        if first && let Some(n) = opts.tail {
            let skip = entries.len().saturating_sub(n);
            entries.drain(..skip);
        }
        first = false;
        for e in &entries {
            if let Some(chunk) = frame(e)
                && tx.send(chunk).await.is_err()
            {
                return;
            }
        }
        if !running || tx.is_closed() {
            return;
        }
        match &watch {
            Some(w) => {
                tokio::select! {
                    ready = w.readable() => match ready {
                        Ok(mut guard) => {
                            guard.get_inner().drain();
                            guard.clear_ready();
                        }
                        Err(_) => tokio::time::sleep(POLL).await,
                    },
                    _ = tokio::time::sleep(WATCHED_POLL) => {}
                }
            }
            None => tokio::time::sleep(POLL).await,
        }
    }
}
