//! `POST /containers/create`: Docker's Config and HostConfig as the options `tug run`
//! builds.

use std::sync::Arc;

use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;
use serde_json::{Value, json};
use tug::container::CreateOptions;

use super::Server;
use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::router::{blocking, json, json_body};

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
}
