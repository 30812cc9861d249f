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
    // The other endpoints (API 1.44+): joined before the container first starts.
    let extra: Vec<Endpoint> = endpoints(&body, &body["HostConfig"])?
        .into_iter()
        .skip(1)
        .collect();
    if !extra.is_empty()
        && (matches!(opts.network.as_str(), "host" | "none")
            || opts.network.starts_with("container:"))
    {
        return Err(ApiError::bad_request(format!(
            "a container on network {:?} cannot join other networks",
            opts.network
        )));
    }
    let may_park = server.may_park();
    let (c, warnings, parked) = blocking(&server, move |e| {
        let warnings = e.create_warnings(&opts);
        let c = e.create_container(&opts)?;
        let id = c.id.to_string();
        for ep in &extra {
            if let Err(err) = e.connect_network(&ep.network, &id, &ep.aliases, ep.ip) {
                // Nothing half-made is left: the container goes with the failure, and
                // with it the anonymous volumes its create made.
                if let Ok(gone) = e.remove_container(&id, true) {
                    let _ = e.remove_anonymous_volumes(&gone.mounts);
                }
                return Err(err.into());
            }
        }
        // Its shim, forked now (the zygote forks it while the answer goes out), is
        // there before the client can ask for the start (see `Server::park`).
        let parked = may_park.then(|| e.park_container_shim(&id)).flatten();
        Ok((c, warnings, parked))
    })
    .await?;
    if let Some(p) = parked {
        server.park(c.id.to_string(), p);
    }
    Ok(json(
        StatusCode::CREATED,
        &json!({ "Id": c.id.to_string(), "Warnings": warnings }),
    ))
}

/// `POST /containers/{id}/update`: new cgroup limits and restart policy (`docker
/// update`), applied at once to a running container.
pub async fn update(server: Arc<Server>, id: &str, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let resources = resources(&body)?;
    let restart_policy = match body["RestartPolicy"]["Name"].as_str() {
        None => None,
        Some(_) => Some(restart_policy(&body)?),
    };
    let opts = tug::container::UpdateOptions {
        resources,
        restart_policy,
    };
    let name = id.to_string();
    blocking(&server, move |e| Ok(e.update_container(&name, &opts)?)).await?;
    Ok(json(StatusCode::OK, &json!({ "Warnings": [] })))
}

/// HostConfig's RestartPolicy (`""` and `no`: never).
fn restart_policy(hc: &Value) -> Result<tug::container::RestartPolicy, ApiError> {
    match hc["RestartPolicy"]["Name"].as_str().unwrap_or_default() {
        "" | "no" => Ok(tug::container::RestartPolicy::default()),
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
                .map_err(|e| ApiError::bad_request(format!("HostConfig.RestartPolicy: {e}")))
        }
    }
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

/// A `HostConfig.Mounts` entry as the `--mount` flag says it.
fn mount_flag(m: &Value) -> String {
    let mut parts = vec![format!("type={}", m["Type"].as_str().unwrap_or("volume"))];
    if let Some(src) = m["Source"].as_str().filter(|s| !s.is_empty()) {
        parts.push(format!("source={src}"));
    }
    parts.push(format!(
        "target={}",
        m["Target"].as_str().unwrap_or_default()
    ));
    if m["ReadOnly"].as_bool().unwrap_or(false) {
        parts.push("readonly".into());
    }
    if let Some(size) = m["TmpfsOptions"]["SizeBytes"].as_i64() {
        parts.push(format!("tmpfs-size={size}"));
    }
    // The API's FileMode is a number; the flag takes it in octal.
    if let Some(mode) = m["TmpfsOptions"]["Mode"].as_u64().filter(|m| *m != 0) {
        parts.push(format!("tmpfs-mode={mode:o}"));
    }
    if let Some(p) = m["BindOptions"]["Propagation"]
        .as_str()
        .filter(|p| !p.is_empty())
    {
        parts.push(format!("bind-propagation={p}"));
    }
    let volume = &m["VolumeOptions"];
    if volume["NoCopy"].as_bool() == Some(true) {
        parts.push("volume-nocopy".into());
    }
    for (k, v) in volume["Labels"].as_object().into_iter().flatten() {
        parts.push(format!(
            "volume-label={k}={}",
            v.as_str().unwrap_or_default()
        ));
    }
    if let Some(d) = volume["DriverConfig"]["Name"]
        .as_str()
        .filter(|d| !d.is_empty())
    {
        parts.push(format!("volume-driver={d}"));
    }
    for (k, v) in volume["DriverConfig"]["Options"]
        .as_object()
        .into_iter()
        .flatten()
    {
        parts.push(format!("volume-opt={k}={}", v.as_str().unwrap_or_default()));
    }
    parts.join(",")
}

