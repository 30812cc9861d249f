//! Routes a request to its handler: versioned (`/v1.43/...`) and bare paths alike.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::Server;
use super::body::Body;
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::{containers, exec, images, resources, system};

/// The request, routed; every failure answered as Docker's JSON error.
pub async fn route(server: Arc<Server>, req: Request<Incoming>) -> Response<Body> {
    let line = server.log_requests.then(|| {
        (
            format!("{} {}", req.method(), req.uri()),
            std::time::Instant::now(),
        )
    });
    let response = match dispatch(server, req).await {
        Ok(r) => r,
        Err(e) => e.response(),
    };
    if let Some((line, t0)) = line {
        // The time to the answer's head (a streamed body goes on after it).
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() - ms / 1000.0)
            .unwrap_or_default();
        eprintln!(
            "{at:.4} {line} -> {} ({ms:.1} ms)",
            response.status().as_u16()
        );
    }
    response
}

/// `/v1.43/containers/json` → `/containers/json`; a version below the minimum is refused.
fn strip_version(path: &str) -> Result<&str, ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let (version, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some((major, minor)) = version.split_once('.') else {
        return Ok(path);
    };
    let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
        return Ok(path);
    };
    if (major, minor) < (1, 24) {
        return Err(ApiError::bad_request(format!(
            "client version {major}.{minor} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            super::MIN_API_VERSION
        )));
    }
    Ok(tail)
}

