//! cgroup v2: one unified hierarchy; controllers are enabled down the tree through
//! `cgroup.subtree_control`. The core files (`cgroup.procs`, `cgroup.freeze`,
//! `cgroup.events`, `cgroup.kill`, `cpu.stat`) work even where no controller is enabled.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::resources::shares_to_weight;
use super::{CgroupManager, Error, Resources, Stats, fs};

/// The controllers tug enables for its cgroups, where the host offers them.
const WANTED: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

/// A container's cgroup in the unified hierarchy under `root`.
#[derive(Debug)]
pub struct V2Manager {
    root: PathBuf,
    rel: PathBuf,
}

impl V2Manager {
    pub fn new(root: &Path, rel: PathBuf) -> V2Manager {
        V2Manager {
            root: root.to_path_buf(),
            rel,
        }
    }

    /// The container's cgroup dir.
    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.rel)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// The file of a controller, or an error saying the controller is missing.
    fn controller_file(&self, controller: &str, name: &str) -> Result<PathBuf, Error> {
        let f = self.file(name);
        if f.exists() {
            return Ok(f);
        }
        // Not given to tug's root (a delegated subtree whose parent keeps it back), or
        // not passed down below it.
        let available = fs::read(&self.root.join("cgroup.controllers")).unwrap_or_default();
        if !available.split_whitespace().any(|c| c == controller) {
            return Err(Error::Unsupported(format!(
                "the {controller} controller is not delegated to {} (it has: {}): the limit needs it",
                self.root.display(),
                available.trim()
            )));
        }
        Err(Error::Unsupported(format!(
            "the {controller} controller is not enabled in {} ({name} is missing)",
            self.dir().display()
        )))
    }
}

