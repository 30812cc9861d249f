//! Applying an uncompressed tar stream's entries into a dir: each entry's path checked
//! and classified (whiteouts when the tar is a layer), its metadata read (with PAX
//! times and xattrs), and written through the resolver that keeps every write inside
//! the root. The refusals are listed in the module doc of `layer`.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

use rustix::fs::{FileType, Timespec};
use tar::EntryType;

use super::entry::{self, Meta, ReadOutcome, WriteError};
use super::path::{EntryPath, Target};
use super::resolve::Resolver;
use super::{BUF_SIZE, Error, pax};

/// How a tar's entries are taken: as a layer (whiteouts), or as plain files.
pub(super) struct TarKind {
    pub whiteouts: bool,
    /// The uid and gid every entry gets instead of the tar's (for `tug cp`).
    pub owner: Option<(u32, u32)>,
}

impl TarKind {
    pub const LAYER: TarKind = TarKind {
        whiteouts: true,
        owner: None,
    };
}

/// Applies the uncompressed tar `stream` into `dest` and reads the stream to its end;
/// returns how many entries there were.
pub(super) fn apply_stream(
    stream: &mut dyn Read,
    dest: &Path,
    mode: &TarKind,
) -> Result<u64, Error> {
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

/// What the walk over the entries carries from one to the next.
struct Walk<'r> {
    res: &'r mut Resolver,
    /// The copy buffer of regular files.
    buf: Vec<u8>,
    /// Dir mtimes, set at the end (writing into a dir changes its mtime).
    dir_times: HashMap<Vec<u8>, Timespec>,
    count: u64,
    /// The path of the last entry read, for errors about the stream after it.
    last: String,
}

/// Why an entry failed: refused or unwritable (the caller names the entry), or the
/// stream itself failed (the error says where).
enum EntryError {
    Write(WriteError),
    Stream(Error),
}

impl From<WriteError> for EntryError {
    fn from(e: WriteError) -> EntryError {
        EntryError::Write(e)
    }
}

/// Walks the tar's entries and writes each; returns how many there were.
fn apply_entries(stream: &mut dyn Read, res: &mut Resolver, mode: &TarKind) -> Result<u64, Error> {
    let mut archive = tar::Archive::new(stream);
    let mut walk = Walk {
        res,
        buf: vec![0u8; BUF_SIZE],
        dir_times: HashMap::new(),
        count: 0,
        last: String::from("(none)"),
    };
    let entries = archive.entries().map_err(|e| Error::Read {
        at: "its start".into(),
        source: e,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::Read {
            at: format!("the header after entry {:?}", walk.last),
            source: e,
        })?;
        walk.entry(&mut entry, mode)?;
    }
    walk.set_dir_times()
}

