//! The `vfs` driver: the layers copied into one dir, bottom first, with overlayfs's rules
//! applied by hand: a whiteout (0/0 char device) deletes, an opaque dir hides what the
//! layers below put in it, an upper entry replaces a lower one of another kind, dirs
//! merge. Owners, modes, xattrs (not the `trusted.overlay.*` ones), mtimes, devices,
//! symlinks and the hardlinks within a layer are kept. Every step is fd-relative and
//! never follows a symlink.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, Stat, Timespec, Timestamps, Uid, XattrFlags,
};

use super::{Error, io_err};
use crate::layer::{clear_dir, list_dir, open_dir, proc_path, read_xattrs, remove_at};

/// State of the copy of one layer.
struct LayerCopy<'a> {
    /// The target's root, for hardlinks.
    dst_root: BorrowedFd<'a>,
    /// Inodes with several links already copied: inode → path in the target.
    links: HashMap<u64, Vec<u8>>,
}

pub(super) fn copy_layers(lowers: &[PathBuf], target: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(target).map_err(|e| io_err(target.display(), e))?;
    let dst = open_dir(rustix::fs::CWD, target.as_os_str().as_encoded_bytes())
        .map_err(|e| io_err(target.display(), e))?;
    for lower in lowers {
        let ctx = |e: io::Error, rel: &[u8]| {
            Error::Io(
                format!(
                    "copying {}/{} into {}",
                    lower.display(),
                    String::from_utf8_lossy(rel),
                    target.display()
                ),
                e,
            )
        };
        let src = open_dir(rustix::fs::CWD, lower.as_os_str().as_encoded_bytes())
            .map_err(|e| ctx(e, b""))?;
        let mut copy = LayerCopy {
            dst_root: dst.as_fd(),
            links: HashMap::new(),
        };
        let mut rel = Vec::new();
        copy.dir(src.as_fd(), dst.as_fd(), &mut rel)
            .map_err(|e| ctx(e, &rel))?;
        let st = rustix::fs::fstat(&src).map_err(|e| ctx(e.into(), b""))?;
        let xattrs = read_xattrs(&proc_path(src.as_fd(), b"")).map_err(|e| ctx(e, b""))?;
        set_meta(dst.as_fd(), b"", &st, &xattrs).map_err(|e| ctx(e, b""))?;
    }
    Ok(())
}

impl LayerCopy<'_> {
    /// Copies the content of `src` into `dst`. `rel` is the path of `src` in the layer
    /// (for hardlinks and errors); on error it names the entry that failed.
    fn dir(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        rel: &mut Vec<u8>,
    ) -> io::Result<()> {
        for name in list_dir(src)? {
            let name = name.to_bytes();
            let len = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name);
            self.entry(src, dst, name, rel)?;
            rel.truncate(len);
        }
        Ok(())
    }

    fn entry(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &[u8],
        rel: &mut Vec<u8>,
    ) -> io::Result<()> {
        let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        if ft == FileType::CharacterDevice && st.st_rdev == 0 {
            return remove_at(dst, name); // a whiteout
        }
        let src_path = proc_path(src, name);
        let xattrs = read_xattrs(&src_path)?;
        match ft {
            FileType::Directory => {
                let opaque = xattrs
                    .iter()
                    .any(|(k, v)| k == b"trusted.overlay.opaque" && v == b"y");
                match rustix::fs::statat(dst, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(d) if FileType::from_raw_mode(d.st_mode) == FileType::Directory => {
                        if opaque {
                            clear_dir(open_dir(dst, name)?.as_fd())?;
                        }
                    }
                    Ok(_) => {
                        remove_at(dst, name)?;
                        rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
                    }
                    Err(rustix::io::Errno::NOENT) => {
                        rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
                    }
                    Err(e) => return Err(e.into()),
                }
                let s = open_dir(src, name)?;
                let d = open_dir(dst, name)?;
                self.dir(s.as_fd(), d.as_fd(), rel)?;
            }
            FileType::RegularFile => {
                remove_at(dst, name)?;
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&st.st_ino) {
                        rustix::fs::linkat(self.dst_root, &first[..], dst, name, AtFlags::empty())?;
                        return Ok(()); // shares the first link's inode and metadata
                    }
                    self.links.insert(st.st_ino, rel.clone());
                }
                let s = rustix::fs::openat(
                    src,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                let d = rustix::fs::openat(
                    dst,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                // std's copy between files uses copy_file_range (reflinks where the file
                // system can).
                io::copy(&mut std::fs::File::from(s), &mut std::fs::File::from(d))?;
            }
            FileType::Symlink => {
                remove_at(dst, name)?;
                let target = rustix::fs::readlinkat(src, name, Vec::new())?;
                rustix::fs::symlinkat(target.as_bytes(), dst, name)?;
            }
            _ => {
                remove_at(dst, name)?;
                rustix::fs::mknodat(dst, name, ft, Mode::from_raw_mode(0o600), st.st_rdev)?;
            }
        }
        set_meta(dst, name, &st, &xattrs)
    }
}

/// Sets owner, mode, xattrs and times of `dir/name` (or `dir` itself for an empty name)
/// from `st`, without following a symlink. The overlay xattrs are not copied: in the
/// copy they would mean nothing, or the wrong thing.
fn set_meta(
    dir: BorrowedFd<'_>,
    name: &[u8],
    st: &Stat,
    xattrs: &[(Vec<u8>, Vec<u8>)],
) -> io::Result<()> {
    let ft = FileType::from_raw_mode(st.st_mode);
    let at = if name.is_empty() {
        AtFlags::EMPTY_PATH
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    rustix::fs::chownat(
        dir,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        at,
    )?;
    if ft != FileType::Symlink {
        let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
        if name.is_empty() {
            rustix::fs::fchmod(dir, mode)?;
        } else {
            // Not a symlink (checked above): following reaches the entry itself.
            rustix::fs::chmodat(dir, name, mode, AtFlags::empty())?;
        }
    }
    let path = proc_path(dir, name);
    for (k, v) in xattrs {
        if k.starts_with(b"trusted.overlay.") {
            continue;
        }
        let r = if name.is_empty() {
            rustix::fs::setxattr(&path[..], &k[..], v, XattrFlags::empty())
        } else {
            rustix::fs::lsetxattr(&path[..], &k[..], v, XattrFlags::empty())
        };
        match r {
            Err(rustix::io::Errno::NOTSUP) if k.starts_with(b"security.") => {}
            r => r?,
        }
    }
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec as i64,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec as i64,
        },
    };
    if name.is_empty() {
        rustix::fs::futimens(dir, &times)?;
    } else {
        rustix::fs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    }
    Ok(())
}

/// Copies the content of the dir `src` into the dir `dst` with the same rules as a layer
/// copy, and gives `dst` the owner, mode and times of `src`: a volume's copy-up.
pub(super) fn copy_tree(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<()> {
    let mut copy = LayerCopy {
        dst_root: dst,
        links: HashMap::new(),
    };
    let mut rel = Vec::new();
    copy.dir(src, dst, &mut rel)?;
    let st = rustix::fs::fstat(src)?;
    let xattrs = read_xattrs(&proc_path(src, b""))?;
    set_meta(dst, b"", &st, &xattrs)
}
