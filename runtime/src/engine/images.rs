//! The engine's read side of the image store: listing, inspecting and the history of
//! images, so that a face never opens the store itself.

use crate::image::view::{self, HistoryEntry};
use crate::image::{Image, Store};
use crate::{Engine, Result};

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
