//! `tug update`: new limits reach a running container's cgroup (the pids limit is
//! enforced inside), the record and a later start keep them, a new restart policy takes
//! effect at the next exit, and Docker's refusals.

use std::path::Path;
use std::time::Duration;

use tug_e2e::containers::Containers;
use tug_e2e::{TestRoot, cgroup_v1, code, stderr, text};

/// The file `name` of controller `controller` in container `id`'s cgroup, on the host.
fn cgroup_file(t: &TestRoot, id: &str, controller: &str, name: &str) -> String {
    let hierarchy = if cgroup_v1() {
        Path::new("/sys/fs/cgroup").join(controller)
    } else {
        Path::new("/sys/fs/cgroup").to_path_buf()
    };
    let p = hierarchy
        .join(tug::sandbox::cgroups::cgroup_path(&t.root(), id))
        .join(name);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn update_changes_a_running_containers_limits_in_place() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let id = cs.run_d(&["--name", "web", "-m", "64m", "busybox", "sleep", "1000"]);
    let out = t.ok(&[
        "update",
        "--cpus",
        "0.5",
        "-m",
        "100m",
        "--memory-swap",
        "200m",
        "--pids-limit",
        "5",
        "web",
    ]);
    assert_eq!(out, "web\n");
    if cgroup_v1() {
        assert_eq!(cgroup_file(&t, &id, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(
            cgroup_file(&t, &id, "memory", "memory.limit_in_bytes"),
            "104857600"
        );
        assert_eq!(cgroup_file(&t, &id, "pids", "pids.max"), "5");
        // The process was moved into the cpu hierarchy made for the new limit.
        let pid = t.inspect_f("web", "{{.State.Pid}}");
        let procs = cgroup_file(&t, &id, "cpu", "cgroup.procs");
        assert!(procs.lines().any(|l| l == pid), "{procs}");
    } else {
        assert_eq!(cgroup_file(&t, &id, "", "cpu.max"), "50000 100000");
        assert_eq!(cgroup_file(&t, &id, "", "memory.max"), "104857600");
        assert_eq!(cgroup_file(&t, &id, "", "pids.max"), "5");
    }
    // Inside: the new pids limit holds (the shell and sleep are two; a few more fail).
    let out = t.run(&[
        "exec",
        "web",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6; do sleep 5 & done; wait",
    ]);
    assert!(
        stderr(&out).contains("fork") || stderr(&out).contains("Resource"),
        "{}",
        text(&out)
    );
    assert_eq!(
        t.inspect_f("web", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}}"),
        "500000000 104857600 209715200 5"
    );
    // A later start keeps them.
    t.ok(&["restart", "-t", "0", "web"]);
    if cgroup_v1() {
        assert_eq!(cgroup_file(&t, &id, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(cgroup_file(&t, &id, "pids", "pids.max"), "5");
    } else {
        assert_eq!(cgroup_file(&t, &id, "", "cpu.max"), "50000 100000");
    }
}

#[test]
fn update_restart_policy_applies_at_the_next_exit() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "flaky",
        "busybox",
        "sh",
        "-c",
        // Its second run fails at once (the file is in its rootfs still).
        "trap 'exit 3' USR1; [ -e /ready ] && exit 3; touch /ready; while :; do sleep 0.05; done",
    ]);
    tug_e2e::wait_for("the container", Duration::from_secs(20), || {
        t.run(&["exec", "flaky", "test", "-e", "/ready"])
            .status
            .success()
    });
    t.ok(&["update", "--restart", "on-failure:1", "flaky"]);
    assert_eq!(
        t.inspect_f(
            "flaky",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:1"
    );
    // A signal, not an exec that makes the process exit: that exec could itself be
    // killed with the container's pid namespace before it exits (CI saw 137).
    t.ok(&["kill", "-s", "USR1", "flaky"]);
    // Restarted once (the policy it got while running), then it stays exited.
    tug_e2e::wait_for("the restart", Duration::from_secs(20), || {
        t.inspect_f("flaky", "{{.State.Status}} {{.RestartCount}}") == "exited 1"
    });
}

#[test]
fn update_refuses_as_docker_does() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&["--name", "gone", "--rm", "busybox", "sleep", "1000"]);
    let out = t.run(&["update", "--restart", "always", "gone"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        ),
        "{}",
        text(&out)
    );
    cs.run_d(&[
        "--name",
        "limited",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "busybox",
        "sleep",
        "1000",
    ]);
    let out = t.run(&["update", "-m", "256m", "limited"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"),
        "{}",
        text(&out)
    );
    assert_eq!(t.inspect_f("limited", "{{.HostConfig.Memory}}"), "67108864");
    let out = t.run(&["update", "limited"]);
    assert_eq!(code(&out), 125);
    assert!(stderr(&out).contains("you must provide one or more flags when using this command"));
    let out = t.run(&["update", "--cpus", "1", "nosuch"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("No such container: nosuch"),
        "{}",
        text(&out)
    );
    // A stopped container takes the new limits for its next start.
    t.ok(&[
        "create",
        "--name",
        "later",
        "busybox",
        "cat",
        "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/pids.max",
    ]);
    cs.add("later");
    t.ok(&["update", "--pids-limit", "7", "later"]);
    let out = t.run(&["start", "-a", "later"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains('7'),
        "{}",
        text(&out)
    );
}
