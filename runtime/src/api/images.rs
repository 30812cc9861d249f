//! The image endpoints: list, inspect, tag, remove, prune, and create and push (with
//! Docker's progress JSON lines). History, save, load and `/auth` are in `image_io`.

use std::sync::Arc;

use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tug::registry::{Credentials, Event, Observer, PullOptions, PushOptions};

use super::Server;
use super::body::channel;
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::router::{blocking, json};

/// `GET /images/json?all=&filters=`: the images (a build's intermediate ones with `all`
/// only), filtered as `docker images --filter` is: `reference` (a glob, as `path.Match`),
/// `dangling`, `label` (`KEY` or `KEY=VALUE`), `before` and `since` (an image), `until`
/// (a time).
pub async fn list(server: Arc<Server>, query: Query) -> ApiResult {
    let all = query.flag("all", false);
    let args = query.filter_args()?;
    let mut filters = crate::cli::image::list::Filters::parse(&args, None)
        .map_err(|e| ApiError::bad_request(e.message))?;
    let (images, intermediate) = blocking(&server, move |e| {
        filters.resolve(e)?;
        let intermediate = if all {
            Vec::new()
        } else {
            e.intermediate_images()?
        };
        let images: Vec<_> = e
            .images()?
            .into_iter()
            .filter(|s| filters.keep_image(&s.image))
            // With a name filter, RepoTags lists the names that pass it, as Docker's.
            .filter_map(|s| {
                let tags: Vec<String> = s
                    .image
                    .names
                    .iter()
                    .filter(|r| r.tag.is_some() && filters.keep(Some(r)))
                    .map(|r| r.to_string())
                    .collect();
                let shown = if s.image.names.is_empty() {
                    filters.keep(None)
                } else {
                    s.image.names.iter().any(|r| filters.keep(Some(r)))
                };
                shown.then_some((s, tags))
            })
            .collect();
        Ok((images, intermediate))
    })
    .await?;
    let mut out = Vec::new();
    for (s, tags) in images {
        let img = &s.image;
        if img.names.is_empty() && intermediate.contains(&img.id) {
            continue;
        }
        let created = unix_seconds(img.config.created().as_deref());
        let labels = img.labels();
        out.push(json!({
            "Id": img.id.to_string(),
            "ParentId": "",
            "RepoTags": tags,
            "RepoDigests": img.names.iter().map(|r| format!("{}@{}", r.familiar_name(), img.repo_digest(r))).collect::<Vec<_>>(),
            "Created": created,
            "Size": s.size,
            "SharedSize": -1,
            "VirtualSize": s.size,
            "Labels": labels,
            "Containers": -1,
        }));
    }
    Ok(json(StatusCode::OK, &Value::Array(out)))
}

/// The image's `name:tag` names (Docker's RepoTags).
pub(super) fn repo_tags(img: &tug::image::Image) -> Vec<String> {
    img.names
        .iter()
        .filter(|r| r.tag.is_some())
        .map(|r| r.to_string())
        .collect()
}

/// An RFC 3339 time as Unix seconds (0 when there is none or it does not parse).
pub(super) fn unix_seconds(time: Option<&str>) -> u64 {
    time.and_then(|c| humantime::parse_rfc3339_weak(c).ok())
        .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// `GET /images/{name}/json`, with `ContainerConfig` as Docker's daemon gave it before API
/// 1.45 (the config of the container that made the image; here the image's config):
/// docker-compose 1.29 reads its `Volumes` when it recreates a container, and fails
/// with `KeyError: 'ContainerConfig'` without it.
pub async fn inspect(server: Arc<Server>, name: String) -> ApiResult {
    let mut v = blocking(&server, move |e| Ok(e.inspect_image(&name)?)).await?;
    if v.get("ContainerConfig").is_none() {
        v["ContainerConfig"] = v["Config"].clone();
    }
    Ok(json(StatusCode::OK, &v))
}

/// `POST /images/{name}/tag?repo=&tag=`.
pub async fn tag(server: Arc<Server>, name: String, query: Query) -> ApiResult {
    let repo = query
        .get("repo")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("repository name (repo) is required"))?;
    let target = match query.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    };
    blocking(&server, move |e| Ok(e.tag_image(&name, &target)?)).await?;
    Ok(super::router::ok_empty(StatusCode::CREATED))
}

/// `DELETE /images/{name}?force=&noprune=`: what was untagged and deleted (the image's
/// untagged build parents too, unless `noprune`).
pub async fn remove(server: Arc<Server>, name: String, query: Query) -> ApiResult {
    let force = query.flag("force", false);
    let no_prune = query.flag("noprune", false);
    let events = blocking(&server, move |e| {
        Ok(if no_prune {
            e.remove_image_no_prune(&name, force)?
        } else {
            e.remove_image(&name, force)?
        })
    })
    .await?;
    let out: Vec<Value> = events
        .iter()
        .map(|ev| match ev {
            tug::image::RemoveEvent::Untagged(r) => json!({ "Untagged": r.to_string() }),
            tug::image::RemoveEvent::Deleted(d) => json!({ "Deleted": d.to_string() }),
        })
        .collect();
    Ok(json(StatusCode::OK, &Value::Array(out)))
}

