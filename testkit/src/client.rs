//! [`Tug`]: the engine the fixtures run on, the `tug` binary their shims run as, and the
//! preparation of images (once per process).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use tug::{Engine, EngineConfig};

use crate::error::{Error, Result};
use crate::request::PullPolicy;

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

    /// A client on an engine already opened (a spare's background start).
    pub(crate) fn on(engine: Engine) -> Tug {
        Tug {
            engine,
            prepared: Mutex::new(HashSet::new()),
        }
    }

    /// tug: removes the warm spares ([`crate::ImageExt::with_spare`]) this process keeps
    /// on this client's state root, after waiting (up to a minute) for those still
    /// starting; how many it removed. (They go anyway when the process ends.)
    pub fn remove_spares(&self) -> Result<usize> {
        let engine = &self.engine;
        let ids = crate::spare::drain(std::time::Duration::from_secs(60), |id| {
            engine.container(id).is_ok()
        });
        for id in &ids {
            crate::container::remove_with_volumes(engine, id)
                .map_err(|e| Error::engine(format!("removing spare {id}"), e))?;
        }
        Ok(ids.len())
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
        self.prepare_image_with(reference, PullPolicy::Missing)
    }

    /// [`Tug::prepare_image`] with a pull policy: `Always` pulls once per process even
    /// when the image is there (but `busybox`, made locally); `Never` fails when it is
    /// missing.
    pub fn prepare_image_with(&self, reference: &str, policy: PullPolicy) -> Result<()> {
        // Held while preparing, so that threads of one process prepare each image once.
        let mut done = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        if done.contains(reference) {
            return Ok(());
        }
        let engine = &self.engine;
        let present = engine
            .has_image(reference)
            .map_err(|e| Error::engine(format!("looking up image {reference}"), e))?;
        let local = is_busybox(reference);
        match policy {
            PullPolicy::Never if !present => {
                return Err(Error::Setup(format!(
                    "image {reference} is not in the store, and the pull policy is never"
                )));
            }
            PullPolicy::Always if !local => self.pull(reference)?,
            _ if present => {}
            _ if local => {
                engine.create_busybox_image(reference).map_err(|e| {
                    Error::engine(
                        format!("making {reference} from the host's busybox-static"),
                        e,
                    )
                })?;
            }
            _ => self.pull(reference)?,
        }
        done.insert(reference.to_string());
        Ok(())
    }

    fn pull(&self, reference: &str) -> Result<()> {
        self.engine
            .pull(
                reference,
                &tug::registry::PullOptions::default(),
                &tug::registry::Silent,
            )
            .map(|_| ())
            .map_err(|e| Error::engine(format!("pulling {reference}"), e))
    }

    /// The containers kept for reuse across runs ([`crate::ReuseDirective::Always`], or
    /// `TUG_REUSE=1`), running or not: what `tug ps -a --filter
    /// label=tug.testkit.reuse-hash` lists.
    pub fn kept_containers(&self) -> Result<Vec<tug::container::Container>> {
        Ok(self
            .engine
            .containers()
            .map_err(|e| Error::engine("listing containers", e))?
            .into_iter()
            .filter(|c| c.config.labels.contains_key(crate::start::REUSE_LABEL))
            .collect())
    }

    /// Removes every kept container ([`Tug::kept_containers`]) and returns their
    /// names. The next start of their requests starts new ones.
    pub fn remove_kept(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for c in self.kept_containers()? {
            crate::container::remove_with_volumes(&self.engine, c.id.as_ref())
                .map_err(|e| Error::engine(format!("removing {}", c.short_name()), e))?;
            removed.push(c.short_name().to_string());
        }
        Ok(removed)
    }
}

impl Tug {
    /// Makes sure a module's image is in the store: built from its recipe when missing,
    /// once per process and, through a lock file in the state root, by one process at a
    /// time (the others then find it built). Its base, `debian:bookworm-slim`, must be in
    /// the store: `images/debian/build.sh` makes it with debootstrap.
    pub(crate) fn prepare_built(
        &self,
        recipe: crate::buildable::GenericBuildableImage,
    ) -> Result<()> {
        let reference = recipe.reference();
        let mut done = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        if done.contains(&reference) {
            return Ok(());
        }
        let engine = &self.engine;
        let has = |r: &str| {
            engine
                .has_image(r)
                .map_err(|e| Error::engine(format!("looking up image {r}"), e))
        };
        // The image must be this recipe's: a module whose Dockerfile changed (a new
        // version of the crate) builds again, from the build cache where it can.
        let hash = recipe.content_hash()?;
        let recipe = recipe.with_label(RECIPE_LABEL, hash.clone());
        let current = || {
            engine.image(&reference).is_ok_and(|img| {
                img.config
                    .config()
                    .as_ref()
                    .and_then(|c| c.labels().as_ref())
                    .and_then(|l| l.get(RECIPE_LABEL))
                    == Some(&hash)
            })
        };
        if !current() {
            let _lock = self.build_lock()?;
            if !current() {
                if !has(crate::modules::DEBIAN)? {
                    return Err(Error::Setup(format!(
                        "building {reference} needs the {} image in the store: make it \
                         once with images/debian/build.sh (debootstrap)",
                        crate::modules::DEBIAN
                    )));
                }
                let _built = crate::buildable::SyncBuilder::build_image_on(recipe, self)?;
            }
        }
        done.insert(reference);
        Ok(())
    }
}

impl Tug {
    /// The testkit's build lock (a lock file in the state root), held while it is kept:
    /// one process at a time builds the images of modules and compose projects.
    pub(crate) fn build_lock(&self) -> Result<std::fs::File> {
        let lock_path = self.engine.root().join("testkit-build.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::Setup(format!("{}: {e}", lock_path.display())))?;
        lock.lock()
            .map_err(|e| Error::Setup(format!("locking {}: {e}", lock_path.display())))?;
        Ok(lock)
    }
}

/// The label of a module's image: the hash of the recipe it was built from.
const RECIPE_LABEL: &str = "tug.testkit.recipe";

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
