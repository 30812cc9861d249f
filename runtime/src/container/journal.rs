//! Container events for the journal behind `tug events` (see [`crate::events`]): the
//! actor is the container, its attributes its image, name and labels, as Docker's.

use std::collections::BTreeMap;
use std::path::Path;

use super::record::Container;

/// Records `action` of container `c` in state root `root`'s journal, with `extra`
/// attributes (`exitCode`, `signal`, `oldName`...).
pub(crate) fn emit(root: &Path, c: &Container, action: &str, extra: &[(&str, String)]) {
    let mut attrs: BTreeMap<String, String> = c.config.labels.clone();
    attrs.insert("image".into(), c.config.image.clone());
    attrs.insert("name".into(), c.short_name().to_string());
    for (k, v) in extra {
        attrs.insert((*k).to_string(), v.clone());
    }
    crate::events::emit(root, "container", action, c.id.as_str(), attrs);
}
