//! Writing one tar entry into the tree: each kind created under its parent dir's fd, an
//! existing entry of another kind replaced, then owner, mode, xattrs and mtime set.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags};

use super::resolve::{self, ResolveError, Resolver};

/// The metadata of an entry, from its header and PAX records.
#[derive(Clone)]
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Timespec,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    fn times(&self) -> Timestamps {
        Timestamps {
            last_access: self.mtime,
            last_modification: self.mtime,
        }
    }
}

/// What went wrong writing an entry: a refusal (hostile entry) or an I/O error.
#[derive(Debug)]
pub(crate) enum WriteError {
    Rejected(String),
    Io(io::Error),
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

impl From<rustix::io::Errno> for WriteError {
    fn from(e: rustix::io::Errno) -> Self {
        WriteError::Io(e.into())
    }
}

impl From<ResolveError> for WriteError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Escapes => WriteError::Rejected(
                "its path goes through a symlink that leads outside the layer".into(),
            ),
            ResolveError::Io(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                WriteError::Rejected("a parent of it is not a directory".into())
            }
            ResolveError::Io(e) => WriteError::Io(e),
        }
    }
}

/// Creates `dir/name` with `create`; if something is in the way, removes it (the layer's
/// content wins) and tries once more.
fn create_replacing(
    dir: BorrowedFd<'_>,
    name: &[u8],
    replaced: &mut bool,
    mut create: impl FnMut() -> rustix::io::Result<()>,
) -> io::Result<()> {
    match create() {
        Err(rustix::io::Errno::EXIST) => {
            resolve::remove_at(dir, name)?;
            *replaced = true;
            Ok(create()?)
        }
        r => Ok(r?),
    }
}

/// Sets owner, mode (not for symlinks), xattrs and mtime of `dir/name`, without following
/// it. Owner first: chown clears setuid bits and file capabilities.
fn set_meta_at(
    dir: BorrowedFd<'_>,
    name: &[u8],
    meta: &Meta,
    is_symlink: bool,
) -> Result<(), WriteError> {
    rustix::fs::chownat(
        dir,
        name,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    if !is_symlink {
        // The entry at `name` was just created by us and is not a symlink, so
        // following (chmodat has no NOFOLLOW on Linux) reaches that very entry.
        rustix::fs::chmodat(dir, name, Mode::from_raw_mode(meta.mode), AtFlags::empty())?;
    }
    if !meta.xattrs.is_empty() {
        let path = resolve::proc_path(dir, name);
        for (k, v) in &meta.xattrs {
            ignore_unsupported(
                k,
                rustix::fs::lsetxattr(&path[..], &k[..], v, XattrFlags::empty()),
            )?;
        }
    }
    rustix::fs::utimensat(dir, name, &meta.times(), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// `security.*` xattrs a file system cannot hold (e.g. SELinux labels on a host without
/// SELinux) are dropped, as Docker does; any other failure is an error.
fn ignore_unsupported(name: &[u8], r: rustix::io::Result<()>) -> io::Result<()> {
    match r {
        Err(rustix::io::Errno::NOTSUP) if name.starts_with(b"security.") => Ok(()),
        r => Ok(r?),
    }
}

/// Writes a regular file from `data` (exactly `size` bytes), with a reused buffer.
#[allow(clippy::too_many_arguments)]
pub(crate) fn regular(
    res: &mut Resolver,
    parent: &[u8],
    name: &[u8],
    meta: &Meta,
    data: &mut dyn Read,
    size: u64,
    buf: &mut [u8],
    replaced: &mut bool,
) -> Result<ReadOutcome, WriteError> {
    let dir = res.dir(parent, true)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut fd: Option<OwnedFd> = None;
    create_replacing(dir, name, replaced, || {
        fd = Some(rustix::fs::openat(
            dir,
            name,
            flags,
            Mode::from_raw_mode(0o600),
        )?);
        Ok(())
    })?;
    // create_replacing returned Ok, so the open above succeeded.
    let fd = fd.expect("opened file");
    let mut file = std::fs::File::from(fd);
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match data.read(&mut buf[..want]) {
            Ok(0) => return Ok(ReadOutcome::Truncated),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Ok(ReadOutcome::ReadFailed(e)),
        };
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    let fd = file.as_fd();
    rustix::fs::fchown(
        fd,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
    )?;
    rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode))?;
    for (k, v) in &meta.xattrs {
        ignore_unsupported(k, rustix::fs::fsetxattr(fd, &k[..], v, XattrFlags::empty()))?;
    }
    rustix::fs::futimens(fd, &meta.times())?;
    Ok(ReadOutcome::Done)
}

/// How reading a file's content from the stream went (a failure there is the stream's
/// fault, not the disk's).
pub(crate) enum ReadOutcome {
    Done,
    Truncated,
    ReadFailed(io::Error),
}

/// Makes the dir `parent/name` (or keeps the dir already there) and sets its owner, mode
/// and xattrs; its mtime is set at the end, once its content is written.
pub(crate) fn directory(
    res: &mut Resolver,
    parent: &[u8],
    name: &[u8],
    meta: &Meta,
    replaced: &mut bool,
) -> Result<(), WriteError> {
    if name.is_empty() {
        // The layer root itself (`./`).
        let root = res.root();
        rustix::fs::fchown(
            root,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        )?;
        rustix::fs::fchmod(root, Mode::from_raw_mode(meta.mode))?;
        for (k, v) in &meta.xattrs {
            ignore_unsupported(
                k,
                rustix::fs::fsetxattr(root, &k[..], v, XattrFlags::empty()),
            )?;
        }
        return Ok(());
    }
    let dir = res.dir(parent, true)?;
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(rustix::io::Errno::EXIST) => {
            let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                resolve::remove_at(dir, name)?;
                *replaced = true;
                rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700))?;
            }
        }
        Err(e) => return Err(e.into()),
    }
    set_owner_mode_xattrs(dir, name, meta)
}