async fn dispatch(server: Arc<Server>, req: Request<Incoming>) -> ApiResult {
    let path = strip_version(req.uri().path())?.to_string();
    let query = Query::parse(req.uri().query());
    let method = req.method().clone();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    use Method as M;
    match (&method, segs.as_slice()) {
        (&M::GET | &M::HEAD, ["_ping"]) => Ok(system::ping(&method)),
        (&M::GET, ["version"]) => system::version(server).await,
        (&M::GET, ["info"]) => system::info(server).await,
        (&M::GET, ["system", "df"]) => system::df(server).await,

        (&M::POST, ["build"]) => super::build::build(server, query, req).await,
        (&M::POST, ["session"]) => super::build::session(),
        (&M::POST, ["build", "prune"]) => super::build::prune(server, query).await,
        (&M::GET, ["events"]) => super::events::events(server, query).await,
        (&M::GET, ["containers", "json"]) => containers::list(server, query).await,
        (&M::POST, ["containers", "create"]) => super::create::create(server, query, req).await,
        (&M::POST, ["containers", "prune"]) => containers::prune(server, query).await,
        (&M::POST, ["commit"]) => containers::commit(server, query, req).await,
        (&M::GET, ["containers", id, "json"]) => containers::inspect(server, id).await,
        (&M::POST, ["containers", id, "start"]) => containers::start(server, id).await,
        (&M::POST, ["containers", id, "stop"]) => containers::stop(server, id, query).await,
        (&M::POST, ["containers", id, "restart"]) => containers::restart(server, id, query).await,
        (&M::POST, ["containers", id, "kill"]) => containers::kill(server, id, query).await,
        (&M::POST, ["containers", id, "wait"]) => containers::wait(server, id, query).await,
        (&M::DELETE, ["containers", id]) => containers::remove(server, id, query).await,
        (&M::GET, ["containers", id, "logs"]) => super::logs::logs(server, id, query).await,
        (&M::POST, ["containers", id, "attach"]) => {
            super::attach::attach(server, id, query, req).await
        }
        (&M::POST, ["containers", id, "resize"]) => containers::resize(server, id, query).await,
        (&M::POST, ["containers", id, "pause"]) => containers::pause(server, id, true).await,
        (&M::POST, ["containers", id, "unpause"]) => containers::pause(server, id, false).await,
        (&M::POST, ["containers", id, "update"]) => super::create::update(server, id, req).await,
        (&M::POST, ["containers", id, "rename"]) => containers::rename(server, id, query).await,
        (&M::GET, ["containers", id, "stats"]) => super::stats::stats(server, id, query).await,
        (&M::GET, ["containers", id, "changes"]) => containers::changes(server, id).await,
        (&M::GET, ["containers", id, "export"]) => containers::export(server, id).await,
        (&M::GET, ["containers", id, "top"]) => containers::top(server, id, query).await,
        (&M::GET | &M::HEAD, ["containers", id, "archive"]) => {
            super::archive::get(server, id, query, &method).await
        }
        (&M::PUT, ["containers", id, "archive"]) => {
            super::archive::put(server, id, query, req).await
        }
        (&M::POST, ["containers", id, "exec"]) => exec::create(server, id, req).await,
        (&M::POST, ["exec", id, "start"]) => exec::start(server, id, req).await,
        (&M::POST, ["exec", id, "resize"]) => exec::resize(server, id, query).await,
        (&M::GET, ["exec", id, "json"]) => exec::inspect(server, id).await,

        (&M::GET, ["images", "json"]) => images::list(server, query).await,
        (&M::POST, ["images", "create"]) if query.get("fromSrc").is_some() => {
            super::image_io::import(server, query, req).await
        }
        (&M::POST, ["images", "create"]) => {
            let creds = super::image_io::registry_auth(req.headers())?;
            images::pull(server, query, creds).await
        }
        (&M::POST, ["images", "load"]) => super::image_io::load(server, req).await,
        (&M::GET, ["images", "get"]) => {
            let names = query.all("names").iter().map(|n| n.to_string()).collect();
            super::image_io::get(server, names).await
        }
        (&M::GET, ["images", name @ .., "get"]) if !name.is_empty() => {
            super::image_io::get(server, vec![name.join("/")]).await
        }
        (&M::GET, ["images", name @ .., "history"]) if !name.is_empty() => {
            super::image_io::history(server, name.join("/")).await
        }
        (&M::POST, ["auth"]) => super::image_io::auth(server, req).await,
        (&M::POST, ["images", "prune"]) => images::prune(server, query).await,
        (&M::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            images::inspect(server, name.join("/")).await
        }
        (&M::POST, ["images", name @ .., "push"]) if !name.is_empty() => {
            let creds = super::image_io::registry_auth(req.headers())?;
            images::push(server, name.join("/"), query, creds).await
        }
        (&M::POST, ["images", name @ .., "tag"]) if !name.is_empty() => {
            images::tag(server, name.join("/"), query).await
        }
        (&M::DELETE, ["images", name @ ..]) if !name.is_empty() => {
            images::remove(server, name.join("/"), query).await
        }

        (&M::GET, ["networks"]) => resources::networks(server, query).await,
        (&M::POST, ["networks", "create"]) => resources::create_network(server, req).await,
        (&M::POST, ["networks", "prune"]) => resources::prune_networks(server, query).await,
        (&M::POST, ["networks", id, "connect"]) => resources::connect(server, id, req).await,
        (&M::POST, ["networks", id, "disconnect"]) => resources::disconnect(server, id, req).await,
        (&M::GET, ["networks", id]) => resources::network(server, id).await,
        (&M::DELETE, ["networks", id]) => resources::remove_network(server, id).await,
        (&M::GET, ["volumes"]) => resources::volumes(server, query).await,
        (&M::POST, ["volumes", "create"]) => resources::create_volume(server, req).await,
        (&M::POST, ["volumes", "prune"]) => resources::prune_volumes(server, query).await,
        (&M::GET, ["volumes", name]) => resources::volume(server, name).await,
        (&M::DELETE, ["volumes", name]) => resources::remove_volume(server, name, query).await,
        _ => Err(ApiError::not_found(format!(
            "page not found: {method} {path} is not served by tug"
        ))),
    }
}

/// A response with no body.
pub fn ok_empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(super::body::empty());
    *r.status_mut() = status;
    r
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(super::body::full(value.to_string()))
        .unwrap_or_else(|_| Response::new(super::body::empty()))
}

/// Runs `f` with the engine on a blocking thread (the engine is synchronous).
pub async fn blocking<T: Send + 'static>(
    server: &Arc<Server>,
    f: impl FnOnce(&tug::Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let server = server.clone();
    tokio::task::spawn_blocking(move || f(&server.engine))
        .await
        .map_err(|e| ApiError::internal(format!("the handler's thread failed: {e}")))?
}

/// The request's body, whole, as JSON (an empty body is `null`).
pub async fn json_body(req: Request<Incoming>) -> Result<serde_json::Value, ApiError> {
    use http_body_util::BodyExt;
    let bytes = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the request body: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_are_stripped() {
        assert_eq!(
            super::strip_version("/v1.43/containers/json").unwrap(),
            "/containers/json"
        );
        assert_eq!(
            super::strip_version("/containers/json").unwrap(),
            "/containers/json"
        );
        assert_eq!(super::strip_version("/volumes").unwrap(), "/volumes");
        assert!(super::strip_version("/v1.12/info").is_err());
    }
}
