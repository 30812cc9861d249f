//! What the tests in `tests/` share: the busybox web server they start and a plain GET.
//! The tests are a project's own, unchanged: `blocking.rs` with the sync runner,
//! `async_runner.rs` with the async one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::{ContainerRequest, GenericImage, ImageExt};

/// busybox's httpd on port 8080, serving `hello-from-tug`; it says `serving` first.
pub const SERVER: &str = "mkdir -p /www && echo hello-from-tug > /www/index.html && \
                          echo serving && exec httpd -f -p 8080 -h /www";

/// The web server on busybox with port 8080 exposed (mapped to a free host port), a
/// variable and a label; ready when it says `serving`.
pub fn httpd() -> ContainerRequest<GenericImage> {
    GenericImage::new("busybox", "latest")
        .with_exposed_port(8080.tcp())
        .with_wait_for(WaitFor::message_on_stdout("serving"))
        .with_cmd(["sh", "-c", SERVER])
        .with_env_var("GREETING", "hi")
        .with_label("tug.test", "testcontainers-rs")
}

/// GET / on 127.0.0.1:port, retried until the server answers (30 s at most).
pub fn get(port: u16) -> String {
    get_from("127.0.0.1", port)
}

/// [`get`] from `host` (`"::1"` for IPv6's loopback).
pub fn get_from(host: &str, port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = TcpStream::connect((host, port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
            let mut answer = String::new();
            if s.read_to_string(&mut answer).is_ok() && !answer.is_empty() {
                return answer;
            }
        }
        assert!(Instant::now() < deadline, "no answer on {host} port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
