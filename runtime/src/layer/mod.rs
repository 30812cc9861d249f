//! Applying a tar layer (plain or gzip) into a directory, safely: no entry can write
//! outside the directory (through `..`, absolute paths, symlinks, symlinked parents or
//! hardlinks); OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) become overlayfs whiteouts
//! (a 0/0 character device, the `trusted.overlay.opaque` xattr); permissions, ownership,
//! setuid bits, xattrs and mtimes are kept.
//!
//! Layers are untrusted input. What is refused, and why:
//! - a path with a `..` component, or a NUL byte: `..` is the classic way out of the
//!   root, and no layer made by a real tool needs it;
//! - a path whose parent dir resolves outside the root through a symlink (an absolute
//!   symlink, or a relative one climbing out with `..`): parents are opened with
//!   `openat2(RESOLVE_BENEATH)`, so such a walk fails instead of writing outside; relative
//!   symlinks that stay inside the root are followed as Docker would;
//! - a hardlink whose target is not an entry of this layer, goes through a symlink, or is
//!   a dir: a hardlink to a host file would expose or alter it;
//! - a whiteout of `.` or `..` (`.wh..`, `.wh...`) or with an empty name: it would delete
//!   the dir itself or its parent;
//! - a non-dir entry for the root itself, and entry types other than files, dirs,
//!   symlinks, hardlinks, devices and fifos;
//! - a stream that is not a whole tar (truncated, bad header checksum, bad gzip), or a
//!   zstd layer (not supported yet).
//!
//! Absolute paths (`/etc/passwd`) are taken relative to the root, as Docker does.
//! Device nodes are created as the tar says (as Docker does): a container reaches them
//! only as far as its device cgroup allows. aufs bookkeeping (`.wh..wh.plnk/` and other
//! `.wh..wh.*` names) is skipped.
//! `trusted.overlay.*` xattrs in the tar are dropped: overlayfs would act on them
//! (redirects, metacopy), and whiteouts have their own OCI form. The final component of an
//! entry is never followed: an entry replaces whatever is there, of any kind (a file
//! over a dir removes the dir), except that a dir over a dir keeps the content.
//! PAX records holding a newline (an xattr value may) are re-encoded by `pax.rs` before
//! the tar crate, which splits records on newlines, reads them.
//!
//! `decode.rs` turns the byte stream into the hashed, uncompressed tar (on a second
//! thread for [`apply_threaded`](crate::layer::apply_threaded)); `apply.rs` walks its entries; `entry.rs` writes one.

mod apply;
mod change;
mod content_size;
mod decode;
mod diff;
mod entry;
mod lower;
mod path;
mod pax;
mod resolve;
mod write;

use std::io::{self, Read};
use std::path::Path;

use apply::TarKind;

pub use change::{Change, ChangeKind};
pub use content_size::{ContentSize, ContentSizeReader};
pub(crate) use diff::write_entry;
pub use diff::{
    DiffStats, GzipStats, write_changes, write_changes_gzip, write_diff, write_diff_gzip,
    write_diff_gzip_clamped, write_tree,
};
pub(crate) use lower::{Lowers, is_opaque, open_dir};
pub(crate) use resolve::{clear_dir, list_dir, proc_path, remove_at};
pub(crate) use write::{read_kept_xattrs, read_xattrs};

/// The read and write buffer size: large, so big files take few syscalls.
const BUF_SIZE: usize = 256 * 1024;

/// An error of the `layer` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    /// A hostile or unusable entry, refused before it could write anything.
    #[error("layer entry {entry:?} refused: {why}")]
    Rejected { entry: String, why: String },
    /// The stream is not a well-formed (gzip'd) tar: truncated, bad checksum, bad gzip,
    /// or its blob failed verification.
    #[error("reading the layer stream ({at})")]
    Read {
        at: String,
        #[source]
        source: io::Error,
    },
    /// Writing an entry to disk failed.
    #[error("writing layer entry {entry:?}")]
    Write {
        entry: String,
        #[source]
        source: io::Error,
    },
}

/// What applying a layer did.
#[derive(Debug, Clone, Default)]
pub struct ApplyStats {
    /// The digest of the uncompressed tar stream (the layer's diff id).
    pub diff_id: Option<crate::Digest>,
    /// Bytes of the uncompressed tar stream.
    pub tar_size: u64,
    /// Number of entries applied.
    pub entries: u64,
}

/// Applies a layer tar (plain or gzip, detected) into `dest`, which must exist. The
/// stream is read to its end, so `diff_id` covers all of it. On error, `dest` may hold
/// part of the layer (the caller applies into a temporary dir and removes it), but
/// nothing outside `dest` was touched.
pub fn apply(reader: impl Read, dest: &Path) -> Result<ApplyStats, Error> {
    let d = decode::hashed(reader, |s| apply::apply_stream(s, dest, &TarKind::LAYER))?;
    Ok(ApplyStats::from(d))
}

/// Extracts a plain tar (not a layer: `.wh.` names are ordinary files) into `dest`, with
/// the same refusals as [`apply`](fn@apply); with `owner`, every entry gets that uid and gid
/// instead of the tar's (for `tug cp`).
pub fn extract(
    reader: impl Read,
    dest: &Path,
    owner: Option<(u32, u32)>,
) -> Result<ApplyStats, Error> {
    let mode = TarKind {
        whiteouts: false,
        owner,
    };
    let d = decode::hashed(reader, |s| apply::apply_stream(s, dest, &mode))?;
    Ok(ApplyStats::from(d))
}

/// As [`apply`](fn@apply), with the decompression and hashing on a second thread, overlapped with
/// the writes (a gzip layer unpacks faster on a machine with a spare core).
pub fn apply_threaded(reader: impl Read + Send, dest: &Path) -> Result<ApplyStats, Error> {
    let d = decode::threaded(reader, |s| apply::apply_stream(s, dest, &TarKind::LAYER))?;
    Ok(ApplyStats::from(d))
}

impl From<decode::Decoded<u64>> for ApplyStats {
    fn from(d: decode::Decoded<u64>) -> ApplyStats {
        ApplyStats {
            diff_id: Some(d.diff_id),
            tar_size: d.tar_size,
            entries: d.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives one byte per read, as a slow pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.is_empty()) {
                (Some((b, rest)), false) => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn extract_takes_whiteout_names_literally_and_sets_the_owner() {
        use std::os::unix::fs::MetadataExt;
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o600);
        h.set_uid(7);
        h.set_gid(8);
        h.set_mtime(5);
        b.append_data(&mut h, "d/.wh.x", &b"hi"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/x"), "kept").unwrap();
        extract(&tar[..], dir.path(), Some((0, 0))).unwrap();
        let m = std::fs::metadata(dir.path().join("d/.wh.x")).unwrap();
        assert!(m.is_file());
        assert_eq!((m.uid(), m.gid(), m.mtime()), (0, 0, 5));
        assert_eq!(std::fs::read(dir.path().join("d/x")).unwrap(), b"kept");
    }

    #[test]
    fn gzip_is_detected_from_a_trickling_reader() {
        use std::io::Write;
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "f", &b"hi"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let stats = apply(Trickle(&gz), dir.path()).unwrap();
        assert_eq!(stats.diff_id, Some(crate::Digest::of(&tar)));
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"hi");
    }
}
