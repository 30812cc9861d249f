//! What a container changed in its rootfs, as `docker diff` lists it: `A /path` (added),
//! `C /path` (changed), `D /path` (deleted), read from the overlay upper dir against
//! the merged view of the layers under it.
//!
//! Docker's rules, kept here: a path in the upper dir that the layers have is changed,
//! else added; a whiteout is a deletion; a dir that the upper dir has only because
//! something inside it changed (same mode, owner and mtime as below) is not listed by
//! itself, but the parent dir of an added or deleted path is listed as changed. The
//! order is Docker's walk: depth first, names sorted bytewise in each dir, a dir before
//! its content. Where Docker errs, tug does not: an opaque dir (removed and made again)
//! is `C` (Docker says `D` although it exists), followed by a `D` for each path of the
//! layers it hides; a path counts as "in the layers" only if the merged view shows it
//! (Docker looks in each layer alone, so it misses whiteouts between layers).

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

use super::{Error, io_err};
use crate::layer::{Change, ChangeKind, Lowers, is_opaque, open_dir};

/// The changes in the overlay upper dir `upper` over `lowers` (the layer dirs, bottom
/// first), in `docker diff`'s order.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, Error> {
    let view = Lowers::open(lowers).map_err(|e| io_err("opening the lower layers", e))?;
    let root = rustix::fs::open(
        upper,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(upper.display(), e.into()))?;
    let mut walk = Walk {
        view,
        upper,
        out: Vec::new(),
    };
    walk.dir(root.as_fd(), &mut Vec::new(), false)?;
    Ok(walk.out.into_iter().flatten().collect())
}

struct Walk<'a> {
    view: Lowers,
    upper: &'a Path,
    /// The changes so far; `None` holds the place of a dir that may be listed once its
    /// content is known (inserting there later would be quadratic).
    out: Vec<Option<Change>>,
}

impl Walk<'_> {
    /// Lists the changes inside the upper dir `dir` (path `rel`). `opaque`: the dir hides
    /// the layers' content, so what they have there and the upper dir has not is deleted.
    fn dir(&mut self, dir: BorrowedFd<'_>, rel: &mut Vec<u8>, opaque: bool) -> Result<(), Error> {
        let (names, hidden) =
            super::names_and_gone(&self.view, dir, rel, opaque).map_err(|e| self.err(rel, e))?;
        for name in names {
            let len = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(&name);
            if hidden.contains(&name) {
                self.push(ChangeKind::Deleted, rel);
            } else {
                self.entry(dir, &name, rel)?;
            }
            rel.truncate(len);
        }
        Ok(())
    }

    fn entry(&mut self, dir: BorrowedFd<'_>, name: &[u8], rel: &mut Vec<u8>) -> Result<(), Error> {
        let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return Ok(()), // removed meanwhile
            Err(e) => return Err(self.err(rel, e.into())),
        };
        let below = self.view.lookup(rel).map_err(|e| self.err(rel, e))?;
        let ft = FileType::from_raw_mode(st.st_mode);
        if ft == FileType::CharacterDevice && st.st_rdev == 0 {
            if below.is_some() {
                self.push(ChangeKind::Deleted, rel);
            }
            return Ok(());
        }
        if ft != FileType::Directory {
            let kind = match below {
                Some(_) => ChangeKind::Changed,
                None => ChangeKind::Added,
            };
            self.push(kind, rel);
            return Ok(());
        }
        let opaque = is_opaque(dir, name).map_err(|e| self.err(rel, e))?;
        let below_dir = below.as_ref().filter(|b| is_dir(b));
        let own = match (&below, below_dir) {
            (None, _) => Some(ChangeKind::Added),
            (Some(_), None) => Some(ChangeKind::Changed),
            (Some(_), Some(_)) if opaque => Some(ChangeKind::Changed),
            (Some(_), Some(b)) if same_dir(&st, b) => None,
            (Some(_), Some(_)) => Some(ChangeKind::Changed),
        };
        // Listed now, or where it would have been if a child turns out to need it.
        let at = self.out.len();
        self.out.push(own.map(|kind| Change {
            kind,
            path: abs(rel),
        }));
        let sub = open_dir(dir, name).map_err(|e| self.err(rel, e))?;
        self.dir(sub.as_fd(), rel, opaque && below_dir.is_some())?;
        if own.is_none() {
            // Docker lists the parent of an added or deleted path as changed.
            let this = abs(rel);
            let child_added_or_deleted = self.out[at..]
                .iter()
                .flatten()
                .any(|c| c.kind != ChangeKind::Changed && c.path.parent() == Some(&this));
            if child_added_or_deleted {
                self.out[at] = Some(Change {
                    kind: ChangeKind::Changed,
                    path: this,
                });
            }
        }
        Ok(())
    }

    fn push(&mut self, kind: ChangeKind, rel: &[u8]) {
        self.out.push(Some(Change {
            kind,
            path: abs(rel),
        }));
    }

    fn err(&self, rel: &[u8], e: std::io::Error) -> Error {
        io_err(
            format!("{}/{}", self.upper.display(), String::from_utf8_lossy(rel)),
            e,
        )
    }
}

/// A dir the upper dir has only as a parent of a change: copied up with the mode, owner
/// and mtime it had below (Docker also compares the size, which depends on the file
/// system, and second-only mtimes).
fn same_dir(up: &Stat, below: &Stat) -> bool {
    let same_time = up.st_mtime == below.st_mtime
        && (up.st_mtime_nsec == below.st_mtime_nsec
            || up.st_mtime_nsec == 0
            || below.st_mtime_nsec == 0);
    up.st_mode == below.st_mode
        && up.st_uid == below.st_uid
        && up.st_gid == below.st_gid
        && same_time
}

/// The absolute path in the container of the tree path `rel`.
pub(super) fn abs(rel: &[u8]) -> PathBuf {
    let mut path = b"/".to_vec();
    path.extend_from_slice(rel);
    PathBuf::from(std::ffi::OsStr::from_bytes(&path))
}

fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}
