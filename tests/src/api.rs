//! A `tug system service` of a test's own: the Docker API on a socket in the test's
//! directory, killed (by its pid) when the test ends.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::{KillOnDrop, TestRoot, wait_for};

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
}
