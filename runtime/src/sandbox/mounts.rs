//! Mounts inside the container's mount namespace: the spec's mounts resolved safely inside
//! the rootfs (symlinks in an image can never point a mount outside it), pivot_root, the
//! masked and read-only /proc paths, and a read-only root.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use crate::sandbox::StepError;
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, mkdirat};

/// A mount's options split as mount(2) wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// The flags for the mount call itself.
    pub flags: MsFlags,
    /// Propagation to apply afterwards (MS_PRIVATE, MS_SLAVE... with MS_REC).
    pub propagation: MsFlags,
    /// File-system specific options (`mode=755,size=65536k`).
    pub data: String,
    /// A bind mount (`bind` or `rbind`).
    pub bind: bool,
}

/// Parses OCI/fstab style options (`ro`, `nosuid`, `rbind`, `mode=755`...).
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut o = MountOptions {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: String::new(),
        bind: false,
    };
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "bind" => {
                o.bind = true;
                (MsFlags::MS_BIND, MsFlags::empty())
            }
            "rbind" => {
                o.bind = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
            }
            "private" | "rprivate" | "slave" | "rslave" | "shared" | "rshared" => {
                let p = match opt.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_SHARED,
                };
                o.propagation = p | if opt.starts_with('r') {
                    MsFlags::MS_REC
                } else {
                    MsFlags::empty()
                };
                continue;
            }
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        o.flags.insert(set);
        o.flags.remove(clear);
    }
    o.data = data.join(",");
    o
}

/// The path of `dest` (absolute, in the container) relative to the rootfs, cleaned
/// lexically (`/a/b/../c` is `a/c`, as Docker cleans it).
pub fn relative(dest: &Path) -> PathBuf {
    super::special::clean_relative(dest)
}

/// An open rootfs: every path inside is resolved with RESOLVE_IN_ROOT, so a symlink in
/// the image (`/proc -> /`) stays inside the rootfs.
pub struct RootDir {
    fd: OwnedFd,
}

fn open_how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

