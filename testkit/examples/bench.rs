//! The testkit's start-to-ready time: a busybox httpd fixture waited for until its port
//! listens, against the same fixture made with `tug run -d` plus polling the published
//! port, in one run. Prints the medians. Run by scripts/bench-testkit.sh.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use tug_testkit::core::WaitFor;
use tug_testkit::runners::SyncRunner;
use tug_testkit::{GenericImage, ImageExt, Tug};

/// Median, fastest and 90th percentile.
fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {} (min {}, p90 {})",
        ms(at(0.5)),
        ms(v[0]),
        ms(at(0.9))
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One fixture by `tug run -d`: run, ask for the host port, poll it until it accepts.
fn cli_fixture(tug: &std::path::Path) -> Result<(Duration, String), String> {
    let t = Instant::now();
    let out = Command::new(tug)
        .args([
            "run",
            "-d",
            "-p",
            "127.0.0.1::8080",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "8080",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // The published port, from `tug inspect` (NetworkSettings.Ports).
    let inspect = Command::new(tug)
        .args(["inspect", &id])
        .output()
        .map_err(|e| e.to_string())?;
    let json: serde_json::Value =
        serde_json::from_slice(&inspect.stdout).map_err(|e| format!("tug inspect {id}: {e}"))?;
    let hp: u16 = json[0]["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("tug inspect {id}: no host port for 8080/tcp"))?;
    let deadline = t + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", hp)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("port {hp} of {id} never accepted"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok((t.elapsed(), id))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let tug = Tug::shared()?;
    tug.prepare_image("busybox:latest")?;
    let fixture = || {
        GenericImage::new("busybox", "latest")
            .with_cmd(["httpd", "-f", "-p", "8080"])
            .with_exposed_port(8080)
            .with_wait_for(WaitFor::port(8080))
    };
    // One of each first: caches warm, binaries paged in.
    drop(fixture().start()?);
    let (_, id) = cli_fixture(tug.tug_binary())?;
    Command::new(tug.tug_binary())
        .args(["rm", "-f", &id])
        .output()?;

    let mut kit = Vec::new();
    let mut cli = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let c = fixture().start()?;
        kit.push(t.elapsed());
        drop(c);
        let (d, id) = cli_fixture(tug.tug_binary())?;
        cli.push(d);
        Command::new(tug.tug_binary())
            .args(["rm", "-f", &id])
            .output()?;
    }
    println!("start-to-ready of a busybox httpd fixture (wait for port), {runs} runs each:");
    println!("  testkit start():             {}", summary(kit));
    println!("  tug run -d + port polling:   {}", summary(cli));
    Ok(())
}
