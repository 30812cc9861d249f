//! /sys/fs/cgroup inside a container: read-only, and rooted at the container's own cgroup
//! because the init mounts it after it joined its cgroup and unshared its cgroup
//! namespace. On v2 one cgroup2 mount; on v1 a tmpfs holding each controller hierarchy
//! of the host (as Docker does). In the host's cgroup namespace (`--cgroupns host`) the
//! container's own cgroup is bound over each mount, as runc does.

use crate::sandbox::StepError;
use nix::mount::{MsFlags, mount};

/// One cgroupfs to mount under /sys/fs/cgroup: the dir name (empty: /sys/fs/cgroup
/// itself), the file system type and the mount data (v1's controller list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub dir: String,
    pub fstype: &'static str,
    pub data: String,
}

/// Which cgroup file systems to mount, from the host's mountinfo text: cgroup2 when it
/// is at /sys/fs/cgroup (unified), else the v1 hierarchies of the `joined` controllers.
/// The others (named ones such as `name=systemd`, a hybrid host's `unified/`, v1
/// controllers tug did not place the init in) are left out: the container would see the
/// host's tree there.
pub fn plan(mountinfo: &str, joined: &[&str]) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // id parent major:minor root mountpoint options [optional...] - fstype source super
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = left.split_whitespace().nth(4) else {
            continue;
        };
        let mut r = right.split_whitespace();
        let (Some(fstype), Some(_source), Some(sup)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        match fstype {
            "cgroup2" if point == "/sys/fs/cgroup" => {
                return vec![CgroupMount {
                    dir: String::new(),
                    fstype: "cgroup2",
                    data: String::new(),
                }];
            }
            "cgroup" => {
                let Some(dir) = point.strip_prefix("/sys/fs/cgroup/") else {
                    continue;
                };
                let controllers: Vec<&str> = sup
                    .split(',')
                    .filter(|o| super::v1::CONTROLLERS.contains(o) || known_v1(o))
                    .collect();
                let in_it = controllers.iter().any(|c| joined.contains(c));
                if !in_it || dir.contains('/') {
                    continue;
                }
                out.push(CgroupMount {
                    dir: dir.to_string(),
                    fstype: "cgroup",
                    data: controllers.join(","),
                });
            }
            _ => {}
        }
    }
    out
}

/// v1 controllers tug does not manage but that a container may still see.
fn known_v1(o: &str) -> bool {
    matches!(
        o,
        "devices" | "net_cls" | "net_prio" | "hugetlb" | "perf_event" | "rdma" | "misc"
    )
}

/// The process's cgroup in the hierarchy of `m`, from `/proc/self/cgroup` text
/// (`4:memory:/tug/...`, `0::/...` on v2).
fn own_path(proc_cgroup: &str, m: &CgroupMount) -> Option<String> {
    let want: std::collections::BTreeSet<&str> =
        m.data.split(',').filter(|c| !c.is_empty()).collect();
    proc_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        let have: std::collections::BTreeSet<&str> =
            controllers.split(',').filter(|c| !c.is_empty()).collect();
        (have == want).then(|| path.to_string())
    })
}

/// Binds the process's own cgroup of the cgroupfs at `target` over it, read-only: what
/// a container in the host's cgroup namespace sees of the tree (runc's way).
fn bind_own(target: &str, proc_cgroup: &str, m: &CgroupMount) -> Result<(), StepError> {
    let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let path = own_path(proc_cgroup, m).ok_or_else(|| {
        StepError::msg(format!(
            "no cgroup of the container's for {target} in /proc/self/cgroup"
        ))
    })?;
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|p| p == "..") {
        return Err(StepError::msg(format!("cgroup path {path:?}")));
    }
    let source = format!("{target}/{rel}");
    mount(
        Some(source.as_str()),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| StepError::new(format!("binding {source} on {target}"), e))?;
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | ro,
        None::<&str>,
    )
    .map_err(|e| StepError::new(format!("making {target} read-only"), e))
}

/// Mounts `plan` at /sys/fs/cgroup, read-only (inside the container, after pivot_root
/// and the cgroup namespace unshare). With `own` (the process's `/proc/self/cgroup`,
/// when it stays in the host's cgroup namespace) each mount shows its own cgroup only.
pub fn mount_all(plan: &[CgroupMount], own: Option<&str>) -> Result<(), StepError> {
    let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let base = "/sys/fs/cgroup";
    if let [m] = plan
        && m.dir.is_empty()
    {
        mount(Some("cgroup"), base, Some(m.fstype), ro, None::<&str>)
            .map_err(|e| StepError::new(format!("mounting cgroup2 on {base}"), e))?;
        if let Some(own) = own {
            bind_own(base, own, m)?;
        }
        return Ok(());
    }
    if plan.is_empty() {
        return Ok(());
    }
    mount(
        Some("tmpfs"),
        base,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755,size=64k"),
    )
    .map_err(|e| StepError::new(format!("mounting a tmpfs on {base}"), e))?;
    for m in plan {
        let target = format!("{base}/{}", m.dir);
        std::fs::create_dir(&target).map_err(|e| StepError::new(format!("mkdir {target}"), e))?;
        mount(
            Some("cgroup"),
            target.as_str(),
            Some(m.fstype),
            ro,
            Some(m.data.as_str()),
        )
        .map_err(|e| StepError::new(format!("mounting cgroup {} on {target}", m.data), e))?;
        if let Some(own) = own {
            bind_own(&target, own, m)?;
        }
    }
    mount(
        None::<&str>,
        base,
        None::<&str>,
        MsFlags::MS_REMOUNT | ro,
        Some("mode=755,size=64k"),
    )
    .map_err(|e| StepError::new(format!("making {base} read-only"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_paths_are_found_per_hierarchy() {
        let proc = "6:cpu,cpuacct:/tug/h/c\n4:memory:/tug/h/c\n1:name=systemd:/\n0::/x\n";
        let m = |data: &str| CgroupMount {
            dir: "d".into(),
            fstype: "cgroup",
            data: data.into(),
        };
        assert_eq!(own_path(proc, &m("memory")).as_deref(), Some("/tug/h/c"));
        assert_eq!(
            own_path(proc, &m("cpuacct,cpu")).as_deref(),
            Some("/tug/h/c")
        );
        assert_eq!(own_path(proc, &m("")).as_deref(), Some("/x"));
        assert_eq!(own_path(proc, &m("pids")), None);
    }

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:12 - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct
35 30 0:31 / /sys/fs/cgroup/devices rw,nosuid shared:14 - cgroup cgroup rw,devices
";

    #[test]
    fn hybrid_hosts_give_their_v1_controllers() {
        let p = plan(HYBRID, &["memory", "cpuacct"]);
        let dirs: Vec<(&str, &str)> = p
            .iter()
            .map(|m| (m.dir.as_str(), m.data.as_str()))
            .collect();
        assert_eq!(
            dirs,
            vec![("memory", "memory"), ("cpu,cpuacct", "cpu,cpuacct")],
            "devices is left out: the init is not in a devices cgroup of its own"
        );
    }

    #[test]
    fn unified_hosts_give_one_cgroup2_mount() {
        let p = plan(
            "29 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n",
            &[],
        );
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].fstype, "cgroup2");
        assert!(p[0].dir.is_empty());
    }
}
