//! `tug cp`: copying files, dirs and symlinks between a container and the host, with
//! Docker's rules for where the copy lands (file vs dir, a trailing `/.` for a dir's
//! content, a missing destination created) and tar streams for `-`.
//!
//! Paths in the container are untrusted: they are resolved with `openat2` and
//! `RESOLVE_IN_ROOT` on a dir fd of the container's root, so a symlink in the container
//! (`/tmp/evil -> /`) leads to the container's own root, never the host's; what is read
//! is read fd-relative without following symlinks, and what is written goes through the
//! layer module's extraction, which refuses any entry that would leave its target dir.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};

use super::Error;
use super::commit::with_mounted;
use super::lifecycle::{is_running, rootfs_source};
use super::record::Container;
use crate::sandbox::RootfsSource;
use crate::{Engine, layer};

/// Where `copy_from_container` puts what it copies.
pub enum CopyOut<'a> {
    /// A host path, with Docker's rules.
    Path(&'a Path),
    /// A tar stream (`-`).
    Tar(&'a mut (dyn Write + Send)),
}

/// What `copy_to_container` copies.
pub enum CopyIn<'a> {
    /// A host path.
    Path(&'a Path),
    /// A tar stream (`-`), extracted into an existing dir.
    Tar(&'a mut (dyn Read + Send)),
}

/// The flags of `tug cp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// `-a`: into a container with a `--user`, the copy is owned by that user; without
    /// it (or without a user), the source's uid and gid are kept. This is what Docker
    /// does (docker/cli#6870), not what its docs say.
    pub archive: bool,
    /// `-L`: follow a symlink at the source.
    pub follow_link: bool,
}

/// How openat2 resolves paths in a container: its root is `/`, and neither `..` nor a
/// symlink (absolute or relative) can leave it; magic links (`/proc/self/root`) refused.
const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// A path as cp's rules read it: its parts, and what its trailing characters assert.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CpPath {
    /// The path without trailing `/.` and `/` (and for the container, relative).
    path: Vec<u8>,
    /// It ends with `/.`: the content of a dir, not the dir.
    contents: bool,
    /// It ends with `/` or `/.`: it must be a dir.
    asserts_dir: bool,
}

