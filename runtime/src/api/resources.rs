//! Networks and volumes: list, create, inspect, remove, in the JSON `tug network
//! inspect` and `tug volume inspect` print (Docker's).

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use super::Server;
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::router::{blocking, json, json_body, ok_empty};

fn to_json(v: &impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(e.to_string()))
}

/// A network as Docker's API shows it. A user network's bridge device name is tug's own
/// choice, kept in its record's options: Docker shows none there, and docker-compose
/// takes an option it did not set for a changed network ("needs to be recreated"), so a
/// second `up` or a `run` would fail. The predefined `bridge` shows it, as Docker's does.
fn network_json(n: &tug::network::Network) -> Result<Value, ApiError> {
    let mut v = to_json(n)?;
    if !n.is_predefined()
        && let Some(options) = v["Options"].as_object_mut()
    {
        options.remove(tug::network::record::BRIDGE_NAME_OPTION);
    }
    Ok(v)
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /networks` (the filters of `tug network ls`: `name`, `driver`, `id`, `label`).
pub async fn networks(server: Arc<Server>, query: Query) -> ApiResult {
    let args = query.filter_args()?;
    let filters = crate::cli::network::Filters::parse(&args, crate::cli::network::LS_FILTERS)
        .map_err(|e| ApiError::bad_request(e.message))?;
    let list = blocking(&server, |e| Ok(e.networks()?)).await?;
    let mut out = Vec::new();
    for n in list.iter().filter(|n| filters.keep(n)) {
        out.push(network_json(n)?);
    }
    Ok(json(StatusCode::OK, &Value::Array(out)))
}

/// `GET /networks/{id}`.
pub async fn network(server: Arc<Server>, id: &str) -> ApiResult {
    let id = id.to_string();
    let n = blocking(&server, move |e| Ok(e.network(&id)?)).await?;
    Ok(json(StatusCode::OK, &network_json(&n)?))
}

/// `POST /networks/create`.
pub async fn create_network(server: Arc<Server>, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let name = body["Name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("network name (Name) is required"))?
        .to_string();
    let ipam = &body["IPAM"]["Config"][0];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let opts = tug::network::CreateOptions {
        name,
        driver: text(&body["Driver"]),
        subnet: text(&ipam["Subnet"]),
        gateway: text(&ipam["Gateway"]),
        internal: body["Internal"].as_bool().unwrap_or(false),
        attachable: body["Attachable"].as_bool().unwrap_or(false),
        labels: labels(&body["Labels"]),
    };
    let n = blocking(&server, move |e| Ok(e.create_network(&opts)?)).await?;
    let v = to_json(&n)?;
    Ok(json(
        StatusCode::CREATED,
        &json!({ "Id": v["Id"], "Warning": "" }),
    ))
}

/// `DELETE /networks/{id}`.
pub async fn remove_network(server: Arc<Server>, id: &str) -> ApiResult {
    let id = id.to_string();
    blocking(&server, move |e| Ok(e.remove_network(&id)?)).await?;
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

/// `GET /volumes` (the filters of `tug volume ls`: `name`, `label`, `dangling`,
/// `driver`).
pub async fn volumes(server: Arc<Server>, query: Query) -> ApiResult {
    let args = query.filter_args()?;
    let filters = crate::cli::volume::Filters::parse(&args, crate::cli::volume::LS_FILTERS)
        .map_err(|e| ApiError::bad_request(e.message))?;
    let list = blocking(&server, move |e| {
        let mut kept = Vec::new();
        for v in e.volumes()? {
            let used = || {
                e.volume_users(&v.name)
                    .map(|u| !u.is_empty())
                    .unwrap_or(true)
            };
            if filters.keep(&v, used) {
                kept.push(v);
            }
        }
        Ok(kept)
    })
    .await?;
    let mut out = Vec::new();
    for v in &list {
        out.push(to_json(v)?);
    }
    Ok(json(
        StatusCode::OK,
        &json!({ "Volumes": out, "Warnings": [] }),
    ))
}

/// `GET /volumes/{name}`.
pub async fn volume(server: Arc<Server>, name: &str) -> ApiResult {
    let name = name.to_string();
    let v = blocking(&server, move |e| Ok(e.volume(&name)?)).await?;
    Ok(json(StatusCode::OK, &to_json(&v)?))
}

/// `POST /volumes/create`.
pub async fn create_volume(server: Arc<Server>, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let opts = tug::volume::VolumeOptions {
        name: body["Name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        driver: body["Driver"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        labels: Some(labels(&body["Labels"])),
        options: body["DriverOpts"]
            .is_object()
            .then(|| labels(&body["DriverOpts"])),
    };
    let v = blocking(&server, move |e| Ok(e.create_volume(&opts)?)).await?;
    Ok(json(StatusCode::CREATED, &to_json(&v)?))
}

/// `DELETE /volumes/{name}?force=`.
pub async fn remove_volume(server: Arc<Server>, name: &str, query: Query) -> ApiResult {
    let name = name.to_string();
    let force = query.flag("force", false);
    blocking(&server, move |e| Ok(e.remove_volume(&name, force)?)).await?;
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

/// `POST /networks/prune?filters=`: user networks without containers, of those `until`,
/// `label` and `label!` let go.
pub async fn prune_networks(server: Arc<Server>, query: Query) -> ApiResult {
    let filters = query.prune_filters(&[], true)?;
    let gone = blocking(&server, move |e| {
        Ok(e.prune_networks(|n| {
            filters.allows(Some(&n.created), |k| n.labels.get(k).map(String::as_str))
        })?)
    })
    .await?;
    Ok(json(StatusCode::OK, &json!({ "NetworksDeleted": gone })))
}

/// `POST /volumes/prune?filters={"all":["true"]}`: unused anonymous volumes, or every
/// unused one with `all`, of those `label` and `label!` let go.
pub async fn prune_volumes(server: Arc<Server>, query: Query) -> ApiResult {
    let filters = query.filters().map_err(ApiError::bad_request)?;
    let all = filters
        .get("all")
        .is_some_and(|v| v.iter().any(|d| matches!(d.as_str(), "true" | "1")));
    let filters = query.prune_filters(&["all"], false)?;
    let gone = blocking(&server, move |e| {
        Ok(e.prune_volumes(all, |v| {
            filters.allows(Some(&v.created_at), |k| {
                v.labels.as_ref()?.get(k).map(String::as_str)
            })
        })?)
    })
    .await?;
    let names: Vec<&String> = gone.iter().map(|(n, _)| n).collect();
    let bytes: u64 = gone.iter().map(|(_, b)| b).sum();
    Ok(json(
        StatusCode::OK,
        &json!({ "VolumesDeleted": names, "SpaceReclaimed": bytes }),
    ))
}

/// `POST /networks/{id}/connect` with `{"Container": ..., "EndpointConfig": {...}}`.
pub async fn connect(server: Arc<Server>, id: &str, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let container = body["Container"]
        .as_str()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("the container (Container) is required"))?
        .to_string();
    let ep = &body["EndpointConfig"];
    let aliases: Vec<String> = ep["Aliases"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let ip = match ep["IPAMConfig"]["IPv4Address"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(a) => Some(
            a.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid IPv4Address {a:?}")))?,
        ),
    };
    let network = id.to_string();
    blocking(&server, move |e| {
        Ok(e.connect_network(&network, &container, &aliases, ip)?)
    })
    .await?;
    Ok(ok_empty(StatusCode::OK))
}

/// `POST /networks/{id}/disconnect` with `{"Container": ..., "Force": bool}`.
pub async fn disconnect(server: Arc<Server>, id: &str, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let container = body["Container"]
        .as_str()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("the container (Container) is required"))?
        .to_string();
    let network = id.to_string();
    blocking(&server, move |e| {
        Ok(e.disconnect_network(&network, &container)?)
    })
    .await?;
    Ok(ok_empty(StatusCode::OK))
}
