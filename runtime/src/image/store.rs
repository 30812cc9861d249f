//! The image store: an OCI image layout under `<root>/images`.
//!
//! Reads take no lock: `index.json` and blobs are replaced atomically. Every change (new
//! blobs, tags, removal) happens in a [`Txn`], under an exclusive lock on `images/.lock`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Digest;

use super::index::{Descriptor, IndexFile};
use super::manifest::{self, Manifest};
use super::{Error, Reference, media};

pub use super::txn::Txn;

/// One layer of an image: the blob as stored and the digest of its uncompressed tar.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    /// The digest of the blob (compressed as stored).
    pub digest: Digest,
    /// The digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// The blob's media type.
    pub media_type: String,
}

/// An image in the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// The image id: the digest of its config blob.
    pub id: Digest,
    /// The digest of its manifest.
    pub manifest_digest: Digest,
    /// The image configuration (ENV, CMD, history, rootfs...).
    pub config: oci_spec::image::ImageConfiguration,
    /// The layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// The references that name this image.
    pub names: Vec<Reference>,
    /// For names whose registry serves another digest than the manifest's (an index a
    /// pull chose this platform's manifest from): the name and that digest.
    pub repo_digests: Vec<(Reference, Digest)>,
}

impl Image {
    /// The labels of the image's config (`LABEL`); none: empty.
    pub fn labels(&self) -> std::collections::HashMap<String, String> {
        self.config
            .config()
            .as_ref()
            .and_then(|c| c.labels().clone())
            .unwrap_or_default()
    }

    /// The digest the registry serves for `name` (Docker's repo digest): the index it
    /// was pulled through, else the manifest's.
    pub fn repo_digest(&self, name: &Reference) -> &Digest {
        self.repo_digests
            .iter()
            .find(|(n, _)| n.full_name() == name.full_name() && n.tag == name.tag)
            .map(|(_, d)| d)
            .unwrap_or(&self.manifest_digest)
    }

    /// The total size of the layers as stored (compressed).
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }

    /// The chain ids of the layers, bottom first.
    pub fn chain_ids(&self) -> Vec<Digest> {
        let diffs: Vec<Digest> = self.layers.iter().map(|l| l.diff_id.clone()).collect();
        crate::snapshot::chain_ids(&diffs)
    }
}

/// A handle on the store; cheap to make, holds no open files.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

impl Store {
    /// The store of `<root>/images`, created if missing.
    pub fn open(root: &std::path::Path) -> Result<Store, Error> {
        let store = Store {
            dir: root.join("images"),
        };
        if !store.dir.join("index.json").exists() {
            store.init()?;
        }
        Ok(store)
    }

    /// Creates the layout: `oci-layout`, an empty `index.json`, `blobs/sha256/`.
    fn init(&self) -> Result<(), Error> {
        let io = |what: &str, e| Error::Io(format!("{what} {}", self.dir.display()), e);
        fs::create_dir_all(self.dir.join("blobs/sha256"))
            .map_err(|e| io("cannot create the image store", e))?;
        let _lock = self.lock_file()?;
        if !self.dir.join("oci-layout").exists() {
            crate::fsutil::write_atomic(&self.dir.join("oci-layout"), OCI_LAYOUT)
                .map_err(|e| io("cannot write oci-layout in", e))?;
        }
        if !self.dir.join("index.json").exists() {
            self.write_index(&IndexFile::default())?;
        }
        Ok(())
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state root this store belongs to.
    pub fn root(&self) -> &Path {
        self.dir.parent().unwrap_or(Path::new("/"))
    }

    /// Where a blob lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    /// Where blobs are staged before they enter the store.
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.dir.join(".tmp")
    }

    pub(crate) fn lock_file(&self) -> Result<crate::fsutil::LockGuard, Error> {
        let p = self.dir.join(".lock");
        crate::fsutil::lock_exclusive(&p)
            .map_err(|e| Error::Io(format!("cannot lock {}", p.display()), e))
    }

    /// A shared lock on the store: while it is held, no `Txn` (tag, import, load,
    /// `rmi` and its garbage collection) can change the store. A container create holds
    /// it from resolving its image until its record names the image, so that `rmi` cannot
    /// remove the image's layers in between. Never begin a `Txn` while holding it.
    pub fn read_lock(&self) -> Result<crate::fsutil::LockGuard, Error> {
        let p = self.dir.join(".lock");
        crate::fsutil::lock_shared(&p)
            .map_err(|e| Error::Io(format!("cannot lock {}", p.display()), e))
    }

