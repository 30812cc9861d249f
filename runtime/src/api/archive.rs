//! `docker cp`: `HEAD|GET|PUT /containers/{id}/archive?path=`: a path's stat in the
//! `X-Docker-Container-Path-Stat` header, a tar of it out, a tar extracted into a dir.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::sync::mpsc;
use tug::container::{CopyIn, CopyOptions, CopyOut, PathStat};

use super::Server;
use super::body::{channel, empty};
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::router::{blocking, ok_empty};

/// A missing path is Docker's 404, not a bad request.
fn path_error(e: tug::Error) -> ApiError {
    let e = ApiError::from(e);
    if e.message.starts_with("Could not find the file") {
        ApiError::not_found(e.message)
    } else {
        e
    }
}

/// Go's `os.FileMode` bits for a `st_mode` (what the CLI's `Mode.IsDir()` reads).
fn go_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    if st_mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if st_mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if st_mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m | match st_mode & 0o170000 {
        0o040000 => 1 << 31,
        0o120000 => 1 << 27,
        0o010000 => 1 << 25,
        0o140000 => 1 << 24,
        0o020000 => (1 << 26) | (1 << 21),
        0o060000 => 1 << 26,
        _ => 0,
    }
}

/// The header's value: the stat as JSON, base64.
fn stat_header(s: &PathStat) -> String {
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(s.mtime.max(0) as u64);
    let v = json!({
        "name": s.name,
        "size": s.size,
        "mode": go_mode(s.mode),
        "mtime": humantime::format_rfc3339_seconds(mtime).to_string(),
        "linkTarget": s.link_target,
    });
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// `HEAD` (the stat) and `GET` (the stat and a tar of the path).
pub async fn get(server: Arc<Server>, id: &str, query: Query, method: &Method) -> ApiResult {
    let path = query
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("the path (path) is required"))?
        .to_string();
    let (name, p) = (id.to_string(), path.clone());
    let stat = blocking(&server, move |e| {
        e.stat_container_path(&name, &p).map_err(path_error)
    })
    .await?;
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header("X-Docker-Container-Path-Stat", stat_header(&stat));
    if method == Method::HEAD {
        return Ok(builder
            .body(empty())
            .unwrap_or_else(|_| Response::new(empty())));
    }
    let (tx, body) = channel();
    let engine = server.engine.clone();
    let name = id.to_string();
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter(tx);
        let _ = engine.copy_from_container(
            &name,
            &path,
            CopyOut::Tar(&mut out),
            CopyOptions::default(),
        );
    });
    Ok(builder
        .header("Content-Type", "application/x-tar")
        .body(body)
        .unwrap_or_else(|_| Response::new(empty())))
}

/// `PUT`: the body's tar extracted into the dir `path` (kept in memory first).
pub async fn put(server: Arc<Server>, id: &str, query: Query, req: Request<Incoming>) -> ApiResult {
    let path = query
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("the path (path) is required"))?
        .to_string();
    let tar = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the tar: {e}")))?
        .to_bytes();
    let name = id.to_string();
    blocking(&server, move |e| {
        let mut input = std::io::Cursor::new(tar);
        e.copy_to_container(
            &name,
            CopyIn::Tar(&mut input),
            &path,
            CopyOptions::default(),
        )
        .map_err(path_error)
    })
    .await?;
    Ok(ok_empty(StatusCode::OK))
}

/// A `Write` that sends what it is given to a response body.
pub struct ChannelWriter(pub mpsc::Sender<Bytes>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::other("the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn modes_are_gos() {
        assert_eq!(super::go_mode(0o040755), (1 << 31) | 0o755);
        assert_eq!(super::go_mode(0o100644), 0o644);
        assert_eq!(super::go_mode(0o120777), (1 << 27) | 0o777);
    }
}
