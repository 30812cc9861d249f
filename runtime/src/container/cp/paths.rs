//! Where a copy comes from and lands: cp's path rules (a trailing `/.` or `/`), Docker's
//! rules for file vs dir, and paths looked up in a container's root with `openat2` and
//! `RESOLVE_IN_ROOT`, or on the host as the caller gives them.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};

use crate::container::Error;

/// How openat2 resolves paths in a container: its root is `/`, and neither `..` nor a
/// symlink (absolute or relative) can leave it; magic links (`/proc/self/root`) refused.
const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// A path as cp's rules read it: its parts, and what its trailing characters assert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CpPath {
    /// The path without trailing `/.` and `/` (and for the container, relative).
    pub(super) path: Vec<u8>,
    /// It ends with `/.`: the content of a dir, not the dir.
    pub(super) contents: bool,
    /// It ends with `/` or `/.`: it must be a dir.
    pub(super) asserts_dir: bool,
}

impl CpPath {
    pub(super) fn parse(raw: &[u8]) -> CpPath {
        let contents = raw == b"." || raw.ends_with(b"/.");
        let asserts_dir = contents || raw.ends_with(b"/");
        let mut path = raw.to_vec();
        loop {
            if path.ends_with(b"/.") {
                path.truncate(path.len() - 2);
            } else if path.len() > 1 && path.ends_with(b"/") {
                path.pop();
            } else {
                break;
            }
        }
        CpPath {
            path,
            contents,
            asserts_dir,
        }
    }

    /// The path relative to a container's root.
    pub(super) fn in_root(&self) -> Vec<u8> {
        let p: &[u8] = &self.path;
        let p = p.strip_prefix(b"/").unwrap_or(p);
        if p.is_empty() {
            b".".to_vec()
        } else {
            p.to_vec()
        }
    }
}

/// The last component of `p` (`.` for the root or an empty path).
pub(super) fn base_name(p: &[u8]) -> Vec<u8> {
    let p = p.strip_suffix(b"/").unwrap_or(p);
    match p.iter().rposition(|b| *b == b'/') {
        Some(i) => p[i + 1..].to_vec(),
        None if p.is_empty() => b".".to_vec(),
        None => p.to_vec(),
    }
}

/// `p` split into its parent (`.` when none) and last component.
pub(super) fn split(p: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match p.iter().rposition(|b| *b == b'/') {
        Some(0) => (b"/".to_vec(), p[1..].to_vec()),
        Some(i) => (p[..i].to_vec(), p[i + 1..].to_vec()),
        None => (b".".to_vec(), p.to_vec()),
    }
}

/// A source found: its parent dir, its name there (never a symlink with `-L`), its stat.
pub(super) struct Found {
    pub(super) parent: OwnedFd,
    pub(super) name: Vec<u8>,
    pub(super) st: Stat,
}

/// Finds `path` under `root` (resolved in root), following a final symlink if `follow`.
pub(super) fn locate_in_root(root: BorrowedFd<'_>, path: &[u8], follow: bool) -> io::Result<Found> {
    let mut path = path.to_vec();
    for _ in 0..40 {
        let (parent_path, name) = split(&path);
        let (parent, name) = if matches!(&name[..], b"" | b"." | b"..") {
            // A dir named by its own path: it is its own "parent" as `.`.
            (open_in_root(root, &path, true)?, b".".to_vec())
        } else {
            (open_in_root(root, &parent_path, true)?, name)
        };
        let st = rustix::fs::statat(&parent, &name[..], AtFlags::SYMLINK_NOFOLLOW)?;
        if follow && FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            let target = rustix::fs::readlinkat(&parent, &name[..], Vec::new())?;
            let target = target.as_bytes();
            path = if target.starts_with(b"/") {
                target.to_vec()
            } else {
                let mut p = parent_path.clone();
                p.push(b'/');
                p.extend_from_slice(target);
                p
            };
            continue;
        }
        return Ok(Found { parent, name, st });
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// Opens `rel` under `root` with `O_PATH`, resolved in root (a final symlink followed,
/// inside the root too).
pub(super) fn open_in_root(root: BorrowedFd<'_>, rel: &[u8], dir: bool) -> io::Result<OwnedFd> {
    let rel = rel.strip_prefix(b"/").unwrap_or(rel);
    let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if dir {
        flags |= OFlags::DIRECTORY;
    }
    Ok(crate::fsutil::retry_eagain(|| {
        rustix::fs::openat2(root, rel, flags, Mode::empty(), IN_ROOT)
    })?)
}

/// What is at the destination.
pub(super) struct Dest {
    /// The destination itself, if it exists (a final symlink followed).
    pub(super) existing: Option<(OwnedFd, bool)>,
    /// Its parent dir, if that exists.
    pub(super) parent: Option<OwnedFd>,
    pub(super) name: Vec<u8>,
}

/// Where the copy is extracted, and the name its top entry gets there.
pub(super) struct Plan<'a> {
    pub(super) dir: BorrowedFd<'a>,
    pub(super) as_name: Vec<u8>,
}

/// Docker's rules: where a source (`src_dir`: a dir; `contents`: its content only)
/// lands at `dst`.
pub(super) fn plan<'a>(
    dst: &'a Dest,
    dst_path: &CpPath,
    src_dir: bool,
    src: &CpPath,
    src_name: &[u8],
) -> Result<Plan<'a>, String> {
    if src.asserts_dir && !src_dir {
        return Err("not a directory".into());
    }
    match &dst.existing {
        Some((fd, true)) => Ok(Plan {
            dir: fd.as_fd(),
            as_name: if src.contents {
                b".".to_vec()
            } else {
                src_name.to_vec()
            },
        }),
        Some(_) if src_dir => Err("cannot copy directory".into()),
        None if !src_dir && dst_path.asserts_dir => Err("no such directory".into()),
        _ => match &dst.parent {
            Some(p) => Ok(Plan {
                dir: p.as_fd(),
                as_name: dst.name.clone(),
            }),
            None => Err("no such directory".into()),
        },
    }
}

