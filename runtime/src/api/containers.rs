//! The container endpoints: list, create, inspect, start, stop, restart, kill, wait,
//! remove, logs, resize. Each calls the Engine; the shapes are Docker's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tug::container::{Container, CreateOptions, LogEntry, LogsOptions};

use super::Server;
use super::body::{channel, mux_frame};
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::router::{blocking, json, json_body, ok_empty};

/// `GET /containers/json`.
pub async fn list(server: Arc<Server>, query: Query) -> ApiResult {
    let all = query.flag("all", false);
    let filters = query.filters().map_err(ApiError::bad_request)?;
    let limit = query.get("limit").and_then(|l| l.parse::<i64>().ok());
    let containers = blocking(&server, |e| Ok(e.containers()?)).await?;
    let now = SystemTime::now();
    let mut out = Vec::new();
    for c in containers {
        let listed = all
            || c.state.running
            || c.state.paused
            || c.state.restarting
            || filters.contains_key("status");
        if !listed {
            continue;
        }
        if !matches_filters(&c, &filters) {
            continue;
        }
        out.push(summary(&c, now));
        if limit.is_some_and(|l| l > 0 && out.len() as i64 >= l) {
            break;
        }
    }
    Ok(json(StatusCode::OK, &Value::Array(out)))
}

/// Docker's `label`, `name`, `id` and `status` filters (each key: any of its values).
fn matches_filters(
    c: &Container,
    filters: &std::collections::BTreeMap<String, Vec<String>>,
) -> bool {
    filters.iter().all(|(key, values)| {
        values.is_empty()
            || values.iter().any(|v| match key.as_str() {
                "label" => match v.split_once('=') {
                    Some((k, val)) => c.config.labels.get(k).is_some_and(|x| x == val),
                    None => c.config.labels.contains_key(v.as_str()),
                },
                "name" => c.short_name().contains(v.trim_start_matches('/')),
                "id" => c.id.to_string().starts_with(v.as_str()),
                "status" => c.state.status.as_str() == v,
                _ => true,
            })
    })
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
        "Status": status_text(c, now),
        "HostConfig": { "NetworkMode": c.host_config.network_mode },
        "NetworkSettings": { "Networks": networks },
        "Mounts": c.mounts,
    })
}

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s).ok()
}

fn unix_seconds(s: &str) -> u64 {
    parse_time(s)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Docker's `Status` column: `Up 5 seconds`, `Exited (0) 2 minutes ago`, `Created`.
fn status_text(c: &Container, now: SystemTime) -> String {
    let since = |t: &str| {
        parse_time(t)
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default()
    };
    let s = &c.state;
    if s.restarting {
        return format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human(since(&s.finished_at))
        );
    }
    if s.running {
        let paused = if s.paused { " (Paused)" } else { "" };
        return format!("Up {}{paused}", human(since(&s.started_at)));
    }
    match s.status.as_str() {
        "created" => "Created".into(),
        "dead" => "Dead".into(),
        _ => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human(since(&s.finished_at))
        ),
    }
}

/// Docker's (go-units) human duration.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..60 => format!("{s} seconds"),
        60..120 => "About a minute".into(),
        120..3600 => format!("{} minutes", s / 60),
        3600..7200 => "About an hour".into(),
        7200..172800 => format!("{} hours", s / 3600),
        172800..1209600 => format!("{} days", s / 86400),
        1209600..5259600 => format!("{} weeks", s / 604800),
        5259600..63115200 => format!("{} months", s / 2629800),
        _ => format!("{} years", s / 31557600),
    }
}

