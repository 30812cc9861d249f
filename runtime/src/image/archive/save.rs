//! `tug save`: images to a docker-archive or an oci-archive, streamed.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};

use serde_json::json;

use crate::digest::HashingReader;

use super::super::index::{Descriptor, IndexFile};
use super::super::manifest::Manifest;
use super::super::{Error, Image, LayerInfo, Reference, Store, media};
use super::{ArchiveFormat, dir_header, file_header};

/// One image to save and the names to save it under.
struct Saved {
    image: Image,
    tags: Vec<Reference>,
}

/// Writes the images `names` (references or ids) of `store` to `out` as an archive. A
/// name that is a tag saves that tag; an id saves every tag of the image.
pub(crate) fn save(
    store: &Store,
    names: &[String],
    format: ArchiveFormat,
    out: impl Write,
) -> Result<(), Error> {
    let index = store.read_index()?;
    let mut saved: Vec<Saved> = Vec::new();
    for n in names {
        let desc = store.find(&index, n)?;
        let image = store.image(&index, desc)?;
        let tags = match Reference::parse(n) {
            Ok(r) if r.digest.is_none() && store.find_by_ref(&index, &r).is_some() => vec![r],
            _ => image.names.clone(),
        };
        match saved
            .iter_mut()
            .find(|s| s.image.manifest_digest == image.manifest_digest)
        {
            Some(s) => {
                for t in tags {
                    if !s.tags.contains(&t) {
                        s.tags.push(t);
                    }
                }
            }
            None => saved.push(Saved { image, tags }),
        }
    }
    let mut tar = tar::Builder::new(out);
    match format {
        ArchiveFormat::Docker => write_docker(store, &saved, &mut tar)?,
        ArchiveFormat::Oci => write_oci(store, &saved, &mut tar)?,
    }
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| Error::Io("cannot write the archive".into(), e))
}

fn io_err(e: io::Error) -> Error {
    Error::Io("cannot write the archive".into(), e)
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    bytes: &[u8],
) -> Result<(), Error> {
    let mut h = file_header(bytes.len() as u64);
    tar.append_data(&mut h, path, bytes).map_err(io_err)
}

/// docker-archive as Docker 25+ writes it, which is an OCI image layout too:
/// `blobs/sha256/` holds each layer uncompressed (named by its diff id), each config and
/// an OCI manifest of those; `manifest.json` and `repositories` point into it for
/// `docker load`, `index.json` and `oci-layout` for OCI tools (`skopeo inspect
/// oci-archive:`).
fn write_docker<W: Write>(
    store: &Store,
    saved: &[Saved],
    tar: &mut tar::Builder<W>,
) -> Result<(), Error> {
    tar.append_data(&mut dir_header(), "blobs/", io::empty())
        .map_err(io_err)?;
    tar.append_data(&mut dir_header(), "blobs/sha256/", io::empty())
        .map_err(io_err)?;
    // Blob path → its size, for the blobs written already.
    let mut written: BTreeMap<String, u64> = BTreeMap::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut index = IndexFile::default();
    for s in saved {
        let mut layer_paths = Vec::new();
        let mut layers = Vec::new();
        for l in &s.image.layers {
            let path = format!("blobs/sha256/{}", l.diff_id.hex());
            let size = match written.get(&path) {
                Some(size) => *size,
                None => {
                    let size = append_layer_tar(store, l, &path, tar)?;
                    written.insert(path.clone(), size);
                    size
                }
            };
            layers.push(json!({
                "mediaType": media::OCI_LAYER_TAR,
                "digest": l.diff_id.to_string(),
                "size": size,
            }));
            layer_paths.push(path);
        }
        let config = store.read_blob(&s.image.id)?;
        let config_path = format!("blobs/sha256/{}", s.image.id.hex());
        if !written.contains_key(&config_path) {
            append_bytes(tar, &config_path, &config)?;
            written.insert(config_path.clone(), config.len() as u64);
        }
        // The OCI manifest of the uncompressed layers (the stored one names the
        // compressed blobs, which are not in this archive).
        let oci_manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {
                "mediaType": media::OCI_CONFIG,
                "digest": s.image.id.to_string(),
                "size": config.len(),
            },
            "layers": layers,
        }))
        .unwrap_or_default();
        let digest = crate::Digest::of(&oci_manifest);
        let manifest_path = format!("blobs/sha256/{}", digest.hex());
        if let std::collections::btree_map::Entry::Vacant(e) = written.entry(manifest_path) {
            append_bytes(tar, e.key(), &oci_manifest)?;
            e.insert(oci_manifest.len() as u64);
        }
        let desc = Descriptor::manifest(&digest, oci_manifest.len() as u64, None);
        if s.tags.is_empty() {
            index.add_untagged(&desc);
        }
        for t in &s.tags {
            index.manifests.push(Descriptor::manifest(
                &digest,
                oci_manifest.len() as u64,
                Some(t),
            ));
        }

        let tags: Vec<String> = s.tags.iter().map(|t| t.to_string()).collect();
        if let Some(top) = s.image.layers.last() {
            for t in &s.tags {
                repositories.entry(t.familiar_name()).or_default().insert(
                    t.tag.clone().unwrap_or_default(),
                    top.diff_id.hex().to_string(),
                );
            }
        }
        manifest.push(json!({
            "Config": config_path,
            "RepoTags": if tags.is_empty() { serde_json::Value::Null } else { json!(tags) },
            "Layers": layer_paths,
        }));
    }
    index.media_type = Some(media::OCI_INDEX.to_string());
    append_bytes(
        tar,
        "index.json",
        &serde_json::to_vec(&index).unwrap_or_default(),
    )?;
    append_bytes(
        tar,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap_or_default(),
    )?;
    append_bytes(tar, "oci-layout", OCI_LAYOUT)?;
    if !repositories.is_empty() {
        append_bytes(
            tar,
            "repositories",
            &serde_json::to_vec(&repositories).unwrap_or_default(),
        )?;
    }
    Ok(())
}

