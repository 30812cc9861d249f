//! The managers against real cgroupfs (v1 on this host's hierarchies, v2 on a cgroup2
//! mount the test makes) and v2's controller files on a directory that mimics one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use super::v2::V2Manager;
use super::*;

/// A `sleep` child, killed and reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(
            Command::new("sleep")
                .arg("60")
                .spawn()
                .expect("spawn sleep"),
        )
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes the manager's cgroup on drop, also when an assertion failed.
struct Removes<'a>(&'a dyn CgroupManager);

impl Drop for Removes<'_> {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}

/// A unique cgroup path for one test, under tug's own parent.
fn unique_rel(test: &str) -> PathBuf {
    Path::new("tug")
        .join(format!("unit-{}-{test}", std::process::id()))
        .join("c")
}

fn process_state(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("State:").map(|s| s.trim().to_string()))
        .unwrap_or_default()
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

#[test]
fn v1_manager_limits_freezes_and_removes_a_process() {
    let root = Path::new(DEFAULT_ROOT);
    if !is_root() || !detect(root).map(|s| s.is_v1()).unwrap_or(false) {
        eprintln!("skipped: needs root and cgroup v1 hierarchies");
        return;
    }
    let rel = unique_rel("v1");
    let r = Resources {
        memory: 64 << 20,
        nano_cpus: 500_000_000,
        cpu_shares: 512,
        pids_limit: Some(20),
        ..Default::default()
    };
    let m = v1::V1Manager::new(root, rel.clone(), &r);
    let _cleanup = Removes(&m);
    m.create().unwrap();
    m.apply(&r).unwrap();
    let child = Sleeper::start();
    m.add_task(child.pid()).unwrap();
    let read = |c: &str, f: &str| std::fs::read_to_string(m.dir(c).join(f)).unwrap();
    assert_eq!(read("memory", "memory.limit_in_bytes").trim(), "67108864");
    assert_eq!(read("cpu", "cpu.cfs_quota_us").trim(), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us").trim(), "100000");
    assert_eq!(read("cpu", "cpu.shares").trim(), "512");
    assert_eq!(read("pids", "pids.max").trim(), "20");
    assert!(
        !m.dir("cpuset").exists(),
        "cpuset is made only when asked for"
    );
    assert_eq!(m.pids().unwrap(), vec![child.pid()]);
    let s = m.stats().unwrap();
    assert_eq!(s.pids, 1);
    assert_eq!(s.memory_limit, Some(64 << 20));

    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    assert_eq!(read("freezer", "freezer.state").trim(), "FROZEN");
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());
    assert!(!m.oom_killed().unwrap());

    m.remove().unwrap();
    for c in v1::CONTROLLERS {
        assert!(!m.dir(c).exists(), "{c} cgroup left behind");
        assert!(!root.join(c).join(rel.parent().unwrap()).exists());
    }
    // The process left in the cgroup was killed.
    let mut child = child;
    let status = child.0.wait().unwrap();
    assert!(!status.success());
}

/// A cgroup2 mount on a temporary dir, unmounted on drop.
struct Cgroup2Mount(tempfile::TempDir);

impl Cgroup2Mount {
    /// A fresh cgroup2 mount for a test that needs one, or `None` (the test is skipped,
    /// and says why) without root or cgroup2.
    fn for_test() -> Option<Cgroup2Mount> {
        if !is_root() {
            eprintln!("skipped: needs root");
            return None;
        }
        let m = Cgroup2Mount::new();
        if m.is_none() {
            eprintln!("skipped: cannot mount cgroup2");
        }
        m
    }

