//! `/_ping`, `/version`, `/info`.

use std::sync::Arc;

use hyper::{Method, Response, StatusCode};
use serde_json::json;

use super::Server;
use super::body::{Body, empty, full};
use super::error::ApiResult;
use super::router::{blocking, json as json_response};

/// `GET|HEAD /_ping`: `OK` and the headers the client negotiates with.
pub fn ping(method: &Method) -> Response<Body> {
    let body = if method == Method::HEAD {
        empty()
    } else {
        full("OK")
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("API-Version", super::API_VERSION)
        .header("OSType", "linux")
        .header("Docker-Experimental", "false")
        .header("Builder-Version", "1")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Pragma", "no-cache")
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(body)
        .unwrap_or_else(|_| Response::new(empty()))
}

/// `GET /version`.
pub async fn version(server: Arc<Server>) -> ApiResult {
    let h = blocking(&server, |e| Ok(e.host_info())).await?;
    let v = json!({
        "Platform": { "Name": "tug" },
        "Components": [{
            "Name": "Engine",
            "Version": h.version,
            "Details": {
                "ApiVersion": super::API_VERSION,
                "MinAPIVersion": super::MIN_API_VERSION,
                "Os": "linux",
                "Arch": h.go_arch,
                "KernelVersion": h.kernel_version,
            }
        }],
        "Version": h.version,
        "ApiVersion": super::API_VERSION,
        "MinAPIVersion": super::MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": h.go_arch,
        "KernelVersion": h.kernel_version,
        "BuildTime": "",
    });
    Ok(json_response(StatusCode::OK, &v))
}

/// `GET /info`.
pub async fn info(server: Arc<Server>) -> ApiResult {
    let i = blocking(&server, |e| Ok(e.info()?)).await?;
    Ok(json_response(StatusCode::OK, &i.docker_json()))
}

/// `GET /system/df`: the disk images, containers and volumes use.
pub async fn df(server: Arc<Server>) -> ApiResult {
    let du = blocking(&server, |e| Ok(e.disk_usage()?)).await?;
    let images: Vec<serde_json::Value> = du
        .images
        .iter()
        .zip(&du.shared_sizes)
        .map(|((s, users), shared)| {
            json!({
                "Id": s.image.id.to_string(),
                "ParentId": "",
                "RepoTags": s.image.names.iter().filter(|r| r.tag.is_some()).map(|r| r.to_string()).collect::<Vec<_>>(),
                "RepoDigests": [],
                "Created": s.image.config.created().as_deref().map_or(0, super::containers::unix_seconds),
                "Size": s.size,
                "SharedSize": shared,
                "VirtualSize": s.size,
                "Labels": {},
                "Containers": users,
            })
        })
        .collect();
    let containers: Vec<serde_json::Value> = du
        .containers
        .iter()
        .map(|(c, size)| {
            json!({
                "Id": c.id.to_string(),
                "Names": [c.name],
                "Image": c.config.image,
                "ImageID": c.image,
                "Command": std::iter::once(c.path.as_str()).chain(c.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" "),
                "Created": super::containers::unix_seconds(&c.created),
                "SizeRw": size,
                "SizeRootFs": 0,
                "Labels": c.config.labels,
                "State": c.state.status.as_str(),
                "Status": c.state.status_line(std::time::SystemTime::now()),
                "Mounts": c.mounts,
            })
        })
        .collect();
    let volumes: Vec<serde_json::Value> = du
        .volumes
        .iter()
        .map(|(v, size, users)| {
            let mut j = serde_json::to_value(v).unwrap_or_else(|_| json!({}));
            j["UsageData"] = json!({ "Size": size, "RefCount": users });
            j
        })
        .collect();
    let v = json!({
        "LayersSize": du.layers_size,
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": [],
    });
    Ok(json_response(StatusCode::OK, &v))
}
