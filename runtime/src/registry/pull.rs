//! `pull`: resolve a reference on its registry (choosing a platform in a list), fetch the
//! config and layers in parallel (bounded) into a staging dir, verified, and only then
//! hand them to the store with the manifest. A failed pull leaves the store as it was;
//! the verified blobs it staged are reused by the next try.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;

use super::Error;
use super::blob;
use super::client::Client;
use super::endpoint::InsecurePolicy;
use super::local::{BlobSources, LocalImages};
use super::manifest::{self, Descriptor, Platform};
use super::parallel::run_parallel;
use super::progress::{Event, Observer};
use super::reference::full_name;
use crate::Digest;
use crate::image::Reference;
use crate::snapshot::{Snapshots, chain_ids};

/// How many blobs move at once by default.
pub const DEFAULT_PARALLEL: usize = 3;

/// Settings of a pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to choose in a manifest list (default: this machine's).
    pub platform: Option<Platform>,
    /// How many blobs to fetch at once.
    pub parallel: usize,
    /// Unpack the layers into snapshots as they arrive (what `tug run` needs).
    pub unpack: bool,
    /// Credentials for this pull only (the API's `X-Registry-Auth`); None: those that
    /// `tug login` stored, if any.
    pub credentials: Option<super::Credentials>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            parallel: DEFAULT_PARALLEL,
            unpack: true,
            credentials: None,
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct PullReport {
    /// The full reference the image is stored under.
    pub name: String,
    /// The digest the registry serves for the reference (a list's, if it is one).
    pub repo_digest: Digest,
    /// The digest of the image manifest stored.
    pub manifest_digest: Digest,
    /// The config digest (the image id).
    pub config: Digest,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
    /// The blobs fetched (the others were in the store already).
    pub fetched: Vec<Digest>,
}

/// Pulls `reference` into `local`, unpacking each layer into `snapshots` (if given) as
/// soon as it is verified.
#[allow(clippy::too_many_arguments)]
pub fn pull(
    local: &dyn LocalImages,
    snapshots: Option<&Snapshots>,
    sources: &BlobSources,
    policy: &InsecurePolicy,
    reference: &Reference,
    options: &PullOptions,
    observer: &dyn Observer,
) -> Result<PullReport, Error> {
    let name = full_name(reference);
    let client = Client::with_override(
        &reference.registry,
        name.clone(),
        policy,
        options.credentials.as_ref(),
    )?;
    let repo = reference.repository.as_str();
    let scopes = vec![format!("repository:{repo}:pull")];
    client.ping_for(&scopes)?;
    let wanted = match (&reference.digest, &reference.tag) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".into(),
    };
    let top = manifest::fetch(&client, repo, &wanted, &scopes)?;
    let raw = if top.is_index() {
        let platform = options.platform.clone().unwrap_or_else(Platform::host);
        let entry = manifest::choose(&client, &top, &platform)?;
        let m = manifest::fetch(&client, repo, &entry.digest.to_string(), &scopes)?;
        if m.is_index() {
            return Err(Error::BadManifest {
                reference: name,
                registry: reference.registry.clone(),
                detail: "a list inside a list".into(),
            });
        }
        m
    } else {
        // A single-platform image: Docker pulls it whatever --platform says.
        top.clone()
    };
    let image = manifest::parse_image(&client, &raw)?;
    let staging = local.staging_dir()?;
    prune_staging(&staging, STAGING_MAX_AGE);
    let mut staged: Vec<(Digest, PathBuf)> = Vec::new();
    // The config first: its diff ids name the snapshots the layers unpack into.
    let config = &image.config;
    let config_bytes = if local.has_blob(&config.digest) {
        read_all(local.open_blob_at(&config.digest, 0)).map_err(|e| {
            client
                .target
                .io(format!("reading config {}", config.digest), e)
        })?
    } else {
        let path = blob::download(&client, repo, config, &staging, &scopes, &|_| {})?;
        let bytes = match std::fs::read(&path) {
            // A concurrent pull of the same blob committed it into the store already.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                read_all(local.open_blob_at(&config.digest, 0))
            }
            r => r,
        }
        .map_err(|e| client.target.io(format!("reading {}", path.display()), e))?;
        staged.push((config.digest.clone(), path));
        bytes
    };
    let chains = chain_ids_of(&client, &config_bytes, image.layers.len())?;
    let layers: Vec<(usize, &Descriptor)> = image.layers.iter().enumerate().collect();
    // Layer content sizes (what `images` shows), recorded once the image is in the store.
    let sizes: Mutex<Vec<(Digest, u64)>> = Mutex::new(Vec::new());
    let unpack = |i: usize,
                  d: &Descriptor,
                  blob: &mut dyn FnMut() -> std::io::Result<Box<dyn Read + Send>>|
     -> Result<(), Error> {
        let Some(snapshots) = snapshots else {
            return Ok(());
        };
        let (chain, diff) = &chains[i];
        if snapshots.path(chain).exists() {
            return Ok(());
        }
        let reader =
            blob().map_err(|e| client.target.io(format!("opening layer {}", d.digest), e))?;
        // Decompressed here, so the size of its files (what Docker counts) is known at
        // the end.
        let mut tar = crate::layer::ContentSizeReader::new(
            decompressed(reader)
                .map_err(|e| client.target.io(format!("reading layer {}", d.digest), e))?,
        );
        snapshots
            .ensure_from_reader(chain, diff, &mut tar)
            .map_err(|e| Error::Unpack(client.target.reference.clone(), e))?;
        // (Not read: another pull made the snapshot meanwhile, and records its size.)
        if tar.size.bytes() > 0 {
            sizes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((diff.clone(), tar.size.total()));
        }
        Ok(())
    };
    let fetched = run_parallel(&layers, options.parallel, |(i, d)| {
        if local.has_blob(&d.digest) {
            unpack(*i, d, &mut || local.open_blob_at(&d.digest, 0))?;
            observer.event(Event::Done {
                digest: &d.digest,
                status: "Already exists",
            });
            return Ok(None);
        }
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
        let path = blob::download(&client, repo, d, &staging, &scopes, &advance)?;
        unpack(*i, d, &mut || match std::fs::File::open(&path) {
            Ok(f) => Ok(Box::new(f) as Box<dyn Read + Send>),
            // A concurrent pull of the same blob committed it into the store already.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => local.open_blob_at(&d.digest, 0),
            Err(e) => Err(e),
        })?;
        observer.event(Event::Done {
            digest: &d.digest,
            status: "Pull complete",
        });
        Ok(Some((d.digest.clone(), path)))
    })?;
    staged.extend(fetched.into_iter().flatten());
    // Through an index, the name's repo digest is the index's, as Docker records it.
    let repo_digest = top.is_index().then_some(&top.digest);
    local.commit(&staged, &raw, &name, repo_digest)?;
    for (diff_id, size) in sizes.into_inner().unwrap_or_else(|p| p.into_inner()) {
        local.record_layer_size(&diff_id, size);
    }
    let mut all: Vec<Digest> = vec![image.config.digest.clone()];
    all.extend(image.layers.iter().map(|d| d.digest.clone()));
    sources.record(&all, &reference.registry, repo);
    Ok(PullReport {
        name,
        repo_digest: top.digest,
        manifest_digest: raw.digest,
        config: image.config.digest,
        layers: image.layers,
        fetched: staged.into_iter().map(|(d, _)| d).collect(),
    })
}

