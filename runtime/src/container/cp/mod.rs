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

use rustix::fs::{FileType, Mode, OFlags};

use super::Error;
use super::commit::{is_running, with_mounted};
use super::lifecycle::rootfs_source;
use super::record::Container;
use crate::container::Ctx;
use crate::layer;
use crate::sandbox::RootfsSource;
use crate::sandbox::mounts::{RootDir, mount_in_root};

mod paths;

use paths::{
    CpPath, Found, base_name, check_overwrite, container_dest, host_dest, host_source,
    locate_in_root, plan,
};

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
) -> super::Result<u64> {
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
        let size = extracted.as_ref().map_or(0, |st| st.tar_size);
        first_cause(written.map(|_| ()), extracted.map(|_| ()))?;
        Ok(size)
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

/// A writer that counts the bytes through it.
struct Counted<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Runs `f` with the container's root: the running container's as its processes see it,
/// a stopped one's rootfs mounted for the moment (see [`with_mounted`]), or the vfs dir.
/// A stopped overlay container also gets its volumes and bind mounts mounted over that
/// rootfs (in the mounting thread's own namespace), so that a copy into `/data` reaches
/// the volume there, as Docker's does.
fn with_root<T: Send>(
    cx: &Ctx<'_>,
    c: &Container,
    f: impl FnOnce(&Path) -> super::Result<T> + Send,
) -> super::Result<T> {
    if is_running(c) {
        return f(Path::new(&format!("/proc/{}/root", c.state.pid)));
    }
    match rootfs_source(c)? {
        RootfsSource::Dir(dir) => f(&dir),
        RootfsSource::Overlay(r) => {
            let binds = bind_mounts(cx, c);
            with_mounted(&r, |root| {
                if !binds.is_empty() {
                    let rd = RootDir::open(root).map_err(|e| Error::io(root, e.into()))?;
                    for m in &binds {
                        let opts = m.options().clone().unwrap_or_default();
                        mount_in_root(
                            &rd,
                            m.destination(),
                            m.typ().as_deref(),
                            m.source().as_deref(),
                            &opts,
                        )
                        .map_err(|e| Error::Invalid(format!("tug cp: {}", crate::Report(&e))))?;
                    }
                }
                f(root)
            })?
        }
    }
}

/// The bind mounts of container `c`'s spec (volumes, `-v` host dirs), but for tug's
/// generated /etc files (see [`generated_file`]).
fn bind_mounts(cx: &Ctx<'_>, c: &Container) -> Vec<oci_spec::runtime::Mount> {
    let Ok(spec) = cx.container_store().load_spec(&c.id) else {
        return Vec::new();
    };
    let generated = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];
    spec.mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            let opts = m.options().as_deref().unwrap_or_default();
            let bind = m.typ().as_deref() == Some("bind")
                || opts.iter().any(|o| o == "bind" || o == "rbind");
            bind && !generated.iter().any(|g| m.destination() == Path::new(g))
        })
        .collect()
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

