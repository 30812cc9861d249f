//! The local side of pull and push: the [`LocalImages`] trait the orchestration fetches
//! into and pushes from, and [`LayoutAdapter`], an adapter that implements it on the
//! store's OCI image layout (`<root>/images`) until `image::Store` has these operations
//! (writing blobs, adding a manifest under a reference); then it moves there.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Error;
use super::manifest::RawManifest;
use crate::Digest;

/// What pull and push need from the image store.
pub trait LocalImages: Sync {
    /// A directory on the store's file system where a pull stages verified blobs.
    fn staging_dir(&self) -> Result<PathBuf, Error>;
    /// Whether the store has this blob.
    fn has_blob(&self, digest: &Digest) -> bool;
    /// Moves verified blob files into the store, then records `manifest` (stored as a
    /// blob too) under the reference `name`. Until this returns, the store is unchanged.
    fn commit(
        &self,
        blobs: &[(Digest, PathBuf)],
        manifest: &RawManifest,
        name: &str,
    ) -> Result<(), Error>;
    /// The manifest stored under the reference `name`.
    fn manifest(&self, name: &str) -> Result<RawManifest, Error>;
    /// Opens a stored blob at `offset`.
    fn open_blob_at(&self, digest: &Digest, offset: u64) -> io::Result<Box<dyn Read + Send>>;
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The adapter on `<root>/images` (an OCI image layout; tags as ref.name annotations,
/// full normalised references: `docker.io/library/busybox:latest`).
#[derive(Debug, Clone)]
pub struct LayoutAdapter {
    root: PathBuf,
}

impl LayoutAdapter {
    pub fn new(state_root: &Path) -> LayoutAdapter {
        LayoutAdapter {
            root: state_root.to_path_buf(),
        }
    }

    fn images(&self) -> PathBuf {
        self.root.join("images")
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.images().join("blobs/sha256").join(d.hex())
    }

    fn read_index(&self) -> Result<serde_json::Value, Error> {
        let path = self.images().join("index.json");
        match std::fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| Error::Store(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Ok(serde_json::json!({"schemaVersion": 2, "manifests": []}))
            }
            Err(e) => Err(Error::Io(format!("reading {}", path.display()), e)),
        }
    }
}

fn io_err(what: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::Io(what.display().to_string(), e)
}

impl LocalImages for LayoutAdapter {
    fn staging_dir(&self) -> Result<PathBuf, Error> {
        let dir = self.root.join("tmp/registry");
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).exists()
    }

    fn commit(
        &self,
        blobs: &[(Digest, PathBuf)],
        manifest: &RawManifest,
        name: &str,
    ) -> Result<(), Error> {
        let images = self.images();
        let blob_dir = images.join("blobs/sha256");
        std::fs::create_dir_all(&blob_dir).map_err(io_err(&blob_dir))?;
        let layout = images.join("oci-layout");
        if !layout.exists() {
            crate::fsutil::write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)
                .map_err(io_err(&layout))?;
        }
        for (digest, file) in blobs {
            let dest = self.blob_path(digest);
            if dest.exists() {
                let _ = std::fs::remove_file(file);
            } else {
                std::fs::rename(file, &dest).map_err(io_err(&dest))?;
            }
        }
        let mpath = self.blob_path(&manifest.digest);
        if !mpath.exists() {
            crate::fsutil::write_atomic(&mpath, &manifest.bytes).map_err(io_err(&mpath))?;
        }
        let lock = images.join(".lock");
        let _guard = crate::fsutil::lock_exclusive(&lock).map_err(io_err(&lock))?;
        let mut index = self.read_index()?;
        let entry = serde_json::json!({
            "mediaType": manifest.media_type,
            "digest": manifest.digest,
            "size": manifest.bytes.len(),
            "annotations": { REF_NAME: name },
        });
        let list = index
            .get_mut("manifests")
            .and_then(|m| m.as_array_mut())
            .ok_or_else(|| Error::Store("images/index.json has no manifests list".into()))?;
        list.retain(|m| {
            m.pointer(&format!("/annotations/{}", REF_NAME.replace('/', "~1")))
                .and_then(|v| v.as_str())
                != Some(name)
        });
        list.push(entry);
        let path = images.join("index.json");
        crate::fsutil::write_json_atomic(&path, &index).map_err(io_err(&path))
    }

    fn manifest(&self, name: &str) -> Result<RawManifest, Error> {
        let index = self.read_index()?;
        let entries = index
            .get("manifests")
            .and_then(|m| m.as_array())
            .cloned()
            .unwrap_or_default();
        let found = entries.iter().find(|m| {
            m.get("annotations")
                .and_then(|a| a.get(REF_NAME))
                .and_then(|v| v.as_str())
                == Some(name)
        });
        let Some(entry) = found else {
            return Err(Error::Store(format!("No such image: {name}")));
        };
        let digest: Digest = entry
            .get("digest")
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| Error::Store(format!("images/index.json: bad digest for {name}")))?;
        let path = self.blob_path(&digest);
        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
        if Digest::of(&bytes) != digest {
            return Err(Error::Store(format!("{}: corrupt blob", path.display())));
        }
        let media_type = entry
            .get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or(super::manifest::OCI_MANIFEST)
            .to_string();
        Ok(RawManifest {
            bytes,
            media_type,
            digest,
        })
    }

    fn open_blob_at(&self, digest: &Digest, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        let mut f = File::open(self.blob_path(digest))?;
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
