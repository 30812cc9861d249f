//! The layout's `index.json`: one manifest descriptor per tag (annotated with the full
//! name), plus one unannotated descriptor per untagged ("dangling") image. Fields tug does
//! not know (written by skopeo or umoci) are kept as they are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Reference, annotation, media};

/// A content descriptor as the OCI spec defines it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    /// Kept as text: a digest of another algorithm must not make the index unreadable.
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Descriptor {
    /// The reference this descriptor tags, if any: the containerd name, else the OCI
    /// ref name when it parses as a reference.
    pub fn name(&self) -> Option<Reference> {
        let a = self.annotations.as_ref()?;
        let text = a
            .get(annotation::IMAGE_NAME)
            .or_else(|| a.get(annotation::REF_NAME))?;
        Reference::parse(text).ok().map(|r| r.without_digest())
    }

    /// A descriptor of an image manifest, tagged `name` if given.
    pub fn manifest(digest: &crate::Digest, size: u64, name: Option<&Reference>) -> Descriptor {
        Descriptor {
            media_type: media::OCI_MANIFEST.to_string(),
            digest: digest.to_string(),
            size,
            annotations: name.map(name_annotations),
            other: BTreeMap::new(),
        }
    }
}

/// The annotations that tag a manifest with `name`: its full form in both the OCI ref
/// name (what skopeo and umoci look up) and containerd's image name.
pub fn name_annotations(name: &Reference) -> BTreeMap<String, String> {
    let full = name.without_digest().full();
    BTreeMap::from([
        (annotation::IMAGE_NAME.to_string(), full.clone()),
        (annotation::REF_NAME.to_string(), full),
    ])
}

/// The index file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IndexFile {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Default for IndexFile {
    fn default() -> Self {
        IndexFile {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.to_string()),
            manifests: Vec::new(),
            other: BTreeMap::new(),
        }
    }
}

impl IndexFile {
    /// Whether any descriptor names `digest`.
    pub fn has_digest(&self, digest: &str) -> bool {
        self.manifests.iter().any(|d| d.digest == digest)
    }

    /// Points `name` at the manifest `desc` (a descriptor without annotations). The image
    /// that `name` named before keeps an untagged descriptor if it has no other.
    pub fn tag(&mut self, desc: &Descriptor, name: &Reference) {
        let name = name.without_digest();
        self.untag(&name);
        self.drop_untagged(&desc.digest);
        let mut tagged = desc.clone();
        tagged.annotations = Some(name_annotations(&name));
        self.manifests.push(tagged);
    }

    /// Adds an untagged descriptor for `desc` unless the manifest is already listed.
    pub fn add_untagged(&mut self, desc: &Descriptor) {
        if !self.has_digest(&desc.digest) {
            let mut d = desc.clone();
            d.annotations = None;
            self.manifests.push(d);
        }
    }

    /// Removes the tag `name`; returns the digest it named. The manifest stays listed,
    /// untagged, if no other tag names it.
    pub fn untag(&mut self, name: &Reference) -> Option<String> {
        let name = name.without_digest();
        let pos = self
            .manifests
            .iter()
            .position(|d| d.name().as_ref() == Some(&name))?;
        let removed = self.manifests.remove(pos);
        // Drop any duplicate entries of the same name too.
        self.manifests.retain(|d| d.name().as_ref() != Some(&name));
        if !self.has_digest(&removed.digest) {
            let mut d = removed.clone();
            d.annotations = None;
            self.manifests.push(d);
        }
        Some(removed.digest)
    }

    /// Removes every descriptor of `digest`, tagged or not.
    pub fn remove_digest(&mut self, digest: &str) {
        self.manifests.retain(|d| d.digest != digest);
    }

    fn drop_untagged(&mut self, digest: &str) {
        self.manifests
            .retain(|d| !(d.digest == digest && d.name().is_none()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Digest;

    fn desc(n: &[u8]) -> Descriptor {
        Descriptor::manifest(&Digest::of(n), 10, None)
    }

    #[test]
    fn retagging_leaves_the_old_image_dangling() {
        let mut idx = IndexFile::default();
        let a = desc(b"a");
        let b = desc(b"b");
        let name = Reference::parse("busybox").unwrap();
        idx.add_untagged(&a);
        idx.tag(&a, &name);
        assert_eq!(idx.manifests.len(), 1);
        idx.tag(&a, &name);
        assert_eq!(idx.manifests.len(), 1);
        idx.tag(&b, &name);
        assert_eq!(idx.manifests.len(), 2);
        let untagged: Vec<_> = idx
            .manifests
            .iter()
            .filter(|d| d.name().is_none())
            .collect();
        assert_eq!(untagged.len(), 1);
        assert_eq!(untagged[0].digest, a.digest);
        assert_eq!(idx.untag(&name), Some(b.digest.clone()));
        assert!(idx.has_digest(&b.digest));
        assert_eq!(idx.untag(&name), None);
    }

    #[test]
    fn unknown_fields_survive() {
        let text = r#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha512:ab","size":1,"platform":{"os":"linux"}}],"annotations":{"k":"v"}}"#;
        let idx: IndexFile = serde_json::from_str(text).unwrap();
        let back = serde_json::to_value(&idx).unwrap();
        assert_eq!(back["annotations"]["k"], "v");
        assert_eq!(back["manifests"][0]["platform"]["os"], "linux");
    }
}
