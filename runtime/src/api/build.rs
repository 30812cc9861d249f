//! `POST /build`: the classic builder's endpoint (`DOCKER_BUILDKIT=0 docker build`). The
//! body is the context as a tar archive (held in memory, then unpacked by the Engine's
//! build); the query carries the options (`t` several times, `dockerfile`, `buildargs`,
//! `labels`, `target`, `nocache`, `pull`, `q`, `networkmode`, `cachefrom`, and `platform`
//! for this machine's only). The progress is the classic builder's JSON lines
//! (`{"stream": "Step 1/3 : FROM busybox\n"}`, the RUNs' output), then
//! `{"aux":{"ID":"sha256:..."}}` and `Successfully built` / `Successfully tagged`; a
//! failure is an `errorDetail` line whose code is the RUN's exit code, as Docker's.
//! BuildKit (`version=2`, `/session`) is refused.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tug::build::{BuildOptions, ContextSource, DockerfileSource, Event};

use super::Server;
use super::body::{channel, empty};
use super::error::{ApiError, ApiResult};
use super::query::Query;

/// What BuildKit's clients are told.
const NO_BUILDKIT: &str = "BuildKit is not supported by tug's API: build with the classic builder (DOCKER_BUILDKIT=0 docker build ...), or with `tug build`";

/// `POST /session`: BuildKit's session, refused.
pub fn session() -> ApiResult {
    Err(ApiError::bad_request(NO_BUILDKIT))
}

/// `POST /build/prune`: the build cache forgotten and the images only it held removed
/// (`docker builder prune`, and the last step of `docker system prune`). The cache's
/// entries keep no creation time or labels, so with `filters` (`until`, `label`...)
/// nothing is pruned: a filter never goes unheeded and takes more than it asked.
pub async fn prune(server: Arc<Server>, query: Query) -> ApiResult {
    let filters = query.filters().map_err(ApiError::bad_request)?;
    if filters.values().any(|v| !v.is_empty()) {
        return Ok(super::router::json(
            StatusCode::OK,
            &json!({ "CachesDeleted": [], "SpaceReclaimed": 0 }),
        ));
    }
    let report = super::router::blocking(&server, |e| Ok(e.prune_build_cache()?)).await?;
    let deleted: Vec<String> = report.images.iter().map(|d| d.to_string()).collect();
    Ok(super::router::json(
        StatusCode::OK,
        &json!({ "CachesDeleted": deleted, "SpaceReclaimed": 0 }),
    ))
}

/// A JSON object of strings from the query (`buildargs`, `labels`); a `null` value (a
/// build arg without a value) is left out.
fn string_map(query: &Query, key: &str) -> Result<Vec<(String, String)>, ApiError> {
    let Some(text) = query.get(key).filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("{key}: not a JSON object: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("{key}: not a JSON object: {text}")))?;
    obj.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_string())),
            None => Err(ApiError::bad_request(format!("{key}: {k}: not a string"))),
        })
        .collect()
}

/// The options of a build from the query, the context being `tar`.
fn options(query: &Query, tar: Vec<u8>) -> Result<BuildOptions, ApiError> {
    if query.get("version") == Some("2") {
        return Err(ApiError::bad_request(NO_BUILDKIT));
    }
    if query.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::bad_request(
            "remote build contexts (remote) are not supported: send the context as a tar archive",
        ));
    }
    // What the classic builder takes and tug's does not yet: refused when set, rather than
    // a build that runs without it (the clients send the unset ones as 0 or empty).
    for (param, flag) in [
        ("extrahosts", "--add-host"),
        ("memory", "--memory"),
        ("memswap", "--memory-swap"),
        ("cpushares", "--cpu-shares"),
        ("cpusetcpus", "--cpuset-cpus"),
        ("cpusetmems", "--cpuset-mems"),
        ("cpuperiod", "--cpu-period"),
        ("cpuquota", "--cpu-quota"),
        ("shmsize", "--shm-size"),
        ("ulimits", "--ulimit"),
        ("cgroupparent", "--cgroup-parent"),
        ("squash", "--squash"),
        ("isolation", "--isolation"),
    ] {
        if let Some(v) = query.get(param)
            && !matches!(v, "" | "0" | "false" | "null" | "[]" | "{}" | "default")
        {
            return Err(ApiError::bad_request(format!(
                "{param} ({flag}) is not supported by tug's builder"
            )));
        }
    }
    if let Some(p) = query.get("platform").filter(|p| !p.is_empty()) {
        let native = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        if p.trim_start_matches("linux/") != native {
            return Err(ApiError::bad_request(format!(
                "platform {p}: tug builds for this machine only (linux/{native})"
            )));
        }
    }
    let cache_from = match query.get("cachefrom").filter(|t| !t.is_empty()) {
        None => Vec::new(),
        Some(text) => serde_json::from_str::<Vec<String>>(text).map_err(|e| {
            ApiError::bad_request(format!("cachefrom: not a JSON list of strings: {e}"))
        })?,
    };
    let network = query
        .get("networkmode")
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    Ok(BuildOptions {
        context: ContextSource::Tar(tar),
        dockerfile: DockerfileSource::InContext(
            query
                .get("dockerfile")
                .filter(|d| !d.is_empty())
                .unwrap_or("Dockerfile")
                .to_string(),
        ),
        tags: query
            .all("t")
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        build_args: string_map(query, "buildargs")?,
        target: query
            .get("target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        no_cache: query.flag("nocache", false),
        pull: query.flag("pull", false),
        network,
        cache_from,
        labels: string_map(query, "labels")?,
        source_date_epoch: None,
        // Docker's classic builder prints each step's image (` ---> <id>`); `q` shows
        // only the result.
        step_images: !query.flag("q", false),
    })
}

