//! [`Tug`]: the engine the fixtures run on, the `tug` binary their shims run as, and the
//! preparation of images (once per process).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use tug::{Engine, EngineConfig};

use crate::error::{Error, Result};

/// The engine and the `tug` binary that fixtures use. [`Tug::shared`] is the one that
/// [`crate::runners::SyncRunner::start`] uses: the state root of `TUG_ROOT` (default
/// `/var/lib/tug`), as the `tug` CLI has it.
#[derive(Debug)]
pub struct Tug {
    engine: Engine,
    /// The images this process made sure of (see [`Tug::prepare_image`]).
    prepared: Mutex<HashSet<String>>,
}

impl Tug {
    /// The process-wide client, made once from the environment (`TUG_ROOT`, `TUG_RUN`,
    /// `TUG_BIN`).
    pub fn shared() -> Result<&'static Tug> {
        static SHARED: OnceLock<std::result::Result<Tug, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Tug::from_env().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Setup(e.clone()))
    }

    /// A client on the roots of the environment, as the `tug` CLI finds them.
    pub fn from_env() -> Result<Tug> {
        let config = EngineConfig::from_env().map_err(|e| Error::Setup(tug::report(&e)))?;
        Tug::open(config)
    }

    /// A client on the given roots (a test's private state root, say).
    pub fn open(config: EngineConfig) -> Result<Tug> {
        let bin = find_tug_binary()?;
        let engine = Engine::open(config)
            .map_err(|e| Error::engine("opening the state root", e))?
            .with_tug_binary(bin);
        Ok(Tug {
            engine,
            prepared: Mutex::new(HashSet::new()),
        })
    }

    /// The engine, for what the testkit does not wrap.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The `tug` binary that runs the shims.
    pub fn tug_binary(&self) -> &Path {
        // Set in `open`, so always there.
        self.engine.tug_binary().unwrap_or(Path::new("tug"))
    }

    /// Makes sure `reference` is in the image store, once per process: a missing
    /// `busybox` is made from the host's busybox-static
    /// ([`tug::Engine::create_busybox_image`]); any other missing image is pulled. Safe
    /// across processes: the image store takes its lock.
    pub fn prepare_image(&self, reference: &str) -> Result<()> {
        // Held while preparing, so that threads of one process prepare each image once.
        let mut done = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        if done.contains(reference) {
            return Ok(());
        }
        let engine = &self.engine;
        let present = engine
            .has_image(reference)
            .map_err(|e| Error::engine(format!("looking up image {reference}"), e))?;
        if !present {
            if is_busybox(reference) {
                engine.create_busybox_image(reference).map_err(|e| {
                    Error::engine(
                        format!("making {reference} from the host's busybox-static"),
                        e,
                    )
                })?;
            } else {
                engine
                    .pull(
                        reference,
                        &tug::registry::PullOptions::default(),
                        &tug::registry::Silent,
                    )
                    .map_err(|e| Error::engine(format!("pulling {reference}"), e))?;
            }
        }
        done.insert(reference.to_string());
        Ok(())
    }
}

fn is_busybox(reference: &str) -> bool {
    matches!(
        reference,
        "busybox" | "busybox:latest" | "docker.io/library/busybox:latest"
    )
}

/// The `tug` binary: `$TUG_BIN`, else `tug` beside the current executable or in its
/// parent dir (cargo puts test binaries in `target/<profile>/deps`), else on PATH.
pub fn find_tug_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("TUG_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(Error::Setup(format!(
                "TUG_BIN={} is not an executable file",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe().ok();
    let dirs: Vec<PathBuf> = exe
        .iter()
        .flat_map(|e| e.ancestors().skip(1).take(2))
        .map(Path::to_path_buf)
        .collect();
    for d in &dirs {
        let p = d.join("tug");
        if is_executable(&p) {
            return Ok(p);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let p = d.join("tug");
        if is_executable(&p) {
            return Ok(p);
        }
    }
    Err(Error::NoTugBinary {
        beside: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