/// A JSON object of strings as `KEY=VALUE` pairs.
fn labels_list(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// HostConfig's settings that tug does not apply: a create that sets one is refused (a
/// 400 naming it) rather than run without it. Unset is what clients send by default:
/// absent, null, empty, zero, or the value named beside the key.
const UNSUPPORTED_HOST_CONFIG: &[(&str, &str)] = &[
    ("BlkioWeightDevice", ""),
    ("CpuRealtimePeriod", ""),
    ("CpuRealtimeRuntime", ""),
    ("CpuCount", ""),
    ("CpuPercent", ""),
    ("IOMaximumIOps", ""),
    ("IOMaximumBandwidth", ""),
    ("KernelMemory", ""),
    ("KernelMemoryTCP", ""),
    ("UsernsMode", "host"),
    ("Runtime", "runc"),
    ("StorageOpt", ""),
    ("VolumeDriver", "local"),
    ("Isolation", "default"),
    // `--gpus`: no device driver here.
    ("DeviceRequests", ""),
    ("Annotations", ""),
];

/// The first HostConfig setting of [`UNSUPPORTED_HOST_CONFIG`] that `hc` sets.
fn unsupported_setting(hc: &Value) -> Option<&'static str> {
    UNSUPPORTED_HOST_CONFIG.iter().find_map(|&(key, default)| {
        let set = match &hc[key] {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty() && s != default,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        };
        set.then_some(key)
    })
}

