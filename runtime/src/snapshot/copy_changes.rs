//! The changes in a `vfs` rootfs (a full copy of the layers, changed in place): found by
//! comparing the copy with the merged view of the layers, as Docker's naive diff does.
//! A path is changed when its kind, mode, owner, device, symlink target or kept xattrs
//! differ, or, for a non-dir, its size or mtime (the copy keeps mtimes to the
//! nanosecond, so an untouched file compares equal); a dir's size and mtime are no
//! measure of change. A dir with changes inside is listed as changed before them.
//! Same order as [`super::changes`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

use super::changes::abs;
use super::{Error, io_err};
use crate::layer::{Change, ChangeKind};
use crate::layer::{Lowers, proc_path, read_kept_xattrs};

/// The changes in the `vfs` copy `rootfs` over `lowers` (the layer dirs it was copied
/// from, bottom first), in `docker diff`'s order.
pub fn copy_changes(rootfs: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, Error> {
    let view = Lowers::open(lowers).map_err(|e| io_err("opening the lower layers", e))?;
    let root = rustix::fs::open(
        rootfs,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(rootfs.display(), e.into()))?;
    let mut walk = Walk {
        view,
        root_name: rootfs,
        out: Vec::new(),
    };
    walk.dir(root.as_fd(), &mut Vec::new(), true)?;
    Ok(walk.out.into_iter().flatten().collect())
}

struct Walk<'a> {
    view: Lowers,
    root_name: &'a Path,
    /// The changes so far; `None` holds the place of a dir that may be listed once its
    /// content is known.
    out: Vec<Option<Change>>,
}

impl Walk<'_> {
    /// Lists the changes inside the dir `dir` of the copy (path `rel`); `compare`: the
    /// layers have a dir there too (else everything inside is added).
    fn dir(&mut self, dir: BorrowedFd<'_>, rel: &mut Vec<u8>, compare: bool) -> Result<(), Error> {
        let (names, gone) =
            super::names_and_gone(&self.view, dir, rel, compare).map_err(|e| self.err(rel, e))?;
        for name in names {
            let len = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(&name);
            if gone.contains(&name) {
                self.out.push(Some(Change {
                    kind: ChangeKind::Deleted,
                    path: abs(rel),
                }));
            } else {
                self.entry(dir, &name, rel, compare)?;
            }
            rel.truncate(len);
        }
        Ok(())
    }

    fn entry(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        rel: &mut Vec<u8>,
        compare: bool,
    ) -> Result<(), Error> {
        let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return Ok(()), // removed meanwhile
            Err(e) => return Err(self.err(rel, e.into())),
        };
        let below = if compare {
            self.view.locate(rel).map_err(|e| self.err(rel, e))?
        } else {
            None
        };
        let own = match &below {
            None => Some(ChangeKind::Added),
            Some((layer, old)) => {
                let differs = self
                    .differs(dir, name, &st, *layer, old, rel)
                    .map_err(|e| self.err(rel, e))?;
                differs.then_some(ChangeKind::Changed)
            }
        };
        let at = self.out.len();
        self.out.push(own.map(|kind| Change {
            kind,
            path: abs(rel),
        }));
        if is_dir(&st) {
            let sub = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| self.err(rel, e.into()))?;
            let below_is_dir = below.as_ref().is_some_and(|(_, b)| is_dir(b));
            self.dir(sub.as_fd(), rel, below_is_dir)?;
            if own.is_none() && self.out[at + 1..].iter().any(Option::is_some) {
                self.out[at] = Some(Change {
                    kind: ChangeKind::Changed,
                    path: abs(rel),
                });
            }
        }
        Ok(())
    }

    /// Whether the copy's entry differs from the layers' (see the module doc).
    fn differs(
        &self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        new: &Stat,
        layer: usize,
        old: &Stat,
        rel: &[u8],
    ) -> std::io::Result<bool> {
        let ft = FileType::from_raw_mode(new.st_mode);
        if new.st_mode != old.st_mode
            || new.st_uid != old.st_uid
            || new.st_gid != old.st_gid
            || new.st_rdev != old.st_rdev
        {
            return Ok(true);
        }
        if ft != FileType::Directory
            && (new.st_size != old.st_size
                || new.st_mtime != old.st_mtime
                || new.st_mtime_nsec != old.st_mtime_nsec)
        {
            return Ok(true);
        }
        let old_parent: OwnedFd = self.view.parent_dir(layer, rel)?;
        let old_name = rel.rsplit(|b| *b == b'/').next().unwrap_or(rel);
        if ft == FileType::Symlink {
            let a = rustix::fs::readlinkat(dir, name, Vec::new())?;
            let b = rustix::fs::readlinkat(&old_parent, old_name, Vec::new())?;
            if a != b {
                return Ok(true);
            }
        }
        let a = read_kept_xattrs(&proc_path(dir, name))?;
        let b = read_kept_xattrs(&proc_path(old_parent.as_fd(), old_name))?;
        Ok(a != b)
    }

    fn err(&self, rel: &[u8], e: std::io::Error) -> Error {
        io_err(
            format!(
                "{}/{}",
                self.root_name.display(),
                String::from_utf8_lossy(rel)
            ),
            e,
        )
    }
}

fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}
