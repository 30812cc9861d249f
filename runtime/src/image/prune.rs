//! `image prune`: remove the images nothing needs.

use std::collections::HashSet;
use std::path::Path;

use super::Error;
use super::remove::RemoveEvent;
use crate::Engine;

/// What a prune removed and how many bytes it gave back.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    pub reclaimed: u64,
}

impl Engine {
    /// Removes dangling images (no name), or with `all` every image that no container
    /// uses, and the staging files and dirs that killed commands left. The bytes reclaimed are measured on disk (blobs and snapshots), so layers
    /// that other images share are not counted.
    pub fn prune_images(&self, all: bool) -> Result<PruneReport, Error> {
        let store = self.image_store()?;
        let in_use: HashSet<String> = self
            .containers()
            .map_err(|e| Error::Users(Box::new(e)))?
            .into_iter()
            .map(|c| c.image)
            .collect();
        let before = disk_usage(self.root());
        let mut report = PruneReport::default();
        for image in store.list()? {
            if in_use.contains(&image.id.to_string()) || (!all && !image.names.is_empty()) {
                continue;
            }
            // Removing by id deletes every name; `force` only matters for images in use,
            // which were skipped above.
            report
                .events
                .extend(self.remove_image(&image.id.to_string(), true)?);
        }
        // What killed pulls, loads, commits and imports left behind.
        let abandoned = crate::fsutil::remove_abandoned(&store.tmp_dir(), "blob-")
            + crate::fsutil::remove_abandoned(&self.root().join("snapshots"), ".tmp-");
        report.reclaimed = before.saturating_sub(disk_usage(self.root())) + abandoned;
        Ok(report)
    }
}

/// Bytes of the image blobs and the layer snapshots under a state root.
pub fn disk_usage(root: &Path) -> u64 {
    use crate::fsutil::dir_size;
    dir_size(&root.join("images/blobs")) + dir_size(&root.join("snapshots"))
}
