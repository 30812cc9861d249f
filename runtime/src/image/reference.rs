//! Image references, normalised as Docker does: `busybox` is
//! `docker.io/library/busybox:latest`; `localhost:5000/app:1`; `app@sha256:...`.
//!
//! The grammar is that of Docker's distribution `reference` package: an optional registry
//! (a first component with a `.` or a `:`, or `localhost`), path components of lowercase
//! letters and digits joined by `.`, `_`, `__` or dashes, an optional `:tag` and an
//! optional `@sha256:<hex>`.

use std::fmt;

use crate::Digest;

use super::Error;

/// The registry of names without one.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag of names without a tag or a digest.
pub const DEFAULT_TAG: &str = "latest";
/// The longest repository name (registry and path) Docker accepts.
const NAME_MAX: usize = 255;

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
        let bad = |why: &str| Error::InvalidReference(s.to_string(), why.to_string());
        if s.is_empty() {
            return Err(bad("empty reference"));
        }
        // `name[:tag][@digest]`: the digest first, since it holds a colon.
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = d
                    .parse::<Digest>()
                    .map_err(|_| bad("the digest must be sha256: and 64 lowercase hex digits"))?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        // A tag is after the last colon that follows the last slash (a colon before a
        // slash is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(&rest[i + 1..]))
            }
            None => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|why| bad(&why.message))?;
        }
        if name.is_empty() {
            return Err(bad("missing repository name"));
        }
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) && tag.is_none() {
            return Err(bad(
                "cannot specify 64-byte hexadecimal strings as a repository name",
            ));
        }
        let (registry, path) = split_registry(name);
        if let Some(r) = registry {
            check_registry(r).map_err(|why| bad(&why.message))?;
        }
        check_path(path).map_err(|why| bad(&why.message))?;
        if name.len() > NAME_MAX {
            return Err(bad(&format!(
                "repository name must not be longer than {NAME_MAX} characters"
            )));
        }
        let mut registry = registry.unwrap_or(DEFAULT_REGISTRY).to_string();
        if registry == "index.docker.io" {
            registry = DEFAULT_REGISTRY.to_string();
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The repository name as Docker shows it: `busybox`, `user/app`,
    /// `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            self.full_name()
        }
    }

    /// The whole reference in full: `docker.io/library/busybox:latest`. This is the form
    /// the store keeps in its index.
    pub fn full(&self) -> String {
        self.render(self.full_name())
    }

    /// The same reference without a digest (what a tag names).
    pub fn without_digest(&self) -> Reference {
        Reference {
            digest: None,
            ..self.clone()
        }
    }

    fn render(&self, mut s: String) -> String {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

/// The familiar form, as Docker prints it: `busybox:latest`, `localhost:5000/app:1`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(self.familiar_name()))
    }
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Reference, Error> {
        Reference::parse(s)
    }
}

/// Splits off the registry: the first component when it has a `.` or `:`, is
/// `localhost`, or has an uppercase letter (which a path component cannot have).
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), crate::InvalidValue> {
    let ok_first = tag
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    let ok_rest = tag
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if !ok_first || !ok_rest || tag.len() > 128 {
        return Err(crate::InvalidValue::new(
            tag,
            format!(
                "invalid tag {tag:?}: a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
            ),
        ));
    }
    Ok(())
}

/// A registry: host names joined by dots (or a bracketed IPv6 address), an optional
/// `:port`.
fn check_registry(r: &str) -> Result<(), crate::InvalidValue> {
    let err = || crate::InvalidValue::new(r, format!("invalid registry {r:?}"));
    let (host, port) = if let Some(v6) = r.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(err)?;
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(err());
        }
        match after {
            "" => (None, None),
            p => (None, Some(p.strip_prefix(':').ok_or_else(err)?)),
        }
    } else {
        match r.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(r), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err(err());
        }
    }
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(crate::InvalidValue::new(
            r,
            format!("invalid port {p:?} in registry {r:?}"),
        ));
    }
    Ok(())
}

