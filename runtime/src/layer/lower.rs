//! The merged view of a stack of layer dirs, as overlayfs shows it through them: a path
//! is looked up layer by layer, top first, where a whiteout (0/0 character device) or a
//! non-dir hides what is below, and an opaque dir hides the layers under it. Every step
//! is fd-relative and never follows a symlink. Used to tell a changed path from an added
//! one, and to leave out whiteouts that hide nothing.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

use super::resolve::{list_dir, proc_path};

/// The layer dirs of a rootfs, opened, top first.
pub(crate) struct Lowers {
    layers: Vec<OwnedFd>,
}

/// Where a path stands in one layer.
enum Found {
    /// The layer has the entry (and the dir, opened, if asked for); `opaque` if a dir
    /// above it in this layer hides the layers below.
    Entry {
        st: Stat,
        dir: Option<OwnedFd>,
        opaque: bool,
    },
    /// The layer has nothing there; `opaque` if a dir on the way hides the layers below.
    Missing { opaque: bool },
    /// A whiteout or a non-dir on the way hides the path in this and every lower layer.
    Hidden,
}

impl Lowers {
    /// Opens the layer dirs, given bottom first (as a container's rootfs lists them).
    pub(crate) fn open(lowers: &[PathBuf]) -> io::Result<Lowers> {
        let mut layers = Vec::with_capacity(lowers.len());
        for l in lowers.iter().rev() {
            let fd = rustix::fs::open(
                l,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", l.display())))?;
            layers.push(fd);
        }
        Ok(Lowers { layers })
    }

    /// The entry at `rel` (`/`-separated, relative) in the merged view, if any.
    pub(crate) fn lookup(&self, rel: &[u8]) -> io::Result<Option<Stat>> {
        Ok(self.locate(rel)?.map(|(_, st)| st))
    }

    /// As [`Lowers::lookup`], with the index of the layer that has the entry (for
    /// [`Lowers::parent_dir`]).
    pub(crate) fn locate(&self, rel: &[u8]) -> io::Result<Option<(usize, Stat)>> {
        for (i, layer) in self.layers.iter().enumerate() {
            match find(layer.as_fd(), rel, false)? {
                Found::Entry { st, .. } => return Ok(Some((i, st))),
                Found::Hidden => return Ok(None),
                Found::Missing { opaque: true } => return Ok(None),
                Found::Missing { opaque: false } => {}
            }
        }
        Ok(None)
    }

    /// The names in the dir `rel` of the merged view (empty if it is not a dir there).
    pub(crate) fn list(&self, rel: &[u8]) -> io::Result<BTreeSet<Vec<u8>>> {
        let mut seen = BTreeSet::new();
        let mut visible = BTreeSet::new();
        for layer in &self.layers {
            let (dir, opaque) = match find(layer.as_fd(), rel, true)? {
                Found::Entry {
                    st,
                    dir: Some(fd),
                    opaque,
                } if is_dir(&st) => {
                    let opaque = opaque || is_opaque(fd.as_fd(), b"")?;
                    (fd, opaque)
                }
                Found::Entry { .. } | Found::Hidden | Found::Missing { opaque: true } => break,
                Found::Missing { opaque: false } => continue,
            };
            for name in list_dir(dir.as_fd())? {
                let name = name.to_bytes().to_vec();
                if !seen.insert(name.clone()) {
                    continue; // a layer above had it first
                }
                let st = rustix::fs::statat(&dir, &name[..], AtFlags::SYMLINK_NOFOLLOW)?;
                if !is_whiteout(&st) {
                    visible.insert(name);
                }
            }
            if opaque {
                break;
            }
        }
        Ok(visible)
    }
}

impl Lowers {
    /// The parent dir of `rel` in the layer `layer` (an index from [`Lowers::locate`]),
    /// opened without following any symlink, for reading the entry's xattrs or target.
    pub(crate) fn parent_dir(&self, layer: usize, rel: &[u8]) -> io::Result<OwnedFd> {
        let parent = match rel.iter().rposition(|b| *b == b'/') {
            Some(i) => &rel[..i],
            None => b".",
        };
        let root = self
            .layers
            .get(layer)
            .ok_or_else(|| io::Error::other("no such layer"))?;
        Ok(super::resolve::open_dir_no_links(root, parent)?)
    }
}

/// Walks `rel` in one layer. With `open_last`, a dir found at the end is returned opened.
fn find(root: BorrowedFd<'_>, rel: &[u8], open_last: bool) -> io::Result<Found> {
    let comps: Vec<&[u8]> = rel
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    if comps.is_empty() {
        let st = rustix::fs::fstat(root)?;
        let fd = if open_last {
            Some(open_dir(root, b".")?)
        } else {
            None
        };
        return Ok(Found::Entry {
            st,
            dir: fd,
            opaque: false,
        });
    }
    let mut opaque = is_opaque(root, b"")?;
    let mut cur: Option<OwnedFd> = None;
    for (i, comp) in comps.iter().enumerate() {
        let dir = cur.as_ref().map_or(root, |f| f.as_fd());
        let st = match rustix::fs::statat(dir, *comp, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return Ok(Found::Missing { opaque }),
            Err(e) => return Err(e.into()),
        };
        if is_whiteout(&st) {
            return Ok(Found::Hidden);
        }
        let last = i + 1 == comps.len();
        if last {
            let fd = if open_last && is_dir(&st) {
                Some(open_dir(dir, comp)?)
            } else {
                None
            };
            return Ok(Found::Entry {
                st,
                dir: fd,
                opaque,
            });
        }
        if !is_dir(&st) {
            return Ok(Found::Hidden);
        }
        let next = open_dir(dir, comp)?;
        opaque = opaque || is_opaque(next.as_fd(), b"")?;
        cur = Some(next);
    }
    // The loop returns at the last component, and `comps` is not empty.
    Ok(Found::Missing { opaque })
}

/// Opens the dir `name` under `dir`, never following a symlink.
pub(crate) fn open_dir(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// A whiteout as the kernel and `layer::apply` write them: a 0/0 character device.
pub(crate) fn is_whiteout(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice && st.st_rdev == 0
}

pub(crate) fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

/// Whether the dir `dir/name` (or `dir` itself, opened for reading, for an empty name)
/// is an opaque dir.
pub(crate) fn is_opaque(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<bool> {
    let path = proc_path(dir, name);
    let mut v = [0u8; 4];
    for key in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        // `/proc/self/fd/N` alone is a symlink that lgetxattr would not follow: the dir
        // itself is asked through its fd (opened for reading, not O_PATH).
        let got = if name.is_empty() {
            rustix::fs::fgetxattr(dir, key, &mut v[..])
        } else {
            rustix::fs::lgetxattr(&path[..], key, &mut v[..])
        };
        match got {
            Ok(1) if v[0] == b'y' => return Ok(true),
            Ok(_) | Err(rustix::io::Errno::NODATA) | Err(rustix::io::Errno::NOTSUP) => {}
            Err(rustix::io::Errno::RANGE) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}
