//! Blobs: content-addressed files under `blobs/sha256/<hex>`, written atomically (staged
//! in a temporary file, fsync'd, renamed into place) and verified as they are read.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::Digest;
use crate::digest::{HashingWriter, to_hex};

/// A reader that hashes a blob as it is read and fails at its end if the content does not
/// match the expected digest.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Sha256,
    expected: Digest,
    done: bool,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest) -> Self {
        VerifyingReader {
            inner,
            hasher: Sha256::new(),
            expected,
            done: false,
        }
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let actual = to_hex(&std::mem::take(&mut self.hasher).finalize());
            if actual != self.expected.hex() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is corrupt: its content has digest sha256:{actual}",
                        self.expected
                    ),
                ));
            }
            self.done = true;
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A blob written to a staging file, not yet in the store.
#[derive(Debug)]
pub struct Staged {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
    /// The staging file, open: its lock says a live process still means to commit it.
    _held: File,
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Committed blobs were renamed away; anything left is an abandoned stage.
        let _ = fs::remove_file(&self.path);
        crate::fsutil::staging_forget(&self.path);
    }
}

/// Writes a blob into a staging file, hashing it on the way. Dropped unfinished, it
/// removes the file.
pub struct BlobWriter {
    inner: HashingWriter<io::BufWriter<File>>,
    path: TmpPath,
}

/// A path removed on drop unless taken.
struct TmpPath(PathBuf);

impl Drop for TmpPath {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.0);
            crate::fsutil::staging_forget(&self.0);
        }
    }
}

impl BlobWriter {
    /// A new staging file in `tmp_dir` (created if missing).
    pub fn create(tmp_dir: &Path) -> io::Result<BlobWriter> {
        fs::create_dir_all(tmp_dir)?;
        // What killed writers left (a store write is the moment to collect it).
        crate::fsutil::remove_abandoned(tmp_dir, "blob-");
        let mut rnd = [0u8; 8];
        crate::fsutil::random_bytes(&mut rnd);
        let path = tmp_dir.join(format!("blob-{}", to_hex(&rnd)));
        let f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Locked while this writer has it open: no one takes it for abandoned.
        crate::fsutil::hold(&f)?;
        crate::fsutil::staging_add(&path);
        Ok(BlobWriter {
            inner: HashingWriter::new(io::BufWriter::new(f)),
            path: TmpPath(path),
        })
    }

    /// Flushes and fsyncs the staging file.
    pub fn finish(self) -> io::Result<Staged> {
        let BlobWriter { inner, mut path } = self;
        let (digest, size, buf) = inner.finish();
        let path = std::mem::take(&mut path.0);
        let remove = |e: io::Error| {
            let _ = fs::remove_file(&path);
            e
        };
        let f = buf.into_inner().map_err(|e| remove(e.into_error()))?;
        f.sync_all().map_err(remove)?;
        Ok(Staged {
            path,
            digest,
            size,
            _held: f,
        })
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Moves a staged blob to `dest` unless a blob is already there. Returns whether it was
/// added.
pub fn commit(staged: Staged, dest: &Path) -> io::Result<bool> {
    if dest.exists() {
        return Ok(false);
    }
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::rename(&staged.path, dest)?;
    Ok(true)
}

/// fsyncs a directory, so that renames into it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
