//! Making a new image from a parent image plus one layer: what `tug commit` (and later
//! `tug build`) store.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::Digest;

use super::blobs::BlobWriter;
use super::import::{rfc3339, stage_bytes, unpack};
use super::index::Descriptor;
use super::manifest::{BlobRef, Manifest, canonical_json};
use super::{Error, Image, LayerInfo, Reference, Store, changes, media};

/// The facts of a new layer that a writer produced.
#[derive(Debug, Clone)]
pub struct LayerStats {
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
    /// The bytes its files take unpacked: the size `images` and `history` show (see
    /// `layer::ContentSize`).
    pub content_size: u64,
}

/// What goes into a committed image besides its layer.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The name for the new image; untagged when `None`.
    pub reference: Option<Reference>,
    /// The image config (`Env`, `Cmd`, `Entrypoint`, `WorkingDir`, `User`, `Labels`, ...):
    /// the container's, in the image config's field names. The parent's is kept when empty.
    pub config: Map<String, Value>,
    /// Dockerfile instructions applied on top (`commit -c`).
    pub changes: Vec<String>,
    /// The commit message (`-m`), the history comment.
    pub message: Option<String>,
    /// The author (`-a`).
    pub author: Option<String>,
    /// The history entry's `created_by` (Docker puts the container's command there).
    pub created_by: String,
    /// Whether the layer adds nothing (a history entry with `empty_layer`).
    pub empty_layer: bool,
}

/// A layer blob written to the store's staging dir, not yet part of an image.
pub struct StagedLayer {
    blob: super::blobs::Staged,
    pub info: LayerInfo,
}

/// Writes a new gzip layer with `write_layer` (which returns its diff id and content size)
/// into the staging dir of `store`. Dropped unused, it is removed.
pub(crate) fn stage_layer(
    store: &Store,
    write_layer: impl FnOnce(&mut dyn Write) -> Result<LayerStats, Error>,
) -> Result<StagedLayer, Error> {
    let io_err = |e| Error::Io("cannot stage the new layer".into(), e);
    let mut writer = BlobWriter::create(&store.tmp_dir()).map_err(io_err)?;
    let stats = write_layer(&mut writer)?;
    let blob = writer.finish().map_err(io_err)?;
    store.record_layer_size(&stats.diff_id, stats.content_size);
    let info = LayerInfo {
        digest: blob.digest.clone(),
        diff_id: stats.diff_id,
        size: blob.size,
        media_type: media::OCI_LAYER_GZIP.to_string(),
    };
    Ok(StagedLayer { blob, info })
}

/// Stores a new image in the store of state root `root`: `parent`'s layers plus one layer
/// that `write_layer` writes into the given writer (returning its diff id and tar size),
/// with `opts`' config, changes and history. The layer is unpacked before the image is
/// named, so a failure leaves the store as it was.
pub(crate) fn commit_image(
    root: &Path,
    store: &Store,
    parent: &Image,
    write_layer: impl FnOnce(&mut dyn Write) -> Result<LayerStats, Error>,
    opts: &CommitOptions,
) -> Result<Image, Error> {
    let layer = stage_layer(store, write_layer)?;
    let mut config = serde_json::to_value(&parent.config)
        .map_err(|e| Error::Invalid(format!("the parent image's config: {e}")))?;
    let obj = config
        .as_object_mut()
        .ok_or_else(|| Error::Invalid("the parent image's config is not an object".into()))?;
    let mut runtime = obj
        .get("config")
        .and_then(|c| c.as_object())
        .cloned()
        .unwrap_or_default();
    for (k, v) in &opts.config {
        runtime.insert(k.clone(), v.clone());
    }
    for c in &opts.changes {
        changes::apply(&mut runtime, c)?;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let created = rfc3339(now);
    obj.insert("config".into(), Value::Object(runtime));
    obj.insert("created".into(), json!(created));
    match &opts.author {
        Some(a) => obj.insert("author".into(), json!(a)),
        None => obj.remove("author"),
    };
    // The message is the image's comment too (`image inspect -f {{.Comment}}`), as
    // Docker's commit makes it; a commit without one inherits none.
    match &opts.message {
        Some(m) => obj.insert("comment".into(), json!(m)),
        None => obj.remove("comment"),
    };
    let mut entry = Map::new();
    entry.insert("created".into(), json!(created));
    if let Some(a) = &opts.author {
        entry.insert("author".into(), json!(a));
    }
    entry.insert("created_by".into(), json!(opts.created_by));
    if let Some(m) = &opts.message {
        entry.insert("comment".into(), json!(m));
    }
    if opts.empty_layer {
        entry.insert("empty_layer".into(), json!(true));
    }
    match obj.get_mut("history").and_then(|h| h.as_array_mut()) {
        Some(h) => h.push(Value::Object(entry)),
        None => {
            obj.insert("history".into(), json!([entry]));
        }
    }
    store_image(
        root,
        store,
        &parent.layers,
        Some(layer),
        config,
        opts.reference.as_ref(),
    )
}

/// Stores an image in the store of state root `root`, made of `base` layers plus `layer`
/// (if any), with `config` (a whole image config; the new layer's diff id is appended to
/// its `rootfs.diff_ids`, and its null fields are dropped), named `reference` or
/// untagged. The layers are unpacked before the image is listed, so a failure leaves the
/// store as it was.
pub(crate) fn store_image(
    root: &Path,
    store: &Store,
    base: &[LayerInfo],
    layer: Option<StagedLayer>,
    mut config: Value,
    reference: Option<&Reference>,
) -> Result<Image, Error> {
    let obj = config
        .as_object_mut()
        .ok_or_else(|| Error::Invalid("the image config is not an object".into()))?;
    let diff_ids = obj
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}))
        .as_object_mut()
        .and_then(|r| r.get_mut("diff_ids"))
        .and_then(|d| d.as_array_mut())
        .ok_or_else(|| Error::Invalid("the image config has no rootfs.diff_ids".into()))?;
    if let Some(l) = &layer {
        diff_ids.push(json!(l.info.diff_id.to_string()));
    }
    // Drop what oci-spec serialises as null, so the config reads like Docker's.
    obj.retain(|_, v| !v.is_null());

    let config_blob = stage_bytes(store, &canonical_json(&config))?;
    let mut all_layers = base.to_vec();
    all_layers.extend(layer.as_ref().map(|l| l.info.clone()));
    let layers: Vec<BlobRef> = all_layers
        .iter()
        .map(|l| BlobRef {
            media_type: l.media_type.clone(),
            digest: l.digest.clone(),
            size: l.size,
        })
        .collect();
    let manifest = Manifest::oci(
        BlobRef {
            media_type: media::OCI_CONFIG.to_string(),
            digest: config_blob.digest.clone(),
            size: config_blob.size,
        },
        layers,
    );
    let manifest_blob = stage_bytes(store, &canonical_json(&manifest))?;
    let desc = Descriptor::manifest(&manifest_blob.digest, manifest_blob.size, None);

    let mut txn = store.begin()?;
    for b in layer
        .map(|l| l.blob)
        .into_iter()
        .chain([config_blob, manifest_blob])
    {
        txn.add_blob(b)?;
    }
    unpack(root, &txn, &all_layers)?;
    match reference {
        Some(r) => txn.index.tag(&desc, r),
        None => txn.index.add_untagged(&desc),
    }
    txn.commit()?;
    store.image(&txn.index, &desc)
}
