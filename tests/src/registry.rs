//! Helpers for the registry tests: Debian's `docker-registry` on loopback (no auth,
//! htpasswd Basic, or token auth with a small JWT token server the test runs), OCI
//! layouts with test images, and a TCP proxy that can kill the registry mid-transfer.
//!
//! Needs the Debian packages docker-registry, apache2-utils (htpasswd, bcrypt) and
//! openssl (key, certificate and JWT signatures).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::Digest as _;

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

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
        let port = free_port();
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
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth_yaml}",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).expect("write config.yml");
        let mut r = Registry {
            port,
            dir,
            child: None,
        };
        r.restart();
        r
    }

    /// (Re)starts the process on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        let log = std::fs::File::create(self.dir.path().join("log")).expect("log file");
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(20), "docker-registry");
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

/// A token server for the registry's token auth: RS256 JWTs with an `x5c` header, signed
/// by openssl with a key whose self-signed certificate is the registry's root bundle.
/// It grants every requested action to `user`/`password` (only `pull` on repositories
/// under `readonly/`) and refuses anyone else.
pub struct TokenServer {
    pub port: u16,
    pub service: String,
    pub issuer: String,
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    /// How many tokens it has issued.
    pub issued: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenServer {
    pub fn start(user: &str, password: &str) -> TokenServer {
        let dir = tempfile::Builder::new()
            .prefix("tokens")
            .tempdir()
            .expect("tempdir");
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=tug-test-token-issuer"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .expect("run openssl x509");
        assert!(der.status.success());
        let x5c = STANDARD.encode(&der.stdout);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(AtomicUsize::new(0));
        let service = "tug-test-registry".to_string();
        let issuer = "tug-test-issuer".to_string();
        let ctx = TokenCtx {
            key,
            x5c,
            service: service.clone(),
            issuer: issuer.clone(),
            basic: format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))),
            issued: issued.clone(),
        };
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(c) = conn {
                    let _ = ctx.serve(c);
                }
            }
        });
        TokenServer {
            port,
            service,
            issuer,
            dir,
            stop,
            issued,
            thread: Some(thread),
        }
    }

    /// The registry auth settings that point at this server.
    pub fn auth(&self) -> Auth {
        Auth::Token {
            realm: format!("http://127.0.0.1:{}/token", self.port),
            service: self.service.clone(),
            issuer: self.issuer.clone(),
            cert: self.dir.path().join("cert.pem"),
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct TokenCtx {
    key: PathBuf,
    x5c: String,
    service: String,
    issuer: String,
    basic: String,
    issued: Arc<AtomicUsize>,
}

impl TokenCtx {
    fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut authorized = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("authorization")
                && v.trim() == self.basic
            {
                authorized = true;
            }
        }
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
        let scopes: Vec<String> = query
            .split('&')
            .filter_map(|kv| kv.strip_prefix("scope="))
            .map(percent_decode)
            .collect();
        let mut stream = stream;
        if !authorized {
            let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#;
            write!(
                stream,
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            return Ok(());
        }
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .flat_map(|s| s.split(' ').map(str::to_string).collect::<Vec<_>>())
            .filter_map(|s| {
                let mut parts = s.splitn(3, ':');
                let (t, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                let actions: Vec<&str> = actions
                    .split(',')
                    .filter(|a| !name.starts_with("readonly/") || *a == "pull")
                    .collect();
                Some(serde_json::json!({"type": t, "name": name, "actions": actions}))
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let claims = serde_json::json!({
            "iss": self.issuer, "sub": "alice", "aud": self.service,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("t{n}"),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(signing_input.as_bytes())?;
        let out = child.wait_with_output()?;
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&out.stdout));
        let body = serde_json::json!({"token": token, "expires_in": 300}).to_string();
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A TCP proxy to a loopback port that calls `on_threshold` once after `threshold` bytes
/// went from the server to clients (the test kills the registry there).
pub struct Proxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy whose first `failures` connections get `503 Service Unavailable`.
    pub fn flaky(backend: u16, failures: usize) -> Proxy {
        let left = Arc::new(AtomicUsize::new(failures));
        Proxy::with_gate(
            backend,
            u64::MAX,
            || {},
            move |mut client: &TcpStream| {
                if left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_err()
                {
                    return true;
                }
                let mut buf = [0u8; 4096];
                let _ = client.read(&mut buf);
                let _ = client.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
                false
            },
        )
    }

    pub fn start(
        backend: u16,
        threshold: u64,
        on_threshold: impl Fn() + Send + Sync + 'static,
    ) -> Proxy {
        Proxy::with_gate(backend, threshold, on_threshold, |_: &TcpStream| true)
    }

    /// The general proxy: `gate` sees each new client connection first and says whether
    /// to forward it (else it is closed).
    fn with_gate(
        backend: u16,
        threshold: u64,
        on_threshold: impl Fn() + Send + Sync + 'static,
        gate: impl Fn(&TcpStream) -> bool + Send + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let sent = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(Mutex::new(false));
        let hook: Arc<dyn Fn() + Send + Sync> = Arc::new(on_threshold);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                if !gate(&client) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", backend)) else {
                    continue;
                };
                let (mut c_read, mut s_write) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut s_write);
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let (sent, fired, hook) = (sent.clone(), fired.clone(), hook.clone());
                std::thread::spawn(move || {
                    let (mut server, mut client) = (server, client);
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let n = match server.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                        if total >= threshold {
                            let mut f = fired.lock().unwrap_or_else(|p| p.into_inner());
                            if !*f {
                                *f = true;
                                hook();
                                break;
                            }
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Proxy { port, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Deterministic bytes that gzip cannot shrink (xorshift from `seed`).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An uncompressed tar of regular files (mode 0644, mtime 0).
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).expect("append to tar");
    }
    b.into_inner().expect("finish tar")
}

fn sha256(data: &[u8]) -> String {
    let h = sha2::Sha256::digest(data);
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A descriptor of something written into a layout.
#[derive(Debug, Clone)]
pub struct Desc {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Desc {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// An OCI image layout being written (for tug's store, `<root>/images`, or for skopeo).
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("create layout");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        if !dir.join("index.json").exists() {
            std::fs::write(
                dir.join("index.json"),
                r#"{"schemaVersion":2,"manifests":[]}"#,
            )
            .expect("write index.json");
        }
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes a blob; returns its descriptor.
    pub fn blob(&self, media_type: &str, data: &[u8]) -> Desc {
        let digest = sha256(data);
        let hex = digest.trim_start_matches("sha256:");
        std::fs::write(self.dir.join("blobs/sha256").join(hex), data).expect("write blob");
        Desc {
            media_type: media_type.into(),
            digest,
            size: data.len() as u64,
        }
    }

    /// Writes an image of these uncompressed layer tars (gzipped at `level`) for `arch`;
    /// returns its manifest's descriptor.
    pub fn image(&self, tars: &[Vec<u8>], arch: &str, level: u32) -> Desc {
        use flate2::write::GzEncoder;
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for t in tars {
            diff_ids.push(sha256(t));
            let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            gz.write_all(t).expect("gzip");
            let data = gz.finish().expect("gzip");
            layers.push(self.blob("application/vnd.oci.image.layer.v1.tar+gzip", &data));
        }
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.blob(
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.json(),
            "layers": layers.iter().map(Desc::json).collect::<Vec<_>>(),
        });
        self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        )
    }

    /// Writes an OCI index of these manifests with their platforms (`linux/amd64`).
    pub fn index(&self, entries: &[(Desc, &str)]) -> Desc {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .map(|(d, platform)| {
                let (os, arch) = platform.split_once('/').expect("os/arch");
                let mut j = d.json();
                j["platform"] = serde_json::json!({"os": os, "architecture": arch});
                j
            })
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        self.blob(
            "application/vnd.oci.image.index.v1+json",
            index.to_string().as_bytes(),
        )
    }

    /// Names `desc` in index.json with the ref.name annotation `name`.
    pub fn tag(&self, desc: &Desc, name: &str) {
        let path = self.dir.join("index.json");
        let mut index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read index.json"))
                .expect("parse index.json");
        let mut j = desc.json();
        j["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": name});
        index["manifests"]
            .as_array_mut()
            .expect("manifests")
            .push(j);
        std::fs::write(&path, index.to_string()).expect("write index.json");
    }

    /// The manifest digest named `name` in index.json, if any.
    pub fn lookup(&self, name: &str) -> Option<String> {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).ok()?).ok()?;
        index["manifests"].as_array()?.iter().find_map(|m| {
            (m["annotations"]["org.opencontainers.image.ref.name"] == name)
                .then(|| m["digest"].as_str().map(str::to_string))
                .flatten()
        })
    }

    /// Reads a blob by digest.
    pub fn read_blob(&self, digest: &str) -> Vec<u8> {
        std::fs::read(
            self.dir
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .expect("read blob")
    }
}

/// Every file under `dir` with its size, sorted: to show a directory did not change.
pub fn tree(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((p.strip_prefix(dir).unwrap_or(&p).to_path_buf(), len));
            }
        }
    }
    out.sort();
    out
}
