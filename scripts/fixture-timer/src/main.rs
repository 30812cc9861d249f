//! `fixture-timer IMAGE TAG PORT stdout|stderr MESSAGE [KEY=VALUE...]`: starts the image
//! with testcontainers-rs's blocking runner (DOCKER_HOST names the daemon), waits for
//! MESSAGE on the stream, connects to the mapped PORT, drops it; once untimed, then RUNS
//! times (default 10); prints the median start-to-ready in ms (with EACH set: each run's,
//! a line each). With FIXTURE_CMD set, the container runs `sh -c "$FIXTURE_CMD"` instead
//! of the image's command.

use std::time::{Duration, Instant};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{ContainerRequest, GenericImage, ImageExt};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, tag, port, stream, message, env @ ..] = args.as_slice() else {
        eprintln!("usage: fixture-timer IMAGE TAG PORT stdout|stderr MESSAGE [KEY=VALUE...]");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("PORT: a number");
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let start = || {
        let wait = match stream.as_str() {
            "stderr" => WaitFor::message_on_stderr(message.as_str()),
            _ => WaitFor::message_on_stdout(message.as_str()),
        };
        let mut req: ContainerRequest<GenericImage> =
            GenericImage::new(image.as_str(), tag.as_str())
                .with_exposed_port(port.tcp())
                .with_wait_for(wait)
                .into();
        if let Ok(cmd) = std::env::var("FIXTURE_CMD") {
            req = req.with_cmd(["sh".to_string(), "-c".to_string(), cmd]);
        }
        for kv in env {
            let (k, v) = kv.split_once('=').expect("KEY=VALUE");
            req = req.with_env_var(k, v);
        }
        req.start().expect("start")
    };
    drop(start());
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let c = start();
            let d = t.elapsed();
            let host_port = c.get_host_port_ipv4(port.tcp()).expect("the mapped port");
            std::net::TcpStream::connect(("127.0.0.1", host_port)).expect("connect");
            drop(c);
            d
        })
        .collect();
    if std::env::var_os("EACH").is_some() {
        for t in &times {
            println!("{:.1}", t.as_secs_f64() * 1000.0);
        }
        return;
    }
    times.sort();
    println!("{:.1}", times[times.len() / 2].as_secs_f64() * 1000.0);
}
