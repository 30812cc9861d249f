//! A change of the store under its exclusive lock: blobs added, `index.json` rewritten
//! once at the end. A transaction dropped without [`Txn::commit`] removes the blobs it
//! added, so a failed import or load leaves the store exactly as it was.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use crate::Digest;
use crate::fsutil::LockGuard;

use super::blobs::{self, Staged};
use super::index::IndexFile;
use super::manifest::Manifest;
use super::store::image_descriptors;
use super::{Error, Store, media};

/// An open change of the store.
pub struct Txn<'a> {
    store: &'a Store,
    _lock: LockGuard,
    /// The index as it will be written by [`Txn::commit`].
    pub(crate) index: IndexFile,
    added: Vec<PathBuf>,
    committed: bool,
}

impl<'a> Txn<'a> {
    pub(crate) fn begin(store: &'a Store) -> Result<Txn<'a>, Error> {
        let lock = store.lock_file()?;
        let index = store.read_index()?;
        Ok(Txn {
            store,
            _lock: lock,
            index,
            added: Vec::new(),
            committed: false,
        })
    }

    /// The store this transaction changes.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// Moves a staged blob into the store (a no-op if the store has it already).
    pub(crate) fn add_blob(&mut self, staged: Staged) -> Result<Digest, Error> {
        let digest = staged.digest.clone();
        let dest = self.store.blob_path(&digest);
        let added = blobs::commit(staged, &dest)
            .map_err(|e| Error::Io(format!("cannot store blob {digest}"), e))?;
        if added {
            self.added.push(dest);
        }
        Ok(digest)
    }

    /// Writes the index: from here on the change is visible and kept. The lock is held
    /// until the transaction is dropped.
    pub fn commit(&mut self) -> Result<(), Error> {
        if !self.added.is_empty() {
            let dir = self.store.dir().join("blobs/sha256");
            blobs::sync_dir(&dir)
                .map_err(|e| Error::Io(format!("cannot sync {}", dir.display()), e))?;
        }
        self.store.write_index(&self.index)?;
        self.committed = true;
        Ok(())
    }

    /// Removes every blob that no manifest of the index references (also leftovers of
    /// crashed commands), then the snapshots of layers no image uses. Keeps everything if
    /// a manifest cannot be read, since its blobs cannot be known.
    pub(crate) fn collect_garbage(&self) -> Result<(), Error> {
        let mut keep: HashSet<String> = HashSet::new();
        let mut chains: HashSet<Digest> = HashSet::new();
        for d in &self.index.manifests {
            keep.insert(d.digest.clone());
            if media::is_index(&d.media_type) {
                // Nested indexes (multi-platform images written by other tools): keep
                // their manifests' blobs too.
                let Ok(digest) = d.digest.parse::<Digest>() else {
                    return Ok(());
                };
                let Ok(bytes) = self.store.read_blob(&digest) else {
                    return Ok(());
                };
                let Ok(nested) = serde_json::from_slice::<IndexFile>(&bytes) else {
                    return Ok(());
                };
                for m in &nested.manifests {
                    keep.insert(m.digest.clone());
                    if !self.keep_manifest(&m.digest, &mut keep) {
                        return Ok(());
                    }
                }
            } else if !self.keep_manifest(&d.digest, &mut keep) {
                return Ok(());
            }
        }
        for d in image_descriptors(&self.index) {
            if let Ok(image) = self.store.image(&self.index, d) {
                chains.extend(image.chain_ids());
            }
        }
        let dir = self.store.dir().join("blobs/sha256");
        let entries = fs::read_dir(&dir)
            .map_err(|e| Error::Io(format!("cannot read {}", dir.display()), e))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(&format!("sha256:{name}")) {
                let _ = fs::remove_file(e.path());
            }
        }
        self.remove_stale_stages();
        let snapshots = crate::snapshot::Snapshots::open(self.store.root())?;
        snapshots.retain(&chains)?;
        Ok(())
    }

    /// Removes staging files that no live process holds: leftovers of killed commands.
    fn remove_stale_stages(&self) {
        crate::fsutil::remove_abandoned(&self.store.tmp_dir(), "blob-");
    }

    /// Adds the config and layers of a manifest to `keep`; false if it cannot be read.
    fn keep_manifest(&self, digest: &str, keep: &mut HashSet<String>) -> bool {
        let Ok(digest) = digest.parse::<Digest>() else {
            return false;
        };
        let Ok(bytes) = self.store.read_blob(&digest) else {
            return false;
        };
        let Ok(m) = Manifest::parse(&bytes, "") else {
            // Not an image manifest (an artifact?): nothing more to keep.
            return true;
        };
        keep.insert(m.config.digest.to_string());
        keep.extend(m.layers.iter().map(|l| l.digest.to_string()));
        true
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if !self.committed {
            for p in &self.added {
                let _ = fs::remove_file(p);
            }
        }
    }
}
