//! `push`: upload an image's blobs (skipping those the registry has, mounting those a
//! sibling repository has), in parallel (bounded), then its manifest under the tag.

use super::Error;
use super::blob::{self, Uploaded};
use super::client::Client;
use super::endpoint::InsecurePolicy;
use super::local::{BlobSources, LocalImages};
use super::manifest;
use super::parallel::run_parallel;
use super::progress::{Event, Observer};
use super::pull::DEFAULT_PARALLEL;
use super::reference::full_name;
use crate::Digest;
use crate::image::Reference;

/// Settings of a push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// How many blobs to upload at once.
    pub parallel: usize,
    /// Blobs larger than this go up in chunks of this size.
    pub chunk_size: u64,
    /// Credentials for this push only (the API's `X-Registry-Auth`); None: those that
    /// `tug login` stored, if any.
    pub credentials: Option<super::Credentials>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            parallel: DEFAULT_PARALLEL,
            chunk_size: blob::DEFAULT_CHUNK_SIZE,
            credentials: None,
        }
    }
}

/// What a push did with each blob, and the manifest it put.
#[derive(Debug, Clone)]
pub struct PushReport {
    pub name: String,
    pub manifest_digest: Digest,
    pub manifest_size: u64,
    /// Per blob (config first, then layers): what the upload did.
    pub blobs: Vec<(Digest, Uploaded)>,
}

/// Pushes the image stored under `source` (a full reference name in `local`) to
/// `target`.
pub fn push(
    local: &dyn LocalImages,
    sources: &BlobSources,
    policy: &InsecurePolicy,
    source: &str,
    target: &Reference,
    options: &PushOptions,
    observer: &dyn Observer,
) -> Result<PushReport, Error> {
    let name = full_name(target);
    let raw = local.manifest(source)?;
    let client = Client::with_override(
        &target.registry,
        name.clone(),
        policy,
        options.credentials.as_ref(),
    )?;
    if raw.is_index() {
        return Err(Error::BadManifest {
            reference: name,
            registry: target.registry.clone(),
            detail: "pushing a manifest list is not supported yet".into(),
        });
    }
    let image = manifest::parse_image(&client, &raw)?;
    let repo = target.repository.as_str();
    let mut blobs = vec![image.config.clone()];
    blobs.extend(image.layers.iter().cloned());
    let mounts: Vec<Option<String>> = blobs
        .iter()
        .map(|d| sources.find(&d.digest, &target.registry, repo))
        .collect();
    let mut scopes = vec![format!("repository:{repo}:pull,push")];
    for from in mounts.iter().flatten() {
        let s = format!("repository:{from}:pull");
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    client.ping_for(&scopes)?;
    let work: Vec<(usize, &manifest::Descriptor)> = blobs.iter().enumerate().collect();
    // Progress is shown for the layers, as Docker does; the config goes up silently.
    let silent = super::progress::Silent;
    let outcomes = run_parallel(&work, options.parallel, |(i, d)| {
        let observer: &dyn Observer = if *i == 0 { &silent } else { observer };
        observer.event(Event::Start {
            digest: &d.digest,
            size: d.size,
        });
        let advance = |n| {
            observer.event(Event::Advance {
                digest: &d.digest,
                bytes: n,
            })
        };
        let open_at = |offset| local.open_blob_at(&d.digest, offset);
        let outcome = blob::upload(
            &client,
            repo,
            d,
            &open_at,
            mounts[*i].as_deref(),
            options.chunk_size,
            &scopes,
            &advance,
        )?;
        let status = match &outcome {
            Uploaded::Exists => "Layer already exists".to_string(),
            Uploaded::Mounted(from) => format!("Mounted from {from}"),
            Uploaded::Pushed => "Pushed".to_string(),
        };
        observer.event(Event::Done {
            digest: &d.digest,
            status: &status,
        });
        Ok((d.digest.clone(), outcome))
    })?;
    let tag = match (&target.tag, &target.digest) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "latest".into(),
    };
    manifest::put(&client, repo, &tag, &raw, &scopes)?;
    let all: Vec<Digest> = blobs.iter().map(|d| d.digest.clone()).collect();
    sources.record(&all, &target.registry, repo);
    Ok(PushReport {
        name,
        manifest_digest: raw.digest.clone(),
        manifest_size: raw.bytes.len() as u64,
        blobs: outcomes,
    })
}
