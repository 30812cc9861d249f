//! Which cgroup set-up a host has, found by statfs of the cgroup root (as youki and runc
//! do), never assumed.

use std::path::Path;

use super::Error;

/// The cgroup set-up of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupSetup {
    /// cgroup2 mounted at the root: one hierarchy with every controller.
    Unified,
    /// v1 controller hierarchies under a tmpfs, plus a cgroup2 `unified/` without
    /// controllers: tug uses the v1 controllers.
    Hybrid,
    /// Only v1 controller hierarchies under a tmpfs.
    Legacy,
}

impl CgroupSetup {
    /// Whether the v1 controller hierarchies are used.
    pub fn is_v1(self) -> bool {
        self != CgroupSetup::Unified
    }
}

/// What statfs says a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    Cgroup2,
    Tmpfs,
    Other,
}

/// statfs of `path`: which kind of file system it is (`None` when it does not exist).
pub fn fs_kind(path: &Path) -> Option<FsKind> {
    use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, TMPFS_MAGIC, statfs};
    let st = statfs(path).ok()?;
    let t = st.filesystem_type();
    Some(if t == CGROUP2_SUPER_MAGIC {
        FsKind::Cgroup2
    } else if t == TMPFS_MAGIC {
        FsKind::Tmpfs
    } else {
        FsKind::Other
    })
}

/// Detects the set-up under `root` (normally /sys/fs/cgroup).
pub fn detect(root: &Path) -> Result<CgroupSetup, Error> {
    detect_with(root, fs_kind)
}

/// [`detect`] over any statfs, so that the rules are unit-tested with fake results.
pub fn detect_with(
    root: &Path,
    statfs: impl Fn(&Path) -> Option<FsKind>,
) -> Result<CgroupSetup, Error> {
    match statfs(root) {
        Some(FsKind::Cgroup2) => Ok(CgroupSetup::Unified),
        Some(FsKind::Tmpfs) => match statfs(&root.join("unified")) {
            Some(FsKind::Cgroup2) => Ok(CgroupSetup::Hybrid),
            _ => Ok(CgroupSetup::Legacy),
        },
        Some(FsKind::Other) => Err(Error::Unsupported(format!(
            "{} is neither a cgroup2 mount nor a tmpfs of cgroup v1 hierarchies",
            root.display()
        ))),
        None => Err(Error::Unsupported(format!(
            "{} does not exist: is cgroupfs mounted?",
            root.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(entries: &'static [(&'static str, FsKind)]) -> impl Fn(&Path) -> Option<FsKind> {
        move |p| {
            entries
                .iter()
                .find(|(q, _)| Path::new(q) == p)
                .map(|(_, k)| *k)
        }
    }

    #[test]
    fn cgroup2_at_the_root_is_unified() {
        let s = detect_with(Path::new("/cg"), fake(&[("/cg", FsKind::Cgroup2)]));
        assert_eq!(s.unwrap(), CgroupSetup::Unified);
    }

    #[test]
    fn tmpfs_with_a_cgroup2_unified_is_hybrid() {
        let s = detect_with(
            Path::new("/cg"),
            fake(&[("/cg", FsKind::Tmpfs), ("/cg/unified", FsKind::Cgroup2)]),
        );
        let s = s.unwrap();
        assert_eq!(s, CgroupSetup::Hybrid);
        assert!(s.is_v1());
    }

    #[test]
    fn tmpfs_alone_is_legacy() {
        let s = detect_with(Path::new("/cg"), fake(&[("/cg", FsKind::Tmpfs)]));
        assert_eq!(s.unwrap(), CgroupSetup::Legacy);
        let s = detect_with(
            Path::new("/cg"),
            fake(&[("/cg", FsKind::Tmpfs), ("/cg/unified", FsKind::Tmpfs)]),
        );
        assert_eq!(s.unwrap(), CgroupSetup::Legacy);
    }

    #[test]
    fn anything_else_is_a_clear_error() {
        let e = detect_with(Path::new("/cg"), fake(&[("/cg", FsKind::Other)])).unwrap_err();
        assert!(e.to_string().contains("/cg is neither"), "{e}");
        let e = detect_with(Path::new("/cg"), fake(&[])).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn this_host_is_detected() {
        // Any of the three, but never an error on a Linux host with cgroups.
        detect(Path::new("/sys/fs/cgroup")).unwrap();
    }
}
