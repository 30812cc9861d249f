//! References come from the image module ([`Reference::parse`]); these wrappers give its
//! errors the registry's type.

use crate::image::Reference;

use super::Error;

/// Parses and normalises a reference, as [`Reference::parse`].
pub fn parse_reference(s: &str) -> Result<Reference, Error> {
    Reference::parse(s).map_err(|e| match e {
        crate::image::Error::InvalidReference(r, why) => Error::InvalidReference(r, why),
        other => Error::InvalidReference(s.to_string(), crate::report(&other)),
    })
}

/// The full form of a reference: `docker.io/library/busybox:latest`, `host/a@sha256:…`.
pub fn full_name(r: &Reference) -> String {
    r.full()
}