/// Enables in `dir`'s children the wanted controllers that `dir` has and does not yet
/// pass down.
fn enable_controllers(dir: &Path) -> Result<(), Error> {
    let available = fs::read(&dir.join("cgroup.controllers"))?;
    let enabled = fs::read(&dir.join("cgroup.subtree_control"))?;
    let missing: Vec<String> = available
        .split_whitespace()
        .filter(|c| WANTED.contains(c) && !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    fs::write(&dir.join("cgroup.subtree_control"), &missing.join(" "))
}

impl CgroupManager for V2Manager {
    fn path(&self) -> &Path {
        &self.rel
    }

    fn create(&self) -> Result<(), Error> {
        enable_controllers(&self.root)?;
        fs::mkdir_all(&self.root, &self.rel, |_| Ok(()))?;
        // Every parent passes the controllers down, whoever made it: a parent that
        // another engine made a moment ago may not have been given them yet.
        let mut dir = self.root.clone();
        let parts: Vec<_> = self.rel.components().collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            dir.push(part);
            enable_controllers(&dir)?;
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<(), Error> {
        fs::write(&self.file("cgroup.procs"), &pid.to_string())
    }

    fn apply(&self, r: &Resources) -> Result<(), Error> {
        if r.memory > 0 {
            let max = self.controller_file("memory", "memory.max")?;
            fs::write(&max, &r.memory.to_string())?;
            let swap = self.file("memory.swap.max");
            if r.memory_swap != 0 && swap.exists() {
                let v = if r.memory_swap < 0 {
                    "max".to_string()
                } else {
                    (r.memory_swap - r.memory).max(0).to_string()
                };
                fs::write(&swap, &v)?;
            }
        }
        if r.memory_reservation > 0 {
            let low = self.controller_file("memory", "memory.low")?;
            fs::write(&low, &r.memory_reservation.to_string())?;
        }
        if r.cpu_shares > 0 {
            let w = self.controller_file("cpu", "cpu.weight")?;
            fs::write(&w, &shares_to_weight(r.cpu_shares as u64).to_string())?;
        }
        if let Some((quota, period)) = r.cfs_quota_period() {
            let max = self.controller_file("cpu", "cpu.max")?;
            let q = if quota > 0 {
                quota.to_string()
            } else {
                "max".into()
            };
            fs::write(&max, &format!("{q} {period}"))?;
        }
        if !r.cpuset_cpus.is_empty() {
            let f = self.controller_file("cpuset", "cpuset.cpus")?;
            fs::write(&f, &r.cpuset_cpus)?;
        }
        if let Some(max) = r.pids_max() {
            let f = self.controller_file("pids", "pids.max")?;
            fs::write(&f, &max.to_string())?;
        }
        if !r.cpuset_mems.is_empty() {
            let f = self.controller_file("cpuset", "cpuset.mems")?;
            fs::write(&f, &r.cpuset_mems)?;
        }
        for (list, key) in [
            (&r.device_read_bps, "rbps"),
            (&r.device_write_bps, "wbps"),
            (&r.device_read_iops, "riops"),
            (&r.device_write_iops, "wiops"),
        ] {
            for d in list {
                let f = self.controller_file("io", "io.max")?;
                fs::write(&f, &format!("{} {key}={}", d.numbers()?, d.rate))?;
            }
        }
        if r.blkio_weight > 0 {
            // Docker's conversion of a blkio weight (10-1000) to io.weight (1-10000).
            let w = 1 + (u64::from(r.blkio_weight) - 10) * 9999 / 990;
            for (name, value) in [("io.bfq.weight", r.blkio_weight as u64), ("io.weight", w)] {
                let f = self.file(name);
                if f.exists() {
                    fs::write(&f, &value.to_string())?;
                    break;
                }
            }
        }
        Ok(())
    }

    fn apply_devices(&self, rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<(), Error> {
        if rules.is_empty() {
            return Ok(());
        }
        super::devices::apply_v2(&self.dir(), rules)
    }

    fn stats(&self) -> Result<Stats, Error> {
        let mut s = Stats {
            cpu_usage_ns: fs::keyed(&fs::read(&self.file("cpu.stat"))?, "usage_usec") * 1000,
            ..Stats::default()
        };
        if let Ok(Some(current)) = fs::read_u64(&self.file("memory.current")) {
            let stat = fs::read(&self.file("memory.stat")).unwrap_or_default();
            s.memory_usage = current.saturating_sub(fs::keyed(&stat, "inactive_file"));
            s.memory_limit = fs::read_u64(&self.file("memory.max"))?;
        }
        s.pids = match fs::read_u64(&self.file("pids.current")) {
            Ok(n) => n.unwrap_or(0),
            // Without the pids controller: count the threads.
            Err(_) => fs::read(&self.file("cgroup.threads"))?.lines().count() as u64,
        };
        match std::fs::read_to_string(self.file("io.stat")) {
            Ok(io) => {
                for field in io.split_whitespace() {
                    if let Some(v) = field.strip_prefix("rbytes=") {
                        s.block_read += v.parse::<u64>().unwrap_or(0);
                    } else if let Some(v) = field.strip_prefix("wbytes=") {
                        s.block_write += v.parse::<u64>().unwrap_or(0);
                    }
                }
            }
            // No io controller here (a delegated subtree without it).
            Err(_) => (s.block_read, s.block_write) = fs::task_io(&self.dir()),
        }
        Ok(s)
    }

    fn freeze(&self) -> Result<(), Error> {
        fs::write(&self.file("cgroup.freeze"), "1")?;
        fs::wait_until(Duration::from_secs(5), "the container to freeze", || {
            self.is_frozen()
        })
        .inspect_err(|_| {
            let _ = fs::write(&self.file("cgroup.freeze"), "0");
        })
    }

    fn thaw(&self) -> Result<(), Error> {
        fs::write(&self.file("cgroup.freeze"), "0")?;
        fs::wait_until(Duration::from_secs(5), "the container to thaw", || {
            self.is_frozen().map(|f| !f)
        })
    }

    fn is_frozen(&self) -> Result<bool, Error> {
        let events = self.file("cgroup.events");
        if !events.exists() {
            return Ok(false);
        }
        Ok(fs::keyed(&fs::read(&events)?, "frozen") == 1)
    }

    fn oom_kills(&self) -> Result<u64, Error> {
        let f = self.file("memory.events");
        if !f.exists() {
            return Ok(0);
        }
        Ok(fs::keyed(&fs::read(&f)?, "oom_kill"))
    }

    fn pids(&self) -> Result<Vec<i32>, Error> {
        fs::procs(&self.dir())
    }

    fn remove(&self) -> Result<(), Error> {
        let dir = self.dir();
        if !dir.exists() {
            fs::rmdir_empty_parents(&self.root, &self.rel);
            return Ok(());
        }
        // cgroup.kill (5.14+) kills every process at once, frozen ones too.
        let kill = self.file("cgroup.kill");
        if kill.exists() {
            let _ = fs::write(&kill, "1");
        }
        let r = fs::kill_and_rmdir(&dir, Instant::now() + Duration::from_secs(5));
        fs::rmdir_empty_parents(&self.root, &self.rel);
        r
    }
}