impl Walk<'_> {
    /// Applies one entry.
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        mode: &TarKind,
    ) -> Result<(), Error> {
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        self.last = name.clone();
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(());
        }
        self.count += 1;
        let mut meta = read_meta(entry).map_err(|e| malformed(&name, e))?;
        if let Some((uid, gid)) = mode.owner {
            (meta.uid, meta.gid) = (uid, gid);
        }
        let rejected = |why: String| Error::Rejected {
            entry: name.clone(),
            why,
        };
        let target = if mode.whiteouts {
            EntryPath::parse(&raw).and_then(EntryPath::classify)
        } else {
            EntryPath::parse(&raw).map(Target::Plain)
        }
        .map_err(|why| rejected(why.to_string()))?;
        let mut replaced = false;
        let written = self
            .write(entry, kind, target, &meta, &mut replaced)
            .map_err(|e| match e {
                EntryError::Write(WriteError::Rejected(why)) => rejected(why),
                EntryError::Write(WriteError::Io(source)) => Error::Write {
                    entry: name.clone(),
                    source,
                },
                EntryError::Stream(e) => e,
            })?;
        if replaced {
            // What the resolver had open may be gone, and a replaced dir keeps no mtime.
            self.res.invalidate();
            if let Some(p) = written {
                self.dir_times.remove(&p);
            }
        }
        Ok(())
    }

    /// Writes the entry at `target`; returns the path it wrote, if any, whose saved dir
    /// mtime a replacement drops.
    fn write<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        kind: EntryType,
        target: Target<'_>,
        meta: &Meta,
        replaced: &mut bool,
    ) -> Result<Option<Vec<u8>>, EntryError> {
        match target {
            Target::Ignored => Ok(None),
            Target::Opaque(dir) => {
                entry::opaque(self.res, &dir.to_bytes())?;
                Ok(None)
            }
            Target::Whiteout(p) => {
                let m = Meta {
                    mode: 0,
                    ..meta.clone()
                };
                entry::whiteout(self.res, &p.parent_bytes(), p.name(), &m, replaced)?;
                Ok(Some(p.to_bytes()))
            }
            Target::Plain(p) if p.is_root() && kind != EntryType::Directory => {
                Err(WriteError::Rejected("the layer root must be a directory".into()).into())
            }
            Target::Plain(p) => self.write_plain(entry, kind, &p, meta, replaced),
        }
    }

    /// Writes a plain entry (not a whiteout) of type `kind` at `p`.
    fn write_plain<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        kind: EntryType,
        p: &EntryPath<'_>,
        meta: &Meta,
        replaced: &mut bool,
    ) -> Result<Option<Vec<u8>>, EntryError> {
        let (parent, name) = (p.parent_bytes(), p.name());
        let res = &mut *self.res;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let size = entry.size();
                let outcome = entry::regular(
                    res,
                    &parent,
                    name,
                    meta,
                    entry,
                    size,
                    &mut self.buf,
                    replaced,
                )?;
                let content_err = |source| {
                    EntryError::Stream(Error::Read {
                        at: format!("the content of entry {:?}", self.last),
                        source,
                    })
                };
                match outcome {
                    ReadOutcome::Done => {}
                    ReadOutcome::Truncated => {
                        return Err(content_err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the stream ends inside the entry",
                        )));
                    }
                    ReadOutcome::ReadFailed(e) => return Err(content_err(e)),
                }
            }
            EntryType::Directory => {
                self.dir_times.insert(p.to_bytes(), meta.mtime);
                entry::directory(res, &parent, name, meta, replaced)?;
                return Ok(None);
            }
            EntryType::Symlink => match entry.link_name_bytes() {
                Some(t) if !t.is_empty() => {
                    let t = t.into_owned();
                    entry::symlink(res, &parent, name, &t, meta, replaced)?
                }
                _ => return Err(WriteError::Rejected("a symlink without a target".into()).into()),
            },
            EntryType::Link => {
                let link = entry.link_name_bytes().map(|l| l.into_owned());
                match link.as_deref().map(EntryPath::parse) {
                    Some(Ok(t)) if !t.is_root() => {
                        entry::hardlink(res, &parent, name, &t.parent_bytes(), t.name(), replaced)?
                    }
                    Some(Err(why)) => {
                        let why = format!("its hardlink target: {why}");
                        return Err(WriteError::Rejected(why).into());
                    }
                    _ => {
                        let why = "a hardlink without a target".into();
                        return Err(WriteError::Rejected(why).into());
                    }
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (ft, rdev) = match kind {
                    EntryType::Char => (FileType::CharacterDevice, device(entry)),
                    EntryType::Block => (FileType::BlockDevice, device(entry)),
                    _ => (FileType::Fifo, Ok(0)),
                };
                let rdev = rdev.map_err(|e| EntryError::Stream(malformed(&self.last, e)))?;
                entry::node(res, &parent, name, ft, rdev, meta, replaced)?
            }
            other => {
                let why = format!("unsupported entry type {:?}", other.as_byte() as char);
                return Err(WriteError::Rejected(why).into());
            }
        }
        Ok(Some(p.to_bytes()))
    }

    /// Sets the saved dir mtimes, once nothing more is written into the dirs; returns
    /// the entry count.
    fn set_dir_times(self) -> Result<u64, Error> {
        for (p, mtime) in self.dir_times {
            let (parent, name) = match p.iter().rposition(|b| *b == b'/') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (&b""[..], &p[..]),
            };
            entry::dir_mtime(self.res, parent, name, mtime).map_err(|e| Error::Write {
                entry: String::from_utf8_lossy(&p).into_owned(),
                source: e,
            })?;
        }
        Ok(self.count)
    }
}

/// A header that cannot be read as what it says.
fn malformed(entry: &str, e: io::Error) -> Error {
    Error::Read {
        at: format!("the header of entry {entry:?}"),
        source: e,
    }
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
    let old = h.as_old();
    let mut meta = Meta {
        mode: (blank_or(&old.mode, h.mode().map(u64::from))? & 0o7777) as u32,
        uid: id(blank_or(&old.uid, h.uid())?, "uid")?,
        gid: id(blank_or(&old.gid, h.gid())?, "gid")?,
        mtime: Timespec {
            tv_sec: i64::try_from(blank_or(&old.mtime, h.mtime())?).unwrap_or(i64::MAX),
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

/// A numeric header field that is blank (only NULs and spaces) reads as 0, as Go's
/// archive/tar reads it (Docker's daemon does so): some writers leave the uid, gid or
/// mtime of their entries unset (testcontainers-rs's copies into a container).
fn blank_or(raw: &[u8], parsed: io::Result<u64>) -> io::Result<u64> {
    if raw.iter().all(|b| *b == 0 || *b == b' ') {
        return Ok(0);
    }
    parsed
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

    #[test]
    fn blank_numeric_fields_read_as_zero() {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "not a number");
        assert_eq!(blank_or(&[0; 8], Err(bad())).unwrap(), 0);
        assert_eq!(blank_or(b"       \0", Err(bad())).unwrap(), 0);
        assert_eq!(blank_or(b"0000644\0", Ok(0o644)).unwrap(), 0o644);
        assert!(blank_or(b"zz\0\0\0\0\0\0", Err(bad())).is_err());
    }
}
