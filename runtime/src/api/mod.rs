//! The Docker Engine API server (`tug system service`): a thin face over the [`Engine`].
//!
//! Every handler parses the request, calls Engine methods on a blocking thread
//! (`spawn_blocking`: the engine is synchronous) and writes Docker's JSON. The server runs
//! hyper on a current-thread tokio runtime of its own thread. What it keeps in memory is
//! only what Docker's daemon keeps there too: the execs created and not yet inspected,
//! attaches waiting for their container's start, and the exits it saw (for `wait`).

mod archive;
mod attach;
mod body;
mod build;
mod containers;
mod create;
mod error;
mod events;
mod exec;
mod image_io;
mod images;
mod listen;
mod logs;
mod query;
mod resources;
mod router;
mod stats;
mod system;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, oneshot};
use tug::Engine;

pub use listen::{DEFAULT_SOCKET, Listen};

/// The newest API version served; clients negotiate down to it.
pub const API_VERSION: &str = "1.47";
/// The oldest API version accepted.
pub const MIN_API_VERSION: &str = "1.24";

/// What the handlers share.
pub struct Server {
    engine: Engine,
    /// Container id → an attach that waits for the container's start.
    pending: Mutex<HashMap<String, PendingAttach>>,
    /// (container id, exit code) of every exit seen on a stream this server holds.
    exits: broadcast::Sender<(String, i32)>,
    /// The execs created (`POST /containers/{id}/exec`), by id.
    execs: Mutex<HashMap<String, exec::ExecRecord>>,
    /// Print each request and its status on stderr (`TUG_API_LOG=1`).
    log_requests: bool,
    /// Container id → its shim, forked at the create for its start (see [`Server::park`]).
    parked: Mutex<HashMap<String, (std::time::Instant, tug::ParkedShim)>>,
}

impl Server {
    /// Keeps created container `id`'s shim, forked at the create for its start
    /// (`Engine::park_container_shim`): the docker CLI sends its attach and wait between
    /// the create and the start, testcontainers its copies, and the start finds its shim
    /// forked and its settings read. Handles older than the shim's own wait are dropped
    /// on the way.
    fn park(&self, id: String, shim: tug::ParkedShim) {
        if let Some(mut parked) = self.parked_now() {
            parked.insert(id, (std::time::Instant::now(), shim));
        }
    }

    /// Whether a create may park a shim now: a burst of creates (a parked shim holds
    /// about 1 MB of its own) parks the first [`MAX_PARKED`] and no more until they go.
    fn may_park(&self) -> bool {
        self.parked_now().is_some_and(|p| p.len() < MAX_PARKED)
    }

    /// The parked shims, those older than [`PARKED_FOR`] dropped (they end).
    fn parked_now(
        &self,
    ) -> Option<std::sync::MutexGuard<'_, HashMap<String, (std::time::Instant, tug::ParkedShim)>>>
    {
        let mut parked = self.parked.lock().ok()?;
        parked.retain(|_, (at, _)| at.elapsed() < PARKED_FOR);
        Some(parked)
    }

    /// The shim parked for container `id`, if any (dropped, it ends).
    fn unpark(&self, id: &str) -> Option<tug::ParkedShim> {
        let mut parked = self.parked.lock().ok()?;
        let (at, shim) = parked.remove(id)?;
        (at.elapsed() < PARKED_FOR).then_some(shim)
    }
}

/// The most shims parked at once (see [`Server::may_park`]).
const MAX_PARKED: usize = 16;

/// How long a parked shim is kept: less than it waits by itself (ten seconds).
const PARKED_FOR: std::time::Duration = std::time::Duration::from_secs(8);

/// An attach made before its container started: the start hands it the shim's stream.
pub struct PendingAttach {
    stdin: bool,
    stream: oneshot::Sender<std::os::unix::net::UnixStream>,
}

/// Serves the API on `listen` until the process ends (on its own thread, a
/// current-thread tokio runtime).
pub fn serve(engine: Engine, listen: Listen) -> Result<(), String> {
    // Container starts fork their shims from a zygote (there before the first client
    // can connect); without one they exec them.
    if let Err(e) = engine.keep_shim_zygote() {
        eprintln!("tug: warning: {}", tug::report(&e));
    }
    engine.free_replaced_files_in_background();
    let listener = listen.bind()?;
    let server = Arc::new(Server {
        engine,
        pending: Mutex::new(HashMap::new()),
        exits: broadcast::channel(256).0,
        execs: Mutex::new(HashMap::new()),
        log_requests: std::env::var_os("TUG_API_LOG").is_some_and(|v| v == "1"),
        parked: Mutex::new(HashMap::new()),
    });
    let thread = std::thread::Builder::new()
        .name("api".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("starting the API server's runtime: {e}"))?;
            rt.block_on(listen::accept_loop(listener, server))
        })
        .map_err(|e| format!("starting the API server's thread: {e}"))?;
    thread
        .join()
        .map_err(|_| "the API server's thread panicked".to_string())?
}
