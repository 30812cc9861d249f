//! The local side of pull and push: the [`LocalImages`] trait the orchestration fetches
//! into and pushes from, and [`StoreAdapter`], which implements it on `image::Store`
//! until the store has these operations itself (adding verified blob files, tagging a
//! manifest); then it moves there.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Error;
use super::manifest::RawManifest;
use crate::Digest;
use crate::image::Store;

/// What pull and push need from the image store.
pub trait LocalImages: Sync {
    /// A directory on the store's file system where a pull stages verified blobs.
    fn staging_dir(&self) -> Result<PathBuf, Error>;
    /// Whether the store has this blob.
    fn has_blob(&self, digest: &Digest) -> bool;
    /// Moves verified blob files into the store, then records `manifest` (stored as a
    /// blob too) under the reference `name`, with `repo_digest` (the index the manifest
    /// was chosen from, if any) as the digest `name`'s registry serves. Until this
    /// returns, the store is unchanged.
    fn commit(
        &self,
        blobs: &[(Digest, PathBuf)],
        manifest: &RawManifest,
        name: &str,
        repo_digest: Option<&Digest>,
    ) -> Result<(), Error>;
    /// The manifest of the image `name` (a reference, or an id) names.
    fn manifest(&self, name: &str) -> Result<RawManifest, Error>;
    /// Opens a stored blob at `offset`.
    fn open_blob_at(&self, digest: &Digest, offset: u64) -> io::Result<Box<dyn Read + Send>>;
    /// Records the uncompressed size of layer `diff_id` (image sizes count these).
    fn record_layer_size(&self, _diff_id: &Digest, _size: u64) {}
}

/// The adapter on the image store ([`Store`], an OCI layout under `<root>/images`): it
/// moves verified blobs in and tags the manifest under the store's lock, with the store's
/// own index operations. The store has no public "add these staged files" operation yet,
/// so this lives here until it moves into `image`.
#[derive(Debug, Clone)]
pub struct StoreAdapter {
    store: Store,
}

impl StoreAdapter {
    pub fn new(store: Store) -> StoreAdapter {
        StoreAdapter { store }
    }
}

fn io_err(what: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::Io(what.display().to_string(), e)
}

fn store_err(e: crate::image::Error) -> Error {
    Error::Store(crate::report(&e))
}

impl LocalImages for StoreAdapter {
    fn staging_dir(&self) -> Result<PathBuf, Error> {
        let dir = self.store.root().join("tmp/registry");
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    fn has_blob(&self, digest: &Digest) -> bool {
        self.store.has_blob(digest)
    }

    fn commit(
        &self,
        blobs: &[(Digest, PathBuf)],
        manifest: &RawManifest,
        name: &str,
        repo_digest: Option<&Digest>,
    ) -> Result<(), Error> {
        let reference = super::reference::parse_reference(name)?;
        let mut txn = self.store.begin().map_err(store_err)?;
        let blob_dir = self.store.dir().join("blobs/sha256");
        std::fs::create_dir_all(&blob_dir).map_err(io_err(&blob_dir))?;
        for (digest, file) in blobs {
            let dest = self.store.blob_path(digest);
            if dest.exists() {
                let _ = std::fs::remove_file(file);
            } else {
                std::fs::rename(file, &dest).map_err(io_err(&dest))?;
            }
        }
        let mpath = self.store.blob_path(&manifest.digest);
        if !mpath.exists() {
            crate::fsutil::write_atomic(&mpath, &manifest.bytes).map_err(io_err(&mpath))?;
        }
        File::open(&blob_dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&blob_dir))?;
        let mut desc = serde_json::json!({
            "mediaType": manifest.media_type,
            "digest": manifest.digest,
            "size": manifest.bytes.len(),
        });
        if reference.tag.is_some() {
            // The store's own tagging: the image the tag named before stays, untagged.
            let desc = serde_json::from_value(desc)
                .map_err(|e| Error::Store(format!("descriptor: {e}")))?;
            txn.index.tag(&desc, &reference);
            if let Some(rd) = repo_digest {
                txn.index.set_repo_digest(&manifest.digest, &reference, rd);
            }
        } else {
            // A pull by digest: no tag; the name with its digest, as Docker keeps a repo
            // digest, so `repo@sha256:…` finds it.
            let full = reference.full();
            desc["annotations"] = serde_json::json!({
                "io.containerd.image.name": full,
                "org.opencontainers.image.ref.name": full,
            });
            let desc = serde_json::from_value(desc)
                .map_err(|e| Error::Store(format!("descriptor: {e}")))?;
            txn.index
                .manifests
                .retain(|m| !(m.digest == manifest.digest.to_string() && m.name().is_none()));
            if !txn.index.manifests.iter().any(|m| {
                m.digest == manifest.digest.to_string()
                    && m.name()
                        .is_some_and(|n| n.full_name() == reference.full_name())
            }) {
                txn.index.manifests.push(desc);
            }
            if let Some(rd) = repo_digest {
                txn.index.set_repo_digest(&manifest.digest, &reference, rd);
            }
        }
        txn.commit().map_err(store_err)
    }

    fn manifest(&self, name: &str) -> Result<RawManifest, Error> {
        let image = self.store.resolve(name).map_err(store_err)?;
        let bytes = self
            .store
            .read_blob(&image.manifest_digest)
            .map_err(store_err)?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            media_type: Option<String>,
        }
        let media_type = serde_json::from_slice::<Probe>(&bytes)
            .ok()
            .and_then(|p| p.media_type)
            .unwrap_or_else(|| super::manifest::OCI_MANIFEST.to_string());
        Ok(RawManifest {
            bytes,
            media_type,
            digest: image.manifest_digest,
        })
    }

    fn record_layer_size(&self, diff_id: &Digest, size: u64) {
        self.store.record_layer_size(diff_id, size);
    }

    fn open_blob_at(&self, digest: &Digest, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        let mut f = File::open(self.store.blob_path(digest))?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(f))
    }
}

/// The repositories of each registry a blob is known to be in (recorded by pull and
/// push under `<root>/registry/blob-sources.json`), for cross-repository mounts.
pub struct BlobSources {
    path: PathBuf,
}

impl BlobSources {
    pub fn new(state_root: &Path) -> BlobSources {
        BlobSources {
            path: state_root.join("registry/blob-sources.json"),
        }
    }

    fn read(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default()
    }

    /// A repository of `registry` other than `except` that has `digest`.
    pub fn find(&self, digest: &Digest, registry: &str, except: &str) -> Option<String> {
        let prefix = format!("{registry}/");
        self.read()
            .get(&digest.to_string())?
            .iter()
            .filter_map(|s| s.strip_prefix(&prefix))
            .find(|repo| *repo != except)
            .map(str::to_string)
    }

    /// Records that `registry/repo` has these blobs. Best effort: a failure only costs
    /// a later mount.
    pub fn record(&self, digests: &[Digest], registry: &str, repo: &str) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let Ok(_guard) = crate::fsutil::lock_exclusive(&dir.join(".lock")) else {
            return;
        };
        let mut map = self.read();
        let name = format!("{registry}/{repo}");
        for d in digests {
            let list = map.entry(d.to_string()).or_default();
            if !list.contains(&name) {
                list.push(name.clone());
            }
        }
        let _ = crate::fsutil::write_json_atomic(&self.path, &map);
    }
}
