//! cgroups of containers: a memory limit OOM-kills, `--pids-limit` stops a fork bomb,
//! `pause`/`unpause` freeze and thaw, `stats` reads usage, the container sees its own
//! cgroup as its root, and nothing is left in /sys/fs/cgroup afterwards.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tug_e2e::{KillOnDrop, TestRoot, cgroup_v1, code, text};

/// A foreground `tug run` in the background: on drop, the container is removed with
/// `rm -f` (so its supervisor cleans its cgroup up), then tug is reaped.
struct Running<'a> {
    t: &'a TestRoot,
    name: String,
    child: KillOnDrop,
}

impl<'a> Running<'a> {
    /// Starts `tug run --name NAME ARGS...` and waits until the container runs.
    fn start(t: &'a TestRoot, name: &str, args: &[&str]) -> Running<'a> {
        let mut all = vec!["run", "--name", name];
        all.extend_from_slice(args);
        let child = KillOnDrop(
            t.tug()
                .args(&all)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn tug run"),
        );
        let r = Running {
            t,
            name: name.to_string(),
            child,
        };
        tug_e2e::wait_for(&format!("{name} to run"), Duration::from_secs(20), || {
            r.pid() > 0
        });
        r
    }

    fn pid(&self) -> i32 {
        let out = self.t.run(&["inspect", "-f", "{{.State.Pid}}", &self.name]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }

    fn id(&self) -> String {
        self.t
            .ok(&["inspect", "-f", "{{.Id}}", &self.name])
            .trim()
            .to_string()
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.t.run(&["rm", "-f", &self.name]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The container's dir in a v1 controller hierarchy on this host.
fn v1_dir(t: &TestRoot, controller: &str, id: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(tug::sandbox::cgroups::cgroup_path(&t.root(), id))
}

/// The state root's cgroups (`tug/<hash>`) in every v1 hierarchy: none may be left.
fn leftover_cgroups(t: &TestRoot) -> Vec<PathBuf> {
    let parent = tug::sandbox::cgroups::cgroup_path(&t.root(), "x")
        .parent()
        .unwrap()
        .to_path_buf();
    let mut out = Vec::new();
    for c in tug::sandbox::cgroups::v1::CONTROLLERS {
        let d = Path::new("/sys/fs/cgroup").join(c).join(&parent);
        if d.exists() {
            out.push(d);
        }
    }
    // The unified hierarchy: beside v1 (hybrid) or alone (pure v2).
    for u in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        let u = Path::new(u).join(&parent);
        if u.exists() {
            out.push(u);
        }
    }
    out
}

/// The `State:` of a process in /proc.
fn process_state(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("State:").map(|s| s.trim().to_string()))
        .unwrap_or_default()
}

#[test]
fn memory_limit_oom_kills_with_137_and_records_it() {
    let t = TestRoot::with_busybox();
    // `tail` buffers its input looking for lines; /dev/zero has none.
    let out = t.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        "32m",
        "busybox",
        "tail",
        "/dev/zero",
    ]);
    assert_eq!(code(&out), 137, "{}", text(&out));
    let state = t.ok(&[
        "inspect",
        "-f",
        "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}} {{.HostConfig.Memory}}",
        "hog",
    ]);
    assert_eq!(state.trim(), "true 137 exited 33554432");
    // A container that exits normally is not marked.
    t.ok(&["run", "--name", "fine", "-m", "32m", "busybox", "true"]);
    let state = t.ok(&["inspect", "-f", "{{.State.OOMKilled}}", "fine"]);
    assert_eq!(state.trim(), "false");
    t.ok(&["rm", "hog", "fine"]);
    assert!(
        leftover_cgroups(&t).is_empty(),
        "{:?}",
        leftover_cgroups(&t)
    );
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let t = TestRoot::with_busybox();
    // A bounded bomb: 40 background sleeps, each fork allowed or refused; the kernel's
    // pids.events counts the refusals; the pid count is read while they all live.
    let script = "ok=0; fail=0; for i in $(seq 1 40); do if (sleep 30 &) 2>/dev/null; then \
                  ok=$((ok+1)); else fail=$((fail+1)); fi; done; echo $ok $fail; \
                  cat /sys/fs/cgroup/pids/pids.current /sys/fs/cgroup/pids/pids.max; \
                  cat /sys/fs/cgroup/pids/pids.events";
    if !cgroup_v1() {
        return;
    }
    let out = t.ok(&[
        "run",
        "--rm",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let l: Vec<&str> = out.lines().collect();
    let counts: Vec<u32> = l[0].split(' ').map(|n| n.parse().unwrap()).collect();
    assert!(counts[1] > 0, "no fork failed: {out}");
    assert!(counts[0] < 20, "{out}");
    let current: u32 = l[1].parse().unwrap();
    assert!(
        current <= 20,
        "pids.current {current} over the limit: {out}"
    );
    assert_eq!(l[2], "20");
    let refused: u32 = l[3].strip_prefix("max ").unwrap().parse().unwrap();
    assert_eq!(refused, counts[1], "{out}");
    assert!(leftover_cgroups(&t).is_empty());
}

#[test]
fn container_sees_its_own_cgroup_as_root() {
    let t = TestRoot::with_busybox();
    // v1: the memory hierarchy; v2: the one cgroup2 mount.
    let script = if cgroup_v1() {
        "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; touch /sys/fs/cgroup/memory/x 2>&1 || true"
    } else {
        "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; touch /sys/fs/cgroup/x 2>&1 || true"
    };
    let out = t.ok(&["run", "--rm", "-m", "64m", "busybox", "sh", "-c", script]);
    if !cgroup_v1() {
        assert!(
            out.starts_with("0::/\n"),
            "the container sees a path outside it: {out}"
        );
    }
    for l in out
        .lines()
        .filter(|l| l.contains(":memory:") || l.contains(":pids:"))
    {
        assert!(
            l.ends_with(":/"),
            "the container sees a path outside it: {out}"
        );
    }
    assert!(out.contains("67108864"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    if !cgroup_v1() {
        return;
    }
    let t = TestRoot::with_busybox();
    let r = Running::start(
        &t,
        "sleeper",
        &["busybox", "sh", "-c", "while true; do sleep 0.05; done"],
    );
    let id = r.id();
    let freezer = v1_dir(&t, "freezer", &id).join("freezer.state");
    assert_eq!(t.ok(&["pause", "sleeper"]).trim(), "sleeper");
    assert_eq!(std::fs::read_to_string(&freezer).unwrap().trim(), "FROZEN");
    // v1's frozen tasks show as in uninterruptible sleep.
    assert!(
        process_state(r.pid()).starts_with('D'),
        "{}",
        process_state(r.pid())
    );
    let state = t.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Paused}}",
        "sleeper",
    ]);
    assert_eq!(state.trim(), "paused true");
    let out = t.run(&["pause", "sleeper"]);
    assert_eq!(code(&out), 1);
    assert!(text(&out).contains("is already paused"), "{}", text(&out));

    t.ok(&["unpause", "sleeper"]);
    assert_eq!(std::fs::read_to_string(&freezer).unwrap().trim(), "THAWED");
    assert!(!process_state(r.pid()).starts_with('D'));
    let state = t.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Paused}}",
        "sleeper",
    ]);
    assert_eq!(state.trim(), "running false");
    let out = t.run(&["unpause", "sleeper"]);
    assert!(text(&out).contains("is not paused"), "{}", text(&out));

    // A paused container is removed with rm -f all the same.
    t.ok(&["pause", "sleeper"]);
    t.ok(&["rm", "-f", "sleeper"]);
    drop(r);
    assert!(
        leftover_cgroups(&t).is_empty(),
        "{:?}",
        leftover_cgroups(&t)
    );
}

