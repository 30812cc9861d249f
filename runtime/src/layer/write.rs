//! Writing a dir tree as tar entries: names sorted bytewise in each dir, a dir before its
//! content, paths relative without `./`, owner, mode, mtime (whole seconds), devices,
//! symlinks, and hardlinks within the tree as tar hardlinks. Xattrs go in PAX
//! `SCHILY.xattr.*` records: `user.*`, `trusted.*` and `security.capability` (file
//! capabilities, as Docker keeps them: `setcap` in a container must survive a commit);
//! the overlay ones (`*.overlay.*`), other `security.*` (SELinux labels of this host) and
//! `system.*` (ACLs, which Docker leaves out too) are dropped.
//!
//! In diff mode the tree is an overlayfs upper dir: whiteouts become `.wh.NAME`, an
//! opaque dir gets a `.wh..wh..opq` entry right after it (before its content), and the
//! overlay features that keep data outside the upper dir (redirected dirs, metacopy
//! files) are refused with a clear error.
//!
//! Everything is read fd-relative, without following symlinks.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use tar::{EntryType, Header};

use super::Error;
use super::lower::{Lowers, is_whiteout};
use super::resolve::{list_dir, proc_path};

/// The xattr forms of a whiteout (Linux ≥ 6.7, for nested overlays): an empty regular
/// file with one of these.
const XATTR_WHITEOUTS: [&[u8]; 2] = [b"trusted.overlay.whiteout", b"user.overlay.whiteout"];
const OPAQUE: [&[u8]; 2] = [b"trusted.overlay.opaque", b"user.overlay.opaque"];
const REDIRECT: [&[u8]; 2] = [b"trusted.overlay.redirect", b"user.overlay.redirect"];
const METACOPY: [&[u8]; 2] = [b"trusted.overlay.metacopy", b"user.overlay.metacopy"];

/// Walks a tree into a tar builder.
pub(super) struct TreeWriter<'a, W: Write> {
    pub tar: tar::Builder<W>,
    /// In diff mode, the layers under the upper dir.
    pub lowers: Option<&'a Lowers>,
    /// The tree's root, for error messages.
    pub root_name: String,
    /// Files with several links already written: (dev, inode) → their path.
    links: HashMap<(u64, u64), Vec<u8>>,
    pub entries: u64,
    /// The bytes the entries' files take unpacked, as Docker sizes a layer (see
    /// `content_size`): regular files (a hard link once), symlink targets.
    pub content: u64,
    /// Whether a dir's content follows it (not when writing a list of changes, which
    /// names every path itself).
    pub recurse: bool,
    /// The uid and gid every entry gets instead of its own (`tug cp` without `-a`).
    pub owner: Option<(u32, u32)>,
    /// The latest mtime an entry may carry (`SOURCE_DATE_EPOCH` of a reproducible
    /// build): later ones are clamped to it.
    pub clamp_mtime: Option<u64>,
}

impl<'a, W: Write> TreeWriter<'a, W> {
    pub(super) fn new(out: W, lowers: Option<&'a Lowers>, root_name: String) -> Self {
        TreeWriter {
            tar: tar::Builder::new(out),
            lowers,
            root_name,
            links: HashMap::new(),
            entries: 0,
            content: 0,
            recurse: true,
            owner: None,
            clamp_mtime: None,
        }
    }