impl CpPath {
    fn parse(raw: &[u8]) -> CpPath {
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
    fn in_root(&self) -> Vec<u8> {
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
fn base_name(p: &[u8]) -> Vec<u8> {
    let p = p.strip_suffix(b"/").unwrap_or(p);
    match p.iter().rposition(|b| *b == b'/') {
        Some(i) => p[i + 1..].to_vec(),
        None if p.is_empty() => b".".to_vec(),
        None => p.to_vec(),
    }
}

/// `p` split into its parent (`.` when none) and last component.
fn split(p: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match p.iter().rposition(|b| *b == b'/') {
        Some(0) => (b"/".to_vec(), p[1..].to_vec()),
        Some(i) => (p[..i].to_vec(), p[i + 1..].to_vec()),
        None => (b".".to_vec(), p.to_vec()),
    }
}

/// A source found: its parent dir, its name there (never a symlink with `-L`), its stat.
struct Found {
    parent: OwnedFd,
    name: Vec<u8>,
    st: Stat,
}

/// Finds `path` under `root` (resolved in root), following a final symlink if `follow`.
fn locate_in_root(root: BorrowedFd<'_>, path: &[u8], follow: bool) -> io::Result<Found> {
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
fn open_in_root(root: BorrowedFd<'_>, rel: &[u8], dir: bool) -> io::Result<OwnedFd> {
    let rel = rel.strip_prefix(b"/").unwrap_or(rel);
    let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if dir {
        flags |= OFlags::DIRECTORY;
    }
    Ok(rustix::fs::openat2(
        root,
        rel,
        flags,
        Mode::empty(),
        IN_ROOT,
    )?)
}

/// What is at the destination.
struct Dest {
    /// The destination itself, if it exists (a final symlink followed).
    existing: Option<(OwnedFd, bool)>,
    /// Its parent dir, if that exists.
    parent: Option<OwnedFd>,
    name: Vec<u8>,
}

/// Where the copy is extracted, and the name its top entry gets there.
struct Plan<'a> {
    dir: BorrowedFd<'a>,
    as_name: Vec<u8>,
}

/// Docker's rules: where a source (`src_dir`: a dir; `contents`: its content only)
/// lands at `dst`.
fn plan<'a>(
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
fn check_overwrite(plan: &Plan<'_>, src_dir: bool, shown: &str) -> Result<(), Error> {
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

/// The path of an open fd, for the calls that take a path (it names the very dir the fd
/// holds, whatever happens to the path it was opened by).
fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Writes `found` as a tar named `as_name` into a pipe, extracting it into `dir` at the
/// same time; `owner` overrides the tar's.
fn copy_through_pipe(
    found: &Found,
    as_name: &[u8],
    owner: Option<(u32, u32)>,
    dir: BorrowedFd<'_>,
) -> crate::Result<()> {
    let (reader, writer) = io::pipe().map_err(|e| Error::Sys("make a pipe".into(), e))?;
    let target = fd_path(dir);
    std::thread::scope(|s| {
        let extract = s.spawn(move || layer::extract(reader, &target, None));
        let written = layer::write_entry(found.parent.as_fd(), &found.name, as_name, owner, writer);
        let extracted = extract.join().unwrap_or_else(|_| {
            Err(layer::Error::Io(
                "tug cp".into(),
                io::Error::other("the extracting thread panicked"),
            ))
        });
        Ok(first_cause(written.map(|_| ()), extracted.map(|_| ()))?)
    })
}

/// The error to report when the tar writer and the extractor ran against each other: a
/// broken pipe on the writer's side only means the extractor gave up first (its error
/// is the cause); a truncated tar on the extractor's side means the writer failed.
fn first_cause(
    written: Result<(), layer::Error>,
    extracted: Result<(), layer::Error>,
) -> Result<(), layer::Error> {
    match (written, extracted) {
        (Err(w), Err(x)) if is_broken_pipe(&w) => Err(x),
        (Err(w), _) => Err(w),
        (Ok(()), x) => x,
    }
}

/// Whether an io::Error in `e`'s chain is a broken pipe.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::BrokenPipe
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Runs `f` with the container's root: the running container's as its processes see it,
/// a stopped one's rootfs mounted for the moment (see [`with_mounted`]), or the vfs dir.
fn with_root<T: Send>(
    c: &Container,
    f: impl FnOnce(&Path) -> crate::Result<T> + Send,
) -> crate::Result<T> {
    if is_running(c) {
        return f(Path::new(&format!("/proc/{}/root", c.state.pid)));
    }
    match rootfs_source(c)? {
        RootfsSource::Dir(dir) => f(&dir),
        RootfsSource::Overlay(r) => with_mounted(&r, f)?,
    }
}

fn open_root(root: &Path) -> Result<OwnedFd, Error> {
    rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(root, e.into()))
}

fn not_found(path: &[u8], name: &str) -> Error {
    Error::Invalid(format!(
        "Could not find the file {} in container {name}",
        String::from_utf8_lossy(path)
    ))
}

/// The host file behind a stopped container's generated /etc file (bind-mounted when it
/// runs), if `rel` names one.
fn generated_file(c: &Container, rel: &[u8]) -> Option<PathBuf> {
    let p = match rel {
        b"etc/hostname" => &c.hostname_path,
        b"etc/hosts" => &c.hosts_path,
        b"etc/resolv.conf" => &c.resolv_conf_path,
        _ => return None,
    };
    (!p.is_empty() && Path::new(p).is_file()).then(|| PathBuf::from(p))
}

impl Engine {
    /// Copies `src` (a path in container `name`) to `dest`, as `docker cp` does: to a
    /// host path with Docker's rules (the copy owned by the caller), or as a tar stream
    /// (with the container's owners). With `follow_link`, a symlink at `src` is copied as
    /// what it points to (inside the container).
    pub fn copy_from_container(
        &self,
        name: &str,
        src: &str,
        dest: CopyOut<'_>,
        opts: CopyOptions,
    ) -> crate::Result<()> {
        let c = self.container(name)?;
        let sp = CpPath::parse(src.as_bytes());
        let rel = sp.in_root();
        let src_name = base_name(&sp.path);
        let (root_path, rel) = match (is_running(&c), generated_file(&c, &rel)) {
            (false, Some(file)) => {
                let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
                let base = file.file_name().map(|n| n.as_bytes().to_vec());
                (Some(dir), base.unwrap_or_default())
            }
            _ => (None, rel),
        };
        let host = match &dest {
            CopyOut::Path(p) => Some(host_dest(p)?),
            CopyOut::Tar(_) => None,
        };
        let dest_shown = match &dest {
            CopyOut::Path(p) => p.display().to_string(),
            CopyOut::Tar(_) => "-".into(),
        };
        let owner = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let copy = |root: &Path| -> crate::Result<()> {
            let root = open_root(root)?;
            let found = locate_in_root(root.as_fd(), &rel, opts.follow_link)
                .map_err(|_| not_found(src.as_bytes(), name))?;
            let src_dir = FileType::from_raw_mode(found.st.st_mode) == FileType::Directory;
            match (dest, host) {
                (CopyOut::Tar(out), _) => {
                    if sp.asserts_dir && !src_dir {
                        return Err(Error::Invalid("not a directory".into()).into());
                    }
                    let as_name = if sp.contents { b".".to_vec() } else { src_name };
                    layer::write_entry(found.parent.as_fd(), &found.name, &as_name, None, out)?;
                    Ok(())
                }
                (CopyOut::Path(_), Some((dst, dst_path))) => {
                    let plan =
                        plan(&dst, &dst_path, src_dir, &sp, &src_name).map_err(Error::Invalid)?;
                    check_overwrite(&plan, src_dir, &dest_shown)?;
                    copy_through_pipe(&found, &plan.as_name, Some(owner), plan.dir)
                }
                (CopyOut::Path(_), None) => Err(Error::Invalid("no destination".into()).into()),
            }
        };
        match root_path {
            Some(dir) => copy(&dir),
            None => with_root(&c, copy),
        }
    }

    /// Copies `src` (a host path, or a tar stream) into container `name` at `dest`, as
    /// `docker cp` does; ownership as [`CopyOptions::archive`] says.
    pub fn copy_to_container(
        &self,
        name: &str,
        src: CopyIn<'_>,
        dest: &str,
        opts: CopyOptions,
    ) -> crate::Result<()> {
        let c = self.container(name)?;
        let dp = CpPath::parse(dest.as_bytes());
        let source = match &src {
            CopyIn::Path(p) => Some(host_source(p, opts.follow_link)?),
            CopyIn::Tar(_) => None,
        };
        let user = c.config.user.clone();
        with_root(&c, |root| {
            let root = open_root(root)?;
            let owner = match (opts.archive, user.as_str()) {
                (true, u) if !u.is_empty() => Some(container_user(root.as_fd(), u)?),
                _ => None,
            };
            let dst = container_dest(root.as_fd(), &dp);
            match (src, source) {
                (CopyIn::Tar(input), _) => {
                    let Some((dir, true)) = &dst.existing else {
                        return Err(Error::Invalid(format!(
                            "destination \"{name}:{dest}\" must be a directory"
                        ))
                        .into());
                    };
                    layer::extract(input, &fd_path(dir.as_fd()), owner)?;
                    Ok(())
                }
                (CopyIn::Path(_), Some((found, sp))) => {
                    let src_dir = FileType::from_raw_mode(found.st.st_mode) == FileType::Directory;
                    if dst.existing.is_none() && dst.parent.is_none() {
                        return Err(not_found(&dp.path, name).into());
                    }
                    let src_name = base_name(&sp.path);
                    let plan = plan(&dst, &dp, src_dir, &sp, &src_name).map_err(Error::Invalid)?;
                    check_overwrite(&plan, src_dir, &format!("{name}:{dest}"))?;
                    let (reader, writer) =
                        io::pipe().map_err(|e| Error::Sys("make a pipe".into(), e))?;
                    let target = fd_path(plan.dir);
                    let as_name = plan.as_name.clone();
                    std::thread::scope(|s| {
                        let write = s.spawn(move || {
                            layer::write_entry(
                                found.parent.as_fd(),
                                &found.name,
                                &as_name,
                                owner,
                                writer,
                            )
                        });
                        let extracted = layer::extract(reader, &target, None);
                        let written = write.join().unwrap_or_else(|_| {
                            Err(layer::Error::Io(
                                "tug cp".into(),
                                io::Error::other("the reading thread panicked"),
                            ))
                        });
                        Ok(first_cause(written.map(|_| ()), extracted.map(|_| ()))?)
                    })
                }
                (CopyIn::Path(_), None) => Err(Error::Invalid("no source".into()).into()),
            }
        })
    }
}

/// The uid and gid of the container's `--user`, through its /etc/passwd and /etc/group.
fn container_user(root: BorrowedFd<'_>, user: &str) -> Result<(u32, u32), Error> {
    let passwd = read_in_root(root, b"etc/passwd");
    let group = read_in_root(root, b"etc/group");
    let u = crate::sandbox::user::resolve(user, &passwd, &group)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    Ok((u.uid, u.gid))
}

/// A text file of the container (empty when it is missing or unreadable).
fn read_in_root(root: BorrowedFd<'_>, rel: &[u8]) -> String {
    let read = || -> io::Result<String> {
        let f = locate_in_root(root, rel, true)?;
        let fd = rustix::fs::openat(
            &f.parent,
            &f.name[..],
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut text = String::new();
        std::fs::File::from(fd)
            .take(1 << 20)
            .read_to_string(&mut text)?;
        Ok(text)
    };
    read().unwrap_or_default()
}

/// The destination in the container, resolved in its root.
fn container_dest(root: BorrowedFd<'_>, dp: &CpPath) -> Dest {
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
fn host_dest(p: &Path) -> Result<(Dest, CpPath), Error> {
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
fn host_source(p: &Path, follow: bool) -> Result<(Found, CpPath), Error> {
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
    let path = if follow {
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
