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

    /// The digest the registry serves for this descriptor's name, when it is not the
    /// manifest's own: the index a pull resolved.
    pub fn repo_digest(&self) -> Option<crate::Digest> {
        self.annotations
            .as_ref()?
            .get(annotation::REPO_DIGEST)?
            .parse()
            .ok()
    }

    /// Whether `r` (a reference with a digest) names this descriptor: its repository
    /// and either the manifest's digest or the repo digest.
    pub fn matches_digest_ref(&self, r: &Reference, digest: &crate::Digest) -> bool {
        let d = digest.to_string();
        let by_digest = self.digest == d || self.repo_digest().is_some_and(|rd| rd == *digest);
        by_digest && self.name().is_some_and(|n| n.full_name() == r.full_name())
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

    /// Records `repo_digest` (the index a pull chose `manifest` from) on the descriptors
    /// of `manifest` that `name` names: its tag's; for a name without a tag (a pull by
    /// digest) the repository's untagged one and any tag that has none yet (a tag pulled
    /// through another index keeps its own). `repo@repo_digest` then finds the image.
    pub fn set_repo_digest(
        &mut self,
        manifest: &crate::Digest,
        name: &Reference,
        repo_digest: &crate::Digest,
    ) {
        let digest = manifest.to_string();
        for m in self.manifests.iter_mut().filter(|m| m.digest == digest) {
            let Some(n) = m.name() else { continue };
            let wanted = match &name.tag {
                Some(_) => n.tag == name.tag,
                None => n.tag.is_none() || m.repo_digest().is_none(),
            };
            if n.full_name() != name.full_name() || !wanted {
                continue;
            }
            m.annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(annotation::REPO_DIGEST.to_string(), repo_digest.to_string());
        }
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
    fn a_repo_digest_names_its_tag_only() {
        let mut idx = IndexFile::default();
        let m = desc(b"m");
        let list = Digest::of(b"list");
        let one = Reference::parse("reg:5000/app:1").unwrap();
        let two = Reference::parse("reg:5000/app:2").unwrap();
        idx.tag(&m, &one);
        idx.tag(&m, &two);
        let digest: Digest = m.digest.parse().unwrap();
        idx.set_repo_digest(&digest, &one, &list);
        let by_list = Reference::parse(&format!("reg:5000/app@{list}")).unwrap();
        let other = Reference::parse(&format!("reg:5000/other@{list}")).unwrap();
        let hits: Vec<_> = idx
            .manifests
            .iter()
            .filter(|d| d.matches_digest_ref(&by_list, &list))
            .map(|d| d.name().unwrap())
            .collect();
        assert_eq!(hits, vec![one.clone()]);
        assert!(
            !idx.manifests
                .iter()
                .any(|d| d.matches_digest_ref(&other, &list))
        );
        // The manifest's own digest still names both.
        assert!(
            idx.manifests
                .iter()
                .all(|d| d.matches_digest_ref(&one, &digest))
        );
        // Retagging drops the old repo digest with the old descriptor.
        idx.tag(&m, &one);
        assert!(idx.manifests.iter().all(|d| d.repo_digest().is_none()));
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