impl RootDir {
    pub fn open(path: &Path) -> nix::Result<RootDir> {
        let fd = crate::fsutil::retry_eagain(|| {
            openat2(
                nix::fcntl::AT_FDCWD,
                path,
                OpenHow::new().flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC),
            )
        })?;
        Ok(RootDir { fd })
    }

    /// Where `fd` (opened inside the root) really is, relative to the root: the path the
    /// kernel resolved, symlinks followed.
    pub fn resolved(&self, fd: &OwnedFd) -> Result<PathBuf, StepError> {
        let link = |f: &OwnedFd| {
            nix::fcntl::readlink(fd_path(f).as_str())
                .map(PathBuf::from)
                .map_err(|e| StepError::new(format!("reading {}", fd_path(f)), e))
        };
        let (root, target) = (link(&self.fd)?, link(fd)?);
        target
            .strip_prefix(&root)
            .map(Path::to_path_buf)
            .map_err(|_| StepError::msg(format!("{} is outside the rootfs", target.display())))
    }

    /// Opens `rel` inside the root as an O_PATH handle.
    pub fn open_path(&self, rel: &Path) -> nix::Result<OwnedFd> {
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        crate::fsutil::retry_eagain(|| openat2(&self.fd, rel, open_how(OFlag::O_PATH)))
    }

    /// Opens the directory `rel` inside the root for reading (its entries).
    pub fn open_dir(&self, rel: &Path) -> nix::Result<OwnedFd> {
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        crate::fsutil::retry_eagain(|| {
            openat2(
                &self.fd,
                rel,
                open_how(OFlag::O_RDONLY | OFlag::O_DIRECTORY),
            )
        })
    }

    /// Makes the directory `rel` and its parents inside the root (as `mkdir -p`). A
    /// dangling symlink on the way is followed inside the root and its target made
    /// there, as Docker does for a mount target.
    pub fn mkdir_all(&self, rel: &Path, mode: u32) -> nix::Result<OwnedFd> {
        let parts = |p: &Path| -> Vec<std::ffi::OsString> {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(n.to_os_string()),
                    Component::ParentDir => Some("..".into()),
                    _ => None,
                })
                .collect()
        };
        let mut path = parts(rel);
        let dir_how = || open_how(OFlag::O_PATH | OFlag::O_DIRECTORY);
        let mut links = 0;
        'walk: loop {
            let mut cur = PathBuf::new();
            let mut fd = self.open_path(Path::new("."))?;
            for (i, name) in path.iter().enumerate() {
                cur.push(name);
                match crate::fsutil::retry_eagain(|| openat2(&self.fd, &cur, dir_how())) {
                    Ok(f) => fd = f,
                    Err(Errno::ENOENT) if name != ".." => {
                        match mkdirat(&fd, name.as_os_str(), Mode::from_bits_truncate(mode)) {
                            Ok(()) => {
                                fd = crate::fsutil::retry_eagain(|| {
                                    openat2(&self.fd, &cur, dir_how())
                                })?
                            }
                            // A dangling symlink: go on from its target, in the root.
                            Err(Errno::EEXIST) => {
                                links += 1;
                                if links > 40 {
                                    return Err(Errno::ELOOP);
                                }
                                let target =
                                    PathBuf::from(nix::fcntl::readlinkat(&fd, name.as_os_str())?);
                                let mut next = if target.is_absolute() {
                                    Vec::new()
                                } else {
                                    path[..i].to_vec()
                                };
                                next.extend(parts(&target));
                                next.extend(path[i + 1..].iter().cloned());
                                path = next;
                                continue 'walk;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(fd);
        }
    }

    /// Makes the file `rel` (empty, if missing) and its parent dirs inside the root: a
    /// target to bind-mount a file on.
    pub fn touch(&self, rel: &Path) -> nix::Result<OwnedFd> {
        if let Ok(fd) = self.open_path(rel) {
            return Ok(fd);
        }
        let parent = rel.parent().unwrap_or(Path::new(""));
        self.mkdir_all(parent, 0o755)?;
        let f = crate::fsutil::retry_eagain(|| {
            openat2(
                &self.fd,
                rel,
                open_how(OFlag::O_CREAT | OFlag::O_WRONLY).mode(Mode::from_bits_truncate(0o644)),
            )
        })?;
        drop(f);
        self.open_path(rel)
    }
}

/// The path through which a mount can target an fd (the handle pins the resolved inode).
pub fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Makes every mount private, so nothing we mount propagates to the host.
pub fn make_private() -> nix::Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
}

/// Mounts one spec mount at `dest` inside the root.
pub fn mount_in_root(
    root: &RootDir,
    dest: &Path,
    typ: Option<&str>,
    source: Option<&Path>,
    options: &[String],
) -> Result<(), StepError> {
    let o = parse_options(options);
    let rel = relative(dest);
    let what = || format!("mounting {} on {}", typ.unwrap_or("bind"), dest.display());
    let target = if o.bind {
        let src = source.ok_or_else(|| StepError::msg(format!("{}: no source", what())))?;
        let is_dir = std::fs::metadata(src)
            .map_err(|e| StepError::new(format!("{}: {}", what(), src.display()), e))?
            .is_dir();
        if is_dir {
            root.mkdir_all(&rel, 0o755)
        } else {
            root.touch(&rel)
        }
    } else {
        root.mkdir_all(&rel, 0o755)
    }
    .map_err(|e| StepError::new(what(), e))?;
    // Checked where the kernel will mount, after the image's symlinks: only the real
    // procfs and sysfs (and a few binds) may land on /proc and /sys.
    let at = root
        .resolved(&target)
        .map_err(|e| StepError::new(what(), e))?;
    let kind = if o.bind { "bind" } else { typ.unwrap_or("") };
    super::special::check(&at, kind, o.bind, || {
        source.map_or(super::special::SourceFs::Other, super::special::source_fs)
    })
    .map_err(|e| StepError::new(what(), e))?;
    let tpath = fd_path(&target);
    let data = (!o.data.is_empty()).then_some(o.data.as_str());
    if o.bind {
        mount(
            source,
            tpath.as_str(),
            None::<&str>,
            o.flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
            None::<&str>,
        )
        .map_err(|e| StepError::new(what(), e))?;
        let extra = o.flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            // The fd still names the old (covered) inode; remount through the path.
            let t2 = root
                .open_path(&rel)
                .map_err(|e| StepError::new(what(), e))?;
            mount(
                None::<&str>,
                fd_path(&t2).as_str(),
                None::<&str>,
                extra | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
                None::<&str>,
            )
            .map_err(|e| StepError::new(format!("{}: remount", what()), e))?;
            // A read-only rbind: the mounts below turn read-only too, where the kernel
            // can (as Docker does).
            if o.flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_REC) {
                match super::volumes::read_only_recursive(&t2) {
                    Ok(()) | Err(Errno::ENOSYS) => {}
                    Err(e) => {
                        return Err(StepError::new(
                            format!("{}: recursive read-only", what()),
                            e,
                        ));
                    }
                }
            }
        }
    } else {
        mount(
            source.or(typ.map(Path::new)),
            tpath.as_str(),
            typ,
            o.flags,
            data,
        )
        .map_err(|e| StepError::new(what(), e))?;
    }
    if !o.propagation.is_empty() {
        let t2 = root
            .open_path(&rel)
            .map_err(|e| StepError::new(what(), e))?;
        mount(
            None::<&str>,
            fd_path(&t2).as_str(),
            None::<&str>,
            o.propagation,
            None::<&str>,
        )
        .map_err(|e| StepError::new(format!("{}: propagation", what()), e))?;
    }
    Ok(())
}

