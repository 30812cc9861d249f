//! Snapshots: each layer unpacked once into `<root>/snapshots/<chain-id>/`, shared by every
//! image that has it, and what a container changed over them (`docker diff`). A
//! container's rootfs made from the snapshot dirs is [`crate::rootfs`]'s (re-exported
//! here as [`Rootfs`]). Layers come in as (diff id, opener): the snapshots know nothing
//! of the image store.
//!
//! A snapshot dir exists only when complete: a layer is applied into
//! `snapshots/.tmp-<random>/` and renamed into place (`RENAME_NOREPLACE`, so a process
//! that loses the race discards its copy). Removal first renames the dir to
//! `.del-<random>`, so a half-removed snapshot is never taken for a whole one.

mod changes;
mod copy_changes;

pub use crate::layer::{Change, ChangeKind};
pub use crate::rootfs::{Rootfs, copy_dir_contents};
pub use changes::changes;
pub use copy_changes::copy_changes;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::Digest;

/// An error of the `snapshot` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    /// Applying a layer failed (hostile, corrupt or unreadable).
    #[error("layer {layer}")]
    Layer {
        layer: Digest,
        #[source]
        source: crate::layer::Error,
    },
    /// The uncompressed layer is not the one the image config names.
    #[error("layer {layer}: its content has diff id {actual}, but the image expects {expected}")]
    DiffIdMismatch {
        layer: Digest,
        expected: Digest,
        actual: Digest,
    },
    /// The layer's content could not be opened (the caller's opener failed).
    #[error("layer {layer}")]
    Open {
        layer: Digest,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn io_err(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::Io(what.to_string(), e)
}

/// The chain ids of a layer stack, bottom first: `chain(0) = diff(0)`,
/// `chain(n) = sha256(chain(n-1) + " " + diff(n))`, as the OCI image spec defines them.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// A layer of a chain, as the snapshots know it: the digest of its uncompressed tar (its
/// diff id, which names its snapshot), and the digest that names it in errors (its
/// blob's, as stored). Its content comes from the caller's opener: the snapshots know
/// nothing of where layers are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    pub digest: Digest,
    pub diff_id: Digest,
}

/// The snapshots of a state root.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
}

impl Snapshots {
    /// The snapshots under `<root>/snapshots`.
    pub fn open(root: &Path) -> Result<Snapshots, Error> {
        Ok(Snapshots {
            dir: root.join("snapshots"),
        })
    }

    /// The dir of the snapshot with this chain id (which may not exist).
    pub fn path(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex())
    }

    /// Makes sure each of `layers` (bottom first) is unpacked, applying the missing ones
    /// from what `open` gives for them, and returns the layer dirs, bottom first (reverse
    /// them for overlayfs's lowerdir, which lists the top first). Safe to call from many
    /// processes at once: a layer is unpacked into a temporary dir and renamed into
    /// place. A hostile or corrupt layer fails with an error and leaves nothing behind.
    pub fn ensure_layers<R, E>(
        &self,
        layers: &[LayerRef],
        open: impl Fn(&LayerRef) -> Result<R, E> + Sync,
    ) -> Result<Vec<PathBuf>, Error>
    where
        R: Read + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let chains = chain_ids(&diff_ids);
        let missing: Vec<(&LayerRef, &Digest)> = layers
            .iter()
            .zip(&chains)
            .filter(|(_, c)| !self.path(c).exists())
            .collect();
        let unpack = |layer: &LayerRef, chain_id: &Digest| -> Result<(), Error> {
            let reader = open(layer).map_err(|e| Error::Open {
                layer: layer.digest.clone(),
                source: Box::new(e),
            })?;
            self.unpack(chain_id, &layer.digest, &layer.diff_id, reader)
        };
        // Layers unpack independently of each other: several at once use every core.
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(missing.len());
        if workers <= 1 {
            for (layer, chain_id) in &missing {
                unpack(layer, chain_id)?;
            }
        } else {
            let next = AtomicUsize::new(0);
            let failed = AtomicBool::new(false);
            let work = || -> Result<(), Error> {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= missing.len() || failed.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let (layer, chain_id) = missing[i];
                    unpack(layer, chain_id)
                        .inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
                }
            };
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
                let mut first_err = None;
                for h in handles {
                    match h.join() {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => first_err = first_err.or(Some(e)),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                first_err.map_or(Ok(()), Err)
            })?;
        }
        Ok(chains.iter().map(|c| self.path(c)).collect())
    }

    /// Makes sure the snapshot `chain_id` exists, applying it from `reader` (the layer's
    /// tar, plain or gzip) if it does not; `diff_id` is what the uncompressed tar must
    /// hash to. For callers that have the layer stream at hand (import, tests). Returns
    /// the snapshot's dir.
    pub fn ensure_from_reader(
        &self,
        chain_id: &Digest,
        diff_id: &Digest,
        reader: impl Read + Send,
    ) -> Result<PathBuf, Error> {
        let dir = self.path(chain_id);
        if !dir.exists() {
            self.unpack(chain_id, diff_id, diff_id, reader)?;
        }
        Ok(dir)
    }

    /// Applies a layer into a temporary dir, checks its diff id, and renames it into
    /// place. `layer` names the layer in errors.
    fn unpack(
        &self,
        chain_id: &Digest,
        layer: &Digest,
        diff_id: &Digest,
        reader: impl Read + Send,
    ) -> Result<(), Error> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err(self.dir.display(), e))?;
        let tmp = TempDir::new(&self.dir, ".tmp-")?;
        let stats =
            crate::layer::apply_threaded(reader, &tmp.path).map_err(|source| Error::Layer {
                layer: layer.clone(),
                source,
            })?;
        // apply always sets the diff id; a missing one cannot match.
        let actual = stats.diff_id.unwrap_or_else(|| Digest::of(b""));
        if &actual != diff_id {
            return Err(Error::DiffIdMismatch {
                layer: layer.clone(),
                expected: diff_id.clone(),
                actual,
            });
        }
        // On disk before it is renamed into place: a snapshot that exists is whole, also
        // after a power loss.
        let fd = rustix::fs::open(
            &tmp.path,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .and_then(|fd| rustix::fs::syncfs(&fd).map(|()| fd))
        .map_err(|e| io_err(format!("syncing {}", tmp.path.display()), e.into()))?;
        drop(fd);
        let dest = self.path(chain_id);
        match rustix::fs::renameat_with(
            rustix::fs::CWD,
            &tmp.path,
            rustix::fs::CWD,
            &dest,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {
                tmp.keep();
                Ok(())
            }
            // Another process unpacked the same layer first: use theirs, drop ours.
            Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(e) => Err(io_err(
                format!("renaming {} into place", tmp.path.display()),
                e.into(),
            )),
        }
    }

    /// Removes every snapshot whose chain id is not in `keep` (the chain ids of the images
    /// still in the store), and temporary dirs left by dead processes. Snapshots take no
    /// lock of their own: the caller holds the lock that keeps images (and so `keep`)
    /// from changing while it runs, as `ensure` callers hold it shared.
    pub fn retain(&self, keep: &std::collections::HashSet<Digest>) -> Result<(), Error> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(self.dir.display(), e)),
        };
        crate::fsutil::remove_abandoned(&self.dir, ".tmp-");
        for entry in entries {
            let entry = entry.map_err(|e| io_err(self.dir.display(), e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if name.starts_with(".del-") {
                remove_tree(&path)?;
            } else if name.starts_with(".tmp-") {
                // Collected below, unless a live process holds it.
            } else if let Ok(d) = Digest::from_hex(&name)
                && !keep.contains(&d)
            {
                // Out of sight first, so no one takes a half-removed dir for a snapshot.
                let gone = self.dir.join(format!(".del-{}", random_hex()));
                match std::fs::rename(&path, &gone) {
                    Ok(()) => remove_tree(&gone)?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(path.display(), e)),
                }
            }
        }
        Ok(())
    }
}

