//! Helpers for the registry tests: Debian's `docker-registry` on loopback (no auth,
//! htpasswd Basic, or token auth with a small JWT token server the test runs), OCI
//! layouts with test images, and a TCP proxy that can kill the registry mid-transfer.
//!
//! Needs the Debian packages docker-registry, apache2-utils (htpasswd, bcrypt) and
//! openssl (key, certificate and JWT signatures).

mod layout;
mod proxy;
mod token;
mod world;

pub use crate::stderr;
pub use layout::{Desc, Layout, layer_tar, noise, tree};
pub use proxy::Proxy;
pub use token::TokenServer;
pub use world::{World, add_image, skopeo_copy};

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits until something accepts connections on `port`, or panics after `deadline`.
pub fn wait_for_port(port: u16, deadline: Duration, what: &str) {
    let end = Instant::now() + deadline;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < end,
            "{what} did not listen on port {port} within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How the registry authenticates clients.
#[derive(Clone)]
pub enum Auth {
    None,
    /// htpasswd (bcrypt) with one user.
    Basic {
        user: String,
        password: String,
    },
    /// The token flow against a [`TokenServer`].
    Token {
        realm: String,
        service: String,
        issuer: String,
        cert: PathBuf,
    },
}

/// A `docker-registry` process on a loopback port, storing under a temp dir; killed by
/// its pid on drop.
pub struct Registry {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Registry {
    /// Starts a registry with no auth.
    pub fn start() -> Registry {
        Registry::start_with(Auth::None)
    }

    /// Starts a registry with `auth`.
    pub fn start_with(auth: Auth) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("registry")
            .tempdir()
            .expect("tempdir");
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Basic { user, password } => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("run htpasswd (Debian package apache2-utils)");
                assert!(out.status.success(), "htpasswd failed");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                    file.display()
                )
            }
            Auth::Token {
                realm,
                service,
                issuer,
                cert,
            } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                cert.display()
            ),
        };
        let mut r = Registry {
            port: 0,
            dir,
            child: None,
        };
        // A free port may be taken between our probe and the registry's bind: then the
        // registry exits, and another port is tried.
        for _ in 0..5 {
            r.port = crate::net::free_port(false);
            let config = format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n{auth_yaml}",
                r.dir.path().join("data").display(),
                r.port
            );
            std::fs::write(r.dir.path().join("config.yml"), config).expect("write config.yml");
            if r.try_start() {
                return r;
            }
        }
        panic!("docker-registry did not start: {}", r.log());
    }

    /// (Re)starts the process on the same port and storage.
    pub fn restart(&mut self) {
        assert!(
            self.try_start(),
            "docker-registry did not start again on port {}: {}",
            self.port,
            self.log()
        );
    }

    /// Starts the process and waits (with a deadline) until it says it listens on its
    /// port; false if it exited first (the port was taken).
    fn try_start(&mut self) -> bool {
        self.kill();
        let log_path = self.dir.path().join("log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        self.child = Some(child);
        let ready = format!("listening on 127.0.0.1:{}", self.port);
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains(&ready)) {
                wait_for_port(self.port, Duration::from_secs(5), "docker-registry");
                return true;
            }
            if let Some(c) = self.child.as_mut()
                && c.try_wait().is_ok_and(|s| s.is_some())
            {
                self.child = None;
                return false;
            }
            assert!(
                Instant::now() < end,
                "docker-registry did not listen within 20 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The registry's pid (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process (SIGKILL to its pid) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The file where the registry keeps a blob's bytes (filesystem driver).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}