    /// Writes the one entry at `rel` under `root` (its parent dirs opened without
    /// following symlinks), or with `deleted`, a whiteout for it.
    pub(super) fn one(
        &mut self,
        root: BorrowedFd<'_>,
        rel: &[u8],
        deleted: bool,
    ) -> Result<(), Error> {
        if deleted {
            return self.whiteout_at(rel, 0);
        }
        let (parent, name) = match rel.iter().rposition(|b| *b == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&b"."[..], rel),
        };
        let dir = super::resolve::open_dir_no_links(root, parent)
            .map_err(|e| self.io_err(rel, e.into()))?;
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.io_err(rel, e.into()))?;
        let mut rel = rel.to_vec();
        self.entry(dir.as_fd(), name, &st, &mut rel)
    }

    /// Writes the content of the dir `dir` (whose path in the tree is `rel`).
    pub(super) fn dir(&mut self, dir: BorrowedFd<'_>, rel: &mut Vec<u8>) -> Result<(), Error> {
        let mut names = list_dir(dir).map_err(|e| self.io_err(rel, e))?;
        names.sort();
        for name in names {
            let name = name.to_bytes();
            let len = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name);
            let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // A merged overlay dir lists the whiteouts of a dir only one layer has,
                // but finds nothing behind them: not an entry.
                Err(rustix::io::Errno::NOENT) => {
                    rel.truncate(len);
                    continue;
                }
                Err(e) => return Err(self.io_err(rel, e.into())),
            };
            self.entry(dir, name, &st, rel)?;
            rel.truncate(len);
        }
        Ok(())
    }

    pub(super) fn entry(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        st: &Stat,
        rel: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let ft = FileType::from_raw_mode(st.st_mode);
        if self.lowers.is_some() && is_whiteout(st) {
            return self.whiteout(st, rel);
        }
        let xattrs = read_xattrs(&proc_path(dir, name)).map_err(|e| self.io_err(rel, e))?;
        let has = |keys: &[&[u8]]| xattrs.iter().find(|(k, _)| keys.contains(&&k[..]));
        let mut opaque = false;
        if self.lowers.is_some() {
            if ft == FileType::RegularFile && st.st_size == 0 && has(&XATTR_WHITEOUTS).is_some() {
                return self.whiteout(st, rel);
            }
            if has(&REDIRECT).is_some() {
                return Err(self.rejected(
                    rel,
                    "a renamed dir (overlay redirect_dir): its content is in a lower layer; \
                     mount the overlay with redirect_dir=off to commit it",
                ));
            }
            if has(&METACOPY).is_some() {
                return Err(self.rejected(
                    rel,
                    "a metadata-only copy-up (overlay metacopy): its data is in a lower layer; \
                     mount the overlay with metacopy=off to commit it",
                ));
            }
            opaque = ft == FileType::Directory && has(&OPAQUE).is_some_and(|(_, v)| v == b"y");
        }
        let mut kept: Vec<(String, &[u8])> = Vec::new();
        for (k, v) in &xattrs {
            if !keep_xattr(k) {
                continue;
            }
            let Ok(k) = std::str::from_utf8(k) else {
                return Err(self.rejected(rel, "an xattr name is not UTF-8"));
            };
            if k.contains('=') {
                // A PAX key ends at its first '=': the name would be read back cut short.
                return Err(self.rejected(rel, "an xattr name holds '='"));
            }
            kept.push((format!("SCHILY.xattr.{k}"), v));
        }
        let mut h = header(st);
        if let Some((uid, gid)) = self.owner {
            h.set_uid(u64::from(uid));
            h.set_gid(u64::from(gid));
        }
        match ft {
            FileType::Directory => {
                h.set_entry_type(EntryType::Directory);
                self.append(&kept, h, rel, io::empty())?;
                let sub = open(dir, name, OFlags::DIRECTORY).map_err(|e| self.io_err(rel, e))?;
                if opaque {
                    let mut marker = rel.clone();
                    marker.extend_from_slice(b"/.wh..wh..opq");
                    self.append(&[], marker_header(st.st_mtime), &marker, io::empty())?;
                }
                if self.recurse {
                    self.dir(sub.as_fd(), rel)?;
                }
            }
            FileType::RegularFile => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key).cloned() {
                        h.set_entry_type(EntryType::Link);
                        h.set_size(0);
                        return self.append_link(&[], h, rel, &first);
                    }
                    self.links.insert(key, rel.clone());
                }
                let file = open(dir, name, OFlags::empty()).map_err(|e| self.io_err(rel, e))?;
                // The size of what was opened: a running container may have replaced it.
                let now = rustix::fs::fstat(&file).map_err(|e| self.io_err(rel, e.into()))?;
                if FileType::from_raw_mode(now.st_mode) != FileType::RegularFile {
                    return Err(self.io_err(
                        rel,
                        io::Error::other("it was replaced while the layer was written"),
                    ));
                }
                let size = u64::try_from(now.st_size).unwrap_or(0);
                h.set_entry_type(EntryType::Regular);
                h.set_size(size);
                self.content += size;
                let what = format!("{}/{}", self.root_name, String::from_utf8_lossy(rel));
                let reader = Exact {
                    file: std::fs::File::from(file),
                    left: size,
                    what,
                };
                self.append(&kept, h, rel, reader)?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, name, Vec::new())
                    .map_err(|e| self.io_err(rel, e.into()))?;
                h.set_entry_type(EntryType::Symlink);
                h.set_size(0);
                // The target byte for byte (the tar crate's link setter cleans it: `/`
                // became `//`): in the header when it fits, else as a PAX linkpath.
                let target = target.as_bytes();
                self.content += target.len() as u64;
                let mut kept = kept;
                let field = &mut h.as_old_mut().linkname;
                if target.len() <= field.len() {
                    field[..target.len()].copy_from_slice(target);
                } else {
                    kept.push(("linkpath".to_string(), target));
                }
                self.append(&kept, h, rel, std::io::empty())?;
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                h.set_entry_type(match ft {
                    FileType::CharacterDevice => EntryType::Char,
                    FileType::BlockDevice => EntryType::Block,
                    _ => EntryType::Fifo,
                });
                if ft != FileType::Fifo {
                    let (major, minor) =
                        (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
                    h.set_device_major(major)
                        .and_then(|()| h.set_device_minor(minor))
                        .map_err(|e| self.io_err(rel, e))?;
                }
                h.set_size(0);
                self.append(&kept, h, rel, io::empty())?;
            }
            // A socket belongs to a running process and cannot be in a tar (Docker
            // skips them too).
            _ => {}
        }
        Ok(())
    }

    /// A whiteout `.wh.NAME`, unless no lower layer has `rel` (it would hide nothing).
    fn whiteout(&mut self, st: &Stat, rel: &[u8]) -> Result<(), Error> {
        if let Some(lowers) = self.lowers
            && lowers
                .lookup(rel)
                .map_err(|e| self.io_err(rel, e))?
                .is_none()
        {
            return Ok(());
        }
        self.whiteout_at(rel, st.st_mtime)
    }

    fn whiteout_at(&mut self, rel: &[u8], mtime: i64) -> Result<(), Error> {
        let (parent, name) = match rel.iter().rposition(|b| *b == b'/') {
            Some(i) => (&rel[..=i], &rel[i + 1..]),
            None => (&b""[..], rel),
        };
        let mut path = parent.to_vec();
        path.extend_from_slice(b".wh.");
        path.extend_from_slice(name);
        self.append(&[], marker_header(mtime), &path, io::empty())
    }

    fn append(
        &mut self,
        pax: &[(String, &[u8])],
        mut h: Header,
        path: &[u8],
        data: impl Read,
    ) -> Result<(), Error> {
        self.entries += 1;
        self.clamp(&mut h);
        self.pax(pax, path)?;
        self.tar
            .append_data(&mut h, OsStr::from_bytes(path), data)
            .map_err(|e| self.write_err(path, e))
    }

    fn append_link(
        &mut self,
        pax: &[(String, &[u8])],
        mut h: Header,
        path: &[u8],
        target: &[u8],
    ) -> Result<(), Error> {
        self.entries += 1;
        self.clamp(&mut h);
        self.pax(pax, path)?;
        self.tar
            .append_link(&mut h, OsStr::from_bytes(path), OsStr::from_bytes(target))
            .map_err(|e| self.write_err(path, e))
    }

    fn clamp(&self, h: &mut Header) {
        if let (Some(max), Ok(t)) = (self.clamp_mtime, h.mtime())
            && t > max
        {
            h.set_mtime(max);
        }
    }

    fn pax(&mut self, pax: &[(String, &[u8])], path: &[u8]) -> Result<(), Error> {
        if pax.is_empty() {
            return Ok(());
        }
        self.tar
            .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
            .map_err(|e| self.write_err(path, e))
    }

    fn io_err(&self, rel: &[u8], e: io::Error) -> Error {
        Error::Io(
            format!("{}/{}", self.root_name, String::from_utf8_lossy(rel)),
            e,
        )
    }

    fn write_err(&self, rel: &[u8], e: io::Error) -> Error {
        Error::Write {
            entry: String::from_utf8_lossy(rel).into_owned(),
            source: e,
        }
    }

    fn rejected(&self, rel: &[u8], why: &str) -> Error {
        Error::Rejected {
            entry: format!("{}/{}", self.root_name, String::from_utf8_lossy(rel)),
            why: why.to_string(),
        }
    }
}

