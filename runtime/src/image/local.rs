//! Whether an image is in the local store, for callers that pull what is missing.

use super::Error;
use crate::Engine;

impl Engine {
    /// Whether `reference` (a name, `name:tag`, or an id) names an image in the store.
    pub fn has_image(&self, reference: &str) -> Result<bool, Error> {
        match self.image_store()?.resolve(reference) {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
