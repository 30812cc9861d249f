//! cgroup v1: one hierarchy per controller (`<root>/memory`, `<root>/cpu`, ...), the
//! container's cgroup made in each one it needs. Legacy and hybrid hosts use this.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{CgroupManager, Error, Resources, Stats, fs};

/// Every v1 controller tug knows, in the order it makes them.
pub const CONTROLLERS: &[&str] = &[
    "memory", "pids", "freezer", "cpuacct", "blkio", "devices", "cpu", "cpuset",
];

/// The controllers made for every container: enough for `stats`, `pause` and OOM
/// detection. `cpu` and `cpuset` are added only when their limits are set (each
/// hierarchy costs a mkdir and a migration on every start).
const ALWAYS: &[&str] = &["memory", "pids", "freezer", "cpuacct", "blkio", "devices"];

/// A memory limit this large means "unlimited" (the kernel rounds its "-1" down to a page).
const UNLIMITED: u64 = 1 << 62;

/// A container's cgroup in the v1 hierarchies under `root`.
#[derive(Debug)]
pub struct V1Manager {
    root: PathBuf,
    rel: PathBuf,
    /// The controllers `create` makes.
    wanted: Vec<&'static str>,
}

/// The controllers a container with these limits is placed in.
pub fn controllers_for(cpu: bool, cpuset: bool) -> Vec<&'static str> {
    let mut wanted = ALWAYS.to_vec();
    if cpu {
        wanted.push("cpu");
    }
    if cpuset {
        wanted.push("cpuset");
    }
    wanted
}

/// [`controllers_for`] the limits of an OCI runtime spec (the init's view).
pub fn controllers_for_spec(spec: &oci_spec::runtime::Spec) -> Vec<&'static str> {
    let cpu = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.cpu().as_ref());
    controllers_for(
        cpu.is_some_and(|c| c.shares().is_some() || c.quota().is_some() || c.period().is_some()),
        cpu.is_some_and(|c| c.cpus().is_some() || c.mems().is_some()),
    )
}

impl V1Manager {
    /// The cgroup `rel` (relative to each hierarchy) for `resources`.
    pub fn new(root: &Path, rel: PathBuf, resources: &Resources) -> V1Manager {
        let wanted = controllers_for(
            resources.cpu_shares > 0 || resources.cfs_quota_period().is_some(),
            !resources.cpuset_cpus.is_empty() || !resources.cpuset_mems.is_empty(),
        );
        V1Manager {
            root: root.to_path_buf(),
            rel,
            wanted,
        }
    }

    /// The hierarchy of `controller` (`<root>/<controller>`), if the host has it.
    fn hierarchy(&self, controller: &str) -> Option<PathBuf> {
        let h = self.root.join(controller);
        h.is_dir().then_some(h)
    }

    /// The container's dir in `controller`'s hierarchy (whether or not it exists).
    pub fn dir(&self, controller: &str) -> PathBuf {
        self.root.join(controller).join(&self.rel)
    }

    /// The container's dir in `controller`, or an error naming what is missing.
    fn existing(&self, controller: &str) -> Result<PathBuf, Error> {
        let d = self.dir(controller);
        if d.is_dir() {
            Ok(d)
        } else {
            Err(Error::Unsupported(format!(
                "the container has no {controller} cgroup ({})",
                d.display()
            )))
        }
    }

    fn file(&self, controller: &str, name: &str) -> PathBuf {
        self.dir(controller).join(name)
    }

    /// The hierarchies the container's cgroup exists in, each once (co-mounted
    /// controllers such as `cpu,cpuacct` share a dir).
    fn existing_dirs(&self) -> Vec<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        // A dir is known by its device and inode: one stat each, where resolving every
        // component of the path (a readlink each) cost more on the exit's path.
        let mut seen: Vec<(u64, u64)> = Vec::new();
        let mut out: Vec<PathBuf> = Vec::new();
        for c in CONTROLLERS {
            let d = self.dir(c);
            if let Ok(m) = std::fs::metadata(&d)
                && m.is_dir()
                && !seen.contains(&(m.dev(), m.ino()))
            {
                seen.push((m.dev(), m.ino()));
                out.push(d);
            }
        }
        out
    }
}

