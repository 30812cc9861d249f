//! Manifests as the registry serves them: Docker v2 schema 2 and OCI image manifests,
//! Docker manifest lists and OCI indexes, and the choice of a platform in a list.

use std::fmt;

use ureq::http::Method;

use super::Error;
use super::client::{Client, Payload, Req, SMALL_BODY_LIMIT};
use crate::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// What a pull accepts, image manifests and lists alike.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A content descriptor: what a manifest says about a blob or another manifest.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// An image manifest (Docker v2 schema 2 or OCI): a config and layers, bottom first.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// A manifest list or OCI index: one manifest per platform.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An OS and CPU architecture (`linux/amd64`, `linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of this machine, with Go's (and so Docker's) architecture names.
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "x86" => ("386", None),
            "arm" => ("arm", Some("v7")),
            "powerpc64" => ("ppc64le", None),
            other => (other, None),
        };
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: variant.map(str::to_string),
        }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform, Error> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || Error::Config(format!("--platform {s:?}: expected os/arch[/variant]"));
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(bad()),
        }
    }

    /// Whether an entry of a list with platform `other` is what we asked for: os and
    /// architecture equal, and the variant too when we name one (arm64's is `v8` if unset).
    pub fn matches(&self, other: &Platform) -> bool {
        let norm = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_string()),
            (_, v) => v.map(str::to_string),
        };
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || norm(self) == norm(other))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A manifest as fetched: its bytes (kept exactly, they are what the digest covers).
#[derive(Debug, Clone)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

impl RawManifest {
    /// Whether this is a list (Docker manifest list or OCI index).
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_LIST
    }
}

/// `GET /v2/<repo>/manifests/<tag or digest>`; a manifest asked for by digest is verified.
pub fn fetch(
    client: &Client,
    repo: &str,
    reference: &str,
    scopes: &[String],
) -> Result<RawManifest, Error> {
    let what = format!("GET manifest {repo}:{reference}");
    let mut resp = client.send(
        &Req {
            method: Method::GET,
            url: client.url(&format!("/v2/{repo}/manifests/{reference}")),
            headers: vec![("accept", ACCEPT.into())],
            scopes,
            what: what.clone(),
            body_timeout: None,
        },
        &|| Ok(Payload::Empty),
    )?;
    if resp.status().as_u16() != 200 {
        return Err(client.error_from(resp, &what));
    }
    let header_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(SMALL_BODY_LIMIT)
        .read_to_vec()
        .map_err(|e| Error::Unreachable {
            reference: client.target.reference.clone(),
            registry: client.target.registry.clone(),
            detail: format!("{what}: {}", super::client::transport_detail(&e)),
        })?;
    let digest = Digest::of(&bytes);
    if let Ok(expected) = reference.parse::<Digest>()
        && expected != digest
    {
        return Err(Error::DigestMismatch {
            reference: client.target.reference.clone(),
            registry: client.target.registry.clone(),
            expected,
            actual: digest,
            size: bytes.len() as u64,
            expected_size: bytes.len() as u64,
        });
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(&bytes).map_err(|e| bad(client, e.to_string()))?;
    let media_type = match (probe.media_type, header_type) {
        (Some(t), _) => t,
        (None, Some(t)) if t != "application/json" && t != "text/plain" => t,
        (None, _) if probe.manifests.is_some() => OCI_INDEX.into(),
        (None, _) => OCI_MANIFEST.into(),
    };
    Ok(RawManifest {
        bytes,
        media_type,
        digest,
    })
}

/// `PUT /v2/<repo>/manifests/<tag or digest>`.
pub fn put(
    client: &Client,
    repo: &str,
    reference: &str,
    m: &RawManifest,
    scopes: &[String],
) -> Result<(), Error> {
    let what = format!("PUT manifest {repo}:{reference}");
    let bytes = m.bytes.clone();
    let resp = client.send(
        &Req {
            method: Method::PUT,
            url: client.url(&format!("/v2/{repo}/manifests/{reference}")),
            headers: vec![("content-type", m.media_type.clone())],
            scopes,
            what: what.clone(),
            body_timeout: None,
        },
        &|| Ok(Payload::Bytes(bytes.clone())),
    )?;
    match resp.status().as_u16() {
        200..=299 => Ok(()),
        _ => Err(client.error_from(resp, &what)),
    }
}

fn bad(client: &Client, detail: String) -> Error {
    Error::BadManifest {
        reference: client.target.reference.clone(),
        registry: client.target.registry.clone(),
        detail,
    }
}

/// Parses an image manifest.
pub fn parse_image(client: &Client, m: &RawManifest) -> Result<ImageManifest, Error> {
    if m.media_type != OCI_MANIFEST && m.media_type != DOCKER_MANIFEST {
        return Err(bad(
            client,
            format!("unsupported manifest type {}", m.media_type),
        ));
    }
    let im: ImageManifest =
        serde_json::from_slice(&m.bytes).map_err(|e| bad(client, e.to_string()))?;
    if im.schema_version != 2 {
        return Err(bad(
            client,
            format!("schemaVersion {} is not 2", im.schema_version),
        ));
    }
    Ok(im)
}

/// The entry of a list for `platform`, or an error naming the platforms it has.
pub fn choose(client: &Client, m: &RawManifest, platform: &Platform) -> Result<Descriptor, Error> {
    let index: Index = serde_json::from_slice(&m.bytes).map_err(|e| bad(client, e.to_string()))?;
    let found = index.manifests.iter().find(|d| {
        d.platform.as_ref().is_some_and(|p| platform.matches(p))
            && (d.media_type.is_empty()
                || d.media_type == OCI_MANIFEST
                || d.media_type == DOCKER_MANIFEST)
    });
    match found {
        Some(d) => Ok(d.clone()),
        None => Err(Error::NoPlatform {
            reference: client.target.reference.clone(),
            registry: client.target.registry.clone(),
            platform: platform.to_string(),
            available: index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(Platform::to_string))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parse_and_match() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert!(p.matches(&Platform::parse("linux/arm64/v8").unwrap()));
        assert!(!p.matches(&Platform::parse("linux/amd64").unwrap()));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(!v7.matches(&Platform::parse("linux/arm/v6").unwrap()));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//x").is_err());
        assert_eq!(Platform::host().os, "linux");
    }
}
