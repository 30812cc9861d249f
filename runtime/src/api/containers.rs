//! The container endpoints: list, inspect, start, stop, restart, kill, wait, remove,
//! resize, pause, rename, top, prune, commit (create and logs have their own files).
//! Each calls the Engine; the shapes are Docker's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tug::container::Container;

use super::Server;
use super::body::channel;
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::router::{blocking, json, json_body, ok_empty};

/// `GET /containers/json`.
pub async fn list(server: Arc<Server>, query: Query) -> ApiResult {
    let all = query.flag("all", false);
    let filters = query.filters().map_err(ApiError::bad_request)?;
    for (k, vs) in &filters {
        for v in vs {
            crate::cli::ps::check_filter(k, v).map_err(ApiError::bad_request)?;
        }
    }
    let limit = query.get("limit").and_then(|l| l.parse::<i64>().ok());
    let size = query.flag("size", false);
    let containers = blocking(&server, |e| Ok(e.containers()?)).await?;
    // `before` and `since` name other containers: their creation times, from the list.
    let created: Vec<(String, String, String)> = containers
        .iter()
        .map(|c| {
            (
                c.id.to_string(),
                c.short_name().to_string(),
                c.created.clone(),
            )
        })
        .collect();
    let created_of = |n: &str| {
        created
            .iter()
            .find(|(id, name, _)| {
                name == n.trim_start_matches('/') || (n.len() >= 3 && id.starts_with(n))
            })
            .map(|(_, _, t)| t.clone())
    };
    let now = SystemTime::now();
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for c in containers {
        let listed = all
            || c.state.running
            || c.state.paused
            || c.state.restarting
            || filters.contains_key("status")
            || filters.contains_key("exited");
        if !listed {
            continue;
        }
        if !crate::cli::ps::matches(&c, &filters, created_of) {
            continue;
        }
        out.push(summary(&c, now));
        kept.push(c);
        if limit.is_some_and(|l| l > 0 && out.len() as i64 >= l) {
            break;
        }
    }
    // `size`: what each wrote (SizeRw) and that plus its image (SizeRootFs), as `ps -s`.
    if size {
        let sizes = blocking(&server, move |e| Ok(e.container_sizes(&kept)?)).await?;
        for (v, (rw, root)) in out.iter_mut().zip(sizes) {
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(root);
        }
    }
    Ok(json(StatusCode::OK, &Value::Array(out)))
}

/// One container as `GET /containers/json` lists it.
fn summary(c: &Container, now: SystemTime) -> Value {
    let mut ports = Vec::new();
    for (key, bindings) in &c.network_settings.ports {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let private: u16 = port.parse().unwrap_or(0);
        match bindings {
            Some(list) if !list.is_empty() => {
                for b in list {
                    ports.push(json!({
                        "IP": if b.host_ip.is_empty() { "0.0.0.0" } else { &b.host_ip },
                        "PrivatePort": private,
                        "PublicPort": b.host_port.parse::<u16>().unwrap_or(0),
                        "Type": proto,
                    }));
                }
            }
            _ => ports.push(json!({ "PrivatePort": private, "Type": proto })),
        }
    }
    let command = std::iter::once(c.path.as_str())
        .chain(c.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let networks: serde_json::Map<String, Value> = c
        .network_settings
        .networks
        .iter()
        .map(|(name, ep)| {
            (
                name.clone(),
                serde_json::to_value(ep).unwrap_or(Value::Null),
            )
        })
        .collect();
    json!({
        "Id": c.id.to_string(),
        "Names": [c.name],
        "Image": c.config.image,
        "ImageID": c.image,
        "Command": command,
        "Created": unix_seconds(&c.created),
        "Ports": ports,
        "Labels": c.config.labels,
        "State": c.state.status.as_str(),
        "Status": c.state.status_line(now),
        "HostConfig": { "NetworkMode": c.host_config.network_mode },
        "NetworkSettings": { "Networks": networks },
        "Mounts": c.mounts,
    })
}

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s).ok()
}

