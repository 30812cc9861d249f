//! Image manifests (OCI and Docker v2, which have the same shape) and canonical JSON.

use serde::{Deserialize, Serialize};

use super::{Error, media};
use crate::Digest;

/// The parts of a manifest the store uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: BlobRef,
    pub layers: Vec<BlobRef>,
}

/// A descriptor inside a manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobRef {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

impl Manifest {
    /// An OCI manifest of a config and layers.
    pub fn oci(config: BlobRef, layers: Vec<BlobRef>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.to_string()),
            config,
            layers,
        }
    }

    /// Parses a manifest blob; `what` names it in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Manifest, Error> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Invalid(format!("{what}: not an image manifest: {e}")))
    }
}

/// JSON with sorted keys and no spaces: the same value always gives the same bytes, so
/// the same image gives the same digests.
pub fn canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    // serde_json's map is a BTreeMap (no preserve_order feature): keys come out sorted.
    let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Parses an image config blob; `what` names it in errors.
pub fn parse_config(
    bytes: &[u8],
    what: &str,
) -> Result<oci_spec::image::ImageConfiguration, Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Invalid(format!("{what}: not an image config: {e}")))
}

/// The diff ids of a config, parsed.
pub fn diff_ids(
    config: &oci_spec::image::ImageConfiguration,
    what: &str,
) -> Result<Vec<Digest>, Error> {
    config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| {
            d.parse::<Digest>()
                .map_err(|e| Error::Invalid(format!("{what}: rootfs.diff_ids: {e}")))
        })
        .collect()
}