/// The 12 hex digits Docker shows of an id.
fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// `x` as Docker shows a tag: `x:latest`.
fn with_tag(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// The build's progress lines.
struct Lines(mpsc::Sender<Bytes>);

impl Lines {
    fn send(&self, v: Value) {
        let _ = self.0.blocking_send(Bytes::from(v.to_string() + "\r\n"));
    }

    fn stream(&self, text: String) {
        self.send(json!({ "stream": text }));
    }
}

/// `POST /build?t=&dockerfile=&buildargs=&...`.
pub async fn build(server: Arc<Server>, query: Query, req: Request<Incoming>) -> ApiResult {
    if query.get("version") == Some("2") {
        return Err(ApiError::bad_request(NO_BUILDKIT));
    }
    let tar = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the build context: {e}")))?
        .to_bytes()
        .to_vec();
    let opts = options(&query, tar)?;
    let quiet = query.flag("q", false);
    let (tx, body) = channel();
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || {
        let out = Lines(tx);
        let built = engine.build(&opts, &mut |e| {
            if quiet {
                return;
            }
            match e {
                Event::Step {
                    index, total, text, ..
                } => out.stream(format!("Step {index}/{total} : {text}\n")),
                Event::Cached { .. } => out.stream(" ---> Using cache\n".into()),
                Event::Output { line, .. } => out.stream(format!("{line}\n")),
                Event::Running { container, .. } => {
                    out.stream(format!(" ---> Running in {}\n", short(container)))
                }
                Event::Removed { container, .. } => out.stream(format!(
                    "Removing intermediate container {}\n",
                    short(container)
                )),
                Event::Image { id, .. } => out.stream(format!(" ---> {}\n", short(id.hex()))),
                Event::Done { .. } => {}
                Event::Pulling { reference } => {
                    out.send(json!({ "status": format!("Pulling from {reference}") }))
                }
            }
        });
        match built {
            Ok(b) => {
                let id = b.id.to_string();
                out.send(json!({ "aux": { "ID": id } }));
                if quiet {
                    out.stream(format!("{id}\n"));
                    return;
                }
                let hex = id.split_once(':').map_or(id.as_str(), |(_, h)| h);
                out.stream(format!("Successfully built {}\n", short(hex)));
                for t in &b.tags {
                    out.stream(format!("Successfully tagged {}\n", with_tag(t)));
                }
            }
            Err(e) => {
                let code = match &e {
                    tug::Error::Build(tug::build::Error::RunFailed { code, .. }) => *code,
                    _ => 1,
                };
                let message = tug::report(&e);
                out.send(json!({
                    "errorDetail": { "code": code, "message": message },
                    "error": message,
                }));
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_gives_the_options() {
        let q = Query::parse(Some(
            "t=a&t=b%3A2&dockerfile=sub%2FDockerfile.x&buildargs=%7B%22A%22%3A%221%22%2C%22B%22%3Anull%7D&labels=%7B%22l%22%3A%22v%22%7D&target=t1&nocache=1&pull=1&networkmode=none",
        ));
        let o = options(&q, Vec::new()).unwrap();
        assert_eq!(o.tags, ["a", "b:2"]);
        assert!(
            matches!(o.dockerfile, DockerfileSource::InContext(ref d) if d == "sub/Dockerfile.x")
        );
        assert_eq!(o.build_args, [("A".to_string(), "1".to_string())]);
        assert_eq!(o.labels, [("l".to_string(), "v".to_string())]);
        assert_eq!(o.target.as_deref(), Some("t1"));
        assert!(o.no_cache && o.pull);
        assert_eq!(o.network.as_deref(), Some("none"));
        let bad = Query::parse(Some("buildargs=%5B1%5D"));
        assert!(options(&bad, Vec::new()).is_err());
        let foreign = Query::parse(Some("platform=linux%2Fs390x"));
        assert!(options(&foreign, Vec::new()).is_err());
        let v2 = Query::parse(Some("version=2"));
        assert!(options(&v2, Vec::new()).is_err());
        assert_eq!(with_tag("x"), "x:latest");
        assert_eq!(with_tag("127.0.0.1:5000/x"), "127.0.0.1:5000/x:latest");
        assert_eq!(with_tag("x:1"), "x:1");
    }
}
