//! The init joins its cgroup itself on v1: a thread that writes `0` into a v1 `tasks`
//! file moves only itself, which the kernel does without the global threadgroup lock;
//! moving another process by pid (`cgroup.procs`) takes that lock and waits for an RCU
//! grace period, about 10 ms on every start. So the supervisor makes the cgroup and
//! writes the limits, and the released init moves itself in before it unshares its
//! cgroup namespace and execs. On v2 the supervisor moves it (there is no per-thread
//! move across domains).

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::Mode;

use super::{detect, v1};
use crate::sandbox::StepError;

/// What the init needs to join its v1 cgroups after pivot_root: a handle on each
/// controller hierarchy's root, opened before, and the cgroup's path below them.
#[derive(Debug)]
pub struct JoinPlan {
    hierarchies: Vec<(&'static str, OwnedFd)>,
    rel: PathBuf,
}

/// Before pivot_root: the plan to join the spec's `linux.cgroupsPath` (below the cgroup
/// file system at `root`, the engine's setting) in the v1
/// hierarchies of the controllers its limits need; `None` on v2 (the supervisor moves
/// the init there) or when the spec names no cgroup.
pub fn prepare(
    spec: &oci_spec::runtime::Spec,
    root: &std::path::Path,
) -> Result<Option<JoinPlan>, StepError> {
    let Some(path) = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) else {
        return Ok(None);
    };
    if !detect(root)
        .map_err(|e| StepError::msg(crate::report(&e)))?
        .is_v1()
    {
        return Ok(None);
    }
    let rel = path.strip_prefix("/").unwrap_or(&path).to_path_buf();
    let mut hierarchies = Vec::new();
    for c in v1::controllers_for_spec(spec) {
        let h = root.join(c);
        match open(
            &h,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => hierarchies.push((c, fd)),
            // The host lacks this hierarchy: the supervisor made no cgroup there either.
            Err(nix::Error::ENOENT) => {}
            Err(e) => return Err(StepError::new(format!("opening {}", h.display()), e)),
        }
    }
    Ok(Some(JoinPlan { hierarchies, rel }))
}

/// After the start: moves the calling (single-threaded) init into its cgroup in each
/// hierarchy.
pub fn join(plan: JoinPlan) -> Result<(), StepError> {
    let tasks = plan.rel.join("tasks");
    for (c, fd) in &plan.hierarchies {
        let what = || {
            format!(
                "joining the {c} cgroup {}",
                Path::new(c).join(&tasks).display()
            )
        };
        let f = openat(
            fd.as_fd(),
            &tasks,
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| StepError::new(what(), e))?;
        std::fs::File::from(f)
            .write_all(b"0")
            .map_err(|e| StepError::new(what(), e))?;
    }
    Ok(())
}
