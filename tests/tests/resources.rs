//! Resource flags (`--memory`, `--cpus`, `--pids-limit`, ...): Docker's parsing and
//! errors, recorded in `inspect` and the runtime spec, and written to the container's
//! cgroup (read back from the host and from inside the container).

use std::path::Path;

use tug_e2e::{TestRoot, cgroup_v1, code, stderr};

#[test]
fn bad_resource_flags_are_refused_naming_the_flag() {
    let t = TestRoot::with_busybox();
    let cases = [
        &["-m", "32x"][..],
        &["--cpus", "lots"],
        &["--pids-limit", "many"],
        &["-m", "4m"],
        &["--memory-swap", "64m"],
        &["-m", "64m", "--memory-swap", "32m"],
        &["--cpus", "0.5", "--cpu-quota", "20000"],
        &["--cpus", "64"],
        &["--cpuset-cpus", "0-63"],
    ];
    let mut results = Vec::new();
    for flags in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let out = t.run(&args);
        let first = stderr(&out)
            .trim()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        results.push(format!("{} → {} {}", flags.join(" "), code(&out), first));
    }
    let cpus = std::thread::available_parallelism().unwrap().get();
    insta::with_settings!({filters => vec![
        (format!("only {cpus} CPUs").as_str(), "only N CPUs"),
        (format!("0.01 to {cpus}.00").as_str(), "0.01 to N.00"),
        (format!("available: 0-{}", cpus - 1).as_str(), "available: 0-M"),
    ]}, {
        insta::assert_debug_snapshot!(results);
    });
}

#[test]
fn resources_are_recorded_with_dockers_names_and_in_the_spec() {
    let t = TestRoot::with_busybox();
    let id = t.ok(&[
        "create",
        "-m",
        "64m",
        "--memory-reservation",
        "32m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "50",
        "busybox",
        "true",
    ]);
    let id = id.trim();
    let hc = t.ok(&["inspect", "-f", "{{json .HostConfig}}", id]);
    let hc: serde_json::Value = serde_json::from_str(&hc).unwrap();
    let pick: serde_json::Map<String, serde_json::Value> = [
        "Memory",
        "MemorySwap",
        "MemoryReservation",
        "NanoCpus",
        "CpuShares",
        "CpuQuota",
        "CpuPeriod",
        "CpusetCpus",
        "PidsLimit",
    ]
    .iter()
    .map(|k| (k.to_string(), hc[k].clone()))
    .collect();
    insta::assert_json_snapshot!(pick);
    let spec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(t.root().join("containers").join(id).join("config.json")).unwrap(),
    )
    .unwrap();
    insta::assert_json_snapshot!("spec_resources", spec["linux"]["resources"]);
    t.ok(&["rm", id]);
}