/// A GNU header with the entry's owner, permission bits and mtime (whole seconds).
pub(super) fn header(st: &Stat) -> Header {
    let mut h = Header::new_gnu();
    let ft = FileType::from_raw_mode(st.st_mode);
    h.set_mode(if ft == FileType::Symlink {
        0o777
    } else {
        st.st_mode & 0o7777
    });
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

/// The header of a whiteout or opaque marker: an empty file, mode 0, owned by root, with
/// the mtime of what it marks (so that the same tree gives the same bytes).
fn marker_header(mtime: i64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    h.set_mtime(u64::try_from(mtime).unwrap_or(0));
    h
}

/// Whether an xattr goes into the tar (see the module doc).
fn keep_xattr(k: &[u8]) -> bool {
    if k.starts_with(b"trusted.overlay.") || k.starts_with(b"user.overlay.") {
        return false;
    }
    k.starts_with(b"user.") || k.starts_with(b"trusted.") || k == b"security.capability"
}

fn open(dir: BorrowedFd<'_>, name: &[u8], extra: OFlags) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | extra,
        Mode::empty(),
    )?)
}

/// The xattrs of the entry at `path` (not followed) that go into a layer, sorted.
pub(crate) fn read_kept_xattrs(path: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut all = read_xattrs(path)?;
    all.retain(|(k, _)| keep_xattr(k));
    Ok(all)
}

