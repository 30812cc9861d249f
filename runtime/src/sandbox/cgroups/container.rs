//! A container's cgroup: where it goes, the one call that sets it up for a new init, and
//! a guard that removes it (killing what is left) when the container is done.

use std::path::{Path, PathBuf};

use super::{CgroupManager, Error, Resources, detect, manager};

/// Container `id`'s cgroup path below the hierarchy roots: `tug/<hash>/<id>`, where
/// `<hash>` is the first 12 hex digits of the SHA-256 of the state root's path, so that
/// engines on different state roots never share (or remove) each other's parents.
pub fn cgroup_path(state_root: &Path, id: &str) -> PathBuf {
    let hash = crate::Digest::of(state_root.as_os_str().as_encoded_bytes());
    Path::new("tug").join(hash.short()).join(id)
}

/// Container `id`'s cgroup path with `--cgroup-parent` `parent` (`<parent>/<id>`, as
/// Docker's cgroupfs driver makes it), or without one (`parent` empty) [`cgroup_path`].
pub fn container_cgroup_path(state_root: &Path, id: &str, parent: &str) -> PathBuf {
    let parent = parent.trim_matches('/');
    if parent.is_empty() {
        cgroup_path(state_root, id)
    } else {
        Path::new(parent).join(id)
    }
}

/// Checks a `--cgroup-parent`: a path below the hierarchies' roots, never above.
pub fn check_parent(parent: &str) -> Result<(), Error> {
    let bad = Path::new(parent).components().any(|c| {
        matches!(
            c,
            std::path::Component::ParentDir | std::path::Component::CurDir
        )
    });
    if bad || parent.contains('\0') {
        return Err(Error::Invalid(format!(
            "--cgroup-parent {parent:?}: a cgroup path without . or .. components"
        )));
    }
    Ok(())
}

/// A container's cgroup, removed (with every process left in it) on drop unless
/// [`ContainerCgroup::remove`] already did.
#[derive(Debug)]
pub struct ContainerCgroup {
    manager: Box<dyn CgroupManager>,
    removed: bool,
}

impl ContainerCgroup {
    /// The cgroup's manager: stats, freeze, pids.
    pub fn manager(&self) -> &dyn CgroupManager {
        self.manager.as_ref()
    }

    /// How many processes of the container the OOM killer killed so far.
    pub fn oom_kills(&self) -> u64 {
        self.manager.oom_kills().unwrap_or(0)
    }

    /// Kills what is left and removes the cgroup.
    pub fn remove(mut self) -> Result<(), Error> {
        self.removed = true;
        self.manager.remove()
    }
}

impl Drop for ContainerCgroup {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.manager.remove();
        }
    }
}

/// Makes container `id`'s cgroup on state root `state_root`, in the cgroup file system
/// at `cgroup_root` (the engine's setting), and writes its limits;
/// on v2 also moves its init (`pid`, waiting on its sync socket) into it. On v1 the init
/// joins by itself once released, which is much cheaper (see [`super::join`]). Called
/// between `sandbox::clone` and `Sandbox::start`.
pub fn setup_for(
    cgroup_root: &Path,
    state_root: &Path,
    id: &str,
    parent: &str,
    resources: &Resources,
    devices: &[oci_spec::runtime::LinuxDeviceCgroup],
    pid: i32,
) -> Result<ContainerCgroup, Error> {
    let root = cgroup_root;
    let setup = detect(root)?;
    let cg = ContainerCgroup {
        manager: manager(
            root,
            setup,
            container_cgroup_path(state_root, id, parent),
            resources,
        ),
        removed: false,
    };
    cg.manager.create()?;
    cg.manager.apply(resources)?;
    cg.manager.apply_devices(devices)?;
    if !setup.is_v1() {
        cg.manager.add_task(pid)?;
    }
    Ok(cg)
}

/// The manager of container `id`'s existing cgroup (for `stats`, `pause`, `unpause`).
pub fn open_for(
    cgroup_root: &Path,
    state_root: &Path,
    id: &str,
    parent: &str,
) -> Result<Box<dyn CgroupManager>, Error> {
    let root = cgroup_root;
    let setup = detect(root)?;
    Ok(manager(
        root,
        setup,
        container_cgroup_path(state_root, id, parent),
        &Resources::default(),
    ))
}

/// Changes the limits of container `id`'s running cgroup to `resources` (`tug update`):
/// on v1 the hierarchies the new limits need are made and the container's processes
/// moved into them first.
pub fn update_for(
    cgroup_root: &Path,
    state_root: &Path,
    id: &str,
    parent: &str,
    resources: &Resources,
) -> Result<(), Error> {
    let setup = detect(cgroup_root)?;
    let rel = container_cgroup_path(state_root, id, parent);
    let m = manager(cgroup_root, setup, rel, resources);
    if setup.is_v1() {
        let pids = m.pids()?;
        m.create()?;
        for pid in pids {
            // A process that exited meanwhile is no error.
            let _ = m.add_task(pid);
        }
    }
    m.apply(resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_differ_per_state_root() {
        let a = cgroup_path(Path::new("/var/lib/tug"), "abc");
        let b = cgroup_path(Path::new("/var/tmp/tug-tests/t1/root"), "abc");
        assert_ne!(a, b);
        assert!(a.starts_with("tug"));
        assert_eq!(a.file_name().unwrap(), "abc");
        assert_eq!(a.components().count(), 3);
    }
}
