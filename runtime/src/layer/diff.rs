//! Making layers: a container's overlayfs upper dir as an OCI layer tar (for `commit`),
//! and a whole dir tree as a tar (for `export`). The same tree gives the same bytes, so
//! committing an unchanged container twice gives the same diff id.

use std::io::{self, BufWriter, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use super::lower::Lowers;
use super::write::TreeWriter;
use super::{BUF_SIZE, Error};
use crate::Digest;
use crate::digest::HashingWriter;

/// What writing a layer tar produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffStats {
    /// The sha256 of the uncompressed tar: the layer's diff id.
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    /// Tar entries written (whiteouts and opaque markers included).
    pub entries: u64,
    /// The bytes its files take unpacked: the size Docker shows for a layer.
    pub content_size: u64,
}

/// What writing a gzip'd layer produced: the blob's digest and size (for the manifest)
/// and the uncompressed tar's (for the config's `rootfs.diff_ids`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GzipStats {
    /// The sha256 of the gzip stream: the layer blob's digest.
    pub digest: Digest,
    /// Bytes of the gzip stream.
    pub size: u64,
    pub diff: DiffStats,
}

/// Writes the overlayfs upper dir `upper` as an OCI layer tar to `out`. `lowers` are the
/// layer dirs under it, bottom first (as a container's rootfs lists them); whiteouts
/// of paths that no lower layer has are left out. Fails (naming the path) on a renamed
/// dir or a metadata-only copy-up, whose data is not in `upper`: tug's overlay mounts do
/// not turn those features on.
pub fn write_diff(upper: &Path, lowers: &[PathBuf], out: impl Write) -> Result<DiffStats, Error> {
    let lowers =
        Lowers::open(lowers).map_err(|e| Error::Io("opening the lower layers".into(), e))?;
    let out = BufWriter::with_capacity(BUF_SIZE, out);
    let (stats, out) = write_tar(upper, Some(&lowers), None, HashingWriter::new(out))?;
    finish_buf(out)?;
    Ok(stats)
}

/// As [`write_diff`], gzip-compressed (zlib-rs, default level), hashing the tar and the
/// gzip stream in the same pass.
pub fn write_diff_gzip(
    upper: &Path,
    lowers: &[PathBuf],
    out: impl Write,
) -> Result<GzipStats, Error> {
    write_diff_gzip_clamped(upper, lowers, None, out)
}

/// As [`write_diff_gzip`], with every mtime later than `clamp_mtime` written as
/// `clamp_mtime` (a build with `SOURCE_DATE_EPOCH`: the same tree gives the same bytes
/// whenever it was made).
pub fn write_diff_gzip_clamped(
    upper: &Path,
    lowers: &[PathBuf],
    clamp_mtime: Option<u64>,
    out: impl Write,
) -> Result<GzipStats, Error> {
    let lowers =
        Lowers::open(lowers).map_err(|e| Error::Io("opening the lower layers".into(), e))?;
    let blob = HashingWriter::new(BufWriter::with_capacity(BUF_SIZE, out));
    let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::default());
    let (diff, gz) = write_tar(upper, Some(&lowers), clamp_mtime, HashingWriter::new(gz))?;
    let blob = gz
        .finish()
        .map_err(|e| Error::Io("finishing the gzip stream".into(), e))?;
    let (digest, size, out) = blob.finish();
    finish_buf(out)?;
    Ok(GzipStats { digest, size, diff })
}

/// Writes the whole tree under `dir` as a tar to `out` (for `tug export` of a container's
/// merged rootfs): every entry as it is, whiteouts not interpreted; the overlay xattrs
/// are dropped. The root dir itself has no entry, as in Docker's export.
pub fn write_tree(dir: &Path, out: impl Write) -> Result<DiffStats, Error> {
    let out = BufWriter::with_capacity(BUF_SIZE, out);
    let (stats, out) = write_tar(dir, None, None, HashingWriter::new(out))?;
    finish_buf(out)?;
    Ok(stats)
}