/// The xattrs of the entry at `path` (not followed), sorted by name.
pub(crate) fn read_xattrs(path: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let size = match rustix::fs::llistxattr_query(path) {
        Ok(0) => return Ok(Vec::new()),
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut names = vec![0u8; size];
    let n = rustix::fs::llistxattr(path, &mut names[..])?;
    let mut out = Vec::new();
    for k in names[..n].split(|b| *b == 0).filter(|k| !k.is_empty()) {
        let len = match rustix::fs::lgetxattr_query(path, k) {
            Ok(len) => len,
            Err(rustix::io::Errno::NODATA) => continue, // removed meanwhile
            Err(e) => return Err(e.into()),
        };
        let mut v = vec![0u8; len];
        let len = rustix::fs::lgetxattr(path, k, &mut v[..])?;
        v.truncate(len);
        out.push((k.to_vec(), v));
    }
    out.sort();
    Ok(out)
}

/// A file's content, exactly as many bytes as its header says: a file that shrinks
/// while it is read fails clearly instead of making a corrupt tar; growth is cut off.
struct Exact {
    file: std::fs::File,
    left: u64,
    what: String,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self
            .file
            .read(&mut buf[..max])
            .map_err(|e| io::Error::new(e.kind(), format!("reading {}: {e}", self.what)))?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was read", self.what),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