fn set_owner_mode_xattrs(dir: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> Result<(), WriteError> {
    rustix::fs::chownat(
        dir,
        name,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    // A dir we just made or checked (not a symlink): following reaches it.
    rustix::fs::chmodat(dir, name, Mode::from_raw_mode(meta.mode), AtFlags::empty())?;
    if !meta.xattrs.is_empty() {
        let path = resolve::proc_path(dir, name);
        for (k, v) in &meta.xattrs {
            ignore_unsupported(
                k,
                rustix::fs::lsetxattr(&path[..], &k[..], v, XattrFlags::empty()),
            )?;
        }
    }
    Ok(())
}

/// Sets a dir's mtime (at the end of the layer). A dir that is gone (replaced by a later
/// entry) is skipped.
pub(crate) fn dir_mtime(
    res: &mut Resolver,
    parent: &[u8],
    name: &[u8],
    mtime: Timespec,
) -> io::Result<()> {
    let times = Timestamps {
        last_access: mtime,
        last_modification: mtime,
    };
    if name.is_empty() {
        return Ok(rustix::fs::futimens(res.root(), &times)?);
    }
    let dir = match res.dir(parent, false) {
        Ok(d) => d,
        Err(_) => return Ok(()),
    };
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => Ok(
            rustix::fs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW)?,
        ),
        _ => Ok(()),
    }
}

/// Makes the symlink `parent/name` → `target` (any target: it is only text until
/// something follows it, and this module never follows one out of the root).
pub(crate) fn symlink(
    res: &mut Resolver,
    parent: &[u8],
    name: &[u8],
    target: &[u8],
    meta: &Meta,
    replaced: &mut bool,
) -> Result<(), WriteError> {
    let dir = res.dir(parent, true)?;
    create_replacing(dir, name, replaced, || {
        rustix::fs::symlinkat(target, dir, name)
    })?;
    set_meta_at(dir, name, meta, true)
}

/// Makes a device node, fifo or whiteout (`kind` with `rdev`) at `parent/name`.
pub(crate) fn node(
    res: &mut Resolver,
    parent: &[u8],
    name: &[u8],
    kind: FileType,
    rdev: u64,
    meta: &Meta,
    replaced: &mut bool,
) -> Result<(), WriteError> {
    let dir = res.dir(parent, true)?;
    create_replacing(dir, name, replaced, || {
        rustix::fs::mknodat(dir, name, kind, Mode::from_raw_mode(0o600), rdev)
    })?;
    set_meta_at(dir, name, meta, false)
}

/// Makes the overlay whiteout of `parent/name` (a 0/0 char device). Under a path that
/// this layer has as a non-dir (umoci writes `d` as a file, then `d/.wh.x`), there is
/// nothing to hide: the non-dir already hides all below it, so that is a no-op.
pub(crate) fn whiteout(
    res: &mut Resolver,
    parent: &[u8],
    name: &[u8],
    meta: &Meta,
    replaced: &mut bool,
) -> Result<(), WriteError> {
    match res.dir(parent, true) {
        Err(ResolveError::Io(e)) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(()),
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    node(
        res,
        parent,
        name,
        FileType::CharacterDevice,
        0,
        meta,
        replaced,
    )
}

/// Makes `parent/name` a hard link to `target_parent/target_name`, an entry of this layer
/// reached without any symlink.
pub(crate) fn hardlink(
    res: &mut Resolver,
    parent: &[u8],
    name: &[u8],
    target_parent: &[u8],
    target_name: &[u8],
    replaced: &mut bool,
) -> Result<(), WriteError> {
    if parent == target_parent && name == target_name {
        return Ok(()); // a link to itself: nothing to do
    }
    let tdir = match res.dir_no_symlinks(target_parent) {
        Ok(fd) => fd,
        Err(ResolveError::Io(e)) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(WriteError::Rejected(
                "the hardlink target's path goes through a symlink".into(),
            ));
        }
        Err(ResolveError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            return Err(WriteError::Rejected(
                "the hardlink target is not in the layer".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let dir = res.dir(parent, true)?;
    let link = || rustix::fs::linkat(&tdir, target_name, dir, name, AtFlags::empty());
    match create_replacing(dir, name, replaced, link) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(WriteError::Rejected(
            "the hardlink target is not in the layer".into(),
        )),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Err(WriteError::Rejected(
            "the hardlink target is a directory".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Marks the dir at `path` opaque for overlayfs (created if the tar did not list it).
pub(crate) fn opaque(res: &mut Resolver, path: &[u8]) -> Result<(), WriteError> {
    let dir = res.dir(path, true)?;
    let fd = rustix::fs::openat(
        dir,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::fs::fsetxattr(&fd, "trusted.overlay.opaque", b"y", XattrFlags::empty())?;
    Ok(())
}
