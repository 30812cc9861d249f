//! Fd-relative access to the tree being written: parent dirs are opened with `openat2`
//! and `RESOLVE_BENEATH`, so no path can resolve outside the root, and every final
//! component is created or replaced with `*at` calls that never follow it.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};

/// How parent dirs are resolved: beneath the root, never through magic links or mounts.
/// Relative symlinks that stay inside the root are followed; absolute ones and `..`
/// escapes fail with `EXDEV`.
const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

/// Why a parent dir could not be opened.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// The path would leave the root (through a symlink).
    Escapes,
    /// Something else (not a dir, too many links, I/O).
    Io(io::Error),
}

/// The root being written, with the last parent dir opened kept for the next entry (tar
/// entries come grouped by dir, so most entries reuse it).
pub(crate) struct Resolver {
    root: OwnedFd,
    last: Option<(Vec<u8>, OwnedFd)>,
}

impl Resolver {
    /// Opens `root`, which must be a dir.
    pub(crate) fn open(root: &Path) -> io::Result<Resolver> {
        let root = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Resolver { root, last: None })
    }

    /// The root dir.
    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Forgets the cached dir: call after anything was removed or replaced, since the
    /// cached fd may name a dir that is no longer in the tree.
    pub(crate) fn invalidate(&mut self) {
        self.last = None;
    }

    /// The dir at `rel` (`/`-separated, empty for the root), created with its missing
    /// ancestors (mode 0755) when `create` is set.
    pub(crate) fn dir(&mut self, rel: &[u8], create: bool) -> Result<BorrowedFd<'_>, ResolveError> {
        if rel.is_empty() {
            return Ok(self.root.as_fd());
        }
        let hit = matches!(&self.last, Some((p, _)) if p == rel);
        if !hit {
            let fd = match open_beneath(&self.root, rel) {
                Err(ResolveError::Io(e)) if create && e.kind() == io::ErrorKind::NotFound => {
                    create_ancestors(&self.root, rel)?
                }
                r => r?,
            };
            self.last = Some((rel.to_vec(), fd));
        }
        // Set just above when it was not a hit.
        let (_, fd) = self.last.as_ref().expect("cached dir");
        Ok(fd.as_fd())
    }

    /// Opens the dir at `rel` without following any symlink at all (for hardlink targets,
    /// whose path must be the real one).
    pub(crate) fn dir_no_symlinks(&self, rel: &[u8]) -> Result<OwnedFd, ResolveError> {
        let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
        crate::fsutil::retry_eagain(|| {
            rustix::fs::openat2(
                &self.root,
                rel,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                BENEATH | ResolveFlags::NO_SYMLINKS,
            )
        })
        .map_err(classify)
    }
}

fn open_beneath(root: &OwnedFd, rel: &[u8]) -> Result<OwnedFd, ResolveError> {
    crate::fsutil::retry_eagain(|| {
        rustix::fs::openat2(
            root,
            rel,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            BENEATH,
        )
    })
    .map_err(classify)
}

fn classify(e: rustix::io::Errno) -> ResolveError {
    if e == rustix::io::Errno::XDEV {
        ResolveError::Escapes
    } else {
        ResolveError::Io(e.into())
    }
}

/// Creates the missing dirs of `rel` one by one (a tar need not list every parent).
fn create_ancestors(root: &OwnedFd, rel: &[u8]) -> Result<OwnedFd, ResolveError> {
    let mut end = 0;
    let mut parent = rustix::fs::openat(
        root,
        c".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(classify)?;
    while end < rel.len() {
        let next = rel[end..]
            .iter()
            .position(|b| *b == b'/')
            .map_or(rel.len(), |i| end + i);
        let prefix = &rel[..next];
        let name = &rel[end..next];
        parent = match open_beneath(root, prefix) {
            Ok(fd) => fd,
            Err(ResolveError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(ResolveError::Io(e.into())),
                }
                open_beneath(root, prefix)?
            }
            Err(e) => return Err(e),
        };
        end = next + 1;
    }
    Ok(parent)
}

/// Removes whatever is at `dir/name` (a dir with all its content), without following
/// symlinks. A missing entry is not an error.
pub(crate) fn remove_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(rustix::io::Errno::ISDIR) => {
            let sub = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            clear_dir(sub.as_fd())?;
            rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes everything inside the dir `dir` (opened for reading), keeping the dir.
pub(crate) fn clear_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    let names = list_dir(dir)?;
    for name in names {
        remove_at(dir, name.to_bytes())?;
    }
    Ok(())
}

/// The names in a dir (opened for reading), without `.` and `..`.
pub(crate) fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<std::ffi::CString>> {
    let mut out = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name: &CStr = entry.file_name();
        if name != c"." && name != c".." {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// A path that names `dir/name` through procfs, for the calls that have no `*at` form
/// (`lsetxattr`, `llistxattr`): the dir is reached through its fd, `name` is not followed.
pub(crate) fn proc_path(dir: BorrowedFd<'_>, name: &[u8]) -> Vec<u8> {
    use std::os::fd::AsRawFd;
    let mut p = format!("/proc/self/fd/{}", dir.as_raw_fd()).into_bytes();
    if !name.is_empty() {
        p.push(b'/');
        p.extend_from_slice(name);
    }
    p
}

/// Opens the dir `rel` below `root` as an O_PATH handle without following any symlink
/// (nor `..` out of `root`): for reading an entry's xattrs or link target beside it.
pub(crate) fn open_dir_no_links(
    root: impl std::os::fd::AsFd,
    rel: &[u8],
) -> rustix::io::Result<OwnedFd> {
    let root = root.as_fd();
    crate::fsutil::retry_eagain(|| {
        rustix::fs::openat2(
            root,
            rel,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
    })
}
