//! Where the server listens: a unix socket (the default, mode 0660, group `docker` where
//! it exists), or TCP when asked (with a warning: the API is root-equivalent).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;

use super::Server;

/// The default socket, as `tug system service` serves it.
pub const DEFAULT_SOCKET: &str = "unix:///run/tug/docker.sock";

/// A `--host` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    Tcp(String),
}

impl Listen {
    /// Parses `unix:///path`, a bare `/path`, or `tcp://HOST:PORT`.
    pub fn parse(s: &str) -> Result<Listen, String> {
        if let Some(path) = s.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!("--host {s}: the socket path must be absolute"));
            }
            return Ok(Listen::Unix(path.into()));
        }
        if s.starts_with('/') {
            return Ok(Listen::Unix(s.into()));
        }
        if let Some(addr) = s.strip_prefix("tcp://") {
            if !addr.contains(':') {
                return Err(format!("--host {s}: give HOST:PORT"));
            }
            return Ok(Listen::Tcp(addr.trim_end_matches('/').to_string()));
        }
        Err(format!(
            "--host {s}: use unix:///path/to/socket or tcp://HOST:PORT"
        ))
    }

    /// Binds the socket (a std listener: the runtime takes it over on its thread).
    pub fn bind(&self) -> Result<Bound, String> {
        match self {
            Listen::Unix(path) => bind_unix(path).map(Bound::Unix),
            Listen::Tcp(addr) => {
                eprintln!(
                    "WARNING: serving the API on tcp://{addr} without TLS: whoever reaches it is root on this host"
                );
                let l = std::net::TcpListener::bind(addr)
                    .map_err(|e| format!("listening on tcp://{addr}: {e}"))?;
                Ok(Bound::Tcp(l))
            }
        }
    }
}

/// A bound listener.
pub enum Bound {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
}

fn bind_unix(path: &std::path::Path) -> Result<std::os::unix::net::UnixListener, String> {
    let show = path.display();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    // A socket left by a server that died is replaced; one that answers is not.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(format!("{show} exists and is not a socket"));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!("{show}: another server already listens there"));
        }
        std::fs::remove_file(path).map_err(|e| format!("removing the stale {show}: {e}"))?;
    }
    let l = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| format!("listening on {show}: {e}"))?;
    // Root-equivalent: the owner (root) and the `docker` group only, as Docker's socket.
    let group = nix::unistd::Group::from_name("docker").ok().flatten();
    if let Some(g) = &group {
        nix::unistd::chown(path, None, Some(g.gid))
            .map_err(|e| format!("giving {show} to group docker: {e}"))?;
    }
    let mode = if group.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("setting the mode of {show}: {e}"))?;
    Ok(l)
}

/// Accepts connections and serves each on a task, with upgrades (hijacked attach and
/// exec streams).
pub async fn accept_loop(bound: Bound, server: Arc<Server>) -> Result<(), String> {
    match bound {
        Bound::Unix(l) => {
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            let l = tokio::net::UnixListener::from_std(l).map_err(|e| e.to_string())?;
            loop {
                let (conn, _) = l.accept().await.map_err(|e| format!("accept: {e}"))?;
                serve_connection(TokioIo::new(conn), server.clone());
            }
        }
        Bound::Tcp(l) => {
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            let l = tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())?;
            loop {
                let (conn, _) = l.accept().await.map_err(|e| format!("accept: {e}"))?;
                serve_connection(TokioIo::new(conn), server.clone());
            }
        }
    }
}

fn serve_connection<I>(io: I, server: Arc<Server>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |req| {
            let server = server.clone();
            async move { Ok::<_, std::convert::Infallible>(super::router::route(server, req).await) }
        });
        // A client that goes away mid-request is no error of the server's.
        let _ = http1::Builder::new()
            .serve_connection(io, service)
            .with_upgrades()
            .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse() {
        assert_eq!(
            Listen::parse("unix:///run/tug/docker.sock"),
            Ok(Listen::Unix("/run/tug/docker.sock".into()))
        );
        assert_eq!(
            Listen::parse("tcp://127.0.0.1:2375"),
            Ok(Listen::Tcp("127.0.0.1:2375".into()))
        );
        assert!(Listen::parse("unix://relative").is_err());
        assert!(Listen::parse("http://x").is_err());
    }
}