/// The body of a create (Config with HostConfig inside) as the options `tug run` builds.
fn create_options(body: &Value) -> Result<CreateOptions, ApiError> {
    let bad = |m: String| ApiError::bad_request(m);
    if let Some(key) = unsupported_setting(&body["HostConfig"]) {
        return Err(bad(format!(
            "HostConfig.{key} is not supported by tug: {}",
            body["HostConfig"][key]
        )));
    }
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
    let labels = labels_list(&body["Labels"]);
    let mut mounts = Vec::new();
    for b in strings(&hc["Binds"]) {
        mounts.push(
            tug::volume::parse_volume_flag(&b)
                .map_err(|e| bad(format!("HostConfig.Binds {b:?}: {}", tug::report(&e))))?,
        );
    }
    if let Some(list) = hc["Mounts"].as_array() {
        for m in list {
            let flag = mount_flag(m);
            mounts.push(
                tug::volume::parse_mount_flag(&flag)
                    .map_err(|e| bad(format!("HostConfig.Mounts {m}: {}", tug::report(&e))))?,
            );
        }
    }
    if let Some(map) = hc["Tmpfs"].as_object() {
        for (path, opts) in map {
            let flag = match opts.as_str().unwrap_or_default() {
                "" => path.clone(),
                o => format!("{path}:{o}"),
            };
            mounts.push(
                tug::volume::parse_tmpfs_flag(&flag)
                    .map_err(|e| bad(format!("HostConfig.Tmpfs {path}: {}", tug::report(&e))))?,
            );
        }
    }
    // Config.Volumes: anonymous volumes at these paths (as `-v /path`), but for a path
    // that a bind or a mount already covers (compose sends both).
    if let Some(map) = body["Volumes"].as_object() {
        let taken: Vec<String> = mounts
            .iter()
            .map(|m| m.target.trim_end_matches('/').to_string())
            .collect();
        for path in map
            .keys()
            .filter(|p| !taken.contains(&p.trim_end_matches('/').to_string()))
        {
            mounts.push(
                tug::volume::parse_volume_flag(path)
                    .map_err(|e| bad(format!("Volumes {path:?}: {}", tug::report(&e))))?,
            );
        }
    }
    let volumes_from = strings(&hc["VolumesFrom"])
        .iter()
        .map(|v| tug::volume::parse_volumes_from(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("HostConfig.VolumesFrom: {}", tug::report(&e))))?;
    let mut ulimits = Vec::new();
    for u in hc["Ulimits"].as_array().into_iter().flatten() {
        let text = format!(
            "{}={}:{}",
            u["Name"].as_str().unwrap_or_default(),
            u["Soft"].as_i64().unwrap_or(0),
            u["Hard"].as_i64().unwrap_or(0)
        );
        ulimits.push(
            tug::container::Ulimit::parse(&text)
                .map_err(|e| bad(format!("HostConfig.Ulimits {text}: {e}")))?,
        );
    }
    let devices = hc["Devices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let host = d["PathOnHost"].as_str().unwrap_or_default();
            let inside = d["PathInContainer"]
                .as_str()
                .filter(|p| !p.is_empty())
                .unwrap_or(host);
            let perms = d["CgroupPermissions"]
                .as_str()
                .filter(|p| !p.is_empty())
                .unwrap_or("rwm");
            format!("{host}:{inside}:{perms}")
        })
        .collect();
    // The engine checks the driver (json-file, local, none) and its options.
    let log_driver = hc["LogConfig"]["Type"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let log_opts = labels_list(&hc["LogConfig"]["Config"]);
    // NetworkingConfig: the network the container joins with its aliases and fixed
    // address; the other endpoints are joined after the create.
    let Endpoint {
        network,
        aliases: network_aliases,
        ip,
        mac,
    } = endpoints(body, hc)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("no network endpoint"))?;
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
    let restart_policy = restart_policy(hc)?;
    let auto_remove = hc["AutoRemove"].as_bool().unwrap_or(false);
    // Docker's daemon refuses the pair, as `docker run` does (`--restart` and `--rm`).
    if auto_remove && restart_policy.name != "no" {
        return Err(ApiError::bad_request(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    let resources = resources(hc)?;
    // Docker's HealthConfig (durations in nanoseconds): over the image's HEALTHCHECK,
    // setting by setting, as `--health-*` are. docker-py sends the unset ones as null.
    let healthcheck = match &body["Healthcheck"] {
        Value::Null => None,
        Value::Object(o) => {
            let set: serde_json::Map<String, Value> = o
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Some(
                serde_json::from_value::<tug::container::Healthcheck>(Value::Object(set))
                    .map_err(|e| bad(format!("Healthcheck: {e}")))?,
            )
        }
        v => return Err(bad(format!("Healthcheck: not an object: {v}"))),
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
        console_size: console_size(hc),
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
        volumes_from,
        ulimits,
        devices,
        log_driver,
        log_opts,
        stdin_once: body["StdinOnce"].as_bool(),
        network_aliases,
        ip,
        links: strings(&hc["Links"]),
        // API 1.44 moved it into the endpoint (`docker run --mac-address` sends it there).
        mac_address: string(&body["MacAddress"]).or(mac),
        shm_size: hc["ShmSize"].as_i64().filter(|s| *s > 0),
        pid_mode: hc["PidMode"].as_str().unwrap_or_default().to_string(),
        ipc_mode: hc["IpcMode"].as_str().unwrap_or_default().to_string(),
        uts_mode: hc["UTSMode"].as_str().unwrap_or_default().to_string(),
        cgroupns_mode: hc["CgroupnsMode"].as_str().unwrap_or_default().to_string(),
        sysctls: labels_list(&hc["Sysctls"]),
        domainname: string(&body["Domainname"]),
        group_add: strings(&hc["GroupAdd"]),
        oom_score_adj: hc["OomScoreAdj"].as_i64().filter(|s| *s != 0),
        cgroup_parent: string(&hc["CgroupParent"]),
        device_cgroup_rules: strings(&hc["DeviceCgroupRules"]),
        healthcheck,
        ..Default::default()
    })
}

/// One entry of NetworkingConfig.EndpointsConfig.
#[derive(Debug, PartialEq)]
pub struct Endpoint {
    pub network: String,
    pub aliases: Vec<String>,
    pub ip: Option<std::net::Ipv4Addr>,
    /// `MacAddress` (API 1.44 and later; tug applies the first endpoint's).
    pub mac: Option<String>,
}

/// The endpoints of NetworkingConfig, each checked, the one the container is created on
/// first: NetworkMode's entry (`""`/`default` name the default bridge), or the only
/// entry when NetworkMode is the default (older clients name the network only there).
/// Without an entry for it, the first endpoint is NetworkMode's, bare.
pub fn endpoints(body: &Value, hc: &Value) -> Result<Vec<Endpoint>, ApiError> {
    // `NetworkDisabled` (docker-py's `network_disabled`): no network at all, whatever
    // else the body names, as `--network none`.
    if body["NetworkDisabled"].as_bool() == Some(true) {
        return Ok(vec![Endpoint {
            network: "none".into(),
            aliases: Vec::new(),
            ip: None,
            mac: None,
        }]);
    }
    let bridge = |n: &str| matches!(n, "" | "default" | "bridge");
    let mode = hc["NetworkMode"].as_str().unwrap_or_default();
    let mut out = Vec::new();
    if let Some(map) = body["NetworkingConfig"]["EndpointsConfig"].as_object() {
        for (name, e) in map {
            let ip = match e["IPAMConfig"]["IPv4Address"]
                .as_str()
                .filter(|s| !s.is_empty())
            {
                None => None,
                Some(a) => Some(a.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "NetworkingConfig.EndpointsConfig.{name}: invalid IPv4Address {a:?}"
                    ))
                })?),
            };
            let network = if bridge(name) {
                "bridge".into()
            } else {
                name.clone()
            };
            out.push(Endpoint {
                network,
                aliases: strings(&e["Aliases"]),
                ip,
                mac: e["MacAddress"]
                    .as_str()
                    .filter(|m| !m.is_empty())
                    .map(String::from),
            });
        }
    }
    let mode = if bridge(mode) { "bridge" } else { mode };
    match out.iter().position(|e| e.network == mode) {
        Some(i) => {
            let first = out.remove(i);
            out.insert(0, first);
        }
        None if mode == "bridge" && out.len() == 1 => {}
        None => out.insert(
            0,
            Endpoint {
                network: mode.to_string(),
                aliases: Vec::new(),
                ip: None,
                mac: None,
            },
        ),
    }
    Ok(out)
}