pub(super) fn unix_seconds(s: &str) -> u64 {
    parse_time(s)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// `GET /containers/{id}/json`: the JSON `tug inspect` prints.
pub async fn inspect(server: Arc<Server>, id: &str) -> ApiResult {
    let id = id.to_string();
    let mut v = blocking(&server, move |e| Ok(e.inspect_container(&id)?)).await?;
    // The execs this server made in it (the CLI's run and end with their command).
    if let Some(ids) = v["Id"]
        .as_str()
        .map(|cid| super::exec::ids_of(&server, cid))
        .transpose()?
        .flatten()
    {
        v["ExecIDs"] = serde_json::json!(ids);
    }
    Ok(json(StatusCode::OK, &v))
}

/// `POST /containers/{id}/start`: 304 when it runs already. An attach waiting for this
/// start gets the shim's stream; else a task watches the stream for the exit.
pub async fn start(server: Arc<Server>, id: &str) -> ApiResult {
    let name = id.to_string();
    let c = blocking(&server, move |e| Ok(e.container(&name)?)).await?;
    if c.state.running || c.state.paused || c.state.restarting {
        return Ok(ok_empty(StatusCode::NOT_MODIFIED));
    }
    let cid = c.id.to_string();
    let pending = server.pending.lock().map_err(poisoned)?.remove(&cid);
    let stdin = pending.as_ref().is_some_and(|p| p.stdin);
    let output = pending.is_some();
    let start_id = cid.clone();
    let parked = server.unpark(&cid);
    let sock = blocking(&server, move |e| {
        Ok(e.start_container_stream(&start_id, output, stdin, parked)?)
    })
    .await?;
    let sock = match pending {
        Some(p) => p.stream.send(sock).err(),
        None => Some(sock),
    };
    if let Some(sock) = sock {
        tokio::spawn(super::attach::watch_exit(server.clone(), c, sock));
    }
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

fn poisoned<T>(_: T) -> ApiError {
    ApiError::internal("a lock of the server was poisoned")
}

fn timeout(query: &Query) -> Result<Option<Duration>, ApiError> {
    let Some(t) = query
        .get("t")
        .or(query.get("timeout"))
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    // docker-py sends a fraction (compose's `stop_grace_period: 200ms` is `t=0.2`); a
    // negative one waits as long as it takes, as Docker's does.
    let secs: f64 = t
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite())
        .ok_or_else(|| {
            ApiError::bad_request(format!("invalid timeout t={t:?}: not a number of seconds"))
        })?;
    Ok(Some(if secs < 0.0 {
        Duration::from_secs(100 * 365 * 24 * 3600)
    } else {
        Duration::from_secs_f64(secs.min(1e9))
    }))
}

/// `POST /containers/{id}/stop?t=&signal=`: 304 when it is not running.
pub async fn stop(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let t = timeout(&query)?;
    let signal = query.get("signal").map(str::to_string);
    let stopped = blocking(&server, move |e| {
        let c = e.container(&name)?;
        if !(c.state.running || c.state.paused || c.state.restarting) {
            return Ok(None);
        }
        Ok(Some(e.stop_container(&name, t, signal.as_deref())?))
    })
    .await?;
    Ok(ok_empty(if stopped.is_some() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    }))
}

