//! `image prune`: what it reports and how it measures the bytes reclaimed (the Engine's
//! `prune_images` walks the store).

use std::path::Path;

use super::remove::RemoveEvent;

/// What a prune removed and how many bytes it gave back.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    pub reclaimed: u64,
}

/// Bytes of the image blobs and the layer snapshots under a state root.
pub fn disk_usage(root: &Path) -> u64 {
    use crate::fsutil::dir_size;
    dir_size(&root.join("images/blobs")) + dir_size(&root.join("snapshots"))
}
