//! `GET /containers/{id}/stats?stream=&one-shot=`: Docker's stats JSON from the
//! engine's cgroup counters, one object, or one a second while the client reads.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::Server;
use super::body::{channel, empty};
use super::error::ApiResult;
use super::query::Query;
use super::router::blocking;

/// One sample: the engine's counters and the host's CPU time, when they were read.
struct Sample {
    at: SystemTime,
    stats: Value,
    cpu: (u64, u64),
}

/// The host's CPU time in nanoseconds (the first line of /proc/stat, in USER_HZ ticks).
fn host_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

fn sample(e: &tug::Engine, name: &str) -> Result<Sample, super::error::ApiError> {
    let s = e.container_stats(name)?;
    let c = &s.container;
    // A container that does not run has no cgroup: zeros, its limit too (Docker's
    // `0B / 0B`).
    let running = s.stats.is_some();
    let st = s.stats.clone().unwrap_or_default();
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let system = host_cpu_ns();
    let stats = json!({
        "name": c.name,
        "id": c.id.to_string(),
        "pids_stats": { "current": st.pids },
        "memory_stats": {
            "usage": st.memory_usage,
            "limit": match (running, st.memory_limit) {
                (false, _) => 0,
                (true, Some(limit)) => limit,
                (true, None) => e.host_info().mem_total,
            },
            "stats": {},
        },
        "blkio_stats": { "io_service_bytes_recursive": [
            { "major": 0, "minor": 0, "op": "read", "value": st.block_read },
            { "major": 0, "minor": 0, "op": "write", "value": st.block_write },
        ]},
        "networks": { "eth0": { "rx_bytes": s.net.rx_bytes, "tx_bytes": s.net.tx_bytes } },
        "num_procs": 0,
        "online_cpus": ncpu,
    });
    Ok(Sample {
        at: SystemTime::now(),
        stats,
        cpu: (st.cpu_usage_ns, system),
    })
}

fn cpu_json(cpu: (u64, u64), ncpu: &Value) -> Value {
    json!({
        "cpu_usage": { "total_usage": cpu.0, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
        "system_cpu_usage": cpu.1,
        "online_cpus": ncpu,
        "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
    })
}

/// Docker's object for `now`, with `before` as its `precpu_stats`.
fn render(now: &Sample, before: Option<&Sample>) -> String {
    let mut v = now.stats.clone();
    let ncpu = v["online_cpus"].clone();
    v["read"] = json!(humantime::format_rfc3339_nanos(now.at).to_string());
    v["cpu_stats"] = cpu_json(now.cpu, &ncpu);
    v["preread"] = json!(match before {
        Some(b) => humantime::format_rfc3339_nanos(b.at).to_string(),
        None => "0001-01-01T00:00:00Z".to_string(),
    });
    v["precpu_stats"] = cpu_json(before.map_or((0, 0), |b| b.cpu), &ncpu);
    v.as_object_mut().map(|o| o.remove("online_cpus"));
    v.to_string() + "\n"
}

/// `GET /containers/{id}/stats`.
pub async fn stats(server: Arc<Server>, id: &str, query: Query) -> ApiResult {
    let stream = query.flag("stream", true);
    let one_shot = query.flag("one-shot", false);
    let name = id.to_string();
    let first = blocking(&server, move |e| sample(e, &name)).await?;
    let (tx, body) = channel();
    let name = id.to_string();
    tokio::spawn(async move {
        let mut before = first;
        if !stream && one_shot {
            let _ = tx.send(Bytes::from(render(&before, None))).await;
            return;
        }
        loop {
            let wait = if stream { 1000 } else { 500 };
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let n = name.clone();
            let Ok(now) = blocking(&server, move |e| sample(e, &n)).await else {
                return;
            };
            if tx
                .send(Bytes::from(render(&now, Some(&before))))
                .await
                .is_err()
                || !stream
            {
                return;
            }
            before = now;
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(body)
        .unwrap_or_else(|_| Response::new(empty())))
}