#[test]
fn pause_of_a_stopped_container_is_refused() {
    let t = TestRoot::with_busybox();
    t.ok(&["create", "--name", "idle", "busybox", "true"]);
    let out = t.run(&["pause", "idle"]);
    assert_eq!(code(&out), 1);
    assert!(text(&out).contains("is not running"), "{}", text(&out));
    let out = t.run(&["pause", "nosuch"]);
    assert!(text(&out).contains("No such container: nosuch"));
}

#[test]
fn stats_reads_the_containers_usage() {
    let t = TestRoot::with_busybox();
    let r = Running::start(
        &t,
        "busy",
        &["-m", "64m", "busybox", "sh", "-c", "sleep 60; true"],
    );
    let out = t.ok(&["stats", "--no-stream"]);
    let l: Vec<&str> = out.lines().collect();
    let header: Vec<&str> = l[0]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    assert_eq!(l.len(), 2, "{out}");
    assert!(l[1].contains("busy"), "{out}");
    let out = t.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.PIDs}}|{{.MemUsage}}|{{.NetIO}}",
        "busy",
    ]);
    let f: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(f[0], "busy");
    assert_eq!(f[1], "2", "sh and sleep: {out}");
    assert!(f[2].ends_with(" / 64MiB"), "{out}");
    // The real counters of eth0 (tests/stats.rs checks their values).
    assert!(f[3].contains("B / ") && f[3].ends_with('B'), "{out}");
    drop(r);
    let out = t.run(&["stats", "--no-stream", "nosuch"]);
    assert_ne!(code(&out), 0);
    assert!(leftover_cgroups(&t).is_empty());
}