/// How long a staged blob of a failed pull is kept for a retry to reuse.
const STAGING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes staged blobs (whole or partial) that no pull touched for `max_age`: what failed
/// pulls left and nobody retried. Lock files stay: removing one could let two pulls
/// write the same blob at once.
fn prune_staging(dir: &std::path::Path, max_age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".lock") {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A layer blob as a plain tar stream: gunzipped if it starts with gzip's magic.
fn decompressed(mut r: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match r.read(&mut magic[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let head = std::io::Cursor::new(magic[..got].to_vec());
    let whole = head.chain(r);
    if got == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            std::io::BufReader::with_capacity(256 << 10, whole),
        )))
    } else {
        Ok(Box::new(whole))
    }
}

/// Reads a whole (small) blob.
fn read_all(r: std::io::Result<Box<dyn Read + Send>>) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r?.read_to_end(&mut v)?;
    Ok(v)
}

/// The (chain id, diff id) of each layer, from the image config's `rootfs.diff_ids`.
fn chain_ids_of(
    client: &Client,
    config: &[u8],
    layers: usize,
) -> Result<Vec<(Digest, Digest)>, Error> {
    #[derive(serde::Deserialize)]
    struct Config {
        rootfs: RootFs,
    }
    #[derive(serde::Deserialize)]
    struct RootFs {
        diff_ids: Vec<Digest>,
    }
    let bad = |detail: String| Error::BadManifest {
        reference: client.target.reference.clone(),
        registry: client.target.registry.clone(),
        detail,
    };
    let c: Config =
        serde_json::from_slice(config).map_err(|e| bad(format!("image config: {e}")))?;
    if c.rootfs.diff_ids.len() != layers {
        return Err(bad(format!(
            "the manifest has {layers} layers but the config {} diff ids",
            c.rootfs.diff_ids.len()
        )));
    }
    let chains = chain_ids(&c.rootfs.diff_ids);
    Ok(chains.into_iter().zip(c.rootfs.diff_ids).collect())
}
