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

mod diff;
mod entry;
mod lower;
mod path;
mod pax;
mod resolve;
mod write;

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::path::Path;

use rustix::fs::{FileType, Timespec};
use tar::EntryType;

use crate::digest::HashingReader;
use entry::{Meta, ReadOutcome, WriteError};
use path::{EntryPath, Target};
use resolve::Resolver;

pub(crate) use diff::write_entry;
pub use diff::{
    DiffStats, GzipStats, write_changes, write_changes_gzip, write_diff, write_diff_gzip,
    write_tree,
};
pub(crate) use lower::{Lowers, is_opaque};
pub(crate) use resolve::{clear_dir, list_dir, proc_path, remove_at};
pub(crate) use write::read_kept_xattrs;

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
    let mut hashing = HashingReader::new(decoded(reader)?);
    let entries = apply_stream(&mut hashing, dest, &TarKind::LAYER)?;
    let (diff_id, tar_size) = hashing.finish();
    Ok(ApplyStats {
        diff_id: Some(diff_id),
        tar_size,
        entries,
    })
}

/// Extracts a plain tar (not a layer: `.wh.` names are ordinary files) into `dest`, with
/// the same refusals as [`apply`]; with `owner`, every entry gets that uid and gid
/// instead of the tar's (for `tug cp`).
pub fn extract(
    reader: impl Read,
    dest: &Path,
    owner: Option<(u32, u32)>,
) -> Result<ApplyStats, Error> {
    let mut hashing = HashingReader::new(decoded(reader)?);
    let mode = TarKind {
        whiteouts: false,
        owner,
    };
    let entries = apply_stream(&mut hashing, dest, &mode)?;
    let (diff_id, tar_size) = hashing.finish();
    Ok(ApplyStats {
        diff_id: Some(diff_id),
        tar_size,
        entries,
    })
}

/// How a tar's entries are taken: as a layer (whiteouts), or as plain files.
struct TarKind {
    whiteouts: bool,
    owner: Option<(u32, u32)>,
}

impl TarKind {
    const LAYER: TarKind = TarKind {
        whiteouts: true,
        owner: None,
    };
}

/// As [`apply`], with the decompression and hashing on a second thread, overlapped with
/// the writes (a gzip layer unpacks faster on a machine with a spare core).
pub fn apply_threaded(reader: impl Read + Send, dest: &Path) -> Result<ApplyStats, Error> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(8);
        let worker = scope.spawn(move || -> Result<(crate::Digest, u64), Error> {
            let mut hashing = HashingReader::new(decoded(reader)?);
            loop {
                let mut chunk = vec![0u8; BUF_SIZE];
                let n = match hashing.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                };
                chunk.truncate(n);
                if tx.send(Ok(chunk)).is_err() {
                    break; // the writer gave up (an error of its own)
                }
            }
            Ok(hashing.finish())
        });
        let mut stream = ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            failed: false,
        };
        let result = apply_stream(&mut stream, dest, &TarKind::LAYER);
        drop(stream); // unblocks the worker if the writer stopped early
        let hashed = match worker.join() {
            Ok(h) => h,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let entries = result?;
        let (diff_id, tar_size) = hashed?;
        Ok(ApplyStats {
            diff_id: Some(diff_id),
            tar_size,
            entries,
        })
    })
}

/// The reading end of [`apply_threaded`]'s pipe of decompressed chunks.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    failed: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("the layer stream failed earlier"));
        }
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.failed = true;
                    return Err(e);
                }
                Err(_) => return Ok(0), // the sender is done: end of stream
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The uncompressed tar stream of a layer: gzip is detected by its magic bytes.
fn decoded<'a>(reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>, Error> {
    // The first bytes tell gzip from tar; read them whole even from a trickling pipe.
    let mut reader = reader;
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::Read {
                    at: "its start".into(),
                    source: e,
                });
            }
        }
    }
    let magic = &head[..got];
    let input = BufReader::with_capacity(
        BUF_SIZE,
        io::Cursor::new(head).take(got as u64).chain(reader),
    );
    Ok(match magic {
        [0x1f, 0x8b, ..] => Box::new(BufReader::with_capacity(
            BUF_SIZE,
            flate2::bufread::MultiGzDecoder::new(input),
        )),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            return Err(Error::Read {
                at: "its start".into(),
                source: io::Error::new(
                    io::ErrorKind::Unsupported,
                    "zstd-compressed layers are not supported",
                ),
            });
        }
        _ => Box::new(input),
    })
}

