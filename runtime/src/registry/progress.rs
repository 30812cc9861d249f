//! Progress events of a pull or push. The library does not print: the CLI turns these
//! into bars on a terminal or plain lines otherwise.

use crate::Digest;

/// What happens to one blob.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// Work on a blob starts (`size` bytes in all).
    Start { digest: &'a Digest, size: u64 },
    /// `bytes` more of it moved.
    Advance { digest: &'a Digest, bytes: u64 },
    /// It is done; `status` says how, in Docker's words (`Pull complete`, `Pushed`,
    /// `Layer already exists`, `Already exists`, `Mounted from library/x`).
    Done { digest: &'a Digest, status: &'a str },
}

/// Receives the events; called from the worker threads.
pub trait Observer: Sync {
    fn event(&self, event: Event<'_>);
}

/// An observer that ignores everything (`-q`, library callers).
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: Event<'_>) {}
}