/// Enters `root` as `/`: pivot_root with the old root stacked on top, then detached.
pub fn pivot(root: &Path) -> nix::Result<()> {
    nix::unistd::chdir(root)?;
    nix::unistd::pivot_root(".", ".")?;
    umount2(".", MntFlags::MNT_DETACH)?;
    nix::unistd::chdir("/")
}

/// Hides `paths` (after pivot_root): a dir gets an empty read-only tmpfs, a file
/// /dev/null. Missing paths are skipped, as runc does.
pub fn mask(paths: &[String]) -> Result<(), StepError> {
    for p in paths {
        let r = match std::fs::metadata(p) {
            Err(_) => continue,
            Ok(m) if m.is_dir() => mount(
                Some("tmpfs"),
                p.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            ),
            Ok(_) => mount(
                Some("/dev/null"),
                p.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            ),
        };
        match r {
            // No /dev/null to mask a file with (a host dir bound on /dev): skipped, as
            // runc does.
            Err(Errno::ENOENT) => {}
            r => r.map_err(|e| StepError::new(format!("masking {p}"), e))?,
        }
    }
    Ok(())
}

/// Makes `paths` read-only (after pivot_root). Missing paths are skipped.
pub fn read_only(paths: &[String]) -> Result<(), StepError> {
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            continue;
        }
        mount(
            Some(p.as_str()),
            p.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .and_then(|_| remount_read_only(p))
        .map_err(|e| StepError::new(format!("making {p} read-only"), e))?;
    }
    Ok(())
}

/// Remounts the mount at `path` read-only, keeping nosuid/nodev/noexec as they are.
pub fn remount_read_only(path: &str) -> nix::Result<()> {
    let st = nix::sys::statvfs::statvfs(path)?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    use nix::sys::statvfs::FsFlags;
    for (f, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if st.flags().contains(f) {
            flags |= m;
        }
    }
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_split_into_flags_and_data() {
        let o = parse_options(&opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]));
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
        let o = parse_options(&opts(&["rbind", "rprivate", "ro"]));
        assert!(o.bind);
        assert_eq!(
            o.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
        assert_eq!(o.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        let o = parse_options(&opts(&["ro", "rw"]));
        assert!(o.flags.is_empty());
    }

    #[test]
    fn mkdir_all_follows_dangling_links_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::os::unix::fs::symlink("/elsewhere/deep", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../up/there", r.join("rel")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        let root = RootDir::open(r).unwrap();
        root.mkdir_all(Path::new("abs/sub"), 0o755).unwrap();
        assert!(r.join("elsewhere/deep/sub").is_dir());
        root.mkdir_all(Path::new("rel"), 0o755).unwrap();
        assert!(r.join("up/there").is_dir());
        assert_eq!(
            root.mkdir_all(Path::new("loop/x"), 0o755).unwrap_err(),
            Errno::ELOOP
        );
        root.mkdir_all(Path::new("plain/a/b"), 0o755).unwrap();
        assert!(r.join("plain/a/b").is_dir());
    }

    #[test]
    fn destinations_are_relative_to_the_root() {
        assert_eq!(relative(Path::new("/dev/pts")), PathBuf::from("dev/pts"));
        assert_eq!(relative(Path::new("/../etc/x")), PathBuf::from("etc/x"));
    }
}
