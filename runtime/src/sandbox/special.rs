//! Which mounts may go on /proc and /sys: the container's own procfs and sysfs, tug's
//! cgroup mount, binds of the few /proc files that tools such as lxcfs replace, and binds
//! of the host's own sysfs or cgroupfs below /sys. Anything else there would let an image
//! or a `-v` flag stand in for a file the kernel or tug trusts (a forged
//! `/proc/sys/kernel/cap_last_cap` once kept every capability), so it is refused, at
//! create with the flag's words and again in the init on the destination as resolved
//! inside the rootfs (a symlink in the image cannot steer a mount onto /proc).

use crate::sandbox::StepError;
use std::path::{Component, Path, PathBuf};

/// The /proc files a bind mount may cover (runc's list: what lxcfs and similar provide).
pub const PROC_FILES_ALLOWED: &[&str] = &[
    "proc/cpuinfo",
    "proc/diskstats",
    "proc/meminfo",
    "proc/stat",
    "proc/swaps",
    "proc/uptime",
    "proc/loadavg",
    "proc/slabinfo",
    "proc/pressure/cpu",
    "proc/pressure/io",
    "proc/pressure/memory",
    "proc/sys/kernel/ns_last_pid",
];

/// What file system a bind mount's source is on (asked only for binds below /sys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFs {
    /// sysfs, cgroup or cgroup2: the host's own kernel views.
    KernelView,
    Other,
}

/// The file system kind of `path` on the host.
pub fn source_fs(path: &Path) -> SourceFs {
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    match nix::sys::statfs::statfs(path) {
        Ok(s) => {
            let t = s.filesystem_type().0;
            if [SYSFS_MAGIC, CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC].contains(&t) {
                SourceFs::KernelView
            } else {
                SourceFs::Other
            }
        }
        Err(_) => SourceFs::Other,
    }
}

/// `dest` (absolute or relative to the rootfs) cleaned lexically and made relative:
/// `/a/b/../c` is `a/c`, as Go's `path.Clean` and Docker see it.
pub fn clean_relative(dest: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in dest.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Checks a mount of type `typ` (`bind` for a bind) on `dest`, relative to the rootfs and
/// clean. `source` tells what a bind's source is on; it is asked only when it matters.
pub fn check(
    dest: &Path,
    typ: &str,
    bind: bool,
    source: impl FnOnce() -> SourceFs,
) -> Result<(), StepError> {
    let shown = Path::new("/").join(dest);
    let shown = shown.display();
    let in_proc = dest.starts_with("proc");
    let in_sys = dest.starts_with("sys");
    match typ {
        "proc" if dest == Path::new("proc") => return Ok(()),
        "proc" => {
            return Err(StepError::msg(format!(
                "procfs can only be mounted on /proc, not on {shown}"
            )));
        }
        "sysfs" if dest == Path::new("sys") => return Ok(()),
        "sysfs" => {
            return Err(StepError::msg(format!(
                "sysfs can only be mounted on /sys, not on {shown}"
            )));
        }
        "cgroup" | "cgroup2" if in_sys => return Ok(()),
        _ => {}
    }
    if dest == Path::new("proc") || dest == Path::new("sys") {
        return Err(StepError::msg(format!(
            "{shown} cannot be mounted over: it is the container's own {}",
            if in_proc { "procfs" } else { "sysfs" }
        )));
    }
    if in_proc {
        let d = dest.to_string_lossy();
        if bind && PROC_FILES_ALLOWED.contains(&d.as_ref()) {
            return Ok(());
        }
        return Err(StepError::msg(format!(
            "{shown} cannot be mounted: it is inside /proc (only files such as /proc/cpuinfo and /proc/meminfo may be bind-mounted there)"
        )));
    }
    if in_sys {
        if bind && source() == SourceFs::KernelView {
            return Ok(());
        }
        return Err(StepError::msg(format!(
            "{shown} cannot be mounted: it is inside /sys (only the host's own sysfs or cgroup files may be bind-mounted there)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(dest: &str, typ: &str, bind: bool, fs: SourceFs) -> bool {
        check(&clean_relative(Path::new(dest)), typ, bind, || fs).is_ok()
    }

    #[test]
    fn only_the_real_kernel_views_go_on_proc_and_sys() {
        use SourceFs::*;
        assert!(ok("/proc", "proc", false, Other));
        assert!(ok("/sys", "sysfs", false, Other));
        assert!(ok("/sys/fs/cgroup", "cgroup", false, Other));
        assert!(!ok("/proc", "bind", true, Other));
        assert!(!ok("/proc", "tmpfs", false, Other));
        assert!(!ok("/proc/sys/kernel", "bind", true, Other));
        assert!(!ok("/proc/sys/kernel/cap_last_cap", "bind", true, Other));
        assert!(!ok("/a/../proc", "bind", true, Other));
        assert!(!ok("/etc", "proc", false, Other));
        assert!(!ok("/sys", "bind", true, KernelView));
        assert!(!ok("/sys/kernel", "tmpfs", false, Other));
        assert!(!ok("/sys/fs/cgroup", "bind", true, Other));
        assert!(ok("/sys/fs/cgroup", "bind", true, KernelView));
        assert!(ok("/proc/cpuinfo", "bind", true, Other));
        assert!(!ok("/proc/cpuinfo", "tmpfs", false, Other));
        assert!(ok("/processes", "bind", true, Other));
        assert!(ok("/system", "tmpfs", false, Other));
        assert!(ok("/data", "bind", true, Other));
    }

    #[test]
    fn destinations_clean_as_go_does() {
        assert_eq!(clean_relative(Path::new("/a/b/../c")), PathBuf::from("a/c"));
        assert_eq!(
            clean_relative(Path::new("/../etc/x")),
            PathBuf::from("etc/x")
        );
        assert_eq!(clean_relative(Path::new("/a/./b/")), PathBuf::from("a/b"));
    }
}
