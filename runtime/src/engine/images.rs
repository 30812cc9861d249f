//! The engine's read side of the image store: listing, inspecting and the history of
//! images, so that a face never opens the store itself.

use std::collections::HashSet;

use crate::image::prune::{PruneReport, disk_usage};
use crate::image::remove::{self, RemoveEvent};
use crate::image::view::{self, HistoryEntry};
use crate::image::{Error, Image, Store};
use crate::{Digest, Engine, Result};

/// An image as `images` lists it: the image and its size uncompressed.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub image: Image,
    /// The sum of its layers' uncompressed sizes.
    pub size: u64,
}

impl Engine {
    fn images_in(&self, store: &Store) -> Result<Vec<ImageSummary>> {
        Ok(store
            .list()?
            .into_iter()
            .map(|image| ImageSummary {
                size: store.image_size(&image),
                image,
            })
            .collect())
    }

    /// Every image in the store, each once (with all its names), with its size.
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        self.images_in(&self.image_store()?)
    }

    /// The image a name, id or id prefix refers to.
    pub fn image(&self, name: &str) -> Result<Image> {
        Ok(self.image_store()?.resolve(name)?)
    }

    /// `image inspect`'s JSON for the image `name` refers to, with Docker's field names.
    pub fn inspect_image(&self, name: &str) -> Result<serde_json::Value> {
        let store = self.image_store()?;
        let image = store.resolve(name)?;
        Ok(view::inspect(
            &store,
            &image,
            self.config().storage_driver.name(),
        )?)
    }

    /// The history of the image `name` refers to, newest first, as `docker history`
    /// lists it.
    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        let store = self.image_store()?;
        let image = store.resolve(name)?;
        Ok(view::history(&store, &image))
    }
}

/// The write side: names, removal and pruning. Whether an image is in use is the
/// Engine's to say (the image store knows no containers).
impl Engine {
    /// Whether `reference` (a name, `name:tag`, or an id) names an image in the store.
    pub fn has_image(&self, reference: &str) -> Result<bool, Error> {
        match self.image_store()?.resolve(reference) {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Names the image `source` (a reference or id) `target` too.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<(), Error> {
        remove::tag(&self.image_store()?, source, target)
    }

    /// Removes `name`: a tag is untagged (and the image deleted with its last tag); an id
    /// deletes the image with all its tags. An image a container uses is refused unless
    /// `force`, which then only untags it. Blobs and snapshots no image needs any more
    /// are removed.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>, Error> {
        let users = |id: &Digest| {
            self.containers_using_image(id)
                .map_err(|e| Error::Users(Box::new(e)))
        };
        remove::remove(&self.image_store()?, name, force, users)
    }

    /// Removes dangling images (no name), or with `all` every image that no container
    /// uses, and the staging files and dirs that killed commands left. The bytes
    /// reclaimed are measured on disk (blobs and snapshots), so layers that other images
    /// share are not counted.
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
