//! Image archives for `save` and `load`: docker-archive (`manifest.json`, one config and
//! one uncompressed layer tar per layer, `repositories`: what `docker load` reads; as
//! Docker 25+ writes it, also an OCI layout with `index.json` and `oci-layout`) and
//! oci-archive (an OCI image layout in a tar, the layers as stored: what `skopeo` reads
//! as `oci-archive:`). `load` reads both, and the docker-archives of older Dockers
//! (`<diff id>/layer.tar`).

mod files;
mod load;
mod save;

pub use load::Loaded;
pub(crate) use load::load;
pub(crate) use save::save;

use super::Error;

/// The format of an archive `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// Docker's `docker save` format.
    Docker,
    /// An OCI image layout in a tar.
    Oci,
}

impl std::str::FromStr for ArchiveFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "docker-archive" | "docker" => Ok(ArchiveFormat::Docker),
            "oci-archive" | "oci" => Ok(ArchiveFormat::Oci),
            other => Err(Error::Invalid(format!(
                "unknown archive format {other:?}: use docker-archive or oci-archive"
            ))),
        }
    }
}

/// A tar header for a regular file of `size` bytes, the same on every run.
fn file_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// A tar header for a directory.
fn dir_header() -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    h.set_mtime(0);
    h
}
