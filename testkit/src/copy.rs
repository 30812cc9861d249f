//! Files put into a container before it starts ([`crate::ImageExt::with_copy_to`]): from
//! bytes or from a host file, as a tar the engine copies in.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where a copied file goes in the container, and its mode.
#[derive(Debug, Clone)]
pub struct CopyTargetOptions {
    target: String,
    mode: Option<u32>,
}

impl CopyTargetOptions {
    /// The absolute path `target` in the container.
    pub fn new(target: impl Into<String>) -> CopyTargetOptions {
        CopyTargetOptions {
            target: target.into(),
            mode: None,
        }
    }

    /// The file's mode (default: 0644 for bytes, the host file's for a file).
    pub fn with_mode(mut self, mode: u32) -> CopyTargetOptions {
        self.mode = Some(mode);
        self
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn mode(&self) -> Option<u32> {
        self.mode
    }
}

impl<T: Into<String>> From<T> for CopyTargetOptions {
    fn from(target: T) -> CopyTargetOptions {
        CopyTargetOptions::new(target)
    }
}

/// What a copied file holds.
#[derive(Debug, Clone)]
pub enum CopyDataSource {
    /// A host file, read at start.
    File(PathBuf),
    Data(Vec<u8>),
}

impl From<&Path> for CopyDataSource {
    fn from(p: &Path) -> CopyDataSource {
        CopyDataSource::File(p.to_path_buf())
    }
}

impl From<PathBuf> for CopyDataSource {
    fn from(p: PathBuf) -> CopyDataSource {
        CopyDataSource::File(p)
    }
}

impl From<Vec<u8>> for CopyDataSource {
    fn from(d: Vec<u8>) -> CopyDataSource {
        CopyDataSource::Data(d)
    }
}

impl From<&[u8]> for CopyDataSource {
    fn from(d: &[u8]) -> CopyDataSource {
        CopyDataSource::Data(d.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for CopyDataSource {
    fn from(d: &[u8; N]) -> CopyDataSource {
        CopyDataSource::Data(d.to_vec())
    }
}

/// One file to copy in.
#[derive(Debug, Clone)]
pub struct CopyToContainer {
    target: CopyTargetOptions,
    source: CopyDataSource,
}

impl CopyToContainer {
    pub fn new(
        source: impl Into<CopyDataSource>,
        target: impl Into<CopyTargetOptions>,
    ) -> CopyToContainer {
        CopyToContainer {
            target: target.into(),
            source: source.into(),
        }
    }

    /// The bytes and mode of the file.
    fn contents(&self) -> Result<(Vec<u8>, u32)> {
        match &self.source {
            CopyDataSource::Data(d) => Ok((d.clone(), self.target.mode.unwrap_or(0o644))),
            CopyDataSource::File(p) => {
                use std::os::unix::fs::PermissionsExt;
                let io = |e| Error::Io(format!("with_copy_to: reading {}", p.display()), e);
                let meta = std::fs::metadata(p).map_err(io)?;
                if !meta.is_file() {
                    return Err(Error::Invalid(format!(
                        "with_copy_to: {} is not a regular file",
                        p.display()
                    )));
                }
                let mode = self
                    .target
                    .mode
                    .unwrap_or(meta.permissions().mode() & 0o7777);
                Ok((std::fs::read(p).map_err(io)?, mode))
            }
        }
    }
}

/// A tar of `copies` relative to `/`, with each file's parent dirs (0755).
pub(crate) fn files_tar(copies: &[CopyToContainer]) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    let io = |e| Error::Io("making the tar of files to copy".into(), e);
    let header = |kind, mode, size| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    for f in copies {
        let path = f.target.target();
        let rel = path.strip_prefix('/').ok_or_else(|| {
            Error::Invalid(format!("with_copy_to({path:?}): the path must be absolute"))
        })?;
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(Error::Invalid(format!(
                "with_copy_to({path:?}): not a file path"
            )));
        }
        for i in 1..parts.len() {
            let dir = parts[..i].join("/");
            if !dirs.contains(&dir) {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                b.append_data(&mut h, format!("{dir}/"), std::io::empty())
                    .map_err(io)?;
                dirs.push(dir);
            }
        }
        let (data, mode) = f.contents()?;
        let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
        b.append_data(&mut h, parts.join("/"), data.as_slice())
            .map_err(io)?;
    }
    b.into_inner().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(path: &str) -> CopyToContainer {
        CopyToContainer::new(b"hi".to_vec(), path)
    }

    #[test]
    fn copies_become_a_tar_with_parent_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("f");
        std::fs::write(&host, "from a file").unwrap();
        let from_file = CopyToContainer::new(
            host.as_path(),
            CopyTargetOptions::new("/a/e").with_mode(0o600),
        );
        let tar = files_tar(&[copy("/a/b/c.txt"), copy("/a/d.txt"), from_file]).unwrap();
        let mut ar = tar::Archive::new(tar.as_slice());
        let names: Vec<(String, u32)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("a/".into(), 0o755),
                ("a/b/".into(), 0o755),
                ("a/b/c.txt".into(), 0o644),
                ("a/d.txt".into(), 0o644),
                ("a/e".into(), 0o600)
            ]
        );
    }

    #[test]
    fn relative_and_dotted_paths_and_missing_files_are_refused() {
        assert!(files_tar(&[copy("rel")]).is_err());
        assert!(files_tar(&[copy("/a/../etc/x")]).is_err());
        assert!(files_tar(&[copy("/")]).is_err());
        let missing = CopyToContainer::new(Path::new("/nonexistent/file"), "/x");
        assert!(files_tar(&[missing]).is_err());
    }
}
