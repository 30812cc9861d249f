//! The files of an archive being loaded: each regular file staged as a blob (hashed as
//! it is written), links resolved inside the archive, and no path allowed outside it.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path};

use crate::Digest;

use super::super::blobs::{BlobWriter, Staged};
use super::super::import::{decompressed, detect};
use super::super::{Error, Store};
use super::load::bad;

/// The files of an archive, staged as blobs, by their path in the archive.
pub(super) struct Files {
    files: HashMap<String, Staged>,
    links: HashMap<String, String>,
}

impl Files {
    /// Reads the whole archive into staging files.
    pub(super) fn extract(store: &Store, input: impl Read + Send) -> Result<Files, Error> {
        let mut reader = BufReader::with_capacity(128 * 1024, input);
        let c = detect(&mut reader, "the archive")?;
        let mut archive = tar::Archive::new(decompressed(reader, c));
        let mut files = Files {
            files: HashMap::new(),
            links: HashMap::new(),
        };
        let entries = archive.entries().map_err(bad)?;
        for entry in entries {
            let mut entry = entry.map_err(bad)?;
            let raw = entry.path().map_err(bad)?.into_owned();
            let name = clean(&raw).ok_or_else(|| {
                bad(format!(
                    "entry {:?} points outside the archive",
                    raw.display()
                ))
            })?;
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let io_err =
                        |e: io::Error| Error::Io(format!("cannot read {name} from the archive"), e);
                    let mut w = BlobWriter::create(&store.tmp_dir()).map_err(io_err)?;
                    io::copy(&mut entry, &mut w).map_err(io_err)?;
                    let staged = w.finish().map_err(io_err)?;
                    files.files.insert(name, staged);
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name()
                        .map_err(bad)?
                        .ok_or_else(|| bad(format!("link {name} has no target")))?;
                    let joined = if entry.header().entry_type() == tar::EntryType::Symlink {
                        Path::new(&name)
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(&target)
                    } else {
                        target.into_owned()
                    };
                    let target = clean(&joined)
                        .ok_or_else(|| bad(format!("link {name} points outside the archive")))?;
                    files.links.insert(name, target);
                }
                _ => {}
            }
        }
        Ok(files)
    }

    /// The staged file at `name`, following links.
    pub(super) fn get(&self, name: &str) -> Result<&Staged, Error> {
        let mut name = clean(Path::new(name)).ok_or_else(|| bad(format!("bad path {name:?}")))?;
        for _ in 0..16 {
            if let Some(f) = self.files.get(&name) {
                return Ok(f);
            }
            match self.links.get(&name) {
                Some(t) => name = t.clone(),
                None => break,
            }
        }
        Err(bad(format!("{name} is missing")))
    }

    pub(super) fn read(&self, name: &str) -> Result<Vec<u8>, Error> {
        let f = self.get(name)?;
        std::fs::read(&f.path).map_err(|e| Error::Io(format!("cannot read {name}"), e))
    }

    /// The blob `digest` of an OCI layout, checked against its name.
    pub(super) fn blob(&self, digest: &Digest) -> Result<&Staged, Error> {
        let f = self.get(&format!("blobs/sha256/{}", digest.hex()))?;
        if f.digest != *digest {
            return Err(bad(format!(
                "blob {digest} is corrupt: its content is {}",
                f.digest
            )));
        }
        Ok(f)
    }

    /// Takes the staged file whose digest is `digest` out of the set.
    pub(super) fn take(&mut self, digest: &Digest) -> Option<Staged> {
        let key = self
            .files
            .iter()
            .find(|(_, f)| f.digest == *digest)
            .map(|(k, _)| k.clone())?;
        self.files.remove(&key)
    }
}

/// A relative path without `.`, `..` escapes or a root; `None` if it would escape.
pub(super) fn clean(p: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

impl Files {
    pub(super) fn read_blob(&self, f: &Staged) -> Result<Vec<u8>, Error> {
        std::fs::read(&f.path).map_err(|e| Error::Io(format!("cannot read blob {}", f.digest), e))
    }
}