/// Applies the uncompressed tar `stream` into `dest` and reads the stream to its end.
fn apply_stream(stream: &mut dyn Read, dest: &Path, mode: &TarKind) -> Result<u64, Error> {
    let mut res = Resolver::open(dest).map_err(|e| Error::Io(dest.display().to_string(), e))?;
    // PAX records with a newline re-encoded, so the tar crate reads them right.
    let mut stream = pax::PaxFilter::new(stream);
    let entries = apply_entries(&mut stream, &mut res, mode)?;
    // Read what follows the end-of-archive blocks (record padding), so that the digest is
    // that of the whole stream, and a gzip trailer is checked.
    io::copy(&mut stream, &mut io::sink()).map_err(|e| Error::Read {
        at: "after the end of the archive".into(),
        source: e,
    })?;
    Ok(entries)
}

/// Walks the tar's entries and writes each; returns how many there were.
fn apply_entries(stream: &mut dyn Read, res: &mut Resolver, mode: &TarKind) -> Result<u64, Error> {
    let mut archive = tar::Archive::new(stream);
    let mut buf = vec![0u8; BUF_SIZE];
    // Dir mtimes, set at the end (writing into a dir changes its mtime).
    let mut dir_times: HashMap<Vec<u8>, Timespec> = HashMap::new();
    let mut count = 0u64;
    let mut last = String::from("(none)");
    let entries = archive.entries().map_err(|e| Error::Read {
        at: "its start".into(),
        source: e,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::Read {
            at: format!("the header after entry {last:?}"),
            source: e,
        })?;
        let raw = entry.path_bytes().into_owned();
        last = String::from_utf8_lossy(&raw).into_owned();
        let rejected = |why: &str| Error::Rejected {
            entry: String::from_utf8_lossy(&raw).into_owned(),
            why: why.to_string(),
        };
        let malformed = |e: io::Error| Error::Read {
            at: format!("the header of entry {:?}", String::from_utf8_lossy(&raw)),
            source: e,
        };
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            continue;
        }
        count += 1;
        let mut meta = read_meta(&mut entry).map_err(malformed)?;
        if let Some((uid, gid)) = mode.owner {
            (meta.uid, meta.gid) = (uid, gid);
        }
        let target = if mode.whiteouts {
            EntryPath::parse(&raw).and_then(EntryPath::classify)
        } else {
            EntryPath::parse(&raw).map(Target::Plain)
        }
        .map_err(rejected)?;
        let mut replaced = false;
        let mut written: Option<Vec<u8>> = None;
        let result = match target {
            Target::Ignored => Ok(()),
            Target::Opaque(dir) => entry::opaque(res, &dir.to_bytes()),
            Target::Whiteout(p) => {
                written = Some(p.to_bytes());
                let m = Meta { mode: 0, ..meta };
                entry::whiteout(res, &p.parent_bytes(), p.name(), &m, &mut replaced)
            }
            Target::Plain(p) if p.is_root() && kind != EntryType::Directory => Err(
                WriteError::Rejected("the layer root must be a directory".into()),
            ),
            Target::Plain(p) => {
                let (parent, name) = (p.parent_bytes(), p.name());
                match kind {
                    EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                        written = Some(p.to_bytes());
                        let size = entry.size();
                        let r = entry::regular(
                            res,
                            &parent,
                            name,
                            &meta,
                            &mut entry,
                            size,
                            &mut buf,
                            &mut replaced,
                        );
                        match r {
                            Ok(ReadOutcome::Done) => Ok(()),
                            Ok(ReadOutcome::Truncated) => {
                                return Err(Error::Read {
                                    at: format!("the content of entry {last:?}"),
                                    source: io::Error::new(
                                        io::ErrorKind::UnexpectedEof,
                                        "the stream ends inside the entry",
                                    ),
                                });
                            }
                            Ok(ReadOutcome::ReadFailed(e)) => {
                                return Err(Error::Read {
                                    at: format!("the content of entry {last:?}"),
                                    source: e,
                                });
                            }
                            Err(e) => Err(e),
                        }
                    }
                    EntryType::Directory => {
                        dir_times.insert(p.to_bytes(), meta.mtime);
                        entry::directory(res, &parent, name, &meta, &mut replaced)
                    }
                    EntryType::Symlink => {
                        written = Some(p.to_bytes());
                        match entry.link_name_bytes() {
                            Some(t) if !t.is_empty() => {
                                let t = t.into_owned();
                                entry::symlink(res, &parent, name, &t, &meta, &mut replaced)
                            }
                            _ => Err(WriteError::Rejected("a symlink without a target".into())),
                        }
                    }
                    EntryType::Link => {
                        written = Some(p.to_bytes());
                        let link = entry.link_name_bytes().map(|l| l.into_owned());
                        match link.as_deref().map(EntryPath::parse) {
                            Some(Ok(t)) if !t.is_root() => entry::hardlink(
                                res,
                                &parent,
                                name,
                                &t.parent_bytes(),
                                t.name(),
                                &mut replaced,
                            ),
                            Some(Err(why)) => {
                                Err(WriteError::Rejected(format!("its hardlink target: {why}")))
                            }
                            _ => Err(WriteError::Rejected("a hardlink without a target".into())),
                        }
                    }
                    EntryType::Char | EntryType::Block | EntryType::Fifo => {
                        written = Some(p.to_bytes());
                        let (ft, rdev) = match kind {
                            EntryType::Char => (FileType::CharacterDevice, device(&entry)),
                            EntryType::Block => (FileType::BlockDevice, device(&entry)),
                            _ => (FileType::Fifo, Ok(0)),
                        };
                        let rdev = rdev.map_err(malformed)?;
                        entry::node(res, &parent, name, ft, rdev, &meta, &mut replaced)
                    }
                    other => Err(WriteError::Rejected(format!(
                        "unsupported entry type {:?}",
                        other.as_byte() as char
                    ))),
                }
            }
        };
        result.map_err(|e| match e {
            WriteError::Rejected(why) => rejected(&why),
            WriteError::Io(source) => Error::Write {
                entry: String::from_utf8_lossy(&raw).into_owned(),
                source,
            },
        })?;
        if replaced {
            res.invalidate();
            if let Some(p) = written {
                dir_times.remove(&p);
            }
        }
    }
    for (p, mtime) in dir_times {
        let (parent, name) = match p.iter().rposition(|b| *b == b'/') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (&b""[..], &p[..]),
        };
        entry::dir_mtime(res, parent, name, mtime).map_err(|e| Error::Write {
            entry: String::from_utf8_lossy(&p).into_owned(),
            source: e,
        })?;
    }
    Ok(count)
}