/// `POST /containers/create?name=`.
pub async fn create(server: Arc<Server>, query: Query, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let mut opts = create_options(&body)?;
    opts.name = query
        .get("name")
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let c = blocking(&server, move |e| Ok(e.create_container(&opts)?)).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({ "Id": c.id.to_string(), "Warnings": [] }),
    ))
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn string(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// The body of a create (Config with HostConfig inside) as the options `tug run` builds.
fn create_options(body: &Value) -> Result<CreateOptions, ApiError> {
    let bad = |m: String| ApiError::bad_request(m);
    let image = string(&body["Image"]).ok_or_else(|| bad("config.Image: no image given".into()))?;
    let hc = &body["HostConfig"];
    let mut command = strings(&body["Cmd"]);
    // The API's Entrypoint is a list: its first word is the program, the rest go before
    // Cmd; a given entrypoint drops the image's CMD, as `--entrypoint` does.
    let entrypoint = match &body["Entrypoint"] {
        Value::Null => None,
        v => {
            let mut words = strings(v);
            if words.is_empty() {
                Some(String::new())
            } else {
                let first = words.remove(0);
                words.append(&mut command);
                command = words;
                Some(first)
            }
        }
    };
    let labels = body["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let mut mounts = Vec::new();
    for b in strings(&hc["Binds"]) {
        mounts.push(
            tug::volume::parse_volume_flag(&b)
                .map_err(|e| bad(format!("HostConfig.Binds {b:?}: {}", tug::report(&e))))?,
        );
    }
    let mut publish = Vec::new();
    if let Some(map) = hc["PortBindings"].as_object() {
        for (port, bindings) in map {
            let list = bindings.as_array().cloned().unwrap_or_default();
            let list = if list.is_empty() {
                vec![json!({})]
            } else {
                list
            };
            for b in list {
                let ip = b["HostIp"].as_str().unwrap_or_default();
                let host_port = b["HostPort"].as_str().unwrap_or_default();
                let spec = match (ip.is_empty(), host_port.is_empty()) {
                    (true, true) => port.clone(),
                    (true, false) => format!("{host_port}:{port}"),
                    (false, _) => format!("{ip}:{host_port}:{port}"),
                };
                publish.push(tug::network::parse_publish(&spec).map_err(|e| {
                    bad(format!(
                        "HostConfig.PortBindings {port}: {}",
                        tug::report(&e)
                    ))
                })?);
            }
        }
    }
    let expose = body["ExposedPorts"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let restart_policy = match hc["RestartPolicy"]["Name"].as_str().unwrap_or_default() {
        "" | "no" => tug::container::RestartPolicy::default(),
        name => {
            let n = hc["RestartPolicy"]["MaximumRetryCount"]
                .as_u64()
                .unwrap_or(0);
            let text = if name == "on-failure" && n > 0 {
                format!("{name}:{n}")
            } else {
                name.to_string()
            };
            tug::container::RestartPolicy::parse(&text)
                .map_err(|e| bad(format!("HostConfig.RestartPolicy: {e}")))?
        }
    };
    let auto_remove = hc["AutoRemove"].as_bool().unwrap_or(false);
    let network = match hc["NetworkMode"].as_str().unwrap_or_default() {
        "" | "default" => "bridge".to_string(),
        other => other.to_string(),
    };
    let resources = tug::container::Resources {
        memory: hc["Memory"].as_i64().unwrap_or(0),
        memory_swap: hc["MemorySwap"].as_i64().unwrap_or(0),
        nano_cpus: hc["NanoCpus"].as_i64().unwrap_or(0),
        cpu_shares: hc["CpuShares"].as_i64().unwrap_or(0),
        pids_limit: hc["PidsLimit"].as_i64().filter(|p| *p != 0),
        ..Default::default()
    };
    Ok(CreateOptions {
        image,
        hostname: string(&body["Hostname"]),
        env: strings(&body["Env"]),
        workdir: string(&body["WorkingDir"]),
        user: string(&body["User"]),
        entrypoint,
        command,
        interactive: body["OpenStdin"].as_bool().unwrap_or(false),
        tty: body["Tty"].as_bool().unwrap_or(false),
        read_only: hc["ReadonlyRootfs"].as_bool().unwrap_or(false),
        privileged: hc["Privileged"].as_bool().unwrap_or(false),
        network,
        publish,
        publish_all: hc["PublishAllPorts"].as_bool().unwrap_or(false),
        expose,
        dns: strings(&hc["Dns"]),
        dns_search: strings(&hc["DnsSearch"]),
        dns_options: strings(&hc["DnsOptions"]),
        extra_hosts: strings(&hc["ExtraHosts"]),
        cap_add: strings(&hc["CapAdd"]),
        cap_drop: strings(&hc["CapDrop"]),
        security_opt: strings(&hc["SecurityOpt"]),
        labels,
        auto_remove,
        restart_policy,
        mounts,
        resources,
        stop_signal: string(&body["StopSignal"]),
        stop_timeout: body["StopTimeout"].as_i64(),
        init: hc["Init"].as_bool().unwrap_or(false),
        ..Default::default()
    })
}

/// `GET /containers/{id}/json`: the JSON `tug inspect` prints.
pub async fn inspect(server: Arc<Server>, id: &str) -> ApiResult {
    let id = id.to_string();
    let c = blocking(&server, move |e| Ok(e.container(&id)?)).await?;
    let v = serde_json::to_value(&c).map_err(|e| ApiError::internal(e.to_string()))?;
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
    let sock = blocking(&server, move |e| {
        Ok(e.start_container_stream(&start_id, output, stdin)?)
    })
    .await?;
    let sock = match pending {
        Some(p) => p.stream.send(sock).err(),
        None => Some(sock),
    };
    if let Some(sock) = sock {
        tokio::spawn(super::attach::watch_exit(server.clone(), cid, sock));
    }
    Ok(ok_empty(StatusCode::NO_CONTENT))
}

fn poisoned<T>(_: T) -> ApiError {
    ApiError::internal("a lock of the server was poisoned")
}

fn timeout(query: &Query) -> Option<Duration> {
    query
        .get("t")
        .or(query.get("timeout"))
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| *t >= 0)
        .map(|t| Duration::from_secs(t as u64))
}

/// `POST /containers/{id}/stop?t=&signal=`: 304 when it is not running.
pub async fn stop(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let t = timeout(&query);
    let signal = query.get("signal").map(str::to_string);
    let stopped = blocking(&server, move |e| {
        let c = e.container(&name)?;
        if !(c.state.running || c.state.paused || c.state.restarting) {
            return Ok(false);
        }
        e.stop_container(&name, t, signal.as_deref())?;
        Ok(true)
    })
    .await?;
    Ok(ok_empty(if stopped {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    }))
}

/// `POST /containers/{id}/restart?t=`.
pub async fn restart(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let name = id.to_string();
    let t = timeout(&query);
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
    blocking(&server, move |e| {
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
        Ok(())
    })
    .await?;
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
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while code.is_none() {
                tokio::select! {
                    ev = exits.recv() => match ev {
                        Ok((id, c)) if id == cid => code = Some(c),
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => break,
                    },
                    _ = tick.tick() => {
                        if tx.is_closed() {
                            return;
                        }
                        let id = cid.clone();
                        match blocking(&server, move |e| Ok(e.container(&id).ok())).await {
                            Ok(Some(c)) if live(&c) => seen_live = true,
                            Ok(Some(c)) if seen_live || c.state.finished_at != finished_before => {
                                code = Some(c.state.exit_code);
                            }
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
                            _ => {}
                        }
                    }
                }
            }
            code.unwrap_or(0)
        };
        if condition == "removed" {
            loop {
                let id = cid.clone();
                let gone = blocking(&server, move |e| Ok(e.container(&id).is_err())).await;
                if gone.unwrap_or(true) || tx.is_closed() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
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

/// `GET /containers/{id}/logs?stdout=&stderr=&follow=&timestamps=&tail=&since=&until=`:
/// multiplexed frames, or the raw bytes of a TTY container.
pub async fn logs(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let (stdout, stderr) = (query.flag("stdout", false), query.flag("stderr", false));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let timestamps = query.flag("timestamps", false);
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

/// `POST /containers/{id}/pause` and `/unpause`.
pub async fn pause(server: Arc<Server>, id: &str, pause: bool) -> ApiResult {
    let name = id.to_string();
    blocking(&server, move |e| {
        if pause {
            e.pause_container(&name)?;
        } else {
            e.unpause_container(&name)?;
        }
        Ok(())
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

/// `POST /containers/prune`: every container that does not run.
pub async fn prune(server: Arc<Server>) -> ApiResult {
    let (ids, bytes) = blocking(&server, |e| Ok(e.prune_containers()?)).await?;
    let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "ContainersDeleted": ids, "SpaceReclaimed": bytes }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_maps_to_run_options() {
        let body = json!({
            "Image": "busybox",
            "Cmd": ["echo", "hi"],
            "Entrypoint": ["/bin/sh", "-c"],
            "Env": ["A=1"],
            "Labels": {"a": "b"},
            "Tty": false,
            "OpenStdin": true,
            "ExposedPorts": {"80/tcp": {}},
            "HostConfig": {
                "AutoRemove": true,
                "NetworkMode": "default",
                "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
                "Memory": 1048576,
                "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}
            }
        });
        let o = create_options(&body).unwrap();
        assert_eq!(o.image, "busybox");
        assert_eq!(o.entrypoint.as_deref(), Some("/bin/sh"));
        assert_eq!(o.command, vec!["-c", "echo", "hi"]);
        assert_eq!(o.labels, vec!["a=b"]);
        assert!(o.auto_remove && o.interactive && !o.tty);
        assert_eq!(o.network, "bridge");
        assert_eq!(o.publish.len(), 1);
        assert_eq!(o.resources.memory, 1048576);
        assert!(create_options(&json!({})).is_err());
    }

    #[test]
    fn durations_read_as_dockers() {
        assert_eq!(human(Duration::from_secs(0)), "Less than a second");
        assert_eq!(human(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human(Duration::from_secs(90)), "About a minute");
        assert_eq!(human(Duration::from_secs(600)), "10 minutes");
    }
}

/// `logs?follow=1`: the current log file's entries (`tail`, `since`, `until` applied),
/// then each new one while the container runs; it stops when the client goes, also
/// while the container is quiet (a cursor polled, no thread held).
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