/// Writes the entry `name` of the dir `parent` (not followed) as a tar to `out`, under the
/// path `as_name`, with a dir's whole content below it (for `tug cp`); with `owner`,
/// every entry gets that uid and gid instead of its own. Returns the entries written.
pub(crate) fn write_entry(
    parent: BorrowedFd<'_>,
    name: &[u8],
    as_name: &[u8],
    owner: Option<(u32, u32)>,
    out: impl Write,
) -> Result<u64, Error> {
    let out = BufWriter::with_capacity(BUF_SIZE, out);
    let mut w = TreeWriter::new(out, None, String::from_utf8_lossy(as_name).into_owned());
    w.owner = owner;
    let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Error::Io(w.root_name.clone(), e.into()))?;
    w.entry(parent, name, &st, &mut as_name.to_vec())?;
    let entries = w.entries;
    let out = w
        .tar
        .into_inner()
        .map_err(|e| Error::Io("finishing the tar stream".into(), e))?;
    finish_buf(out)?;
    Ok(entries)
}

/// Writes the paths of `changes` (a copied rootfs compared with its layers) as a layer
/// tar: each added or changed path as it is under `root` (a dir without its content:
/// the list names every path), each deleted one as a whiteout. For the `vfs` driver,
/// whose containers have no upper dir. `changes` must be in walk order (parents first),
/// as `copy_changes` gives them.
pub fn write_changes(
    root: &Path,
    changes: &[super::Change],
    out: impl Write,
) -> Result<DiffStats, Error> {
    let out = BufWriter::with_capacity(BUF_SIZE, out);
    let (stats, out) = write_list(root, changes, HashingWriter::new(out))?;
    finish_buf(out)?;
    Ok(stats)
}

/// As [`write_changes`], gzip-compressed, hashing both streams in the same pass.
pub fn write_changes_gzip(
    root: &Path,
    changes: &[super::Change],
    out: impl Write,
) -> Result<GzipStats, Error> {
    let blob = HashingWriter::new(BufWriter::with_capacity(BUF_SIZE, out));
    let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::default());
    let (diff, gz) = write_list(root, changes, HashingWriter::new(gz))?;
    let blob = gz
        .finish()
        .map_err(|e| Error::Io("finishing the gzip stream".into(), e))?;
    let (digest, size, out) = blob.finish();
    finish_buf(out)?;
    Ok(GzipStats { digest, size, diff })
}

fn write_list<W: Write>(
    root: &Path,
    changes: &[super::Change],
    out: HashingWriter<W>,
) -> Result<(DiffStats, W), Error> {
    use super::ChangeKind;
    use std::os::unix::ffi::OsStrExt;
    let fd = open_root(root)?;
    let mut w = TreeWriter::new(out, None, root.display().to_string());
    w.recurse = false;
    for c in changes {
        let bytes = c.path.as_os_str().as_bytes();
        let rel = bytes.strip_prefix(b"/").unwrap_or(bytes);
        if rel.is_empty() || rel.split(|b| *b == b'/').any(|p| p == b".." || p == b".") {
            return Err(Error::Rejected {
                entry: c.path.display().to_string(),
                why: "a change must name a path inside the rootfs".into(),
            });
        }
        w.one(fd.as_fd(), rel, c.kind == ChangeKind::Deleted)?;
    }
    finish_tar(w)
}

fn open_root(root: &Path) -> Result<rustix::fd::OwnedFd, Error> {
    rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Io(root.display().to_string(), e.into()))
}

fn finish_tar<W: Write>(w: TreeWriter<'_, HashingWriter<W>>) -> Result<(DiffStats, W), Error> {
    let (entries, content_size) = (w.entries, w.content);
    let hashing = w
        .tar
        .into_inner()
        .map_err(|e| Error::Io("finishing the tar stream".into(), e))?;
    let (diff_id, tar_size, inner) = hashing.finish();
    Ok((
        DiffStats {
            diff_id,
            tar_size,
            entries,
            content_size,
        },
        inner,
    ))
}

/// Walks `root` into a tar written through `out`; returns the stats and the writer
/// under the hashing one.
fn write_tar<W: Write>(
    root: &Path,
    lowers: Option<&Lowers>,
    clamp_mtime: Option<u64>,
    out: HashingWriter<W>,
) -> Result<(DiffStats, W), Error> {
    let fd = open_root(root)?;
    let mut w = TreeWriter::new(out, lowers, root.display().to_string());
    w.clamp_mtime = clamp_mtime;
    w.dir(fd.as_fd(), &mut Vec::new())?;
    finish_tar(w)
}

fn finish_buf<W: Write>(out: BufWriter<W>) -> Result<(), Error> {
    let mut inner = out
        .into_inner()
        .map_err(|e| Error::Io("writing the layer".into(), e.into_error()))?;
    inner
        .flush()
        .map_err(|e: io::Error| Error::Io("writing the layer".into(), e))
}