#[test]
fn limits_are_written_to_the_containers_cgroup() {
    let t = TestRoot::with_busybox();
    // Seen from inside: the container's own cgroup is its /sys/fs/cgroup.
    let (files, want): (&str, &[&str]) = if cgroup_v1() {
        (
            "memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes \
             cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares cpuset/cpuset.cpus pids/pids.max",
            &["67108864", "33554432", "50000", "100000", "512", "0", "50"],
        )
    } else {
        // v2: the reservation is memory.low, shares become a weight (runc's formula),
        // and swap.max is what --memory-swap allows beyond memory.
        (
            "memory.max memory.low cpu.max cpu.weight cpuset.cpus pids.max memory.swap.max",
            &[
                "67108864",
                "33554432",
                "50000 100000",
                "20",
                "0",
                "50",
                "67108864",
            ],
        )
    };
    let script = format!("cd /sys/fs/cgroup; cat {files}");
    let out = t.ok(&[
        "run",
        "--rm",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--memory-reservation",
        "32m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "50",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l, want, "{out}");
}

#[test]
fn cpus_half_writes_quota_50000_of_100000_seen_from_the_host() {
    let t = TestRoot::with_busybox();
    // The container reports its id, then waits on stdin so the host can read its cgroup.
    let mut child = tug_e2e::KillOnDrop(
        t.tug()
            .args([
                "run",
                "--rm",
                "-i",
                "--name",
                "half",
                "--cpus",
                "0.5",
                "busybox",
                "sh",
                "-c",
                "echo ready; read x; true",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let id = t
        .ok(&["inspect", "-f", "{{.Id}}", "half"])
        .trim()
        .to_string();
    let hierarchy = if cgroup_v1() {
        "/sys/fs/cgroup/cpu"
    } else {
        "/sys/fs/cgroup"
    };
    let dir = Path::new(hierarchy).join(tug::sandbox::cgroups::cgroup_path(&t.root(), &id));
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    if cgroup_v1() {
        assert_eq!(read("cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu.cfs_period_us"), "100000");
    } else {
        assert_eq!(read("cpu.max"), "50000 100000");
    }
    // The init is in the container's cgroup.
    let pid = t
        .ok(&["inspect", "-f", "{{.State.Pid}}", "half"])
        .trim()
        .to_string();
    assert!(read("cgroup.procs").lines().any(|p| p == pid));
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(!dir.exists(), "the cgroup outlived the container");
}

/// `--oom-kill-disable` and `--memory-swappiness` reach the container's memory cgroup on
/// v1; on v2 (and `--blkio-weight` without an I/O scheduler that has weights) Docker
/// warns and discards them, and so does tug. Out-of-range values are refused.
#[test]
fn oom_kill_disable_swappiness_and_blkio_weight_as_the_kernel_allows() {
    let t = TestRoot::with_busybox();
    let out = t.run(&[
        "run",
        "--rm",
        "-m",
        "64m",
        "--oom-kill-disable",
        "--memory-swappiness",
        "10",
        "busybox",
        "sh",
        "-c",
        // (On v2 neither file exists: the shell's status says nothing then.)
        "head -1 /sys/fs/cgroup/memory/memory.oom_control; cat /sys/fs/cgroup/memory/memory.swappiness; exit 0",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    if cgroup_v1() {
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "oom_kill_disable 1\n10\n"
        );
    } else {
        assert!(
            stderr(&out).contains("OomKillDisable discarded"),
            "{}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("Memory swappiness discarded"),
            "{}",
            stderr(&out)
        );
    }
    let out = t.run(&["run", "--rm", "--oom-kill-disable", "busybox", "true"]);
    if cgroup_v1() {
        assert!(
            stderr(&out).contains("WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous."),
            "{}",
            stderr(&out)
        );
    }
    // The weight: applied where the scheduler has weights, else warned about.
    let out = t.run(&[
        "create",
        "--name",
        "weighted",
        "--blkio-weight",
        "300",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let weight = t.inspect_f("weighted", "{{.HostConfig.BlkioWeight}}");
    if weight == "0" {
        assert!(
            stderr(&out).contains("Weight discarded"),
            "{}",
            stderr(&out)
        );
    } else {
        assert_eq!(weight, "300");
    }
    t.ok(&["rm", "weighted"]);
    for (flags, message) in [
        (
            &["--memory-swappiness", "101"][..],
            "Invalid value: 101, valid memory swappiness range is 0-100",
        ),
        (
            &["--blkio-weight", "5"],
            "Range of blkio weight is from 10 to 1000",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let out = t.run(&args);
        assert_eq!(code(&out), 125);
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
        assert!(!stderr(&out).contains("WARNING"), "{}", stderr(&out));
    }
}

/// `--cpuset-mems` and the block device limits (`--device-read-bps` and its kin) reach
/// the container's cgroup, named by the device's numbers; a path that is not a block
/// device, or a memory node the host has not, is refused.
#[test]
fn cpuset_mems_and_device_io_limits_reach_the_cgroup() {
    let t = TestRoot::with_busybox();
    let Some((dev, numbers)) = tug_e2e::block_device() else {
        eprintln!("no block device on this host: the I/O limits are not checked");
        return;
    };
    let files = if cgroup_v1() {
        "cpuset/cpuset.mems blkio/blkio.throttle.read_bps_device blkio/blkio.throttle.write_iops_device"
    } else {
        "cpuset.mems io.max"
    };
    let out = t.ok(&[
        "run",
        "--rm",
        "--cpuset-mems",
        "0",
        "--device-read-bps",
        &format!("{dev}:1mb"),
        "--device-write-iops",
        &format!("{dev}:100"),
        "busybox",
        "sh",
        "-c",
        &format!("cd /sys/fs/cgroup; cat {files}"),
    ]);
    let want = if cgroup_v1() {
        format!("0\n{numbers} 1048576\n{numbers} 100\n")
    } else {
        format!("0\n{numbers} rbps=1048576 wbps=max riops=max wiops=100\n")
    };
    assert_eq!(out, want);
    for (flags, message) in [
        (
            ["--cpuset-mems", "7"],
            "Requested memory nodes are not available - requested 7, available:",
        ),
        (
            ["--device-read-bps", "/dev/null:1mb"],
            "/dev/null is not a block device",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(&flags);
        args.extend(["busybox", "true"]);
        let out = t.run(&args);
        assert_eq!(code(&out), 125);
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}

/// `--cgroup-parent`: the container's cgroup is `<parent>/<id>` in every hierarchy (as
/// Docker's cgroupfs driver), its limits there; `rm` removes the container's cgroup and
/// leaves the parent, as Docker does. A parent with `..` is refused.
#[test]
fn cgroup_parent_places_the_container_below_it() {
    let t = TestRoot::with_busybox();
    let parent = format!("tug-e2e-parent-{}", std::process::id());
    // The parent dirs this test leaves (as Docker leaves them) go at its end.
    struct Parent(String);
    impl Drop for Parent {
        fn drop(&mut self) {
            for h in std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
            {
                let _ = std::fs::remove_dir(h.path().join(&self.0));
            }
            let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.0));
        }
    }
    let _cleanup = Parent(parent.clone());
    let id = t
        .ok(&[
            "run",
            "-d",
            "--cgroup-parent",
            &format!("/{parent}"),
            "-m",
            "64m",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    let pid = t.inspect_f(&id, "{{.State.Pid}}");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("/{parent}/{id}");
    let memory_line = cgroups
        .lines()
        .find(|l| l.contains(":memory:") || l.starts_with("0::"))
        .unwrap_or_else(|| panic!("{cgroups}"));
    assert!(memory_line.ends_with(&want), "{cgroups}");
    let limit = if cgroup_v1() {
        "memory/memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    assert_eq!(
        t.ok(&["exec", &id, "cat", &format!("/sys/fs/cgroup/{limit}")]),
        "67108864\n"
    );
    assert_eq!(
        t.inspect_f(&id, "{{.HostConfig.CgroupParent}}"),
        format!("/{parent}")
    );
    t.ok(&["rm", "-f", &id]);
    let hierarchy = if cgroup_v1() {
        "/sys/fs/cgroup/memory"
    } else {
        "/sys/fs/cgroup"
    };
    let parent_dir = Path::new(hierarchy).join(&parent);
    assert!(parent_dir.is_dir());
    assert!(!parent_dir.join(&id).exists());
    let out = t.run(&[
        "run",
        "--rm",
        "--cgroup-parent",
        "../escape",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains("a cgroup path without . or .. components"),
        "{}",
        stderr(&out)
    );
}