#[test]
fn a_runs_cgroup_is_removed_after_exit() {
    let t = TestRoot::with_busybox();
    t.ok(&["run", "--name", "done", "--cpus", "0.5", "busybox", "true"]);
    let id = t
        .ok(&["inspect", "-f", "{{.Id}}", "done"])
        .trim()
        .to_string();
    if cgroup_v1() {
        for c in ["memory", "cpu", "pids", "freezer"] {
            assert!(!v1_dir(&t, c, &id).exists(), "{c} cgroup left");
        }
    }
    assert!(
        leftover_cgroups(&t).is_empty(),
        "{:?}",
        leftover_cgroups(&t)
    );
}

#[test]
fn stats_without_no_stream_redraws_every_second() {
    use std::io::Read;
    let t = TestRoot::with_busybox();
    let r = Running::start(&t, "watched", &["busybox", "sh", "-c", "sleep 60; true"]);
    let mut stats = KillOnDrop(
        t.tug()
            .args(["stats", "--format", "{{.Name}} {{.PIDs}}", "watched"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tug stats"),
    );
    let mut out = stats.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(20);
    // Two frames, each starting with the clear-screen sequence.
    while seen.matches("\x1b[2J").count() < 2 || !seen.ends_with('\n') {
        assert!(Instant::now() < deadline, "no second frame: {seen:?}");
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "stats ended: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    for frame in seen.split("\x1b[2J\x1b[H").filter(|f| !f.is_empty()) {
        assert_eq!(frame, "watched 2\n");
    }
    drop(stats);
    drop(r);
}

#[test]
fn detached_container_pauses_and_dies_of_kill_while_paused() {
    if !cgroup_v1() {
        return;
    }
    let t = TestRoot::with_busybox();
    let id = t.ok(&["run", "-d", "--name", "bg", "busybox", "sleep", "60"]);
    let id = id.trim();
    t.ok(&["pause", "bg"]);
    let ps = t.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("bg Up") && ps.contains("(Paused)"), "{ps}");
    // SIGKILL reaches a frozen process once the shim thaws it.
    t.ok(&["kill", "bg"]);
    let code = t.ok(&["wait", "bg"]);
    assert_eq!(code.trim(), "137");
    let state = t.ok(&["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "bg"]);
    assert_eq!(state.trim(), "exited false");
    assert!(!v1_dir(&t, "freezer", id).exists());
    t.ok(&["rm", "bg"]);
    assert!(
        leftover_cgroups(&t).is_empty(),
        "{:?}",
        leftover_cgroups(&t)
    );
}

#[test]
fn detached_oom_kill_is_recorded_by_the_shim() {
    let t = TestRoot::with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "hogd",
        "-m",
        "32m",
        "busybox",
        "tail",
        "/dev/zero",
    ]);
    assert_eq!(t.ok(&["wait", "hogd"]).trim(), "137");
    let state = t.ok(&[
        "inspect",
        "-f",
        "{{.State.OOMKilled}} {{.State.ExitCode}}",
        "hogd",
    ]);
    assert_eq!(state.trim(), "true 137");
    t.ok(&["rm", "hogd"]);
    assert!(leftover_cgroups(&t).is_empty());
}

#[test]
fn an_execs_oom_kill_is_not_the_containers() {
    let t = TestRoot::with_busybox();
    let script = "trap 'exit 0' TERM; sleep 1000 & wait";
    t.ok(&[
        "run", "-d", "--name", "oomx", "-m", "32m", "busybox", "sh", "-c", script,
    ]);
    let cleanup = tug_e2e::containers::Containers::new(&t);
    cleanup.add("oomx");
    // The exec is OOM-killed; the container runs on, and stops later without an OOM.
    let out = t.run(&["exec", "oomx", "tail", "/dev/zero"]);
    assert_eq!(code(&out), 137, "{}", text(&out));
    assert_eq!(t.inspect_f("oomx", "{{.State.Status}}"), "running");
    t.ok(&["stop", "oomx"]);
    assert_eq!(
        t.inspect_f("oomx", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "false 0"
    );
    // Killed with SIGKILL after an exec's OOM kill: 137, still not an OOM of its own.
    t.ok(&["start", "oomx"]);
    let out = t.run(&["exec", "oomx", "tail", "/dev/zero"]);
    assert_eq!(code(&out), 137, "{}", text(&out));
    t.ok(&["kill", "oomx"]);
    assert_eq!(t.ok(&["wait", "oomx"]).trim(), "137");
    assert_eq!(t.inspect_f("oomx", "{{.State.OOMKilled}}"), "false");
    drop(cleanup);
    assert!(leftover_cgroups(&t).is_empty());
}

/// A cgroup made for a test, removed (with its children) on drop.
struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Children first (tug's own parents, if any were left).
        let mut dirs: Vec<PathBuf> = Vec::new();
        fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(es) = std::fs::read_dir(d) {
                for e in es.flatten() {
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        walk(&e.path(), out);
                    }
                }
            }
            out.push(d.to_path_buf());
        }
        walk(&self.0, &mut dirs);
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[test]
fn a_delegated_subtree_is_used_and_a_missing_controller_is_named() {
    // As under systemd's Delegate=yes: tug's cgroups go below a cgroup whose parent
    // passed it only some controllers (here pids, not memory). Pure v2 only.
    if cgroup_v1() {
        eprintln!("skipped: needs a pure cgroup v2 hierarchy (the v2 lane runs it)");
        return;
    }
    let t = TestRoot::with_busybox();
    let parent = PathBuf::from(format!(
        "/sys/fs/cgroup/tug-test-deleg-{}",
        std::process::id()
    ));
    std::fs::create_dir(&parent).unwrap();
    let _cleanup = TestCgroup(parent.clone());
    std::fs::write(parent.join("cgroup.subtree_control"), "+pids").unwrap();
    let delegated = parent.join("service");
    std::fs::create_dir(&delegated).unwrap();
    let run = |args: &[&str]| {
        t.tug()
            .env("TUG_CGROUP_ROOT", &delegated)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "run",
        "--rm",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "cat /proc/self/cgroup /sys/fs/cgroup/pids.max",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0::/\n10\n");
    let out = run(&["run", "--rm", "-m", "64m", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memory controller is not delegated"), "{err}");
    // Nothing of tug's is left below the delegated cgroup.
    let left: Vec<_> = std::fs::read_dir(&delegated)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left below the delegated cgroup: {left:?}");
}
