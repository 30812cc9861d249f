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
    let (i, root) = blocking(&server, |e| Ok((e.info()?, e.root().to_path_buf()))).await?;
    let h = &i.host;
    let v = json!({
        "ID": "",
        "Containers": i.containers,
        "ContainersRunning": i.running,
        "ContainersPaused": i.paused,
        "ContainersStopped": i.stopped,
        "Images": i.images,
        "Driver": "overlay",
        "DockerRootDir": root,
        "OperatingSystem": h.operating_system,
        "OSType": h.os_type,
        "Architecture": h.architecture,
        "NCPU": h.ncpu,
        "MemTotal": h.mem_total,
        "Name": h.name,
        "ServerVersion": h.version,
        "KernelVersion": h.kernel_version,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": h.cgroup_version.to_string(),
        "LoggingDriver": "json-file",
        "Labels": [],
        "ExperimentalBuild": false,
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Runtimes": { "tug": { "path": "tug" } },
        "DefaultRuntime": "tug",
        "Plugins": { "Volume": ["local"], "Network": ["bridge", "host", "none"], "Log": ["json-file"] },
        "RegistryConfig": { "IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"] },
        "Warnings": [],
    });
    Ok(json_response(StatusCode::OK, &v))
}