/// `POST /containers/{id}/restart?t=`.
pub async fn restart(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let t = timeout(&query)?;
    blocking(&server, move |e| Ok(e.restart_container(&name, t)?)).await?;
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/kill?signal=`.
pub async fn kill(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let signal = query
        .get("signal")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    blocking(&server, move |e| {
        Ok(e.kill_container(&name, signal.as_deref())?)
    })
    .await?;
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/resize?h=&w=`: the size of a container's terminal.
pub async fn resize(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let size = |k: &str| {
        query
            .get(k)
            .and_then(|v| v.parse::<u16>().ok())
            .unwrap_or(0)
    };
    let (rows, cols) = (size("h"), size("w"));
    blocking(&server, move |e| Ok(e.resize_container(&name, rows, cols)?)).await?;
    Ok(ok_empty(StatusCode::OK))
}

/// `DELETE /containers/{id}?force=&v=`.
pub async fn remove(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let force = query.flag("force", false);
    let volumes = query.flag("v", false);
    let id = blocking(&server, move |e| {
        let c = e.container(&name)?;
        if (c.state.running || c.state.paused || c.state.restarting) && !force {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "cannot remove container \"{}\": container is running: stop the container before removing or force remove",
                    c.name
                ),
            ));
        }
        let c = e.remove_container(&name, force)?;
        if volumes {
            e.remove_anonymous_volumes(&c.mounts)?;
        }
        Ok(c.id.to_string())
    })
    .await?;
    // Its shim, if one was parked for it, ends.
    drop(server.unpark(&id));
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`: the headers at
/// once, the body (`{"StatusCode": N}`) when the condition is met.
pub async fn wait(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let condition = query.get("condition").unwrap_or("not-running").to_string();
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return Err(ApiError::bad_request(format!(
            "invalid condition: {condition:?}"
        )));
    }
    // Subscribe before looking, so an exit between the look and the wait is not missed.
    let mut exits = server.exits.subscribe();
    let name = id.to_string();
    let c = blocking(&server, move |e| Ok(e.container(&name)?)).await?;
    let cid = c.id.to_string();
    let (tx, body) = channel();
    tokio::spawn(async move {
        let live = |c: &Container| c.state.running || c.state.paused || c.state.restarting;
        let code = if !live(&c) && matches!(condition.as_str(), "" | "not-running") {
            c.state.exit_code
        } else {
            // The exit this server saw on a stream it holds, or the state the shim
            // wrote: the container seen running and now not, or a new finish time.
            let mut code = None;
            let mut seen_live = live(&c);
            let finished_before = c.state.finished_at.clone();
            let mut last = c.state.clone();
            while code.is_none() {
                let id = cid.clone();
                let seen = last.clone();
                // Wakes as the shim writes the container's state (inotify), at the
                // latest after the timeout, to see whether the client went.
                let update = blocking(&server, move |e| {
                    Ok(e.wait_container_update(&id, &seen, Duration::from_millis(500)))
                });
                tokio::select! {
                    ev = exits.recv() => match ev {
                        Ok((id, c)) if id == cid => code = Some(c),
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => break,
                    },
                    now = update => {
                        if tx.is_closed() {
                            return;
                        }
                        match now {
                            Ok(Some(c)) if live(&c) => {
                                seen_live = true;
                                last = c.state;
                            }
                            Ok(Some(c)) if seen_live || c.state.finished_at != finished_before => {
                                code = Some(c.state.exit_code);
                            }
                            Ok(Some(c)) => last = c.state,
                            // Removed (`--rm`) before this saw it end: its stream's
                            // exit, if this server holds it, comes at once.
                            Ok(None) => {
                                let wait = tokio::time::timeout(Duration::from_secs(2), async {
                                    loop {
                                        match exits.recv().await {
                                            Ok((id, c)) if id == cid => return Some(c),
                                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                                            Err(_) => return None,
                                        }
                                    }
                                });
                                code = wait.await.ok().flatten();
                                break;
                            }
                            Err(_) => {}
                        }
                    }
                }
            }
            code.unwrap_or(0)
        };
        if condition == "removed" {
            loop {
                let id = cid.clone();
                let gone = blocking(&server, move |e| {
                    Ok(e.wait_container_removed(&id, Duration::from_millis(500)))
                })
                .await;
                if gone.unwrap_or(true) || tx.is_closed() {
                    break;
                }
            }
        }
        let body = json!({ "StatusCode": code, "Error": null }).to_string() + "\n";
        let _ = tx.send(Bytes::from(body)).await;
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(super::body::empty())))
}

/// `POST /containers/{id}/pause` and `/unpause`.
pub async fn pause(server: Arc<Server>, id: &str, pause: bool) -> ApiResult {
    let name = id.to_string();
    blocking(&server, move |e| {
        Ok(if pause {
            e.pause_container(&name)?
        } else {
            e.unpause_container(&name)?
        })
    })
    .await?;
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/rename?name=`.
pub async fn rename(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let new_name = query
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("the new name (name) is required"))?
        .to_string();
    blocking(&server, move |e| Ok(e.rename_container(&name, &new_name)?)).await?;
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`: the
/// container's changes as a new image (`docker commit`). The optional body is an image
/// config (Docker's `container.Config`) merged over the container's before the changes
/// apply; the answer is the new image's id.
pub async fn commit(server: Arc<Server>, query: Query, req: Request<Incoming>) -> ApiResult {
    let name = query
        .get("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("the container (container) is required"))?
        .to_string();
    let reference = query.repo_tag()?;
    let config = match json_body(req).await? {
        Value::Null => serde_json::Map::new(),
        Value::Object(o) => o,
        _ => {
            return Err(ApiError::bad_request(
                "the body must be a JSON object (a container config)",
            ));
        }
    };
    let opts = tug::container::ContainerCommit {
        reference,
        changes: query.all("changes").iter().map(|c| c.to_string()).collect(),
        message: query
            .get("comment")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        author: query
            .get("author")
            .filter(|a| !a.is_empty())
            .map(str::to_string),
        pause: query.flag("pause", true),
        config,
    };
    let image = blocking(&server, move |e| Ok(e.commit_container(&name, &opts)?)).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({ "Id": image.id.to_string() }),
    ))
}

/// `GET /containers/{id}/top?ps_args=`.
pub async fn top(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let args: Vec<String> = query
        .get("ps_args")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let out = blocking(&server, move |e| {
        let t = e.top(&name, &args)?;
        Ok(json!({ "Titles": t.titles, "Processes": t.processes }))
    })
    .await?;
    Ok(json(StatusCode::OK, &out))
}

/// `POST /containers/prune?filters=`: every container that does not run, of those the
/// filters (`until`, `label`, `label!`) let go.
pub async fn prune(server: Arc<Server>, query: Query) -> ApiResult {
    let filters = query.prune_filters(&[], true)?;
    let (ids, bytes) = blocking(&server, move |e| {
        Ok(e.prune_containers(|c| {
            filters.allows(Some(&c.created), |k| {
                c.config.labels.get(k).map(String::as_str)
            })
        })?)
    })
    .await?;
    let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    for id in &ids {
        drop(server.unpark(id));
    }
    Ok(json(
        StatusCode::OK,
        &json!({ "ContainersDeleted": ids, "SpaceReclaimed": bytes }),
    ))
}

/// `GET /containers/{id}/changes`: Docker's kinds, 0 changed, 1 added, 2 deleted.
pub async fn changes(server: Arc<Server>, id: &str) -> ApiResult {
    let name = id.to_string();
    let list = blocking(&server, move |e| Ok(e.container_changes(&name)?)).await?;
    let out: Vec<Value> = list
        .iter()
        .map(|c| {
            let kind = match c.kind {
                tug::layer::ChangeKind::Changed => 0,
                tug::layer::ChangeKind::Added => 1,
                tug::layer::ChangeKind::Deleted => 2,
            };
            json!({ "Path": c.path, "Kind": kind })
        })
        .collect();
    Ok(json(StatusCode::OK, &Value::Array(out)))
}

/// `GET /containers/{id}/export`: the container's file system as a tar.
pub async fn export(server: Arc<Server>, id: &str) -> ApiResult {
    let name = id.to_string();
    let check = name.clone();
    blocking(&server, move |e| Ok(e.container(&check)?)).await?;
    let (tx, body) = channel();
    let engine = server.engine.clone();
    tokio::task::spawn_blocking(move || {
        let _ = engine.export_container(&name, super::archive::ChannelWriter(tx));
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(body)
        .unwrap_or_else(|_| Response::new(super::body::empty())))
}
