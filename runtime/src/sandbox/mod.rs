//! See ARCHITECTURE.md: the `sandbox` module.

/// An error of the `sandbox` module.
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