/// The `oci-layout` file of an OCI image layout.
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Appends a layer uncompressed; its size. A gzip layer is read twice: once to learn its
/// size (and check its diff id), once to write it.
fn append_layer_tar<W: Write>(
    store: &Store,
    l: &LayerInfo,
    path: &str,
    tar: &mut tar::Builder<W>,
) -> Result<u64, Error> {
    let read_err = |e: io::Error| Error::Io(format!("cannot read layer {}", l.digest), e);
    let gzip = l.media_type.ends_with("+gzip") || l.media_type.ends_with(".tar.gzip");
    if !gzip && !l.media_type.ends_with(".tar") && !l.media_type.ends_with("tar") {
        return Err(Error::Invalid(format!(
            "layer {} has media type {}: only tar and gzip layers can be saved",
            l.digest, l.media_type
        )));
    }
    let open = || -> Result<Box<dyn Read + Send>, Error> {
        let blob = store.open_blob(&l.digest)?;
        Ok(if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(blob))
        } else {
            blob
        })
    };
    // The stored blob first, so that a corrupt one is reported as such (not as a
    // decompression error).
    io::copy(&mut store.open_blob(&l.digest)?, &mut io::sink()).map_err(read_err)?;
    let mut counting = HashingReader::new(open()?);
    io::copy(&mut counting, &mut io::sink()).map_err(read_err)?;
    let (diff_id, size) = counting.finish();
    if diff_id != l.diff_id {
        return Err(Error::Invalid(format!(
            "layer {}: its content has diff id {diff_id}, the config says {}",
            l.digest, l.diff_id
        )));
    }
    let mut h = file_header(size);
    tar.append_data(&mut h, path, open()?).map_err(io_err)?;
    Ok(size)
}

/// oci-archive: `oci-layout`, `index.json`, `blobs/sha256/*` as stored.
fn write_oci<W: Write>(
    store: &Store,
    saved: &[Saved],
    tar: &mut tar::Builder<W>,
) -> Result<(), Error> {
    append_bytes(tar, "oci-layout", OCI_LAYOUT)?;
    tar.append_data(&mut dir_header(), "blobs/", io::empty())
        .map_err(io_err)?;
    tar.append_data(&mut dir_header(), "blobs/sha256/", io::empty())
        .map_err(io_err)?;
    let mut written = HashSet::new();
    let mut index = IndexFile::default();
    for s in saved {
        let manifest_bytes = store.read_blob(&s.image.manifest_digest)?;
        let mut desc =
            Descriptor::manifest(&s.image.manifest_digest, manifest_bytes.len() as u64, None);
        if let Some(t) = Manifest::parse(&manifest_bytes, "manifest")?.media_type {
            desc.media_type = t;
        }
        let mut blobs = vec![(s.image.manifest_digest.clone(), manifest_bytes.len() as u64)];
        let config_size = store.read_blob(&s.image.id)?.len() as u64;
        blobs.push((s.image.id.clone(), config_size));
        blobs.extend(s.image.layers.iter().map(|l| (l.digest.clone(), l.size)));
        for (digest, size) in blobs {
            if written.insert(digest.clone()) {
                let on_disk = std::fs::metadata(store.blob_path(&digest))
                    .map_err(|e| Error::Io(format!("cannot read blob {digest}"), e))?
                    .len();
                if on_disk != size {
                    return Err(Error::Invalid(format!(
                        "blob {digest} is corrupt: {on_disk} bytes, its descriptor says {size}"
                    )));
                }
                let mut h = file_header(size);
                let path = format!("blobs/sha256/{}", digest.hex());
                tar.append_data(&mut h, path, store.open_blob(&digest)?)
                    .map_err(|e| Error::Io(format!("cannot save blob {digest}"), e))?;
            }
        }
        if s.tags.is_empty() {
            index.add_untagged(&desc);
        }
        for t in &s.tags {
            let mut d = desc.clone();
            d.annotations = Some(super::super::index::name_annotations(t));
            index.manifests.push(d);
        }
    }
    index.media_type = Some(media::OCI_INDEX.to_string());
    append_bytes(
        tar,
        "index.json",
        &serde_json::to_vec(&index).unwrap_or_default(),
    )
}
