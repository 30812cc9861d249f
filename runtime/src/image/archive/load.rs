//! `tug load`: a docker-archive or an oci-archive (plain or gzip), detected by its
//! content. Every file of the archive is staged as a blob first; the images are checked,
//! their layers unpacked, and only then tagged in the index. A malformed archive fails
//! and leaves the store as it was.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde::Deserialize;

use crate::Digest;
use crate::digest::HashingReader;

use super::super::blobs::Staged;
use super::super::import::{Compression, decompressed, detect, host_arch, stage_bytes, unpack};
use super::super::index::{Descriptor, IndexFile};
use super::super::manifest::{self, BlobRef, Manifest, canonical_json};
use super::super::{Error, LayerInfo, Reference, Store, media};
use super::files::Files;

/// An image that `load` added.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: Digest,
    /// The names it was tagged with (none for an untagged image).
    pub names: Vec<Reference>,
    /// Names that named another image before, with that image's id (now untagged).
    pub replaced: Vec<(Reference, Digest)>,
}

pub(super) fn bad(why: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("malformed archive: {why}"))
}

/// One image found in an archive, ready to be committed.
struct Found {
    names: Vec<Reference>,
    id: Digest,
    /// The manifest: staged from the archive (oci) or made here (docker).
    manifest: Digest,
    manifest_size: u64,
    manifest_type: String,
    layers: Vec<LayerInfo>,
}

/// The uncompressed sizes of the layers seen, recorded once the load is committed.
type Sizes = Vec<(Digest, u64)>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Loads the images of an archive (docker-archive or oci-archive, plain or gzip) into the
/// store of state root `root`, unpacks their layers and tags them.
pub(crate) fn load(root: &Path, input: impl Read + Send) -> Result<Vec<Loaded>, Error> {
    let store = Store::open(root)?;
    let mut files = Files::extract(&store, input)?;
    let mut extra = Vec::new();
    let mut sizes = Sizes::new();
    let mut found = if files.get("manifest.json").is_ok() {
        docker_images(&store, &files, &mut extra, &mut sizes)?
    } else if files.get("index.json").is_ok() {
        oci_images(&files, &mut sizes)?
    } else {
        return Err(bad(
            "neither manifest.json (docker-archive) nor index.json (oci-archive) found",
        ));
    };
    if found.is_empty() {
        return Err(bad("it holds no image"));
    }
    let mut txn = store.begin()?;
    // An image the store has already (the same id) keeps its manifest and blobs: an
    // id names one image, whatever archive it came in.
    for f in &mut found {
        let Ok(existing) = store.find(&txn.index, &f.id.to_string()) else {
            continue;
        };
        let (size, media_type) = (existing.size, existing.media_type.clone());
        let image = store.image(&txn.index, existing)?;
        f.manifest = image.manifest_digest;
        f.manifest_size = size;
        f.manifest_type = media_type;
        f.layers = image.layers;
    }
    for s in extra {
        if found.iter().any(|f| f.manifest == s.digest) {
            txn.add_blob(s)?;
        }
    }
    for f in &found {
        let digests = [&f.manifest, &f.id]
            .into_iter()
            .chain(f.layers.iter().map(|l| &l.digest));
        for d in digests {
            if let Some(s) = files.take(d) {
                txn.add_blob(s)?;
            }
            if !store.has_blob(d) {
                return Err(bad(format!("blob {d} is missing")));
            }
        }
    }
    for f in &found {
        unpack(root, &txn, &f.layers)?;
    }
    let mut loaded = Vec::new();
    for f in found {
        let mut desc = Descriptor::manifest(&f.manifest, f.manifest_size, None);
        desc.media_type = f.manifest_type;
        if f.names.is_empty() {
            txn.index.add_untagged(&desc);
        }
        let mut replaced = Vec::new();
        for n in &f.names {
            let old = store
                .find_by_ref(&txn.index, n)
                .and_then(|d| store.config_digest(d));
            if let Some(old) = old.filter(|old| *old != f.id) {
                replaced.push((n.clone(), old));
            }
            txn.index.tag(&desc, n);
        }
        loaded.push(Loaded {
            id: f.id,
            names: f.names,
            replaced,
        });
    }
    txn.commit()?;
    for (diff_id, size) in sizes {
        store.record_layer_size(&diff_id, size);
    }
    Ok(loaded)
}

