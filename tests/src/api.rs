//! A `tug system service` of a test's own: the Docker API on a socket in the test's
//! directory, killed (by its pid) when the test ends.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::{KillOnDrop, TestRoot, text, wait_for};

/// A running `tug system service` on `socket` (`TUG_API_LOG=1`: its requests in
/// `service.log` of the test's directory).
pub struct ApiServer {
    pub socket: PathBuf,
    _server: KillOnDrop,
}

impl ApiServer {
    /// Starts the server on the test's state root and waits for its socket.
    pub fn start(t: &TestRoot) -> ApiServer {
        let socket = t.path().join("docker.sock");
        let log = std::fs::File::create(t.path().join("service.log")).expect("service log");
        let child = t
            .tug()
            .args(["system", "service", "--host"])
            .arg(format!("unix://{}", socket.display()))
            .env("TUG_API_LOG", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tug system service");
        let server = KillOnDrop(child);
        wait_for("the API socket", Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
        ApiServer {
            socket,
            _server: server,
        }
    }

    /// `DOCKER_HOST` for a client of this server.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self._server.id()
    }

    /// The pid of the server's zygote of shims (`tug __zygote`, its child).
    pub fn zygote_pid(&self) -> Option<u32> {
        children(self.pid()).into_iter().find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"__zygote"))
        })
    }

    /// Stops the server (SIGKILL) and reaps it.
    pub fn kill(self) {
        drop(self);
    }
}

/// The children of process `pid` (of each of its threads), ended or not.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The live children of process `pid` (a zygote's: its shims).
pub fn live_children(pid: u32) -> Vec<u32> {
    children(pid)
        .into_iter()
        .filter(|p| !process_ended(*p))
        .collect()
}

/// The parent of process `pid`, from its stat.
pub fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Whether process `pid` is gone (or a zombie: it ended, no one reaped it yet).
pub fn process_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// A running `tug system service` on a socket in the test's directory, killed (by its
/// pid) when the test ends.
pub struct Service {
    pub socket: PathBuf,
    pub config: PathBuf,
    _server: ApiServer,
}

impl Service {
    /// The server of this service.
    pub fn server(&self) -> &ApiServer {
        &self._server
    }

    pub fn start(t: &TestRoot) -> Service {
        let server = ApiServer::start(t);
        let config = t.path().join("docker-config");
        std::fs::create_dir_all(&config).expect("docker config dir");
        Service {
            socket: server.socket.clone(),
            config,
            _server: server,
        }
    }

    /// `docker ARGS` against this server (its own config dir: no context of the host's).
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", &self.config)
            .stdin(Stdio::null())
            .output()
            .expect("spawn docker")
    }

    /// `docker ARGS` with `input` on its stdin.
    pub fn docker_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", &self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn docker");
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .expect("write docker's stdin");
        }
        child.wait_with_output().expect("wait for docker")
    }

    /// `docker ARGS`, asserted to succeed; its stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.status.success(), "docker {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// One raw HTTP/1.1 request; the whole answer (head and body) as text.
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let mut s = UnixStream::connect(&self.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: api\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read the answer");
        out
    }
}

/// The test's server, or `None` (and a message) when there is no `docker` client here.
pub fn with_docker(t: &TestRoot) -> Option<Service> {
    let found = Command::new("docker")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: no `docker` client on PATH to run against tug's API");
        return None;
    }
    Some(Service::start(t))
}

/// The body of a raw HTTP answer.
pub fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}