/// The path: components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
fn check_path(path: &str) -> Result<(), crate::InvalidValue> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(crate::InvalidValue::new(
            path,
            format!("repository name ({path}) must be lowercase"),
        ));
    }
    for c in path.split('/') {
        if !component_ok(c) {
            return Err(crate::InvalidValue::new(
                path,
                format!(
                    "invalid repository name component {c:?}: use lowercase letters and digits, joined by '.', '_', '__' or '-'"
                ),
            ));
        }
    }
    Ok(())
}

fn component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn show(input: &str) -> String {
        match Reference::parse(input) {
            Ok(r) => format!("{input:<60} => {}  (shown as {r})", r.full()),
            Err(e) => format!("{input:<60} => error: {e}"),
        }
    }

    #[test]
    fn parse_results_match_docker() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let inputs = [
            "busybox".to_string(),
            "busybox:1.36".into(),
            "library/busybox".into(),
            "docker.io/busybox".into(),
            "index.docker.io/library/busybox:latest".into(),
            "user/app".into(),
            "localhost/app".into(),
            "localhost:5000/app:1".into(),
            "registry.example.com:443/a/b/c:tag".into(),
            "Registry.Example.com/a".into(),
            "[::1]:5000/app:v2".into(),
            format!("busybox@sha256:{hex}"),
            format!("busybox:1.36@sha256:{hex}"),
            "my_app__x.y-z---w:v1.0-rc_1".into(),
            String::new(),
            "BusyBox".into(),
            "user/App:1".into(),
            "busybox:".into(),
            "busybox:-tag".into(),
            "busybox@sha256:abc".into(),
            "busybox@md5:abc".into(),
            "a//b".into(),
            "a/b/".into(),
            "-app".into(),
            "app-".into(),
            "a...b".into(),
            "a___b".into(),
            "host:port/app".into(),
            ":tag".into(),
            hex.into(),
            format!("a:{}", "t".repeat(129)),
        ];
        let text: Vec<String> = inputs.iter().map(|i| show(i)).collect();
        insta::assert_snapshot!(text.join("\n"));
    }

    #[test]
    fn familiar_forms() {
        let r = Reference::parse("docker.io/library/busybox:latest").unwrap();
        assert_eq!(r.to_string(), "busybox:latest");
        assert_eq!(r.familiar_name(), "busybox");
        let r = Reference::parse("docker.io/user/app:1").unwrap();
        assert_eq!(r.to_string(), "user/app:1");
        let r = Reference::parse("docker.io/library/a/b").unwrap();
        assert_eq!(r.to_string(), "library/a/b:latest");
        let r = Reference::parse("localhost:5000/app:1").unwrap();
        assert_eq!(r.to_string(), "localhost:5000/app:1");
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,5}((_|__|-{1,2})[a-z0-9]{1,5}){0,2}"
    }

    proptest! {
        #[test]
        fn full_and_familiar_forms_round_trip(
            registry in proptest::option::of("[a-z0-9]{1,6}\\.[a-z]{2,4}(:[0-9]{1,5})?"),
            path in proptest::collection::vec(component(), 1..4),
            tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            digest in proptest::option::of("[0-9a-f]{64}"),
        ) {
            let mut s = path.join("/");
            if let Some(r) = &registry {
                s = format!("{r}/{s}");
            }
            if let Some(t) = &tag {
                s = format!("{s}:{t}");
            }
            if let Some(d) = &digest {
                s = format!("{s}@sha256:{d}");
            }
            let r = Reference::parse(&s).unwrap();
            prop_assert_eq!(Reference::parse(&r.full()).unwrap(), r.clone());
            prop_assert_eq!(Reference::parse(&r.to_string()).unwrap(), r.clone());
            prop_assert_eq!(r.tag.is_none(), tag.is_none() && digest.is_some());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = Reference::parse(&s);
        }
    }
}