/// The images of a docker-archive's `manifest.json`. Their OCI manifests are made here
/// (staged into `extra`).
fn docker_images(
    store: &Store,
    files: &Files,
    extra: &mut Vec<Staged>,
    sizes: &mut Sizes,
) -> Result<Vec<Found>, Error> {
    let entries: Vec<DockerEntry> = serde_json::from_slice(&files.read("manifest.json")?)
        .map_err(|e| bad(format!("manifest.json: {e}")))?;
    let mut out = Vec::new();
    for e in entries {
        let config_file = files.get(&e.config)?;
        let what = format!("config {}", e.config);
        let config = manifest::parse_config(&files.read(&e.config)?, &what)?;
        let diff_ids = manifest::diff_ids(&config, &what)?;
        if diff_ids.len() != e.layers.len() {
            return Err(bad(format!(
                "{} lists {} layers but its config {} diff ids",
                e.config,
                e.layers.len(),
                diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (path, want) in e.layers.iter().zip(diff_ids) {
            let f = files.get(path)?;
            let (diff_id, gzip, size) = layer_diff_id(f, path)?;
            sizes.push((diff_id.clone(), size));
            if diff_id != want {
                return Err(bad(format!(
                    "layer {path} has diff id {diff_id}, but its config expects {want}"
                )));
            }
            layers.push(LayerInfo {
                digest: f.digest.clone(),
                diff_id,
                size: f.size,
                media_type: if gzip {
                    media::OCI_LAYER_GZIP
                } else {
                    media::OCI_LAYER_TAR
                }
                .to_string(),
            });
        }
        let m = Manifest::oci(
            BlobRef {
                media_type: media::OCI_CONFIG.to_string(),
                digest: config_file.digest.clone(),
                size: config_file.size,
            },
            layers
                .iter()
                .map(|l| BlobRef {
                    media_type: l.media_type.clone(),
                    digest: l.digest.clone(),
                    size: l.size,
                })
                .collect(),
        );
        let staged = stage_bytes(store, &canonical_json(&m))?;
        let mut names = Vec::new();
        for t in e.repo_tags.unwrap_or_default() {
            names.push(Reference::parse(&t)?);
        }
        out.push(Found {
            names,
            id: config_file.digest.clone(),
            manifest: staged.digest.clone(),
            manifest_size: staged.size,
            manifest_type: media::OCI_MANIFEST.to_string(),
            layers,
        });
        extra.push(staged);
    }
    Ok(out)
}

/// The diff id of a layer file (its digest, or that of its gzip content), whether it is
/// gzip, and its uncompressed size.
fn layer_diff_id(f: &Staged, path: &str) -> Result<(Digest, bool, u64), Error> {
    let io_err = |e: io::Error| Error::Io(format!("cannot read layer {path}"), e);
    let mut r = BufReader::new(std::fs::File::open(&f.path).map_err(io_err)?);
    let read_err = |e: io::Error| bad(format!("layer {path}: {e}"));
    // Read through either way: the size is its files' (see `layer::ContentSize`).
    match detect(&mut r, &format!("layer {path}"))? {
        Compression::None => {
            let mut sized = crate::layer::ContentSizeReader::new(r);
            io::copy(&mut sized, &mut io::sink()).map_err(read_err)?;
            Ok((f.digest.clone(), false, sized.size.total()))
        }
        c => {
            let mut sized =
                crate::layer::ContentSizeReader::new(HashingReader::new(decompressed(r, c)));
            io::copy(&mut sized, &mut io::sink()).map_err(read_err)?;
            let (diff_id, _) = sized.inner.finish();
            Ok((diff_id, true, sized.size.total()))
        }
    }
}

/// The images of an OCI layout's `index.json`: image manifests, and from nested indexes
/// the manifest for this machine's platform.
fn oci_images(files: &Files, sizes: &mut Sizes) -> Result<Vec<Found>, Error> {
    let index: IndexFile = serde_json::from_slice(&files.read("index.json")?)
        .map_err(|e| bad(format!("index.json: {e}")))?;
    let mut by_manifest: BTreeMap<String, Found> = BTreeMap::new();
    for d in &index.manifests {
        let name = d.name();
        let (digest, size, media_type) = if media::is_index(&d.media_type) {
            let digest = parse_digest(&d.digest)?;
            let nested: IndexFile = serde_json::from_slice(&files.read_blob(files.blob(&digest)?)?)
                .map_err(|e| bad(format!("index {digest}: {e}")))?;
            let pick = nested
                .manifests
                .iter()
                .find(|m| {
                    m.other
                        .get("platform")
                        .is_some_and(|p| p["os"] == "linux" && p["architecture"] == host_arch())
                })
                .or_else(|| nested.manifests.first())
                .ok_or_else(|| bad(format!("index {digest} lists no manifest")))?;
            (
                parse_digest(&pick.digest)?,
                pick.size,
                pick.media_type.clone(),
            )
        } else if media::is_manifest(&d.media_type) {
            (parse_digest(&d.digest)?, d.size, d.media_type.clone())
        } else {
            continue;
        };
        if let Some(f) = by_manifest.get_mut(&digest.to_string()) {
            f.names.extend(name);
            continue;
        }
        let mf = files.blob(&digest)?;
        let what = format!("manifest {digest}");
        let m = Manifest::parse(&files.read_blob(mf)?, &what)?;
        let config_file = files.blob(&m.config.digest)?;
        let config = manifest::parse_config(&files.read_blob(config_file)?, &what)?;
        let diff_ids = manifest::diff_ids(&config, &what)?;
        if diff_ids.len() != m.layers.len() {
            return Err(bad(format!(
                "{what} lists {} layers but its config {} diff ids",
                m.layers.len(),
                diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (l, diff_id) in m.layers.iter().zip(diff_ids) {
            let f = files.blob(&l.digest)?;
            let path = format!("blobs/sha256/{}", l.digest.hex());
            let (actual, _, size) = layer_diff_id(f, &path)?;
            if actual != diff_id {
                return Err(bad(format!(
                    "layer {path} has diff id {actual}, but its config expects {diff_id}"
                )));
            }
            sizes.push((diff_id.clone(), size));
            layers.push(LayerInfo {
                digest: l.digest.clone(),
                diff_id,
                size: l.size,
                media_type: l.media_type.clone(),
            });
        }
        by_manifest.insert(
            digest.to_string(),
            Found {
                names: name.into_iter().collect(),
                id: m.config.digest.clone(),
                manifest: digest,
                manifest_size: size,
                manifest_type: media_type,
                layers,
            },
        );
    }
    Ok(by_manifest.into_values().collect())
}

fn parse_digest(s: &str) -> Result<Digest, Error> {
    s.parse::<Digest>().map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::super::files::clean;
    use super::*;
    use proptest::prelude::*;

    /// A docker-archive of one tiny image, made by hand.
    fn tiny_archive() -> Vec<u8> {
        let mut layer = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        layer.append_data(&mut h, "hello", &b"hello"[..]).unwrap();
        let layer = layer.into_inner().unwrap();
        let diff = Digest::of(&layer);
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#
        );
        let manifest =
            r#"[{"Config":"c.json","RepoTags":["tiny:1"],"Layers":["l/layer.tar"]}]"#.to_string();
        let mut b = tar::Builder::new(Vec::new());
        for (p, data) in [
            ("l/layer.tar", layer),
            ("c.json", config.into_bytes()),
            ("manifest.json", manifest.into_bytes()),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            b.append_data(&mut h, p, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn paths_are_cleaned_inside_the_archive() {
        assert_eq!(clean(Path::new("./a/b/../c")).as_deref(), Some("a/c"));
        assert_eq!(clean(Path::new("../x")), None);
        assert_eq!(clean(Path::new("/etc/passwd")), None);
        assert_eq!(clean(Path::new("a/../../x")), None);
    }

    #[test]
    fn the_tiny_archive_loads() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(dir.path(), &tiny_archive()[..]).unwrap();
        assert_eq!(loaded[0].names[0].to_string(), "tiny:1");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// A damaged archive either loads or fails; it never panics, and a failure leaves
        /// the store's index and blobs as they were.
        #[test]
        fn damaged_archives_fail_cleanly(flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..6), cut in proptest::option::of(0usize..4096)) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            let index_before = std::fs::read(store.dir().join("index.json")).unwrap();
            let mut bytes = tiny_archive();
            for (at, x) in flips {
                let n = bytes.len();
                bytes[at % n] ^= x;
            }
            if let Some(c) = cut {
                bytes.truncate(c);
            }
            if load(dir.path(), &bytes[..]).is_err() {
                prop_assert_eq!(std::fs::read(store.dir().join("index.json")).unwrap(), index_before);
                let blobs = std::fs::read_dir(store.dir().join("blobs/sha256")).unwrap().count();
                prop_assert_eq!(blobs, 0);
                let staged = std::fs::read_dir(store.tmp_dir()).map(|d| d.count()).unwrap_or(0);
                prop_assert_eq!(staged, 0);
            }
        }
    }
}