    fn new() -> Option<Cgroup2Mount> {
        let dir = tempfile::tempdir().ok()?;
        nix::mount::mount(
            Some("cgroup2"),
            dir.path(),
            Some("cgroup2"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .ok()?;
        Some(Cgroup2Mount(dir))
    }
}

impl Drop for Cgroup2Mount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn v2_manager_freezes_and_removes_on_a_real_cgroup2_mount() {
    let Some(mnt) = Cgroup2Mount::for_test() else {
        return;
    };
    let root = mnt.0.path();
    assert_eq!(detect(root).unwrap(), CgroupSetup::Unified);
    let rel = unique_rel("v2");
    let m = V2Manager::new(root, rel.clone());
    let _cleanup = Removes(&m);
    m.create().unwrap();
    let child = Sleeper::start();
    m.add_task(child.pid()).unwrap();
    assert_eq!(m.pids().unwrap(), vec![child.pid()]);
    let s = m.stats().unwrap();
    assert_eq!(s.pids, 1);

    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    let events = std::fs::read_to_string(m.dir().join("cgroup.events")).unwrap();
    assert!(events.contains("frozen 1"), "{events}");
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());
    assert_ne!(process_state(child.pid()), "");

    m.remove().unwrap();
    assert!(!m.dir().exists());
    assert!(!root.join(rel.parent().unwrap()).exists());
    let mut child = child;
    assert!(!child.0.wait().unwrap().success());
}

/// A directory laid out as a cgroup2 hierarchy with the cpu, memory and pids
/// controllers, and the container's cgroup already made.
fn mimic_v2(rel: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let put = |p: &Path, f: &str, v: &str| std::fs::write(p.join(f), v).unwrap();
    let mut dir = d.path().to_path_buf();
    for part in std::iter::once(Path::new("")).chain(rel.iter().map(Path::new)) {
        dir.push(part);
        std::fs::create_dir_all(&dir).unwrap();
        put(&dir, "cgroup.controllers", "cpu memory pids\n");
        put(&dir, "cgroup.subtree_control", "");
    }
    for f in [
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "cpu.max",
        "cpu.weight",
        "pids.max",
    ] {
        put(&dir, f, "max\n");
    }
    put(&dir, "cpu.stat", "usage_usec 1500\nuser_usec 1000\n");
    put(&dir, "memory.current", "10485760\n");
    put(&dir, "memory.stat", "anon 8388608\ninactive_file 2097152\n");
    put(&dir, "pids.current", "3\n");
    put(
        &dir,
        "io.stat",
        "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n",
    );
    put(
        &dir,
        "memory.events",
        "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    );
    d
}

#[test]
fn v2_manager_writes_controller_files() {
    let rel = PathBuf::from("tug/abc/c1");
    let d = mimic_v2(&rel);
    let m = V2Manager::new(d.path(), rel.clone());
    m.create().unwrap();
    let r = Resources {
        memory: 64 << 20,
        memory_swap: 96 << 20,
        memory_reservation: 32 << 20,
        nano_cpus: 500_000_000,
        cpu_shares: 512,
        pids_limit: Some(50),
        ..Default::default()
    };
    m.apply(&r).unwrap();
    let read = |f: &str| std::fs::read_to_string(m.dir().join(f)).unwrap();
    assert_eq!(read("memory.max"), "67108864");
    assert_eq!(read("memory.swap.max"), "33554432");
    assert_eq!(read("memory.low"), "33554432");
    assert_eq!(read("cpu.max"), "50000 100000");
    assert_eq!(read("cpu.weight"), "20");
    assert_eq!(read("pids.max"), "50");
    // The controllers were enabled at the root for tug's subtree.
    let root_ctl = std::fs::read_to_string(d.path().join("cgroup.subtree_control")).unwrap();
    assert_eq!(root_ctl, "+cpu +memory +pids");

    let s = m.stats().unwrap();
    assert_eq!(
        s,
        Stats {
            cpu_usage_ns: 1_500_000,
            memory_usage: 8 << 20,
            memory_limit: Some(64 << 20),
            block_read: 4096,
            block_write: 8192,
            pids: 3,
        }
    );
    assert!(m.oom_killed().unwrap());
}

#[test]
fn v2_manager_names_a_missing_controller() {
    let rel = PathBuf::from("tug/abc/c1");
    let d = mimic_v2(&rel);
    std::fs::remove_file(d.path().join(&rel).join("pids.max")).unwrap();
    let m = V2Manager::new(d.path(), rel);
    let e = m
        .apply(&Resources {
            pids_limit: Some(5),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        e.to_string().contains("the pids controller is not enabled"),
        "{e}"
    );
}

/// `sh -c script` run inside cgroup v2 `dir` (it moves itself in before exec).
fn run_in_v2_cgroup(dir: &Path, script: &str) -> String {
    use std::os::unix::process::CommandExt;
    let procs = dir.join("cgroup.procs");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script);
    // SAFETY: the closure only opens and writes a file (async-signal-safe syscalls).
    unsafe {
        cmd.pre_exec(move || std::fs::write(&procs, b"0"));
    }
    let out = cmd.output().expect("run sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn v2_device_filter_is_enforced_by_the_kernel() {
    let Some(mnt) = Cgroup2Mount::for_test() else {
        return;
    };
    let root = mnt.0.path();
    let rel = unique_rel("v2dev");
    let m = V2Manager::new(root, rel);
    let _cleanup = Removes(&m);
    m.create().unwrap();
    m.apply_devices(&devices::docker_default()).unwrap();
    let script = "echo x > /dev/null && echo null; head -c1 /dev/urandom >/dev/null && echo urandom; \
                  (exec 3</dev/kmsg) 2>/dev/null && echo kmsg; (exec 3</dev/tty0) 2>/dev/null && echo tty0; \
                  (exec 3</dev/vda) 2>/dev/null && echo disk; echo end";
    assert_eq!(run_in_v2_cgroup(&m.dir(), script), "null\nurandom\nend\n");
    // The same process outside the cgroup reaches /dev/kmsg (the test is meaningful).
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("kmsg"));
}
