//! See ARCHITECTURE.md: the `container` module.

/// An error of the `container` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

impl Error {
    /// The CLI exit code for this error (125 unless the command could not be run).
    pub fn exit_code(&self) -> i32 {
        125
    }
}

impl crate::Engine {
    /// The names (or short ids) of the containers created from image `id`, so that `rmi`
    /// can refuse to remove an image in use.
    pub fn containers_using_image(&self, id: &crate::Digest) -> Result<Vec<String>, Error> {
        let _ = id;
        Ok(Vec::new())
    }
}