/// Refuses to replace a dir with a non-dir or the other way round, as Docker does.
pub(super) fn check_overwrite(plan: &Plan<'_>, src_dir: bool, shown: &str) -> Result<(), Error> {
    if plan.as_name == b"." {
        return Ok(());
    }
    let Ok(st) = rustix::fs::statat(plan.dir, &plan.as_name[..], AtFlags::SYMLINK_NOFOLLOW) else {
        return Ok(());
    };
    let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    if is_dir && !src_dir {
        return Err(Error::Invalid(format!(
            "cannot overwrite directory {shown:?} with non-directory"
        )));
    }
    if !is_dir && src_dir {
        return Err(Error::Invalid(format!(
            "cannot overwrite non-directory {shown:?} with directory"
        )));
    }
    Ok(())
}

/// The destination in the container, resolved in its root.
pub(super) fn container_dest(root: BorrowedFd<'_>, dp: &CpPath) -> Dest {
    let rel = dp.in_root();
    let existing = open_in_root(root, &rel, false).ok().map(|fd| {
        let dir = rustix::fs::fstat(&fd)
            .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
            .unwrap_or(false);
        (fd, dir)
    });
    let (parent, name) = split(&rel);
    Dest {
        existing,
        parent: open_in_root(root, &parent, true).ok(),
        name,
    }
}

/// The destination on the host (the caller's own paths: symlinks followed as given).
pub(super) fn host_dest(p: &Path) -> Result<(Dest, CpPath), Error> {
    let dp = CpPath::parse(p.as_os_str().as_bytes());
    let path = Path::new(std::ffi::OsStr::from_bytes(&dp.path));
    let open = |p: &Path, dir: bool| {
        let mut flags = OFlags::PATH | OFlags::CLOEXEC;
        if dir {
            flags |= OFlags::DIRECTORY;
        }
        rustix::fs::open(p, flags, Mode::empty())
    };
    let existing = open(path, false).ok().map(|fd| {
        let dir = rustix::fs::fstat(&fd)
            .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
            .unwrap_or(false);
        (fd, dir)
    });
    let (parent, name) = split(&dp.path);
    let parent = Path::new(std::ffi::OsStr::from_bytes(&parent));
    let dest = Dest {
        existing,
        parent: open(parent, true).ok(),
        name,
    };
    if dest.existing.is_none() && dest.parent.is_none() {
        return Err(Error::Io(
            format!("lstat {}", parent.display()),
            io::Error::from_raw_os_error(libc::ENOENT),
        ));
    }
    Ok((dest, dp))
}

/// The source on the host, with a final symlink followed for `-L`.
pub(super) fn host_source(p: &Path, follow: bool) -> Result<(Found, CpPath), Error> {
    let sp = CpPath::parse(p.as_os_str().as_bytes());
    // Docker's words: the absolute path, and the error as Go prints it.
    let missing = |e: io::Error| {
        let shown = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        match e.kind() {
            io::ErrorKind::NotFound => Error::Invalid(format!(
                "lstat {}: no such file or directory",
                shown.display()
            )),
            _ => Error::Io(format!("lstat {}", shown.display()), e),
        }
    };
    // A trailing `/` or `/.` goes through a symlink to a dir, as in Docker.
    let path = if follow || sp.asserts_dir {
        std::fs::canonicalize(std::ffi::OsStr::from_bytes(&sp.path)).map_err(missing)?
    } else {
        PathBuf::from(std::ffi::OsStr::from_bytes(&sp.path))
    };
    let bytes = path.as_os_str().as_bytes();
    let (parent_path, name) = split(bytes);
    let (parent, name) = if matches!(&name[..], b"" | b"." | b"..") {
        (bytes.to_vec(), b".".to_vec())
    } else {
        (parent_path, name)
    };
    let parent = rustix::fs::open(
        std::ffi::OsStr::from_bytes(&parent),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| missing(e.into()))?;
    let st = rustix::fs::statat(&parent, &name[..], AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| missing(e.into()))?;
    Ok((Found { parent, name, st }, sp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_dot_and_slash_are_read_as_docker_does() {
        let p = CpPath::parse(b"/etc/.");
        assert_eq!(
            (p.path.as_slice(), p.contents, p.asserts_dir),
            (&b"/etc"[..], true, true)
        );
        let p = CpPath::parse(b"/tmp/");
        assert_eq!(
            (p.path.as_slice(), p.contents, p.asserts_dir),
            (&b"/tmp"[..], false, true)
        );
        let p = CpPath::parse(b"/");
        assert_eq!((p.path.as_slice(), p.in_root()), (&b"/"[..], b".".to_vec()));
        let p = CpPath::parse(b"f");
        assert_eq!(
            (p.contents, p.asserts_dir, p.in_root()),
            (false, false, b"f".to_vec())
        );
        assert_eq!(base_name(b"/etc/hostname"), b"hostname");
        assert_eq!(base_name(b"/"), b".");
        assert_eq!(split(b"/etc"), (b"/".to_vec(), b"etc".to_vec()));
        assert_eq!(split(b"a"), (b".".to_vec(), b"a".to_vec()));
    }
}
