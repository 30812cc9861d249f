//! Image references, normalised as Docker does: `busybox` is
//! `docker.io/library/busybox:latest`; `localhost:5000/app:1`; `app@sha256:...`.

use crate::Digest;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The registry host (and port): `docker.io` by default.
    pub registry: String,
    /// The repository path: `library/busybox` for an official Docker Hub image.
    pub repository: String,
    /// The tag: `latest` when neither a tag nor a digest is given.
    pub tag: Option<String>,
    /// The digest, for `name@sha256:...`.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises a reference (`busybox`, `redis:7`, `localhost:5000/a/b:1`,
    /// `busybox@sha256:...`).
    pub fn parse(s: &str) -> Result<Reference, super::Error> {
        let _ = s;
        todo!("image helper")
    }
}
