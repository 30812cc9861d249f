//! A minimal reference parser, private to the registry until `image::Reference::parse`
//! lands (then this file goes): Docker's normalisation rules, nothing more.

use crate::Digest;
use crate::image::Reference;

use super::Error;

/// Docker Hub's canonical host name in references.
pub const DOCKER_HUB: &str = "docker.io";

/// Parses `busybox`, `redis:7`, `localhost:5000/a/b:1`, `name@sha256:…` into a
/// normalised [`Reference`].
pub fn parse_reference(s: &str) -> Result<Reference, Error> {
    let bad = |why: &str| Error::InvalidReference(s.to_string(), why.to_string());
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let (name, digest) = match s.split_once('@') {
        Some((n, d)) => (
            n,
            Some(d.parse::<Digest>().map_err(|e| bad(&e.to_string()))?),
        ),
        None => (s, None),
    };
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(name[last_slash + i + 1..].to_string()),
        ),
        None => (name, None),
    };
    if let Some(t) = &tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && !t.starts_with(['.', '-']);
        if !ok {
            return Err(bad("invalid tag"));
        }
    }
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    let registry = if registry == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        registry
    };
    if path.is_empty()
        || path.split('/').any(|c| {
            c.is_empty()
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        })
    {
        return Err(bad(
            "repository name must be lowercase letters, digits and separators",
        ));
    }
    let repository = if registry == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    let tag = match (&tag, &digest) {
        (None, None) => Some("latest".to_string()),
        _ => tag,
    };
    Ok(Reference {
        registry,
        repository,
        tag,
        digest,
    })
}

/// The full form of a reference: `docker.io/library/busybox:latest`, `host/a@sha256:…`.
pub fn full_name(r: &Reference) -> String {
    let mut s = format!("{}/{}", r.registry, r.repository);
    if let Some(t) = &r.tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = &r.digest {
        s.push('@');
        s.push_str(&d.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let r = parse_reference("busybox").unwrap();
        assert_eq!(full_name(&r), "docker.io/library/busybox:latest");
        let r = parse_reference("localhost:5000/app:1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:5000", "app")
        );
        assert_eq!(r.tag.as_deref(), Some("1"));
        let r = parse_reference("127.0.0.1:5000/a/b").unwrap();
        assert_eq!(full_name(&r), "127.0.0.1:5000/a/b:latest");
        let d = Digest::of(b"");
        let r = parse_reference(&format!("user/app@{d}")).unwrap();
        assert_eq!(full_name(&r), format!("docker.io/user/app@{d}"));
        assert!(parse_reference("Upper").is_err());
        assert!(parse_reference("a:").is_err());
        assert!(parse_reference("a@sha256:12").is_err());
    }
}