impl Ctx<'_> {
    /// The work of `Engine::copy_from_container`.
    pub(crate) fn copy_from_container(
        &self,
        name: &str,
        src: &str,
        dest: CopyOut<'_>,
        opts: CopyOptions,
    ) -> super::Result<u64> {
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
        let copy = |root: &Path| -> super::Result<u64> {
            let root = open_root(root)?;
            // A trailing `/` or `/.` goes through a symlink to a dir, as in Docker.
            let found = locate_in_root(root.as_fd(), &rel, opts.follow_link || sp.asserts_dir)
                .map_err(|_| not_found(src.as_bytes(), name))?;
            let src_dir = FileType::from_raw_mode(found.st.st_mode) == FileType::Directory;
            match (dest, host) {
                (CopyOut::Tar(out), _) => {
                    if sp.asserts_dir && !src_dir {
                        return Err(Error::Invalid("not a directory".into()));
                    }
                    let as_name = if sp.contents { b".".to_vec() } else { src_name };
                    let mut counted = Counted { inner: out, n: 0 };
                    layer::write_entry(
                        found.parent.as_fd(),
                        &found.name,
                        &as_name,
                        None,
                        &mut counted,
                    )?;
                    Ok(counted.n)
                }
                (CopyOut::Path(_), Some((dst, dst_path))) => {
                    let plan =
                        plan(&dst, &dst_path, src_dir, &sp, &src_name).map_err(Error::Invalid)?;
                    check_overwrite(&plan, src_dir, &dest_shown)?;
                    copy_through_pipe(&found, &plan.as_name, Some(owner), plan.dir)
                }
                (CopyOut::Path(_), None) => Err(Error::Invalid("no destination".into())),
            }
        };
        match root_path {
            Some(dir) => copy(&dir),
            None => with_root(self, &c, copy),
        }
    }

    /// The work of `Engine::copy_to_container`.
    pub(crate) fn copy_to_container(
        &self,
        name: &str,
        src: CopyIn<'_>,
        dest: &str,
        opts: CopyOptions,
    ) -> super::Result<u64> {
        let c = self.container(name)?;
        let dp = CpPath::parse(dest.as_bytes());
        let source = match &src {
            CopyIn::Path(p) => Some(host_source(p, opts.follow_link)?),
            CopyIn::Tar(_) => None,
        };
        let user = c.config.user.clone();
        with_root(self, &c, |root| {
            let root = open_root(root)?;
            let owner = match (opts.archive, user.as_str()) {
                (true, u) if !u.is_empty() => Some(container_user(root.as_fd(), u)?),
                _ => None,
            };
            let dst = container_dest(root.as_fd(), &dp);
            if let Some((fd, false)) = &dst.existing
                && rustix::fs::fstat(fd)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) != FileType::RegularFile)
            {
                return Err(Error::Invalid(format!(
                    "destination \"{name}:{dest}\" must be a directory or regular file"
                )));
            }
            match (src, source) {
                (CopyIn::Tar(input), _) => {
                    let Some((dir, true)) = &dst.existing else {
                        return Err(Error::Invalid(format!(
                            "destination \"{name}:{dest}\" must be a directory"
                        )));
                    };
                    let st = layer::extract(input, &fd_path(dir.as_fd()), owner)?;
                    Ok(st.tar_size)
                }
                (CopyIn::Path(_), Some((found, sp))) => {
                    let src_dir = FileType::from_raw_mode(found.st.st_mode) == FileType::Directory;
                    if dst.existing.is_none() && dst.parent.is_none() {
                        return Err(not_found(&dp.path, name));
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
                        let size = extracted.as_ref().map_or(0, |st| st.tar_size);
                        first_cause(written.map(|_| ()), extracted.map(|_| ()))?;
                        Ok(size)
                    })
                }
                (CopyIn::Path(_), None) => Err(Error::Invalid("no source".into())),
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

impl Ctx<'_> {
    /// The work of `Engine::connect_unix`: a unix socket at `path` in running container
    /// `name`, found with the container's root as `/` (no symlink of the image can point
    /// the host at a socket of its own), and connected through its `O_PATH` fd.
    pub(crate) fn connect_unix(
        &self,
        name: &str,
        path: &str,
    ) -> super::Result<std::os::unix::net::UnixStream> {
        let c = self.container(name)?;
        if !is_running(&c) {
            return Err(Error::Invalid(format!(
                "container {} is not running",
                c.short_name()
            )));
        }
        let root = open_root(Path::new(&format!("/proc/{}/root", c.state.pid)))?;
        let fd = paths::open_in_root(root.as_fd(), path.as_bytes(), false)
            .map_err(|e| Error::io(Path::new(path), e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| Error::io(Path::new(path), e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Socket {
            return Err(Error::Invalid(format!(
                "{path} in container {} is not a socket",
                c.short_name()
            )));
        }
        let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
        std::os::unix::net::UnixStream::connect(&via).map_err(|e| Error::io(Path::new(path), e))
    }
}

/// What the archive API says of a path in a container (Docker's `ContainerPathStat`):
/// its base name, size, mode bits (`st_mode`), modification time (Unix seconds) and,
/// for a symlink, its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: i64,
    pub link_target: String,
}

impl Ctx<'_> {
    /// The work of `Engine::stat_container_path`.
    pub(crate) fn stat_container_path(&self, name: &str, path: &str) -> super::Result<PathStat> {
        let c = self.container(name)?;
        let sp = CpPath::parse(path.as_bytes());
        let rel = sp.in_root();
        let stat = |root: &Path| -> super::Result<PathStat> {
            let root = open_root(root)?;
            let found = locate_in_root(root.as_fd(), &rel, sp.asserts_dir)
                .map_err(|_| not_found(path.as_bytes(), name))?;
            let link_target = if FileType::from_raw_mode(found.st.st_mode) == FileType::Symlink {
                rustix::fs::readlinkat(found.parent.as_fd(), found.name.as_slice(), Vec::new())
                    .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            Ok(PathStat {
                name: String::from_utf8_lossy(&base_name(&sp.path)).into_owned(),
                size: found.st.st_size,
                mode: found.st.st_mode,
                mtime: found.st.st_mtime,
                link_target,
            })
        };
        with_root(self, &c, stat)
    }
}
