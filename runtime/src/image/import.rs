//! `tug import`: a rootfs tar (plain or gzip) becomes a one-layer image. The layer is
//! stored gzip-compressed; the same tar with the same options and creation time gives
//! the same image id and manifest digest on every run.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, json};

use crate::digest::HashingReader;

use super::blobs::{BlobWriter, Staged};
use super::index::Descriptor;
use super::manifest::{BlobRef, Manifest};
use super::txn::Txn;
use super::{Error, Image, LayerInfo, Reference, Store, changes, media};

/// What `import` makes of a tar.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The name to tag the image with; untagged when `None`.
    pub reference: Option<Reference>,
    /// Dockerfile instructions to apply to the config (`CMD ["sh"]`, `ENV A=1`...).
    pub changes: Vec<String>,
    /// The commit message (the history comment).
    pub message: Option<String>,
    /// Where the tar came from, for the default comment ("Imported from -").
    pub source: String,
    /// The creation time, seconds since the epoch; now when `None`. `tug import` takes
    /// it from `SOURCE_DATE_EPOCH` so that builds are reproducible.
    pub created: Option<u64>,
}

/// How a stream is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// Detects gzip (and refuses the compressions tug cannot read) by the magic bytes.
pub fn detect(reader: &mut impl BufRead, what: &str) -> Result<Compression, Error> {
    let head = reader
        .fill_buf()
        .map_err(|e| Error::Io(format!("cannot read {what}"), e))?;
    let unsupported = |name: &str| {
        Err(Error::Invalid(format!(
            "{what} is {name}-compressed: only plain and gzip tars are supported"
        )))
    };
    match head {
        [0x1f, 0x8b, ..] => Ok(Compression::Gzip),
        [b'B', b'Z', b'h', ..] => unsupported("bzip2"),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => unsupported("xz"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => unsupported("zstd"),
        _ => Ok(Compression::None),
    }
}

/// A reader of the uncompressed stream.
pub fn decompressed<'r>(
    reader: impl BufRead + Send + 'r,
    c: Compression,
) -> Box<dyn Read + Send + 'r> {
    match c {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
    }
}

/// The GOARCH name of this machine's architecture.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The latest creation time an image can have: 9999-12-31T23:59:59Z, the end of
/// RFC 3339's four-digit years.
pub const MAX_CREATED: u64 = 253_402_300_799;

/// An RFC 3339 time in UTC, as image configs carry it (clamped to [`MAX_CREATED`]).
pub fn rfc3339(secs: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs.min(MAX_CREATED));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Imports a rootfs tar (plain or gzip) into the store of state root `root` as a
/// one-layer image, unpacks its layer, and tags it. A tar that does not unpack (corrupt,
/// hostile) fails and leaves the store as it was.
pub(crate) fn import(
    root: &Path,
    input: impl Read + Send,
    opts: &ImportOptions,
) -> Result<Image, Error> {
    let store = Store::open(root)?;
    let created = opts.created.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let mut config_obj = Map::new();
    for c in &opts.changes {
        changes::apply(&mut config_obj, c)?;
    }
    let (layer, diff_id) = stage_layer(&store, input, &opts.source)?;
    let comment = opts
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {}", opts.source));
    let created = rfc3339(created);
    let config = json!({
        "architecture": host_arch(),
        "os": "linux",
        "created": created,
        "comment": comment,
        "config": config_obj,
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        "history": [{"created": created, "comment": comment}],
    });
    let layer_info = LayerInfo {
        digest: layer.digest.clone(),
        diff_id,
        size: layer.size,
        media_type: media::OCI_LAYER_GZIP.to_string(),
    };
    let config_blob = stage_bytes(&store, &super::manifest::canonical_json(&config))?;
    let manifest = Manifest::oci(
        BlobRef {
            media_type: media::OCI_CONFIG.to_string(),
            digest: config_blob.digest.clone(),
            size: config_blob.size,
        },
        vec![BlobRef {
            media_type: layer_info.media_type.clone(),
            digest: layer_info.digest.clone(),
            size: layer_info.size,
        }],
    );
    let manifest_blob = stage_bytes(&store, &super::manifest::canonical_json(&manifest))?;
    let desc = Descriptor::manifest(&manifest_blob.digest, manifest_blob.size, None);

    let mut txn = store.begin()?;
    for b in [layer, config_blob, manifest_blob] {
        txn.add_blob(b)?;
    }
    unpack(root, &txn, &[layer_info])?;
    match &opts.reference {
        Some(r) => txn.index.tag(&desc, r),
        None => txn.index.add_untagged(&desc),
    }
    txn.commit()?;
    store.image(&txn.index, &desc)
}

/// Unpacks `layers` through the snapshots of state root `root`; on failure, also drops
/// the snapshots no committed image uses, so nothing is left over. (`root` is any
/// `AsRef<Path>`, so a caller holding the engine may pass it: its state root.)
pub(crate) fn unpack(
    root: impl AsRef<Path>,
    txn: &Txn<'_>,
    layers: &[LayerInfo],
) -> Result<(), Error> {
    let snapshots = crate::snapshot::Snapshots::open(root.as_ref())?;
    match txn.store().unpack(&snapshots, layers) {
        Ok(_) => Ok(()),
        Err(e) => {
            let committed = txn.store().read_index()?;
            let mut keep = std::collections::HashSet::new();
            for img in txn.store().list_in(&committed).unwrap_or_default() {
                keep.extend(img.chain_ids());
            }
            let _ = snapshots.retain(&keep);
            Err(e.into())
        }
    }
}

/// Stages the layer: the uncompressed tar (its digest is the diff id) gzip-compressed.
fn stage_layer(
    store: &Store,
    input: impl Read + Send,
    source: &str,
) -> Result<(Staged, crate::Digest), Error> {
    let what = format!("the tar {source}");
    let mut reader = BufReader::with_capacity(128 * 1024, input);
    let c = detect(&mut reader, &what)?;
    let mut tar = crate::layer::ContentSizeReader::new(HashingReader::new(decompressed(reader, c)));
    let io_err = |e: io::Error| Error::Io(format!("cannot import {source}"), e);
    let writer = BlobWriter::create(&store.tmp_dir()).map_err(io_err)?;
    let mut gz = flate2::write::GzEncoder::new(writer, flate2::Compression::default());
    let n = io::copy(&mut tar, &mut gz).map_err(io_err)?;
    if n == 0 {
        return Err(Error::Invalid(format!("{what} is empty")));
    }
    let staged = gz.finish().and_then(BlobWriter::finish).map_err(io_err)?;
    let (diff_id, _) = tar.inner.finish();
    store.record_layer_size(&diff_id, tar.size.total());
    Ok((staged, diff_id))
}

/// Stages a small blob.
pub(crate) fn stage_bytes(store: &Store, bytes: &[u8]) -> Result<Staged, Error> {
    use std::io::Write;
    let io_err = |e| Error::Io("cannot stage a blob".into(), e);
    let mut w = BlobWriter::create(&store.tmp_dir()).map_err(io_err)?;
    w.write_all(bytes).map_err(io_err)?;
    w.finish().map_err(io_err)
}