/// Sends a pull's progress as Docker's JSON lines.
struct Progress(mpsc::Sender<Bytes>);

impl Progress {
    fn line(&self, v: Value) {
        let _ = self.0.blocking_send(Bytes::from(v.to_string() + "\r\n"));
    }
}

fn short(d: &tug::Digest) -> String {
    let s = d.to_string();
    let hex = s.split_once(':').map_or(s.as_str(), |(_, h)| h);
    hex.chars().take(12).collect()
}

impl Observer for Progress {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Start { digest, size } => self.line(json!({
                "status": "Downloading", "id": short(digest),
                "progressDetail": { "current": 0, "total": size },
            })),
            Event::Advance { .. } => {}
            Event::Done { digest, status } => {
                self.line(json!({ "status": status, "id": short(digest), "progressDetail": {} }))
            }
        }
    }
}

/// `POST /images/create?fromImage=&tag=`: a pull; the progress streams, an error ends
/// the stream as Docker's `errorDetail`.
pub async fn pull(
    server: Arc<Server>,
    query: Query,
    credentials: Option<Credentials>,
) -> ApiResult {
    let from = query
        .get("fromImage")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::bad_request("fromImage is required"))?;
    let reference = match query.get("tag").filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.to_string(),
    };
    let (tx, body) = channel();
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || {
        let progress = Progress(tx);
        // Docker's first line: `{"status": "Pulling from REPO", "id": TAG}`.
        let last = reference.rsplit('/').next().unwrap_or(&reference);
        let tag = last.split_once(':').map_or("latest", |(_, t)| t);
        let repo = reference
            .strip_suffix(&format!(":{tag}"))
            .unwrap_or(&reference);
        let repo = repo
            .split_once('/')
            .filter(|(host, _)| host.contains(['.', ':']) || *host == "localhost")
            .map_or(repo, |(_, path)| path);
        progress.line(json!({ "status": format!("Pulling from {repo}"), "id": tag }));
        let opts = PullOptions {
            unpack: true,
            credentials,
            ..Default::default()
        };
        // Up to date when the name already named what the registry has.
        let before = engine.image(&reference).ok().map(|i| i.id);
        match engine.pull(&reference, &opts, &progress) {
            Ok(r) => {
                progress.line(json!({ "status": format!("Digest: {}", r.repo_digest) }));
                let after = engine.image(&reference).ok().map(|i| i.id);
                let status = if before.is_some() && before == after {
                    "Image is up to date for"
                } else {
                    "Downloaded newer image for"
                };
                progress.line(json!({ "status": format!("Status: {status} {reference}") }));
            }
            Err(e) => {
                let message = tug::report(&e);
                progress.line(json!({ "errorDetail": { "message": message }, "error": message }));
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(super::body::empty())))
}

/// `POST /images/{name}/push?tag=`: the push's progress as Docker's JSON lines, with the
/// credentials of the `X-Registry-Auth` header (else those `tug login` stored).
pub async fn push(
    server: Arc<Server>,
    name: String,
    query: Query,
    credentials: Option<Credentials>,
) -> ApiResult {
    let reference = match query.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{name}:{t}"),
        None => name.clone(),
    };
    let check = reference.clone();
    blocking(&server, move |e| Ok(e.image(&check)?)).await?;
    let (tx, body) = channel();
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || {
        let progress = Progress(tx);
        let repo = reference
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .map_or(reference.as_str(), |(r, _)| r);
        progress.line(json!({ "status": format!("The push refers to repository [{repo}]") }));
        let options = PushOptions {
            credentials,
            ..PushOptions::default()
        };
        match engine.push(&reference, &options, &progress) {
            Ok(r) => {
                let tag = reference.rsplit_once(':').map_or("latest", |(_, t)| t);
                progress.line(json!({
                    "status": format!("{tag}: digest: {} size: {}", r.manifest_digest, r.manifest_size)
                }));
                progress.line(json!({
                    "progressDetail": {},
                    "aux": { "Tag": tag, "Digest": r.manifest_digest.to_string(), "Size": r.manifest_size },
                }));
            }
            Err(e) => {
                let message = tug::report(&e);
                progress.line(json!({ "errorDetail": { "message": message }, "error": message }));
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(super::body::empty())))
}

/// `POST /images/prune?filters={"dangling":["false"]}`: unused images (all of them when
/// not only the dangling ones are asked for), of those `until`, `label` and `label!` let go.
pub async fn prune(server: Arc<Server>, query: Query) -> ApiResult {
    let filters = query.filters().map_err(ApiError::bad_request)?;
    let all = filters
        .get("dangling")
        .is_some_and(|v| v.iter().any(|d| matches!(d.as_str(), "false" | "0")));
    let filters = query.prune_filters(&["dangling"], true)?;
    let report = blocking(&server, move |e| {
        Ok(e.prune_images(all, |img| filters.allows_image(img))?)
    })
    .await?;
    let deleted: Vec<Value> = report
        .events
        .iter()
        .map(|ev| match ev {
            tug::image::RemoveEvent::Untagged(r) => json!({ "Untagged": r.to_string() }),
            tug::image::RemoveEvent::Deleted(d) => json!({ "Deleted": d.to_string() }),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "ImagesDeleted": deleted, "SpaceReclaimed": report.reclaimed }),
    ))
}