fn remove_tree(p: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(format!("removing {}", p.display()), e)),
    }
}

fn random_hex() -> String {
    let mut b = [0u8; 8];
    crate::fsutil::random_bytes(&mut b);
    crate::digest::to_hex(&b)
}

/// A temporary dir that is removed on drop unless kept.
struct TempDir {
    path: PathBuf,
    keep: bool,
    /// The dir, open and locked while it is filled: no one takes it for abandoned.
    _held: std::fs::File,
}

impl TempDir {
    fn new(parent: &Path, prefix: &str) -> Result<TempDir, Error> {
        // What killed unpackers left (a store write is the moment to collect it).
        crate::fsutil::remove_abandoned(parent, prefix);
        let path = parent.join(format!("{prefix}{}", random_hex()));
        std::fs::create_dir(&path).map_err(|e| io_err(path.display(), e))?;
        let held = std::fs::File::open(&path)
            .and_then(|f| crate::fsutil::hold(&f).map(|()| f))
            .map_err(|e| io_err(path.display(), e))?;
        // The layer root's mode, unless the tar sets it (`./`): that of a usual rootfs.
        use std::os::unix::fs::PermissionsExt;
        crate::fsutil::staging_add(&path);
        let t = TempDir {
            path,
            keep: false,
            _held: held,
        };
        std::fs::set_permissions(&t.path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io_err(t.path.display(), e))?;
        Ok(t)
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
        crate::fsutil::staging_forget(&self.path);
    }
}

/// A file name, as bytes.
type Name = Vec<u8>;

/// The names in dir `dir` (path `rel` in the container's root) and, with `compare`, the
/// names the layers in `view` have there and it has not (what the container deleted),
/// all together sorted bytewise, as `docker diff` walks them; the second set on its own.
fn names_and_gone(
    view: &crate::layer::Lowers,
    dir: std::os::fd::BorrowedFd<'_>,
    rel: &[u8],
    compare: bool,
) -> std::io::Result<(Vec<Name>, HashSet<Name>)> {
    let mut names: Vec<Name> = crate::layer::list_dir(dir)?
        .into_iter()
        .map(|n| n.to_bytes().to_vec())
        .collect();
    let gone: HashSet<Name> = if compare {
        let here: HashSet<&Name> = names.iter().collect();
        let below = view.list(rel)?;
        below.into_iter().filter(|n| !here.contains(n)).collect()
    } else {
        HashSet::new()
    };
    names.extend(gone.iter().cloned());
    names.sort();
    Ok((names, gone))
}