/// The device number of a char or block device entry.
fn device<R: Read>(entry: &tar::Entry<'_, R>) -> io::Result<u64> {
    let h = entry.header();
    let major = h.device_major()?.unwrap_or(0);
    let minor = h.device_minor()?.unwrap_or(0);
    Ok(rustix::fs::makedev(major, minor))
}

/// The entry's metadata: header fields, with PAX `mtime` (sub-second) and
/// `SCHILY.xattr.*` records. PAX uid/gid/size are applied by the tar crate.
fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
    let h = entry.header();
    let id = |v: u64, what: &str| {
        u32::try_from(v).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{what} {v} is out of range"),
            )
        })
    };
    let mut meta = Meta {
        mode: h.mode()? & 0o7777,
        uid: id(h.uid()?, "uid")?,
        gid: id(h.gid()?, "gid")?,
        mtime: Timespec {
            tv_sec: i64::try_from(h.mtime()?).unwrap_or(i64::MAX),
            tv_nsec: 0,
        },
        xattrs: Vec::new(),
    };
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            // A record the PAX filter re-encoded (it held a newline): decoded here.
            let decoded = pax::decode_record(ext.key_bytes(), ext.value_bytes()).transpose()?;
            let (key, value) = match &decoded {
                Some((k, v)) => (&k[..], &v[..]),
                None => (ext.key_bytes(), ext.value_bytes()),
            };
            if key == b"mtime" {
                if let Some(t) = parse_pax_time(value) {
                    meta.mtime = t;
                }
            } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.")
                && !name.starts_with(b"trusted.overlay.")
                && !name.is_empty()
            {
                meta.xattrs.push((name.to_vec(), value.to_vec()));
            }
        }
    }
    Ok(meta)
}

/// Parses a PAX time, `[-]seconds[.fraction]`.
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    for (i, c) in frac.bytes().take(9).enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        nanos += i64::from(c - b'0') * 10i64.pow(8 - i as u32);
    }
    if neg {
        // -1.25 is 1.25 s before the epoch: -2 s + 0.75 s.
        if nanos == 0 {
            Some(Timespec {
                tv_sec: -secs,
                tv_nsec: 0,
            })
        } else {
            Some(Timespec {
                tv_sec: -secs - 1,
                tv_nsec: 1_000_000_000 - nanos,
            })
        }
    } else {
        Some(Timespec {
            tv_sec: secs,
            tv_nsec: nanos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_parse_with_fractions_and_signs() {
        let t = parse_pax_time(b"1700000000.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1700000000, 500_000_000));
        let t = parse_pax_time(b"-1.25").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (-2, 750_000_000));
        assert!(parse_pax_time(b"x").is_none());
    }

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
