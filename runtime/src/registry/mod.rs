//! The distribution API client: pull, push and login against OCI / Docker registries.
//!
//! Split by concept: `endpoint` (which URL and scheme a registry host means, the insecure
//! policy), `credentials` (Docker's `config.json` `auths`), `auth` (Basic and the
//! Bearer token flow), `client` (HTTP with auth and retries), [`manifest`] (manifest
//! and index types, platform choice), `blob` (verified downloads, uploads with skip and
//! mount), `pull` and `push` (the orchestration, bounded parallel), and `local` (the
//! store adapter the orchestration fetches into and pushes from).

pub(crate) mod auth;
pub(crate) mod blob;
pub(crate) mod client;
pub(crate) mod credentials;
pub(crate) mod endpoint;
pub(crate) mod local;
pub mod manifest;
mod parallel;
pub(crate) mod progress;
pub(crate) mod pull;
pub(crate) mod push;
mod reference;

pub use client::Client;
pub use credentials::{Credentials, config_path};
pub use endpoint::{Endpoint, InsecurePolicy};
pub use manifest::Platform;
pub use progress::{Event, Observer, Silent};
pub use pull::{PullOptions, PullReport};
pub use push::{PushOptions, PushReport};
pub use reference::{full_name, parse_reference};

use crate::Digest;

/// An error of the `registry` module. Every variant that comes from a registry names the
/// reference being worked on and the registry, so a user knows what failed where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid reference format: {0:?}: {1}")]
    InvalidReference(String, String),
    #[error(
        "{reference}: not found: {registry} has no such image, tag or digest (manifest unknown)"
    )]
    ManifestUnknown { reference: String, registry: String },
    #[error("{reference}: repository does not exist on {registry} (or may require 'tug login')")]
    RepositoryUnknown { reference: String, registry: String },
    #[error(
        "{reference}: access denied by {registry}: {detail} (the repository may not exist, or may require 'tug login')"
    )]
    Denied {
        reference: String,
        registry: String,
        detail: String,
    },
    #[error("{reference}: unauthorized at {registry}: {detail} (try 'tug login {registry}')")]
    Unauthorized {
        reference: String,
        registry: String,
        detail: String,
    },
    #[error(
        "{reference}: blob {expected} from {registry} has the wrong content: got {actual} ({size} bytes, {expected_size} expected)"
    )]
    DigestMismatch {
        reference: String,
        registry: String,
        expected: Digest,
        actual: Digest,
        size: u64,
        expected_size: u64,
    },
    #[error("{reference}: cannot reach the registry {registry}: {detail}")]
    Unreachable {
        reference: String,
        registry: String,
        detail: String,
    },
    #[error("{reference}: {registry} answered {status} to {what}: {detail}")]
    Protocol {
        reference: String,
        registry: String,
        what: String,
        status: u16,
        detail: String,
    },
    #[error("{reference}: no manifest for platform {platform} at {registry} (it has: {available})")]
    NoPlatform {
        reference: String,
        registry: String,
        platform: String,
        available: String,
    },
    #[error("{reference}: bad manifest from {registry}: {detail}")]
    BadManifest {
        reference: String,
        registry: String,
        detail: String,
    },
    #[error("{0}: unpacking")]
    Unpack(String, #[source] crate::snapshot::Error),
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Store(String),
}

/// What the errors of one operation name: the reference and the registry host.
#[derive(Debug, Clone)]
pub struct Target {
    /// The reference as the user wrote it, normalised (`docker.io/library/busybox:latest`).
    pub reference: String,
    /// The registry host (and port).
    pub registry: String,
}

impl Target {
    pub(crate) fn io(&self, what: impl std::fmt::Display, e: std::io::Error) -> Error {
        Error::Io(format!("{}: {what}", self.reference), e)
    }
}

/// The registry host a `login`/`logout` argument names (`https://host/` → `host`).
pub fn server_host(server: &str) -> String {
    let s = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let s = s.split('/').next().unwrap_or(s);
    match s {
        "" | "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        s => s.to_string(),
    }
}
