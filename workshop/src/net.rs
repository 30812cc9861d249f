//! Talking to published ports from the host: one HTTP GET, one TCP exchange. Short
//! timeouts, so that a wrong answer fails in seconds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

/// An HTTP/1.0 answer: its status code and body.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` from 127.0.0.1:port (HTTP/1.0: the server closes after its answer).
pub fn http_get(port: u16, path: &str) -> std::io::Result<HttpAnswer> {
    let mut s = connect(port)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("not an HTTP answer (no end of headers)"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP status line: {head:.60}")))?;
    Ok(HttpAnswer {
        status,
        body: raw[end + 4..].to_vec(),
    })
}

/// A TCP connection to 127.0.0.1:port, with read and write timeouts.
pub fn connect(port: u16) -> std::io::Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    Ok(s)
}

/// Whether something on the host already listens on 127.0.0.1:port (a grade that needs a
/// fixed port cannot run then).
#[allow(dead_code)]
pub fn port_taken(port: u16) -> bool {
    std::net::TcpListener::bind(("0.0.0.0", port)).is_err()
}