/// A new cpuset cgroup has no CPUs and no memory nodes: it takes its parent's.
fn inherit_cpuset(dir: &Path) -> Result<(), Error> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for f in ["cpuset.cpus", "cpuset.mems"] {
        if fs::read(&dir.join(f))?.trim().is_empty() {
            let v = fs::read(&parent.join(f))?;
            fs::write(&dir.join(f), v.trim())?;
        }
    }
    Ok(())
}

impl CgroupManager for V1Manager {
    fn path(&self) -> &Path {
        &self.rel
    }

    fn create(&self) -> Result<(), Error> {
        for c in &self.wanted {
            let Some(h) = self.hierarchy(c) else {
                if ALWAYS.contains(c) {
                    // Stats and pause degrade without it; limits check their own files.
                    continue;
                }
                return Err(Error::Unsupported(format!(
                    "the host has no {c} cgroup hierarchy under {}",
                    self.root.display()
                )));
            };
            if *c == "cpuset" {
                fs::mkdir_all(&h, &self.rel, inherit_cpuset)?;
            } else {
                fs::mkdir_all(&h, &self.rel, |_| Ok(()))?;
            }
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<(), Error> {
        for d in self.existing_dirs() {
            fs::write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn apply(&self, r: &Resources) -> Result<(), Error> {
        if r.memory > 0 {
            fs::write(
                &self.file("memory", "memory.limit_in_bytes"),
                &r.memory.to_string(),
            )?;
            let memsw = self.file("memory", "memory.memsw.limit_in_bytes");
            // Without swap accounting the kernel has no memsw file: Docker then limits
            // memory without swap, and so does tug.
            if r.memory_swap != 0 && memsw.exists() {
                fs::write(&memsw, &r.memory_swap.to_string())?;
            }
        }
        if r.memory_reservation > 0 {
            fs::write(
                &self.file("memory", "memory.soft_limit_in_bytes"),
                &r.memory_reservation.to_string(),
            )?;
        }
        if r.cpu_shares > 0 {
            self.existing("cpu")?;
            fs::write(&self.file("cpu", "cpu.shares"), &r.cpu_shares.to_string())?;
        }
        if let Some((quota, period)) = r.cfs_quota_period() {
            self.existing("cpu")?;
            fs::write(&self.file("cpu", "cpu.cfs_period_us"), &period.to_string())?;
            fs::write(&self.file("cpu", "cpu.cfs_quota_us"), &quota.to_string())?;
        }
        if !r.cpuset_cpus.is_empty() {
            self.existing("cpuset")?;
            fs::write(&self.file("cpuset", "cpuset.cpus"), &r.cpuset_cpus)?;
        }
        if let Some(max) = r.pids_max() {
            self.existing("pids")?;
            fs::write(&self.file("pids", "pids.max"), &max.to_string())?;
        }
        if !r.cpuset_mems.is_empty() {
            self.existing("cpuset")?;
            fs::write(&self.file("cpuset", "cpuset.mems"), &r.cpuset_mems)?;
        }
        for (list, file) in [
            (&r.device_read_bps, "blkio.throttle.read_bps_device"),
            (&r.device_write_bps, "blkio.throttle.write_bps_device"),
            (&r.device_read_iops, "blkio.throttle.read_iops_device"),
            (&r.device_write_iops, "blkio.throttle.write_iops_device"),
        ] {
            for d in list {
                let line = format!("{} {}", d.numbers()?, d.rate);
                fs::write(&self.file("blkio", file), &line)?;
            }
        }
        if r.oom_kill_disable == Some(true) {
            fs::write(&self.file("memory", "memory.oom_control"), "1")?;
        }
        if let Some(s) = r.memory_swappiness {
            fs::write(&self.file("memory", "memory.swappiness"), &s.to_string())?;
        }
        if r.blkio_weight > 0 {
            let dir = self.dir("blkio");
            let f = ["blkio.weight", "blkio.bfq.weight"]
                .iter()
                .map(|n| dir.join(n))
                .find(|f| f.exists());
            if let Some(f) = f {
                fs::write(&f, &r.blkio_weight.to_string())?;
            }
        }
        Ok(())
    }

    fn apply_devices(&self, rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<(), Error> {
        if rules.is_empty() {
            return Ok(());
        }
        let dir = self.existing("devices")?;
        super::devices::apply_v1(&dir, rules)
    }

    fn stats(&self) -> Result<Stats, Error> {
        let mut s = Stats::default();
        if self.dir("cpuacct").is_dir() {
            s.cpu_usage_ns = fs::read_u64(&self.file("cpuacct", "cpuacct.usage"))?.unwrap_or(0);
        }
        if self.dir("memory").is_dir() {
            let usage = fs::read_u64(&self.file("memory", "memory.usage_in_bytes"))?.unwrap_or(0);
            let stat = fs::read(&self.file("memory", "memory.stat"))?;
            s.memory_usage = usage.saturating_sub(fs::keyed(&stat, "total_inactive_file"));
            s.memory_limit = fs::read_u64(&self.file("memory", "memory.limit_in_bytes"))?
                .filter(|l| *l < UNLIMITED);
        }
        if self.dir("pids").is_dir() {
            s.pids = fs::read_u64(&self.file("pids", "pids.current"))?.unwrap_or(0);
        }
        if self.dir("blkio").is_dir() {
            // CFQ's file (old kernels), then the throttle's and BFQ's; the first that
            // counts anything.
            for name in [
                "blkio.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes_recursive",
                "blkio.bfq.io_service_bytes_recursive",
            ] {
                let Ok(text) = std::fs::read_to_string(self.file("blkio", name)) else {
                    continue;
                };
                for l in text.lines() {
                    let mut w = l.split_whitespace();
                    let (Some(_dev), Some(op), Some(v)) = (w.next(), w.next(), w.next()) else {
                        continue;
                    };
                    let v: u64 = v.parse().unwrap_or(0);
                    match op {
                        "Read" => s.block_read += v,
                        "Write" => s.block_write += v,
                        _ => {}
                    }
                }
                if s.block_read + s.block_write > 0 {
                    break;
                }
            }
            if s.block_read + s.block_write == 0 {
                (s.block_read, s.block_write) = fs::task_io(&self.dir("blkio"));
            }
        }
        Ok(s)
    }

    fn freeze(&self) -> Result<(), Error> {
        let state = self.existing("freezer")?.join("freezer.state");
        fs::wait_until(Duration::from_secs(5), "the container to freeze", || {
            // Freezing may stall on a task in an uninterruptible sleep: ask again.
            fs::write(&state, "FROZEN")?;
            Ok(fs::read(&state)?.trim() == "FROZEN")
        })
        .inspect_err(|_| {
            let _ = fs::write(&state, "THAWED");
        })
    }

    fn thaw(&self) -> Result<(), Error> {
        let state = self.existing("freezer")?.join("freezer.state");
        fs::write(&state, "THAWED")?;
        fs::wait_until(Duration::from_secs(5), "the container to thaw", || {
            Ok(fs::read(&state)?.trim() == "THAWED")
        })
    }

    fn is_frozen(&self) -> Result<bool, Error> {
        let state = self.dir("freezer").join("freezer.state");
        if !state.exists() {
            return Ok(false);
        }
        Ok(fs::read(&state)?.trim() != "THAWED")
    }

    fn oom_kills(&self) -> Result<u64, Error> {
        let f = self.file("memory", "memory.oom_control");
        if !f.exists() {
            return Ok(0);
        }
        Ok(fs::keyed(&fs::read(&f)?, "oom_kill"))
    }

    fn pids(&self) -> Result<Vec<i32>, Error> {
        match self.existing_dirs().first() {
            Some(d) => fs::procs(d),
            None => Ok(Vec::new()),
        }
    }

    fn remove(&self) -> Result<(), Error> {
        // Frozen processes would not die of SIGKILL on v1: thaw them first.
        if self.is_frozen().unwrap_or(false) {
            let _ = fs::write(&self.file("freezer", "freezer.state"), "THAWED");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut first_err = None;
        for d in self.existing_dirs() {
            if let Err(e) = fs::kill_and_rmdir(&d, deadline) {
                first_err.get_or_insert(e);
            }
        }
        for c in CONTROLLERS {
            if let Some(h) = self.hierarchy(c) {
                fs::rmdir_empty_parents(&h, &self.rel);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