/// HostConfig's (or an exec's) ConsoleSize (`[height, width]`); none when unset or zero,
/// as the CLI sends it without a terminal.
pub fn console_size(hc: &Value) -> Option<(u16, u16)> {
    let dim = |i: usize| {
        hc["ConsoleSize"][i]
            .as_u64()
            .and_then(|v| u16::try_from(v).ok())
    };
    match (dim(0)?, dim(1)?) {
        (0, _) | (_, 0) => None,
        size => Some(size),
    }
}

/// HostConfig's cgroup limits (also the body of `POST /containers/{id}/update`). Docker's
/// "unset" values (0, -1 swappiness, null) leave a limit as it is.
pub fn resources(hc: &Value) -> Result<tug::container::Resources, ApiError> {
    // Each value of the type Docker's decoder wants, or a 400 naming it (as Docker's
    // `cannot unmarshal`), never a value read as 0 and a limit silently not set.
    let wrong = |k: &str, want: &str| {
        ApiError::bad_request(format!("HostConfig.{k}: {} is not {want}", hc[k]))
    };
    let opt_int = |k: &str| match &hc[k] {
        Value::Null => Ok(None),
        v => v.as_i64().map(Some).ok_or_else(|| wrong(k, "an integer")),
    };
    let int = |k: &str| opt_int(k).map(|v| v.unwrap_or(0));
    let text = |k: &str| match &hc[k] {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(wrong(k, "a string")),
    };
    let oom_kill_disable = match &hc["OomKillDisable"] {
        Value::Null => None,
        Value::Bool(b) => Some(*b).filter(|d| *d),
        _ => return Err(wrong("OomKillDisable", "a boolean")),
    };
    // `--device-read-bps` and the others: `[{"Path": "/dev/sda", "Rate": 1048576}]`.
    let throttle = |k: &str| -> Result<Vec<tug::container::ThrottleDevice>, ApiError> {
        if hc[k].is_null() {
            return Ok(Vec::new());
        }
        let list: Vec<tug::container::ThrottleDevice> = serde_json::from_value(hc[k].clone())
            .map_err(|_| wrong(k, "a list of {\"Path\", \"Rate\"}"))?;
        match list.iter().find(|d| !d.path.starts_with("/dev/")) {
            Some(d) => Err(ApiError::bad_request(format!(
                "HostConfig.{k}: {} is not a device path (/dev/...)",
                d.path
            ))),
            None => Ok(list),
        }
    };
    let blkio_weight = u16::try_from(int("BlkioWeight")?).map_err(|_| {
        ApiError::bad_request(format!(
            "HostConfig.BlkioWeight: {} is out of range (10 to 1000)",
            hc["BlkioWeight"]
        ))
    })?;
    Ok(tug::container::Resources {
        memory: int("Memory")?,
        memory_swap: int("MemorySwap")?,
        memory_reservation: int("MemoryReservation")?,
        nano_cpus: int("NanoCpus")?,
        cpu_shares: int("CpuShares")?,
        cpu_quota: int("CpuQuota")?,
        cpu_period: int("CpuPeriod")?,
        cpuset_cpus: text("CpusetCpus")?,
        cpuset_mems: text("CpusetMems")?,
        pids_limit: opt_int("PidsLimit")?.filter(|p| *p != 0),
        oom_kill_disable,
        memory_swappiness: opt_int("MemorySwappiness")?.filter(|s| *s >= 0),
        blkio_weight,
        device_read_bps: throttle("BlkioDeviceReadBps")?,
        device_write_bps: throttle("BlkioDeviceWriteBps")?,
        device_read_iops: throttle("BlkioDeviceReadIOps")?,
        device_write_iops: throttle("BlkioDeviceWriteIOps")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What clients send for an unset setting passes; a setting tug cannot apply is named.
    #[test]
    fn unsupported_host_config_is_named_only_when_set() {
        let unset = json!({
            "BlkioDeviceReadBps": null, "BlkioWeightDevice": [], "CpuCount": 0,
            "UsernsMode": "", "Runtime": "runc", "VolumeDriver": "", "Isolation": "default",
            "StorageOpt": {}, "Memory": 1024,
        });
        assert_eq!(unsupported_setting(&unset), None);
        // The block devices' limits are the engine's (`--device-read-bps` and its kin).
        let throttled = json!({"BlkioDeviceReadBps": [{"Path": "/dev/vda", "Rate": 1}],
                               "BlkioDeviceWriteIOps": [{"Path": "/dev/vdb", "Rate": 100}]});
        assert_eq!(unsupported_setting(&throttled), None);
        let r = resources(&throttled).unwrap();
        assert_eq!(
            (
                r.device_read_bps[0].path.as_str(),
                r.device_read_bps[0].rate
            ),
            ("/dev/vda", 1)
        );
        assert_eq!(r.device_write_iops[0].rate, 100);
        assert!(r.device_write_bps.is_empty() && r.device_read_iops.is_empty());
        let not_a_device = json!({"BlkioDeviceReadBps": [{"Path": "/etc/passwd", "Rate": 1}]});
        assert!(
            resources(&not_a_device)
                .unwrap_err()
                .message
                .contains("/etc/passwd")
        );
        assert!(resources(&json!({"BlkioDeviceReadBps": "fast"})).is_err());
        assert_eq!(
            unsupported_setting(&json!({"Runtime": "kata"})),
            Some("Runtime")
        );
        assert_eq!(unsupported_setting(&json!({"UsernsMode": "host"})), None);
        // A limit of the wrong type is named, not read as no limit.
        let err = resources(&json!({"Memory": "lots"})).unwrap_err();
        assert!(err.message.contains("HostConfig.Memory"), "{}", err.message);
        assert!(resources(&json!({"CpusetCpus": 1})).is_err());
        assert!(resources(&json!({"OomKillDisable": "yes"})).is_err());
        let r = resources(&json!({"Memory": 1024, "PidsLimit": null, "CpusetCpus": "0"})).unwrap();
        assert_eq!(
            (r.memory, r.pids_limit, r.cpuset_cpus.as_str()),
            (1024, None, "0")
        );
        let gpus = json!({"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]});
        assert_eq!(unsupported_setting(&gpus), Some("DeviceRequests"));
        let err = create_options(&json!({"Image": "busybox", "HostConfig": {"CpuPercent": 50}}))
            .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.message.contains("HostConfig.CpuPercent"),
            "{}",
            err.message
        );
    }

    #[test]
    fn endpoints_put_the_network_mode_first_and_keep_the_others() {
        let names = |body: &Value| -> Vec<String> {
            endpoints(body, &body["HostConfig"])
                .unwrap()
                .into_iter()
                .map(|e| e.network)
                .collect()
        };
        let two = json!({"HostConfig": {"NetworkMode": "back"}, "NetworkingConfig":
            {"EndpointsConfig": {"a-front": {"Aliases": ["web"]}, "back": {}}}});
        assert_eq!(names(&two), ["back", "a-front"]);
        let eps = endpoints(&two, &two["HostConfig"]).unwrap();
        assert_eq!(eps[1].aliases, ["web"]);
        // An older client: NetworkMode left out, the network named only in the endpoints.
        let only = json!({"NetworkingConfig": {"EndpointsConfig": {"appnet": {}}}});
        assert_eq!(names(&only), ["appnet"]);
        assert_eq!(
            create_options(&json!({"Image": "b", "NetworkingConfig": {
            "EndpointsConfig": {"appnet": {"Aliases": ["db"]}}}}))
            .unwrap()
            .network_aliases,
            ["db"]
        );
        // API 1.44's place for `--mac-address`: the endpoint's.
        assert_eq!(
            create_options(&json!({"Image": "b", "HostConfig": {"NetworkMode": "appnet"},
            "NetworkingConfig": {"EndpointsConfig": {"appnet": {"MacAddress": "02:42:aa:bb:cc:dd"}}}}))
            .unwrap()
            .mac_address
            .as_deref(),
            Some("02:42:aa:bb:cc:dd")
        );
        let none = json!({"HostConfig": {"NetworkMode": "default"}});
        assert_eq!(names(&none), ["bridge"]);
        let default = json!({"HostConfig": {"NetworkMode": "bridge"}, "NetworkingConfig":
            {"EndpointsConfig": {"default": {}, "other": {}}}});
        assert_eq!(names(&default), ["bridge", "other"]);
        let host = json!({"HostConfig": {"NetworkMode": "host"}, "NetworkingConfig":
            {"EndpointsConfig": {"other": {}}}});
        assert_eq!(names(&host), ["host", "other"]);
        let bad_ip = json!({"NetworkingConfig": {"EndpointsConfig": {"n": {
            "IPAMConfig": {"IPv4Address": "10.0.0.300"}}}}});
        let err = endpoints(&bad_ip, &Value::Null).unwrap_err();
        assert!(err.message.contains("EndpointsConfig.n"), "{}", err.message);
    }

    #[test]
    fn console_size_is_height_then_width_and_zero_is_unset() {
        assert_eq!(
            console_size(&json!({"ConsoleSize": [40, 120]})),
            Some((40, 120))
        );
        assert_eq!(console_size(&json!({"ConsoleSize": [0, 0]})), None);
        assert_eq!(console_size(&json!({})), None);
        assert_eq!(console_size(&json!({"ConsoleSize": [70000, 80]})), None);
    }

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
        // Docker's daemon refuses `--rm` with a restart policy, as its CLI does.
        let mut both = body.clone();
        both["HostConfig"]["RestartPolicy"]["Name"] = json!("always");
        let err = create_options(&both).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("AutoRemove"), "{}", err.message);
        assert_eq!(o.network, "bridge");
        assert_eq!(o.publish.len(), 1);
        assert_eq!(o.resources.memory, 1048576);
        assert!(create_options(&json!({})).is_err());
        let body = json!({
            "Image": "busybox",
            "Volumes": {"/data": {}},
            "HostConfig": {
                "NetworkMode": "appnet",
                "Mounts": [{"Type": "bind", "Source": "/tmp", "Target": "/host", "ReadOnly": true}],
                "Tmpfs": {"/run": "size=1m"},
                "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
                "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}
            },
            "NetworkingConfig": {"EndpointsConfig": {"appnet": {
                "Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}
            }}}
        });
        let o = create_options(&body).unwrap();
        assert_eq!(o.mounts.len(), 3);
        let both = json!({
            "Image": "busybox",
            "Volumes": {"/data": {}},
            "HostConfig": {"Binds": ["named:/data:rw"]}
        });
        assert_eq!(create_options(&both).unwrap().mounts.len(), 1);
        assert_eq!(o.network, "appnet");
        assert_eq!(o.network_aliases, vec!["db"]);
        assert_eq!(o.ip, Some("10.9.0.5".parse().unwrap()));
        assert_eq!(o.ulimits.len(), 1);
        assert_eq!(o.log_opts, vec!["max-size=1m"]);
        let knobs = json!({"Image": "b", "Domainname": "example.org", "HostConfig": {
            "Sysctls": {"net.ipv4.ip_forward": "1"}, "CpuQuota": 50000, "CpuPeriod": 100000,
            "CpusetCpus": "0", "CpusetMems": "0", "BlkioWeight": 300, "OomKillDisable": true,
            "OomScoreAdj": 500, "MemoryReservation": 1048576, "MemorySwappiness": -1,
            "PidMode": "host", "IpcMode": "shareable", "UTSMode": "host",
            "CgroupnsMode": "private", "GroupAdd": ["audio"], "CgroupParent": "/tugtest"
        }});
        let o = create_options(&knobs).unwrap();
        assert_eq!(o.sysctls, vec!["net.ipv4.ip_forward=1"]);
        let r = &o.resources;
        assert_eq!(
            (r.cpu_quota, r.cpu_period, r.blkio_weight),
            (50000, 100000, 300)
        );
        assert_eq!((r.cpuset_cpus.as_str(), r.cpuset_mems.as_str()), ("0", "0"));
        assert_eq!(
            (r.oom_kill_disable, r.memory_swappiness),
            (Some(true), None)
        );
        assert_eq!(r.memory_reservation, 1048576);
        assert_eq!(
            (o.pid_mode.as_str(), o.ipc_mode.as_str()),
            ("host", "shareable")
        );
        assert_eq!(
            (o.uts_mode.as_str(), o.cgroupns_mode.as_str()),
            ("host", "private")
        );
        assert_eq!((o.oom_score_adj, o.group_add.len()), (Some(500), 1));
        assert_eq!(o.cgroup_parent.as_deref(), Some("/tugtest"));
        assert_eq!(o.domainname.as_deref(), Some("example.org"));
        let heavy = json!({"Image": "b", "HostConfig": {"BlkioWeight": 70000}});
        assert!(create_options(&heavy).is_err());
        // The driver goes to the engine, which takes json-file, local and none and
        // refuses the others (tests/tests/api.rs).
        let none = json!({"Image": "b", "HostConfig": {"LogConfig": {"Type": "none"}}});
        assert_eq!(
            create_options(&none).unwrap().log_driver.as_deref(),
            Some("none")
        );
        let default = json!({"Image": "b", "HostConfig": {"LogConfig": {"Type": ""}}});
        assert_eq!(create_options(&default).unwrap().log_driver, None);
    }
}