    /// Reads `index.json`.
    pub(crate) fn read_index(&self) -> Result<IndexFile, Error> {
        let p = self.dir.join("index.json");
        match fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::Invalid(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IndexFile::default()),
            Err(e) => Err(Error::Io(format!("cannot read {}", p.display()), e)),
        }
    }

    pub(crate) fn write_index(&self, index: &IndexFile) -> Result<(), Error> {
        let p = self.dir.join("index.json");
        let bytes = serde_json::to_vec(index).map_err(|e| Error::Invalid(e.to_string()))?;
        crate::fsutil::write_atomic(&p, &bytes)
            .map_err(|e| Error::Io(format!("cannot write {}", p.display()), e))
    }

    /// Starts a change of the store: takes the store's lock until the `Txn` ends.
    pub fn begin(&self) -> Result<Txn<'_>, Error> {
        Txn::begin(self)
    }

    /// The image that `name` names: a reference, an id, or an unambiguous id prefix.
    pub fn resolve(&self, name: &str) -> Result<Image, Error> {
        // A concurrent `rmi` may delete blobs between reading the index and the blobs:
        // read again once, from the new index.
        self.resolve_in(&self.read_index()?, name)
            .or_else(|_| self.resolve_in(&self.read_index()?, name))
    }

    pub(crate) fn resolve_in(&self, index: &IndexFile, name: &str) -> Result<Image, Error> {
        let desc = self.find(index, name)?;
        self.image(index, desc)
    }

    /// The descriptor that `name` names in `index`.
    pub(crate) fn find<'i>(
        &self,
        index: &'i IndexFile,
        name: &str,
    ) -> Result<&'i Descriptor, Error> {
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        let is_hex = !hex.is_empty()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        // A full id first, then a reference, then an id prefix, as Docker does.
        if is_hex && (hex.len() == 64 || name.starts_with("sha256:")) {
            return self.find_by_id(index, hex, name);
        }
        match Reference::parse(name) {
            Ok(r) => {
                if let Some(d) = self.find_by_ref(index, &r) {
                    return Ok(d);
                }
                if is_hex {
                    return self.find_by_id(index, hex, name);
                }
                Err(Error::NotFound(r.to_string()))
            }
            Err(e) if is_hex => self.find_by_id(index, hex, name).map_err(|_| e),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn find_by_ref<'i>(
        &self,
        index: &'i IndexFile,
        r: &Reference,
    ) -> Option<&'i Descriptor> {
        match &r.digest {
            Some(d) => index.manifests.iter().find(|m| m.matches_digest_ref(r, d)),
            None => index
                .manifests
                .iter()
                .find(|m| m.name().as_ref() == Some(r)),
        }
    }

    /// Finds an image whose id starts with `hex`.
    fn find_by_id<'i>(
        &self,
        index: &'i IndexFile,
        hex: &str,
        name: &str,
    ) -> Result<&'i Descriptor, Error> {
        let mut found: Option<(&Descriptor, Digest)> = None;
        for m in image_descriptors(index) {
            let Some(id) = self.config_digest(m) else {
                continue;
            };
            if id.hex().starts_with(hex) {
                match &found {
                    Some((_, other)) if *other != id => {
                        let n = ids_with_prefix(self, index, hex);
                        return Err(Error::Ambiguous(name.to_string(), n));
                    }
                    Some(_) => {}
                    None => found = Some((m, id)),
                }
            }
        }
        found
            .map(|(m, _)| m)
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    /// The config digest (image id) of a manifest descriptor, if its manifest reads.
    pub(crate) fn config_digest(&self, m: &Descriptor) -> Option<Digest> {
        let digest = m.digest.parse::<Digest>().ok()?;
        let bytes = self.read_blob(&digest).ok()?;
        Some(Manifest::parse(&bytes, "").ok()?.config.digest)
    }

    /// Every image in the store, one per manifest, with all its names.
    pub fn list(&self) -> Result<Vec<Image>, Error> {
        // As in `resolve`: a second try sees a concurrent removal's new index.
        self.list_in(&self.read_index()?)
            .or_else(|_| self.list_in(&self.read_index()?))
    }

    pub(crate) fn list_in(&self, index: &IndexFile) -> Result<Vec<Image>, Error> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for m in image_descriptors(index) {
            if seen.insert(m.digest.clone()) {
                out.push(self.image(index, m)?);
            }
        }
        Ok(out)
    }

    /// The image of a manifest descriptor, with every name `index` gives its manifest.
    pub(crate) fn image(&self, index: &IndexFile, desc: &Descriptor) -> Result<Image, Error> {
        let manifest_digest: Digest = desc
            .digest
            .parse()
            .map_err(|e| Error::Invalid(format!("index.json: {e}")))?;
        let what = format!("manifest {manifest_digest}");
        let manifest = Manifest::parse(&self.read_blob(&manifest_digest)?, &what)?;
        let id = manifest.config.digest.clone();
        let config_what = format!("config {id}");
        let config = manifest::parse_config(&self.read_blob(&id)?, &config_what)?;
        let diff_ids = manifest::diff_ids(&config, &config_what)?;
        if diff_ids.len() != manifest.layers.len() {
            return Err(Error::Invalid(format!(
                "{what}: {} layers but its config lists {} diff ids",
                manifest.layers.len(),
                diff_ids.len()
            )));
        }
        let layers = manifest
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(l, diff_id)| LayerInfo {
                digest: l.digest.clone(),
                diff_id,
                size: l.size,
                media_type: l.media_type.clone(),
            })
            .collect();
        let named = || {
            index
                .manifests
                .iter()
                .filter(|m| m.digest == desc.digest)
                .filter_map(|m| m.name().map(|n| (n, m)))
        };
        let names = named().map(|(n, _)| n).collect();
        let repo_digests = named()
            .filter_map(|(n, m)| Some((n, m.repo_digest()?)))
            .collect();
        Ok(Image {
            id,
            manifest_digest,
            config,
            layers,
            names,
            repo_digests,
        })
    }

    /// Reads a whole blob, verified.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::new();
        self.open_blob(digest)?
            .read_to_end(&mut buf)
            .map_err(|e| Error::Io(format!("cannot read blob {digest}"), e))?;
        Ok(buf)
    }

    /// Opens a blob for reading. The reader verifies the content against `digest` as it
    /// is read: at the end of the blob it fails with `io::ErrorKind::InvalidData` if the
    /// bytes do not match, so a corrupt blob is never taken for good.
    pub fn open_blob(&self, digest: &Digest) -> Result<Box<dyn std::io::Read + Send>, Error> {
        let p = self.blob_path(digest);
        let f =
            fs::File::open(&p).map_err(|e| Error::Io(format!("cannot open blob {digest}"), e))?;
        Ok(Box::new(super::blobs::VerifyingReader::new(
            std::io::BufReader::with_capacity(128 * 1024, f),
            digest.clone(),
        )))
    }

    /// Makes sure `layers` (bottom first) are unpacked in `snapshots`, from this store's
    /// blobs; returns the layer dirs, bottom first. The snapshots get each layer as its
    /// diff id and an opener of its blob: they know nothing of this store.
    pub fn unpack(
        &self,
        snapshots: &crate::snapshot::Snapshots,
        layers: &[LayerInfo],
    ) -> Result<Vec<PathBuf>, crate::snapshot::Error> {
        let refs: Vec<crate::snapshot::LayerRef> = layers
            .iter()
            .map(|l| crate::snapshot::LayerRef {
                digest: l.digest.clone(),
                diff_id: l.diff_id.clone(),
            })
            .collect();
        snapshots.ensure_layers(&refs, |l| self.open_blob(&l.digest))
    }

    /// The size of a layer as Docker counts image sizes: the bytes its files take
    /// unpacked (`layer::ContentSize`), from the record made when the layer entered the
    /// store. A layer without one (recorded by an older tug, as its tar's size) is
    /// measured from its blob once, and recorded; the blob's size if it cannot be read.
    pub fn layer_size(&self, layer: &LayerInfo) -> u64 {
        let read = |dir: PathBuf| -> Option<u64> {
            fs::read_to_string(dir.join(layer.diff_id.hex()))
                .ok()
                .and_then(|s| s.trim().parse().ok())
        };
        if let Some(n) = read(self.sizes_dir()) {
            return n;
        }
        match self.measure_layer(layer) {
            Some(n) => {
                self.record_layer_size(&layer.diff_id, n);
                n
            }
            None => layer.size,
        }
    }

    /// The content size of a layer's blob, read through (plain or gzip).
    fn measure_layer(&self, layer: &LayerInfo) -> Option<u64> {
        let blob = self.open_blob(&layer.digest).ok()?;
        let mut r = std::io::BufReader::new(blob);
        let c = super::import::detect(&mut r, "a layer").ok()?;
        let mut sized = crate::layer::ContentSizeReader::new(super::import::decompressed(r, c));
        std::io::copy(&mut sized, &mut std::io::sink()).ok()?;
        Some(sized.size.total())
    }

    /// The size of an image as Docker shows it: its layers uncompressed.
    pub fn image_size(&self, image: &Image) -> u64 {
        image.layers.iter().map(|l| self.layer_size(l)).sum()
    }

    /// Records the content size of the layer `diff_id` (a pure function of it, so the
    /// record never goes stale).
    pub(crate) fn record_layer_size(&self, diff_id: &Digest, size: u64) {
        let dir = self.sizes_dir();
        let _ = fs::create_dir_all(&dir).and_then(|_| {
            crate::fsutil::write_atomic(&dir.join(diff_id.hex()), size.to_string().as_bytes())
        });
    }

    fn sizes_dir(&self) -> PathBuf {
        self.dir.join(".content-sizes")
    }

    /// Whether the store holds a blob.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).exists()
    }
}

/// The descriptors of image manifests (not nested indexes) in `index`.
pub(crate) fn image_descriptors(index: &IndexFile) -> impl Iterator<Item = &Descriptor> {
    index
        .manifests
        .iter()
        .filter(|m| media::is_manifest(&m.media_type))
}

fn ids_with_prefix(store: &Store, index: &IndexFile, hex: &str) -> usize {
    let ids: std::collections::HashSet<Digest> = image_descriptors(index)
        .filter_map(|m| store.config_digest(m))
        .filter(|id| id.hex().starts_with(hex))
        .collect();
    ids.len()
}
